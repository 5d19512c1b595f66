"""Output files: their folder checked before the work, and written whole or not at all, for the commands that write
one file."""
from __future__ import annotations

import os

from .errors import OptionError, OutputError

__all__ = ["check_folder", "write_atomically"]


def check_folder(out, option="--out") -> str:
    """The folder ``out`` will be written in; an OptionError naming ``option`` (the user's word for it; "" for
    a positional argument) when it does not exist or cannot be written (said before any work, never after)."""
    folder = os.path.dirname(os.path.abspath(os.fspath(out)))
    said = f"{option} {out}" if option else f"{out}"
    if not os.path.isdir(folder):
        raise OptionError(f"{said}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK):
        raise OptionError(f"{said}: the folder {folder} cannot be written")
    return folder


def write_atomically(out, write):
    """``write(tmp)`` on a temporary file beside ``out`` whose name ends as ``out``'s (so nibabel and pandas read
    the same format from it: ``.nii.gz``, ``.csv.gz``...), then moved onto ``out``: a run stopped or failing midway
    leaves ``out`` as it was, never half written. Returns ``out``."""
    out = os.fspath(out)
    folder, name = os.path.split(os.path.abspath(out))
    tmp = os.path.join(folder, f".{os.getpid()}.tmp-{name}")
    try:
        write(tmp)
        os.replace(tmp, out)
    except OSError as e:  # a full disk, say: the file named, and what is left of it
        kept = "the earlier file is kept" if os.path.isfile(out) else "nothing was written there"
        raise OutputError(out, f"cannot be written ({e.strerror or e}); {kept}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return out
