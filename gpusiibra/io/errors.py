"""Errors for unusable files: each names the file and the reason."""
from __future__ import annotations

import os


class _FileError(ValueError):
    def __init__(self, path, reason):
        self.path = os.fspath(path) if path is not None else "<in memory>"
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}")


class AtlasFileError(_FileError):
    """An atlas file (sparse index, PAQD, native, labels) cannot be used."""


class ImageFileError(_FileError):
    """An input image cannot be used for assignment."""


class PointsFileError(_FileError):
    """A coordinate table cannot be used."""
