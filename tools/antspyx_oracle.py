"""Record antspyx's warps of tests/test_warp.py's cases as golden files (tests/golden/antspyx/<case>.npz).

antspyx is the reference of gpusiibra's displacement-field warps (ITK composites as TemplateFlow publishes them),
but it pins scipy<1.16 and numpy<2.4, so it is not a test dependency: it runs in its own environment::

    python -m venv /tmp/oracle && . /tmp/oracle/bin/activate && pip install -e ".[oracle]"
    python tools/antspyx_oracle.py            # writes tests/golden/antspyx/*.npz
    python tools/antspyx_oracle.py --check    # compares antspyx with the files instead (exit 1 on a difference)

The cases are built by tests/warp_cases.py exactly as the tests build them (seeded transforms written with h5py,
points, images, both file orders, linear and nearest). Each file holds the case's inputs (``in_*``: the transform
files' parameters, the points or the source image and grids), their SHA-256, antspyx's outputs (``out_*``: warped
RAS points, the warped image) and the versions of antspyx, scipy, numpy and h5py that made it.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import warp_cases  # noqa: E402


def versions(ants):
    import h5py
    import scipy

    return f"antspyx {ants.__version__}, scipy {scipy.__version__}, numpy {np.__version__}, h5py {h5py.__version__}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare antspyx with the golden files, write nothing")
    args = ap.parse_args(argv)
    try:
        import ants
    except ImportError:
        sys.exit("antspyx_oracle: antspyx does not import here: pip install -e '.[oracle]' in an environment of its "
                 "own (antspyx 0.6.3 pins scipy<1.16 and numpy<2.4)")

    os.makedirs(warp_cases.GOLDEN, exist_ok=True)
    bad = 0
    for case in warp_cases.CASES:
        with tempfile.TemporaryDirectory() as folder:
            inputs, c = warp_cases.case_inputs(folder, case)
            outputs = warp_cases.ants_outputs(ants, case, c)
        if args.check:
            gold = warp_cases.load_golden(case)
            same = (gold["sha256"] == warp_cases.inputs_sha256(inputs)
                    and all(np.array_equal(outputs[k], gold["outputs"][k]) for k in outputs))
            bad += not same
            print(f"{case}: {'same' if same else 'DIFFERENT'} (golden by {gold['versions']})")
            continue
        path = warp_cases.golden_path(case)
        np.savez_compressed(path, **{f"in_{k}": v for k, v in inputs.items()},
                            **{f"out_{k}": v for k, v in outputs.items()},
                            sha256=np.array(warp_cases.inputs_sha256(inputs)), versions=np.array(versions(ants)))
        print(f"{path}: {os.path.getsize(path)} bytes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
