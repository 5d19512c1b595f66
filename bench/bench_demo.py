"""The seed workflow (``gpusiibra demo``), step by step: siibra, gpusiibra CPU and gpusiibra GPU in one run.

The input is the bundled motor t-map with t < 3 set to 0; 10000 samples (e=5, sigma 3 mm), HDBSCAN
(1/300, 1/2), peaks (mindist 5), a KDE map per cluster, assignments to Julich-Brain 3.1 (embedded).

With ``--siibra``, siibra 1.0.1a25 runs the same steps (offline, via tests/oracle.py's stand-in space):
its own rejection sampler on the same map, then every later step on gpusiibra's CPU samples, so
that the final tables can be compared row by row. siibra's index build of the 414 regions is timed
apart (it is paid once per session in siibra).

Usage: python bench/bench_demo.py [--siibra] [--backends cpu,gpu] [--repeat 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import gpusiibra  # noqa: E402
from gpusiibra import demo  # noqa: E402

STEPS = ["draw samples", "find clusters", "find peaks", "assign peaks", "cluster maps (KDE)", "assign clusters"]
SEED_DOCUMENT_SECONDS = 175.3  # "Total running time of the script: 2 minutes 55.333 seconds"


def ours(backend, atlas, vol, repeat):
    """Median time per step over ``repeat`` runs (after one warm-up), and the last result."""
    gpusiibra.set_backend(backend)
    demo.seed_workflow(atlas, vol)  # warm-up: kernels compile, atlas goes to the device
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = demo.seed_workflow(atlas, vol)
        res.timings["workflow total"] = time.perf_counter() - t0
        runs.append(res.timings)
    return {k: float(np.median([r.get(k, 0.0) for r in runs])) for k in runs[0]}, res


def siibra_steps(atlas, vol, res):
    """siibra's time per step; its table computed from gpusiibra's samples."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import oracle

    times = {}
    data, affine = vol.get_data(), vol.affine
    np.random.seed(25)
    t = time.perf_counter()
    oracle.draw_samples(data, affine, 10000, e=5, sigma_mm=3)
    times["draw samples"] = time.perf_counter() - t
    coords = res.samples.coordinates
    t = time.perf_counter()
    labels = oracle.find_clusters(coords, 1 / 300, 1 / 2)
    times["find clusters"] = time.perf_counter() - t
    t = time.perf_counter()
    peaks, _ = oracle.find_peaks(data, affine, 5)
    times["find peaks"] = time.perf_counter() - t
    t = time.perf_counter()
    om = oracle.OracleMap.from_sparsemap(atlas)
    times["index build (once)"] = time.perf_counter() - t
    rows = []
    t = time.perf_counter()
    for r in om.assign_points(peaks, 0.0):
        if r["map value"] >= demo.MIN_MAP_VALUE:
            rows.append(("peak", r["input structure"], atlas.regions[r["volume"]], r["map value"], np.nan))
    times["assign peaks"] = time.perf_counter() - t
    times["cluster maps (KDE)"] = times["assign clusters"] = 0.0
    for cl in sorted(set(labels.tolist()) - {-1}):
        t = time.perf_counter()
        kde = oracle.from_pointcloud(coords, 3.0, labels, cl, data, affine)
        times["cluster maps (KDE)"] += time.perf_counter() - t
        t = time.perf_counter()
        for r in om.assign_image(kde, affine):
            if r["correlation"] >= demo.MIN_CORRELATION:
                rows.append(("cluster", cl, atlas.regions[r["volume"]], r["map value"], r["correlation"]))
        times["assign clusters"] += time.perf_counter() - t
    table = pd.DataFrame(rows, columns=["type", "id", "region", "map value", "correlation"])
    table = table.sort_values("correlation", ascending=False, na_position="last", kind="stable")
    times["workflow total"] = sum(v for k, v in times.items() if k != "index build (once)")
    return times, table.reset_index(drop=True)


def raw_peaks(backends, repeat):
    """peak_local_max on the unthresholded t-map (plateaus of 0 outside the brain): scikit-image vs ours."""
    from skimage.feature import peak_local_max as skimage_peaks

    from gpusiibra.volumes import peak_local_max

    data = demo.motor_volume(-np.inf).get_data()
    timings = {}
    t = time.perf_counter()
    ref = skimage_peaks(data, min_distance=5)
    timings["scikit-image (siibra's)"] = time.perf_counter() - t
    for b in backends:
        gpusiibra.set_backend(b)
        peak_local_max(data, 5)  # warm-up
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            ours = peak_local_max(data, 5)
            runs.append(time.perf_counter() - t)
        assert np.array_equal(ours, ref)
        timings[f"gpusiibra {b}"] = float(np.median(runs))
    gpusiibra.set_backend("cpu")
    return timings, len(ref)


def compare(ours_table, siibra_table):
    key = ["type", "id", "region"]
    a = ours_table.set_index(key).sort_index()
    b = siibra_table.set_index(key).sort_index()
    if list(a.index) != list(b.index):
        return f"rows differ: {len(a)} gpusiibra vs {len(b)} siibra"
    dc = np.nanmax(np.abs(a["correlation"].to_numpy(float) - b["correlation"].to_numpy(float)), initial=0)
    dm = np.max(np.abs(a["map value"].to_numpy(float) - b["map value"].to_numpy(float)), initial=0)
    return f"same {len(a)} rows; max |d correlation| {dc:.1e}, max |d map value| {dm:.1e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--siibra", action="store_true", help="also run siibra's steps (minutes)")
    ap.add_argument("--backends", default="cpu,gpu")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--figures", action="store_true", help="also time the figures and report (CPU)")
    ap.add_argument("--json")
    args = ap.parse_args()

    backends = [b for b in args.backends.split(",") if b != "gpu" or gpusiibra.gpu_available()]
    t = time.perf_counter()
    atlas = gpusiibra.get_map()
    t_atlas = time.perf_counter() - t
    vol = demo.motor_volume(3.0)
    columns, results = {}, {}
    for b in backends:
        columns[f"gpusiibra {b}"], results[b] = ours(b, atlas, vol, args.repeat)
    gpusiibra.set_backend("cpu")
    if args.siibra:
        columns["siibra"], siibra_table = siibra_steps(atlas, vol, results["cpu"])
        columns = {"siibra": columns.pop("siibra"), **columns}
    rows = STEPS + ["workflow total", "index build (once)"]
    print(f"== seed workflow on the motor map (t >= 3), {len(atlas)} regions; atlas load {t_atlas:.2f} s ==")
    print(f"{'step':<22}" + "".join(f"{c:>18}" for c in columns))
    for r in rows:
        if any(r in col for col in columns.values()):
            print(f"{r:<22}" + "".join(f"{col[r]:>17.3f}s" if r in col else f"{'':>18}" for col in columns.values()))
    res = results["cpu"]
    print(f"\n{len(res.samples)} samples, {len(res.cluster_maps)} clusters, {len(res.peaks)} peaks, "
          f"{len(res.assignments)} table rows; seed document: {SEED_DOCUMENT_SECONDS:.0f} s end to end")
    if args.siibra:
        print("siibra's table from the same samples vs gpusiibra's:", compare(res.assignments, siibra_table))
    peak_times, n_peaks = raw_peaks(backends, args.repeat)
    print(f"peaks of the raw t-map (mindist 5, {n_peaks} peaks, same coordinates): "
          + ", ".join(f"{k} {v:.3f} s" for k, v in peak_times.items()))
    if args.figures:
        import tempfile

        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            full = demo.run_demo(out, atlas=atlas, progress=False)
            print(f"gpusiibra demo end to end (cpu, with {len(full.figures)} figures and the report): "
                  f"{time.perf_counter() - t:.2f} s (figures {full.timings['figures']:.2f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(columns, f, indent=1)


if __name__ == "__main__":
    main()
