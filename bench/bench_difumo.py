"""DiFuMo 1024 in bounded memory: peak RSS and time of fetching `difumo-1024` (nilearn's download served from
127.0.0.1: the zip, unpacked, read by nilearn's fetcher, the 4D NIfTI read a volume at a time into the sparse
index, checked, cached) and of assigning a realistic map (`example:motor`) against it, each in a fresh process.

The file is synthetic (bench/make_difumo_like.py: DiFuMo 1024's size and grid, 5.4 GB dense); the real one
could not be downloaded here. `--dense` also fetches once through the dense read (the raw reader switched off:
nibabel's whole 4D array, the path before the streaming reader) for comparison.

Usage: python bench/bench_difumo.py [--data DIR] [--runs 5] [--dense]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD_FETCH = r"""
import json, os, resource, sys, time
t0 = time.perf_counter()
from gpusiibra import atlases
if sys.argv[2] == "dense":
    from gpusiibra.io import nifti
    nifti.iter_volumes = lambda *a, **k: None
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
path = atlases.fetch("difumo-1024", sys.argv[1], progress=False)
t2 = time.perf_counter()
from gpusiibra.io import native
print(json.dumps({"seconds": t2 - t1, "import_s": t1 - t0, "rss_import_mb": rss0 / 1024,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "npz_mb": os.path.getsize(path) / 1e6}))
"""

CHILD_ASSIGN = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import gpusiibra
t1 = time.perf_counter()
atlas = gpusiibra.get_map("difumo-1024", cache=sys.argv[1])
t2 = time.perf_counter()
df = atlas.assign("example:motor")
t3 = time.perf_counter()
print(json.dumps({"load_s": t2 - t1, "assign_s": t3 - t2, "rows": len(df), "entries": atlas.sparse_index.n_entries,
                  "top": str(df.sort_values("correlation", ascending=False)["region"].iloc[0]) if len(df) else "",
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data, n=1024):
    """nilearn's two URLs (https://osf.io/34792/download, https://osf.io/4k9bf/download) as files under a folder
    served by `python -m http.server` in its own process (not counted in the fetching process's memory)."""
    sys.path.insert(0, ROOT)
    from gpusiibra import atlases

    entry = atlases.get_entry(f"difumo-{n}")
    (_, zurl, _), (_, rurl) = entry.source["files"]
    root = tempfile.mkdtemp(prefix="difumo-srv-")
    for url, src in ((zurl, os.path.join(data, f"difumo_{n}.zip")), (rurl, None)):
        path = os.path.join(root, url.split("://", 1)[1].split("/", 1)[1])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if src:
            os.symlink(src, path)
        else:
            with open(path, "w") as f:
                f.write("# DiFuMo (synthetic stand-in)\n")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", root],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return proc, f"http://127.0.0.1:{port}", root


def child(code, *args, env):
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(values, fmt="{:.2f}"):
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "difumo-like"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dense", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.data, "difumo_1024.zip")):
        sys.path.insert(0, HERE)
        import make_difumo_like

        print("making the synthetic file (once):", make_difumo_like.write(a.data)[0])
        make_difumo_like.zip_it(a.data)
    proc, url, srv = serve(a.data)
    env = dict(os.environ, GPUSIIBRA_ATLAS_MIRROR=url, PYTHONPATH=ROOT)
    caches = []
    try:
        fetches, assigns = [], []
        for k in range(a.runs):
            cache = tempfile.mkdtemp(prefix="difumo-cache-", dir=os.path.dirname(os.path.abspath(a.data)))
            caches.append(cache)
            fetches.append(child(CHILD_FETCH, cache, "streamed", env=env))
            print(f"fetch run {k + 1}: {fetches[-1]['seconds']:.1f} s, peak RSS {fetches[-1]['rss_mb']:.0f} MB",
                  flush=True)
            if k:  # one cache is enough for the assignments
                shutil.rmtree(cache, ignore_errors=True)
        for k in range(a.runs):
            assigns.append(child(CHILD_ASSIGN, caches[0], env=env))
            print(f"assign run {k + 1}: load {assigns[-1]['load_s']:.2f} s, assign {assigns[-1]['assign_s']:.2f} s, "
                  f"peak RSS {assigns[-1]['rss_mb']:.0f} MB", flush=True)
        dense = None
        if a.dense:
            cache = tempfile.mkdtemp(prefix="difumo-cache-", dir=os.path.dirname(os.path.abspath(a.data)))
            caches.append(cache)
            dense = child(CHILD_FETCH, cache, "dense", env=env)
            print(f"dense fetch: {dense['seconds']:.1f} s, peak RSS {dense['rss_mb']:.0f} MB", flush=True)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(srv, ignore_errors=True)
        for c in caches:
            shutil.rmtree(c, ignore_errors=True)
    zmb = os.path.getsize(os.path.join(a.data, "difumo_1024.zip")) / 1e6
    print(f"\n== difumo-1024 (synthetic, 1024 x 104 x 123 x 104 float32 = 5.45 GB dense; zip {zmb:.0f} MB; "
          f"{assigns[0]['entries']:,} nonzero values) ==")
    print(f"{'step':44s} {'runs':>4s}  {'seconds min / median / max':>28s}  peak RSS MB (each run)")
    print(f"{'python + gpusiibra imported (fetch process)':44s} {len(fetches):4d}  {'':>28s}  "
          + ", ".join(f"{f['rss_import_mb']:.0f}" for f in fetches))
    print(f"{'fetch: download, unzip, read, index, cache':44s} {len(fetches):4d}  "
          f"{summary([f['seconds'] for f in fetches]):>28s}  " + ", ".join(f"{f['rss_mb']:.0f}" for f in fetches))
    print(f"{'get_map (cached .npz)':44s} {len(assigns):4d}  {summary([x['load_s'] for x in assigns]):>28s}")
    print(f"{'assign example:motor (after get_map)':44s} {len(assigns):4d}  "
          f"{summary([x['assign_s'] for x in assigns]):>28s}  " + ", ".join(f"{x['rss_mb']:.0f}" for x in assigns))
    if dense:
        print(f"{'fetch through the dense read (before)':44s} {1:4d}  {dense['seconds']:>28.2f}  "
              f"{dense['rss_mb']:.0f}")
    print(f"rows of the motor map's table: {assigns[0]['rows']}; cached index {fetches[0]['npz_mb']:.0f} MB; "
          f"best region by correlation: {assigns[0]['top']}")


if __name__ == "__main__":
    main()
