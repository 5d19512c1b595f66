"""The inputs of a batch: files, folders (walked once per folder, links followed, hidden files and folders left
out) and globs, as the user named them; one file given twice (or an Analyze pair's two files) is assigned once,
with a warning."""
from __future__ import annotations

import glob
import os
import warnings

from .data import EXAMPLES
from .dataset import input_key, same_file_key
from .io.nifti import is_nifti_path

__all__ = ["expand_inputs"]


def _walk(folder):
    """Every file under ``folder``, following links to folders but entering each folder once (a link that
    points back up would otherwise be walked for ever)."""
    seen = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # hidden folders (.git, .snapshots) left out
        for f in files:
            if not f.startswith("."):  # hidden files, such as macOS's ._x.nii.gz resource forks, left out
                yield os.path.join(root, f)


def _glob(pattern):
    """glob's matches; a ``**`` pattern walks its folder once per folder (:func:`_walk`) instead of
    glob's recursion, which loops on links that point back up."""
    if "**" not in pattern:
        return glob.glob(pattern)
    import fnmatch

    head = pattern.split("**", 1)[0]
    root = os.path.dirname(head) if not head.endswith(os.sep) else head.rstrip(os.sep) or os.sep
    root = root or "."
    if not os.path.isdir(root):
        return []
    rx = fnmatch.translate(pattern.replace(f"**{os.sep}", "**"))
    import re

    match = re.compile(rx).match
    return [f for f in _walk(root) if match(f if root != "." or pattern.startswith(".") else os.path.relpath(f))]


def _image_file(path):
    """The file that holds an image's voxels: an Analyze header's .img beside it, else the path itself (so that
    ``x.hdr`` and ``x.img`` given together are one image)."""
    stem, ext = os.path.splitext(path)
    if ext.lower() == ".hdr":
        for img in (stem + ".img", stem + ".IMG"):
            if os.path.isfile(img):
                return img
    return path


def expand_inputs(inputs) -> tuple[list, list]:
    """Files, folders and globs -> NIfTI paths (sorted within each argument, each file once), and the
    arguments that matched nothing with the reason."""
    paths, missing, seen = [], [], {}
    for item in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs):
        item = os.fspath(item)
        if item in EXAMPLES:
            found = [EXAMPLES[item]]
        elif os.path.isdir(item):
            found = sorted(f for f in _walk(item) if is_nifti_path(f))
            if not found:
                hidden = [f for _, _, files in os.walk(item) for f in files if f.startswith(".") and is_nifti_path(f)]
                missing.append((item, "folder holds no .nii or .nii.gz file" + (
                    f" ({len(hidden)} hidden one{'s' if len(hidden) > 1 else ''}, such as {hidden[0]}, left out: "
                    "names that begin with a dot are not maps)" if hidden else "")))
        elif os.path.isfile(item):  # a file whose name holds *, ? or [ is that file, not a pattern
            found = [item]
        elif os.path.exists(item):  # a pipe (a shell's <(...)), a device: reading one would wait, or read nothing
            missing.append((item, "is not a file (a pipe or a device?): give the map as a file; gpusiibra reads "
                                  "a map's file whole, and again on --resume"))
            continue
        elif any(ch in item for ch in "*?["):
            found = sorted(f for f in _glob(item) if is_nifti_path(f))
            if not found:
                missing.append((item, "pattern matches no .nii or .nii.gz file"))
        else:
            found = [item]
        for f in found:
            key, real = input_key(f), same_file_key(_image_file(f))
            if real not in seen:
                seen[real] = key
                paths.append(key)
            elif seen[real] != key:
                warnings.warn(f"{key} is the same file as {seen[real]}: its maps are assigned once, as "
                              f"{seen[real]}", RuntimeWarning, stacklevel=2)
            else:  # the same name twice (given twice, or by a file and its folder or a pattern)
                warnings.warn(f"{key} is given more than once: its maps are assigned once", RuntimeWarning,
                              stacklevel=2)
    return paths, missing
