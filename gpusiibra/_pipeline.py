"""The batch's local pipeline: readers ahead of the engine threads, and a writer thread behind them.

Files are read (inflated, thresholded, made sparse) by :class:`gpusiibra._readers.Readers` ahead of the chunks
being assigned; on the CPU two chunks are assigned at once (NumPy releases the GIL in the engine's passes); a
chunk is written by :class:`Writer` while the next ones are assigned.
"""
from __future__ import annotations

import os

from . import backend
from ._readers import Readers

__all__ = ["Writer", "engine_threads", "run_local"]


class Writer:
    """Writes chunks to the dataset in a thread of its own, in order, at most two behind the engine (so that
    the next chunk is computed while the last one is written); a write error surfaces at the next chunk.
    ``write(*chunk)`` is called in that thread for each ``put(*chunk)``."""

    def __init__(self, write):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.write = write
        self.pool = ThreadPoolExecutor(1)
        self.pending = deque()

    def put(self, *chunk):
        while len(self.pending) >= 2:
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self.write, *chunk))

    def close(self):
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True)


def engine_threads() -> int:
    """Chunks assigned at once in this process: 2 on the CPU backend with 2 cores or more (NumPy releases
    the GIL in the engine's array passes: 1.6x on 2 cores for realistic maps), 1 on the GPU (one stream)."""
    return 1 if backend.get_backend() == "gpu" else min(2, os.cpu_count() or 1)


def run_local(work, chunks, readers, read_kw, warm=None):
    """Yield (paths, ``work(paths, read results)``) of each chunk in order: files read ahead by the readers,
    chunks worked on by :func:`engine_threads` threads, each on the caller's backend. ``warm``: a callable that
    makes what every chunk shares (the atlas's caches), run in a thread of its own while the first files are
    read; the engines then start on two chunks at once, from the first (without it, or with one engine, the
    first chunk is worked on alone and makes the caches once). The process keeps its freed heap from here on (as
    reader processes do)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    n_engines = engine_threads()
    from . import _kernels
    from ._readers import _keep_heap

    # the engine's temporaries (tens of MB a chunk) reused from one chunk to the next instead of being given back
    # to the system and faulted in afresh: a quarter of the CPU was system time (Linux with glibc only)
    _keep_heap()
    together = warm is not None and n_engines > 1 and len(chunks) > 1

    with Readers(readers, sum(len(c) for c in chunks), read_kw) as pool, \
            ThreadPoolExecutor(n_engines, thread_name_prefix="gpusiibra-engine") as engines, \
            ThreadPoolExecutor(1, thread_name_prefix="gpusiibra-warm") as warming:
        reads = deque((ch, pool.read(ch)) for ch in chunks[:n_engines + 1])  # read ahead of the engines
        if chunks:
            _kernels.warm()  # the kernels compiled (or loaded) while the first files are read
        if together:
            ready = warming.submit(backend.carry(warm))
            work = _after(ready, work)
        upcoming = iter(chunks[n_engines + 1:])
        running = deque()
        try:
            for i in range(len(chunks)):
                ch, handle = reads.popleft()
                nxt = next(upcoming, None)
                if nxt is not None:
                    reads.append((nxt, pool.read(nxt)))
                results = pool.results(ch, handle)
                if (i == 0 and not together) or n_engines == 1:
                    yield ch, work(ch, results)
                    continue
                running.append((ch, engines.submit(backend.carry(work), ch, results)))
                while len(running) >= n_engines:
                    done_ch, fut = running.popleft()
                    yield done_ch, fut.result()
            while running:
                done_ch, fut = running.popleft()
                yield done_ch, fut.result()
        finally:
            for _, fut in running:
                fut.cancel()


def _after(ready, work):
    """``work``, started once the future ``ready`` is done (its error raised in its place)."""
    def run(*args):
        ready.result()
        return work(*args)
    return run
