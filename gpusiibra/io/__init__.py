"""File formats, one module each: siibra's v1 sparse index, NIfTI, niivue PAQD, our native format.

Every reader raises :class:`AtlasFileError` (or :class:`ImageFileError`) naming
the file and the problem, never a bare traceback from deep inside.
"""
from ..errors import AtlasFileError, ImageFileError

__all__ = ["AtlasFileError", "ImageFileError"]
