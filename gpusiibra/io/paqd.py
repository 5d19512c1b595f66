"""niivue's PAQD atlases: per voxel the two most probable areas and their probabilities.

Each voxel is an RGBA record of four uint8 fields: ``R`` = label of the most
probable area, ``G`` = label of the second, ``B`` and ``A`` = their
probabilities quantized as ``round(p * 255)``. Label 0 or probability 0 means
"none". A region's value at a voxel is ``byte / 255`` (float32) wherever the
region is one of the voxel's two stored areas, else 0.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..errors import AtlasFileError

__all__ = ["is_paqd", "read_labels", "read"]


def is_paqd(img) -> bool:
    """True for a NIfTI image whose voxels are RGBA records (PAQD)."""
    dt = img.get_data_dtype()
    return dt.names is not None and tuple(dt.names) == ("R", "G", "B", "A")


def read_labels(labels, where="labels"):
    """Region names from a list, a text file (one per line) or a niivue JSON (``labels[k]`` for label k).

    Returns the names of labels 1..K (label 0, the background, left out) for a
    niivue JSON; a list or text file is taken as it is.
    """
    if labels is None:
        return None
    if isinstance(labels, (list, tuple)):
        return [str(x) for x in labels]
    path = os.fspath(labels)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise AtlasFileError(path, f"cannot read the labels ({e.strerror})") from None
    if path.endswith(".json"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise AtlasFileError(path, f"not valid JSON ({e})") from None
        names = obj.get("labels") if isinstance(obj, dict) else obj
        if not isinstance(names, list):
            raise AtlasFileError(path, "expected a list of names or an object with a 'labels' list")
        if isinstance(obj, dict) and names and names[0] in ("", None):
            names = names[1:]
        return [str(x) for x in names]
    return [line.strip() for line in text.splitlines() if line.strip()]


def _suffixes(paths):
    if len(paths) == 1:
        return [""]
    out = []
    for p in paths:
        base = os.path.basename(os.fspath(p)).upper()
        if "LH" in base or "LEFT" in base:
            out.append(" left")
        elif "RH" in base or "RIGHT" in base:
            out.append(" right")
        else:
            out.append(f" ({os.path.basename(os.fspath(p))})")
    return out


def read(paths, labels, grid=None, suffixes=None):
    """Read one or several PAQD files into flat entries on one grid.

    Parameters
    ----------
    paths : path or list of paths
        PAQD NIfTI files; all must share voxel axes (their affines may differ by
        integer voxel offsets only).
    labels : list of str, or path
        Names of labels 1..K, shared by every file.
    grid : tuple (shape, affine), optional
        The target grid. Default: the smallest grid that holds every file.
    suffixes : list of str, optional
        Appended to each name per file. Default for two files named LH/RH:
        ``" left"`` and ``" right"``; for one file: none.

    Returns
    -------
    dict
        ``shape``, ``affine``, ``names`` (K per file, file by file),
        ``region``, ``voxel`` (linear index on the grid), ``value`` (float32).
    """
    import nibabel as nib

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    names = read_labels(labels)
    if not names:
        raise AtlasFileError(paths[0], "a PAQD atlas needs its label names (labels=...)")
    suffixes = _suffixes(paths) if suffixes is None else list(suffixes)
    imgs = []
    for p in paths:
        try:
            img = nib.load(p)
        except FileNotFoundError:
            raise AtlasFileError(p, "no such file") from None
        except Exception as e:
            raise AtlasFileError(p, f"not a readable NIfTI file ({e})") from None
        if not is_paqd(img):
            raise AtlasFileError(p, f"not a PAQD image (voxel type {img.get_data_dtype()}, expected RGBA records)")
        imgs.append(img)
    base = imgs[0].affine
    if grid is None:
        lo = np.zeros(3)
        hi = np.array(imgs[0].shape[:3]) - 1
        for img in imgs[1:]:
            off = np.linalg.solve(base, img.affine)[:3, 3]
            lo = np.minimum(lo, off)
            hi = np.maximum(hi, off + np.array(img.shape[:3]) - 1)
        shift = np.eye(4)
        shift[:3, 3] = lo
        grid = (tuple(int(round(x)) for x in hi - lo + 1), base @ shift)
    shape, affine = tuple(int(s) for s in grid[0]), np.asarray(grid[1], dtype=np.float64)
    regions, voxels, values = [], [], []
    for n, (p, img) in enumerate(zip(paths, imgs)):
        rel = np.linalg.solve(affine, img.affine)
        if not np.allclose(rel[:3, :3], np.eye(3), atol=1e-6) or not np.allclose(rel[:3, 3], np.round(rel[:3, 3]), atol=1e-4):
            raise AtlasFileError(p, "its voxels are not the target grid's voxels shifted by whole voxels")
        off = np.round(rel[:3, 3]).astype(np.int64)
        rec = np.asarray(img.dataobj)
        if rec.ndim != 3:
            raise AtlasFileError(p, f"a PAQD atlas must be 3D, it has shape {rec.shape}")
        for lab_field, p_field in (("R", "B"), ("G", "A")):
            lab = rec[lab_field].astype(np.int64)
            prob = rec[p_field]
            sel = np.flatnonzero((lab.ravel() > 0) & (prob.ravel() > 0))
            lab_sel = lab.ravel()[sel]
            if lab_sel.size and lab_sel.max() > len(names):
                raise AtlasFileError(p, f"label {lab_sel.max()} has no name ({len(names)} labels given)")
            ijk = np.stack(np.unravel_index(sel, rec.shape), axis=1) + off
            inside = np.all((ijk >= 0) & (ijk < np.array(shape)), axis=1)
            if not inside.all():
                raise AtlasFileError(p, "mapped voxels fall outside the target grid")
            regions.append(lab_sel - 1 + n * len(names))
            voxels.append(np.ravel_multi_index(tuple(ijk.T), shape))
            values.append((prob.ravel()[sel].astype(np.float32) / np.float32(255)).astype(np.float32))
    all_names = [f"{name}{suffixes[n]}" for n in range(len(paths)) for name in names]
    region, voxel = np.concatenate(regions), np.concatenate(voxels)
    key = voxel * len(all_names) + region
    if len(np.unique(key)) != len(key):
        raise AtlasFileError(paths[0], "a voxel names the same area twice")
    return dict(shape=shape, affine=affine, names=all_names, region=region, voxel=voxel,
                value=np.concatenate(values))
