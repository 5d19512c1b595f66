"""gpusiibra's errors: one family, each a user's problem stated in one line.

Every error gpusiibra raises on purpose derives from :class:`GpusiibraError`.
The command line turns exactly these (and ``OSError``) into one line on
stderr and a nonzero exit; anything else is a bug and shows its traceback.

Errors about a file keep the file's ``path`` and the ``reason``. Each class
also derives from the built-in exception a caller would catch without knowing
gpusiibra (``ValueError``, ``KeyError``, ``LookupError``, ``RuntimeError``).

>>> from gpusiibra.errors import ImageFileError, GpusiibraError
>>> e = ImageFileError("map.nii.gz", "no such file")
>>> str(e), e.path, isinstance(e, GpusiibraError), isinstance(e, ValueError)
('map.nii.gz: no such file', 'map.nii.gz', True, True)
"""
from __future__ import annotations

import os

__all__ = [
    "GpusiibraError",
    "command_line_message",
    "FileError",
    "AtlasFileError",
    "RegionCountError",
    "ImageFileError",
    "PointsFileError",
    "DatasetError",
    "OutputError",
    "OptionError",
    "RegionNotFound",
    "AtlasNotFound",
    "BackendError",
    "DependencyError",
    "DownloadError",
]


class GpusiibraError(Exception):
    """Base of every error gpusiibra raises on purpose."""


#: the Python spellings in errors' messages, and the command line's (errors say ``resume=True`` to a Python
#: caller, ``--resume`` on the command line)
_COMMAND_LINE_SPELLINGS = (("resume=True", "--resume"), ("another output name", "another --out"),
                           ("a smaller chunk_size", "a smaller --chunk-size"))


def command_line_message(message: str) -> str:
    """An error's message as the command line says it: its options spelled as flags.

    >>> command_line_message("out.parquet: exists; continue it with resume=True, or choose another output name")
    'out.parquet: exists; continue it with --resume, or choose another --out'
    """
    for python, flag in _COMMAND_LINE_SPELLINGS:
        message = message.replace(python, flag)
    return message


class FileError(GpusiibraError, ValueError):
    """A file cannot be used: ``path`` names it, ``reason`` says why (on one line: a library's message that holds
    line breaks, nibabel's for a cut file, say, is joined)."""

    def __init__(self, path, reason):
        self.path = os.fspath(path) if path is not None else "<in memory>"
        self.reason = " ".join(line.strip() for line in str(reason).splitlines() if line.strip())
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):  # picklable across processes (reader pools, dask)
        return type(self), (self.path, self.reason)


class AtlasFileError(FileError):
    """An atlas file (sparse index, PAQD, native, NIfTI region maps, labels) cannot be used."""


class RegionCountError(AtlasFileError):
    """An atlas file holds ``found`` region maps where ``expected`` were asked for (by names or labels)."""

    def __init__(self, path, found, expected):
        self.found, self.expected = int(found), int(expected)
        super().__init__(path, f"{self.found} bounding boxes for {self.expected} regions")

    def __reduce__(self):
        return type(self), (self.path, self.found, self.expected)


class ImageFileError(FileError):
    """An input image cannot be used for assignment."""


class PointsFileError(FileError):
    """A coordinate table cannot be used."""


class DatasetError(FileError):
    """A batch output dataset cannot be written or continued (locked, exists, other options, damaged)."""


class OutputError(FileError):
    """An output file cannot be written (a full disk, a folder that cannot be written); the message says what
    was kept."""


class OptionError(GpusiibraError, ValueError):
    """A parameter has a value that cannot be used (the message names it and the allowed values)."""


class RegionNotFound(GpusiibraError, KeyError):
    """No region, or more than one, matches a name."""

    def __str__(self):
        return str(self.args[0])


class AtlasNotFound(GpusiibraError, LookupError):
    """No atlas is known by this name, and no file has this path."""


class BackendError(GpusiibraError, RuntimeError):
    """A backend was asked for that this machine cannot provide, or a device computation failed."""


class DependencyError(GpusiibraError, ImportError):
    """An optional package that this feature needs is not installed (the message says how to install it)."""


class DownloadError(GpusiibraError, ConnectionError):
    """An atlas could not be downloaded: ``url`` names the source, ``cache`` the folder it was to be kept in."""

    def __init__(self, url, reason, cache=None):
        self.url = str(url)
        self.reason = str(reason)
        self.cache = os.fspath(cache) if cache is not None else None
        where = f"; nothing was cached in {self.cache}" if self.cache else ""
        super().__init__(f"cannot download {self.url}: {self.reason}{where}")

    def __reduce__(self):
        return type(self), (self.url, self.reason, self.cache)
