"""NIfTI input: query images and atlases given as 4D files or lists of 3D files."""
from __future__ import annotations

import errno
import glob
import os
import warnings

import numpy as np

from ..errors import AtlasFileError, ImageFileError

__all__ = ["load_image", "read_image", "image_data", "read_region_maps", "NIFTI_SUFFIXES", "is_nifti_path", "missing_reason"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path) -> bool:
    """True for a file name ending in .nii or .nii.gz."""
    return os.fspath(path).lower().endswith(NIFTI_SUFFIXES)


def missing_reason(path) -> str:
    """Why a path that does not exist cannot be opened: no such file, a broken link, a link loop, ..."""
    try:
        os.stat(path)
    except OSError as e:
        if os.path.islink(path) and e.errno == errno.ENOENT:
            return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
        return {errno.ENOENT: "no such file", errno.ELOOP: "a loop of symbolic links"}.get(
            e.errno, (e.strerror or str(e)).lower())
    return "cannot be opened"


def resolve(path) -> str:
    """A path, with the names of the bundled examples (``example:motor``) replaced by their files."""
    from ..data import EXAMPLES

    path = os.fspath(path)
    return EXAMPLES.get(path, path)


def load_image(path):
    """Open a NIfTI file (or a bundled example by name), or raise :class:`ImageFileError` naming it and the reason."""
    import nibabel as nib

    path = resolve(path)
    if not os.path.exists(path):
        raise ImageFileError(path, missing_reason(path))
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a NIfTI file")
    try:
        img = nib.load(path)
    except Exception as e:
        raise ImageFileError(path, f"not a readable NIfTI image ({e})") from None
    if not hasattr(img, "affine") or img.affine is None:
        raise ImageFileError(path, "the image has no affine (not a NIfTI/Analyze volume)")
    return img


def _inflate(raw: bytes) -> bytes:
    """gzip decompression with ISA-L where ``isal`` is installed (about 1.5x zlib's speed), else zlib."""
    try:
        from isal import igzip
    except ImportError:
        import gzip

        return gzip.decompress(raw)
    return igzip.decompress(raw)


def read_image(path):
    """Open a NIfTI file reading it whole (the batch readers' path): a ``.nii.gz`` is inflated in one
    call with the fastest inflater installed. Same result and errors as :func:`load_image`."""
    import nibabel as nib

    path = resolve(path)
    if not path.lower().endswith(".nii.gz") or not os.path.isfile(path):
        return load_image(path)
    try:
        with open(path, "rb") as f:
            raw = _inflate(f.read())
    except OSError as e:
        raise ImageFileError(path, f"cannot read the file ({e.strerror or e})") from None
    except Exception as e:  # a damaged gzip stream: zlib.error, EOFError, isal's errors
        raise ImageFileError(path, f"not a readable NIfTI image (damaged gzip data: {e})") from None
    for cls in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            return cls.from_bytes(raw)
        except Exception:
            continue
    return load_image(path)  # let nibabel say what is wrong


def image_data(img, where=None):
    """The voxel array and affine of a nibabel image, read with clear errors.

    Scaled integer data come back as floats (nibabel's ``dataobj`` semantics, as
    nilearn and siibra read them); non-finite values are set to 0 with a warning
    (gpusiibra's deliberate difference 3 from siibra).

    Returns
    -------
    data : ndarray (3D or 4D)
    affine : ndarray (4, 4)
    """
    where = where or getattr(img, "get_filename", lambda: None)() or "<in-memory image>"
    shape = tuple(int(s) for s in getattr(img, "shape", ()))
    if 0 in shape:
        raise ImageFileError(where, f"the image has shape {shape}, which holds no voxels")
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as e:
        raise ImageFileError(where, f"cannot read the voxel data, the file may be truncated ({e})") from None
    if data.dtype.names is not None:
        raise ImageFileError(where, f"voxels are records ({data.dtype}), not numbers")
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise ImageFileError(where, f"expected a 3D or 4D image, got shape {data.shape}")
    if data.size == 0:
        raise ImageFileError(where, "the image holds no voxels")
    if data.dtype.kind == "c":
        raise ImageFileError(where, "complex-valued images cannot be assigned")
    if data.dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            if not finite.any():
                raise ImageFileError(where, "every value is NaN or infinite")
            warnings.warn(f"{where}: {int((~finite).sum())} non-finite values set to 0", RuntimeWarning, stacklevel=3)
            data = np.where(finite, data, 0).astype(data.dtype)
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ImageFileError(where, "the affine is singular or not finite")
    return data, affine


def _expand(paths):
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            out.extend(sorted(f for f in glob.glob(os.path.join(p, "*")) if is_nifti_path(f)))
        else:
            out.append(p)
    return out


def read_region_maps(source, labels=None):
    """Region maps from a 4D NIfTI (one region per volume) or from 3D NIfTI files (a folder or a list).

    Returns
    -------
    dict
        ``shape``, ``affine``, ``names``, ``region``, ``voxel``, ``value``
        (flat entries of every voxel > 0).
    """
    from .paqd import read_labels

    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files = _expand(sources)
    if not files:
        raise AtlasFileError(sources[0] if sources else None, "no NIfTI files found")
    regions, voxels, values, default_names = [], [], [], []
    shape = affine = None
    n = 0
    for f in files:
        try:
            data, aff = image_data(load_image(f), f)
        except ImageFileError as e:
            raise AtlasFileError(e.path, e.reason) from None
        vols = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
        stem = os.path.basename(f)
        for s in NIFTI_SUFFIXES:
            if stem.lower().endswith(s):
                stem = stem[: -len(s)]
        for t, vol in enumerate(vols):
            if shape is None:
                shape, affine = vol.shape, aff
            elif vol.shape != shape:
                raise AtlasFileError(f, f"shape {vol.shape} differs from the first map's {shape}")
            elif not np.allclose(aff, affine, atol=1e-6):
                raise AtlasFileError(f, "its affine differs from the first map's")
            flat = vol.ravel()
            lin = np.flatnonzero(flat != 0)  # negative values too: the atlas loader refuses them by name
            regions.append(np.full(len(lin), n, np.int64))
            voxels.append(lin)
            values.append(flat[lin].astype(np.float32))
            default_names.append(stem if len(vols) == 1 else f"{stem}[{t}]")
            n += 1
    names = read_labels(labels) if labels is not None else default_names
    if len(names) != n:
        raise AtlasFileError(
            labels if isinstance(labels, (str, os.PathLike)) else files[0],
            f"{len(names)} labels for {n} region maps",
        )
    return dict(shape=shape, affine=affine, names=names, region=np.concatenate(regions),
                voxel=np.concatenate(voxels), value=np.concatenate(values))
