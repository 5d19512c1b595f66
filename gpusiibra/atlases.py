"""Official atlases: siibra's maps, fetched once, verified, and cached in gpusiibra's own format.

A small catalog ships with the package (``gpusiibra/data/atlases.json``, written by
``tools/build_catalog.py`` from siibra's public configuration; each entry names the file and commit
it came from). For each map it holds the region names in volume order (siibra's names, so that the
``region`` column of a result joins with siibra's), the URL of siibra's precomputed sparse index
(version 1, three files) and, as the fallback source, the URL of every region's NIfTI volume.

:func:`fetch` downloads a map once with `pooch <https://www.fatiando.org/pooch>`_ (progress bars,
hashes, atomic moves), checks every file against the size and SHA-256 recorded at its first complete
download, parses it, and writes the atlas in gpusiibra's native format into the cache, so that later
loads take a fraction of a second. A file that does not parse is rejected and nothing is cached; two
processes fetching the same map download it once (a lock in the cache folder).

Settings (environment):

``GPUSIIBRA_CACHE``
    the cache folder (default: the platform's user cache, ``~/.cache/gpusiibra`` on Linux). A cache
    filled once can be shared read-only between the users of a cluster.
``GPUSIIBRA_ATLAS_MIRROR``
    a URL whose scheme and host (and path prefix, if any) replace those of every source URL, for
    compute nodes that reach only an internal mirror of the same paths.

siibra's own cache (``SIIBRA_CACHEDIR``, else ``~/.cache/siibra``) is looked at before downloading:
a sparse index that siibra already downloaded or computed is used as it is.

Examples
--------
>>> from gpusiibra import atlases
>>> entry = atlases.get_entry("julich-3.1")
>>> entry.id, len(entry.regions), entry.regions[0]
('julich-3.1', 414, 'Area 45 (IFG) left')
>>> entry.key
'mni152_jba31_207_continuous'
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ._lock import FileLock
from .errors import AtlasFileError, AtlasNotFound, DownloadError, ImageFileError, OptionError
from .io import native, nifti, siibra_v1
from .sparse import SparseIndex, checked_probabilities

__all__ = ["AtlasEntry", "catalog", "find", "get_entry", "cache_dir", "cached_file", "is_cached", "cache_state", "fetch",
           "mirrored", "siibra_cache_dir", "siibra_cache_files", "describe", "check_hemispheres", "CACHE_ENV",
           "MIRROR_ENV"]

CACHE_ENV = "GPUSIIBRA_CACHE"
MIRROR_ENV = "GPUSIIBRA_ATLAS_MIRROR"
_CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "atlases.json")
_CATALOG_FORMAT = "gpusiibra-atlas-catalog/1"
_CHECKSUMS = "checksums.json"
_CHUNK = 1 << 20
_PARALLEL_DOWNLOADS = 6


@dataclass(frozen=True)
class AtlasEntry:
    """One official map of the catalog (facts from siibra's configuration).

    Attributes
    ----------
    id : str
        The name gpusiibra knows it by (``julich-3.1``); ``aliases`` are other accepted names.
    regions : tuple of str
        siibra's region names in volume order (volume ``v`` of the map is ``regions[v]``).
    sparse_index : str
        URL prefix of siibra's precomputed sparse index (add :data:`siibra_v1.SUFFIXES`).
    volumes : tuple of str
        The fallback source: one NIfTI URL per region, in the same order, or one 4D NIfTI (a volume per
        region), or none.
    values : str
        ``"probabilities"`` (checked to lie in [0, 1]) or ``"weights"`` (non-negative, no upper bound).
    source : dict
        ``repository``, ``file`` and ``commit`` of the configuration these facts were read from.
    """

    id: str
    name: str
    aliases: tuple
    description: str
    space: str
    space_id: str
    parcellation: str
    parcellation_id: str
    maptype: str
    siibra_map_id: str
    sparse_index: str
    volumes: tuple
    configured_names: tuple
    regions: tuple
    licence: str
    citation: str
    source: dict = field(compare=False)
    values: str = "probabilities"

    @property
    def key(self) -> str:
        """siibra's key of the map in lower case: the file name of its precomputed sparse index."""
        return self.sparse_index.rsplit("/", 1)[1]

    def sparse_index_urls(self) -> dict:
        """The three URLs of the precomputed sparse index, by part (``voxels``, ``probs``, ``bboxes``)."""
        return {part: self.sparse_index + suffix for part, suffix in siibra_v1.SUFFIXES.items()}


@lru_cache(maxsize=None)
def _read_catalog(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise AtlasFileError(path, f"cannot read the atlas catalog ({e})") from None
    if doc.get("format") != _CATALOG_FORMAT:
        raise AtlasFileError(path, f"not an atlas catalog of format {_CATALOG_FORMAT!r}")
    out = []
    for e in doc["atlases"]:
        e = dict(e)
        for k in ("aliases", "volumes", "configured_names", "regions"):
            e[k] = tuple(e[k])
        out.append(AtlasEntry(**e))
    return tuple(out)


def catalog() -> list:
    """Every map of the catalog, as :class:`AtlasEntry`."""
    return list(_read_catalog(_CATALOG))


def _normal(name) -> str:
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def find(name):
    """The catalog entry called ``name`` (its id, full name or an alias; case, spaces, ``-`` and ``_`` do not
    matter), or ``None``."""
    if isinstance(name, AtlasEntry):
        return name
    key = _normal(name)
    for e in catalog():
        if key in {_normal(n) for n in (e.id, e.name) + e.aliases}:
            return e
    return None


def get_entry(name) -> AtlasEntry:
    """Like :func:`find`, but an unknown name raises :class:`AtlasNotFound` listing the catalog."""
    entry = find(name)
    if entry is None:
        ids = [e.id for e in catalog()]
        close = difflib.get_close_matches(_normal(name), ids, n=3, cutoff=0.3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise AtlasNotFound(f"no official atlas named {name!r} (the catalog has {', '.join(ids)}){hint}")
    return entry


# ------------------------------------------------------------------ cache
def cache_dir(cache=None) -> str:
    """The cache folder: ``cache``, else ``$GPUSIIBRA_CACHE``, else the platform's user cache for gpusiibra."""
    if cache:
        return os.path.abspath(os.path.expanduser(os.fspath(cache)))
    if os.environ.get(CACHE_ENV):
        return os.path.abspath(os.path.expanduser(os.environ[CACHE_ENV]))
    import platformdirs

    return platformdirs.user_cache_dir("gpusiibra", appauthor=False)


def cached_file(name, cache=None) -> str:
    """Where the converted atlas ``name`` is (or will be) kept in the cache."""
    entry = get_entry(name)
    return os.path.join(cache_dir(cache), entry.id, entry.id + ".npz")


def is_cached(name, cache=None) -> bool:
    """True when ``name`` is in the cache, converted, intact and ready to load."""
    path = cached_file(name, cache)
    return native.is_native(path) and _native_problem(path) is None


def cache_state(name, cache=None) -> str:
    """``yes`` (cached and intact), ``no``, or ``damaged`` (a cached copy whose bytes changed)."""
    path = cached_file(name, cache)
    if not os.path.exists(path):
        return "no"
    return "yes" if native.is_native(path) and _native_problem(path) is None else "damaged"


_NATIVE_RECORD = "native.sha256"


def _native_problem(path):
    """Why the cached native file cannot be trusted (its SHA-256 differs from the one recorded when it was
    written; without a record, a member fails its zip CRC), or None."""
    record = os.path.join(os.path.dirname(path), _NATIVE_RECORD)
    try:
        with open(record) as f:
            want = f.read().split()[0]
    except (OSError, IndexError):
        want = None
    if want is not None:
        return None if _file_sha256(path) == want else "its SHA-256 differs from the one recorded when it was written"
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError) as e:
        return f"it does not read ({e})"
    return None if bad is None else f"its member {bad} is damaged"


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


# ------------------------------------------------------------ siibra's cache
def siibra_cache_dir() -> str:
    """siibra's cache folder: ``$SIIBRA_CACHEDIR``, else the platform's user cache for siibra."""
    if os.environ.get("SIIBRA_CACHEDIR"):
        return os.environ["SIIBRA_CACHEDIR"]
    import platformdirs

    return platformdirs.user_cache_dir("siibra", appauthor=False)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def siibra_cache_files(name, folder=None) -> list:
    """The files siibra keeps a map's sparse index in, as ``{part: path}`` dicts, most likely first.

    siibra (1.0) keeps (a) the raw HTTP responses of the precomputed index under the SHA-256 of
    ``url + "{}"``, and (b) an index it computed itself under the SHA-256 of
    ``"<parcellation id>_<space id>_MapType.STATISTICAL_<key>_index"`` plus the three suffixes.
    """
    entry = get_entry(name)
    folder = folder or siibra_cache_dir()
    http = {part: os.path.join(folder, _sha256_text(url + "{}")) for part, url in entry.sparse_index_urls().items()}
    maptype = "MapType." + entry.maptype.upper()
    prefix = os.path.join(folder, _sha256_text(f"{entry.parcellation_id}_{entry.space_id}_{maptype}_{entry.key}_index"))
    computed = {part: prefix + suffix for part, suffix in siibra_v1.SUFFIXES.items()}
    return [http, computed]


# ------------------------------------------------------------------ fetch
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
    downloader = pooch.HTTPDownloader(progressbar=progress, chunk_size=_CHUNK, timeout=TIMEOUT)
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
        raise DownloadError(source, f"cannot connect ({reason[:200]}): offline? Connect, or set {MIRROR_ENV} to "
                                    "a mirror, or copy a filled cache", cache_folder) from None
    except requests.exceptions.RequestException as e:
        raise DownloadError(source, f"{type(e).__name__}: {e}", cache_folder) from None
    except ValueError as e:  # pooch: the hash differs from the known one
        raise DownloadError(source, f"its SHA-256 differs from the one recorded at the first download ({e})",
                            cache_folder) from None
    return path, (url,) + checks.verify(fname, path, source, digest=rec["sha256"] if rec else None)


def check_hemispheres(index: SparseIndex, regions, where) -> None:
    """Refuse an index whose volume order is not that of ``regions``, where the names tell the side.

    The v1 files carry no region names: volume ``v`` is named by the catalog. A region named "... left"
    must lie left of the midline (x < 0 mm: RAS, as MNI space), "... right" right of it, judged by its
    weighted centroid; more than a few exceptions (small midline structures) mean the file's order is not
    the catalog's, and the atlas is refused rather than mislabelled.
    """
    from nibabel.affines import apply_affine

    side = np.array([1 if r.endswith(" right") else -1 if r.endswith(" left") else 0 for r in regions])
    counts = np.diff(index.region_ptr)
    named = (side != 0) & (counts > 0)
    if not named.any():
        return
    region = np.repeat(np.arange(len(counts)), counts)
    w = index.region_value.astype(np.float64)
    total = np.bincount(region, w, minlength=len(counts))
    ijk = np.unravel_index(index.region_voxel, index.shape)
    centre = np.stack([np.bincount(region, w * c, minlength=len(counts)) for c in ijk], axis=1)
    centre = centre / np.maximum(total, 1e-300)[:, None]
    x = apply_affine(index.affine, centre)[:, 0]
    wrong = np.flatnonzero(named & (np.sign(x) != side))
    if len(wrong) > max(1, 0.05 * named.sum()):
        r = int(wrong[0])
        raise AtlasFileError(where, f"{len(wrong)} of {int(named.sum())} regions named left or right lie on the other "
                                    f"side of the midline (first: volume {r}, {regions[r]!r}, centroid x = "
                                    f"{x[r]:+.0f} mm): the file's volume order is not the catalog's, so it is "
                                    "refused rather than mislabelled")


def _from_sparse_index(entry, raw: dict, where) -> SparseIndex:
    return siibra_v1.decode(raw["voxels"], raw["probs"], raw["bboxes"], where, n_regions=len(entry.regions))


#: regions of a downloaded sparse index checked against their own NIfTI maps (a second source); the
#: environment variable GPUSIIBRA_CHECK_REGIONS sets another number (0: no check, for a mirror of the index alone)
SECOND_SOURCE_SAMPLE = 4
CHECK_ENV = "GPUSIIBRA_CHECK_REGIONS"


def _second_source_sample() -> int:
    value = os.environ.get(CHECK_ENV)
    if value is None:
        return SECOND_SOURCE_SAMPLE
    try:
        return max(0, int(value))
    except ValueError:
        raise OptionError(f"{CHECK_ENV} must be a number of regions (0 turns the check off), not {value!r}") from None


def _sample_regions(n_regions: int, k: int) -> list:
    """Which regions to check against their own maps: a fresh random sample at each fetch."""
    import random

    return sorted(random.SystemRandom().sample(range(n_regions), min(k, n_regions)))


def check_against_region_maps(entry, index, downloads, checks, cache_folder) -> dict:
    """Refuse a sparse index whose sampled regions do not match their own NIfTI maps (a second source).

    For each sampled region, its map is downloaded and compared (cosine of the values) with every region of
    the index: it must match its own volume best, and closely (cosine >= 0.9; siibra built the index from
    these maps). A mirror that serves a well-formed index with regions in another order is refused rather
    than cached. Maps that cannot be had are said in a warning (the index's own checks still hold).
    Returns the downloaded files, ``name -> (url, size, sha256)``, for the checksum record.
    """
    import warnings

    from .io.nifti import image_data, load_image

    k = _second_source_sample()
    if len(entry.volumes) != len(entry.regions) or k <= 0:
        return {}
    R = len(entry.regions)
    counts = np.diff(index.region_ptr)
    region_of_entry = np.repeat(np.arange(R), counts)
    norm = np.sqrt(np.bincount(region_of_entry, index.region_value.astype(np.float64) ** 2, minlength=R))
    files = {}
    for r in _sample_regions(R, k):
        url = entry.volumes[r]
        fname = f"{r:04d}_" + url.rsplit("/", 1)[1]
        try:
            path, files[fname] = _download(url, downloads, fname, checks, False, cache_folder)
            q, affine = image_data(load_image(path), path)
        except (_NotThere, DownloadError, ImageFileError) as e:
            warnings.warn(f"{entry.id}: the sparse index could not be checked against the map of {entry.regions[r]!r} "
                          f"({getattr(e, 'reason', e)}); its volume order was checked by the hemispheres only",
                          RuntimeWarning, stacklevel=3)
            continue
        if q.shape != tuple(index.shape) or not np.allclose(affine, index.affine, atol=1e-4):
            warnings.warn(f"{entry.id}: the map of {entry.regions[r]!r} is on another grid than the sparse index; "
                          "it was not compared", RuntimeWarning, stacklevel=3)
            continue
        flat = np.asarray(q, np.float64).ravel()
        lin = np.flatnonzero(flat > 0)
        rows = index.voxels.ravel()[lin]
        inside = rows >= 0
        start, stop = index.row_ptr[rows[inside]], index.row_ptr[rows[inside] + 1]
        cnt = stop - start
        entries = np.repeat(start - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
        dots = np.bincount(index.entry_region[entries].astype(np.int64),
                           index.entry_value[entries] * np.repeat(flat[lin[inside]], cnt), minlength=R)
        cosine = dots / np.maximum(norm * np.sqrt((flat[lin] ** 2).sum()), 1e-300)
        best = int(np.argmax(cosine))
        if best != r or cosine[r] < 0.9:
            raise AtlasFileError(mirrored(entry.sparse_index),
                                 f"volume {r} of the sparse index ({entry.regions[r]!r}) does not match that region's "
                                 f"own map {mirrored(url)} (cosine {cosine[r]:.3f}; it matches volume {best}, "
                                 f"{entry.regions[best]!r}, best, cosine {cosine[best]:.3f}): the index's regions are "
                                 "in another order or damaged, so it is refused rather than cached")
    return files


def _read_parts(paths: dict) -> dict:
    raw = {}
    for part, p in paths.items():
        with open(p, "rb") as f:
            raw[part] = f.read()
    return raw


def _from_siibra_cache(entry, folder):
    """``(index, downloaded)`` from siibra's cache, or None when it holds no complete copy; ``downloaded`` maps
    each source URL to siibra's copy of its bytes (empty for an index siibra computed itself)."""
    for n, paths in enumerate(siibra_cache_files(entry, folder)):
        if all(os.path.isfile(p) for p in paths.values()):
            index = _from_sparse_index(entry, _read_parts(paths), f"{folder} (siibra's cache of {entry.key})")
            urls = entry.sparse_index_urls()
            return index, ({urls[k]: p for k, p in paths.items()} if n == 0 else {})
    return None


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


def _remove(path):
    shutil.rmtree(path, ignore_errors=True)


def _writable(folder) -> bool:
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def fetch(name, cache=None, *, progress: bool = True, from_siibra_cache: bool = False, siibra_cache=None,
          sources: str = "auto", force: bool = False) -> str:
    """Make sure an official atlas is in the cache; return the path of its converted file.

    Parameters
    ----------
    name : str or AtlasEntry
        A catalog name (``"julich-3.1"``; see :func:`catalog`).
    cache : path, optional
        The cache folder (default: :func:`cache_dir`).
    progress : bool
        Progress bars while downloading.
    from_siibra_cache : bool
        Take the map only from siibra's cache (never download); an error when it is not there.
    siibra_cache : path, optional
        siibra's cache folder (default: :func:`siibra_cache_dir`).
    sources : {"auto", "sparse-index", "volumes"}
        ``auto``: siibra's precomputed sparse index, else (when the server has none) the region volumes.
    force : bool
        Fetch and convert again even when the atlas is cached (the files must still match the checksums
        recorded at their first download); the cached copy is replaced only when that succeeds.

    Returns
    -------
    str
        The path of the atlas in gpusiibra's native format; :func:`gpusiibra.get_map` loads it.

    Raises
    ------
    DownloadError
        The source cannot be reached or answers with an error (the message names the URL and the cache).
    AtlasFileError
        A fetched file does not parse (nothing is cached), or the cache cannot be written.
    """
    if sources not in ("auto", "sparse-index", "volumes"):
        raise OptionError(f"sources must be 'auto', 'sparse-index' or 'volumes', got {sources!r}")
    entry = get_entry(name)
    if sources == "volumes" and not entry.volumes:
        raise OptionError(f"the catalog lists no region maps of {entry.id}: it comes from siibra's sparse index only")
    root = cache_dir(cache)
    folder = os.path.join(root, entry.id)
    target = os.path.join(folder, entry.id + ".npz")
    damaged = None
    if native.is_native(target) and not force:
        damaged = _native_problem(target)
        if damaged is None:
            return target  # written by an atomic rename and intact (a read-only cache is fine)
        if not _writable(folder):
            raise AtlasFileError(target, f"the cached copy of {entry.id} is damaged ({damaged}) and the cache cannot "
                                         f"be written: ask the cache's owner to run `gpusiibra atlas fetch {entry.id} "
                                         f"--force`, or set {CACHE_ENV} to a folder of your own")
        _say(f"the cached copy of {entry.id} is damaged ({damaged}): fetching it again")
        force = True
    if not _writable(folder):
        raise AtlasFileError(folder, f"the cache cannot be written and does not hold {entry.id}: set {CACHE_ENV} to "
                                     f"a folder of your own, or ask the cache's owner to run "
                                     f"`gpusiibra atlas fetch {entry.id}`")
    lock = FileLock(os.path.join(folder, ".lock"))
    if not lock.acquire():
        _say(f"waiting for another process fetching {entry.id}{lock.holder()}")
        lock.acquire(wait=True)
    try:
        if native.is_native(target) and not force:
            return target  # another process fetched it while this one waited
        for stale in os.listdir(folder):  # temporaries of a process killed while writing (this one holds the lock)
            if ".tmp" in stale:
                os.remove(os.path.join(folder, stale))
        downloads = os.path.join(folder, "downloads")
        checks = _Checksums(folder)
        t0 = time.perf_counter()
        try:
            index, files, origin = _acquire(entry, checks, folder, downloads, progress, from_siibra_cache,
                                            siibra_cache or siibra_cache_dir(), sources)
            index = checked_probabilities(index, origin, list(entry.regions),
                                          upper=1.0 if entry.values == "probabilities" else None)
            check_hemispheres(index, entry.regions, origin)
        except AtlasFileError:
            _remove(downloads)  # a file that does not parse, or wrong values: never reused
            raise
        checks.record(files)
        meta = {"name": entry.name, "description": entry.description, "licence": entry.licence,
                "citation": entry.citation, "space": entry.space, "catalog_id": entry.id,
                "fetched_from": origin, "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "files": {k: {"url": url, "sha256": digest} for k, (url, _, digest) in files.items()}}
        tmp = f"{target}.{os.getpid()}.tmp.npz"
        record = os.path.join(folder, _NATIVE_RECORD)
        try:
            native.write(tmp, index, list(entry.regions), meta)
            with open(record + f".{os.getpid()}.tmp", "w") as f:  # the native file's SHA-256, checked at each use
                f.write(f"{_file_sha256(tmp)}  {entry.id}.npz\n")
            os.replace(tmp, target)
            os.replace(record + f".{os.getpid()}.tmp", record)
        finally:
            for t in (tmp, record + f".{os.getpid()}.tmp"):
                if os.path.exists(t):
                    os.remove(t)
        _remove(downloads)
        _say(f"{entry.id}: {len(entry.regions)} regions, {index.n_entries:,} values, cached as {target} "
             f"({time.perf_counter() - t0:.1f} s)")
        return target
    finally:
        lock.release()


def _acquire(entry, checks, folder, downloads, progress, from_siibra_cache, sfolder, sources):
    """``(index, files, origin)``: the map from siibra's cache, else downloaded; ``files`` maps each source
    file's name to ``(url, size, sha256)``."""
    found = _from_siibra_cache(entry, sfolder) if sources != "volumes" else None
    if found is not None:
        index, used = found
        origin = f"siibra's cache {sfolder}"
        _say(f"{entry.id}: using the sparse index in {origin}")
        files = {url.rsplit("/", 1)[1]: (url,) + checks.verify(url.rsplit("/", 1)[1], p, p) for url, p in used.items()}
        return index, files, origin
    if from_siibra_cache:
        looked = "; ".join(", ".join(os.path.basename(p) for p in d.values()) for d in siibra_cache_files(entry, sfolder))
        raise AtlasFileError(sfolder, f"siibra's cache holds no sparse index of {entry.id} (looked for {looked}); "
                                      "run siibra's get_map(...).sparse_index once, or fetch without "
                                      "--from-siibra-cache")
    host = urllib.parse.urlsplit(mirrored(entry.sparse_index)).netloc
    _say(f"{entry.id} is not in the cache yet: fetching it once from {host} into {folder} "
         f"(siibra's precomputed sparse index; {entry.licence}); later loads read it from there")
    files = None
    if sources != "volumes":
        try:
            index, files = _fetch_sparse_index(entry, downloads, checks, progress, folder)
            origin = mirrored(entry.sparse_index)
            files.update(check_against_region_maps(entry, index, downloads, checks, folder))
        except _NotThere as e:
            if sources == "sparse-index":
                raise DownloadError(e.args[0], "the server answered 404 Not Found", folder) from None
            if not entry.volumes:
                raise DownloadError(e.args[0], "the server answered 404 Not Found, and the catalog lists no "
                                               f"region maps of {entry.id} to build it from", folder) from None
            _say(f"no precomputed sparse index at {e.args[0]}: building it from the region maps instead "
                 f"({len(entry.volumes)} file(s))")
    if files is None:
        index, files = _fetch_volumes(entry, downloads, checks, progress, folder)
        origin = mirrored(entry.volumes[0]) if len(entry.volumes) == 1 else host + " (region maps)"
    return index, files, origin


def describe(name, cache=None, sources=False) -> str:
    """A few lines about a catalog map: names, space, licence, citation, cache state and its source URLs
    (the region maps' URLs one by one only with ``sources``)."""
    e = get_entry(name)
    path = cached_file(e, cache)
    state = f"cached: {path}" if native.is_native(path) else f"not cached (would be kept at {path})"
    lines = [
        f"atlas        {e.name}",
        f"id           {e.id} (also: {', '.join(e.aliases)})",
        f"space        {e.space}",
        f"parcellation {e.parcellation}",
        f"regions      {len(e.regions)} (siibra's names, in volume order: {e.regions[0]!r} ... {e.regions[-1]!r})",
        f"values       {'probabilities in [0, 1]' if e.values == 'probabilities' else 'non-negative weights'}",
        f"licence      {e.licence}",
        f"citation     {e.citation}",
        f"source       {e.source['repository']} {e.source['file']} at commit {e.source['commit']}",
        f"siibra map   {e.siibra_map_id} (key {e.key})",
        f"cache        {state}",
    ]
    if os.environ.get(MIRROR_ENV):
        lines.append(f"mirror       {os.environ[MIRROR_ENV]} ({MIRROR_ENV}) replaces the scheme and host below")
    lines.append("sparse index (siibra's precomputed v1 files):")
    lines += [f"  {url}" for url in e.sparse_index_urls().values()]
    if e.volumes:
        what = f"{len(e.volumes)} NIfTI files" if len(e.volumes) > 1 else f"one 4D NIfTI of {len(e.regions)} volumes"
        if sources:
            lines.append(f"region maps (fallback source, {what}):")
            lines += [f"  {v:3d}  {url}" for v, url in enumerate(e.volumes)]
        else:
            lines.append(f"region maps  fallback source, {what} (`gpusiibra atlas info {e.id} --sources` lists "
                         "them)")
    else:
        lines.append("region maps: none in the catalog (this map comes from the sparse index only)")
    return "\n".join(lines)

