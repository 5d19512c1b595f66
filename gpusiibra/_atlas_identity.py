"""The identity of an atlas as a results dataset records it: its name in the ``atlas`` column, and a fingerprint
of its arrays (with its kind, space, grid and, for an official atlas, its source files' SHA-256)."""
from __future__ import annotations

import hashlib
import os

import numpy as np

__all__ = ["atlas_label", "atlas_identity", "atlas_identities"]


def atlas_label(smap) -> str:
    """The name of an atlas in a dataset's ``atlas`` column: its catalog or embedded id (``julich-3.1``), else its
    name."""
    source = smap.meta.get("source")
    if isinstance(source, str) and source and os.sep not in source and "/" not in source:
        return source
    return smap.name or "atlas"


def atlas_identity(smap) -> dict:
    """Name, region count, a fingerprint (SHA-256 of the grid, the CSR arrays, the names and, for a labelled map,
    its labels) of an atlas and, for an official one, the SHA-256 of each source file. For several atlases
    (a tuple), the same of each under ``atlases``, and a fingerprint of them all."""
    if isinstance(smap, (list, tuple)):
        if len(smap) == 1:
            return atlas_identity(smap[0])
        each = [atlas_identity(m) for m in smap]
        h = hashlib.sha256("\n".join(a["fingerprint"] for a in each).encode())
        return {"name": " + ".join(a["label"] for a in each), "regions": sum(a["regions"] for a in each),
                "fingerprint": h.hexdigest()[:32], "atlases": each}
    ix = smap.sparse_index
    h = hashlib.sha256()
    h.update(np.asarray(ix.shape, np.int64).tobytes())
    h.update(np.asarray(ix.affine, np.float64).tobytes())
    for a in (ix.row_voxel, ix.row_ptr, ix.entry_region, ix.entry_value):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update("\n".join(smap.regions).encode())
    if getattr(smap, "maptype", "statistical") == "labelled":
        h.update(np.asarray(smap.label_values(), np.float64).tobytes())
        h.update(repr((smap.fragments, smap.volumes)).encode())
    ident = {"name": smap.name, "label": atlas_label(smap), "kind": getattr(smap, "maptype", "statistical"),
             "space": smap.space, "regions": len(smap), "fingerprint": h.hexdigest()[:32],
             "source": smap.meta.get("source"),
             "grid": {"shape": [int(s) for s in ix.shape],
                      "affine": [[float(v) for v in row] for row in np.asarray(ix.affine, np.float64)]}}
    files = smap.meta.get("files") or {}
    if files:  # an official atlas: the SHA-256 of each file it was made from (as its cache recorded them)
        ident["files"] = {name: f.get("sha256") for name, f in files.items() if isinstance(f, dict)}
    return ident


def atlas_identities(ident: dict) -> list:
    """The identity of each atlas of a dataset (its run record's ``atlas``)."""
    return list(ident.get("atlases") or [ident])
