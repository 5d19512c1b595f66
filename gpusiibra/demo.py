"""The seed workflow on the bundled motor t-map: sample, cluster, find peaks, assign, show.

The steps of siibra's paper example ("Anatomical characterization of regions of
interest"), with gpusiibra in place of siibra:

1. the input volume: the bundled SPM motor t-map, values below ``threshold`` set to 0;
2. ``draw_samples(N, e=5, sigma_mm=3)`` and ``find_clusters(1/300, 1/2)``;
3. ``find_peaks(mindist=5)`` and their assignment (kept where ``map value >= 0.5``);
4. a KDE map per cluster (``from_pointcloud``) and its assignment (kept where
   ``correlation >= 0.2``);
5. the table sorted by correlation, figures (nilearn glass brains) and an HTML report.

:func:`run_demo` is the API; ``gpusiibra demo`` the command.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import volumes
from .data import EXAMPLES

__all__ = ["run_demo", "DemoResult", "seed_workflow", "motor_volume", "write_example_study"]

MIN_CORRELATION = 0.2
MIN_MAP_VALUE = 0.5


@dataclass
class DemoResult:
    """What the demo computed: the inputs to the figures, the table and the time of each step."""

    input_volume: volumes.Volume
    samples: object
    peaks: object
    cluster_maps: dict
    assignments: pd.DataFrame
    timings: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    report: str | None = None


@contextmanager
def _timed(times, step):
    """Add the time spent in the block to ``times[step]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        times[step] = times.get(step, 0.0) + time.perf_counter() - t0


def seed_workflow(atlas, input_volume, n_samples=10000, seed=25, min_correlation=MIN_CORRELATION,
                  min_map_value=MIN_MAP_VALUE, progress=False):
    """Sample, cluster, find peaks and assign: the seed notebook's numbers (no figures).

    Parameters
    ----------
    atlas : SparseMap
    input_volume : Volume
    n_samples : int
        Points drawn from the input (the seed uses 10000).
    seed : int
        Seed of the sampler: the same seed gives the same samples, clusters and table.
    min_correlation, min_map_value : float
        Rows kept for clusters and for peaks.
    progress : bool
        Show a progress bar over the clusters.

    Returns
    -------
    DemoResult
        Without figures or report.
    """
    times = {}
    with _timed(times, "draw samples"):
        samples = input_volume.draw_samples(n_samples, e=5, sigma_mm=3, random_state=np.random.default_rng(seed))
    with _timed(times, "find clusters"):
        samples.find_clusters(min_fraction=1 / 300, max_fraction=1 / 2)
    with _timed(times, "find peaks"):
        peaks = input_volume.find_peaks(mindist=5, sigma_mm=0)
    tables = []
    with _timed(times, "assign peaks"):
        df = atlas.assign(peaks)
    if len(df):
        df = df[df["map value"] >= min_map_value].assign(type="peak", id=df["input structure"])
        tables.append(df)
    labels = sorted(set(samples.labels.tolist()) - {-1})
    cluster_maps = {}
    if progress:
        from tqdm.auto import tqdm

        labels_iter = tqdm(labels, desc="clusters", unit="cluster")
    else:
        labels_iter = labels
    for cl in labels_iter:
        with _timed(times, "cluster maps (KDE)"):
            cluster_maps[cl] = volumes.from_pointcloud(samples, label=cl, target=input_volume)
        with _timed(times, "assign clusters"):
            df = atlas.assign(cluster_maps[cl])
        if len(df):
            tables.append(df[df["correlation"] >= min_correlation].assign(type="cluster", id=cl))
    cols = ["type", "id", "region", "map value", "correlation"]
    tables = [t.reindex(columns=cols) for t in tables if len(t)]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=cols)
    table["id"] = table["id"].astype("int64")
    table = table.sort_values("correlation", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    return DemoResult(input_volume, samples, peaks, cluster_maps, table, times)


def motor_volume(threshold=3.0):
    """The bundled SPM motor t-map as a Volume, values below ``threshold`` set to 0."""
    from .io.nifti import image_data, load_image

    path = EXAMPLES["example:motor"]
    data, affine = image_data(load_image(path), path)
    data = np.where(data < threshold, 0, data).astype(np.float32)
    return volumes.from_array(data, affine, "mni152", f"motor t-map, t >= {threshold:g}")


def write_example_study(folder, n_maps=8, seed=0):
    """Write a small study to try the batch with: ``n_maps`` t-maps made from the bundled motor map.

    Each map is the motor t-map shifted by a few voxels and scaled, with a little smooth noise, so that
    every map has rows of its own; one of them is a 4D file of two volumes. Returns the paths. A map already
    there with the same voxels is kept as it is (a dataset of it stays valid); any other file of one of these
    names is an error, before anything is written.
    """
    import nibabel as nib
    import scipy.ndimage as ndi

    from ._outputs import write_atomically
    from .errors import OptionError
    from .io.nifti import image_data, load_image

    path = EXAMPLES["example:motor"]
    data, affine = image_data(load_image(path), path)
    rng = np.random.default_rng(seed)
    maps = {}
    for i in range(n_maps):
        shifted = np.roll(data, tuple(int(s) for s in rng.integers(-3, 4, 3)), axis=(0, 1, 2))
        noise = ndi.gaussian_filter(rng.normal(size=data.shape), 1.5) * 2.0
        t = (shifted * rng.uniform(0.7, 1.3) + noise).astype(np.float32)
        if i == n_maps - 1:
            t = np.stack([t, -t], axis=-1)  # a 4D file: each volume is one map
        maps[os.path.join(os.fspath(folder), f"sub-{i + 1:02d}_motor_tmap.nii.gz")] = t
    there = [name for name in maps if os.path.lexists(name)]
    for name in there:
        try:
            img = nib.load(name)
            same = img.shape == maps[name].shape and np.array_equal(np.asarray(img.dataobj), maps[name]) and \
                np.allclose(img.affine, affine)
        except Exception:
            same = False
        if not same:
            raise OptionError(f"{name} exists and is not this example's map: choose another folder (nothing was "
                              "written)")
    os.makedirs(folder, exist_ok=True)
    for name, t in maps.items():
        if name not in there:
            write_atomically(name, nib.Nifti1Image(t, affine).to_filename)  # whole or not at all (a full disk)
    return list(maps)


def _check_demo_folder(out):
    """The demo writes into a folder of its own: a new or empty one, or an earlier demo's (its table there, and
    only the kinds of files it writes); another folder is an error, before the work (its files would be replaced)."""
    from .errors import OptionError

    if not os.path.isdir(out):
        return
    entries = sorted(os.listdir(out))
    if not entries or ("assignments.csv" in entries and all(e.endswith((".png", ".csv", ".html")) for e in entries)):
        return
    theirs = next((e for e in entries if not e.endswith((".png", ".csv", ".html"))), entries[0])
    raise OptionError(f"--out {out} holds files the demo did not write (such as {theirs}): the demo writes its "
                      "report, figures and table into a folder of its own; choose another --out")


def run_demo(out=None, seed=25, threshold=3.0, n_samples=10000, atlas=None, figures=True, progress=True):
    """Run the seed workflow on the bundled motor map; write figures and an HTML report into ``out``.

    Parameters
    ----------
    out : path, optional
        Folder for the figures, ``assignments.csv`` and ``report.html``
        (created); nothing is written when None.
    seed : int
        Seed of the sampler (the seed notebook uses 25).
    threshold : float
        t values below it are set to 0 before sampling (a t-map's background
        and negative values would otherwise carry most of the density).
    n_samples : int
        Points drawn from the map.
    atlas : SparseMap or str, optional
        An atlas or a name/path for :func:`gpusiibra.get_map`; default the
        embedded Julich-Brain 3.1.
    figures : bool
        Draw the figures and the report (needs nilearn and matplotlib).
    progress : bool
        Show progress bars.

    Returns
    -------
    DemoResult
    """
    from .maps import get_map

    t0 = time.perf_counter()
    if out is not None:
        _check_demo_folder(out)
    atlas = get_map() if atlas is None else get_map(atlas) if isinstance(atlas, (str, os.PathLike)) else atlas
    t_atlas = time.perf_counter() - t0
    result = seed_workflow(atlas, motor_volume(threshold), n_samples, seed, progress=progress)
    result.timings = {"load atlas": t_atlas, **result.timings}
    if out is not None:
        from ._outputs import write_atomically

        os.makedirs(out, exist_ok=True)
        write_atomically(os.path.join(out, "assignments.csv"),
                         lambda tmp: result.assignments.to_csv(tmp, index=False))
        if figures:
            from . import report

            t1 = time.perf_counter()
            result.figures = report.demo_figures(result, atlas, out, progress=progress)
            result.timings["figures"] = time.perf_counter() - t1
            result.timings["total"] = time.perf_counter() - t0
            result.report = report.write_demo_report(result, atlas, out, seed=seed, threshold=threshold)
    result.timings.setdefault("total", time.perf_counter() - t0)
    return result
