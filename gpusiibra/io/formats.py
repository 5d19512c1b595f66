"""Atlas file formats as a registry (as nibabel lists its image classes): each says whether it recognises the
given paths and reads them.

:func:`gpusiibra.load_map` asks :func:`find` for the format of its paths, then calls its ``read``: a new format
is one entry of :data:`FORMATS` over a module of its own in this package.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from ..errors import AtlasFileError, ImageFileError
from ..sparse import SparseIndex
from . import native, nifti, paqd, siibra_v1

__all__ = ["AtlasFormat", "FORMATS", "find"]


@dataclass(frozen=True)
class AtlasFormat:
    """One atlas format.

    Attributes
    ----------
    name : str
    recognises : callable
        ``recognises(paths) -> bool`` (``paths``: a list of strings).
    read : callable
        ``read(paths, n_regions=None, labels=None, **kwargs) -> (SparseIndex, names or None, meta)``: names when
        the format carries them (else the caller names the regions), ``meta`` a dict.
    needs_files : bool
        The paths must exist (a sparse index prefix need not).
    takes_labels : bool
        ``read`` names the regions from ``labels`` itself; for the others the caller does.
    """

    name: str
    recognises: Callable
    read: Callable
    needs_files: bool = True
    takes_labels: bool = False


def _one(paths, test):
    return len(paths) == 1 and test(paths[0])


def _folder_prefix(folder):
    """The one sparse index prefix in ``folder``, or None."""
    if not os.path.isdir(folder):
        return None
    suffix = siibra_v1.SUFFIXES["voxels"]
    prefixes = [f[: -len(suffix)] for f in sorted(os.listdir(folder)) if f.endswith(suffix)]
    return os.path.join(folder, prefixes[0]) if len(prefixes) == 1 else None


def _read_native(paths, n_regions=None, labels=None, **kwargs):
    return native.read(paths[0])


def _read_v1(reader, where):
    def read(paths, n_regions=None, labels=None, **kwargs):
        return reader(where(paths[0]), n_regions=n_regions), None, {}

    return read


def _read_zip(paths, n_regions=None, labels=None, **kwargs):
    """A zipped sparse index, with the region names, name and space gpusiibra kept in it (when it wrote it)."""
    names, meta = siibra_v1.read_zip_names(paths[0])
    if names is not None and n_regions is not None and len(names) != n_regions:
        names = None  # the caller's labels decide
    index = siibra_v1.read_zip(paths[0], n_regions=n_regions or (len(names) if names else None))
    return index, names, meta


def _entries_index(entries):
    index = SparseIndex.from_entries(entries["shape"], entries["affine"], entries["region"], entries["voxel"],
                                     entries["value"], n_regions=len(entries["names"]))
    return index, list(entries["names"]), {}


def _all_paqd(paths):
    if not all(nifti.is_nifti_path(f) for f in paths):
        return False
    flags = []
    for f in paths:
        try:
            flags.append(paqd.is_paqd(nifti.load_image(f)))
        except ImageFileError as e:
            raise AtlasFileError(e.path, e.reason) from None
    if any(flags) and not all(flags):
        raise AtlasFileError(paths[flags.index(False)], "mixes PAQD and plain NIfTI files")
    return all(flags)


#: the formats, tried in this order
FORMATS = (
    AtlasFormat("gpusiibra native atlas (.npz)", lambda p: _one(p, lambda f: f.endswith(".npz")), _read_native),
    AtlasFormat("siibra sparse index zip", lambda p: _one(p, lambda f: f.endswith(".zip")), _read_zip),
    AtlasFormat("siibra sparse index prefix", lambda p: _one(p, siibra_v1.is_prefix),
                _read_v1(siibra_v1.read_prefix, lambda f: f), needs_files=False),
    AtlasFormat("folder of a siibra sparse index", lambda p: _one(p, lambda f: _folder_prefix(f) is not None),
                _read_v1(siibra_v1.read_prefix, _folder_prefix)),
    AtlasFormat("niivue PAQD NIfTI", _all_paqd,
                lambda paths, n_regions=None, labels=None, **kw: _entries_index(paqd.read(paths, labels, **kw)),
                takes_labels=True),
    AtlasFormat("NIfTI region maps (4D, 3D files, folders)",
                lambda p: all(os.path.isdir(f) or nifti.is_nifti_path(f) for f in p),
                lambda paths, n_regions=None, labels=None, **kw: _entries_index(nifti.read_region_maps(paths, labels)),
                takes_labels=True),
)


def find(paths) -> AtlasFormat:
    """The format of ``paths`` (a list of strings); an :class:`AtlasFileError` naming the file when a path does
    not exist or no format recognises them."""
    for fmt in FORMATS:
        if not fmt.needs_files and fmt.recognises(paths):
            return fmt
    for p in paths:
        if not os.path.exists(p):
            raise AtlasFileError(p, nifti.missing_reason(p) + " (nor a sparse index prefix)")
    for fmt in FORMATS:
        if fmt.needs_files and fmt.recognises(paths):
            return fmt
    raise AtlasFileError(paths[0], "unknown atlas format (expected " + ", ".join(f.name for f in FORMATS) + ")")
