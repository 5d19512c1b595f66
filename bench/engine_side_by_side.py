"""The chunk engine alone, two checkouts side by side: CPU seconds of ``_engine.assign_chunk`` over realistic maps.

Each run is a fresh process per checkout (alternating old, new, new, old, ...) that reads N bench/realistic.py
maps (``--kind synthetic``: bench/synthetic.py's noise maps) once (as the readers hand them: thresholded at 3, sparse), assigns them once in chunks to warm the atlas's
caches, then times ``--passes`` further passes (``time.process_time``: the process's user + system CPU, both
cores' worth when NumPy uses them) and reports the best of them in ms per map. As the batch's engine process
does, the heap is kept (``_readers._keep_heap``) where the checkout's pipeline keeps it (``--keep-heap old,new``
says for which). The rows of the two checkouts are compared bit for bit.

Usage: python bench/engine_side_by_side.py OLD_TREE NEW_TREE [--n 60] [--chunk 60] [--runs 5] [--passes 3]
       [--keep-heap new] [--kind realistic|synthetic]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import glob, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
folder, chunk, passes, keep, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
from gpusiibra import get_map, _engine
from gpusiibra._readers import read_map, _keep_heap
if keep:
    _keep_heap()
imgs = [m.image for p in sorted(glob.glob(folder + "/*.nii.gz")) for m in read_map(p, 3.0, False)]
smap = get_map()
def run():
    return [_engine.assign_chunk(smap, imgs[i:i + chunk]) for i in range(0, len(imgs), chunk)]
res = run()
best = min((lambda t: (run(), time.process_time() - t)[1])(time.process_time()) for _ in range(passes))
cols = {f"{i}:{k}": np.asarray(v) for i, r in enumerate(res) for k, v in r.columns.items()}
cols.update({f"{i}:row_map": r.row_map for i, r in enumerate(res)})
np.savez(out, **cols)
print(best * 1000 / len(imgs))
"""


def _same(a, b):
    import numpy as np

    x, y = np.load(a), np.load(b)
    if sorted(x.files) != sorted(y.files):
        return "different columns"
    bad = [k for k in x.files if x[k].shape != y[k].shape or x[k].tobytes() != y[k].tobytes()]
    return "identical (bit for bit)" if not bad else f"differ: {', '.join(bad[:5])}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--chunk", type=int, default=60)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--keep-heap", default="new", help="comma-separated: which checkouts keep the heap (old,new)")
    ap.add_argument("--kind", choices=["realistic", "synthetic"], default="realistic")
    a = ap.parse_args()
    keep = set(a.keep_heap.split(",")) if a.keep_heap else set()
    work = tempfile.mkdtemp(prefix="gpusiibra-engine-sbs-")
    sys.path.insert(0, HERE)
    folder = os.path.join(work, "maps")
    if a.kind == "realistic":
        from realistic import write_realistic_maps

        write_realistic_maps(folder, a.n)
    else:
        from synthetic import write_map

        os.makedirs(folder)
        for seed in range(a.n):
            write_map((seed, os.path.join(folder, f"syn-{seed:04d}.nii.gz")))
    ms = {"old": [], "new": []}
    outs = {}
    for i in range(a.runs):
        for name in ("old", "new") if i % 2 == 0 else ("new", "old"):
            tree = getattr(a, name)
            out = os.path.join(work, f"{name}-{i}.npz")
            r = subprocess.run([sys.executable, "-c", CHILD, folder, str(a.chunk), str(a.passes),
                                "1" if name in keep else "0", out], env=dict(os.environ, PYTHONPATH=tree), cwd=work,
                               capture_output=True, text=True, check=True)
            ms[name].append(float(r.stdout.strip().splitlines()[-1]))
            outs.setdefault(name, out)
    print(f"engine only, {a.n} {a.kind} maps in chunks of {a.chunk}, best of {a.passes} passes a run, {a.runs} runs "
          f"each, alternating; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    for name in ("old", "new"):
        v = sorted(ms[name])
        print(f"{name}: CPU ms a map {v[0]:.2f} / {v[len(v) // 2]:.2f} / {v[-1]:.2f} (min / median / max)"
              f"   heap kept: {'yes' if name in keep else 'no'}")
    print("new vs old rows:", _same(outs["old"], outs["new"]))


if __name__ == "__main__":
    main()
