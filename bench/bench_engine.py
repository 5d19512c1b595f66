"""Assignment engine benchmark: siibra, gpusiibra CPU and gpusiibra GPU side by side, in one run.

Cases
- motor: the bundled SPM motor t-map, values below 3 set to 0, against the
  embedded Julich-Brain 3.1 top-2 atlas (414 regions); per backend the median
  of repeated runs and a breakdown (resample, label + component sums,
  accumulate, table).
- batch: N synthetic realistic maps (bench/synthetic.py, in memory, values
  below 3 set to 0), assigned in chunks; maps/s and device time per map; the
  accumulation kernel's time, the bytes it must move and the fraction of the
  device's memory bandwidth it reaches.

Usage: python bench/bench_engine.py [--siibra] [--backends cpu,gpu] [--n-batch 1000] [--json out.json]
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
from gpusiibra import assign as A  # noqa: E402
from gpusiibra import backend, kernels  # noqa: E402
from gpusiibra.resample import resample_to_grid  # noqa: E402


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


def breakdown(smap, d, aff, repeat):
    ix = smap.sparse_index
    t_res, res = timed(lambda: resample_to_grid(d, aff, ix.shape, ix.affine), repeat)
    t_lab, comps = timed(lambda: A.image_components(res, ix.shape, ix.affine), repeat)
    t_acc, pairs = timed(lambda: kernels.accumulate(ix, comps.voxel_lin, comps.comp, comps.x, len(comps)), repeat)
    t_tab, _ = timed(lambda: A.make_table(A.assign_image_data(smap, d, aff), smap.regions), 1)
    return dict(resample=t_res, label=t_lab, accumulate=t_acc)


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


def bandwidth_floor(ix, comps_lin, n_comp):
    """Bytes the accumulation must move: per voxel its inputs, its row lookup and entries; the outputs."""
    a = ix.device_arrays()
    vox = backend.to_host(a["voxels"]).ravel()[backend.to_host(comps_lin)]
    rows = vox[vox >= 0]
    rp = ix.row_ptr
    n_entries = int((rp[rows + 1] - rp[rows]).sum())
    n = len(vox)
    return n * (8 + 8 + 4) + len(rows) * 16 + n_entries * 8 + n_comp * ix.num_volumes * 12


def run_batch(smap, maps, chunk):
    t0 = time.perf_counter()
    rows = 0
    for i in range(0, len(maps), chunk):
        out = A.assign_many(smap, maps[i:i + chunk])
        rows += sum(len(o["volume"]) for o in out)
    sync()
    return time.perf_counter() - t0, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--siibra", action="store_true", help="also time siibra itself on the motor case (minutes)")
    ap.add_argument("--backends", default="cpu,gpu")
    ap.add_argument("--n-batch", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=64, help="maps per accumulation launch")
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
    results = dict(info=info, motor={}, batch={})

    print("\n== motor t-map (values < 3 set to 0) vs 414 regions ==")
    print(f"{'engine':<16}{'per map (s)':>14}{'resample':>11}{'label':>11}{'accumulate':>12}{'rows':>7}")
    if args.siibra:
        t, t_build, nrows = siibra_motor(d, aff)
        results["motor"]["siibra"] = dict(seconds=t, index_build=t_build, rows=nrows)
        print(f"{'siibra':<16}{t:>14.3f}{'':>11}{'':>11}{'':>12}{nrows:>7}")
    for b in backends:
        gpusiibra.set_backend(b)
        smap.assign(gpusiibra.volumes.from_array(d, aff))  # warm-up (kernel compile, device copies)
        t, df = timed(lambda: smap.assign(gpusiibra.volumes.from_array(d, aff)), args.repeat)
        br = breakdown(smap, d, aff, args.repeat)
        results["motor"][b] = dict(seconds=t, rows=len(df), **br)
        print(f"{'gpusiibra ' + b:<16}{t:>14.4f}{br['resample']:>11.4f}{br['label']:>11.4f}{br['accumulate']:>12.4f}{len(df):>7}")
    if "siibra" in results["motor"]:
        for b in backends:
            print(f"speed-up of {b} over siibra: {results['motor']['siibra']['seconds'] / results['motor'][b]['seconds']:.0f}x")

    if args.n_batch:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from synthetic import AFFINE, many_maps

        maps = [(m, AFFINE) for m in many_maps(args.n_batch)]
        print(f"\n== batch of {len(maps)} synthetic maps (2 mm MNI, t > 3), chunks of {args.chunk} ==")
        print(f"{'engine':<16}{'seconds':>10}{'maps/s':>10}{'ms/map':>10}{'rows':>9}")
        for b in backends:
            gpusiibra.set_backend(b)
            n = len(maps) if b == "gpu" else min(len(maps), 100)
            run_batch(smap, maps[: args.chunk], args.chunk)  # warm-up
            t, rows = run_batch(smap, maps[:n], args.chunk)
            results["batch"][b] = dict(maps=n, seconds=t, maps_per_s=n / t, ms_per_map=1000 * t / n, rows=rows)
            print(f"{'gpusiibra ' + b:<16}{t:>10.2f}{n / t:>10.1f}{1000 * t / n:>10.3f}{rows:>9}")
        if "gpu" in backends:
            import cupy

            gpusiibra.set_backend("gpu")
            ix = smap.sparse_index
            per = [A.image_components(resample_to_grid(m, a, ix.shape, ix.affine), ix.shape, ix.affine)
                   for m, a in maps[: args.chunk]]
            sizes = np.array([len(c) for c in per])
            first = np.r_[0, np.cumsum(sizes)[:-1]]
            lin = cupy.concatenate([c.voxel_lin for c in per])
            comp = cupy.concatenate([c.comp + int(f) for c, f in zip(per, first)])
            x = cupy.concatenate([c.x for c in per])
            K = int(sizes.sum())
            kernels.accumulate(ix, lin, comp, x, K)
            ev0, ev1 = cupy.cuda.Event(), cupy.cuda.Event()
            reps = 20
            ev0.record()
            for _ in range(reps):
                kernels.accumulate(ix, lin, comp, x, K)
            ev1.record()
            ev1.synchronize()
            t_k = cupy.cuda.get_elapsed_time(ev0, ev1) / 1000 / reps
            nbytes = bandwidth_floor(ix, lin, K)
            peak = 3.35e12 if "H100" in info.get("gpu", "") else (4.8e12 if "H200" in info.get("gpu", "") else None)
            results["kernel"] = dict(maps=args.chunk, voxels=int(lin.size), components=K, seconds=t_k, bytes=nbytes,
                                     achieved_GBps=nbytes / t_k / 1e9, peak_GBps=peak / 1e9 if peak else None)
            print(f"\n== accumulation kernel, {args.chunk} maps, {int(lin.size):,} component voxels, {K} components ==")
            print(f"time {t_k * 1e3:.3f} ms (incl. output zeroing and pair extraction); bytes {nbytes / 1e6:.1f} MB; "
                  f"{nbytes / t_k / 1e9:.0f} GB/s" + (f" = {nbytes / t_k / peak:.1%} of {peak / 1e12:.2f} TB/s; "
                                                       f"{t_k / (nbytes / peak):.1f}x the bandwidth floor" if peak else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
