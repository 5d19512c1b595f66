"""siibra-python's multimodal features of one region, as tidy rows (the engine of :mod:`gpusiibra.features`).

Everything is siibra's own: its configuration (the default one from GitHub, kept in siibra's cache, or a
local one: ``GPUSIIBRA_SIIBRA_CONFIGURATION`` or siibra's ``SIIBRA_USE_CONFIGURATION``), its region
objects, ``siibra.features.get`` and the features' loaders and parsers; this module only decides what must
be reached before siibra is asked (so that without the network a call fails in seconds with one line), turns
the features into rows, and caches those rows by region and kind.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.parse

import numpy as np

from ._siibra_net import CONFIG_HOSTS, configuration_at_hand, local_configuration, timeout, unreachable
from .errors import DependencyError, DownloadError, OptionError, RegionNotFound

#: our kinds -> siibra's feature types
KINDS = {"receptors": "ReceptorDensityFingerprint", "cells": "LayerwiseCellDensity",
         "genes": "GeneExpressions", "connectivity": "StreamlineCounts"}
COLUMNS = ["region", "siibra region", "kind", "feature", "modality", "measure", "value", "std", "samples", "unit",
           "dataset", "doi", "licence", "status"]
JULICH_31 = "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-310"
#: the embedded atlases' parcellation (their names are Julich-Brain 3.1's)
EMBEDDED = {"julich-3.1-top2": JULICH_31, "julich-3.1-top2-mpm": JULICH_31}
ALLEN_URL = "http://api.brain-map.org/api/v2/data"
NO_FEATURE = {"receptors": "no receptor density fingerprint", "cells": "no layerwise cell density",
              "genes": "no gene expression sample", "connectivity": "no streamline-count connectivity matrix"}

_LOCK = threading.Lock()
_APPLIED = {"configuration": None}


def siibra():
    """siibra, imported quietly, with a connection timeout on its HTTP session and the configuration asked for.
    siibra's default configuration, when its cache does not hold it yet, must be reachable first (told before
    siibra is even imported)."""
    import importlib.util

    if importlib.util.find_spec("siibra") is None:
        raise DependencyError("siibra's features need siibra-python: pip install 'gpusiibra[features]'")
    local = local_configuration()
    if not local and configuration_at_hand() is not None:
        problems = unreachable([f"https://{h}/" for h in CONFIG_HOSTS])
        if len(problems) == len(CONFIG_HOSTS):
            raise DownloadError("https://api.github.com/repos/FZJ-INM1-BDA/siibra-configurations (or its mirror on "
                                "gitlab.ebrains.eu)", f"{'; '.join(sorted(set(problems.values())))}: siibra's "
                                "configuration is not in its cache yet; offline, point GPUSIIBRA_SIIBRA_CONFIGURATION "
                                "at a local siibra configuration")
    os.environ.setdefault("SIIBRA_LOG_LEVEL", "ERROR")
    import siibra as _siibra

    with _LOCK:
        _session_timeout(_siibra)
        if local and _APPLIED["configuration"] != local:
            if not (os.path.isdir(local) or (local.endswith(".zip") and os.path.isfile(local))):
                raise OptionError(f"the siibra configuration {local} is neither a folder nor a .zip file")
            import zipfile

            if os.path.isfile(local) and not zipfile.is_zipfile(local):
                raise OptionError(f"the siibra configuration {local} is not a readable zip archive (damaged, or "
                                  "not a zip)")
            _siibra.use_configuration(local)
            _APPLIED["configuration"] = local
    return _siibra


def _session_timeout(_siibra):
    """A default (connect, read) timeout on siibra's requests session: no request waits forever."""
    from requests.adapters import HTTPAdapter

    from siibra.retrieval import requests as sreq

    session = sreq._SESSION
    if getattr(session, "_gpusiibra_timeout", None) == timeout():
        return
    t = timeout()

    class _Adapter(HTTPAdapter):
        def send(self, request, timeout=None, **kwargs):
            return super().send(request, timeout=timeout if timeout is not None else (t, 3 * t), **kwargs)

    for prefix in ("http://", "https://"):
        session.mount(prefix, _Adapter())
    session._gpusiibra_timeout = t


# ------------------------------------------------------------------ regions
def parcellation_id(atlas) -> str:
    """The siibra parcellation of an atlas (a name of the catalog or the embedded one, or a map with that name)."""
    from . import atlases

    name = atlas if isinstance(atlas, str) else getattr(atlas, "name", "")
    if name in EMBEDDED:
        return EMBEDDED[name]
    entry = atlases.find(name) if name else None
    if entry is not None and entry.parcellation_id:
        return entry.parcellation_id
    if not isinstance(atlas, str) and "Julich-Brain 3.1" in name:
        return JULICH_31
    raise OptionError(f"atlas {name!r} names no siibra parcellation (siibra's features are known for siibra's "
                      "maps: julich-3.1, julich-2.9, difumo-..., the embedded julich-3.1-top2; `gpusiibra atlas list` "
                      "shows their source)")


def atlas_names(atlas) -> frozenset:
    """The region names of an atlas (a map's own, else its catalog entry's; the embedded ones are Julich-Brain
    3.1's)."""
    from . import atlases

    if not isinstance(atlas, str) and hasattr(atlas, "regions"):
        return frozenset(atlas.regions)
    entry = atlases.find("julich-3.1" if atlas in EMBEDDED else atlas)
    return frozenset(entry.regions) if entry is not None else frozenset()


def siibra_region(sb, parc_id: str, name: str, names=frozenset()):
    """siibra's region of this exact name (our names are siibra's: hemisphere and fragment suffixes included). A
    name the atlas's own map spells otherwise than its parcellation ("Area TPJ (STG,SMG) left" in Julich-Brain 3.1's
    maximum probability maps) is decoded as siibra decodes its map's names; only the atlas's own ``names`` are."""
    try:
        parc = sb.get_parcellation(parc_id)
    except Exception:
        where = local_configuration()
        raise RegionNotFound(f"siibra's configuration{f' ({where})' if where else ''} has no parcellation "
                             f"{parc_id}") from None
    found = [r for r in parc.descendants if r.name == name] or ([parc] if parc.name == name else [])
    if len(found) == 1:
        return found[0]
    if not found and name in names:  # the map's own spelling: decoded as siibra decodes its map's names
        try:
            with quiet():
                region = parc.get_region(name)
            if name.endswith((" left", " right")) and not region.name.endswith(name.rsplit(" ", 1)[1]):
                raise ValueError("another hemisphere")
            return region
        except (ValueError, RuntimeError, AssertionError):
            pass
    raise RegionNotFound(f"{name!r}: {'no' if not found else len(found)} regions of this name in siibra's "
                         f"{parc.name}")


class quiet:
    """siibra's own messages (its log and the lines it prints) kept out of ours for a block: a failure reaches
    the user as one line, from us."""

    def __enter__(self):
        import contextlib
        import io
        import logging

        self._log = logging.getLogger("siibra")
        self._level = self._log.level
        self._log.setLevel(logging.CRITICAL)
        self._out = contextlib.redirect_stdout(io.StringIO())
        self._out.__enter__()

    def __exit__(self, *exc):
        self._out.__exit__(*exc)
        self._log.setLevel(self._level)


# ------------------------------------------------------------------ what a feature downloads
def data_urls(feature) -> list:
    """The URLs a feature's data comes from that are not yet in siibra's cache."""
    from siibra.retrieval.requests import HttpRequest

    return [u for u in _all_urls(feature) if not HttpRequest(u).cached]


def _all_urls(feature) -> list:
    """The web URLs a feature's data comes from (what its loaders will request)."""
    elements = list(feature.elements) if hasattr(feature, "elements") else [feature]
    urls = []
    for f in elements:
        loader = getattr(f, "_loader", None)
        if loader is not None and hasattr(loader, "url"):
            urls.append(loader.url)
        for pair in getattr(f, "_filepairs", []) or []:
            urls.extend(pair)
        conn = getattr(f, "_connector", None)
        url = getattr(conn, "url", None)
        if isinstance(url, str):
            urls.append(url)
    return [u for u in dict.fromkeys(urls) if u.startswith(("http://", "https://"))]


_TYPE_CHECKED = {}


def _type_reachable(ftype, what):
    """Before siibra matches every configured feature of a type against the region (seconds, for the real
    configuration): when none of their data is in siibra's cache and none of their hosts answers, no match could
    be read, and that is said at once."""
    if _TYPE_CHECKED.get(ftype) == configuration_key():
        return
    try:
        from siibra.features.feature import Feature

        cls = Feature._get_subclasses()[ftype]
        with quiet():
            instances = [i for sub in Feature._SUBCLASSES[cls] for i in sub._get_instances()]
        every, uncached = set(), []
        for f in instances:
            urls = [u for u in _all_urls(f)]
            every.update(urls)
            uncached.extend(data_urls(f))
    except Exception:  # siibra's internals changed: siibra's own query decides
        return
    uncached = list(dict.fromkeys(uncached))
    if every and len(uncached) == len(every):
        problems = unreachable(uncached)
        hosts = {urllib.parse.urlsplit(u).hostname for u in uncached}
        if problems and set(problems) >= hosts:
            host, reason = sorted(problems.items())[0]
            url = urllib.parse.urlsplit(next(u for u in uncached if urllib.parse.urlsplit(u).hostname == host))
            raise DownloadError(f"{url.scheme}://{url.netloc}/ (where siibra's {ftype} files are)",
                                f"{reason}; none of them is in siibra's cache, so {what} cannot be read")
    _TYPE_CHECKED[ftype] = configuration_key()


def _needs(urls, what):
    problems = unreachable(urls)
    if problems:
        host, reason = next(iter(problems.items()))
        url = next(u for u in urls if urllib.parse.urlsplit(u).hostname == host)
        raise DownloadError(url, f"{reason}; needed for {what} and not in siibra's cache")


def _first_line(e) -> str:
    """An exception's message as one line (siibra's span several)."""
    text = " ".join(ln.strip() for ln in str(e).splitlines() if ln.strip()) or e.__class__.__name__
    return text if len(text) <= 240 else text[:237] + "..."


def dataset_fields(feature) -> tuple:
    """(dataset, DOI or URL, licence) of a feature, from siibra's dataset records. An EBRAINS record is read
    through siibra's knowledge-graph proxy; when that cannot be reached, the dataset's EBRAINS page is named."""
    names, dois, licences = [], [], []
    for ds in feature.datasets:
        if ds.__class__.__name__.startswith("Ebrains") and getattr(ds, "_cached_data", None) is None:
            problem = unreachable(["https://jugit.fz-juelich.de/", "https://gitlab.ebrains.eu/"])
            if len(problem) == 2:
                names.append(f"EBRAINS dataset {ds.id} (https://search.kg.ebrains.eu/instances/{ds.id}; its "
                             "record could not be read: the knowledge-graph proxy is not reachable)")
                continue
        try:
            with quiet():
                names.append(str(ds.name))
                dois.extend(u.get("url") for u in ds.urls if u.get("url"))
                lic = ds.LICENSE
            if lic and lic != "No license information is found.":
                licences.extend(lic if isinstance(lic, list) else [lic])
        except Exception as e:  # siibra's record reader: a failed read is said, not hidden
            names.append(f"dataset {getattr(ds, 'id', '?')} (record not readable: {_first_line(e)})")
    return "; ".join(dict.fromkeys(names)), "; ".join(dict.fromkeys(dois)), "; ".join(dict.fromkeys(licences))


# ------------------------------------------------------------------ rows
def _row(region, sregion, kind, feature, **kw):
    row = dict.fromkeys(COLUMNS)
    row.update(region=region, **{"siibra region": sregion}, kind=kind, feature=feature, value=np.nan, std=np.nan,
               samples=np.nan, status="ok")
    row.update(kw)
    return row


def not_found_row(region, kind, reason) -> dict:
    return _row(region, None, kind, KINDS[kind], status=f"not a region of siibra's parcellation: {reason}")


def rows_for(sb, region: str, sregion, kind: str, genes=(), top_targets=None) -> list:
    """The rows of one kind for one siibra region (siibra's query, its data, its parsers)."""
    ftype = KINDS[kind]
    what = f"the {kind} of {region}"
    kw = {}
    if kind == "genes":
        if not genes:
            raise OptionError("gene expressions need a gene list (--genes GABRA1,GABRA2)")
        from siibra.vocabularies import GENE_NAMES

        unknown = [g for g in genes if g not in GENE_NAMES]
        if unknown:
            raise OptionError(f"not gene symbols siibra knows: {', '.join(unknown)}")
        _needs([ALLEN_URL + "/"], what + " (gene expressions come from the Allen Brain API through siibra and "
               "need the network)")
        kw = {"gene": list(genes)}
    else:
        _type_reachable(ftype, what)
    try:
        with quiet():
            feats = sb.features.get(sregion, ftype, **kw)
    except (OptionError, DownloadError):
        raise
    except Exception as e:  # siibra's query reads dataset records and live services: said in one line
        source = "siibra's dataset records from jugit.fz-juelich.de or gitlab.ebrains.eu (the EBRAINS " \
            "knowledge-graph proxy)" if kind != "genes" else ALLEN_URL
        raise DownloadError(source, f"{_first_line(e)}; needed for {what} (not in siibra's cache)") from None
    if not feats:
        return [_row(region, sregion.name, kind, ftype, status=f"{NO_FEATURE[kind]} for {sregion.name} in "
                     "siibra's configuration")]
    rows = []
    for f in feats:
        _needs(data_urls(f), what)
        dataset, doi, licence = dataset_fields(f)
        common = dict(modality=f.modality, dataset=dataset, doi=doi, licence=licence)
        name = f.name if kind != "connectivity" else f"StreamlineCounts, cohort {getattr(f, 'cohort', '')}"
        try:
            with quiet():
                rows.extend(_kind_rows(kind, f, region, sregion, name, common, top_targets))
        except (OptionError, DownloadError):
            raise
        except Exception as e:  # a download or a record siibra could not read: one line, what it was for
            raise DownloadError(next(iter(data_urls(f)), "siibra's data"), f"{_first_line(e)}; needed for "
                                f"{what}") from None
    return rows


def _kind_rows(kind, f, region, sregion, name, common, top_targets):
    rows = []
    if kind == "receptors":
        data = f.data
        unit = str(f.unit)
        for receptor, r in data.iterrows():
            rows.append(_row(region, sregion.name, kind, name, measure=str(receptor), value=float(r["mean"]),
                             std=float(r["std"]), unit=unit, **common))
    elif kind == "cells":
        data = f.data
        if data.empty:
            raise DownloadError(str(f._filepairs[0][0]) if getattr(f, "_filepairs", None) else "siibra's data",
                                "siibra could not read any of the feature's cell and layer files")
        for (layer, lname), d in data.groupby(["layer", "layername"], sort=True):
            dens = d["density"].to_numpy(float)
            rows.append(_row(region, sregion.name, kind, name, measure=str(lname), value=float(dens.mean()),
                             std=float(dens.std()), samples=len(dens), unit=str(f.unit), **common))
    elif kind == "genes":
        data = f.data
        for gene, d in data.groupby("gene", sort=True):
            lv = d["level"].to_numpy(float)
            rows.append(_row(region, sregion.name, kind, name, measure=str(gene), value=float(lv.mean()),
                             std=float(lv.std()), samples=len(lv), unit=str(f.unit), **common))
    else:  # connectivity: siibra's profile of the (subject-averaged) matrix, strongest targets first
        merged = f._get_merged_feature() if hasattr(f, "_get_merged_feature") else f
        prof = merged.get_profile(sregion, max_rows=top_targets).data
        for target, r in prof.iterrows():
            tname = " / ".join(t.name for t in target) if isinstance(target, tuple) else getattr(target, "name",
                                                                                                  str(target))
            rows.append(_row(region, sregion.name, kind, name, measure=tname, value=float(r["mean"]),
                             std=float(r["std"]) if "std" in r and r["std"] == r["std"] else np.nan,
                             samples=len(f) if hasattr(f, "elements") else 1, unit="streamline count",
                             **common))
    return rows


# ------------------------------------------------------------------ our cache of rows
def configuration_key() -> str:
    """What the rows depend on besides the region: the configuration (a local one by its files' sizes and times)."""
    local = local_configuration()
    if not local:
        from importlib.metadata import version

        return "default-siibra-" + version("siibra")
    stamp = [os.path.abspath(local)]
    if os.path.isdir(local):
        for root, _, files in sorted(os.walk(local)):
            for fn in sorted(files):
                st = os.stat(os.path.join(root, fn))
                stamp.append(f"{os.path.relpath(os.path.join(root, fn), local)}:{st.st_size}:{st.st_mtime_ns}")
    elif os.path.isfile(local):
        st = os.stat(local)
        stamp.append(f"{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]


def cache_file(folder, atlas, parc_id, region, kind, genes=(), top_targets=None) -> str:
    """The rows' file: keyed by the configuration, the atlas (whose names decide the region), the parcellation,
    the region, the kind and what the kind takes (genes, targets)."""
    label = atlas if isinstance(atlas, str) else getattr(atlas, "name", "")
    key = json.dumps([configuration_key(), label, parc_id, region, kind, sorted(genes) if kind == "genes" else [],
                      top_targets if kind == "connectivity" else None])
    return os.path.join(folder, kind, hashlib.sha256(key.encode()).hexdigest()[:32] + ".parquet")


def read_cached(path):
    import pandas as pd

    if not os.path.isfile(path):
        return None
    try:
        return pd.read_parquet(path)
    except Exception:  # a damaged file: fetched again
        return None


def write_cached(path, df):
    """Atomic: the rows are written to a temporary name in the same folder, then renamed. A cache that cannot be
    written (a shared read-only one) is warned about and the rows are returned all the same."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as e:
        import warnings

        warnings.warn(f"the features' rows are not cached: {os.path.dirname(path)} cannot be written ({e.strerror})",
                      stacklevel=3)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
