"""End-to-end batch benchmark: plain read of every file vs CPU batch vs GPU batch, side by side, one run.

Writes N synthetic realistic maps (bench/synthetic.py) as .nii.gz, then times
- read: every file read, inflated, thresholded and made sparse by the batch's own readers (reader
  processes, ISA-L where installed), nothing else;
- gpusiibra assign_batch on each available backend, --threshold 3, into a Parquet dataset.

- with --dask 1,2: the CPU batch on local dask clusters of 1 and 2 worker processes (scaling).

Usage: python bench/bench_batch.py [--n 1000] [--cpu-n 200] [--dir DIR] [--dask 1,2]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpusiibra  # noqa: E402
from gpusiibra import batch  # noqa: E402
from gpusiibra._readers import Readers  # noqa: E402
from synthetic import write_map  # noqa: E402


def write_maps(folder, n):
    from concurrent.futures import ProcessPoolExecutor

    os.makedirs(folder, exist_ok=True)
    jobs = [(i, os.path.join(folder, f"map{i:05d}.nii.gz")) for i in range(n)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return sorted(pool.map(write_map, jobs, chunksize=8))


def dask_run(smap, files, folder, workers):
    """The CPU batch on a local dask cluster of ``workers`` single-threaded processes, started and warmed
    up (gpusiibra imported in every worker) before the clock starts; the atlas is sent to the workers
    within the run, as the batch does it."""
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("gpusiibra.batch") and None)  # every worker has imported gpusiibra
        out = os.path.join(folder, f"out-dask{workers}.parquet")
        shutil.rmtree(out, ignore_errors=True)
        _, s = batch.assign_batch(smap, files, out, threshold=3.0, progress=False, chunk_size=8,
                                  scheduler=cluster.scheduler_address)
    return (f"dask cpu, {workers} worker{'s' if workers > 1 else ''}", s.maps, s.seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--cpu-n", type=int, default=200, help="maps for the CPU backend (its rate is flat)")
    ap.add_argument("--dir", help="where to write the maps (default: a temporary folder)")
    ap.add_argument("--readers", type=int, default=os.cpu_count(), help="reader processes (default: the cores)")
    ap.add_argument("--chunk", type=int, default=64, help="files per chunk")
    ap.add_argument("--dask", default="", help="also run the CPU batch on local dask clusters of these worker "
                    "counts, e.g. 1,2 (on --cpu-n maps)")
    a = ap.parse_args()
    folder = a.dir or tempfile.mkdtemp(prefix="gpusiibra-bench-")
    t = time.perf_counter()
    files = write_maps(folder, a.n)
    print(f"{len(files)} maps written in {time.perf_counter() - t:.1f} s to {folder} "
          f"({sum(os.path.getsize(f) for f in files) / 1e6:.0f} MB); cores: {os.cpu_count()}")
    smap = gpusiibra.get_map()
    rows = []
    read_kw = dict(threshold=3.0, two_sided=False, peaks=False, mindist=5)
    with Readers(a.readers, len(files), read_kw) as pool:
        pool.results(files[:8], pool.read(files[:8]))  # reader processes started and warm
        t = time.perf_counter()
        futures = pool.read(files)
        pool.results(files, futures)
        dt = time.perf_counter() - t
    rows.append((f"plain read ({a.readers} readers)", len(files), dt))
    for b in ["cpu"] + (["gpu"] if gpusiibra.gpu_available() else []):
        gpusiibra.set_backend(b)
        sub = files if b == "gpu" else files[: a.cpu_n]
        batch.assign_batch(smap, sub[:8], None, threshold=3.0, progress=False)  # warm-up
        out = os.path.join(folder, f"out-{b}.parquet")
        shutil.rmtree(out, ignore_errors=True)
        _, s = batch.assign_batch(smap, sub, out, threshold=3.0, progress=False, chunk_size=a.chunk,
                                  readers=a.readers)
        rows.append((f"gpusiibra batch {b}", s.maps, s.seconds))
    gpusiibra.set_backend("cpu")
    for k in [int(x) for x in a.dask.split(",") if x]:
        rows.append(dask_run(smap, files[: a.cpu_n], folder, k))
    print(f"\n{'engine':<26}{'maps':>7}{'seconds':>10}{'maps/s':>10}{'% of read rate':>16}")
    read_rate = rows[0][1] / rows[0][2]
    for name, n, sec in rows:
        print(f"{name:<26}{n:>7}{sec:>10.2f}{n / sec:>10.1f}{100 * (n / sec) / read_rate:>15.0f}%")
    dask_rows = [r for r in rows if r[0].startswith("dask")]
    if len(dask_rows) > 1:
        base = dask_rows[0][1] / dask_rows[0][2]
        print("dask scaling: " + ", ".join(f"{name}: {(n / sec) / base:.2f}x" for name, n, sec in dask_rows))
    if not a.dir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
