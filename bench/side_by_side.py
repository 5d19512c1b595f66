"""Two checkouts side by side, whole processes, alternating: wall and CPU seconds (user + sys) and peak RSS (the
process's own, reader processes not included), min/median/max.

Cases (each run in a fresh process with PYTHONPATH set to the checkout, after one untimed run of each):
  cli     ``gpusiibra assign example:motor --threshold 3 --out X.parquet`` (one map through the command line)
  points  ``label_points_batch`` of a table of N in-brain points, sigma 5 mm (what ``gpusiibra points T --out X``
          runs), the table written once by bench/bench_points.py's ``write_table``
  maps    ``assign_batch`` of N bench/realistic.py maps (``--kind synthetic``: bench/synthetic.py's) (written once)
          into a dataset
Each run's output dataset is compared with the first checkout's (``pandas.read_parquet``, every column; numbers
within ``--tol``, 0 = equal): a difference is reported, not hidden.

Usage: python bench/side_by_side.py OLD_TREE NEW_TREE [--case cli|points|maps] [--n N] [--runs 5] [--tol 0]
       [--kind realistic|synthetic]
(OLD_TREE: e.g. ``git worktree add /tmp/base 7cbf5da``.)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

POINTS = """
import sys, warnings
warnings.simplefilter("ignore")
from gpusiibra.tables import label_points_batch
label_points_batch(sys.argv[1], sys.argv[2], progress=False)
"""
MAPS = """
import sys, glob, warnings
warnings.simplefilter("ignore")
from gpusiibra import get_map
from gpusiibra.batch import assign_batch
assign_batch(get_map(), sorted(glob.glob(sys.argv[1] + "/*.nii.gz")), sys.argv[2], threshold=3.0, progress=False)
"""


def _env(tree):
    """The checkout first on the path, its bytecode written and reused as an installed package's is (pip compiles
    it at install time: with PYTHONDONTWRITEBYTECODE set, as on these machines, every run would compile the
    package's sources again, about 0.1 s of a one-map command)."""
    env = dict(os.environ, PYTHONPATH=tree)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(tree, argv, cwd):
    """(wall s, CPU s, peak RSS MB) of one process (``os.wait4``: that process's own rusage)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=_env(tree), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, use = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return wall, use.ru_utime + use.ru_stime, use.ru_maxrss / 1024


def _same(a, b, tol):
    import numpy as np
    import pandas as pd

    x, y = pd.read_parquet(a), pd.read_parquet(b)
    if "input" in x.columns:  # example:motor is each checkout's own copy of the map
        x["input"], y["input"] = (d["input"].map(os.path.basename) for d in (x, y))
    if list(x.columns) != list(y.columns) or len(x) != len(y):
        return f"different shape {x.shape} vs {y.shape}"
    key = [c for c in ("input", "row", "input structure", "volume", "kind") if c in x.columns]
    x, y = (d.sort_values(key, kind="stable").reset_index(drop=True) for d in (x, y))
    worst = 0.0
    for c in x.columns:
        if x[c].dtype.kind == "f":
            d = np.abs(x[c].to_numpy() - y[c].to_numpy())
            if not np.array_equal(np.isnan(x[c].to_numpy()), np.isnan(y[c].to_numpy())):
                return f"{c}: missing values differ"
            worst = max(worst, float(np.nanmax(d)) if len(d) else 0.0)
        elif not x[c].astype(str).equals(y[c].astype(str)):
            return f"{c} differs"
    return "identical" if worst == 0 else (f"max abs difference {worst:.2g}" + (" (over tol)" if worst > tol else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--case", default="cli", choices=["cli", "points", "maps"])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tol", type=float, default=0.0)
    ap.add_argument("--kind", default="realistic", choices=["realistic", "synthetic"],
                    help="the maps of --case maps: bench/realistic.py's or bench/synthetic.py's")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gpusiibra-sbs-")
    try:
        if a.case == "points":
            sys.path.insert(0, HERE)
            import gpusiibra
            from bench_points import write_table

            inp = write_table(os.path.join(work, "t.tsv"), gpusiibra.get_map(), a.n, 5.0)
            make = lambda out: [sys.executable, "-c", POINTS, inp, out]  # noqa: E731
        elif a.case == "maps":
            sys.path.insert(0, HERE)
            inp = os.path.join(work, "maps")
            if a.kind == "synthetic":  # bench/synthetic.py's noise maps, unthresholded in the files
                from synthetic import write_map

                os.makedirs(inp)
                for i in range(a.n):
                    write_map((i, os.path.join(inp, f"map{i:05d}.nii.gz")))
            else:
                from realistic import write_realistic_maps

                write_realistic_maps(inp, a.n)
            make = lambda out: [sys.executable, "-c", MAPS, inp, out]  # noqa: E731
        else:
            make = lambda out: [sys.executable, "-m", "gpusiibra.cli", "assign", "example:motor", "--threshold",  # noqa: E731
                                "3", "--out", out, "--quiet"]
        for tree in (a.old, a.new):  # run from the work folder: a checkout in the current folder would come first
            where = subprocess.run([sys.executable, "-c", "import gpusiibra; print(gpusiibra.__file__)"], cwd=work,
                                   env=_env(tree), capture_output=True, text=True).stdout
            if not os.path.realpath(where.strip()).startswith(os.path.realpath(tree)):
                raise SystemExit(f"{tree}: its processes import gpusiibra from {where.strip()}")
            warm = os.path.join(work, "warm-up.parquet")
            _run(tree, make(warm), work)  # untimed: bytecode written, caches warm
            shutil.rmtree(warm) if os.path.isdir(warm) else os.remove(warm)
        times = {"old": [], "new": []}
        outs = {}
        for i in range(a.runs):
            for name, tree in (("old", a.old), ("new", a.new)) if i % 2 == 0 else (("new", a.new), ("old", a.old)):
                out = os.path.join(work, f"{name}-{i}.parquet")
                times[name].append(_run(tree, make(out), work))
                outs.setdefault(name, out)
        print(f"case {a.case}" + (f", n {a.n}" if a.case != "cli" else "") + (f", {a.kind} maps" if a.case == "maps" else "") + f", {a.runs} runs each, alternating, "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
        for name in ("old", "new"):
            w = sorted(t[0] for t in times[name])
            c = sorted(t[1] for t in times[name])
            m = sorted(t[2] for t in times[name])
            med = len(w) // 2
            rate = f"   {a.n / w[med]:.0f}/s wall, {a.n / c[med]:.0f} per CPU-s (medians)" if a.case != "cli" else ""
            print(f"{name}: wall {w[0]:.2f} / {w[med]:.2f} / {w[-1]:.2f} s   CPU {c[0]:.2f} / {c[med]:.2f} / "
                  f"{c[-1]:.2f} s   peak RSS {m[0]:.0f} / {m[med]:.0f} / {m[-1]:.0f} MB (min / median / max){rate}")
        print("new vs old output:", _same(outs["old"], outs["new"], a.tol))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
