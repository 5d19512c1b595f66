"""The one backend switch: NumPy/SciPy on the CPU or CuPy/cupyx on the GPU.

Every backend-neutral function asks this module for its array module
(:func:`xp`) and its ndimage module (:func:`ndi`); the choice is made here only
(reader processes set the CPU for themselves, and the kernels' loader picks a
route on the chosen backend, never another backend).

The backend is chosen by :func:`set_backend` or, before the first call, by the
environment variable ``GPUSIIBRA_BACKEND`` (``auto``, ``cpu`` or ``gpu``).
``auto`` takes the GPU when CuPy imports and sees a device, else the CPU.
:func:`using` chooses it for a block of code in the calling thread only (as cuML's
``using_output_type`` scopes its setting), and :func:`carry` takes the caller's
choice into a function run by another thread.

>>> from gpusiibra import backend
>>> with backend.using("cpu"):
...     backend.get_backend()
'cpu'
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from types import ModuleType

import numpy as np

from .errors import BackendError, OptionError

__all__ = [
    "BackendError",
    "set_backend",
    "get_backend",
    "using",
    "carry",
    "gpu_available",
    "xp",
    "ndi",
    "to_host",
    "to_device",
    "device_id",
    "is_device_array",
]

_CHOICES = ("auto", "cpu", "gpu")
_state = {"name": None}
_scoped = threading.local()  # a thread's own choice, within a `using` block


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy
    except Exception:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def set_backend(name: str = "auto") -> str:
    """Choose where gpusiibra computes.

    Parameters
    ----------
    name : {"auto", "cpu", "gpu"}
        ``auto`` takes the GPU when one is usable, else the CPU.

    Returns
    -------
    str
        The backend in force: ``"cpu"`` or ``"gpu"``.

    Raises
    ------
    BackendError
        For ``"gpu"`` on a machine without CuPy or without a CUDA device.
    """
    _state["name"] = _resolve(name)
    return _state["name"]


def _resolve(name) -> str:
    name = (name or "auto").strip().lower()
    if name not in _CHOICES:
        raise OptionError(f"unknown backend {name!r}: choose one of {', '.join(_CHOICES)}")
    if name == "auto":
        return "gpu" if gpu_available() else "cpu"
    if name == "gpu" and not gpu_available():
        raise BackendError(
            "the GPU backend was asked for, but CuPy is not installed or sees no CUDA device "
            "(install the 'gpu' extra: pip install 'gpusiibra[gpu]', or use the 'cpu' backend)"
        )
    return name


@contextmanager
def using(name: str):
    """Compute on backend ``name`` within the block, in this thread only (other threads and the process-wide
    choice are untouched); blocks nest. Yields the backend in force (``"cpu"`` or ``"gpu"``)."""
    before = getattr(_scoped, "name", None)
    _scoped.name = _resolve(name)
    try:
        yield _scoped.name
    finally:
        _scoped.name = before


def carry(fn):
    """``fn`` wrapped to run on the caller's backend in whatever thread calls it (for thread pools)."""
    name = get_backend()

    def run(*args, **kwargs):
        with using(name):
            return fn(*args, **kwargs)

    return run


def get_backend() -> str:
    """The backend in force (``"cpu"`` or ``"gpu"``): this thread's :func:`using` block, else the process-wide
    choice, made on first use."""
    scoped = getattr(_scoped, "name", None)
    if scoped is not None:
        return scoped
    if _state["name"] is None:
        set_backend(os.environ.get("GPUSIIBRA_BACKEND", "auto"))
    return _state["name"]


def xp() -> ModuleType:
    """The array module of the backend in force: ``numpy`` or ``cupy``."""
    if get_backend() == "gpu":
        import cupy

        return cupy
    return np


def ndi() -> ModuleType:
    """The ndimage module of the backend in force: ``scipy.ndimage`` or ``cupyx.scipy.ndimage``."""
    if get_backend() == "gpu":
        import cupyx.scipy.ndimage as cndi

        return cndi
    import scipy.ndimage as sndi

    return sndi


def is_device_array(a) -> bool:
    """True for a CuPy array."""
    return type(a).__module__.startswith("cupy")


def to_host(a):
    """A NumPy array from a NumPy or CuPy array (no copy for NumPy)."""
    if is_device_array(a):
        return a.get()
    return np.asarray(a)


def to_device(a):
    """The array on the backend in force (CuPy on the GPU, unchanged on the CPU)."""
    return xp().asarray(a)


def device_id() -> int:
    """The CUDA device in use by this thread (0 when not on the GPU): what per-device caches are keyed by."""
    if get_backend() != "gpu":
        return 0
    import cupy

    return int(cupy.cuda.Device().id)
