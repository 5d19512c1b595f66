"""Rebuild the embedded atlas gpusiibra/data/julich_brain_3_1_top2_8bit.npz from its sources.

Sources (in tests/data/ and gpusiibra/data/, with their licences in
gpusiibra/data/LICENSES.md): the two niivue PAQD files of Julich-Brain 3.1
(left and right hemisphere), their label names (Julich.json) and the grid of
the ICBM 2009c asymmetric template.

Usage: python tools/build_default_atlas.py
"""
import os
import sys

import nibabel as nib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
sys.path.insert(0, root)

from gpusiibra.maps import load_map  # noqa: E402

META = {
    "name": "Julich-Brain 3.1 top-2 (8-bit)",
    "space": "ICBM 2009c nonlinear asymmetric (MNI152)",
    "description": (
        "Julich-Brain cytoarchitectonic atlas v3.1, 207 areas per hemisphere, as a lossy derivative: "
        "per voxel only the two most probable areas, probabilities quantized to 1/255 (niivue PAQD packing). "
        "Fine for tests, benchmarks and demos; use the official maps for research results."
    ),
    "licence": "CC BY-NC-SA 4.0; Amunts et al. 2020, Science 369:988; EBRAINS 'Julich-Brain Atlas, cytoarchitectonic maps (v3.1)'",
}


def main(out=os.path.join(root, "gpusiibra", "data", "julich_brain_3_1_top2_8bit.npz")):
    data = os.path.join(root, "tests", "data")
    template = nib.load(os.path.join(root, "gpusiibra", "data", "ICBM2009asym.nii.gz"))
    smap = load_map(
        [os.path.join(data, "JulichBrainAtlas31_p207LH.nii.gz"), os.path.join(data, "JulichBrainAtlas31_p207RH.nii.gz")],
        labels=os.path.join(data, "Julich.json"),
        grid=(template.shape, template.affine),
        suffixes=(" left", " right"),
    )
    smap.meta.update(META)
    smap.name, smap.space = META["name"], META["space"]
    smap.save(out)
    print(smap.summary())
    print("written", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
