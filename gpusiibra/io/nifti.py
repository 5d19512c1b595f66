"""NIfTI input: query images and atlases given as 4D files or lists of 3D files."""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import AtlasFileError, ImageFileError

__all__ = ["warn_lost_orientation", "NO_ORIENTATION", "RESTORE_AFFINE", "load_image", "read_image", "read_raw", "n_volumes", "iter_volumes", "RawVolume", "space_note", "MNI_BRAIN_BOX", "inflate", "inflater", "image_data", "read_region_maps", "NIFTI_SUFFIXES", "is_nifti_path", "missing_reason"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti_path(path) -> bool:
    """True for a file name ending in .nii or .nii.gz."""
    return os.fspath(path).lower().endswith(NIFTI_SUFFIXES)


def missing_reason(path) -> str:
    """Why a path that does not exist cannot be opened: no such file, a broken link, a link loop, ..."""
    try:
        os.stat(path)
    except OSError as e:
        if os.path.islink(path) and e.errno == errno.ENOENT:
            return f"a symbolic link to {os.readlink(path)!r}, which does not exist"
        return {errno.ENOENT: "no such file", errno.ELOOP: "a loop of symbolic links"}.get(
            e.errno, (e.strerror or str(e)).lower())
    return "cannot be opened"


def resolve(path) -> str:
    """A path, with the names of the bundled examples (``example:motor``) replaced by their files."""
    from ..data import EXAMPLES

    path = os.fspath(path)
    return EXAMPLES.get(path, path)


def load_image(path):
    """Open a NIfTI file (or a bundled example by name), or raise :class:`ImageFileError` naming it and the reason."""
    import nibabel as nib

    path = resolve(path)
    if not os.path.exists(path):
        raise ImageFileError(path, missing_reason(path))
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a NIfTI file")
    if not os.path.isfile(path):  # a pipe (a shell's <(...)), a device: nibabel would wait, or read nothing
        raise ImageFileError(path, "is not a file (a pipe or a device?): give the map as a file")
    try:
        with nibabel_notes(path):
            img = nib.load(path)
    except Exception as e:
        raise ImageFileError(path, f"not a readable NIfTI image ({e})") from None
    if not hasattr(img, "affine") or img.affine is None:
        raise ImageFileError(path, "the image has no affine (not a NIfTI/Analyze volume)")
    return img


def _gzip_size(raw) -> int:
    """The size the gzip trailer records (of the last member, modulo 2**32), or -1 for a stream too short."""
    return int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else -1


def _libdeflate():
    try:
        import deflate
    except ImportError:
        return None
    return deflate.gzip_decompress


def _isal():
    try:
        from isal import igzip
    except ImportError:
        return None
    return igzip.decompress


def inflater() -> str:
    """The name of the fastest gzip inflater installed: ``libdeflate``, ``isal`` or ``zlib``."""
    return "libdeflate" if _libdeflate() else "isal" if _isal() else "zlib"


def _inflate_stream(raw: bytes) -> bytes:
    """Every member of a gzip stream, with ISA-L where installed (1.1-1.5x zlib), else zlib."""
    isal = _isal()
    if isal is None:
        import gzip

        return gzip.decompress(raw)
    return isal(raw)


def inflate(raw: bytes, need: int = 0) -> bytes:
    """gzip decompression with the fastest inflater installed.

    libdeflate (PyPI ``deflate``, 1.3-1.6x ISA-L) inflates one gzip member into a buffer of the size the
    trailer records: its output is taken only when it has exactly that size and holds at least ``need``
    bytes (a multi-member file whose first member is short of the data, a file cut short or a size beyond
    4 GiB is inflated again, whole, by ISA-L or zlib, which also say what is wrong with a damaged stream).
    """
    fast = _libdeflate()
    if fast is not None:
        size = _gzip_size(raw)
        if need <= size:
            try:
                out = fast(raw)
            except Exception:  # damaged or unusual: the stream inflater decides, and names the problem
                out = None
            if out is not None and len(out) == size and size >= need:
                return out
    return _inflate_stream(raw)


def _read_bytes(path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ImageFileError(path, f"cannot read the file ({e.strerror or e})") from None


_NIBABEL_NOTES: dict = {}  # thread -> what nibabel logged in it, while nibabel_notes is open there


def _nibabel_filter(record) -> bool:
    """nibabel's logger filter (installed once): a record of a thread inside :func:`nibabel_notes` is kept for
    its warning, not printed by nibabel's own handler."""
    notes = _NIBABEL_NOTES.get(record.thread)
    if notes is None:
        return True
    notes.append(record.getMessage())
    return False


@contextlib.contextmanager
def nibabel_notes(where):
    """What nibabel logs while it reads a header in this thread ("pixdim[1,2,3] should be non-zero; setting 0 dims
    to 1") comes back as one warning each, naming the file (nibabel's own line names none)."""
    import logging
    import threading

    logger = logging.getLogger("nibabel.global")
    if _nibabel_filter not in logger.filters:
        logger.addFilter(_nibabel_filter)
    me = threading.get_ident()
    before, notes = _NIBABEL_NOTES.get(me), []
    _NIBABEL_NOTES[me] = notes
    try:
        yield
    finally:
        if before is None:
            del _NIBABEL_NOTES[me]
        else:
            _NIBABEL_NOTES[me] = before
        for note in dict.fromkeys(notes):
            warnings.warn(f"{where}: nibabel: {note}", RuntimeWarning, stacklevel=3)


def _header_kind(head):
    """``(byte order, sizeof_hdr)`` of a NIfTI header's first bytes: ``("<" or ">", 348 or 540)`` (NIfTI-1 or -2),
    or None when its first field names neither."""
    import struct

    if len(head) < 4:
        return None
    for order in "<>":
        size = struct.unpack(order + "i", head[:4])[0]
        if size in (348, 540):
            return order, size
    return None


def _from_bytes(raw, where=None):
    """A nibabel image over the bytes of a single-file NIfTI-1 or NIfTI-2 (header parsed, no data read); what
    nibabel logs of the header comes back as warnings naming ``where`` (:func:`nibabel_notes`)."""
    if where is not None:
        with nibabel_notes(where):
            return _from_bytes(raw)
    import nibabel as nib

    kind = _header_kind(raw)
    if kind is None:
        return None
    # the header says which NIfTI it is (trying the other one makes nibabel log)
    cls = nib.Nifti2Image if kind[1] == 540 else nib.Nifti1Image
    try:
        return cls.from_bytes(raw)
    except Exception:
        return None


def _header_bytes(buf):
    """The bytes of a single-file NIfTI that nibabel parses (the header and its extensions, up to the data's offset),
    so that the parse does not copy the whole image (2 ms a 2 mm map); the whole buffer when the offset is not one a
    file of that size can have (nibabel then says what it makes of it)."""
    import struct

    kind = _header_kind(buf)
    if kind is None or len(buf) < 176:
        return buf
    order, size = kind
    offset = struct.unpack(order + "f", buf[108:112])[0] if size == 348 else struct.unpack(order + "q", buf[168:176])[0]
    return buf[:int(offset)] if offset == offset and size + 4 <= offset <= len(buf) else buf  # (not NaN)


def _plain_shape(head):
    """The shape a NIfTI-1 or NIfTI-2 header's ``dim`` field gives when it is a plain one (1 to 7 axes, each of
    a positive length: what nibabel then reads), else None. A batch plans its chunks by this, for every file."""
    import struct

    kind = _header_kind(head)
    if kind is None or len(head) < 80:
        return None
    order, size = kind
    dim = struct.unpack(order + "8h", head[40:56]) if size == 348 else struct.unpack(order + "8q", head[16:80])
    shape = dim[1:dim[0] + 1] if 1 <= dim[0] <= 7 else ()
    return tuple(int(n) for n in shape) if shape and min(shape) > 0 else None


def _trailing_garbage(raw) -> int:
    """The number of bytes after the gzip members of ``raw`` that are not another member (0 for none)."""
    import zlib

    rest = raw
    while rest[:2] == b"\x1f\x8b":  # each member inflated (its output dropped), to its end
        d = zlib.decompressobj(31)
        try:
            d.decompress(rest)
        except zlib.error:
            return 0
        if not d.eof:
            return 0
        rest = d.unused_data
    return len(rest) if rest is not raw else 0


def _inflated(path, raw, need=0):
    """The inflated bytes of a whole ``.nii.gz`` file; a damaged stream, or bytes after its end that are not
    gzip data (a file appended to or damaged: nibabel's lazy reads would stop before them), is refused."""
    try:
        return inflate(raw, need)
    except Exception as e:  # a damaged gzip stream: zlib.error, EOFError, isal's errors
        extra = _trailing_garbage(raw)
        if extra:
            raise ImageFileError(path, f"not a readable NIfTI image ({extra} bytes that are not gzip data after "
                                       "the end of its gzip data: the file was damaged or appended to)") from None
        raise ImageFileError(path, f"not a readable NIfTI image (damaged gzip data: {e})") from None


def read_image(path):
    """Open a NIfTI file reading it whole (the batch readers' path): a ``.nii.gz`` is inflated in one
    call with the fastest inflater installed. Same result and errors as :func:`load_image`."""
    path = resolve(path)
    if not path.lower().endswith(".nii.gz") or not os.path.isfile(path):
        return load_image(path)
    img = _from_bytes(_inflated(path, _read_bytes(path)), path)
    return img if img is not None else load_image(path)  # let nibabel say what is wrong


@dataclass
class RawVolume:
    """A NIfTI file's voxels as stored, with what nibabel would make of them (the batch readers' fast path).

    Attributes
    ----------
    shape : tuple of 3 or 4 int
        nibabel's shape with trailing axes of length 1 dropped (one frame per volume of a 4D file).
    affine : ndarray (4, 4)
        nibabel's ``img.affine``.
    voxels : ndarray
        Every voxel in file order (Fortran: x fastest), in the file's type, native byte order: a view of
        the inflated bytes where the file is in the machine's byte order.
    slope, inter :
        nibabel's scale factors (``img.dataobj.slope``/``inter``, as its array proxy applies them).
    dtype : numpy.dtype
        The type of nibabel's ``np.asanyarray(img.dataobj)`` (the scaled type), native byte order.
    """

    shape: tuple
    affine: np.ndarray
    voxels: np.ndarray
    slope: np.ndarray
    inter: np.ndarray
    dtype: np.dtype
    space: str | None = None  # :func:`space_note` of the header

    @property
    def scaled(self) -> bool:
        return not (self.slope == 1 and self.inter == 0)

    def scale(self, raw: np.ndarray) -> np.ndarray:
        """nibabel's read scaling of some of the voxels (element by element as on the whole image)."""
        from nibabel.volumeutils import apply_read_scaling

        return apply_read_scaling(raw, self.slope, self.inter).astype(self.dtype, copy=False)

    def frame(self, t: int) -> np.ndarray:
        """Volume ``t`` in file order (a view)."""
        n = int(np.prod(self.shape[:3]))
        return self.voxels[t * n:(t + 1) * n]


def _plain_layout(img):
    """``(proxy, shape, stored type, slope, inter, affine)`` of a file the raw readers take, else None."""
    proxy = img.dataobj
    shape = tuple(int(s) for s in proxy.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    stored = np.dtype(proxy.dtype)
    if len(shape) not in (3, 4) or 0 in shape or getattr(proxy, "order", "F") != "F" or stored.names is not None:
        return None
    if not (stored.kind in "iu" or (stored.kind == "f" and stored.itemsize in (4, 8))):
        return None
    slope, inter = np.asanyarray(proxy.slope), np.asanyarray(proxy.inter)
    if np.can_cast(inter, slope.dtype):  # as nibabel's proxy casts its factors before scaling
        inter = inter.astype(slope.dtype)
    if not (slope == 1 and inter == 0) and not (stored.kind in "iu" and inter == 0 and np.isfinite(slope)
                                                and slope > 0):
        return None
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        return None
    return proxy, shape, stored, slope, inter, affine


class _GzipCursor:
    """A ``.nii.gz`` inflated forward a piece at a time (ISA-L's zlib where installed): the bytes of some
    volumes without the file's whole inflated size in memory; the next volumes of the same file continue
    from where the last read stopped (:func:`_cursor`), so a file read in parts is inflated once."""

    PIECE = 1 << 20

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        self.d = self._decompressor()
        self.base, self.buf = 0, bytearray()  # self.buf holds the inflated bytes from offset self.base on

    @staticmethod
    def _decompressor():
        try:
            from isal import isal_zlib as z
        except ImportError:
            import zlib as z
        return z.decompressobj(31)

    def _more(self) -> bool:
        """Inflate about a piece more onto the buffer; False at the end of the file."""
        import zlib

        while True:
            data = self.d.unconsumed_tail or self.f.read(self.PIECE)
            if not data and not self.d.unconsumed_tail:
                if not self.d.eof:
                    raise ImageFileError(self.path, "not a readable NIfTI image (damaged gzip data: the file is "
                                                    "cut short)")
                return False
            try:
                out = self.d.decompress(data, self.PIECE)
            except zlib.error as e:
                raise ImageFileError(self.path, f"not a readable NIfTI image (damaged gzip data: {e})") from None
            if self.d.eof:  # the end of a member: another one, or bytes that are not gzip data
                rest = self.d.unused_data + self.f.read()
                if rest[:2] == b"\x1f\x8b":
                    self.d = self._decompressor()
                    self.f.close()
                    self.f = _Prefixed(rest)
                elif rest:
                    raise ImageFileError(self.path, f"not a readable NIfTI image ({len(rest)} bytes that are not "
                                                    "gzip data after the end of its gzip data: the file was "
                                                    "damaged or appended to)")
            if out:
                self.buf += out
                return True

    def head(self, n=540) -> bytes:
        """The first ``n`` inflated bytes (the header), kept for the reads that follow."""
        if not hasattr(self, "_head"):
            while len(self.buf) < n and self._more():
                pass
            self._head = bytes(self.buf[:n])
        return self._head

    def read(self, start, stop) -> bytes:
        """The inflated bytes ``[start, stop)``, ``start`` at or after the last read's ``stop`` (fewer at the end
        of the data); the bytes before ``start`` are dropped as they are inflated."""
        while start > self.base + len(self.buf):
            self.base += len(self.buf)
            self.buf = bytearray()
            if not self._more():
                return b""
        del self.buf[:start - self.base]
        self.base = start
        while self.base + len(self.buf) < stop and self._more():
            pass
        out = bytes(self.buf[:stop - start])
        del self.buf[:len(out)]
        self.base += len(out)
        return out

    def finish(self):
        """Inflate to the end (its output dropped): a damaged end, or bytes after it, raise as a whole read would."""
        while self._more():
            self.base += len(self.buf)
            self.buf = bytearray()
        self.close()

    def close(self):
        self.f.close()


class _Prefixed:
    """Bytes already read, as a file to read from."""

    def __init__(self, data):
        import io

        self._io = io.BytesIO(data)

    def read(self, n=-1):
        return self._io.read(n)

    def close(self):
        pass


_CURSORS: dict = {}
_CURSORS_LOCK = None


def _cursor(path):
    """An open cursor of ``path``: the one the last read of its earlier volumes left, else a new one; the
    caller owns it until :func:`_keep_cursor`."""
    import threading

    global _CURSORS_LOCK
    if _CURSORS_LOCK is None:
        _CURSORS_LOCK = threading.Lock()
    with _CURSORS_LOCK:
        cur = _CURSORS.pop(path, None)
    return cur if cur is not None else _GzipCursor(path)


def _keep_cursor(path, cur):
    """Keep ``cur`` for the next volumes of ``path`` (a few files at a time: the oldest is closed)."""
    with _CURSORS_LOCK:
        old = _CURSORS.pop(path, None)
        _CURSORS[path] = cur
        while len(_CURSORS) > 8:
            _CURSORS.pop(next(iter(_CURSORS))).close()
    if old is not None:
        old.close()


def close_cursors():
    """Close the cursors kept for volumes that were not read (a run stopped, or a resume that skips them)."""
    if _CURSORS_LOCK is None:
        return
    with _CURSORS_LOCK:
        kept = list(_CURSORS.values())
        _CURSORS.clear()
    for cur in kept:
        cur.close()


def n_volumes(path) -> int:
    """The number of volumes (maps) of a NIfTI file from its header alone (1 for a 3D file), or -1 when the
    header cannot be read (the reader then says why)."""
    import gzip
    import zlib

    path = resolve(path)
    if not os.path.isfile(path):  # missing, a folder, a named pipe (read once, by the reader)
        return -1
    try:
        if path.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                head = f.read(540)
        else:
            with open(path, "rb") as f:
                head = f.read(540)
    except (OSError, EOFError, zlib.error):
        return -1
    shape = _plain_shape(head)
    if shape is None:  # nibabel decides what an unusual header means
        img = _from_bytes(head, path)
        if img is None:
            return -1
        shape = tuple(int(s) for s in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape[3] if len(shape) == 4 else 1


def _read_raw_frames(path, start, stop):
    """:func:`read_raw` of volumes ``start`` to ``stop`` (excluded) of a 4D file, reading (and, for a
    ``.nii.gz``, keeping inflated) only them: the frames of the :class:`RawVolume` are those volumes."""
    gz = path.lower().endswith(".gz")
    if gz:
        cur = _cursor(path)
        try:
            head = cur.head()
        except BaseException:
            cur.close()
            raise
    else:
        with open(path, "rb") as f:
            head = f.read(540)
    img = _from_bytes(head, path)
    layout = _plain_layout(img) if img is not None else None
    if layout is None or len(layout[1]) != 4:
        if gz:
            cur.close()
        return None
    proxy, shape, stored, slope, inter, affine = layout
    frame = int(np.prod(shape[:3])) * stored.itemsize
    first, last = int(proxy.offset) + start * frame, int(proxy.offset) + stop * frame
    if gz:
        if cur.base > first:  # a cursor past these volumes (read out of order): a fresh one
            cur.close()
            cur = _GzipCursor(path)
        try:
            data = cur.read(first, last)
            if stop >= shape[3]:
                cur.finish()
        except BaseException:
            cur.close()
            raise
        if stop < shape[3]:
            _keep_cursor(path, cur)
    else:
        try:
            with open(path, "rb") as f:
                f.seek(first)
                data = f.read(last - first)
        except OSError as e:
            raise ImageFileError(path, f"cannot read the file ({e.strerror or e})") from None
    if len(data) < last - first:
        return None  # truncated: nibabel names the problem
    voxels = np.frombuffer(data, dtype=stored)
    if not stored.isnative:
        voxels = voxels.astype(stored.newbyteorder("="))
    from nibabel.volumeutils import apply_read_scaling

    dtype = apply_read_scaling(np.zeros(1, voxels.dtype), slope, inter).dtype
    return RawVolume(shape[:3] + (stop - start,), affine, voxels, slope, inter, np.dtype(dtype).newbyteorder("="),
                     space_note(img.header, affine, shape))


def iter_volumes(path, per_read: int = 8):
    """``(shape, affine, volumes)``: a 4D file's shape (3 or 4 axes, trailing axes of length 1 dropped), affine and
    volumes one after the other, each as ``np.asanyarray(img.dataobj)[..., t]`` would give it (nibabel's scaled
    type, a 3D array), without the whole 4D array in memory.

    A plain file (:func:`read_raw`'s kind) is read forward once, ``per_read`` volumes at a time, by the batch's
    reader of a file's volumes (:func:`read_raw` with ``frames``: a ``.nii.gz`` inflated forward by one kept
    :class:`_GzipCursor`, not nibabel's per-volume slicing, which inflates a gzip stream from its start for each
    volume), to its end, so that a stream cut short, a wrong checksum or bytes after the end raise
    :class:`ImageFileError` as a whole read would (the volumes before the damage may have been given by then).
    None for a file the raw path does not take (an intercept, a scaled float type, odd types, a damaged header):
    the caller reads it with nibabel, which gives its values or says what is wrong. ``volumes`` is a generator; a
    3D file gives one volume."""
    path = resolve(path)
    n = n_volumes(path) if path.lower().endswith(NIFTI_SUFFIXES) else -1
    if n < 1:
        return None
    step = max(1, per_read)
    try:
        first = read_raw(path) if n == 1 else read_raw(path, (0, min(n, step)))
    except Exception:  # unreadable from the first volumes on: nibabel names the problem
        return None
    if first is None:
        return None
    shape = tuple(first.shape[:3]) + ((n,) if n > 1 else ())

    pending = [first]  # the generator owns the first block (not the closure: its bytes go once given)

    def volumes():
        block, t0 = pending.pop(), 0
        while True:
            for k in range(min(n, t0 + step) - t0):
                vol = block.frame(k)
                yield (block.scale(vol) if block.scaled else vol).reshape(shape[:3], order="F")
            t0 += step
            if t0 >= n:
                return
            block = read_raw(path, (t0, min(n, t0 + step)))
            if block is None:
                raise ImageFileError(path, f"not a readable NIfTI image (the file is cut short: it ends before "
                                           f"volume {min(n, t0 + step)} of {n})")

    return shape, first.affine, volumes()


def _is_pipe(path) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def read_raw(path, frames=None):
    """The stored voxels of a NIfTI file without nibabel's array passes (:class:`RawVolume`), or None.

    The header is parsed by nibabel, the voxels are a view of the (inflated) bytes. None means the file is
    not plain enough for this path (other types than integers and 32/64-bit floats, an intercept, a
    negative slope or a scaled float type, fewer or more than 3-4 axes, a singular affine, data beyond the end of the file): the
    caller then reads it with nibabel (:func:`read_image`, :func:`image_data`), which gives the values or
    the reason.
    """
    path = resolve(path)
    low = path.lower()
    if not low.endswith(NIFTI_SUFFIXES) or not (os.path.isfile(path) or _is_pipe(path)):
        return None  # a named pipe (process substitution, a stream) is read once, here, as it comes
    if frames is not None:
        return _read_raw_frames(path, *frames)
    raw = _read_bytes(path)
    gz = low.endswith(".gz")
    buf = _inflated(path, raw, need=348) if gz else raw
    img = _from_bytes(_header_bytes(buf), path)
    if img is None and gz:  # libdeflate took the first member of several for the whole: inflate it all
        buf = _inflate_stream(raw)
        img = _from_bytes(_header_bytes(buf), path)
    if img is None:
        return None
    layout = _plain_layout(img)
    if layout is None:
        return None
    proxy, shape, stored, slope, inter, affine = layout
    n = int(np.prod(shape))
    need = int(proxy.offset) + n * stored.itemsize
    if len(buf) < need and gz:  # libdeflate inflated one member of several: inflate the whole stream
        buf = _inflate_stream(raw)
    if len(buf) < need:
        return None  # truncated: nibabel names the problem
    voxels = np.frombuffer(buf, dtype=stored, count=n, offset=int(proxy.offset))
    if not stored.isnative:
        voxels = voxels.astype(stored.newbyteorder("="))
    from nibabel.volumeutils import apply_read_scaling

    dtype = apply_read_scaling(np.zeros(1, voxels.dtype), slope, inter).dtype
    return RawVolume(shape, affine, voxels, slope, inter, np.dtype(dtype).newbyteorder("="),
                     space_note(img.header, affine, shape))


#: the MNI152 brain's box in mm (x, y, z: low, high), as the 2 mm MNI grids of SPM and FSL hold it
MNI_BRAIN_BOX = np.array([[-90.0, -126.0, -72.0], [90.0, 90.0, 108.0]])
_CODES = {0: "unknown", 1: "scanner", 2: "aligned", 3: "Talairach", 4: "MNI152", 5: "template"}


#: how :func:`space_note` begins for a header that states no orientation: its voxels' positions are lost, which no
#: ``--space`` mends (warned about whatever the user says of the space)
NO_ORIENTATION = "its header states no orientation"

#: what to do about it
RESTORE_AFFINE = ("the voxels' positions are lost, whatever its space: write the map's real affine into its header "
                  "(nibabel's set_sform) and run again")


def warn_lost_orientation(img, where, taken="its coordinates are taken as MNI152") -> bool:
    """Warn (RuntimeWarning) when an image's header states no orientation (:data:`NO_ORIENTATION`), or says
    scanner or Talairach coordinates, for the commands that do not go through the batch's space notes (clusters,
    warp: ``taken`` says what they do with its coordinates); True when it did."""
    import warnings

    header = getattr(img, "header", None)
    if header is None:
        return False
    if not any(_codes(header)) and _orientation_unknown(header):
        warnings.warn(f"{where}: {NO_ORIENTATION} (sform_code and qform_code 0, or an Analyze header): "
                      f"{RESTORE_AFFINE}", RuntimeWarning, stacklevel=3)
        return True
    codes = _codes(header)
    if (codes[0] or codes[1]) in (1, 3):  # scanner (a subject's native space) or Talairach
        note = space_note(header, getattr(img, "affine", None), getattr(img, "shape", (1, 1, 1)), check_grid=False)
        warnings.warn(f"{where}: {note}: {taken}", RuntimeWarning, stacklevel=3)
        return True
    return False


def _codes(header) -> list:
    """A header's [sform_code, qform_code] (0 where it has none: an Analyze header)."""
    codes = []
    for field in ("sform_code", "qform_code"):
        try:
            codes.append(int(header[field]))
        except (KeyError, TypeError, ValueError, IndexError):
            codes.append(0)
    return codes


def _orientation_unknown(header):
    """Whether a NIfTI or Analyze header states no orientation at all (both codes 0, or Analyze's no codes)."""
    from nibabel.analyze import AnalyzeHeader
    from nibabel.spm99analyze import Spm99AnalyzeHeader

    if isinstance(header, Spm99AnalyzeHeader) and not hasattr(header, "get_sform"):
        return not np.any(header["origin"][:3])  # SPM's Analyze: the origin field places it (nibabel reads it)
    return isinstance(header, AnalyzeHeader)


def space_note(header, affine, shape, check_grid=True):
    """Why an image's header says it is not in MNI152 space, or None.

    Its sform code (else its qform code) says scanner (the subject's native space) or Talairach coordinates, or
    neither code states any orientation (nibabel then places the voxels by their sizes alone); or its grid covers less than half of the MNI152 brain's box (:data:`MNI_BRAIN_BOX`), as no MNI template's
    grid does. Codes "aligned" and "template" are taken as MNI (SPM writes "aligned" for normalised maps).
    """
    from nibabel.affines import apply_affine

    codes = _codes(header)
    code = codes[0] or codes[1]
    if code == 0 and _orientation_unknown(header):
        return (f"{NO_ORIENTATION} (sform_code and qform_code 0, or an Analyze header): its affine is nibabel's "
                "guess from the voxel sizes alone, not MNI152")
    if code in (1, 3):
        return (f"its header says {_CODES[code]} coordinates (sform_code {codes[0]} {_CODES.get(codes[0], '?')}, "
                f"qform_code {codes[1]} {_CODES.get(codes[1], '?')}), not MNI152")
    if not check_grid:
        return None
    n = np.asarray(shape[:3], np.float64)
    corners = apply_affine(affine, np.array([[i, j, k] for i in (0, n[0] - 1) for j in (0, n[1] - 1)
                                             for k in (0, n[2] - 1)]))
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    overlap = np.clip(np.minimum(hi, MNI_BRAIN_BOX[1]) - np.maximum(lo, MNI_BRAIN_BOX[0]), 0, None)
    share = float(np.prod(overlap) / np.prod(MNI_BRAIN_BOX[1] - MNI_BRAIN_BOX[0]))
    if share < 0.5:
        return (f"its grid covers {share:.0%} of the MNI152 brain's box (from {np.round(lo).astype(int).tolist()} to "
                f"{np.round(hi).astype(int).tolist()} mm), as no MNI template's grid does")
    return None


def image_data(img, where=None, volume_errors=False):
    """The voxel array and affine of a nibabel image, read with clear errors.

    Scaled integer data come back as floats (nibabel's ``dataobj`` semantics, as
    nilearn and siibra read them); non-finite values are set to 0 with a warning
    (gpusiibra's deliberate difference 3 from siibra). An image, or a volume of a
    4D image, whose every value is NaN or infinite is an error (a map with no
    value is no map), unless ``volume_errors``: the volumes are then given back.

    Returns
    -------
    data : ndarray (3D or 4D)
    affine : ndarray (4, 4)
    empty : set of int
        Only with ``volume_errors``: the volumes of a 4D image that hold no finite value (zeros in ``data``).
    """
    where = where or getattr(img, "get_filename", lambda: None)() or "<in-memory image>"
    if not hasattr(img, "dataobj") or getattr(img, "affine", None) is None:
        raise ImageFileError(where, f"not an image: a NIfTI file's path or a nibabel image is needed, not "
                                    f"{type(img).__name__}")
    shape = tuple(int(s) for s in getattr(img, "shape", ()))
    if 0 in shape:
        raise ImageFileError(where, f"the image has shape {shape}, which holds no voxels")
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as e:
        raise ImageFileError(where, f"cannot read the voxel data, the file may be truncated ({e})") from None
    if data.dtype.names is not None:
        raise ImageFileError(where, f"voxels are records ({data.dtype}), not numbers")
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise ImageFileError(where, f"expected a 3D or 4D image, got shape {data.shape}")
    if data.size == 0:
        raise ImageFileError(where, "the image holds no voxels")
    if data.dtype.kind == "c":
        raise ImageFileError(where, f"complex-valued voxels ({data.dtype}): a map must hold real numbers")
    if not data.dtype.isnative:  # a big-endian file: the same numbers, in the machine's order
        data = data.astype(data.dtype.newbyteorder("="))
    empty = set()
    if data.dtype.kind == "f":
        finite = np.isfinite(data)
        if not finite.all():
            if not finite.any() and data.ndim == 3:
                raise ImageFileError(where, "every value is NaN or infinite")
            if data.ndim == 4:
                empty = set(np.flatnonzero(~finite.any(axis=(0, 1, 2))).tolist())
                if empty and not volume_errors:
                    raise ImageFileError(where, f"volume {min(empty)}: every value is NaN or infinite")
            bad = int((~finite).sum()) - len(empty) * int(np.prod(data.shape[:3]))
            if bad:
                warnings.warn(f"{where}: {bad} non-finite values set to 0", RuntimeWarning, stacklevel=3)
            data = np.where(finite, data, 0).astype(data.dtype)
    affine = np.asarray(img.affine, dtype=np.float64)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ImageFileError(where, "the affine is singular or not finite")
    return (data, affine, empty) if volume_errors else (data, affine)


def _expand(paths):
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            out.extend(sorted(f for f in glob.glob(os.path.join(p, "*")) if is_nifti_path(f)))
        else:
            out.append(p)
    return out


def _finite_volumes(path):
    """``(affine, volumes)`` of a plain 4D file read forward once (:func:`iter_volumes`), each volume as
    :func:`image_data` gives it (non-finite values set to 0, with one warning for the file; a volume with no finite
    value an error), or None for another file (:func:`image_data` reads it)."""
    if not os.fspath(path).lower().endswith(NIFTI_SUFFIXES) or not os.path.isfile(path):
        return None
    streamed = iter_volumes(path)
    if streamed is None:
        return None
    shape, affine, volumes = streamed
    if len(shape) != 4:
        volumes.close()
        return None

    def cleaned():
        bad = 0
        for t, vol in enumerate(volumes):
            if vol.dtype.kind == "f":
                finite = np.isfinite(vol)
                if not finite.all():
                    if not finite.any():
                        raise ImageFileError(path, f"volume {t}: every value is NaN or infinite")
                    bad += int((~finite).sum())
                    vol = np.where(finite, vol, 0).astype(vol.dtype)
            yield vol
        if bad:
            warnings.warn(f"{path}: {bad} non-finite values set to 0", RuntimeWarning, stacklevel=2)

    return affine, cleaned()


def _atlas_errors(volumes):
    """The volumes, an :class:`ImageFileError` met while reading them raised as an :class:`AtlasFileError`."""
    try:
        yield from volumes
    except ImageFileError as e:
        raise AtlasFileError(e.path, e.reason) from None


def read_region_maps(source, labels=None):
    """Region maps from a 4D NIfTI (one region per volume) or from 3D NIfTI files (a folder or a list).

    Returns
    -------
    dict
        ``shape``, ``affine``, ``names``, ``region``, ``voxel``, ``value``
        (flat entries of every voxel > 0).
    """
    from .paqd import read_labels

    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files = _expand(sources)
    if not files:
        raise AtlasFileError(sources[0] if sources else None, "no NIfTI files found")
    regions, voxels, values, default_names = [], [], [], []
    shape = affine = None
    n = 0
    for f in files:
        try:
            streamed = _finite_volumes(f)
            if streamed is not None:  # a plain 4D file: read forward once, a volume at a time
                aff, vols = streamed
            else:
                data, aff = image_data(load_image(f), f)
                vols = [data] if data.ndim == 3 else [data[..., t] for t in range(data.shape[3])]
                del data
        except ImageFileError as e:
            raise AtlasFileError(e.path, e.reason) from None
        stem = os.path.basename(f)
        for s in NIFTI_SUFFIXES:
            if stem.lower().endswith(s):
                stem = stem[: -len(s)]
        for t, vol in enumerate(_atlas_errors(vols)):
            if shape is None:
                shape, affine = vol.shape, aff
            elif vol.shape != shape:
                raise AtlasFileError(f, f"shape {vol.shape} differs from the first map's {shape}")
            elif not np.allclose(aff, affine, atol=1e-6):
                raise AtlasFileError(f, "its affine differs from the first map's")
            flat = vol.ravel()
            lin = np.flatnonzero(flat != 0)  # negative values too: the atlas loader refuses them by name
            regions.append(np.full(len(lin), n, np.int64))
            voxels.append(lin)
            values.append(flat[lin].astype(np.float32))
            default_names.append(stem if streamed is None and len(vols) == 1 else f"{stem}[{t}]")
            n += 1
    names = read_labels(labels) if labels is not None else default_names
    if len(names) != n:
        raise AtlasFileError(
            labels if isinstance(labels, (str, os.PathLike)) else files[0],
            f"{len(names)} labels for {n} region maps",
        )
    return dict(shape=shape, affine=affine, names=names, region=np.concatenate(regions),
                voxel=np.concatenate(voxels), value=np.concatenate(values))
