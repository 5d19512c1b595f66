"""Batch assignment of many maps: reading pool, chunks, Parquet dataset, resume, errors, Dask.

One *map* is one 3D volume of one input file (a 4D file gives one map per
volume) with one sign (``two_sided`` adds the negated map). Maps are read by
a pool while the previous chunk is assigned; each chunk is assigned in one
pass of the engine and written as one Parquet part file of a results dataset
(:mod:`gpusiibra.dataset`: one writer at a time, a checksummed manifest,
atomic parts, resumable). ``pandas.read_parquet(OUT)`` reads the dataset.

Inputs are named by their absolute path as given (the ``input`` column; links are
not resolved, so annexed files keep their names); one file given twice is assigned
once, with a warning, and a file the dataset holds under another spelling keeps its
recorded name on ``--resume``.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _assign, _engine, backend
from ._dask import _close_dask, _dask_client, _run_dask
from ._inputs import expand_inputs
from ._pipeline import Writer, run_local
from ._readers import safe_read, unit_path
from .dataset import Dataset, atlas_identity, atlas_label, errors_path, file_stamp, warnings_path, write_errors
from .io.nifti import NO_ORIENTATION, RESTORE_AFFINE
from .errors import GpusiibraError, OptionError
from .io.nifti import close_cursors, n_volumes
from ._options import check_options as _check_options

__all__ = ["BATCH_COLUMNS", "expand_inputs", "assign_batch", "BatchSummary", "batch_schema"]

#: columns of a batch dataset: the input, the atlas, the frame of a 4D file, the sign, the kind of structure, the
#: component's size in atlas-grid voxels, then siibra's (``fragment`` is empty but for labelled maps in fragments)
BATCH_COLUMNS = ["input", "atlas", "frame", "sign", "kind", "voxels"] + [c for c in _assign.COLUMNS if c != "time"]


def batch_schema():
    """The Arrow schema of a batch dataset's part files."""
    import pyarrow as pa

    types = {"input": pa.string(), "atlas": pa.string(), "frame": pa.int64(), "sign": pa.string(),
             "kind": pa.string(), "voxels": pa.int64(), "input structure": pa.int64(),
             "centroid": pa.list_(pa.float64()), "volume": pa.int64(), "fragment": pa.string(), "region": pa.string()}
    return pa.schema([(c, types.get(c, pa.float64())) for c in BATCH_COLUMNS])


@dataclass
class BatchSummary:
    """What a batch run did.

    ``inputs`` files gave ``frames`` volumes; each volume is assigned once per
    sign, so ``maps = frames x signs``.
    """

    inputs: int = 0
    frames: int = 0
    signs: int = 1
    maps: int = 0
    skipped: int = 0
    rows: int = 0
    failures: int = 0
    outside: int = 0
    outside_maps: list = field(default_factory=list)  # (input, frame) of the maps outside the grid
    space: list = field(default_factory=list)  # (input, why its header says it may not be in MNI152 space)
    seconds: float = 0.0
    out: str | None = None
    errors_file: str | None = None
    errors: list = field(default_factory=list)
    warnings_file: str | None = None  # OUT.warnings.csv: every file of ``space``, with its reason

    @property
    def maps_per_second(self) -> float:
        return self.maps / self.seconds if self.seconds else 0.0

    def __str__(self):
        signs = " x 2 signs" if self.signs == 2 else ""
        if self.maps == 0 and self.skipped and not self.failures:
            s = (f"nothing to do: the dataset already holds {'the' if self.skipped == 1 else 'all'} "
                 f"{_n(self.skipped, 'map')} of these inputs "
                 f"({self.seconds:.1f} s)")
        else:
            s = (f"{_n(self.inputs, 'input file')}, {_n(self.frames, 'volume')}{signs}: "
                 f"{_n(self.maps, 'map')} assigned, {_n(self.rows, 'row')}, {_n(self.failures, 'error')}, "
                 f"{self.seconds:.1f} s ({self.maps_per_second:.1f} maps/s)")
            if self.skipped:
                s += f"; {self.skipped} maps were already done (resume)"
            if self.maps and not self.rows:
                s += ("\nwarning: no map gave a row: none has a component above the threshold that reaches a "
                      "region (is --threshold on the maps' scale?)")
        if self.space:
            files = dict(self.space)  # a 4D file's volumes in several chunks: named once
            named = "; ".join(f"{os.path.basename(p)}: {why}" for p, why in list(files.items())[:2])
            more = f"; and {len(files) - 2} more" if len(files) > 2 else ""
            listed = f" (every one in {self.warnings_file})" if self.warnings_file else ""
            lost = sum(why.startswith(NO_ORIENTATION) for why in files.values())
            advice = "say --space MNI if they are in it" if lost < len(files) else ""
            if lost:
                advice += ("; " if advice else "") + (f"{lost} state{'s' if lost == 1 else ''} no orientation: "
                                                       "restore the real affine in the header")
            s += (f"\nwarning: {len(files)} input file{'s' if len(files) > 1 else ''} may not be in the atlas's "
                  f"space ({named}{more}){listed}; {advice}")
        if self.out:
            s += f"\nresults: {self.out}"
        if self.failures and self.errors_file:
            s += f"\nerrors:  {self.errors_file}"
        return s


def _n(count, noun) -> str:
    """``"1 map"``, ``"2 maps"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _arrow(values, valid=None):
    """A NumPy array (int64, int32 or float64) as an Arrow array over its buffer (``valid``: False = null).

    pyarrow's ``pa.array`` imports pandas (0.3 s of a process's start) to ask whether its input is a pandas
    object; these buffers never are."""
    import pyarrow as pa

    a = np.ascontiguousarray(values)
    bitmap = None
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(a), [bitmap, pa.py_buffer(a)])


def _arrow_strings(values):
    """A list of str (or None: null) as an Arrow string array, built from its UTF-8 bytes (see :func:`_arrow`)."""
    import pyarrow as pa

    data = [b"" if v is None else str(v).encode() for v in values]
    offsets = np.zeros(len(data) + 1, np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    valid = np.array([v is not None for v in values], bool)
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.string(), len(data), [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])


def _rows_table(maps, kind, columns, row_map, smap):
    """Arrow table of rows from chunk-level columns (``row_map``: each row's map, a :class:`MapInput`).

    Strings are taken from one list per chunk (the maps' names and signs) or per region (names, fragments)
    by index, in Arrow: no per-row Python object, no NumPy object array, and no pandas (:func:`_arrow`)."""
    import pyarrow as pa

    n = len(row_map)
    row_map = _arrow(np.asarray(row_map, np.int64))
    volume = np.asarray(columns["volume"], np.int64)
    regions, of_region = np.unique(volume, return_inverse=True)
    of_region = _arrow(of_region.ravel().astype(np.int64))
    fields = smap.region_fields(regions)  # the chunk's distinct regions' columns
    first = _arrow(np.zeros(n, np.int64))
    voxels = np.asarray(columns["component voxels"], np.int64) if "component voxels" in columns \
        else np.full(n, -1, np.int64)
    cent = np.asarray(columns["centroid"], np.float64).reshape(-1, 3)
    arrays = {
        "input": _arrow_strings([m.input for m in maps]).take(row_map),
        "atlas": _arrow_strings([atlas_label(smap)]).take(first),
        "frame": _arrow(np.array([m.frame for m in maps], np.int64)).take(row_map),
        "sign": _arrow_strings([m.sign for m in maps]).take(row_map),
        "kind": _arrow_strings([kind]).take(first),
        "voxels": _arrow(voxels, voxels >= 0),
        "input structure": _arrow(np.asarray(columns["input structure"], np.int64)),
        "centroid": pa.ListArray.from_arrays(_arrow(np.arange(0, 3 * n + 1, 3, dtype=np.int32)), _arrow(cent.ravel())),
        "volume": _arrow(np.asarray(fields["volume"], np.int64)).take(of_region),
        "fragment": _arrow_strings(list(fields["fragment"])).take(of_region) if "fragment" in fields
        else pa.nulls(n, pa.string()),
        "region": _arrow_strings(list(fields["region"])).take(of_region),
    }
    for c in BATCH_COLUMNS[len(arrays):]:
        v = np.asarray(columns[c], np.float64) if c in columns else np.full(n, np.nan)
        arrays[c] = _arrow(v, ~np.isnan(v))
    return pa.table([arrays[c] for c in BATCH_COLUMNS], schema=batch_schema())


def _assign_maps(smaps, maps, lower_threshold, minsize):
    """Assign a chunk of read maps in one engine pass to each atlas: (Arrow table or None, keys, maps outside the
    grid of the first atlas). Maps declared in another space than an atlas's are pulled onto its grid through
    the transforms (:mod:`gpusiibra.spaces`), their peaks warped."""
    import pyarrow as pa

    if not maps:
        return None, [], []
    declared = any(m.image.space is not None for m in maps)
    if declared:
        from .spaces import engine_pulls, points_to_atlas
    results = _engine.assign_chunk(list(smaps), [m.image for m in maps], minsize, lower_threshold,
                                   pulls=engine_pulls if declared else None)
    tables = []
    with_peaks = [i for i, m in enumerate(maps) if m.peaks is not None and len(m.peaks)]
    for smap, res in zip(smaps, results):
        if len(res.row_map):
            tables.append(_rows_table(maps, "component", res.columns, res.row_map, smap))
        if with_peaks:  # every peak of the chunk in one point assignment per atlas
            counts = np.array([len(maps[i].peaks) for i in with_peaks])
            owner = np.repeat(np.asarray(with_peaks), counts)
            first = np.repeat(np.cumsum(counts) - counts, counts)
            peaks = [maps[i].peaks if maps[i].image.space is None else
                     points_to_atlas(maps[i].peaks, maps[i].image.space, smap) for i in with_peaks]
            cols = _assign.assign_points(smap, np.concatenate(peaks), 0.0)
            point = np.asarray(cols["input structure"], np.int64)
            if len(point):
                cols["input structure"] = point - first[point]  # the peak's number in its map
                tables.append(_rows_table(maps, "peak", cols, owner[point], smap))
    outside = [(m.input, m.frame) for m, st in zip(maps, results[0].status) if st == "outside"]
    keys = [(m.input, m.frame, m.sign) for m in maps]
    return (pa.concat_tables(tables) if tables else None), keys, outside


def _declared(path, maps, space, smaps, notes):
    """A file's maps with the space the user declared (``space``; the engine warps them into each atlas's
    space), or the error that refuses the file (its name or sidecar says another space). Without ``space``, a
    file whose name or sidecar says another space than an atlas's adds a note."""
    from .spaces import input_space, resolve_space

    try:
        for smap in smaps:
            _, note = input_space(path, space, smap)
            if note and not any(p == path for p, _ in notes):
                notes.append((path, note))
    except GpusiibraError as e:
        return e
    user = resolve_space(space)
    for m in maps:
        if not isinstance(m, Exception):  # a volume's own error stays in its place
            m.image.space = user.name if user is not None else None
    return maps


def _assign_read(smap, paths, results, kw, done):
    """Assign the read maps of some files that are not done: (table, keys, errors, outside, space notes)."""
    maps, errors, spaces = [], [], []
    for unit, result in zip(paths, results):
        path = unit_path(unit)
        if not isinstance(result, Exception) and result:
            result = _declared(path, result, kw.get("space"), smap, spaces)
        if isinstance(result, Exception):
            errors.append((path, getattr(result, "reason", str(result))))
            continue
        errors.extend((path, e.reason) for e in result if isinstance(e, Exception))  # a volume's error
        result = [m for m in result if not isinstance(m, Exception)]
        maps.extend(m for m in result if (m.input, m.frame, m.sign) not in done)
        if result and result[0].space:
            spaces.append((path, result[0].space))
    try:
        table, keys, outside = _assign_maps(smap, maps, kw["lower_threshold"], kw["minsize"])
    except MemoryError as e:  # CuPy's OutOfMemoryError is one too
        from .errors import BackendError

        where = "GPU" if backend.get_backend() == "gpu" else "host"
        raise BackendError(f"out of {where} memory assigning a chunk of {len(paths)} files ({len(maps)} maps; "
                           f"{type(e).__name__}: {str(e)[:120]}): run again with a smaller chunk_size "
                           "and resume=True; the chunks written so far are kept") from None
    return table, keys, errors, outside, spaces


def assign_files(smap, paths, threshold=None, two_sided=False, lower_threshold=0.0, minsize=1,
                 peaks=False, mindist=5, done=frozenset(), space=None):
    """Read and assign the maps of some files: (Arrow table or None, finished map keys, errors, maps outside,
    (path, reason) of the files whose header says they may not be in MNI152 space)."""
    kw = dict(lower_threshold=lower_threshold, minsize=minsize, space=space)
    reads = [safe_read(p, threshold, two_sided, peaks, mindist) for p in paths]
    return _assign_read(atlas_list(smap), paths, reads, kw, done)


def assign_batch(atlas, inputs, out=None, *, threshold=None, two_sided=False, lower_threshold=0.0, minsize=1,
                 peaks=False, mindist=5, resume=False, chunk_size=None, readers=None, workers=None, scheduler=None,
                 progress=True, space=None):
    """Assign many maps to every region of an atlas, or of several atlases in one pass.

    Parameters
    ----------
    atlas : SparseMap or list of SparseMap
        The atlas, or several (:func:`gpusiibra.assign_batch` takes their names): each input is read once,
        resampled and labelled once per atlas grid, and assigned to each atlas by that atlas's rules
        (probabilistic or labelled); the rows say which in the ``atlas`` column.
    inputs : list of paths, folders or globs
        NIfTI files (.nii, .nii.gz); every volume of a 4D file is one map.
    out : path, optional
        A Parquet dataset folder, written as the run goes (see
        :mod:`gpusiibra.dataset`); its parent folder must exist. Without it the
        rows are returned as a DataFrame.
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
        Continue an existing ``out`` dataset, skipping finished maps. The
        settings above and the atlas must be those the dataset was started with.
    chunk_size : int, optional
        Maps (volumes) per chunk: one engine pass and one part file per chunk, so that memory is bounded by
        it; a 4D file of more volumes is split across chunks (each part resumable). Default 256 on the GPU
        backend, 32 on the CPU.
    readers : int, optional
        Reader processes (threads for fewer than 16 files) that read, inflate, threshold and sparsify
        files ahead of the computation; default: one per CPU core.
    workers, scheduler : int or str, optional
        Spread chunks over dask.distributed workers: a local cluster of
        ``workers`` processes, or the scheduler at ``scheduler`` (the atlas is
        sent to each worker once).
    progress : bool
        Show a tqdm progress bar (one step per file assigned).
    space : str, optional
        The inputs' template space (:mod:`gpusiibra.spaces`: ``"MNI152NLin6Asym"``/``"FSL"``, ``"MNI305"``...):
        each map is pulled onto each atlas's grid through the published transforms into that atlas's space,
        in one interpolation, and its peaks warped; a file whose BIDS name or sidecar says another space is
        refused (an error of that file). ``"MNI"`` takes the maps as they are (siibra's behaviour) and says
        that files whose header says scanner or Talairach coordinates, or whose grid misses most of the MNI
        brain, are in MNI. Default: nothing warped; such files, and files whose name or sidecar names another
        space than the atlas's, are warned about once and counted in the summary.

    Returns
    -------
    (DataFrame or None, BatchSummary)
        The rows (when ``out`` is None) and the run's summary.

    Raises
    ------
    OptionError
        For an option out of its range (before anything is read).
    DatasetError
        When ``out`` is being written by another run, exists without
        ``resume``, was started with other settings, or cannot be written.

    Examples
    --------
    >>> import gpusiibra
    >>> table, summary = gpusiibra.get_map().assign_batch(["example:motor"], threshold=3.0, progress=False)
    >>> summary.maps, summary.failures
    (1, 0)
    """
    from tqdm.auto import tqdm

    _check_options(threshold, lower_threshold, minsize, mindist, chunk_size, readers, workers)
    smap = atlas_list(atlas)
    if minsize != 1 and any(_engine.is_labelled(a) for a in smap):
        warnings.warn(f"labelled atlases keep components of every size (siibra's Map.assign does not apply "
                      f"minsize={minsize}); it applies to the probabilistic ones", RuntimeWarning, stacklevel=2)
    readers = readers or os.cpu_count() or 1
    if chunk_size is None:
        chunk_size = 256 if backend.get_backend() == "gpu" else 32
    t0 = time.perf_counter()
    paths, missing = expand_inputs(inputs)
    errors = list(missing)
    settings = dict(threshold=None if threshold is None else float(threshold), two_sided=bool(two_sided),
                    lower_threshold=float(lower_threshold), minsize=int(minsize), peaks=bool(peaks),
                    mindist=int(mindist))
    from .spaces import image_space_record, mixed_spaces_note

    if space is not None:  # checked (and its transforms fetched) before anything is read
        settings.update(image_space_record(space, smap))
    elif mixed_spaces_note(smap):
        warnings.warn(mixed_spaces_note(smap), RuntimeWarning, stacklevel=2)
    for item, reason in missing:  # said at once, not only in the errors file
        print(f"error: {item}: {reason}", file=sys.stderr)
    dask = _dask_client(workers, scheduler) if workers or scheduler else None  # checked before anything is made
    try:
        ds = Dataset(out, resume, settings, atlas_identity(smap)) if out is not None else None
    except BaseException:
        _close_dask(dask)
        raise
    try:
        if ds is not None:
            paths = ds.recorded_names(paths)
            ds.check_inputs(paths)
        summary, tables = _run(smap, paths, errors, ds, settings, chunk_size, readers, dask, progress, tqdm, space)
    except BaseException:
        if ds is not None:
            ds.discard_if_empty()
            ds.close()
        raise
    finally:
        _close_dask(dask)
    summary.seconds = time.perf_counter() - t0
    if summary.outside:
        warnings.warn(_outside_message(summary.outside_maps), RuntimeWarning, stacklevel=2)
    result = None
    if ds is not None:
        summary.out = ds.out
        summary.errors_file = errors_path(out)
        write_errors(summary.errors_file, errors)
        warned = dict(summary.space)  # a 4D file's volumes in several chunks: listed once
        if resume:  # the maps a resumed run does not read again keep their warnings (they are in the dataset)
            from .dataset import read_errors

            before, _ = read_errors(warnings_path(out), header=("input", "warning"))
            warned = {**dict(zip(before["input"], before["warning"])), **warned}
        warned = list(warned.items())
        write_errors(warnings_path(out), warned, header=("input", "warning"))
        summary.warnings_file = warnings_path(out) if warned else None
        if ds.discard_if_empty():  # nothing assigned: no dataset left behind to refuse the next run
            summary.out = None
        else:
            ds.finish({"seconds": round(summary.seconds, 3), "maps": summary.maps, "rows": summary.rows,
                       "failures": summary.failures, "outside": summary.outside})
        ds.close()
    else:
        tables = [t for t in tables if t is not None]
        if tables:
            import pyarrow as pa

            result = pa.concat_tables(tables).to_pandas()
        else:
            result = batch_schema().empty_table().to_pandas()
        if result["fragment"].isna().all():  # as siibra drops its empty columns (a dataset keeps its schema)
            result = result.drop(columns="fragment")
        result.attrs["errors"] = errors
    return result, summary


def _run(smap, paths, errors, ds, settings, chunk_size, readers, dask, progress, tqdm, space=None):
    done = frozenset(ds.done) if ds is not None else frozenset()
    summary = BatchSummary(signs=2 if settings["two_sided"] else 1, errors=errors)
    tables = []
    done_by_path = {}
    for path, frame, sign in done:
        done_by_path.setdefault(path, set()).add((frame, sign))
    summary.skipped = sum(len(done_by_path.get(p, ())) for p in dict.fromkeys(paths))  # of these inputs only
    chunks, sizes = _plan(paths, chunk_size, done_by_path, settings["two_sided"])
    kw = dict({k: settings[k] for k in ("lower_threshold", "minsize")}, space=space)
    # one step per volume whose maps are assigned (not read): the bar agrees with what a stop keeps
    bar = tqdm(total=sum(sizes.values()), unit="map", desc="assigning", disable=not progress, file=sys.stderr)
    frames_seen = set()
    said = set(errors)

    def consume(chunk_units, table, keys, errs, outside, spaces):
        errs = [e for e in errs if e not in said]  # a file that fails in each of its parts: said once
        said.update(errs)
        errors.extend(errs)
        if space is not None:  # the user said the space: only a header that lost the voxels' positions is told
            spaces = [(p, n) for p, n in spaces if n.startswith(NO_ORIENTATION)]
        if spaces and not summary.space:  # warned once, at the first such file, and counted
            path, note = spaces[0]
            if note.startswith(("its name ", "its sidecar ")):  # says another space (gpusiibra.spaces)
                tqdm.write(f"warning: {path}: {note}", file=sys.stderr)
            elif note.startswith(NO_ORIENTATION):
                tqdm.write(f"warning: {path}: {note}: {RESTORE_AFFINE}", file=sys.stderr)
            else:
                tqdm.write(f"warning: {path}: {note}: is it in MNI152 space? The atlas is; if the file is too, "
                           "say --space MNI (space='MNI')", file=sys.stderr)
        summary.space.extend(spaces)
        for path, reason in errs:
            tqdm.write(f"error: {path}: {reason}", file=sys.stderr)
        summary.maps += len(keys)
        summary.outside += len(outside)
        summary.outside_maps.extend(outside)
        frames_seen.update((k[0], k[1]) for k in keys)
        summary.rows += table.num_rows if table is not None else 0
        if writer is not None:
            kept = {k[0] for k in keys}
            writer.put(table, keys, [p for p in dict.fromkeys(map(unit_path, chunk_units)) if p in kept])
        else:
            tables.append(table)

    read_kw = dict(threshold=settings["threshold"], two_sided=settings["two_sided"], peaks=settings["peaks"],
                   mindist=settings["mindist"])
    stamps = {}  # each file's checksum taken once (a 4D file's volumes go to several parts), in the writer's thread

    def write(table, keys, paths):
        ds.write(table, keys, {p: stamps[p] if p in stamps else stamps.setdefault(p, file_stamp(p)) for p in paths})

    writer = Writer(write) if ds is not None else None
    try:
        if dask is not None:
            for ch, result in _run_dask(dask[0], _dask_task, smap, chunks, dict(kw, **read_kw), done):
                consume(ch, *result)
                bar.update(sum(sizes[u] for u in ch))
        else:
            work = lambda paths, results: _assign_read(smap, paths, results, kw, done)  # noqa: E731
            warm = lambda: _engine.warm_caches(smap, kw["lower_threshold"])  # noqa: E731
            for ch, result in run_local(work, chunks, readers, read_kw, warm):
                consume(ch, *result)
                bar.update(sum(sizes[u] for u in ch))
    finally:
        close_cursors()
        if writer is not None:
            writer.close()  # what was computed is written, even when the run stops
    bar.close()
    summary.inputs = len({p for p, _ in frames_seen})
    summary.frames = len(frames_seen)
    summary.failures = len(errors)
    return summary, tables


def _outside_message(maps):
    """One line for the maps that lie entirely outside the atlas grid, naming the first."""
    (first, frame), n = maps[0], len({m[0] for m in maps})
    which = f"{first}" + (f" (volume {frame})" if frame else "") + \
        (f" and {_n(n - 1, 'more file')}" if n > 1 else "")
    if len(maps) == 1:
        return (f"1 map lies entirely outside the atlas grid, so it has no rows: {which}; check its affine (is it in "
                "the atlas's space, in mm?)")
    return (f"{len(maps)} maps lie entirely outside the atlas grid, so they have no rows: {which}; check their "
            "affines (are they in the atlas's space, in mm?)")


def _plan(paths, chunk_size, done_by_path, two_sided):
    """The chunks of a run: lists of units (a path: the whole file; ``(path, start, stop)``: some volumes of a
    4D file), each chunk at most ``chunk_size`` volumes, so that memory is bounded by the chunk size however
    many volumes a file holds (its volumes then go to several chunks, each resumable). Units whose maps are
    all done are left out. Also each unit's number of volumes (the progress bar's steps)."""
    signs = ("+", "-") if two_sided else ("+",)
    chunks, sizes, current, room = [], {}, [], chunk_size

    def add(unit, n):
        nonlocal current, room
        if n > room and current:
            chunks.append(current)
            current, room = [], chunk_size
        current.append(unit)
        sizes[unit] = n
        room -= n

    for path in paths:
        done_maps = done_by_path.get(path) or set()
        n = n_volumes(path)  # the header alone; -1 when unreadable (the reader says why)
        if n <= chunk_size:
            if not (done_maps and n == len({f for f, _ in done_maps}) and
                    all((f, s) in done_maps for f in range(n) for s in signs)):
                add(path, max(n, 1))
            continue
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            if not all((f, s) in done_maps for f in range(start, stop) for s in signs):
                add((path, start, stop), stop - start)
    if current:
        chunks.append(current)
    return chunks, sizes


def atlas_list(atlas) -> tuple:
    """The atlases of a batch as a tuple: a map or a list of maps; two of the same name are refused."""
    maps = list(atlas) if isinstance(atlas, (list, tuple)) else [atlas]
    if not maps:
        raise OptionError("no atlas given")
    for a in maps:
        if not hasattr(a, "sparse_index"):
            raise OptionError(f"not an atlas: {a!r} (gpusiibra.assign_batch takes atlas names)")
    names = [atlas_label(m) for m in maps]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise OptionError(f"the atlas {twice[0]!r} is given twice")
    return tuple(maps)


def _dask_task(smap, paths, kw, done, backend_name):
    with backend.using(backend_name):  # the worker's other tasks keep their own choice
        return paths, assign_files(smap, paths, done=done, **kw)


