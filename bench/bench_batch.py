"""End-to-end batch benchmark: plain read of every file vs CPU batch vs GPU batch, side by side, one run.

Writes N synthetic realistic maps (bench/synthetic.py) as .nii.gz, then times
- read: every file opened and decompressed by the same reading pool, nothing else;
- gpusiibra assign_batch on each available backend, --threshold 3, into a Parquet dataset.

Usage: python bench/bench_batch.py [--n 1000] [--cpu-n 200] [--dir DIR]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpusiibra  # noqa: E402
from gpusiibra import batch  # noqa: E402
from gpusiibra.io.nifti import image_data, load_image  # noqa: E402
from synthetic import write_map  # noqa: E402


def write_maps(folder, n):
    from concurrent.futures import ProcessPoolExecutor

    os.makedirs(folder, exist_ok=True)
    jobs = [(i, os.path.join(folder, f"map{i:05d}.nii.gz")) for i in range(n)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return sorted(pool.map(write_map, jobs, chunksize=8))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--cpu-n", type=int, default=200, help="maps for the CPU backend (its rate is flat)")
    ap.add_argument("--dir", help="where to write the maps (default: a temporary folder)")
    a = ap.parse_args()
    folder = a.dir or tempfile.mkdtemp(prefix="gpusiibra-bench-")
    t = time.perf_counter()
    files = write_maps(folder, a.n)
    print(f"{len(files)} maps written in {time.perf_counter() - t:.1f} s to {folder} "
          f"({sum(os.path.getsize(f) for f in files) / 1e6:.0f} MB); cores: {os.cpu_count()}")
    smap = gpusiibra.get_map()
    rows = []
    t = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda f: image_data(load_image(f), f)[0].sum(), files))
    dt = time.perf_counter() - t
    rows.append(("plain read (4 threads)", len(files), dt))
    for b in ["cpu"] + (["gpu"] if gpusiibra.gpu_available() else []):
        gpusiibra.set_backend(b)
        sub = files if b == "gpu" else files[: a.cpu_n]
        batch.assign_batch(smap, sub[:8], None, threshold=3.0, progress=False)  # warm-up
        out = os.path.join(folder, f"out-{b}.parquet")
        shutil.rmtree(out, ignore_errors=True)
        _, s = batch.assign_batch(smap, sub, out, threshold=3.0, progress=False, chunk_size=64)
        rows.append((f"gpusiibra batch {b}", s.maps, s.seconds))
    print(f"\n{'engine':<26}{'maps':>7}{'seconds':>10}{'maps/s':>10}{'% of read rate':>16}")
    read_rate = rows[0][1] / rows[0][2]
    for name, n, sec in rows:
        print(f"{name:<26}{n:>7}{sec:>10.2f}{n / sec:>10.1f}{100 * (n / sec) / read_rate:>15.0f}%")
    if not a.dir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
