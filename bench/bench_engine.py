"""Assignment engine benchmark: siibra, gpusiibra CPU and gpusiibra GPU side by side, in one run.

Cases
- motor: the bundled SPM motor t-map, values below 3 set to 0, against the
  embedded Julich-Brain 3.1 top-2 atlas (414 regions); per backend the median
  of repeated runs and a breakdown (resample, label + component sums,
  accumulate + statistics).
- batch: N synthetic realistic maps (bench/synthetic.py, 2 mm MNI, values below
  3 set to 0) in memory, handed to the chunk engine as readers hand them (their
  nonzero voxels), in chunks; maps/s. With --cpu-procs P the CPU backend also
  runs on P processes (the node's cores), each with its own atlas.
- kernel (GPU): the accumulation kernel's time on one chunk, the bytes it must
  move and the fraction of the device's memory bandwidth it reaches.

Usage: python bench/bench_engine.py [--siibra] [--backends cpu,gpu] [--n-batch 1000] [--chunk 256]
                                    [--cpu-procs 16] [--json out.json]
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpusiibra  # noqa: E402
from gpusiibra import _engine, _kernels as kernels, backend  # noqa: E402
from gpusiibra._sparse_image import sparse_image  # noqa: E402


def motor_map(threshold=3.0):
    import nibabel as nib

    img = nib.load(os.path.join(os.path.dirname(gpusiibra.__file__), "data", "spmMotor.nii.gz"))
    d = np.asarray(img.get_fdata(), dtype=np.float32)
    d[d < threshold] = 0
    return d, img.affine


def sync():
    if backend.get_backend() == "gpu":
        import cupy

        cupy.cuda.Stream.null.synchronize()


def timed(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        sync()
        t = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def breakdown(smap, img, repeat):
    """Seconds of the engine's steps on one map: resample, label + component sums, accumulate + statistics."""
    ix = smap.sparse_index
    t_res, (key, x) = timed(lambda: _engine.support_entries([img], ix.shape, ix.affine), repeat)
    keep = x > 0
    key, x = key[keep], x[keep]
    t_lab, (comps, comp, xs) = timed(lambda: _engine.components(key, x, ix.shape, ix.affine), repeat)
    t_all, _ = timed(lambda: _engine.assign_chunk(smap, [img]), repeat)
    return dict(resample=t_res, label=t_lab, accumulate=max(t_all - t_res - t_lab, 0.0))


def siibra_motor(d, aff):
    """siibra's own SparseMap._assign_volume on the same atlas and map (tests/oracle.py stand-in space)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
    from oracle import OracleMap

    t = time.perf_counter()
    om = OracleMap.from_sparsemap(gpusiibra.get_map())
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    rows = om.assign_image(d, aff)
    return time.perf_counter() - t, t_build, len(rows)


def run_batch(smap, images, chunk):
    t0 = time.perf_counter()
    rows = 0
    for i in range(0, len(images), chunk):
        rows += len(_engine.assign_chunk(smap, images[i:i + chunk]).row_map)
    sync()
    return time.perf_counter() - t0, rows


def _cpu_worker(args):
    images, chunk = args  # the parent's sparse maps (small to send; remaking them took minutes on 16 workers)
    gpusiibra.set_backend("cpu")
    smap = gpusiibra.get_map()
    run_batch(smap, images[:chunk], chunk)  # warm-up
    t, rows = run_batch(smap, images, chunk)
    return len(images), t, rows


def cpu_processes(images, procs, chunk):
    """The CPU backend on ``procs`` processes, each assigning its share of the maps: (maps, wall seconds, rows).
    Wall time = the slowest process's assignment time (maps sent and atlas loaded before each clock starts)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    shares = [images[p::procs] for p in range(procs)]
    with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("spawn")) as pool:
        out = list(pool.map(_cpu_worker, [(s, chunk) for s in shares]))
    return sum(o[0] for o in out), max(o[1] for o in out), sum(o[2] for o in out)


def bandwidth_floor(ix, lin, n_comp):
    """Bytes the accumulation must move: per voxel its inputs, its row lookup and entries; the outputs."""
    vox = ix.voxels.ravel()[backend.to_host(lin)]
    rows = vox[vox >= 0]
    rp = ix.row_ptr
    n_entries = int((rp[rows + 1] - rp[rows]).sum())
    return len(vox) * (8 + 8 + 4) + len(rows) * 16 + n_entries * 8 + n_comp * ix.num_volumes * 12


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--siibra", action="store_true", help="also time siibra itself on the motor case (minutes)")
    ap.add_argument("--backends", default="cpu,gpu")
    ap.add_argument("--n-batch", type=int, default=1000)
    ap.add_argument("--cpu-n", type=int, default=300, help="maps for the one-process CPU batch (its rate is flat)")
    ap.add_argument("--chunk", type=int, default=256, help="maps per engine pass")
    ap.add_argument("--cpu-procs", type=int, default=0, help="also run the CPU backend on this many processes")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    backends = [b for b in args.backends.split(",") if b != "gpu" or gpusiibra.gpu_available()]
    info = dict(machine=platform.node(), cpu=platform.processor() or platform.machine(), cores=os.cpu_count())
    if gpusiibra.gpu_available():
        import cupy

        info["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print("machine:", info)
    smap = gpusiibra.get_map()
    d, aff = motor_map()
    img = sparse_image(d, aff)
    results = dict(info=info, motor={}, batch={})

    print("\n== motor t-map (values < 3 set to 0) vs 414 regions ==")
    print(f"{'engine':<16}{'per map (s)':>14}{'resample':>11}{'label':>11}{'accumulate':>12}{'rows':>7}")
    if args.siibra:
        t, t_build, nrows = siibra_motor(d, aff)
        results["motor"]["siibra"] = dict(seconds=t, index_build=t_build, rows=nrows)
        print(f"{'siibra':<16}{t:>14.3f}{'':>11}{'':>11}{'':>12}{nrows:>7}")
    for b in backends:
        gpusiibra.set_backend(b)
        vol = gpusiibra.volumes.from_array(d, aff)
        smap.assign(vol)  # warm-up (kernel compile, device copies)
        t, df = timed(lambda: smap.assign(vol), args.repeat)
        br = breakdown(smap, img, args.repeat)
        results["motor"][b] = dict(seconds=t, rows=len(df), **br)
        print(f"{'gpusiibra ' + b:<16}{t:>14.4f}{br['resample']:>11.4f}{br['label']:>11.4f}{br['accumulate']:>12.4f}"
              f"{len(df):>7}")
    if "siibra" in results["motor"]:
        for b in backends:
            print(f"speed-up of {b} over siibra: {results['motor']['siibra']['seconds'] / results['motor'][b]['seconds']:.0f}x")

    if args.n_batch:
        from synthetic import AFFINE, many_maps

        t = time.perf_counter()
        dense = many_maps(args.n_batch)
        t_make = time.perf_counter() - t
        t = time.perf_counter()
        images = [sparse_image(m, AFFINE) for m in dense]
        t_sparse = time.perf_counter() - t
        nnz = np.mean([im.nnz for im in images])
        print(f"\n== batch of {len(images)} synthetic maps (2 mm MNI, t > 3, {nnz:.0f} nonzero voxels per map), "
              f"chunks of {args.chunk}, in memory as readers hand them ==")
        print(f"(making them sparse, done by the readers: {1000 * t_sparse / len(images):.2f} ms per map on one core; "
              f"made in {t_make:.1f} s)")
        print(f"{'engine':<22}{'maps':>7}{'seconds':>10}{'maps/s':>10}{'ms/map':>10}{'rows':>9}")
        for b in backends:
            gpusiibra.set_backend(b)
            n = len(images) if b == "gpu" else min(len(images), args.cpu_n)
            run_batch(smap, images[: min(args.chunk, n)], args.chunk)  # warm-up
            t, rows = run_batch(smap, images[:n], args.chunk)
            results["batch"][b] = dict(maps=n, seconds=t, maps_per_s=n / t, ms_per_map=1000 * t / n, rows=rows)
            print(f"{'gpusiibra ' + b:<22}{n:>7}{t:>10.2f}{n / t:>10.1f}{1000 * t / n:>10.3f}{rows:>9}")
        if args.cpu_procs:
            gpusiibra.set_backend("cpu")
            n, t, rows = cpu_processes(images, args.cpu_procs, min(args.chunk, 64))
            name = f"gpusiibra cpu x{args.cpu_procs}"
            results["batch"][f"cpu x{args.cpu_procs}"] = dict(maps=n, seconds=t, maps_per_s=n / t, rows=rows)
            print(f"{name:<22}{n:>7}{t:>10.2f}{n / t:>10.1f}{1000 * t / n:>10.3f}{rows:>9}")
            if "gpu" in results["batch"]:
                ratio = results["batch"]["gpu"]["maps_per_s"] / (n / t)
                print(f"gpu over cpu x{args.cpu_procs} (same maps, same run): {ratio:.1f}x")
        if "gpu" in backends:
            kernel_bench(smap, images[: args.chunk], info, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def kernel_bench(smap, images, info, results):
    import cupy

    gpusiibra.set_backend("gpu")
    ix = smap.sparse_index
    G = int(np.prod(ix.shape))
    key, x = _engine.support_entries(images, ix.shape, ix.affine)
    keep = x > 0
    key, x = key[keep], x[keep]
    comps, comp, xs = _engine.components(key, x, ix.shape, ix.affine)
    lin = key % G
    K = len(comps)
    kernels.accumulate(ix, lin, comp, xs, K)
    ev0, ev1 = cupy.cuda.Event(), cupy.cuda.Event()
    reps = 20
    ev0.record()
    for _ in range(reps):
        kernels.accumulate(ix, lin, comp, xs, K)
    ev1.record()
    ev1.synchronize()
    t_k = cupy.cuda.get_elapsed_time(ev0, ev1) / 1000 / reps
    nbytes = bandwidth_floor(ix, lin, K)
    peak = 3.35e12 if "H100" in info.get("gpu", "") else (4.8e12 if "H200" in info.get("gpu", "") else None)
    results["kernel"] = dict(maps=len(images), voxels=int(lin.size), components=K, seconds=t_k, bytes=nbytes)
    print(f"\n== accumulation, {len(images)} maps, {int(lin.size):,} component voxels, {K} components ==")
    print(f"time {t_k * 1e3:.3f} ms (with grouping, output zeroing and pair extraction); bytes {nbytes / 1e6:.1f} MB; "
          f"{nbytes / t_k / 1e9:.0f} GB/s" + (f" = {nbytes / t_k / peak:.1%} of {peak / 1e12:.2f} TB/s; "
                                               f"{t_k / (nbytes / peak):.1f}x the bandwidth floor" if peak else ""))


if __name__ == "__main__":
    main()
