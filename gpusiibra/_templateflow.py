"""TemplateFlow's transforms between template spaces, fetched once with the atlases' guarantees.

TemplateFlow (https://www.templateflow.org) publishes, for MNI152NLin6Asym (FSL's MNI152) and
MNI152NLin2009cAsym (ICBM 2009c, the space of Julich-Brain and of siibra's maps), the ITK composite transforms
(an affine, then a displacement field) that ANTs computed between the two templates:

- ``https://templateflow.s3.amazonaws.com/tpl-MNI152NLin2009cAsym/tpl-MNI152NLin2009cAsym_from-MNI152NLin6Asym_mode-image_xfm.h5``
- ``https://templateflow.s3.amazonaws.com/tpl-MNI152NLin6Asym/tpl-MNI152NLin6Asym_from-MNI152NLin2009cAsym_mode-image_xfm.h5``

(TemplateFlow's S3 bucket, the one the ``templateflow`` client downloads from: ``TF_S3_ROOT`` + the file's path
in the template's folder.) ``tpl-B_from-A_mode-image_xfm.h5`` pulls images from A onto B and maps points
from B to A (see :mod:`gpusiibra._itk`): :func:`image_transform` and :func:`point_transform` pick the file for
each use.

Where a transform comes from, in order:

1. ``$TEMPLATEFLOW_HOME/tpl-<B>/<file>`` (TemplateFlow's own layout), when that file exists: used as it is.
2. gpusiibra's cache (:func:`gpusiibra.atlases.cache_dir`), ``templateflow/tpl-<B>/<file>``.
3. A download (pooch; ``GPUSIIBRA_ATLAS_MIRROR`` replaces the scheme and host), once, under a lock in the cache
   folder (a second process waits, then finds the file), the size and SHA-256 recorded at the first download
   (``checksums.json``); a later download that differs is refused. A cached file whose bytes no longer match
   that record is fetched again, saying so.

Each ``.h5`` is parsed once into ``<file>.npz`` next to it (the RAS steps and the ``.h5``'s SHA-256; the zip's
CRCs checked at each load): a cached transform loads in a fraction of a second.
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from ._download import MIRROR_ENV, _Checksums, _download, _file_sha256, _NotThere, _say, mirrored
from ._itk import AffineStep, FieldStep, ITKTransform, read_itk_h5
from ._lock import FileLock
from .errors import AtlasFileError, DownloadError, OptionError

__all__ = ["S3_ROOT", "HOME_ENV", "TRANSFORMS", "transform_file", "transform_url", "image_transform",
           "point_transform", "fetch_transform", "load_transform", "MIRROR_ENV"]

#: TemplateFlow's S3 bucket (the templateflow client's ``TF_S3_ROOT``)
S3_ROOT = "https://templateflow.s3.amazonaws.com"
#: TemplateFlow's own folder (its layout: ``tpl-<template>/<file>``)
HOME_ENV = "TEMPLATEFLOW_HOME"
#: (from, to) pairs of the image transforms TemplateFlow publishes, by the ``tpl-<to>_from-<from>`` file name
TRANSFORMS = (("MNI152NLin6Asym", "MNI152NLin2009cAsym"), ("MNI152NLin2009cAsym", "MNI152NLin6Asym"))
_PARSED_VERSION = 1


def transform_file(tpl: str, frm: str) -> str:
    """TemplateFlow's name of the image transform into template ``tpl`` from template ``frm``."""
    return f"tpl-{tpl}_from-{frm}_mode-image_xfm.h5"


def transform_url(tpl: str, frm: str) -> str:
    """Where TemplateFlow publishes :func:`transform_file` (before the mirror setting)."""
    return f"{S3_ROOT}/tpl-{tpl}/{transform_file(tpl, frm)}"


def _check_pair(tpl, frm):
    if (frm, tpl) not in TRANSFORMS:
        known = ", ".join(f"{a} -> {b}" for a, b in TRANSFORMS)
        raise OptionError(f"TemplateFlow publishes no transform from {frm} to {tpl} (known: {known})")


def _cache_root(cache):
    from .atlases import cache_dir

    return os.path.join(cache_dir(cache), "templateflow")


def fetch_transform(tpl: str, frm: str, cache=None, *, progress: bool = True) -> str:
    """The path of ``tpl-<tpl>_from-<frm>_mode-image_xfm.h5`` on this machine, downloaded once if needed.

    Parameters
    ----------
    tpl, frm : str
        TemplateFlow's template names (one of :data:`TRANSFORMS`, reversed).
    cache : path, optional
        gpusiibra's cache folder (default: ``$GPUSIIBRA_CACHE``, else the platform's user cache).
    progress : bool
        A progress bar while downloading.

    Returns
    -------
    str
        ``$TEMPLATEFLOW_HOME/tpl-<tpl>/<file>`` when it exists, else the cached copy.

    Raises
    ------
    DownloadError
        The file cannot be downloaded and is not in the cache (one line naming the URL and the cache).
    AtlasFileError
        The cache cannot be written.
    """
    _check_pair(tpl, frm)
    name = transform_file(tpl, frm)
    there = _home_file(tpl, frm)
    if there:
        return there
    folder = os.path.join(_cache_root(cache), f"tpl-{tpl}")
    path = os.path.join(folder, name)
    if os.path.isfile(path) and _cached_problem(folder, name, path) is None:
        return path
    from .atlases import _writable

    if not _writable(folder):
        raise AtlasFileError(folder, f"the cache cannot be written and does not hold an intact {name}: set "
                                     f"GPUSIIBRA_CACHE to a folder of your own (or {HOME_ENV} to TemplateFlow's)")
    lock = FileLock(os.path.join(folder, ".lock"))
    lock.take(name, _say)
    try:
        problem = _cached_problem(folder, name, path) if os.path.isfile(path) else "missing"
        if problem is None:
            return path  # another process fetched it while this one waited
        if problem != "missing":
            _say(f"the cached copy of {name} is damaged ({problem}): fetching it again")
            for p in (path, path + ".npz"):
                if os.path.exists(p):
                    os.remove(p)
        for stale in os.listdir(folder):  # temporaries of a process killed while downloading (this one holds the lock)
            if ".tmp" in stale or stale.startswith("tmp"):
                os.remove(os.path.join(folder, stale))
        checks = _Checksums(folder)
        url = transform_url(tpl, frm)
        try:
            path, record = _download(url, folder, name, checks, progress, folder)
        except _NotThere as e:
            raise DownloadError(e.args[0], "the server answered 404 Not Found (no such file)", folder) from None
        try:
            read_itk_h5(path, sha256=record[2])
        except AtlasFileError as e:
            os.remove(path)
            raise AtlasFileError(mirrored(url), f"{e.reason}: the downloaded file does not parse, so nothing was "
                                                "cached (a damaged transfer or a changed source; run again to "
                                                "retry)") from None
        checks.record({name: record})
        return path
    finally:
        lock.release()


def _cached_problem(folder, name, path):
    """Why the cached ``path`` cannot be trusted (its size or SHA-256 differs from the record of its first download),
    or None."""
    try:
        rec = _Checksums(folder).expected(name)
    except AtlasFileError as e:
        return e.reason
    if rec is None:
        return "no record of its first download"
    size = os.path.getsize(path)
    if size != rec["size"]:
        return f"{size} bytes, {rec['size']} recorded at its first download"
    if _file_sha256(path) != rec["sha256"]:
        return "its SHA-256 differs from the one recorded at its first download"
    return None


# ------------------------------------------------------------------ parsed copies
def _stat_key(path):
    st = os.stat(path)
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_parsed(target, xfm: ITKTransform, key):
    arrays, kinds = {}, []
    for i, s in enumerate(xfm.steps):
        if isinstance(s, AffineStep):
            kinds.append("affine")
            arrays[f"m{i}"] = s.matrix
        else:
            kinds.append("field")
            arrays[f"v{i}"] = s.vectors
            arrays[f"a{i}"] = s.affine
    meta = dict(key, version=_PARSED_VERSION, kinds=kinds, sha256=xfm.sha256, name=xfm.name)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    tmp = f"{target}.{os.getpid()}.tmp.npz"
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read_parsed(target, key):
    """The transform kept in ``target`` when it was parsed from the file ``key`` describes, else None (a damaged
    copy: said, and parsed again)."""
    try:
        with np.load(target) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("version") != _PARSED_VERSION or any(meta.get(k) != v for k, v in key.items()):
                return None
            steps = [AffineStep(z[f"m{i}"]) if kind == "affine" else FieldStep(z[f"v{i}"], z[f"a{i}"])
                     for i, kind in enumerate(meta["kinds"])]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        _say(f"the parsed copy {target} is damaged ({e}): reading the transform again")
        return None
    return ITKTransform(steps, key["path"], meta["sha256"])


def _home_file(tpl, frm):
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        there = os.path.join(os.path.expanduser(home), f"tpl-{tpl}", transform_file(tpl, frm))
        if os.path.isfile(there):
            return there
    return None


def _parsed_path(path, tpl, frm, cache):
    own = os.path.join(_cache_root(cache), f"tpl-{tpl}")
    if os.path.dirname(os.path.abspath(path)) == os.path.abspath(own):
        return path + ".npz"
    return os.path.join(own, "parsed-" + transform_file(tpl, frm) + ".npz")  # a file of $TEMPLATEFLOW_HOME


def load_transform(tpl: str, frm: str, cache=None, *, progress: bool = True) -> ITKTransform:
    """TemplateFlow's ``tpl-<tpl>_from-<frm>_mode-image_xfm.h5`` as an :class:`~gpusiibra._itk.ITKTransform`:
    fetched once (:func:`fetch_transform`), parsed once (a ``.npz`` next to it, or in the cache for a file of
    ``$TEMPLATEFLOW_HOME``).

    Its ``map_points`` maps points of ``tpl`` to ``frm``: it pulls images from ``frm`` onto ``tpl``.

    A transform this process loaded already is returned as it is (the same object: the warps planned with it
    are reused). A parsed copy is used when it was made from the ``.h5`` as it is now (same path, size and
    modification time) and its zip CRCs hold; else the ``.h5`` is checked against the record of its first
    download (fetched again, saying so, when it differs) and parsed again.
    """
    _check_pair(tpl, frm)
    path = _home_file(tpl, frm) or os.path.join(_cache_root(cache), f"tpl-{tpl}", transform_file(tpl, frm))
    if os.path.isfile(path):
        key = _stat_key(path)
        memo = (key["path"], key["size"], key["mtime_ns"])
        if memo in _LOADED:  # this process loaded it already: the same object (and the warps planned with it)
            return _LOADED[memo]
        xfm = _read_parsed(_parsed_path(path, tpl, frm, cache), key)
        if xfm is not None:
            return _remember(memo, xfm)
    path = fetch_transform(tpl, frm, cache, progress=progress)
    key = _stat_key(path)
    parsed = _parsed_path(path, tpl, frm, cache)
    rec = _Checksums(os.path.dirname(path)).expected(os.path.basename(path)) if path.endswith(".h5") and \
        parsed == path + ".npz" else None
    xfm = read_itk_h5(path, sha256=rec["sha256"] if rec else None)  # the SHA-256 checked by fetch_transform
    try:
        os.makedirs(os.path.dirname(parsed), exist_ok=True)
        _write_parsed(parsed, xfm, key)
    except OSError:
        pass  # a read-only cache: parsed at each load
    return _remember((key["path"], key["size"], key["mtime_ns"]), xfm)


#: transforms loaded by this process, by file (path, size, modification time): the two most recent
_LOADED = {}


def _remember(memo, xfm):
    while len(_LOADED) >= 2:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[memo] = xfm
    return xfm


def image_transform(source: str, target: str, cache=None, *, progress: bool = True) -> ITKTransform:
    """The transform that pulls images from ``source`` onto ``target``'s grid (``tpl-<target>_from-<source>``;
    its ``map_points`` goes target -> source), for :func:`gpusiibra._warp.pull_image` / ``pull_sparse``."""
    _check_pair(target, source)
    return load_transform(target, source, cache, progress=progress)


def point_transform(source: str, target: str, cache=None, *, progress: bool = True) -> ITKTransform:
    """The transform whose ``map_points`` takes points of ``source`` to ``target`` (``tpl-<source>_from-<target>``,
    as ``ants.apply_transforms_to_points`` uses it)."""
    _check_pair(source, target)
    return load_transform(source, target, cache, progress=progress)
