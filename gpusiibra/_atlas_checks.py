"""Checks of a fetched atlas before it is cached: the volume order by the sides of the regions named left and
right, and a sample of regions against their own NIfTI maps (a second source)."""
from __future__ import annotations

import os

import numpy as np

from ._download import _download, _NotThere, mirrored
from ._kernels import _csr_gather
from .errors import AtlasFileError, DownloadError, ImageFileError, OptionError
from .sparse import SparseIndex

__all__ = ["CHECK_ENV", "SECOND_SOURCE_SAMPLE", "check_hemispheres", "check_against_region_maps"]


def check_hemispheres(index: SparseIndex, regions, where) -> None:
    """Refuse an index whose volume order is not that of ``regions``, where the names tell the side.

    The v1 files carry no region names: volume ``v`` is named by the catalog. A region named "... left"
    (or "Left ...", as Harvard-Oxford names them) must lie left of the midline (x < 0 mm: RAS, as MNI space), "... right" right of it, judged by its
    weighted centroid; more than a few exceptions (small midline structures) mean the file's order is not
    the catalog's, and the atlas is refused rather than mislabelled.
    """
    from nibabel.affines import apply_affine

    side = np.array([1 if r.endswith(" right") or r.startswith("Right ") else
                     -1 if r.endswith(" left") or r.startswith("Left ") else 0 for r in regions])
    counts = np.diff(index.region_ptr)
    named = (side != 0) & (counts > 0)
    if not named.any():
        return
    region = index.value_regions()
    w = index.region_value.astype(np.float64)
    total = np.bincount(region, w, minlength=len(counts))
    ijk = np.unravel_index(index.region_voxel, index.shape)
    centre = np.stack([np.bincount(region, w * c, minlength=len(counts)) for c in ijk], axis=1)
    centre = centre / np.maximum(total, 1e-300)[:, None]
    x = apply_affine(index.affine, centre)[:, 0]
    wrong = np.flatnonzero(named & (np.sign(x) != side))
    if len(wrong) > max(1, 0.05 * named.sum()):
        r = int(wrong[0])
        raise AtlasFileError(where, f"{len(wrong)} of {int(named.sum())} regions named left or right lie on the other "
                                    f"side of the midline (first: volume {r}, {regions[r]!r}, centroid x = "
                                    f"{x[r]:+.0f} mm): the file's volume order is not the catalog's, so it is "
                                    "refused rather than mislabelled")


#: regions of a downloaded sparse index checked against their own NIfTI maps (a second source); the
#: environment variable GPUSIIBRA_CHECK_REGIONS sets another number (0: no check, for a mirror of the index alone)
SECOND_SOURCE_SAMPLE = 4


CHECK_ENV = "GPUSIIBRA_CHECK_REGIONS"


def _second_source_sample() -> int:
    value = os.environ.get(CHECK_ENV)
    if value is None:
        return SECOND_SOURCE_SAMPLE
    try:
        return max(0, int(value))
    except ValueError:
        raise OptionError(f"{CHECK_ENV} must be a number of regions (0 turns the check off), not {value!r}") from None


def _sample_regions(n_regions: int, k: int) -> list:
    """Which regions to check against their own maps: a fresh random sample at each fetch."""
    import random

    return sorted(random.SystemRandom().sample(range(n_regions), min(k, n_regions)))


def check_against_region_maps(entry, index, downloads, checks, cache_folder) -> dict:
    """Refuse a sparse index whose sampled regions do not match their own NIfTI maps (a second source).

    For each sampled region, its map is downloaded and compared (cosine of the values) with every region of
    the index: it must match its own volume best, and closely (cosine >= 0.9; siibra built the index from
    these maps). A mirror that serves a well-formed index with regions in another order is refused rather
    than cached. Maps that cannot be had are said in a warning (the index's own checks still hold).
    Returns the downloaded files, ``name -> (url, size, sha256)``, for the checksum record.
    """
    import warnings

    from .io.nifti import image_data, load_image

    k = _second_source_sample()
    if len(entry.volumes) != len(entry.regions) or k <= 0:
        return {}
    R = len(entry.regions)
    region_of_entry = index.value_regions()
    norm = np.sqrt(np.bincount(region_of_entry, index.region_value.astype(np.float64) ** 2, minlength=R))
    files = {}
    for r in _sample_regions(R, k):
        url = entry.volumes[r]
        fname = f"{r:04d}_" + url.rsplit("/", 1)[1]
        try:
            path, files[fname] = _download(url, downloads, fname, checks, False, cache_folder)
            q, affine = image_data(load_image(path), path)
        except (_NotThere, DownloadError, ImageFileError) as e:
            warnings.warn(f"{entry.id}: the sparse index could not be checked against the map of {entry.regions[r]!r} "
                          f"({getattr(e, 'reason', e)}); its volume order was checked by the hemispheres only",
                          RuntimeWarning, stacklevel=3)
            continue
        if q.shape != tuple(index.shape) or not np.allclose(affine, index.affine, atol=1e-4):
            warnings.warn(f"{entry.id}: the map of {entry.regions[r]!r} is on another grid than the sparse index; "
                          "it was not compared", RuntimeWarning, stacklevel=3)
            continue
        flat = np.asarray(q, np.float64).ravel()
        lin = np.flatnonzero(flat > 0)
        rows = index.voxels.ravel()[lin]
        inside = rows >= 0
        entries, cnt = _csr_gather(np, index.row_ptr, rows[inside])
        dots = np.bincount(index.entry_region[entries].astype(np.int64),
                           index.entry_value[entries] * np.repeat(flat[lin[inside]], cnt), minlength=R)
        cosine = dots / np.maximum(norm * np.sqrt((flat[lin] ** 2).sum()), 1e-300)
        best = int(np.argmax(cosine))
        if best != r or cosine[r] < 0.9:
            raise AtlasFileError(mirrored(entry.sparse_index),
                                 f"volume {r} of the sparse index ({entry.regions[r]!r}) does not match that region's "
                                 f"own map {mirrored(url)} (cosine {cosine[r]:.3f}; it matches volume {best}, "
                                 f"{entry.regions[best]!r}, best, cosine {cosine[best]:.3f}): the index's regions are "
                                 "in another order or damaged, so it is refused rather than cached")
    return files
