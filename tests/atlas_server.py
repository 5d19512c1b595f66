"""A real HTTP server on 127.0.0.1 (the standard library's, in a thread) that serves atlas files for the tests.

Each path can be told to misbehave: ``cut`` (announce the full length, send half, close), ``corrupt``
(bytes changed in the middle, same length), ``stall`` (send half, then nothing for ``stall`` seconds), or
answer ``404``/``500``. ``hits`` counts the requests per
path; ``delay`` slows every response down (to make two fetching processes overlap).
"""
from __future__ import annotations

import collections
import functools
import os
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

import gpusiibra
from gpusiibra import atlases
from gpusiibra.io import siibra_v1


class AtlasServer:
    def __init__(self):
        self.files = {}
        self.modes = {}
        self.hits = collections.Counter()
        self.delay = 0.0
        self.stall = 5.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                server.hits[path] += 1
                mode = server.modes.get(path, "ok")
                if mode in (404, 500) or path not in server.files:
                    self.send_error(mode if mode == 500 else 404)
                    return
                data = server.files[path]
                if mode == "corrupt":
                    mid = len(data) // 2
                    data = data[:mid] + bytes(b ^ 0x5A for b in data[mid:mid + 64]) + data[mid + 64:]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if server.delay:
                    time.sleep(server.delay)
                if mode == "stall":  # half the data, then nothing (a mirror that hangs mid-transfer)
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    time.sleep(server.stall)
                    self.close_connection = True
                    return
                if mode == "cut":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def put(self, url: str, data: bytes):
        """Serve ``data`` at the path of ``url`` (whatever its host: the client comes through the mirror)."""
        self.files[urllib.parse.urlsplit(url).path] = data

    def path(self, url: str) -> str:
        return urllib.parse.urlsplit(url).path

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


def v1_bytes(index) -> dict:
    """The three v1 files of ``index`` as siibra writes them, by part."""
    with tempfile.TemporaryDirectory() as d:
        siibra_v1.write_prefix(index, os.path.join(d, "x"))
        out = {}
        for part, suffix in siibra_v1.SUFFIXES.items():
            with open(os.path.join(d, "x" + suffix), "rb") as f:
                out[part] = f.read()
    return out


def serve_sparse_index(server: AtlasServer, entry, index):
    """Put the v1 files of ``index`` at the entry's sparse-index URLs; returns their paths."""
    raw = v1_bytes(index)
    urls = entry.sparse_index_urls()
    for part, data in raw.items():
        server.put(urls[part], data)
    return {part: server.path(u) for part, u in urls.items()}


@functools.lru_cache(maxsize=1)
def julich_in_catalog_order():
    """(entry, index, v1 bytes): the test atlas (the embedded top-2 Julich-Brain 3.1) with its regions in the
    order of the catalog's julich-3.1 (siibra's volume order; the names are the same)."""
    top2 = gpusiibra.get_map("julich-3.1-top2")
    entry = atlases.get_entry("julich-3.1")
    new_id = np.array([entry.regions.index(r) for r in top2.regions])
    ix = top2.sparse_index
    rows = np.repeat(np.arange(ix.n_rows), np.diff(ix.row_ptr))
    index = gpusiibra.SparseIndex.from_entries(ix.shape, ix.affine, new_id[ix.entry_region], ix.row_voxel[rows],
                                               ix.entry_value, n_regions=len(entry.regions))
    return entry, index, v1_bytes(index)


def serve_julich(server: AtlasServer):
    """Serve :func:`julich_in_catalog_order` at julich-3.1's sparse-index paths; returns (entry, index)."""
    entry, index, raw = julich_in_catalog_order()
    urls = entry.sparse_index_urls()
    for part, data in raw.items():
        server.put(urls[part], data)
    return entry, index
