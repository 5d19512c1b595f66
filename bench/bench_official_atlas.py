"""Official atlas benchmark: first fetch and cached load of `julich-3.1`, against siibra's first and second
`get_map(...).sparse_index` (its SparseIndex.load from the data proxy, then from its own cache).

Offline: the sparse index is served by a web server on 127.0.0.1 (the tests' server, through
GPUSIIBRA_ATLAS_MIRROR), made from the test atlas in the catalog's volume order. `--full` blurs every
region's map first (Gaussian, sigma 2 voxels) so that the index has about as many values per voxel as the
real statistical maps (the top-2 test atlas has at most two).

Usage: python bench/bench_official_atlas.py [--full] [--no-siibra]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import gpusiibra  # noqa: E402
from atlas_server import AtlasServer, julich_in_catalog_order, v1_bytes  # noqa: E402
from gpusiibra import atlases, maps  # noqa: E402
from gpusiibra.io import siibra_v1  # noqa: E402


def blurred(index, sigma=2.0):
    """Each region's map blurred (scipy's gaussian_filter inside its box grown by 3 sigma), values in (0, 1]."""
    from scipy.ndimage import gaussian_filter

    regions, voxels, values = [], [], []
    pad = int(3 * sigma) + 1
    shape = np.array(index.shape)
    for r in range(index.num_volumes):
        dense = index.dense(r)
        nz = np.argwhere(dense > 0)
        lo = np.maximum(nz.min(0) - pad, 0)
        hi = np.minimum(nz.max(0) + pad + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        sm = gaussian_filter(dense[box], sigma)
        sm = np.where(sm >= 1e-3, np.minimum(sm / max(sm.max(), 1e-12), 1.0), 0).astype(np.float32)
        full = np.zeros(index.shape, np.float32)
        full[box] = sm
        lin = np.flatnonzero(full)
        regions.append(np.full(len(lin), r))
        voxels.append(lin)
        values.append(full.ravel()[lin])
    return gpusiibra.SparseIndex.from_entries(index.shape, index.affine, np.concatenate(regions),
                                              np.concatenate(voxels), np.concatenate(values), index.num_volumes)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="blur the regions to a realistic number of values")
    ap.add_argument("--no-siibra", action="store_true")
    a = ap.parse_args()
    entry, index, raw = julich_in_catalog_order()
    if a.full:
        index = blurred(index)
        raw = v1_bytes(index)
    mb = sum(len(b) for b in raw.values()) / 1e6
    server = AtlasServer()
    for part, url in entry.sparse_index_urls().items():
        server.put(url, raw[part])
    tmp = tempfile.mkdtemp()
    os.environ[atlases.MIRROR_ENV] = server.url
    os.environ["SIIBRA_CACHEDIR"] = os.path.join(tmp, "siibra-cache")
    os.makedirs(os.environ["SIIBRA_CACHEDIR"])
    cache = os.path.join(tmp, "cache")
    rows = []
    t, _ = timed(lambda: gpusiibra.get_map("julich-3.1", cache=cache, progress=False))
    rows.append(("first use: download, parse, convert", "gpusiibra get_map", t))
    maps._load_official.cache_clear()
    t, smap = timed(lambda: gpusiibra.get_map("julich-3.1", cache=cache))
    rows.append(("cached: load in a running process", "gpusiibra get_map", t))
    code = ("import time; t = time.perf_counter(); import gpusiibra; "
            f"m = gpusiibra.get_map('julich-3.1', cache={cache!r}); print(time.perf_counter() - t)")
    env = dict(os.environ, PYTHONPATH=ROOT)
    t_proc = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                  check=True).stdout.strip())
    rows.append(("cached: import + load, new process", "gpusiibra get_map", t_proc))
    if not a.no_siibra:
        from oracle import SiibraSparseIndex

        url = atlases.mirrored(entry.sparse_index)
        t, theirs = timed(lambda: SiibraSparseIndex.load(url))
        rows.append(("first use: download (loopback), parse", "siibra SparseIndex.load", t))
        assert len(theirs.probs) == index.n_rows
        prefix = os.path.join(tmp, "siibra-prefix", "julich")
        siibra_v1.write_prefix(index, prefix)  # siibra's own cache files, as our writer makes them
        t, _ = timed(lambda: SiibraSparseIndex.load(prefix))
        rows.append(("cached: load its cache files", "siibra SparseIndex.load", t))
    import tracemalloc

    tracemalloc.start()
    t, _ = timed(lambda: siibra_v1.decode(raw["voxels"], raw["probs"], raw["bboxes"], "bench", len(entry.regions)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append((f"parse + build only (peak {peak / 1e6:.0f} MB)", "gpusiibra siibra_v1.decode", t))
    server.stop()
    size = os.path.getsize(atlases.cached_file("julich-3.1", cache)) / 1e6
    print(f"julich-3.1 served from 127.0.0.1: {index.n_entries:,} values over {index.n_rows:,} voxels, "
          f"{len(smap)} regions; v1 files {mb:.1f} MB, cached .npz {size:.1f} MB")
    print(f"{'step':<40}{'engine':<26}{'seconds':>9}")
    for step, eng, t in rows:
        print(f"{step:<40}{eng:<26}{t:>9.2f}")


if __name__ == "__main__":
    main()
