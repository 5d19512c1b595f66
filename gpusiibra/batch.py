"""Batch assignment of many maps: reading pool, chunks, Parquet output, resume, errors, Dask.

One *map* is one 3D volume of one input file (a 4D file gives one map per
volume) with one sign (``--two-sided`` adds the negated map). Maps are read by
a thread pool while the previous chunk is assigned (one accumulation launch
per chunk on the GPU). Results go to a Parquet dataset (a folder of part files
plus a manifest), written as the run goes:

``OUT/part-NNNNN.parquet``  rows of one chunk, written atomically
``OUT/_manifest.csv``       one line per finished map (also maps without rows)
``OUT.errors.csv``          inputs that could not be used, with the reason

``--resume`` skips the maps named in the manifest and drops part files that a
killed run wrote but did not record, so a resumed run gives the same dataset
as an uninterrupted one. ``pandas.read_parquet(OUT)`` reads the dataset.
"""
from __future__ import annotations

import csv
import glob
import itertools
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import assign as _assign
from .data import EXAMPLES
from .io.errors import ImageFileError
from .io.nifti import image_data, is_nifti_path, load_image
from .points import PointCloud

__all__ = ["BATCH_COLUMNS", "expand_inputs", "assign_batch", "BatchSummary"]

#: columns of a batch dataset: the input, the frame of a 4D file, the sign, the kind of structure, then siibra's
BATCH_COLUMNS = ["input", "frame", "sign", "kind"] + [c for c in _assign.COLUMNS if c not in ("time", "fragment")]



@dataclass
class BatchSummary:
    """What a batch run did."""

    maps: int = 0
    skipped: int = 0
    rows: int = 0
    failures: int = 0
    seconds: float = 0.0
    out: str | None = None
    errors_file: str | None = None

    @property
    def maps_per_second(self) -> float:
        return self.maps / self.seconds if self.seconds else 0.0

    def __str__(self):
        s = (f"{self.maps} maps assigned, {self.rows} rows, {self.failures} failed inputs, "
             f"{self.seconds:.1f} s ({self.maps_per_second:.1f} maps/s)")
        if self.skipped:
            s += f"; {self.skipped} maps already done (resume)"
        if self.out:
            s += f"\nresults: {self.out}"
        if self.failures and self.errors_file:
            s += f"\nerrors:  {self.errors_file}"
        return s


def expand_inputs(inputs) -> tuple[list, list]:
    """Files, folders and globs -> NIfTI paths (sorted within each argument), and the arguments that matched nothing."""
    paths, missing = [], []
    for item in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs):
        item = os.fspath(item)
        if item in EXAMPLES:
            paths.append(EXAMPLES[item])
        elif os.path.isdir(item):
            found = sorted(f for f in glob.glob(os.path.join(item, "**", "*"), recursive=True) if is_nifti_path(f))
            paths.extend(found) if found else missing.append((item, "folder holds no .nii or .nii.gz file"))
        elif any(ch in item for ch in "*?["):
            found = sorted(f for f in glob.glob(item, recursive=True) if is_nifti_path(f))
            paths.extend(found) if found else missing.append((item, "pattern matches no .nii or .nii.gz file"))
        else:
            paths.append(item)
    return paths, missing


def _read(path, threshold, two_sided):
    """Maps of one file: list of (frame, sign, data, affine); raises ImageFileError."""
    img = load_image(path)
    data, affine = image_data(img, path)
    frames = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
    out = []
    for t, d in enumerate(frames):
        for sign in ("+", "-") if two_sided else ("+",):
            x = np.asarray(d, dtype=np.float32) if (threshold is not None or sign == "-") else d
            if sign == "-":
                x = -x
            if threshold is not None:
                x = np.where(x < threshold, 0, x).astype(np.float32)
            out.append((t, sign, x, affine))
    return out


def _peak_rows(smap, data, affine, mindist):
    from .volumes import peak_local_max

    ijk = peak_local_max(data, min_distance=mindist) if np.any(data > 0) else np.zeros((0, 3))
    if len(ijk) == 0:
        return None
    return _assign.assign_points(smap, PointCloud(ijk).transform(affine).coordinates, 0.0)


def _frame(cols, smap, path, frame, sign, kind) -> pd.DataFrame:
    df = _assign.make_table(cols, smap.regions) if len(cols["volume"]) else pd.DataFrame()
    df = df.reindex(columns=BATCH_COLUMNS)
    df["input"], df["frame"], df["sign"], df["kind"] = path, frame, sign, kind
    return df


def assign_chunk(smap, paths, threshold=None, two_sided=False, lower_threshold=0.0, minsize=1,
                 peaks=False, mindist=5, done=frozenset()):
    """Read and assign the maps of some files: returns (DataFrame, finished map keys, errors)."""
    kw = dict(lower_threshold=lower_threshold, minsize=minsize, peaks=peaks, mindist=mindist)
    return _finish(smap, paths, [_safe_read(p, threshold, two_sided) for p in paths], kw, done)


def _safe_read(path, threshold, two_sided):
    try:
        return _read(path, threshold, two_sided)
    except ImageFileError as e:
        return e
    except MemoryError:
        return ImageFileError(path, "out of memory while reading")
    except Exception as e:  # a reader failing in an unforeseen way must not stop the batch
        return ImageFileError(path, f"{type(e).__name__}: {e}")


def _assign_maps(smap, maps, lower_threshold, minsize, peaks, mindist):
    if not maps:
        return pd.DataFrame(columns=BATCH_COLUMNS), []
    results = _assign.assign_many(smap, [(m[3], m[4]) for m in maps], minsize, lower_threshold)
    frames = []
    for (path, frame, sign, data, affine), cols in zip(maps, results):
        frames.append(_frame(cols, smap, path, frame, sign, "component"))
        if peaks:
            pcols = _peak_rows(smap, data, affine, mindist)
            if pcols is not None and len(pcols["volume"]):
                frames.append(_frame(pcols, smap, path, frame, sign, "peak"))
    keys = [(m[0], m[1], m[2]) for m in maps]
    frames = [f for f in frames if len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BATCH_COLUMNS)
    return df, keys


class _Dataset:
    """The Parquet dataset folder with its manifest (atomic parts, resumable)."""

    def __init__(self, out, resume):
        self.out = os.fspath(out)
        self.manifest = os.path.join(self.out, "_manifest.csv")
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise FileExistsError(f"{self.out}: exists and is not a gpusiibra dataset folder")
        if os.path.isdir(self.out) and not resume and os.listdir(self.out):
            raise FileExistsError(f"{self.out}: exists; use --resume to continue it or choose another --out")
        os.makedirs(self.out, exist_ok=True)
        self.done, recorded = set(), set()
        if os.path.isfile(self.manifest):
            with open(self.manifest, newline="") as f:
                for row in csv.reader(f):
                    if len(row) == 4:
                        self.done.add((row[0], int(row[1]), row[2]))
                        recorded.add(row[3])
        # parts written by a killed run but never recorded would double rows: drop them
        for f in os.listdir(self.out):
            if f.startswith("part-") and (f not in recorded or f.endswith(".tmp")):
                os.remove(os.path.join(self.out, f))
        self.next_part = 1 + max([int(f[5:10]) for f in os.listdir(self.out) if f.startswith("part-")] or [-1])

    def write(self, df: pd.DataFrame, keys):
        name = ""
        if len(df):
            name = f"part-{self.next_part:05d}.parquet"
            self.next_part += 1
            tmp = os.path.join(self.out, name + ".tmp")
            table = df.reindex(columns=BATCH_COLUMNS).copy()
            table["centroid"] = [list(c) if isinstance(c, tuple) else None for c in table["centroid"]]
            table.to_parquet(tmp, index=False)
            os.replace(tmp, os.path.join(self.out, name))
        with open(self.manifest, "a", newline="") as f:
            w = csv.writer(f)
            for k in keys:
                w.writerow([k[0], k[1], k[2], name])
            f.flush()
            os.fsync(f.fileno())


def _write_errors(errors_file, errors, append):
    if not errors and not (append and os.path.exists(errors_file)):
        return
    with open(errors_file, "a" if append else "w", newline="") as f:
        w = csv.writer(f)
        if not append or f.tell() == 0:
            w.writerow(["input", "reason"])
        w.writerows(errors)


def assign_batch(smap, inputs, out=None, *, threshold=None, two_sided=False, lower_threshold=0.0, minsize=1,
                 peaks=False, mindist=5, resume=False, chunk_size=32, readers=4, workers=None, scheduler=None,
                 progress=True, atlas_name=None):
    """Assign many maps to every region of ``smap``.

    Parameters
    ----------
    smap : SparseMap
    inputs : list of paths, folders or globs
        NIfTI files (.nii, .nii.gz); every volume of a 4D file is one map.
    out : path, optional
        A Parquet dataset folder, written as the run goes (see the module
        docstring). Without it the rows are returned as a DataFrame.
    threshold : float, optional
        Values below it are set to 0 before assignment (e.g. a t threshold).
    two_sided : bool
        Also assign the negated map (``sign`` = "-"), with the same threshold.
    lower_threshold, minsize : float, int
        siibra's ``lower_threshold`` and ``minsize_voxel``.
    peaks : bool
        Also assign each map's local maxima (``peak_local_max`` with ``mindist``
        voxels) as exact points; their rows have ``kind`` = "peak".
    resume : bool
        Continue an existing ``out`` dataset, skipping finished maps.
    chunk_size : int
        Files per chunk (one accumulation per chunk).
    readers : int
        Threads reading and decompressing files ahead of the computation.
    workers, scheduler : int or str, optional
        Spread chunks over dask.distributed workers: a local cluster of
        ``workers`` processes, or the scheduler at ``scheduler`` (each worker
        loads the atlas once; ``atlas_name`` names it for them).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    (DataFrame or None, BatchSummary)
        The rows (when ``out`` is None) and the run's summary.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    paths, missing = expand_inputs(inputs)
    errors = list(missing)
    ds = _Dataset(out, resume) if out is not None else None
    done = ds.done if ds else set()
    errors_file = (os.fspath(out).rstrip("/") + ".errors.csv") if out is not None else None
    summary = BatchSummary(out=os.fspath(out) if out is not None else None, errors_file=errors_file)
    summary.skipped = len(done)
    done_by_path = {}
    for path, frame, sign in done:
        done_by_path.setdefault(path, set()).add((frame, sign))
    todo = [p for p in paths if not _all_done(p, done_by_path.get(p), two_sided)]
    chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
    kw = dict(threshold=threshold, two_sided=two_sided, lower_threshold=lower_threshold, minsize=minsize,
              peaks=peaks, mindist=mindist)
    collected = []
    bar = tqdm(total=len(todo), unit="file", desc="assigning", disable=not progress, file=sys.stderr)

    def consume(df, keys, errs):
        errors.extend(errs)
        for path, reason in errs:
            tqdm.write(f"error: {path}: {reason}", file=sys.stderr)
        summary.maps += len(keys)
        summary.rows += len(df)
        if ds is not None:
            ds.write(df, keys)
        else:
            collected.append(df)

    if workers or scheduler:
        for df, keys, errs, n in _run_dask(chunks, kw, done, workers, scheduler, atlas_name):
            consume(df, keys, errs)
            bar.update(n)
    else:
        with ThreadPoolExecutor(max(1, readers)) as pool:
            def read(ch):
                return [pool.submit(_safe_read, p, threshold, two_sided) for p in ch]

            reads = read(chunks[0]) if chunks else []
            for i, ch in enumerate(chunks):
                ahead = read(chunks[i + 1]) if i + 1 < len(chunks) else []  # read the next chunk meanwhile
                consume(*_finish(smap, ch, [f.result() for f in reads], kw, done))
                bar.update(len(ch))
                reads = ahead
    bar.close()
    summary.failures = len(errors)
    if errors_file is not None:
        _write_errors(errors_file, errors, append=resume)
    summary.seconds = time.perf_counter() - t0
    result = None
    if ds is None:
        frames = [f for f in collected if len(f)]
        result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BATCH_COLUMNS)
        result.attrs["errors"] = errors
    return result, summary


def _all_done(path, done_maps, two_sided):
    """True when every (frame, sign) of the file is among its finished maps (a header read for the frame count)."""
    if not done_maps:
        return False
    frames = {f for f, _ in done_maps}
    signs = ("+", "-") if two_sided else ("+",)
    return all((f, s) in done_maps for f in frames for s in signs) and _n_frames(path) == len(frames)


def _n_frames(path):
    try:
        shape = load_image(path).shape
    except ImageFileError:
        return -1
    return shape[3] if len(shape) > 3 and shape[3] > 1 else 1


def _finish(smap, paths, results, kw, done):
    maps, errors = [], []
    for path, result in zip(paths, results):
        if isinstance(result, Exception):
            errors.append((path, getattr(result, "reason", str(result))))
            continue
        for frame, sign, data, affine in result:
            if (path, frame, sign) not in done:
                maps.append((path, frame, sign, data, affine))
    df, keys = _assign_maps(smap, maps, kw["lower_threshold"], kw["minsize"], kw["peaks"], kw["mindist"])
    return df, keys, errors


def _dask_task(paths, kw, done, atlas_name, backend_name):
    from . import backend
    from .maps import get_map

    backend.set_backend(backend_name)
    smap = get_map(atlas_name)  # cached per worker process: loaded once
    df, keys, errs = assign_chunk(smap, paths, done=done, **kw)
    return df, keys, errs, len(paths)


def _local_cluster(workers, backend_name):
    """A local dask cluster: dask-cuda's (one worker per GPU) for the GPU backend where installed, else processes."""
    from dask.distributed import LocalCluster

    if backend_name == "gpu":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            warnings.warn("dask-cuda is not installed: the local workers share the GPU as plain processes "
                          "(pip install dask-cuda for one worker per GPU)", RuntimeWarning, stacklevel=4)
        else:
            return LocalCUDACluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def _run_dask(chunks, kw, done, workers, scheduler, atlas_name):
    """Yield the chunks' results from dask workers, keeping a bounded number of chunks in flight."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("--workers/--scheduler need dask.distributed: pip install 'gpusiibra[dask]'") from None
    from . import backend

    if atlas_name is None:
        raise ValueError("distributed runs need atlas_name (an embedded atlas name or a path the workers can read)")
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = _local_cluster(int(workers), backend.get_backend())
        client = Client(cluster)
    try:
        done = frozenset(done)
        slots = 2 * max(1, sum(client.nthreads().values()))  # two chunks per worker thread: busy, bounded memory
        pending = iter(chunks)

        def submit(ch):
            return client.submit(_dask_task, ch, kw, done, atlas_name, backend.get_backend(), pure=False)

        running = as_completed([submit(ch) for ch in itertools.islice(pending, slots)])
        for fut in running:
            result = fut.result()
            fut.release()
            nxt = next(pending, None)
            if nxt is not None:
                running.add(submit(nxt))
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
