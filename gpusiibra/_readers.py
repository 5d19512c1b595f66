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
from .io.nifti import image_data, read_image
from .points import PointCloud
from ._resample import SparseImage, sparse_image

__all__ = ["MapInput", "read_map", "safe_read", "Readers"]


def _negate(x):
    """-x in a type that holds it (unsigned and most-negative integers are widened)."""
    if x.dtype == bool:
        x = x.astype(np.int8)
    if x.dtype.kind == "u" or (x.dtype.kind == "i" and x.size and x.min() == np.iinfo(x.dtype).min):
        wider = {1: np.int16, 2: np.int32, 4: np.int64}.get(x.dtype.itemsize, np.float64)
        x = x.astype(wider)
    return -x


@dataclass
class MapInput:
    """One map as a reader hands it over: its key, its nonzero voxels and, when asked, its peaks (mm)."""

    input: str
    frame: int
    sign: str
    image: SparseImage
    peaks: np.ndarray | None = None


def read_map(path, threshold, two_sided, peaks=False, mindist=5):
    """Maps of one file, thresholded, signed and made sparse: list of :class:`MapInput`; raises ImageFileError.

    The data keep their type (a float64 map stays float64; an integer map stays
    integer, as siibra resamples it), so nothing is lost to a narrower type.
    """
    data, affine = image_data(read_image(path), path)
    frames = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
    out = []
    for t, d in enumerate(frames):
        for sign in ("+", "-") if two_sided else ("+",):
            x = _negate(d) if sign == "-" else d
            if threshold is not None:
                x = np.where(x < threshold, 0, x).astype(x.dtype, copy=False)
            pk = None
            if peaks:
                from .volumes import peak_local_max

                ijk = peak_local_max(x, min_distance=mindist) if np.any(x > 0) else np.zeros((0, 3))
                pk = PointCloud(ijk).transform(affine).coordinates
            out.append(MapInput(path, t, sign, sparse_image(x, affine), pk))
    return out


def safe_read(path, threshold, two_sided, peaks=False, mindist=5):
    """:func:`read_map`, or the :class:`ImageFileError` that says why the file cannot be used."""
    try:
        return read_map(path, threshold, two_sided, peaks, mindist)
    except ImageFileError as e:
        return e
    except MemoryError:
        return ImageFileError(path, "out of memory while reading")
    except Exception as e:  # a reader failing in an unforeseen way must not stop the batch
        return ImageFileError(path, f"{type(e).__name__}: {e}")


def _reader_init():
    """Reader processes compute on the CPU only (never touching a GPU)."""
    from . import backend

    backend.set_backend("cpu")


class Readers:
    """The pool that reads, thresholds and sparsifies files ahead of the engine.

    Processes (no GIL between decompression and the engine) for runs of many files, threads for a few
    (no start-up cost). A reader process that dies (out of memory, say) does not lose the batch: the
    files it held are read again by threads, and the rest of the run reads with threads.
    """

    PROCESSES_FROM = 16  # files in a run from which reader processes pay for their start-up

    def __init__(self, workers, n_files, read_kw, on_read=None):
        from concurrent.futures import ProcessPoolExecutor

        self.read_kw = read_kw
        self.on_read = on_read
        workers = max(1, int(workers))
        self.pool = None
        if workers > 1 and n_files >= self.PROCESSES_FROM:
            import multiprocessing

            # spawn: a forked child of a process that holds a CUDA context is not safe
            self.pool = ProcessPoolExecutor(min(workers, os.cpu_count() or 1),
                                            mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_reader_init)
        self.threads = ThreadPoolExecutor(workers)

    def read(self, paths):
        pool = self.pool or self.threads
        futures = [pool.submit(safe_read, p, **self.read_kw) for p in paths]
        if self.on_read is not None:
            for f in futures:
                f.add_done_callback(self.on_read)
        return futures

    def results(self, paths, futures):
        from concurrent.futures.process import BrokenProcessPool

        out = []
        for p, f in zip(paths, futures):
            try:
                out.append(f.result())
            except BrokenProcessPool:
                if self.pool is not None:
                    self.pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = None
                    warnings.warn("a reader process ended abruptly (out of memory?); reading on with threads",
                                  RuntimeWarning, stacklevel=2)
                out.append(self.threads.submit(safe_read, p, **self.read_kw).result())
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.threads.shutdown(wait=True, cancel_futures=True)
