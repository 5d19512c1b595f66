"""siibra's sparse index files, version 1 ("v1"), as prefix files or a zip.

Three files share a prefix:

``<prefix>.sparseindex_v1.voxels.nii.gz``
    the int32 volume of row numbers (-1 = no region), with the grid's affine;
``<prefix>.sparseindex_v1.probs.txt.gz``
    line n = row n: ``region value region value ...``, space separated;
``<prefix>.sparseindex_v1.bboxes.txt.gz``
    line r: ``x0 y0 z0 x1 y1 z1``, inclusive voxel indices of region r.

A zip holds the same three files, named ``<name>.probs.txt.gz`` etc. (older
siibra's ``save_sparseindex``) or with the ``sparseindex_v1`` infix.
"""
from __future__ import annotations

import gzip
import os
import warnings
import zipfile
import zlib

import numpy as np

from ..sparse import SparseIndex
from ..errors import AtlasFileError, RegionCountError

__all__ = ["SUFFIXES", "read_prefix", "write_prefix", "read_zip", "read_zip_names", "write_zip", "is_prefix", "decode"]

SUFFIXES = {
    "probs": ".sparseindex_v1.probs.txt.gz",
    "bboxes": ".sparseindex_v1.bboxes.txt.gz",
    "voxels": ".sparseindex_v1.voxels.nii.gz",
}
_ZIP_SUFFIXES = {k: "." + k + (".nii.gz" if k == "voxels" else ".txt.gz") for k in SUFFIXES}


def is_prefix(prefix) -> bool:
    """True when the three v1 files exist for this prefix."""
    prefix = os.fspath(prefix)
    return all(os.path.isfile(prefix + s) for s in SUFFIXES.values())


def _gunzip(raw: bytes, where: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zipfile.BadZipFile, zlib_error()) as e:
        raise AtlasFileError(where, f"not a readable gzip stream ({e})") from None


_IN_PIECE = 4 << 20  # compressed bytes inflated at a time
_BLOCK = 16 << 20  # text parsed at a time: the memory of a parse follows the result, not the file


def _text_blocks(raw: bytes, where: str):
    """The gzip stream ``raw`` inflated piece by piece, as blocks of whole lines (the last may lack its newline)."""
    inflate = zlib.decompressobj(wbits=31)
    pending = bytearray()
    pos = 0
    while pos < len(raw):
        piece = raw[pos:pos + _IN_PIECE]
        pos += len(piece)
        try:
            pending += inflate.decompress(piece)
        except zlib.error as e:
            raise AtlasFileError(where, f"not a readable gzip stream ({e})") from None
        if inflate.eof and inflate.unused_data:  # a further gzip member follows
            raw, pos = inflate.unused_data + raw[pos:], 0
            inflate = zlib.decompressobj(wbits=31)
        if len(pending) >= _BLOCK:
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield bytes(pending[:cut])
                del pending[:cut]
    if not inflate.eof:
        raise AtlasFileError(where, "not a readable gzip stream (it is cut short)")
    if pending:
        yield bytes(pending)


def _parse_probs_gz(raw: bytes, where: str):
    """(row, region, value, number of rows) of a gzipped probs file, parsed block by block."""
    rows, regions, values = [], [], []
    n_rows = 0
    for block in _text_blocks(raw, where):
        row, region, value, n = _parse_probs(block, where, first_line=n_rows)
        rows.append(row + n_rows)
        regions.append(region.astype(np.int32))
        values.append(value)
        n_rows += n
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), 0
    return np.concatenate(rows), np.concatenate(regions), np.concatenate(values), n_rows


def _parse_probs(text: bytes, where: str, first_line: int = 0):
    """Rows of ``region value ...`` -> (row of entry, region, value), vectorized."""
    buf = np.frombuffer(text, dtype=np.uint8)
    if len(buf) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), 0
    newline = buf == 10
    space = (buf == 32) | (buf == 9) | (buf == 13) | newline
    # a token starts at a non-space byte preceded by a space (or the start)
    start = ~space & np.r_[True, space[:-1]]
    token_pos = np.flatnonzero(start)
    line_ends = np.flatnonzero(newline)
    if len(buf) and buf[-1] != 10:
        line_ends = np.r_[line_ends, len(buf)]
    n_rows = len(line_ends)
    token_line = np.searchsorted(line_ends, token_pos)
    tokens_per_line = np.bincount(token_line, minlength=n_rows)
    if (tokens_per_line % 2).any():
        bad = int(np.flatnonzero(tokens_per_line % 2)[0])
        raise AtlasFileError(where, f"line {first_line + bad + 1} does not hold 'region value' pairs")
    with warnings.catch_warnings():  # numpy warns (and stops) at a field that is not a number
        warnings.simplefilter("error")
        try:
            numbers = np.fromstring(text, dtype=np.float64, sep=" ")  # C parser: no list of tokens in memory
        except (ValueError, DeprecationWarning) as e:
            raise AtlasFileError(where, f"a field is not a number ({str(e).splitlines()[0][:120]})") from None
    if len(numbers) != len(token_pos):
        raise AtlasFileError(where, "could not tokenise the file")
    region = numbers[0::2]
    if (region != np.round(region)).any() or (region < 0).any():
        raise AtlasFileError(where, "a region number is not a non-negative integer")
    row = np.repeat(np.arange(n_rows), tokens_per_line // 2)
    return row, region.astype(np.int64), numbers[1::2].astype(np.float32), n_rows


def decode(voxels_bytes: bytes, probs_gz: bytes, bboxes_gz: bytes, where: str, n_regions=None) -> SparseIndex:
    """Build a :class:`SparseIndex` from the raw bytes of the three v1 files."""
    import nibabel as nib

    try:
        vimg = nib.Nifti1Image.from_bytes(_gunzip(voxels_bytes, where + " (voxels)"))
    except AtlasFileError:
        raise
    except Exception as e:
        raise AtlasFileError(where + " (voxels)", f"not a NIfTI image ({e})") from None
    voxels = np.asarray(vimg.dataobj)
    if voxels.ndim != 3:
        raise AtlasFileError(where + " (voxels)", f"the voxels volume must be 3D, it has shape {voxels.shape}")
    voxels = voxels.astype(np.int32)
    row, region, value, n_rows = _parse_probs_gz(probs_gz, where + " (probs)")
    bbox_lines = _gunzip(bboxes_gz, where + " (bboxes)").decode("ascii", "replace").split()
    if len(bbox_lines) % 6:
        raise AtlasFileError(where + " (bboxes)", "each line must hold six integers")
    n_boxes = len(bbox_lines) // 6
    if n_regions is None:
        n_regions = max(n_boxes, int(region.max()) + 1 if len(region) else 0)
    if n_boxes != n_regions:
        raise RegionCountError(where, n_boxes, n_regions)
    vmax = int(voxels.max()) if voxels.size else -1
    if vmax != n_rows - 1:
        raise AtlasFileError(where, f"the voxels volume names rows up to {vmax}, the probs file has {n_rows} rows")
    flat = voxels.ravel()
    mapped = np.flatnonzero(flat >= 0)
    row_voxel = np.empty(n_rows, np.int64)
    row_voxel[flat[mapped]] = mapped
    return SparseIndex.from_entries(
        voxels.shape, vimg.affine, region, row_voxel[row], value, n_regions,
        voxels=voxels, row_voxel=row_voxel,
    )


def read_prefix(prefix, n_regions=None) -> SparseIndex:
    """Read the three v1 files ``<prefix>.sparseindex_v1.*`` (siibra's ``SparseIndex.load``)."""
    prefix = os.fspath(prefix)
    raw = {}
    for key, suffix in SUFFIXES.items():
        fname = prefix + suffix
        try:
            with open(fname, "rb") as f:
                raw[key] = f.read()
        except OSError as e:
            raise AtlasFileError(fname, f"cannot read the sparse index file ({e.strerror})") from None
    return decode(raw["voxels"], raw["probs"], raw["bboxes"], prefix, n_regions)


def _encode(index: SparseIndex, progress=False):
    """The three files' bytes (``progress``: a bar over the rows of the probs file, the longest part)."""
    import sys

    import nibabel as nib
    from tqdm.auto import tqdm

    vimg = nib.Nifti1Image(np.asarray(index.voxels, dtype=np.int32), index.affine)
    voxels = gzip.compress(vimg.to_bytes(), compresslevel=6)
    # one text per distinct value, as siibra writes a float32: its shortest repr
    uniq, inv = np.unique(index.entry_value, return_inverse=True)
    vtext = np.array([str(np.float32(u)) for u in uniq], dtype=object)
    regions = index.entry_region.astype(str).astype(object)
    pairs = regions + " " + vtext[inv]
    lines = []
    ptr = index.row_ptr
    pairs = pairs.tolist()
    with tqdm(total=index.n_rows, desc="sparse index", unit="row", unit_scale=True, disable=not progress,
              file=sys.stderr) as bar:
        for start in range(0, index.n_rows, 1 << 16):
            for n in range(start, min(start + (1 << 16), index.n_rows)):
                lines.append(" ".join(pairs[ptr[n]:ptr[n + 1]]))
            bar.update(min(1 << 16, index.n_rows - start))
    probs = gzip.compress(("\n".join(lines) + "\n").encode("ascii"), compresslevel=6)
    bb = index.bboxes.reshape(-1, 6)
    bboxes = gzip.compress(("".join(" ".join(map(str, r)) + "\n" for r in bb.tolist())).encode("ascii"))
    return voxels, probs, bboxes


def write_prefix(index: SparseIndex, prefix) -> list:
    """Write the three v1 files for ``prefix``; returns their paths."""
    prefix = os.fspath(prefix)
    folder = os.path.dirname(prefix)
    if folder:
        os.makedirs(folder, exist_ok=True)
    paths = []
    for key, data in zip(("voxels", "probs", "bboxes"), _encode(index)):
        fname = prefix + SUFFIXES[key]
        with open(fname, "wb") as f:
            f.write(data)
        paths.append(fname)
    return paths


#: a member of gpusiibra's own beside siibra's three: the region names (siibra's files carry none), the atlas's
#: name and space; readers that look for the three by their suffixes pass it by
_NAMES_SUFFIX = ".gpusiibra-names.json"


def write_zip(index: SparseIndex, zipfname, name: str, regions=None, meta=None, progress=False):
    """Write a zip holding ``<name>.probs.txt.gz``, ``<name>.bboxes.txt.gz``, ``<name>.voxels.nii.gz`` and,
    given ``regions``, ``<name>.gpusiibra-names.json`` (the region names, and ``meta``'s name and space)."""
    import json

    from .._outputs import write_atomically

    voxels, probs, bboxes = _encode(index, progress)

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr(name + _ZIP_SUFFIXES["voxels"], voxels)
            z.writestr(name + _ZIP_SUFFIXES["probs"], probs)
            z.writestr(name + _ZIP_SUFFIXES["bboxes"], bboxes)
            if regions is not None:
                extra = {k: v for k, v in (meta or {}).items() if k in ("name", "space") and v}
                z.writestr(name + _NAMES_SUFFIX, json.dumps(dict(extra, regions=list(regions))))

    return write_atomically(zipfname, write)  # whole or not at all (a stopped save leaves the earlier file)


def read_zip_names(zipfname):
    """``(region names, {"name", "space"})`` that :func:`write_zip` kept in the zip, or ``(None, {})``."""
    import json

    try:
        with zipfile.ZipFile(os.fspath(zipfname)) as z:
            member = next((m for m in z.namelist() if m.endswith(_NAMES_SUFFIX)), None)
            if member is None:
                return None, {}
            got = json.loads(z.read(member))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None, {}
    return list(got.get("regions") or []) or None, {k: got[k] for k in ("name", "space") if got.get(k)}


def read_zip(zipfname, n_regions=None) -> SparseIndex:
    """Read a zipped v1 sparse index, with either member naming."""
    zipfname = os.fspath(zipfname)
    try:
        with zipfile.ZipFile(zipfname) as z:
            names = z.namelist()
            found = {}
            for key in SUFFIXES:
                for member in names:
                    if member.endswith(SUFFIXES[key]) or member.endswith(_ZIP_SUFFIXES[key]):
                        found[key] = member
                        break
            missing = [k for k in SUFFIXES if k not in found]
            if missing:
                raise AtlasFileError(
                    zipfname, f"the zip lacks the sparse index member(s) {', '.join(missing)} "
                              f"(expected names ending in {', '.join(_ZIP_SUFFIXES[k] for k in missing)})")
            raw = {k: z.read(m) for k, m in found.items()}
    except AtlasFileError:
        raise
    except FileNotFoundError:
        raise AtlasFileError(zipfname, "no such file") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib_error()) as e:
        raise AtlasFileError(zipfname, f"not a readable zip file ({e})") from None
    return decode(raw["voxels"], raw["probs"], raw["bboxes"], zipfname, n_regions)


def zlib_error():
    import zlib

    return zlib.error
