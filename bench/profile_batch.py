"""Where the time of a batch goes: cProfile of assign_many over synthetic maps on one backend.

Usage: python bench/profile_batch.py [--backend gpu] [--n 64]
"""
import argparse
import cProfile
import os
import pstats
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpusiibra  # noqa: E402
from gpusiibra import _assign as assign  # noqa: E402
from synthetic import AFFINE, synthetic_map  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--n", type=int, default=64)
    a = ap.parse_args()
    gpusiibra.set_backend(a.backend)
    rng = np.random.default_rng(0)
    maps = []
    for _ in range(a.n):
        m = synthetic_map(rng)
        m[m < 3] = 0
        maps.append((m, AFFINE))
    smap = gpusiibra.get_map()
    assign.assign_many(smap, maps[:4])
    prof = cProfile.Profile()
    prof.enable()
    assign.assign_many(smap, maps)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


if __name__ == "__main__":
    main()
