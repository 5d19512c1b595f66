"""Study report benchmark: time to build `gpusiibra report`'s page, and its size, for 1,000 and 10,000 maps.

The results datasets are made from a real batch of example maps (gpusiibra example: the motor map shifted,
scaled and noisy, two-sided, with peaks), its rows repeated under new input names until N maps, and
written through the batch's own dataset writer (part files of 256 maps, manifest), so that the report
reads what a real run of N maps would leave.

Usage: python bench/bench_report.py [--maps 1000,10000] [--dir DIR]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gpusiibra  # noqa: E402
from gpusiibra import batch, dataset  # noqa: E402
from gpusiibra.demo import write_example_study  # noqa: E402
from gpusiibra.report import study_report  # noqa: E402


def make_dataset(folder, n_maps, base_table, base_keys, smap):
    """A results dataset of ``n_maps`` maps: the base batch's rows, repeated under new input names."""
    out = os.path.join(folder, f"results-{n_maps}.parquet")
    shutil.rmtree(out, ignore_errors=True)
    settings = dict(threshold=3.0, two_sided=True, lower_threshold=0.0, minsize=1, peaks=True, mindist=5)
    ds = dataset.Dataset(out, False, settings, dataset.atlas_identity(smap))
    per_copy = len(base_keys)
    copies = int(np.ceil(n_maps / per_copy))
    inputs = base_table.column("input").to_pylist()
    names = sorted(set(inputs))
    t0 = time.perf_counter()
    chunk_tables, chunk_keys = [], []
    for c in range(copies):
        rename = {n: f"/data/study/sub-{c:05d}_{os.path.basename(n)}" for n in names}
        keys = [(rename[k[0]], k[1], k[2]) for k in base_keys]
        take = min(per_copy, n_maps - c * per_copy)
        keys = keys[:take]
        kept = {k[0] for k in keys}
        t = base_table.set_column(0, "input", pa.array([rename[n] for n in inputs], pa.string()))
        mask = pa.array([rename[n] in kept for n in inputs])
        chunk_tables.append(t.filter(mask))
        chunk_keys.extend(keys)
        if len(chunk_keys) >= 256 or c == copies - 1:
            ds.write(pa.concat_tables(chunk_tables), chunk_keys, {})
            chunk_tables, chunk_keys = [], []
    ds.finish({"seconds": 0.0, "maps": n_maps})
    ds.close()
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--maps", default="1000,10000")
    ap.add_argument("--dir", help="working folder (default: a temporary one)")
    a = ap.parse_args()
    folder = a.dir or tempfile.mkdtemp(prefix="gpusiibra-bench-report-")
    smap = gpusiibra.get_map()
    write_example_study(os.path.join(folder, "maps"), 8)
    base, s = batch.assign_batch(smap, [os.path.join(folder, "maps")], threshold=3.0, two_sided=True, peaks=True,
                                 progress=False)
    base_table = pa.Table.from_pandas(base, schema=batch.batch_schema(), preserve_index=False)
    base_keys = sorted({(r.input, int(r.frame), r.sign) for r in base.itertuples()})
    print(f"base batch: {s.maps} maps, {len(base)} rows; cores: {os.cpu_count()}")
    print(f"\n{'maps':>8}{'rows':>10}{'dataset MB':>12}{'report s':>10}{'page MB':>9}{'table rows':>12}")
    for n in [int(x) for x in a.maps.split(",")]:
        out, _ = make_dataset(folder, n, base_table, base_keys, smap)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
        page = out + ".html"
        t = time.perf_counter()
        rep = study_report(out, page)
        dt = time.perf_counter() - t
        n_rows = sum(pa.parquet.ParquetFile(os.path.join(out, f)).metadata.num_rows
                     for f in os.listdir(out) if f.endswith(".parquet"))
        print(f"{rep.maps:>8}{n_rows:>10}{size / 1e6:>12.1f}{dt:>10.2f}{os.path.getsize(page) / 1e6:>9.2f}"
              f"{rep.rows_shown:>12}")
    if not a.dir:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    import pyarrow.parquet  # noqa: F401

    main()
