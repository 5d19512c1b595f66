"""siibra's features of 10 regions through gpusiibra.features: configuration load, first query, cached rows, siibra's
own time for the same queries, and the one-line failure without the network.

The configuration is the tests' local one (tests/siibra_config.py: a Julich-Brain 3.1 parcellation with 5 areas,
10 hemisphere regions, receptor fingerprints, cell densities, a 2-subject streamline-count matrix), its data
served from 127.0.0.1: siibra's real code path without the internet (this machine has none). Each run is a fresh
process (start-up included where said).

Usage: python bench/bench_features.py [--runs 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

KINDS = "receptors,cells,connectivity"

CHILD = r"""
import json, os, sys, time
t0 = time.perf_counter()
from gpusiibra import features, _siibra_features as sf
import siibra_config as sc
mode = sys.argv[1]
out = {}
if mode in ("first", "siibra"):
    t = time.perf_counter()
    sb = sf.siibra()
    parc = sb.get_parcellation(sc.PARCELLATION_ID)
    regions = [sf.siibra_region(sb, sc.PARCELLATION_ID, r) for r in sc.LEAVES]
    out["configuration"] = time.perf_counter() - t
t = time.perf_counter()
if mode == "siibra":   # siibra's own calls for the same queries (its cache holds the files)
    for r in regions:
        for ftype in ("ReceptorDensityFingerprint", "LayerwiseCellDensity", "StreamlineCounts"):
            for f in sb.features.get(r, ftype):
                _ = f._get_merged_feature().get_profile(r).data if ftype == "StreamlineCounts" else f.data
else:
    df = features.region_features(sc.LEAVES, kinds=sys.argv[2], use_cache=mode != "first")
    out["rows"] = len(df)
out["queries"] = time.perf_counter() - t
out["process"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def child(mode, env):
    p = subprocess.run([sys.executable, "-c", CHILD, mode, KINDS], capture_output=True, text=True, env=env,
                       cwd=os.path.join(ROOT, "tests"))
    if p.returncode:
        raise SystemExit(p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def summary(values):
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from atlas_server import AtlasServer
    import siibra_config as sc

    server = AtlasServer()
    tmp = tempfile.mkdtemp(prefix="bench-features-")
    conf = sc.write_configuration(os.path.join(tmp, "conf"), server)
    base = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.path.join(ROOT, "tests"), SIIBRA_LOG_LEVEL="ERROR",
                GPUSIIBRA_SIIBRA_CONFIGURATION=conf, GPUSIIBRA_BACKEND="cpu")
    rows = {"configuration load (siibra import + parcellation + 10 regions)": [],
            "first query, 10 regions x 3 kinds (siibra downloads)": [],
            "once cached: 10 regions x 3 kinds, whole process": [],
            "once cached: the queries alone": [],
            "siibra's own calls, same queries (its cache warm)": [], "siibra's configuration load": []}
    for i in range(args.runs):
        env = dict(base, SIIBRA_CACHEDIR=os.path.join(tmp, f"siibra-{i}"), GPUSIIBRA_CACHE=os.path.join(tmp, f"g-{i}"))
        first = child("first", env)
        cached = child("cached", env)
        own = child("siibra", env)
        rows["configuration load (siibra import + parcellation + 10 regions)"].append(first["configuration"])
        rows["first query, 10 regions x 3 kinds (siibra downloads)"].append(first["queries"])
        rows["once cached: 10 regions x 3 kinds, whole process"].append(cached["process"])
        rows["once cached: the queries alone"].append(cached["queries"])
        rows["siibra's own calls, same queries (its cache warm)"].append(own["queries"])
        rows["siibra's configuration load"].append(own["configuration"])
    print(f"{args.runs} runs each, min / median / max; {first['rows']} rows")
    for k, v in rows.items():
        print(f"  {k:<66} {summary(v)}")
    # without the network: siibra's default configuration not in its cache (this machine resolves no name)
    env = dict(base, SIIBRA_CACHEDIR=os.path.join(tmp, "empty"), GPUSIIBRA_CACHE=os.path.join(tmp, "g-off"))
    env.pop("GPUSIIBRA_SIIBRA_CONFIGURATION")
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "gpusiibra.cli", "features", "Area 4a (PreCG) left", "--atlas",
                            "julich-3.1", "--quiet"], capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t)
    print(f"  {'no network, default configuration: the one-line error (process)':<66} {summary(times)}"
          f"  rc={p.returncode}, {len(p.stderr.splitlines())} line")
    server.stop()


if __name__ == "__main__":
    main()
