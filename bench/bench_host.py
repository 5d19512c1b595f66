"""The host's share of a chunk: what stays on the host when the device does the engine's array work.

For a chunk of bench/realistic.py maps (or bench/synthetic.py noise maps), the components and the accumulated
(component, region) sums are made once; then ``_engine._score`` runs with the accumulation replaced by its stored
result, timing its host part, the pair statistics (``_statistics.pair_statistics``: siibra's box rule and the seven
columns, from the sums copied back), and ``batch._rows_table`` builds the chunk's Arrow table: CPU time per map,
min/median/max of ``--repeat`` runs. (``_score``'s array work before the copy back, a selection of the support,
runs on the device on a GPU node and is not counted.) Run it with PYTHONPATH set to two checkouts to compare them.

Usage: python bench/bench_host.py [--maps 20] [--kind realistic|synthetic] [--repeat 7]
"""
import argparse
import os
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=20)
    ap.add_argument("--kind", default="realistic", choices=["realistic", "synthetic"])
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    import gpusiibra
    from gpusiibra import _engine, _kernels, batch
    from gpusiibra._readers import MapInput

    smap = gpusiibra.get_map()
    if a.kind == "realistic":
        from realistic import realistic_map

        maps = [realistic_map(s)[:2] for s in range(a.maps)]
    else:
        from synthetic import AFFINE, thresholded_map

        maps = [(thresholded_map(s), AFFINE) for s in range(a.maps)]
    images = [_engine.sparse_image(*m) for m in maps]
    index = smap.sparse_index
    prepared = _engine._prepare(images, tuple(index.shape), index.affine, True)
    stored = {}
    real = _kernels.accumulate

    def accumulate(*args):
        if "pairs" not in stored:
            stored["pairs"] = real(*args)
        return stored["pairs"]

    _kernels.accumulate = accumulate
    _engine._score(smap, prepared, 1, 0.0, True)  # the sums, once
    inputs = [MapInput(f"/data/study-{i:03d}/spmT_0001.nii.gz", 0, "+", im) for i, im in enumerate(images)]
    score, table = [], []
    real_stats = _engine.pair_statistics

    def timed_stats(*args):
        t = time.process_time()
        out = real_stats(*args)
        score.append(time.process_time() - t)
        return out

    _engine.pair_statistics = timed_stats
    for _ in range(a.repeat):
        res = _engine._score(smap, prepared, 1, 0.0, True)
        t = time.process_time()
        batch._rows_table(inputs, "component", res.columns, res.row_map, smap)
        table.append(time.process_time() - t)
    total = [s + t for s, t in zip(score, table)]
    print(f"{gpusiibra.__file__}: {a.maps} {a.kind} maps, {len(res.row_map)} rows, CPU ms per map "
          f"(min / median / max of {a.repeat})")
    for name, v in (("pair statistics", score), ("_rows_table", table), ("host share", total)):
        v = sorted(x * 1e3 / a.maps for x in v)
        print(f"  {name:<30} {v[0]:.3f} / {v[len(v) // 2]:.3f} / {v[-1]:.3f}")


if __name__ == "__main__":
    main()
