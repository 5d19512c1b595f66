"""The numeric options of an assignment checked in one place, for the API and the command line alike."""
from __future__ import annotations

import math

import numpy as np

from .errors import OptionError

__all__ = ["check_options"]


def _plain(v):
    """A value as a user wrote it (``nan``, ``3``), not NumPy's repr (``np.float64(nan)``)."""
    return repr(v.item()) if isinstance(v, np.generic) else repr(v)


def check_options(threshold=None, lower_threshold=None, minsize=None, mindist=None, chunk_size=None, readers=None,
                  workers=None, minsize_voxel=None):
    """Each option given (not None) is checked: an :class:`OptionError` naming it and its value, else None."""
    def finite(name, v, lo=None):
        if v is None:
            return
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or not math.isfinite(v):
            raise OptionError(f"{name} must be a finite number, got {_plain(v)}")
        if lo is not None and v < lo:
            raise OptionError(f"{name} must be >= {lo}, got {_plain(v)}")

    def integer(name, v, lo):
        if v is None:
            return
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise OptionError(f"{name} must be an integer >= {lo}, got {_plain(v)}")

    finite("threshold", threshold)
    finite("lower_threshold", lower_threshold, 0)
    integer("minsize", minsize, 0)
    integer("minsize_voxel", minsize_voxel, 0)  # the API's name of minsize (siibra's)
    integer("mindist", mindist, 1)
    integer("chunk_size", chunk_size, 1)
    integer("readers", readers, 1)
    integer("workers", workers, 1)
