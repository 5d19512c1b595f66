"""Check gpusiibra's Talairach conversions against NiMARE's (not a test dependency: NiMARE brings numba,
statsmodels, plotly...; run this by hand after `pip install nimare==0.22.1`).

NiMARE's ``tal2mni`` / ``mni2tal`` apply Lancaster's pooled transform (icbm_other2tal and its inverse): gpusiibra
gives the same numbers for ``warp_points(xyz, "Talairach", "MNI")`` and ``warp_points(xyz, "MNI", "Talairach")``.
Prints the largest difference in mm over 100,000 random points in a 400 mm cube; exits 1 above 1e-9 mm.
"""
import sys

import numpy as np

from gpusiibra.spaces import warp_points


def main():
    from nimare.utils import mni2tal, tal2mni

    rng = np.random.default_rng(0)
    xyz = rng.uniform(-200, 200, (100_000, 3))
    worst = 0.0
    for ours, theirs in (((xyz, "Talairach", "MNI"), tal2mni), ((xyz, "MNI", "Talairach"), mni2tal)):
        d = float(np.abs(warp_points(*ours) - theirs(xyz)).max())
        print(f"{theirs.__name__}: largest difference {d:.3g} mm over {len(xyz)} points")
        worst = max(worst, d)
    return 0 if worst <= 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
