"""The one harness that runs a test body on both backends (cupy's ``numpy_cupy_allclose`` habit).

A body decorated with :func:`same_on_both_backends` runs twice, on the CPU and on the device's route, and the
two results it returns are compared. The device's route is the GPU where there is a CUDA device; on a machine
without one it is the CPU backend with gpusiibra's CUDA kernels run on the host (``tests/cuda_emulator.py``),
so the code that drives the device is still run, and compared, in CI. A body that launches no kernel there
would compare the CPU with itself: the harness fails it (say ``kernels=False`` for code that only the GPU
runs differently - CuPy, cupyx - and it is skipped without a device).

The ``on_backend`` fixture is the other half: a body checked against a reference (siibra, ANTs) once per
backend.
"""
from __future__ import annotations

import contextlib
import copy
import functools

import numpy as np
import pandas as pd
import pytest

import cuda_emulator
import gpusiibra
from gpusiibra import backend

#: columns compared exactly: names, identifiers, voxel counts
EXACT = ("region", "input structure", "volume", "id", "map", "label")


#: the backends a body checked against a reference runs on, one after the other (the ``on_backend`` fixture): the
#: GPU's run is skipped without a device, and is the GPU suite where there is one
BACKENDS = ["cpu", pytest.param("gpu", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not gpusiibra.gpu_available(), reason="no CUDA device")])]


@pytest.fixture(params=BACKENDS)
def on_backend(request):
    """Run the test body on each backend in turn (``backend.using``: this thread, and the pools it starts)."""
    with backend.using(request.param):
        yield request.param


def device_route():
    """``"gpu"`` with a CUDA device, ``"emulated"`` where a C++ compiler can run the kernels on the host, else None."""
    if gpusiibra.gpu_available():
        return "gpu"
    if cuda_emulator.available():
        return "emulated"
    return None


@contextlib.contextmanager
def on_route(route):
    """Compute on ``route`` ("cpu", "gpu" or "emulated") within the block; yields the emulator or None."""
    if route == "emulated":
        with pytest.MonkeyPatch.context() as mp, backend.using("cpu"):
            yield cuda_emulator.install(mp)
    else:
        with backend.using(route):
            yield None


def assert_same(cpu, dev, rtol=1e-9, atol=1e-12, where="result"):
    """Two results equal: data frames column by column (names and counts exactly), arrays and numbers to
    ``rtol``/``atol`` (integers and booleans exactly), and tuples, lists, dicts and dataclasses item by item."""
    if isinstance(cpu, pd.DataFrame):
        assert list(cpu.columns) == list(dev.columns), where
        assert len(cpu) == len(dev), f"{where}: {len(cpu)} rows on the CPU, {len(dev)} on the device"
        for c in cpu.columns:
            assert_same(cpu[c].to_numpy(), dev[c].to_numpy(), rtol, atol, f"{where}[{c!r}]")
    elif isinstance(cpu, (tuple, list)) and not _numeric(cpu):
        assert len(cpu) == len(dev), where
        for i, (a, b) in enumerate(zip(cpu, dev)):
            assert_same(a, b, rtol, atol, f"{where}[{i}]")
    elif isinstance(cpu, dict):
        assert list(cpu) == list(dev), where
        for k in cpu:
            assert_same(cpu[k], dev[k], rtol, atol, f"{where}[{k!r}]")
    elif hasattr(cpu, "__dataclass_fields__"):
        for k in cpu.__dataclass_fields__:
            assert_same(getattr(cpu, k), getattr(dev, k), rtol, atol, f"{where}.{k}")
    else:
        a, b = np.asarray(backend.to_host(cpu)), np.asarray(backend.to_host(dev))
        assert a.shape == b.shape, f"{where}: shapes {a.shape} and {b.shape}"
        if a.dtype == object:
            if len(a) and isinstance(a.flat[0], (tuple, list, np.ndarray)):  # centroids
                a, b = np.array(a.tolist(), float), np.array(b.tolist(), float)
            else:
                assert a.tolist() == b.tolist(), where
                return
        if a.dtype.kind in "biuUSM" or where.endswith(tuple(f"[{c!r}]" for c in EXACT)):
            np.testing.assert_array_equal(a, b, err_msg=where)
        else:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=where)


def _numeric(seq):
    return len(seq) > 0 and all(isinstance(v, (int, float, np.number)) for v in seq)


def _fresh(value):
    """A random generator given to the body is copied, so that both runs draw the same numbers."""
    return copy.deepcopy(value) if isinstance(value, np.random.Generator) else value


def same_on_both_backends(rtol=1e-9, atol=1e-12, kernels=True, compare=None):
    """Decorate a test body that returns a result: it runs on the CPU, then on the device's route, and the two
    results must agree (:func:`assert_same` to ``rtol``/``atol``, or ``compare(cpu, device)``).

    ``kernels=False``: the body's device code is CuPy's, which only a GPU runs; without one it is skipped.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            route = device_route()
            if route is None or (route == "emulated" and not kernels):
                pytest.skip("no CUDA device" + ("" if route is None else " (the body's device code is CuPy's)"))
            results = []
            for r in ("cpu", route):
                with on_route(r) as emulator:
                    results.append(fn(*[_fresh(a) for a in args], **{k: _fresh(v) for k, v in kwargs.items()}))
                    if emulator is not None and emulator.launches() == 0:
                        pytest.fail("the body launched no kernel on the emulated device: it compared the CPU with "
                                    "itself (say kernels=False)")
            (compare or functools.partial(assert_same, rtol=rtol, atol=atol))(*results)

        return run

    return decorate
