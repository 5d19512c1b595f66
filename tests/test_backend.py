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


def test_using_scopes_the_backend_to_its_block_and_thread_and_carry_takes_it_along(monkeypatch):
    """Told apart without a GPU: the process-wide choice is "gpu" (its check made to pass; nothing is computed),
    the block's "cpu", so a scope that leaked, or a thread that did not carry it, shows."""
    import threading

    from gpusiibra import backend

    monkeypatch.setattr(backend, "gpu_available", lambda: True)
    monkeypatch.setitem(backend._state, "name", "gpu")
    seen = {}
    with backend.using("cpu") as name:
        assert name == "cpu" == backend.get_backend()
        t = threading.Thread(target=lambda: seen.setdefault("other", backend.get_backend()))
        t.start()
        t.join()
        t = threading.Thread(target=backend.carry(lambda: seen.setdefault("carried", backend.get_backend())))
        t.start()
        t.join()
        with backend.using("gpu"):  # blocks nest
            assert backend.get_backend() == "gpu"
        assert backend.get_backend() == "cpu"
    assert backend.get_backend() == "gpu" and seen == {"other": "gpu", "carried": "cpu"}
    with pytest.raises(gpusiibra.OptionError, match="unknown backend"):
        with backend.using("tpu"):
            pass
    assert backend.get_backend() == "gpu"


def test_a_dask_task_leaves_the_process_wide_backend_alone(julich, monkeypatch):
    from gpusiibra import backend, batch

    calls = []
    monkeypatch.setattr(backend, "set_backend", lambda name: calls.append(name))
    paths, result = batch._dask_task(julich, ["example:motor"], {"threshold": 3.1}, frozenset(), "cpu")
    assert calls == [] and result[0] is not None
