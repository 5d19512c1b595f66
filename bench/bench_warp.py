"""Warp cost: realistic maps pulled through a TemplateFlow-sized composite transform, beside the engine without one.

The transform: an affine and a smooth displacement field (up to about 4 mm) on a 1 mm grid of 193 x 229 x 193
(the ICBM 2009c template's grid), written in ITK's HDF5 layout (205 MB), placed in a temporary
``$TEMPLATEFLOW_HOME`` under TemplateFlow's name and loaded through ``gpusiibra._templateflow`` (no network).

Rows
- load: the first load (the .h5 read and parsed, its parsed copy written) and the cached load (the .npz), each
  in a fresh process (import included), N runs.
- plan: the transform evaluated on the atlas grid once (per transform, source grid and target grid).
- maps: N realistic maps (bench/realistic.py, values below 3 set to 0, as ``--threshold 3``), in chunks of 16 maps
  of one grid, onto the embedded Julich-Brain 3.1 grid: the engine's resampling without a warp
  (``_engine.support_entries``), the sparse pull through the warp (``_warp.pull_sparse``, plan cached), and the
  whole engine without a warp (``_engine.assign_chunk``: resample, components, accumulation, statistics). The
  warp replaces the resampling, so the engine with a warp costs about ``engine - resample + pull``.

Usage: python bench/bench_warp.py [--n 64] [--repeat 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpusiibra  # noqa: E402
from gpusiibra import _engine, _templateflow as tf, _warp  # noqa: E402
from gpusiibra._itk import AffineStep, FieldStep, write_itk_h5  # noqa: E402
from gpusiibra._sparse_image import sparse_image  # noqa: E402
from realistic import realistic_map  # noqa: E402

TPL, FRM = "MNI152NLin2009cAsym", "MNI152NLin6Asym"


def make_transform(home):
    import scipy.ndimage as ndi

    rng = np.random.default_rng(0)
    aff = np.array([[1.0, 0, 0, -96], [0, 1, 0, -132], [0, 0, 1, -78], [0, 0, 0, 1]])
    coarse = np.stack([ndi.gaussian_filter(rng.normal(size=(97, 115, 97)), 4) for _ in range(3)], -1)
    vec = ndi.zoom(coarse, (2, 2, 2, 1), order=1)[:193, :229, :193]
    vec *= 4.0 / np.abs(vec).max()
    m = np.eye(4)
    m[:3, :3] += rng.normal(0, 0.01, (3, 3))
    m[:3, 3] = rng.normal(0, 1, 3)
    folder = os.path.join(home, f"tpl-{TPL}")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, tf.transform_file(TPL, FRM))
    write_itk_h5(path, [FieldStep(vec, aff), AffineStep(m)])
    return path


def _stats(xs):
    return f"{min(xs):8.3f} {statistics.median(xs):8.3f} {max(xs):8.3f}"


def load_times(home, cache, repeat):
    code = ("import time; t = time.perf_counter(); from gpusiibra import _templateflow as tf; "
            f"x = tf.load_transform({TPL!r}, {FRM!r}); print(time.perf_counter() - t)")
    env = dict(os.environ, TEMPLATEFLOW_HOME=home, GPUSIIBRA_CACHE=cache)
    first, cached = [], []
    for _ in range(repeat):
        for f in os.listdir(os.path.join(cache, "templateflow", f"tpl-{TPL}")) if os.path.isdir(
                os.path.join(cache, "templateflow", f"tpl-{TPL}")) else []:
            os.remove(os.path.join(cache, "templateflow", f"tpl-{TPL}", f))
        first.append(float(subprocess.check_output([sys.executable, "-c", code], env=env)))
        cached.append(float(subprocess.check_output([sys.executable, "-c", code], env=env)))
    return first, cached


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    gpusiibra.set_backend("cpu")
    atlas = gpusiibra.get_map("julich-3.1-top2")
    ix = atlas.sparse_index
    with tempfile.TemporaryDirectory() as tmp:
        home, cache = os.path.join(tmp, "tf"), os.path.join(tmp, "cache")
        path = make_transform(home)
        print(f"transform {os.path.getsize(path) / 1e6:.0f} MB; cpu cores {os.cpu_count()}; {a.repeat} runs "
              "(min median max, s)")
        first, cached = load_times(home, cache, a.repeat)
        print(f"load, first (parse + write .npz)  {_stats(first)}")
        print(f"load, cached (.npz)               {_stats(cached)}")
        os.environ.update(TEMPLATEFLOW_HOME=home, GPUSIIBRA_CACHE=cache)
        xfm = tf.load_transform(TPL, FRM)
    maps = {}
    for seed in range(a.n):
        d, aff, _ = realistic_map(seed)
        im = sparse_image(np.where(d > 3, d, 0).astype(np.float32), aff)
        maps.setdefault((d.shape, aff.tobytes()), []).append(im)
    groups = [g[i:i + a.chunk] for g in maps.values() for i in range(0, len(g), a.chunk)]
    plans = []
    for g in maps.values():
        t = time.perf_counter()
        plan = _warp.pull_plan(xfm, g[0].shape, g[0].affine, ix.shape, ix.affine, 1)
        plans.append(time.perf_counter() - t)
        print(f"plan {g[0].shape}: {plans[-1]:.2f} s, {plan.nbytes / 1e6:.0f} MB, {plan.target.size:,} target voxels")
    n = sum(len(g) for g in groups)
    rows = {"resample (no warp)": [], "pull through the warp": [], "engine (no warp)": []}
    for _ in range(a.repeat):
        for name, fn in (("resample (no warp)", lambda g: _engine.support_entries(g, ix.shape, ix.affine)),
                         ("pull through the warp",
                          lambda g: _warp.pull_sparse(g, list(range(len(g))), ix.shape, ix.affine, xfm)),
                         ("engine (no warp)", lambda g: _engine.assign_chunk(atlas, g))):
            t = time.perf_counter()
            for g in groups:
                fn(g)
            rows[name].append(time.perf_counter() - t)
    print(f"{n} realistic maps (t > 3; {', '.join(f'{len(g)} x {k[0]}' for k, g in maps.items())}), chunks of "
          f"{a.chunk}, onto {ix.shape}: seconds (min median max), ms/map (median)")
    for name, xs in rows.items():
        print(f"  {name:24s} {_stats(xs)}   {1000 * statistics.median(xs) / n:7.1f}")
    res, pull, eng = (statistics.median(xs) for xs in rows.values())
    with_warp = eng - res + pull
    print(f"  engine with the warp (estimate: engine - resample + pull) {1000 * with_warp / n:.1f} ms/map: "
          f"{100 * (1 - eng / with_warp):.0f}% of the engine's rate lost")


if __name__ == "__main__":
    main()
