"""A small siibra configuration written by the tests, its data served from 127.0.0.1.

It is a configuration as siibra-python 1.0.1a25 reads one (``siibra.use_configuration(folder)``; the folder
layout and the JSON types of FZJ-INM1-BDA/siibra-configurations): a Julich-Brain 3.1 parcellation (its
real identifier) with five areas of the embedded atlas and their hemispheres, receptor density fingerprints
(``siibra/feature/fingerprint/receptor/v0.1``: a TSV file of receptor, mean, sd, unit), layerwise cell
densities (``siibra/feature/fingerprint/celldensity/v0.1``: per patch a ``segments.txt`` of detected cells
and a ``layerinfo.txt`` of layer areas, at URLs shaped as the dataset's: region folder, version, section,
patch) and a streamline-count connectivity matrix per subject (``siibra/feature/connectivitymatrix/v0.3``:
CSV files in a zip archive). Every data file lies on the test's HTTP server, so siibra downloads, caches
and parses them as it does online. The expected numbers are computed here from the files' contents.
"""
from __future__ import annotations

import io
import json
import os
import uuid
import zipfile

import numpy as np

PARCELLATION_ID = "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-310"
SPACE_ID = "minds/core/referencespace/v1.0.0/dafcffc5-4826-4bf1-8ff6-46b8a31ff8e2"
AREAS = ["Area hOc1 (V1, 17, CalcS)", "Area 4a (PreCG)", "Area 44 (IFG)", "Area 3b (PostCG)", "Area 4p (PreCG)"]
LEAVES = [f"{a} {side}" for a in AREAS for side in ("left", "right")]   # gpusiibra's (and siibra's map) names
HUMAN = "Homo sapiens"
SHRINKAGE = 1.931   # the BigBrain volumetric shrinkage factor of the cell density dataset

#: receptor fingerprints: area -> [(receptor, mean, sd)], unit fmol/mg
RECEPTORS = {
    "Area hOc1 (V1, 17, CalcS)": [("AMPA", 470.0, 121.0), ("NMDA", 1108.0, 202.0), ("GABAA", 2260.0, 315.0),
                                  ("M2", 583.0, 98.0), ("5-HT1A", 166.0, 41.0)],
    "Area 44 (IFG)": [("AMPA", 512.0, 99.0), ("NMDA", 1210.0, 180.0), ("GABAA", 1891.0, 270.0)],
}
#: cell densities: area -> patches (section, patch) -> layer -> (cells, area in square microns)
CELLS = {
    "Area hOc1 (V1, 17, CalcS)": {
        ("0316", "0003"): {1: (40, 52000.0), 2: (160, 41000.0), 3: (220, 80000.0), 4: (300, 90000.0),
                           5: (120, 60000.0), 6: (150, 70000.0)},
        ("0226", "0002"): {1: (35, 50000.0), 2: (150, 43000.0), 3: (240, 82000.0), 4: (280, 85000.0),
                           5: (110, 61000.0), 6: (160, 72000.0)},
    },
    "Area 4a (PreCG)": {
        ("3121", "0001"): {1: (20, 70000.0), 2: (60, 30000.0), 3: (260, 150000.0), 5: (140, 110000.0),
                           6: (170, 120000.0)},
    },
}
LAYER_NAMES = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
CELL_FOLDERS = {"Area hOc1 (V1, 17, CalcS)": "Visual_hOc1", "Area 4a (PreCG)": "Motor_4a"}
PUBLICATION = {"name": "Test dataset of {}", "authors": ["Palomero-Gallagher N", "Zilles K"],
               "url": "https://doi.org/10.25493/TEST-{}", "description": "served by the tests", "license": "CC-BY-4.0"}


def _publication(what):
    return [{k: (v.format(what) if isinstance(v, str) else v) for k, v in PUBLICATION.items()}]


def connectivity(n_subjects=2, seed=7):
    """Symmetric streamline counts, one matrix per subject, over LEAVES (zero diagonal, some zero pairs)."""
    rng = np.random.default_rng(seed)
    mats = []
    for _ in range(n_subjects):
        m = rng.integers(0, 5000, (len(LEAVES), len(LEAVES))).astype(float)
        m = np.triu(m, 1)
        m[0, 5] = 0.0  # one pair never connected
        mats.append(m + m.T)
    return mats


def _cell_files(cells):
    rng = np.random.default_rng(3)
    rows = ["# x y area(micron**2) layer label"]
    label = 0
    for layer, (n, _) in cells.items():
        for _ in range(n):
            label += 1
            rows.append(f"{rng.uniform(0, 2000):.18e} {rng.uniform(0, 4000):.18e} {rng.uniform(10, 90):.18e} "
                        f"{float(layer):.18e} {float(label):.18e}")
    layers = ["# index Name Area(micron**2)"] + [f"{layer} {LAYER_NAMES[layer]} {area}"
                                                  for layer, (_, area) in cells.items()]
    return ("\n".join(rows) + "\n").encode(), ("\n".join(layers) + "\n").encode()


def expected_cell_densities(area):
    """Per layer name: the densities of the area's patches (detected cells per 0.1 mm^3), as the dataset defines
    them."""
    out = {}
    for cells in CELLS[area].values():
        for layer, (n, um2) in cells.items():
            volume = um2 * 20 * np.cbrt(SHRINKAGE) / 100 ** 3
            out.setdefault(LAYER_NAMES[layer], []).append(n / volume)
    return out


def write_configuration(folder, server) -> str:
    """Write the configuration into ``folder`` and put its data files on ``server``; returns ``folder``."""
    token = uuid.uuid4().hex[:12]  # the data's URLs differ from run to run: a siibra cache never serves old files
    base = f"{server.url}/{token}"

    def dump(rel, obj):
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(obj, f, indent=1)

    dump("spaces/icbm_152_2009c_nonl_asym.json", {
        "@id": SPACE_ID, "@type": "siibra/space/v0.0.1", "name": "MNI 152 ICBM 2009c Nonlinear Asymmetric",
        "shortName": "MNI 152", "species": HUMAN, "modality": "MRI", "volumes": [], "publications": []})
    regions = [{"name": "cerebral cortex", "children": [
        {"name": area, "children": [{"name": f"{area} - {side} hemisphere"} for side in ("right", "left")]}
        for area in AREAS]}]
    dump("parcellations/julichbrain_v3_1.json", {
        "@id": PARCELLATION_ID, "@type": "siibra/parcellation/v0.0.1",
        "name": "Julich-Brain Cytoarchitectonic Atlas (v3.1)", "shortName": "Julich-Brain v3.1",
        "species": HUMAN, "modality": "cytoarchitecture", "@version": {"name": "3.1.0"},
        "regions": regions, "publications": []})
    for area, rows in RECEPTORS.items():
        stem = area.split(" (")[0].replace(" ", "_")
        url = f"{base}/receptors/{stem}_fp.tsv"
        tsv = "receptor\tdensity (mean)\tdensity (sd)\tunit\n" + "".join(
            f"{r}\t{m:g}\t{s:g}\tfmol/mg\n" for r, m, s in rows)
        server.put(url, tsv.encode())
        dump(f"features/tabular/fingerprints/receptor/{stem}_fp.json", {
            "@type": "siibra/feature/fingerprint/receptor/v0.1", "region": area, "species": HUMAN,
            "publications": _publication(f"receptors in {area}"), "file": url})
    for area, patches in CELLS.items():
        seg, lay = [], []
        for (section, patch), cells in patches.items():
            prefix = f"{base}/hbp-d000061_BB-CorticalCellDistribution_pub/{CELL_FOLDERS[area]}/v1.0/{section}/{patch}"
            cells_txt, layers_txt = _cell_files(cells)
            server.put(prefix + "/segments.txt", cells_txt)
            server.put(prefix + "/layerinfo.txt", layers_txt)
            seg.append(prefix + "/segments.txt")
            lay.append(prefix + "/layerinfo.txt")
        dump(f"features/tabular/layerstatistics/celldensity/{CELL_FOLDERS[area]}.json", {
            "@type": "siibra/feature/fingerprint/celldensity/v0.1", "region": area, "species": HUMAN,
            "unit": "detected cells / 0.1mm3", "publications": _publication(f"cell densities in {area}"),
            "location": {"@type": "siibra/location/pointcloud/v0.1", "space": {"@id": SPACE_ID},
                         "coordinates": [[13.2, -63.7, 6.0], [-12.9, -65.2, 8.6]]},
            "segmentfiles": seg, "layerfiles": lay})
    buf = io.BytesIO()
    files = {}
    with zipfile.ZipFile(buf, "w") as z:
        for i, m in enumerate(connectivity()):
            name = f"SC_TEST/{100 + i}_count.csv"
            z.writestr(name, "\n".join(",".join(f"{v:g}" for v in row) for row in m) + "\n")
            files[str(100 + i)] = name
    zip_url = f"{base}/connectivity/SC_TEST.zip"
    server.put(zip_url, buf.getvalue())
    dump("features/connectivity/regional/streamlinecounts/test_streamlinecounts.json", {
        "@type": "siibra/feature/connectivitymatrix/v0.3", "modality": "StreamlineCounts", "paradigm": "",
        "cohort": "TEST", "parcellation": {"@id": PARCELLATION_ID}, "species": HUMAN,
        "publications": _publication("streamline counts"),
        "repository": {"@type": "siibra/repository/zippedfile/v1.0.0", "url": zip_url},
        "decoder": {"@type": "siibra/decoder/csv", "delimiter": ",", "engine": "python", "header": None,
                    "index_col": False},
        "files": files, "files_indexed_by": "subject", "regions": LEAVES})
    return folder


class siibra_cache:
    """siibra's cache in ``folder`` for a block: through SIIBRA_CACHEDIR before siibra is imported, else its
    cache object's folder (siibra reads SIIBRA_CACHEDIR once, at import)."""

    def __init__(self, folder):
        self.folder = folder

    def __enter__(self):
        import sys

        os.makedirs(self.folder, exist_ok=True)
        self._env = os.environ.get("SIIBRA_CACHEDIR")
        os.environ["SIIBRA_CACHEDIR"] = self.folder
        os.environ.setdefault("SIIBRA_LOG_LEVEL", "ERROR")
        self._old = None
        if "siibra" in sys.modules:
            from siibra.retrieval.cache import CACHE

            self._old, CACHE.folder = CACHE.folder, self.folder
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            from siibra.retrieval.cache import CACHE

            CACHE.folder = self._old
        if self._env is None:
            os.environ.pop("SIIBRA_CACHEDIR", None)
        else:
            os.environ["SIIBRA_CACHEDIR"] = self._env
