"""Chunks of a batch on dask.distributed workers: a local cluster (dask-cuda's on GPUs) or a scheduler, reached
before anything is read or written; the atlas sent to each worker once; a bounded number of chunks in flight."""
from __future__ import annotations

import itertools
import logging
import warnings

from . import backend
from .errors import DependencyError

__all__ = []

#: the log level of our own local cluster's workers: a failure reaches the run as the task's exception, and
#: the workers' shutdown chatter (a heartbeat to a scheduler that has just closed) would print tracebacks
_QUIET = logging.CRITICAL


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
            return LocalCUDACluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                                    silence_logs=_QUIET)
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=_QUIET)


def _dask_client(workers, scheduler):
    """(client, local cluster or None): the dask scheduler reached, or a local cluster started, before
    anything is read or written (a missing dask or an unreachable scheduler is one line, and leaves nothing)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise DependencyError("--workers/--scheduler need dask.distributed: pip install 'gpusiibra[dask]'") from None
    if scheduler:
        return _connect(Client, scheduler), None
    cluster = _local_cluster(int(workers), backend.get_backend())
    return Client(cluster), cluster


def _close_dask(dask):
    if dask is not None:
        client, cluster = dask
        client.close()
        if cluster is not None:
            cluster.close()


def _run_dask(client, task, smap, chunks, kw, done):
    """Yield (paths, result) of the chunks from dask workers, keeping a bounded number of chunks in flight.

    The atlas is sent to every worker once (``Client.scatter`` with ``broadcast``); each task refers to it.
    """
    from dask.distributed import as_completed

    atlas = client.scatter(smap, broadcast=True, hash=False)
    done = frozenset(done)
    slots = 2 * max(1, sum(client.nthreads().values()))  # two chunks per worker thread: busy, bounded memory
    pending = iter(chunks)

    def submit(ch):
        return client.submit(task, atlas, ch, kw, done, backend.get_backend(), pure=False)

    running = as_completed([submit(ch) for ch in itertools.islice(pending, slots)])
    for fut in running:
        result = fut.result()
        fut.release()
        nxt = next(pending, None)
        if nxt is not None:
            running.add(submit(nxt))
        yield result


def _connect(Client, scheduler, timeout=10):
    """A dask client of the scheduler at ``scheduler``, or an OptionError that names it."""
    from .errors import BackendError

    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise BackendError(f"cannot reach the dask scheduler at {scheduler} within {timeout} s "
                           f"({type(e).__name__}: {e})") from None
