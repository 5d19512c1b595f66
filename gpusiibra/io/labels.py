"""Label volumes: the voxels of each region of a labelled parcellation, and lookup tables of region names.

:func:`label_entries` turns label volumes (one per fragment, on one grid) and the label of each region
into the (region, voxel) entries of a sparse index; :func:`region_spec` reads the regions' labels from a
dict, a list or a lookup table (:func:`read_lookup_table`).
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from ..errors import AtlasFileError
from . import nifti

__all__ = ["read_lookup_table", "region_spec", "label_entries"]


def read_lookup_table(path) -> dict:
    """Region names by label from a lookup table: lines ``<label> <name> [...]`` (FSL, FreeSurfer), or one name per
    line (labels 1, 2, ...); blank lines and ``#`` comments are skipped. Returns ``{name: label}`` in file order."""
    out = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise AtlasFileError(path, f"cannot read the lookup table ({e})") from None
    numbered = all(ln.split(None, 1)[0].lstrip("-").isdigit() and len(ln.split(None, 1)) == 2 for ln in lines)
    for i, ln in enumerate(lines):
        label, name = (int(ln.split(None, 1)[0]), ln.split(None, 1)[1]) if numbered else (i + 1, ln)
        if numbered:  # FreeSurfer's LUT carries R G B A after the name
            parts = name.split()
            if len(parts) > 4 and all(p.isdigit() for p in parts[-4:]):
                name = " ".join(parts[:-4])
        if name in out:
            raise AtlasFileError(path, f"the region {name!r} is listed twice")
        out[name] = label
    if not out:
        raise AtlasFileError(path, "the lookup table names no region")
    return out


def region_spec(regions, fragments, where):
    """``[(name, label, fragment)]`` from a dict ``{name: label}`` / ``{name: (label, fragment)}``, a list of names
    (labels 1..n) or a lookup table's path."""
    if isinstance(regions, (str, os.PathLike)):
        regions = read_lookup_table(regions)
    if isinstance(regions, dict):
        items = list(regions.items())
    else:
        items = [(name, i + 1) for i, name in enumerate(regions)]
    spec = []
    for name, v in items:
        label, frag = (v if isinstance(v, (tuple, list)) else (v, None))
        if frag not in fragments:
            raise AtlasFileError(where, f"the region {name!r} is in fragment {frag!r}, which the map does not have "
                                        f"(it has {', '.join(map(repr, fragments))})")
        spec.append((str(name), float(label), frag))
    seen = {}
    for name, label, frag in spec:
        if (label, frag) in seen:
            raise AtlasFileError(where, f"label {label:g} is given to both {seen[(label, frag)]!r} and {name!r}")
        seen[(label, frag)] = name
    if not spec:
        raise AtlasFileError(where, "no regions given for the labelled map")
    return spec


def label_entries(image, regions, unmapped=()) -> dict:
    """The (region, voxel) entries of label volumes.

    Parameters
    ----------
    image : path, nibabel image, or dict ``{fragment: path or image}`` on one grid
    regions : dict, list or path
        As :func:`region_spec` takes them.

    Returns
    -------
    dict
        ``shape``, ``affine``, ``region`` and ``voxel`` (C-order linear index) of every labelled voxel whose label
        names a region, ``spec`` (``[(name, label, fragment)]``) and ``where`` (the first file). Voxels whose
        label names no region are left out, with a warning naming the labels.
    """
    frags = dict(image) if isinstance(image, dict) else {None: image}
    first_where = None
    grid = None
    region_parts, voxel_parts = [], []
    spec = None
    for frag, img in frags.items():
        where = os.fspath(img) if isinstance(img, (str, os.PathLike)) else (
            getattr(img, "get_filename", lambda: None)() or "<in-memory label image>")
        first_where = first_where or where
        if isinstance(img, (str, os.PathLike)):
            img = nifti.load_image(where)
        if spec is None:
            spec = region_spec(regions, list(frags), where)
        data = np.asanyarray(img.dataobj)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        if data.ndim != 3:
            raise AtlasFileError(where, f"a label volume must be 3D, this one has shape {data.shape}")
        this_grid = (tuple(data.shape), np.asarray(img.affine, np.float64))
        if grid is None:
            grid = this_grid
        elif grid[0] != this_grid[0] or not np.allclose(grid[1], this_grid[1]):
            raise AtlasFileError(where, "its grid differs from the other fragments' (every fragment of a labelled map "
                                        "must share one grid)")
        flat = data.reshape(-1)  # C order: the sparse index's linear voxel numbers
        nz = np.flatnonzero(flat)
        vals = flat[nz].astype(np.float64)
        mine = [(i, s[1]) for i, s in enumerate(spec) if s[2] == frag]
        if not mine:
            continue
        idx = np.array([i for i, _ in mine], np.int64)
        labs = np.array([lab for _, lab in mine], np.float64)
        order = np.argsort(labs)
        labs, idx = labs[order], idx[order]
        pos = np.minimum(np.searchsorted(labs, vals), len(labs) - 1)
        hit = labs[pos] == vals
        if not hit.all() and not np.isin(vals[~hit], np.asarray(unmapped, np.float64)).all():
            missing = np.setdiff1d(np.unique(vals[~hit]), np.asarray(unmapped, np.float64))
            shown = ", ".join(f"{v:g}" for v in missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8
                                                                  else "")
            warnings.warn(f"{where}: label(s) {shown} name no region: their {int((~hit).sum())} voxels are left out",
                          RuntimeWarning, stacklevel=2)
        region_parts.append(idx[pos[hit]])
        voxel_parts.append(nz[hit])
    shape, affine = grid
    region = np.concatenate(region_parts) if region_parts else np.zeros(0, np.int64)
    voxel = np.concatenate(voxel_parts) if voxel_parts else np.zeros(0, np.int64)
    if region.size == 0:
        raise AtlasFileError(first_where, "no voxel carries a region's label (the volume holds only 0, the "
                                          "background, or labels its regions do not use): nothing to assign to")
    absent = np.setdiff1d(np.arange(len(spec)), region)
    if len(absent):
        shown = ", ".join(f"{spec[i][0]!r} ({spec[i][1]:g})" for i in absent[:3]) + (
            f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        warnings.warn(f"{first_where}: {len(absent)} of the {len(spec)} regions named have no voxel with their label "
                      f"in the volume: {shown} (they can never be assigned; is it the volume's own lookup table?)",
                      RuntimeWarning, stacklevel=2)
    return {"shape": shape, "affine": affine, "region": region, "voxel": voxel, "spec": spec, "where": first_where}
