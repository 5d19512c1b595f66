"""Atlas benchmark: build time and resident bytes vs siibra's SparseIndex, load time of each format.

Usage: python bench/bench_atlas.py [--no-siibra]
"""
import argparse
import os
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
import gpusiibra  # noqa: E402
from gpusiibra.io import siibra_v1  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-siibra", action="store_true")
    a = ap.parse_args()
    import nibabel as nib

    data = os.path.join(ROOT, "tests", "data")
    t_img = nib.load(os.path.join(ROOT, "gpusiibra", "data", "ICBM2009asym.nii.gz"))
    paqd = [os.path.join(data, f"JulichBrainAtlas31_p207{h}.nii.gz") for h in ("LH", "RH")]
    labels = os.path.join(data, "Julich.json")
    smap = gpusiibra.get_map()
    ix = smap.sparse_index
    rows = []
    tmp = tempfile.mkdtemp()
    native_path = os.path.join(ROOT, "gpusiibra", "data", "julich_brain_3_1_top2_8bit.npz")
    zip_path = smap.save_sparseindex(tmp, "julich")
    prefix = os.path.join(tmp, "prefix", "julich")
    siibra_v1.write_prefix(ix, prefix)
    dense = [ix.dense(r) for r in range(len(smap))]
    # build: gpusiibra from the dense maps (add_img) and from PAQD
    tracemalloc.start()
    t, built = timed(lambda: _build_ours(dense, ix.affine))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows.append(("build from 414 dense maps", "gpusiibra add_img", t, built.nbytes(), peak))
    t, _ = timed(lambda: gpusiibra.load_map(paqd, labels=labels, grid=(t_img.shape, t_img.affine)))
    rows.append(("build from PAQD files", "gpusiibra load_map", t, None, None))
    for name, path in (("native .npz", native_path), ("siibra v1 zip", zip_path), ("siibra v1 prefix", prefix)):
        t, _ = timed(lambda: gpusiibra.load_map(path, labels=smap.regions))
        rows.append((f"load {name}", "gpusiibra load_map", t, None, None))
    if not a.no_siibra:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        from oracle import SiibraSparseIndex

        tracemalloc.start()
        t, theirs = timed(lambda: _build_siibra(SiibraSparseIndex, dense, ix.affine))
        peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(("build from 414 dense maps", "siibra add_img", t, peak[0], peak[1]))
        t, _ = timed(lambda: SiibraSparseIndex.load(prefix))
        rows.append(("load siibra v1 prefix", "siibra SparseIndex.load", t, None, None))
    print(f"{'task':<28}{'engine':<26}{'seconds':>9}{'held MB':>10}{'peak MB':>10}")
    for task, eng, t, held, peak in rows:
        f = lambda v: f"{v / 1e6:>10.0f}" if v is not None else f"{'':>10}"
        print(f"{task:<28}{eng:<26}{t:>9.2f}{f(held)}{f(peak)}")


def _build_ours(dense, affine):
    ix = gpusiibra.SparseIndex()
    for m in dense:
        ix.add_img(m, affine)
    ix.nbytes()
    return ix


def _build_siibra(cls, dense, affine):
    ix = cls()
    for m in dense:
        ix.add_img(m, affine)
    return ix


if __name__ == "__main__":
    main()
