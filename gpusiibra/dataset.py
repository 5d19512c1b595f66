"""The batch output: a Parquet dataset folder with a manifest, one writer at a time.

Layout of ``OUT/``:

``part-NNNNN.parquet``  the rows of one chunk of maps, written to a temporary name, then renamed
``_manifest.jsonl``     what the dataset holds, one checksummed JSON record per line
``.lock``               held (``flock``) by the one run writing the dataset; the OS releases it
                        when that process ends, however it ends

and ``OUT.errors.csv`` beside the folder: the inputs of the last run that could not be used.

Manifest records (each line is ``<crc32 of the JSON, 8 hex digits> <JSON>``):

- ``run`` (first line): the settings every map of the dataset was assigned with (threshold,
  two-sided, lower threshold, minsize, peaks), the atlas (name, regions, fingerprint of its
  arrays) and the software versions. ``--resume`` with other settings, another atlas or
  another gpusiibra version is refused with a message that says what differs.
- ``chunk``: the maps of one part file (or of none, when they had no rows), the part's size and
  SHA-256, and the size, modification time and checksum (XXH3) of each input file. A chunk is recorded in one line,
  after its part file is in place: a chunk is in the dataset entirely or not at all.
- ``drop``: a recorded part found missing or damaged by a later run, whose maps it assigned again.
- ``session`` / ``end``: when each run started and ended, how many maps it assigned.

A line cut short by a crash or a full disk is recognised by its checksum (or its missing end
of line) and discarded when the dataset is opened again; its part file is then unrecorded and
removed, and its maps are assigned again. Inputs are named by their absolute path as given (links
not resolved); a file the dataset holds under another spelling keeps its recorded name on resume.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import sys
import warnings
import zlib

import numpy as np

from ._atlas_identity import atlas_identities, atlas_identity, atlas_label  # noqa: F401  (the datasets' API)
from ._lock import FileLock
from .errors import DatasetError

__all__ = ["MANIFEST", "FORMAT", "Dataset", "read_manifest", "intact_chunks", "dataset_state", "atlas_identity",
           "atlas_identities", "atlas_label",
           "input_key", "same_file_key", "file_stamp", "same_file", "errors_path", "warnings_path", "read_errors", "write_errors"]

MANIFEST = "_manifest.jsonl"
FORMAT = "gpusiibra-dataset/3"  # 3: the atlas and fragment columns, several atlases
_LOCK = ".lock"
# settings that change the numbers: a resume must use the same
SETTINGS = ("threshold", "two_sided", "lower_threshold", "minsize", "peaks", "mindist")


def input_key(path) -> str:
    """How a dataset names an input file: its absolute path as the user spelled it (links not resolved, so
    that a file of a datalad/git-annex dataset keeps its name, not that of the annexed object)."""
    return os.path.abspath(os.fspath(path))


def same_file_key(path) -> str:
    """What tells two spellings of one file apart from two files: the resolved path."""
    return os.path.realpath(os.fspath(path))


def _file_digest(path, algorithm="xxh3_128") -> str:
    """A file's checksum: ``xxh3_128:<hex>`` (xxHash's XXH3, 128 bits: 13 GB/s, against SHA-256's 1.1 GB/s, which
    took a sixth of the CPU of a batch of incompressible maps), or the bare SHA-256 hex digest of the stamps of
    earlier versions (``algorithm="sha256"``)."""
    if algorithm == "sha256":
        h = hashlib.sha256()
    else:
        import xxhash

        h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest() if algorithm == "sha256" else f"xxh3_128:{h.hexdigest()}"


def file_stamp(path):
    """[size in bytes, modification time in ns, checksum of the bytes (:func:`_file_digest`)] of a file, or None
    when it cannot be read. A resume compares the size and time first and the checksum only when the time alone
    differs (``touch``, ``cp``, a new checkout of the same bytes)."""
    try:
        st = os.stat(path)
        return [int(st.st_size), int(st.st_mtime_ns), _file_digest(path)]
    except OSError:
        return None


def same_file(stamp, path) -> bool:
    """Whether ``path`` holds the bytes recorded in ``stamp`` (of :func:`file_stamp`; a stamp of an older
    gpusiibra has no checksum, and then its modification time must be the same; a stamp of the versions before
    XXH3 holds a SHA-256)."""
    try:
        st = os.stat(path)
    except OSError:
        return True  # gone: nothing to compare (a missing input is its own error)
    if int(st.st_size) != stamp[0]:
        return False
    if int(st.st_mtime_ns) == stamp[1]:
        return True
    if len(stamp) < 3:
        return False
    algorithm = str(stamp[2]).partition(":")[0] if ":" in str(stamp[2]) else "sha256"  # (sha256: bare hex)
    try:
        return algorithm in ("sha256", "xxh3_128") and _file_digest(path, algorithm) == stamp[2]
    except OSError:
        return True


def errors_path(out) -> str:
    """``OUT.errors.csv``, beside the dataset folder."""
    return os.fspath(out).rstrip("/\\") + ".errors.csv"


def require_dataset(path) -> str:
    """``path`` as a string when it is a results dataset's folder; else a :class:`DatasetError` saying what it
    is: nothing, a single Parquet file, another file, or the errors file of a run whose every input failed."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return path
    what = "(a folder that `gpusiibra assign --out` or `gpusiibra points --out X.parquet` writes)"
    if os.path.isfile(path):
        with open(path, "rb") as f:
            parquet = f.read(4) == b"PAR1"
        raise DatasetError(path, f"is a single {'Parquet ' if parquet else ''}file, not a results dataset {what}"
                                 + ("; pandas.read_parquet reads it" if parquet else ""))
    err_file = errors_path(path)
    if os.path.exists(err_file):  # a run whose every input failed leaves only its errors file
        failed, unreadable = read_errors(err_file)
        raise DatasetError(path, unreadable or f"no map was assigned: all {len(failed)} inputs failed "
                                               f"(their reasons are in {err_file})")
    raise DatasetError(path, f"no such results dataset {what}")


def _versions() -> dict:
    import nibabel
    import scipy

    from . import __version__

    return {"gpusiibra": __version__, "python": sys.version.split()[0], "numpy": np.__version__,
            "scipy": scipy.__version__, "nibabel": nibabel.__version__}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _encode(record: dict) -> bytes:
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    return f"{zlib.crc32(text.encode()):08x} {text}\n".encode()


def _decode(line: bytes):
    """The record of one complete line, or None when the line is damaged."""
    try:
        crc, text = line.decode().rstrip("\n").split(" ", 1)
        if int(crc, 16) != zlib.crc32(text.encode()):
            return None
        rec = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    return rec if isinstance(rec, dict) and "type" in rec else None


def _torn_consequence(tail: bytes) -> str:
    """What is lost with a torn last line, told from its first key (records are written with sorted keys: a
    chunk's start with "bytes" or "inputs"; the run's, a session's, a drop's and the end's with others)."""
    m = re.match(rb'[0-9a-f]{8} \{"(\w+)"', tail)
    if m is None:
        return "; it is left out (if it recorded a chunk, that chunk's maps will be assigned again)"
    if m.group(1) in (b"bytes", b"inputs"):
        return "; it recorded a chunk, whose maps will be assigned again"
    return "; it recorded no maps (the start or end of a run), so nothing is lost"


def read_manifest(out, repair=False) -> list:
    """The records of a dataset's manifest, in order.

    A damaged or unfinished last line (a crash or a full disk while it was
    appended) is left out with a warning; with ``repair`` it is also cut off
    the file, so that the next record starts on a fresh line.

    Raises
    ------
    DatasetError
        When the folder holds no manifest, or a line before the last is damaged.
    """
    path = os.path.join(os.fspath(out), MANIFEST)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DatasetError(out, "not a gpusiibra results dataset (no manifest)") from None
    except OSError as e:
        raise DatasetError(path, f"cannot read the manifest ({e.strerror})") from None
    records, good_end, pos = [], 0, 0
    lines = raw.split(b"\n")
    for n, line in enumerate(lines[:-1], start=1):  # every line that ends with a newline
        rec = _decode(line)
        last = n == len(lines) - 1 and not lines[-1]
        if rec is None:
            if not last:
                raise DatasetError(path, f"line {n} is damaged (not a gpusiibra manifest record); "
                                         "the dataset cannot be continued safely")
            break
        records.append(rec)
        pos += len(line) + 1
        good_end = pos
    if good_end < len(raw):
        warnings.warn(f"{path}: the last entry was cut short (the run that wrote it was stopped or the disk was "
                      f"full){_torn_consequence(raw[good_end:])}", RuntimeWarning, stacklevel=2)
        if repair:
            with open(path, "r+b") as f:
                f.truncate(good_end)
    if not records or records[0].get("type") != "run":
        raise DatasetError(out, "the manifest does not start with the run's settings (an older gpusiibra, "
                                "or not a gpusiibra dataset)")
    return records


def _part_problem(out, rec):
    """Why a recorded part file cannot be used (missing, cut, changed), or None when it is intact."""
    path = os.path.join(os.fspath(out), rec["part"])
    try:
        size = os.path.getsize(path)
    except OSError:
        return "the part file is missing"
    if "bytes" in rec:
        if size != rec["bytes"]:
            return f"the part file has {size} bytes, the manifest recorded {rec['bytes']}"
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        if h.hexdigest() != rec["sha256"]:
            return "the part file's checksum differs from the one recorded (its bytes changed)"
        return None
    try:  # a part of an older dataset (no checksum recorded): its rows must read
        import pyarrow.parquet as pq

        if pq.ParquetFile(path).metadata.num_rows != rec["rows"]:
            return "the part file's row count differs from the one recorded"
    except Exception as e:
        return f"the part file does not read ({type(e).__name__})"
    return None


def intact_chunks(out, records):
    """The chunk records whose rows are in the dataset, and ``(record, reason)`` of those whose part file is
    missing or damaged (parts dropped by a later run are left out of both)."""
    dropped = {r["part"] for r in records if r["type"] == "drop"}
    good, bad = [], []
    for rec in records:
        if rec["type"] != "chunk" or (rec.get("part") and rec["part"] in dropped):
            continue
        reason = _part_problem(out, rec) if rec.get("part") else None
        (bad.append((rec, reason)) if reason else good.append(rec))
    return good, bad


def completeness_notes(out, records, damaged, what="this report") -> list:
    """One line for each reason a reader of a dataset does not see all of it: a part file missing or damaged
    (``damaged`` from :func:`intact_chunks`), a run still writing it, a run that was stopped. ``what`` names
    the reader's result ("this report", "this comparison")."""
    notes = [f"{rec['part']}: {reason}; its {len(rec['maps'])} maps are left out of {what} "
             "(`gpusiibra assign ... --resume` assigns them again)" for rec, reason in damaged]
    state = dataset_state(out, records)
    if state == "running":
        notes.append(f"the run writing this dataset is still going: {what} shows the maps finished so far")
    elif state == "stopped":
        notes.append(f"the last run on this dataset did not finish (stopped or killed): {what} shows the maps "
                     "it finished; `gpusiibra assign ... --resume` assigns the rest")
    return notes


def dataset_state(out, records) -> str:
    """``finished``, ``running`` (a run holds the dataset now) or ``stopped`` (the last run did not end)."""
    if FileLock(os.path.join(os.fspath(out), _LOCK)).held():
        return "running"
    last_session = max((i for i, r in enumerate(records) if r["type"] == "session"), default=-1)
    ended = any(r["type"] == "end" for r in records[last_session + 1:])
    return "finished" if ended else "stopped"


class Dataset:
    """A results dataset opened for writing by this process (the only writer).

    Parameters
    ----------
    out : path
        The dataset folder. Its parent folder must exist.
    resume : bool
        Continue an existing dataset (same settings, atlas and version), else it must not exist.
    settings : dict
        The values of :data:`SETTINGS` of this run (and any other setting of its kind of work, e.g. the
        ``kind`` and ``sigma_mm`` of a points dataset): a resume must give the same.
    atlas : dict
        :func:`atlas_identity` of the atlas in use.
    """

    def __init__(self, out, resume, settings, atlas):
        self.out = os.fspath(out)
        self.manifest = os.path.join(self.out, MANIFEST)
        self._lock = FileLock(os.path.join(self.out, _LOCK))
        self._open_folder()
        try:
            self._start(resume, dict({k: settings.get(k) for k in SETTINGS}, **settings), atlas)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ opening
    def _open_folder(self):
        out = self.out
        if os.path.exists(out) and not os.path.isdir(out):
            raise DatasetError(out, "is a file, not a results dataset (a dataset is a folder): choose another output "
                                    "name")
        if os.path.isdir(out) and [f for f in os.listdir(out) if f != _LOCK] and \
                not os.path.exists(os.path.join(out, MANIFEST)):
            raise DatasetError(out, "is a folder that is not a results dataset (it has no manifest): choose another "
                                    "output name")
        self.created = not os.path.exists(out) or not [f for f in os.listdir(out) if f != _LOCK]
        self.made_folder = not os.path.exists(out)  # an empty folder the user made is kept whatever happens
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise DatasetError(out, f"the folder {parent} does not exist")
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise DatasetError(out, f"cannot create the dataset folder ({e.strerror})") from None
        try:
            got = self._lock.acquire()
        except OSError as e:
            raise DatasetError(out, f"cannot write in the dataset folder ({e.strerror})") from None
        if not got:
            raise DatasetError(out, "another gpusiibra run is writing this dataset"
                                    f"{self._lock.holder()}; wait for it to end, or choose another output name")

    def _start(self, resume, settings, atlas):
        entries = [f for f in os.listdir(self.out) if f != _LOCK]
        versions = _versions()
        self.done, self.stamps = set(), {}
        recorded, records = set(), []
        if entries and not resume:
            raise DatasetError(self.out, "exists; continue it with resume=True, or choose another output name")
        if entries == [MANIFEST] and b"\n" not in open(self.manifest, "rb").read():
            # a run killed while it wrote its very first line: nothing was recorded, start afresh
            os.remove(self.manifest)
            entries = []
        if entries:
            records = read_manifest(self.out, repair=True)
            self._check_same_run(records[0], settings, atlas, versions)
            chunks, damaged = intact_chunks(self.out, records)
            for rec in chunks:
                self.done.update((m[0], int(m[1]), m[2]) for m in rec["maps"])
                self.stamps.update(rec.get("inputs", {}))
                if rec.get("part"):
                    recorded.add(rec["part"])
            for rec, reason in damaged:  # its maps are assigned again; the record says the part is gone
                warnings.warn(f"{os.path.join(self.out, rec['part'])}: {reason}; its {len(rec['maps'])} maps will be "
                              "assigned again", RuntimeWarning, stacklevel=3)
                self._append({"type": "drop", "part": rec["part"], "reason": reason, "when": _now()})
        # parts written by a stopped run but never recorded would double rows: drop them
        for f in os.listdir(self.out):
            if f.startswith("part-") and (f not in recorded or not f.endswith(".parquet")):
                os.remove(os.path.join(self.out, f))
        # numbers never reused, not even those of dropped parts (a drop record names its part)
        numbers = [int(r["part"][5:10]) for r in (records if entries else []) if r.get("part")]
        self.next_part = 1 + max(numbers or [-1])
        if not entries:
            self._append({"type": "run", "format": FORMAT, "created": _now(), "settings": settings,
                          "atlas": atlas, "versions": versions})
        self._append({"type": "session", "start": _now(), "resume": bool(entries), "versions": versions})

    def _check_same_run(self, run, settings, atlas, versions):
        if run.get("format") != FORMAT:
            raise DatasetError(self.out, f"written in format {run.get('format')!r}, this gpusiibra writes {FORMAT!r}: "
                                         "start a new dataset")
        diffs = []
        for k in list(SETTINGS) + sorted((set(run["settings"]) | set(settings)) - set(SETTINGS)):
            if run["settings"].get(k) != settings.get(k):
                diffs.append(f"{k} {_show(run['settings'].get(k))} -> {_show(settings.get(k))}")
        if run["atlas"]["fingerprint"] != atlas["fingerprint"]:
            a, b = run["atlas"], atlas
            diffs.append(f"atlas {a['name']!r} ({a['regions']} regions, fingerprint {a['fingerprint'][:8]}) -> "
                         f"{b['name']!r} ({b['regions']} regions, fingerprint {b['fingerprint'][:8]})")
        if run["versions"].get("gpusiibra") != versions["gpusiibra"]:
            diffs.append(f"gpusiibra {run['versions'].get('gpusiibra')} -> {versions['gpusiibra']}")
        if diffs:
            raise DatasetError(self.out, "cannot resume: this run differs from the one that started the dataset ("
                                         + "; ".join(diffs) + "): its results would mix; use the same options, "
                                         "or choose another output name")

    def recorded_names(self, keys) -> list:
        """``keys`` with each file the dataset already holds under another spelling (a link, another mount)
        named as the dataset names it, so that a resume neither repeats nor renames it."""
        known = {same_file_key(k): k for k in self.stamps}
        return [known.get(same_file_key(k), k) for k in keys]

    def check_inputs(self, keys):
        """Refuse inputs already in the dataset whose bytes changed since (their size, or their checksum when
        only the modification time differs: a file touched or copied with the same bytes goes on)."""
        changed = []
        for k in keys:
            old = self.stamps.get(k)
            if old is not None and not same_file(old, k):
                changed.append(k)
        if changed:
            more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
            how = "its modification time differs, and this dataset, written by an older gpusiibra, recorded no " \
                  "checksum to compare the bytes with" if len(self.stamps[changed[0]]) < 3 \
                  and os.path.getsize(changed[0]) == self.stamps[changed[0]][0] else "its bytes differ"
            raise DatasetError(self.out, f"cannot resume: {changed[0]}{more} changed since its maps were assigned "
                                         f"({how}), so the dataset holds rows of the old file; restore it, or "
                                         "choose another --out")

    # ------------------------------------------------------------------ writing
    def _append(self, record):
        data = _encode(record)
        try:
            with open(self.manifest, "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise self._write_error(self.manifest, e) from None

    def _write_error(self, path, e):
        hint = " the maps finished so far are kept: run again with resume=True once the problem is solved" if self.done \
            else ""
        return DatasetError(path, f"cannot write ({e.strerror or e});{hint or ' nothing was assigned yet'}")

    def write(self, table, maps, inputs):
        """Add the rows of one chunk (an Arrow table, or None when the maps have no rows) and record its maps.

        Parameters
        ----------
        table : pyarrow.Table or None
        maps : list of (input, frame, sign)
        inputs : dict
            ``input -> [size, mtime_ns]`` of the chunk's files.
        """
        import pyarrow.parquet as pq

        import pyarrow as pa

        name, check = None, {}
        if table is not None and table.num_rows:
            name = f"part-{self.next_part:05d}.parquet"
            tmp = os.path.join(self.out, name + ".tmp")
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink)
            data = sink.getvalue()
            check = {"bytes": data.size, "sha256": hashlib.sha256(data).hexdigest()}
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, os.path.join(self.out, name))
            except OSError as e:
                if os.path.exists(tmp):
                    os.remove(tmp)
                raise self._write_error(os.path.join(self.out, name), e) from None
            self.next_part += 1
        self._append(dict({"type": "chunk", "part": name, "rows": int(table.num_rows) if table is not None else 0,
                           "maps": [[m[0], int(m[1]), m[2]] for m in maps], "inputs": inputs}, **check))
        self.done.update((m[0], int(m[1]), m[2]) for m in maps)
        self.stamps.update(inputs)

    def finish(self, summary: dict):
        """Record the end of this run."""
        self._append(dict({"type": "end", "end": _now()}, **summary))

    def discard_if_empty(self) -> bool:
        """Remove the dataset when this run created it and recorded no map (every input failed, or the run
        stopped before its first chunk): True when removed. A resumed dataset is never removed."""
        if not self.created or self.done or not os.path.isdir(self.out):
            return False
        for f in os.listdir(self.out):
            if f != _LOCK:
                os.remove(os.path.join(self.out, f))
        self._lock.release()
        try:
            os.remove(os.path.join(self.out, _LOCK))
            if self.made_folder:
                os.rmdir(self.out)
        except OSError:
            pass
        return True

    def close(self):
        self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _show(v):
    return "none" if v is None else repr(v)


def read_errors(path, header=("input", "reason")):
    """The ``input, reason`` rows of an errors file (``OUT.errors.csv``; ``header``: another such file's columns,
    ``OUT.warnings.csv``'s) and None, or no rows and a note saying why the file cannot be read (damaged, or not
    one that gpusiibra wrote): a report goes on without them."""
    import pandas as pd

    header = list(header)
    what = "failed inputs" if header[1] == "reason" else "inputs warned about"
    empty = pd.DataFrame(columns=header)
    if not os.path.exists(path):
        return empty, None
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return empty, f"{path}: cannot read the {what} ({why}); they are not listed"
    if list(table.columns[:2]) != header:
        return empty, (f"{path}: not a gpusiibra {'errors' if header[1] == 'reason' else 'warnings'} file (its columns are {list(table.columns)[:4]}, not "
                       f"{', '.join(header)}); the {what} are not listed")
    return table[header], None


def warnings_path(out) -> str:
    """``OUT.warnings.csv``, beside the dataset folder: the inputs of the last run that were warned about."""
    return os.fspath(out).rstrip("/\\") + ".warnings.csv"


def write_errors(path, errors, header=("input", "reason")):
    """Write ``input, reason`` rows (or ``header``'s) to ``path`` atomically; remove the file when there are
    none."""
    import csv

    if not errors:
        if os.path.exists(path):
            os.remove(path)
        return
    from ._outputs import write_atomically

    def write(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(list(header))
            w.writerows(errors)

    write_atomically(path, write)
