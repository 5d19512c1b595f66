"""TemplateFlow's layout with the two composite transforms between FSL's MNI152 and ICBM 2009c, made by the tests
(an affine and a smooth displacement field each; TemplateFlow's file names, not its numbers): warps run offline."""
import numpy as np

PAIRS = (("MNI152NLin6Asym", "MNI152NLin2009cAsym"), ("MNI152NLin2009cAsym", "MNI152NLin6Asym"))


def write_templateflow_home(home):
    """``home``/tpl-<B>/tpl-<B>_from-<A>_mode-image_xfm.h5 for both directions; returns ``home``."""
    from gpusiibra._itk import AffineStep, FieldStep, write_itk_h5

    grid = np.diag([6.0, 6.0, 6.0, 1.0])
    grid[:3, 3] = [-96, -132, -78]
    i, j, k = np.indices((33, 39, 33), dtype=float)
    for sign, (tpl, frm) in zip((1, -1), PAIRS):
        field = sign * np.stack([1.5 * np.sin(i / 5), np.cos(j / 6), 0.8 * np.sin((i + k) / 7)], axis=-1)
        m = np.eye(4)
        m[:3, 3] = [0.7 * sign, -1.2 * sign, 0.4 * sign]
        (home / f"tpl-{tpl}").mkdir()
        write_itk_h5(home / f"tpl-{tpl}" / f"tpl-{tpl}_from-{frm}_mode-image_xfm.h5", [FieldStep(field, grid),
                                                                                        AffineStep(m)])
    return home
