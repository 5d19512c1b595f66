"""The batch's readers on realistic and synthetic maps: every choice of the read path as a row, one run.

Rows (each: N reader processes over every file, started and warmed up before the clock):
- bytes only: the compressed files read, nothing else (the disk/page-cache floor);
- nibabel path: nibabel's array proxy, the float conversion, ``isfinite``, the threshold and a C-order
  copy (the readers before issue 19), with zlib and with ISA-L;
- raw path: the header parsed once, the voxels viewed with ``np.frombuffer``, thresholded in the file's
  own type, C-order indices for the kept voxels only, with ISA-L, then libdeflate;
- the heap kept across maps (``mallopt``), then 8 files per task instead of 1 (the batch's readers now).
Then the batch end to end (``assign_batch`` into a dataset, in this process) on the CPU and, where there is
one, the GPU, as maps/s and as % of the readers' own rate, and the command line for one map (process start
to exit).

Usage: python bench/bench_readers.py [--n 300] [--synthetic 100] [--readers CORES] [--cpu-n N] [--dir DIR]
"""
import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

READ_KW = dict(threshold=3.0, two_sided=False, peaks=False, mindist=5)


def _init(inflater, keep_heap):
    from gpusiibra import _readers, backend
    from gpusiibra.io import nifti

    backend.set_backend("cpu")
    if inflater in ("zlib", "isal"):
        nifti._libdeflate = lambda: None
    if inflater == "zlib":
        nifti._isal = lambda: None
    if keep_heap:
        _readers._keep_heap()


def _task(paths, path_kind):
    """Read ``paths`` one way; returns (maps, minor page faults)."""
    from gpusiibra import _readers

    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    out = []
    for p in paths:
        if path_kind == "bytes":
            with open(p, "rb") as f:
                out.append(len(f.read()))
        elif path_kind == "nibabel":
            out.append(_readers._read_with_nibabel(p, READ_KW["threshold"], ("+",), False, 5))
        else:
            out.append(_readers.read_map(p, **READ_KW))
    return out, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0


def reader_row(files, readers, path_kind, inflater, keep_heap, per_task):
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(readers, mp_context=ctx, initializer=_init, initargs=(inflater, keep_heap)) as pool:
        list(pool.map(_task, [files[:2]] * readers, [path_kind] * readers))  # started, imported, warm
        groups = [files[i:i + per_task] for i in range(0, len(files), per_task)]
        t = time.perf_counter()
        results = [f.result() for f in [pool.submit(_task, g, path_kind) for g in groups]]
        dt = time.perf_counter() - t
    faults = sum(r[1] for r in results) / len(files)
    return len(files) / dt, faults


def batch_row(smap, files, readers, folder, name):
    from gpusiibra import batch

    out = os.path.join(folder, f"out-{name}.parquet")
    shutil.rmtree(out, ignore_errors=True)
    _, s = batch.assign_batch(smap, files, out, progress=False, readers=readers, chunk_size=32, **{
        k: READ_KW[k] for k in ("threshold",)})
    return s.maps / s.seconds, s.rows


def cli_one_map(folder):
    out = os.path.join(folder, "one.parquet")
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gpusiibra.cli", "assign", "example:motor", "--threshold", "3", "--out",
                    out, "--quiet", "--backend", "cpu"], check=True, capture_output=True)
    return time.perf_counter() - t


def main():
    import gpusiibra
    from gpusiibra.io.nifti import inflater
    from realistic import write_realistic_maps
    from synthetic import write_map

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="realistic maps")
    ap.add_argument("--synthetic", type=int, default=100, help="bench/synthetic.py maps")
    ap.add_argument("--readers", type=int, default=os.cpu_count())
    ap.add_argument("--dir", help="where to write the maps (default: a temporary folder)")
    ap.add_argument("--cpu-n", type=int, default=None, help="maps of each set for the CPU batch (default: all)")
    a = ap.parse_args()
    folder = a.dir or tempfile.mkdtemp(prefix="gpusiibra-readers-")
    real = write_realistic_maps(os.path.join(folder, "realistic"), a.n)
    os.makedirs(os.path.join(folder, "synthetic"), exist_ok=True)
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        synth = sorted(pool.map(write_map, [(i, os.path.join(folder, "synthetic", f"map{i:05d}.nii.gz"))
                                            for i in range(a.synthetic)]))
    mb = sum(os.path.getsize(f) for f in real) / len(real) / 1e6
    print(f"{len(real)} realistic maps ({mb:.2f} MB each on average), {len(synth)} synthetic maps; "
          f"{a.readers} readers; cores: {os.cpu_count()}; best inflater here: {inflater()}")
    rows = [
        ("bytes only", "bytes", "isal", False, 8),
        ("nibabel path, zlib (before)", "nibabel", "zlib", False, 1),
        ("nibabel path, ISA-L (readers before)", "nibabel", "isal", False, 1),
        ("raw path, ISA-L", "raw", "isal", False, 1),
        ("raw path, libdeflate", "raw", "libdeflate", False, 1),
        ("raw path, libdeflate, heap kept", "raw", "libdeflate", True, 1),
        ("raw path, libdeflate, heap kept, 8 files/task (readers now)", "raw", "libdeflate", True, 8),
    ]
    print(f"\n{'readers: ' + str(a.readers) + ' processes':62s} {'realistic':>10s} {'faults/map':>10s} "
          f"{'synthetic':>10s} {'faults/map':>10s}   (maps/s)")
    rates = {}
    for name, kind, inf, heap, per in rows:
        r1, f1 = reader_row(real, a.readers, kind, inf, heap, per)
        r2, f2 = reader_row(synth, a.readers, kind, inf, heap, per)
        rates[name] = (r1, r2)
        print(f"{name:62s} {r1:10.1f} {f1:10.0f} {r2:10.1f} {f2:10.0f}")
    smap = gpusiibra.get_map()
    now = rates[rows[-1][0]]
    print(f"\n{'batch end to end (assign_batch into a dataset)':62s} {'maps/s':>10s} {'% readers':>10s} "
          f"{'rows':>10s}")
    for b in ["cpu"] + (["gpu"] if gpusiibra.gpu_available() else []):
        gpusiibra.set_backend(b)
        for name, files, ref in (("realistic", real, now[0]), ("synthetic", synth, now[1])):
            files = files if b == "gpu" else files[: a.cpu_n]
            batch_row(smap, files[:8], a.readers, folder, "warm")  # kernels compiled, caches made
            rate, nrows = batch_row(smap, files, a.readers, folder, name)
            print(f"{b + ', ' + name + f' ({len(files)} maps)':62s} {rate:10.1f} {100 * rate / ref:9.0f}% {nrows:10d}")
    gpusiibra.set_backend("cpu")
    walls = sorted(cli_one_map(folder) for _ in range(3))
    print(f"\none map through the command line (example:motor, --threshold 3), wall: "
          f"{walls[1]:.2f} s (median of 3; min {walls[0]:.2f} s)")
    if not a.dir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
