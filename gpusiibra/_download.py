"""Downloads of atlas files: the mirror setting, pooch with one-line errors, and the size and SHA-256 of each
file recorded at its first complete download (a later download that differs is refused)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import urllib.parse

import numpy as np

from .errors import AtlasFileError, DownloadError, OptionError
from .io import nifti, siibra_v1
from .sparse import SparseIndex

__all__ = ["MIRROR_ENV", "TIMEOUT", "mirrored"]

MIRROR_ENV = "GPUSIIBRA_ATLAS_MIRROR"
_CHECKSUMS = "checksums.json"
_CHUNK = 1 << 20
_PARALLEL_DOWNLOADS = 6


def mirrored(url: str) -> str:
    """``url`` with the scheme and host of ``$GPUSIIBRA_ATLAS_MIRROR`` (and its path as a prefix), if set."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return url
    m = urllib.parse.urlsplit(mirror)
    if m.scheme not in ("http", "https") or not m.netloc:
        raise OptionError(f"{MIRROR_ENV}={mirror!r} is not an http(s) URL such as https://mirror.example.org")
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((m.scheme, m.netloc, m.path.rstrip("/") + u.path, u.query, ""))


def _say(text):
    print(f"gpusiibra: {text}", file=sys.stderr, flush=True)


def _file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _Checksums:
    """Size and SHA-256 of each source file, recorded at its first complete download (``checksums.json``)."""

    def __init__(self, folder):
        self.path = os.path.join(folder, _CHECKSUMS)
        try:
            with open(self.path) as f:
                self.known = json.load(f)
        except FileNotFoundError:
            self.known = {}
        except (OSError, ValueError) as e:
            raise AtlasFileError(self.path, f"damaged checksum record ({e}); remove it to record new ones") from None

    def expected(self, name):
        return self.known.get(name)

    def verify(self, name, path, where, digest=None):
        """Raise when ``path`` differs from the record of ``name``; return its (size, sha256). ``digest``: the
        file's SHA-256 when already known (pooch checked it), so that each file is hashed once."""
        size, digest = os.path.getsize(path), digest or _file_sha256(path)
        rec = self.known.get(name)
        if rec and (rec["size"] != size or rec["sha256"] != digest):
            raise DownloadError(where, f"it differs from the copy recorded at the first download ({size} bytes, "
                                       f"SHA-256 {digest[:12]}..., recorded {rec['size']} bytes, "
                                       f"{rec['sha256'][:12]}...): the source changed or the transfer was damaged")
        return size, digest

    def record(self, files: dict):
        for name, (url, size, digest) in files.items():
            self.known.setdefault(name, {"url": url, "size": size, "sha256": digest})
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.known, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


class _NotThere(Exception):
    """The server has no such file (404): the next source is tried."""


#: seconds a download may wait for the server (to connect, or between two pieces of data)
TIMEOUT = 60.0


def _download(url, folder, fname, checks: _Checksums, progress: bool, cache_folder):
    """One file into ``folder/fname`` with pooch, checked against the record when there is one (pooch hashes
    it then); returns ``(path, (url, size, sha256))``."""
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")
    rec = checks.expected(fname)
    known = f"sha256:{rec['sha256']}" if rec else None
    source = mirrored(url)
    downloader = pooch.FTPDownloader(progressbar=progress, chunk_size=_CHUNK, timeout=TIMEOUT) \
        if source.startswith("ftp://") else pooch.HTTPDownloader(progressbar=progress, chunk_size=_CHUNK,
                                                                 timeout=TIMEOUT)
    try:
        path = pooch.retrieve(source, known_hash=known, fname=fname, path=folder, downloader=downloader)
    except requests.exceptions.HTTPError as e:
        code = e.response.status_code if e.response is not None else None
        if code == 404:
            raise _NotThere(source) from None
        raise DownloadError(source, f"the server answered {code} {getattr(e.response, 'reason', '')}".rstrip()
                                    + " (try again later)", cache_folder) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as e:
        raise DownloadError(source, f"the transfer was cut short ({type(e).__name__}); run the same command "
                                    "again to retry", cache_folder) from None
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as e:
        inner = e.args[0] if e.args else e
        if isinstance(e, requests.exceptions.ReadTimeout) or "Read timed out" in str(inner):
            raise DownloadError(source, f"the server stopped sending (nothing for {TIMEOUT:g} s; the connection "
                                        "was made): try again later, or another mirror", cache_folder) from None
        reason = re.sub(r"<[^>]*>: ", "", str(getattr(inner, "reason", inner)))
        mirror = os.environ.get(MIRROR_ENV, "").strip()
        advice = (f"is the mirror {MIRROR_ENV}={mirror} up? Check it, or unset {MIRROR_ENV} to download from the "
                  "source" if mirror else f"offline? Connect, or set {MIRROR_ENV} to a mirror")
        raise DownloadError(source, f"cannot connect ({reason[:200]}): {advice}, or copy a filled cache",
                            cache_folder) from None
    except requests.exceptions.RequestException as e:
        raise DownloadError(source, f"{type(e).__name__}: {e}", cache_folder) from None
    except (OSError, EOFError) as e:  # FTP (nilearn's Yeo 2011): refused, cut, timed out
        if not source.startswith("ftp://"):
            raise
        raise DownloadError(source, f"the FTP transfer failed ({type(e).__name__}: {e}); run again to retry, or set "
                                    f"{MIRROR_ENV} to a mirror", cache_folder) from None
    except ValueError as e:  # pooch: the hash differs from the known one
        raise DownloadError(source, f"its SHA-256 differs from the one recorded at the first download ({e})",
                            cache_folder) from None
    return path, (url,) + checks.verify(fname, path, source, digest=rec["sha256"] if rec else None)


def _from_sparse_index(entry, raw: dict, where) -> SparseIndex:
    return siibra_v1.decode(raw["voxels"], raw["probs"], raw["bboxes"], where, n_regions=len(entry.regions))


def _read_parts(paths: dict) -> dict:
    raw = {}
    for part, p in paths.items():
        with open(p, "rb") as f:
            raw[part] = f.read()
    return raw


def _fetch_sparse_index(entry, downloads, checks, progress, cache_folder):
    paths, files = {}, {}
    for part, url in entry.sparse_index_urls().items():
        fname = url.rsplit("/", 1)[1]
        paths[part], files[fname] = _download(url, downloads, fname, checks, progress, cache_folder)
    try:
        index = _from_sparse_index(entry, _read_parts(paths), mirrored(entry.sparse_index))
    except AtlasFileError as e:
        raise AtlasFileError(e.path, f"{e.reason}: the fetched file does not parse, so nothing was cached "
                                     "(a damaged transfer or a changed source; run again to retry)") from None
    return index, files


def _fetch_volumes(entry, downloads, checks, progress, cache_folder):
    """Every region map, a few downloads at a time (after a failed download, the complete files are kept for
    the next try)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    fnames = [f"{v:04d}_" + url.rsplit("/", 1)[1] for v, url in enumerate(entry.volumes)]

    def one(v):
        try:
            return _download(entry.volumes[v], downloads, fnames[v], checks, False, cache_folder)
        except _NotThere as e:
            raise DownloadError(e.args[0], "the server answered 404 Not Found (no such file)", cache_folder) from None

    pool = ThreadPoolExecutor(max_workers=_PARALLEL_DOWNLOADS)
    paths, files = [], {}
    try:
        with tqdm(total=len(fnames), unit="map", desc=f"{entry.id}: region maps", disable=not progress,
                  file=sys.stderr) as bar:
            for fname, (path, record) in zip(fnames, pool.map(one, range(len(fnames)))):  # the first error is raised
                paths.append(path)
                files[fname] = record
                bar.update()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # no further downloads after an error or Ctrl-C
        raise
    pool.shutdown()
    try:
        entries = nifti.read_region_maps(paths)
    except AtlasFileError as e:
        raise AtlasFileError(e.path, f"{e.reason}: the fetched file does not parse, so nothing was cached "
                                     "(run again to retry)") from None
    if len(entries["names"]) != len(entry.regions):
        raise AtlasFileError(mirrored(entry.volumes[0]), f"holds {len(entries['names'])} region maps, the catalog "
                                                         f"names {len(entry.regions)} regions for {entry.id}")
    index = SparseIndex.from_entries(entries["shape"], entries["affine"], entries["region"], entries["voxel"],
                                     entries["value"], n_regions=len(entry.regions))
    return index, files


def _fetch_label_volumes(entry, downloads, checks, progress, cache_folder):
    """A labelled map's label volume(s) (one per fragment), and the (region, voxel) entries of its regions."""
    from .io.labels import label_entries

    paths, files = {}, {}
    frags = list(entry.volume_fragments) if entry.volume_fragments else [None]
    for frag, source in zip(frags, entry.volumes):
        url, _, member = source.partition(" ")  # siibra's "zip/nii" provider: "<zip URL> <member>"
        fname = url.rsplit("/", 1)[1]
        try:
            path, files[fname] = _download(url, downloads, fname, checks, progress, cache_folder)
        except _NotThere as e:
            raise DownloadError(e.args[0], "the server answered 404 Not Found (no such file)", cache_folder) from None
        paths[frag] = _zip_member(path, member, downloads, mirrored(url)) if member else path
    regions = {name: (label, frag) for name, label, frag in zip(entry.regions, entry.labels, entry.fragments
                                                               or [None] * len(entry.regions))}
    try:
        got = label_entries(paths if entry.volume_fragments else paths[None], regions, entry.unmapped_labels)
    except AtlasFileError as e:
        raise AtlasFileError(e.path, f"{e.reason}: the fetched file does not parse, so nothing was cached "
                                     "(run again to retry)") from None
    index = SparseIndex.from_entries(got["shape"], got["affine"], got["region"], got["voxel"],
                                     np.ones(len(got["region"]), np.float32), n_regions=len(entry.regions))
    return index, files


def _zip_member(path, member, folder, where):
    """Extract ``member`` of the zip at ``path`` into ``folder``; its path."""
    import zipfile

    out = os.path.join(folder, "member-" + member.replace("/", "_"))
    try:
        with zipfile.ZipFile(path) as z, z.open(member) as src, open(out + ".tmp", "wb") as dst:
            while True:
                block = src.read(1 << 20)
                if not block:
                    break
                dst.write(block)
    except KeyError:
        raise AtlasFileError(where, f"the archive holds no {member!r}, so nothing was cached") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise AtlasFileError(where, f"a damaged archive ({e}), so nothing was cached (run again to retry)") from None
    os.replace(out + ".tmp", out)
    return out
