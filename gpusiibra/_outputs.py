"""Checks of an output path made before the work, shared by the commands that write one file."""
from __future__ import annotations

import os

from .errors import OptionError

__all__ = ["check_folder"]


def check_folder(out) -> str:
    """The folder ``out`` will be written in; an OptionError naming ``--out`` when it does not exist or cannot
    be written (said before any work, never after)."""
    folder = os.path.dirname(os.path.abspath(os.fspath(out)))
    if not os.path.isdir(folder):
        raise OptionError(f"--out {out}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK):
        raise OptionError(f"--out {out}: the folder {folder} cannot be written")
    return folder
