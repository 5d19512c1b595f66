import numpy as np
import pytest

import gpusiibra
from gpusiibra import backend


def test_cpu_backend_uses_numpy():
    assert gpusiibra.set_backend("cpu") == "cpu"
    assert backend.xp() is np
    import scipy.ndimage

    assert backend.ndi() is scipy.ndimage


def test_auto_picks_something_usable():
    name = gpusiibra.set_backend("auto")
    assert name == ("gpu" if gpusiibra.gpu_available() else "cpu")


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        gpusiibra.set_backend("tpu")


@pytest.mark.skipif(gpusiibra.gpu_available(), reason="this machine has a GPU")
def test_gpu_without_device_is_a_clear_error():
    with pytest.raises(gpusiibra.BackendError, match="GPU backend was asked for"):
        gpusiibra.set_backend("gpu")


def test_environment_variable_chooses_the_first_backend(monkeypatch):
    monkeypatch.setenv("GPUSIIBRA_BACKEND", "cpu")
    backend._state["name"] = None
    assert backend.get_backend() == "cpu"
