"""Count, on the CPU, the places where the engine would make the host wait for the GPU.

On the device a CuPy call returns before its kernel has run, except where the host needs a result: a boolean
mask's selection (its length), ``flatnonzero``/``nonzero``/``unique`` (their lengths), ``bincount`` (CuPy
checks the values and takes their maximum: two waits), a device scalar turned into a Python number or truth
value (``int``, ``float``, ``bool``, ``if``, ``item``), and copies to the host. :func:`counting` runs code with
``backend.xp()`` replaced by a NumPy whose arrays (:class:`DeviceLike`) count exactly those events, so the
engine's waits per chunk can be counted, and kept few, without a GPU. Copies from the host (uploads) are counted
apart: they do not wait for the device.
"""
from __future__ import annotations

import contextlib
from collections import Counter

import numpy as np

#: NumPy functions whose CuPy twins wait for the device (the number of waits each)
WAITING = {np.flatnonzero: 1, np.nonzero: 1, np.argwhere: 1, np.unique: 1, np.bincount: 2}

_COUNTS: Counter | None = None
_DEPTH = 0  # inside a NumPy function: what it does internally is not the caller's to count


WHERE: Counter | None = None  # set to a Counter to learn where the waits are: (event, file:line) -> count


def _count(what, n=1):
    if _COUNTS is not None and _DEPTH == 0 and n:
        _COUNTS[what] += n
        if WHERE is not None:
            import traceback

            frame = next(f for f in reversed(traceback.extract_stack()[:-1]) if "host_waits" not in f.filename)
            WHERE[(what, f"{frame.filename.rsplit('/', 1)[1]}:{frame.lineno}")] += n


def _device(obj):
    """Results as DeviceLike (arrays in tuples and lists too)."""
    if isinstance(obj, np.ndarray) and not isinstance(obj, DeviceLike):
        return obj.view(DeviceLike)
    if isinstance(obj, tuple):
        return tuple(_device(o) for o in obj)
    if isinstance(obj, list):
        return [_device(o) for o in obj]
    return obj


def _is_mask(key) -> bool:
    keys = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) and k.dtype == bool for k in keys)


class DeviceLike(np.ndarray):
    """A NumPy array that counts what would make the host wait, were it a CuPy array."""

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return arr.view(DeviceLike)  # reductions stay 0-d arrays, as CuPy's do

    def __array_function__(self, func, types, args, kwargs):
        _count(func.__name__, WAITING.get(func, 0))
        if func is np.where and len(args) + len(kwargs) == 1:
            _count("where (one argument)")
        if func is np.repeat and isinstance(args[1] if len(args) > 1 else kwargs.get("repeats"), np.ndarray):
            _count("repeat (array of counts)")
        global _DEPTH
        _DEPTH += 1
        try:
            return _device(super().__array_function__(func, types, args, kwargs))
        finally:
            _DEPTH -= 1

    def __getitem__(self, key):
        if _is_mask(key):
            _count("boolean selection")
        got = super().__getitem__(key)
        return _device(got if isinstance(got, np.ndarray) else np.asarray(got))  # an element: a 0-d device array

    def __setitem__(self, key, value):
        if _is_mask(key):
            _count("boolean assignment")
        super().__setitem__(key, value)

    def _scalar(self, kind):
        _count(f"{kind} of a device value")
        return self.view(np.ndarray)

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        return self._scalar("index").__index__()

    def __float__(self):
        return float(self._scalar("float"))

    def __bool__(self):
        return bool(self._scalar("truth"))

    def item(self, *args):
        return self._scalar("item").item(*args)

    def tolist(self):
        return self._scalar("tolist").tolist()


class _DeviceNumPy:
    """``numpy`` whose functions give DeviceLike arrays; arrays made from host data count as uploads."""

    def __getattr__(self, name):
        attr = getattr(np, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        def call(*args, **kwargs):
            global _DEPTH
            if name in ("asarray", "array") and args and not isinstance(args[0], DeviceLike):
                _count("upload")
            if not any(isinstance(a, DeviceLike) for a in args):  # host data: a NumPy call of its own
                _DEPTH += 1
                try:
                    return _device(attr(*args, **kwargs))
                finally:
                    _DEPTH -= 1
            return _device(attr(*args, **kwargs))

        return call


@contextlib.contextmanager
def counting():
    """Within the block the backend's array module is the counting NumPy; yields the Counter of waits."""
    global _COUNTS
    import pytest

    from gpusiibra import backend

    real_host = backend.to_host

    def to_host(a):
        _count("copy to the host")
        return real_host(a).view(np.ndarray)

    counts = Counter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backend, "xp", lambda: _DeviceNumPy())
        mp.setattr(backend, "to_host", to_host)
        _COUNTS = counts
        try:
            yield counts
        finally:
            _COUNTS = None


def waits(counts: Counter) -> int:
    """The host waits among the counted events (uploads and calls that do not wait excluded)."""
    return sum(n for what, n in counts.items() if what != "upload" and n and (
        what in {f.__name__ for f in WAITING} or what in ("boolean selection", "boolean assignment",
                                                            "copy to the host", "where (one argument)",
                                                            "repeat (array of counts)")
        or what.endswith("of a device value")))
