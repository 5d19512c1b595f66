"""siibra's own cache: where siibra 1.0 keeps a map's sparse index, and reading it from there (no download).

siibra keeps (a) the raw HTTP responses of the precomputed index under the SHA-256 of ``url + "{}"``, and (b) an
index it computed itself under the SHA-256 of ``"<parcellation id>_<space id>_MapType.<TYPE>_<key>_index"`` plus
the three suffixes of siibra's v1 files.
"""
from __future__ import annotations

import hashlib
import os

from ._download import _from_sparse_index, _read_parts
from .io import siibra_v1

__all__ = ["siibra_cache_dir", "siibra_cache_files", "from_siibra_cache"]


def siibra_cache_dir() -> str:
    """siibra's cache folder: ``$SIIBRA_CACHEDIR``, else the platform's user cache of siibra's ``retrieval``
    package (siibra names it after that package: ``~/.cache/siibra.retrieval`` on Linux)."""
    if os.environ.get("SIIBRA_CACHEDIR"):
        return os.environ["SIIBRA_CACHEDIR"]
    import platformdirs

    return platformdirs.user_cache_dir("siibra.retrieval", appauthor=False)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def siibra_cache_files(entry, folder=None) -> list:
    """The files siibra keeps the sparse index of catalog ``entry`` in, as ``{part: path}`` dicts, most likely
    first."""
    folder = folder or siibra_cache_dir()
    http = {part: os.path.join(folder, _sha256_text(url + "{}")) for part, url in entry.sparse_index_urls().items()}
    maptype = "MapType." + entry.maptype.upper()
    prefix = os.path.join(folder, _sha256_text(f"{entry.parcellation_id}_{entry.space_id}_{maptype}_{entry.key}_index"))
    computed = {part: prefix + suffix for part, suffix in siibra_v1.SUFFIXES.items()}
    return [http, computed]


def from_siibra_cache(entry, folder):
    """``(index, downloaded)`` from siibra's cache, or None when it holds no complete copy; ``downloaded`` maps
    each source URL to siibra's copy of its bytes (empty for an index siibra computed itself)."""
    for n, paths in enumerate(siibra_cache_files(entry, folder)):
        if all(os.path.isfile(p) for p in paths.values()):
            index = _from_sparse_index(entry, _read_parts(paths), f"{folder} (siibra's cache of {entry.key})")
            urls = entry.sparse_index_urls()
            return index, ({urls[k]: p for k, p in paths.items()} if n == 0 else {})
    return None
