"""The batch's readers: files read, inflated, thresholded, signed and made sparse ahead of the engine.

This module imports only what reading needs (NumPy, nibabel, the resampling
inputs), so that reader processes start quickly.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import ImageFileError
from .io.nifti import image_data, load_image, read_image, read_raw, space_note
from .points import PointCloud
from ._sparse_image import DENSE_FRACTION, SparseImage, sparse_entries, sparse_image

__all__ = ["MapInput", "read_map", "read_many", "safe_read", "unit_path", "Readers"]


def _negated_type(x) -> np.dtype:
    """The type that holds -x: unsigned integers, and signed ones holding their most negative value, widened."""
    dtype = np.dtype(np.int8) if x.dtype == bool else x.dtype
    if dtype.kind == "u" or (dtype.kind == "i" and x.size and x.min() == np.iinfo(dtype).min):
        return np.dtype({1: np.int16, 2: np.int32, 4: np.int64}.get(dtype.itemsize, np.float64))
    return dtype


def _negate(x):
    """-x in a type that holds it (:func:`_negated_type`)."""
    return -x.astype(_negated_type(x), copy=False)


@dataclass
class MapInput:
    """One map as a reader hands it over: its key, its nonzero voxels and, when asked, its peaks (mm)."""

    input: str
    frame: int
    sign: str
    image: SparseImage
    peaks: np.ndarray | None = None
    space: str | None = None  # why the file's header says it may not be in MNI152 space (io.nifti.space_note)


def _signed(d, sign, threshold):
    """A frame (scaled, finite) as one map: negated for ``sign`` "-", values below ``threshold`` set to 0."""
    x = _negate(d) if sign == "-" else d
    if threshold is not None:
        x = np.where(x < threshold, 0, x).astype(x.dtype, copy=False)
    return x


def _peaks(x, affine, peaks, mindist):
    if not peaks:
        return None
    from ._peaks import peak_local_max

    ijk = peak_local_max(x, min_distance=mindist) if np.any(x > 0) else np.zeros((0, 3))
    return PointCloud(ijk).transform(affine).coordinates


def _read_with_nibabel(path, threshold, signs, peaks, mindist, frames=None):
    """The maps of a file (or of its volumes ``frames``: ``(start, stop)``) through nibabel's arrays (files the
    fast path does not take, e.g. scaled floats)."""
    if frames is None:
        img = read_image(path)
        data, affine, bad = image_data(img, path, volume_errors=True)
        first = 0
    else:  # only these volumes in memory (nibabel's proxy reads a slice)
        import nibabel as nib

        img = load_image(path)
        start, stop = frames
        arr = np.asanyarray(img.dataobj[..., start:stop])
        arr = arr if arr.ndim == 4 else arr[..., None]
        bad = set()
        if arr.dtype.kind == "f":  # a volume with no finite value: its error (one volume alone is no 3D file)
            bad = set(np.flatnonzero(~np.isfinite(arr).any(axis=(0, 1, 2))).tolist())
            if bad:
                arr = arr.copy()
                arr[..., sorted(bad)] = 0
        data, affine = image_data(nib.Nifti1Image(arr, img.affine, img.header), path)
        data = data if data.ndim == 4 else data[..., None]
        first = start
    note = space_note(img.header, affine, img.shape) if hasattr(img, "header") else None
    stack = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
    out = []
    for t, d in enumerate(stack):
        if t in bad:
            out.append(_all_nonfinite(path, first + t))
            continue
        for sign in signs:
            x = _signed(d, sign, threshold)
            out.append(MapInput(path, first + t, sign, sparse_image(x, affine), _peaks(x, affine, peaks, mindist),
                                note))
    return out


def _all_nonfinite(path, frame):
    """The error of a 4D file's volume that holds no finite value (a 3D file's is the file's error)."""
    return ImageFileError(path, f"volume {frame}: every value is NaN or infinite")


def _nonfinite(path, raw, first=0, whole=True):
    """The volumes of a float file (``raw``: its volumes ``first`` on) whose every value is NaN or infinite (an
    error for a 3D file); the other non-finite values counted in one warning, as :func:`image_data` gives it."""
    v = raw.voxels
    if v.dtype.kind != "f" or np.isfinite(np.add.reduce(v, dtype=np.float64)):
        return set()
    finite = np.isfinite(v).reshape(-1, int(np.prod(raw.shape[:3])))
    counts = finite.sum(axis=1)
    if len(raw.shape) == 3 and counts[0] == 0:
        raise ImageFileError(path, "every value is NaN or infinite")
    empty = {first + t for t in np.flatnonzero(counts == 0).tolist()}
    bad = int(sum(finite.shape[1] - c for c in counts if c))
    if bad:
        last = first + finite.shape[0] - 1
        where = path if whole else f"{path} (volume{f' {first}' if last == first else f's {first} to {last}'})"
        warnings.warn(f"{where}: {bad} non-finite values set to 0", RuntimeWarning, stacklevel=3)
    return empty


def _sparse_frame(raw, r, sign, threshold):
    """One map of a frame straight from the stored voxels ``r`` (file order): the kept voxels are found in
    the file's own type, scaled, negated and tested exactly as the dense path does, and only their indices
    are turned into C order. None when the map is mostly nonzero (it is then handed over dense)."""
    nx, ny, nz = raw.shape[:3]
    if threshold is not None and threshold > 0:  # a superset of the kept voxels, tested exactly below
        bound = threshold if not raw.scaled else threshold / float(raw.slope) * (1 - 1e-6)
        cand = r >= bound if sign == "+" else r <= -bound
    else:
        cand = r != 0
    f = np.flatnonzero(cand)
    if f.size > DENSE_FRACTION * r.size:
        return None
    v = raw.scale(r[f]) if raw.scaled else r[f]
    dtype = raw.dtype
    if sign == "-":
        if dtype.kind in "iu":  # unscaled integers: r holds the frame's values (scaled ones are floats)
            dtype = _negated_type(r)
        v = -v.astype(dtype, copy=False)
    keep = v != 0
    if dtype.kind == "f":
        keep &= np.isfinite(v)  # non-finite values are 0 (a warning per file says how many)
    if threshold is not None:
        keep &= ~(v < threshold)
    f, v = f[keep], v[keep]
    rest = f // nx
    c = ((f % nx) * ny + rest % ny) * nz + rest // ny  # the kept voxels' C-order indices
    o = np.argsort(c, kind="stable")
    return sparse_entries(raw.shape[:3], raw.affine, dtype, c[o], v[o])


def _dense_frame(raw, r, sign, threshold):
    """:func:`_signed` of a whole frame (for maps handed over dense)."""
    d = r.reshape(raw.shape[:3], order="F")
    if raw.scaled:
        d = raw.scale(d)
    if d.dtype.kind == "f":
        d = np.where(np.isfinite(d), d, 0).astype(d.dtype, copy=False)
    return _signed(d, sign, threshold)


def read_map(path, threshold, two_sided, peaks=False, mindist=5, frames=None):
    """Maps of one file, thresholded, signed and made sparse: list of :class:`MapInput`; raises ImageFileError.

    ``frames``: ``(start, stop)``, only these volumes of a 4D file (the rest is neither kept nor, for a
    ``.nii.gz`` read in order, inflated twice). A volume of a 4D file whose every value is NaN or infinite
    is an :class:`ImageFileError` in the list, in its place (a 3D file's raises, as the file's).

    The data keep their type (a float64 map stays float64; an integer map stays
    integer, as siibra resamples it), so nothing is lost to a narrower type.
    The values are nibabel's (``np.asanyarray(img.dataobj)``, scale factors
    applied); plain files are read without nibabel's whole-array passes
    (:func:`gpusiibra.io.nifti.read_raw`), the others through nibabel.
    """
    signs = ("+", "-") if two_sided else ("+",)
    raw = read_raw(path, frames)
    if raw is None:
        return _read_with_nibabel(path, threshold, signs, peaks, mindist, frames)
    first = frames[0] if frames is not None else 0
    empty = _nonfinite(path, raw, first, whole=frames is None)
    n = raw.shape[3] if len(raw.shape) == 4 else 1
    out = []
    for t in range(n):
        if first + t in empty:
            out.append(_all_nonfinite(path, first + t))
            continue
        r = raw.frame(t)
        for sign in signs:
            img = _sparse_frame(raw, r, sign, threshold)
            if img is None:
                img = sparse_image(_dense_frame(raw, r, sign, threshold), raw.affine)
            pk = _peaks(img.dense(), raw.affine, peaks, mindist) if peaks else None
            out.append(MapInput(path, first + t, sign, img, pk, raw.space))
    return out


def unit_path(unit) -> str:
    """The file of a unit of work: a path (the whole file), or ``(path, start, stop)`` (some of its volumes)."""
    return unit if isinstance(unit, str) else unit[0]


def read_many(paths, threshold, two_sided, peaks=False, mindist=5):
    """:func:`safe_read` of several files or parts of files (one task of a reader process)."""
    return [safe_read(p, threshold, two_sided, peaks, mindist) for p in paths]


def safe_read(unit, threshold, two_sided, peaks=False, mindist=5):
    """:func:`read_map` of a file (or of ``(path, start, stop)``: some of its volumes), or the
    :class:`ImageFileError` that says why the file cannot be used."""
    path, frames = (unit, None) if isinstance(unit, str) else (unit[0], tuple(unit[1:]))
    try:
        return read_map(path, threshold, two_sided, peaks, mindist, frames)
    except ImageFileError as e:
        return e
    except MemoryError:
        return ImageFileError(path, "out of memory while reading")
    except Exception as e:  # a reader failing in an unforeseen way must not stop the batch
        return ImageFileError(path, f"{type(e).__name__}: {e}")


def _keep_heap():
    """Keep freed memory in this process's heap (glibc): a map's ~10 MB of temporaries (a reader's), a chunk's
    tens of MB (the engine's) are then reused by the next map or chunk instead of being returned to the system
    and faulted in afresh (2,500+ page faults a map). Threads started from here on allocate from the main heap
    too: glibc gives each thread an arena of its own, whose extra heaps are unmapped whenever they fall empty,
    whatever the trim threshold (with 2 engine and 2 reader threads, 200k page faults and 2-3 s of system time
    in a run of 300 maps; 80k with one arena). Nothing elsewhere than Linux with glibc."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: the largest glibc allows; bigger blocks still mmap
        libc.mallopt(-1, 1 << 30)   # M_TRIM_THRESHOLD: give memory back only beyond 1 GiB of free heap
        libc.mallopt(-8, 1)         # M_ARENA_MAX: new threads share the main arena (which keeps its heap)
    except (OSError, AttributeError):
        pass


def _exit_with(parent: int):
    """End this process when ``parent`` has gone (killed with SIGKILL, say): nothing else would end it."""
    import time

    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(1)


def _reader_init(parent: int):
    """Reader processes compute on the CPU only (never touching a GPU), keep their heap, and end with the
    process that started them."""
    import threading

    from . import backend

    backend.set_backend("cpu")
    _keep_heap()
    threading.Thread(target=_exit_with, args=(parent,), name="gpusiibra-parent-watch", daemon=True).start()


class Readers:
    """The pool that reads, thresholds and sparsifies files ahead of the engine.

    Processes (no GIL between decompression and the engine) for runs of many files with 3 readers or more,
    threads otherwise (no start-up cost; on 2 cores they leave the engine a core). A process task reads several files (one future per file would cost the parent
    more than the reading does at high rates). A reader process that dies (out of memory, say) does not
    lose the batch: the files it held are read again by threads, and the rest of the run reads with
    threads. Reader processes end with the run, without waiting for idle ones, and end by themselves when
    the run's process is killed.
    """

    PROCESSES_FROM = 16  # files in a run from which reader processes pay for their start-up
    PROCESS_READERS_FROM = 3  # readers from which they are processes: with 2, the engine and two reader
    # processes share 2 cores, and threads (which inflate and threshold without the GIL) are faster
    FILES_PER_TASK = 8

    def __init__(self, workers, n_files, read_kw):
        from concurrent.futures import ProcessPoolExecutor

        self.read_kw = read_kw
        self.workers = max(1, int(workers))
        self.pool = None
        if self.workers >= self.PROCESS_READERS_FROM and n_files >= self.PROCESSES_FROM:
            import multiprocessing

            # spawn: a forked child of a process that holds a CUDA context is not safe
            self.pool = ProcessPoolExecutor(min(self.workers, os.cpu_count() or 1),
                                            mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_reader_init, initargs=(os.getpid(),))
        self.threads = ThreadPoolExecutor(self.workers)

    def read(self, paths):
        """Start reading ``paths``: a handle for :meth:`results`."""
        if self.pool is None:
            return [([p], self.threads.submit(read_many, [p], **self.read_kw)) for p in paths]
        per = max(1, min(self.FILES_PER_TASK, -(-len(paths) // self.workers)))
        groups = [paths[i:i + per] for i in range(0, len(paths), per)]
        return [(g, self.pool.submit(read_many, g, **self.read_kw)) for g in groups]

    def results(self, paths, handle):
        """What :func:`safe_read` gives for each of ``paths`` (those given to :meth:`read`), in order."""
        from concurrent.futures.process import BrokenProcessPool

        out = []
        for group, f in handle:
            try:
                got = f.result()
            except BrokenProcessPool:
                if self.pool is not None:
                    self._end_processes()
                    warnings.warn("a reader process ended abruptly (out of memory?); reading on with threads",
                                  RuntimeWarning, stacklevel=2)
                got = self.threads.submit(read_many, group, **self.read_kw).result()
            out.extend(got)
        return out

    def _end_processes(self):
        """Stop the reader processes now: their work is done or abandoned, nothing is waited for."""
        pool, self.pool = self.pool, None
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self._end_processes()
        self.threads.shutdown(wait=True, cancel_futures=True)
