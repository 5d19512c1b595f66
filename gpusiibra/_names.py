"""Atlas names as users type them: one normal form (case, spaces, ``-`` and ``_`` do not matter) and the known
names a mistyped one most resembles."""
from __future__ import annotations

import difflib
import re

__all__ = ["normal_name", "similar_names"]


def normal_name(name) -> str:
    """Lower case, runs of spaces, ``-`` and ``_`` as one space.

    >>> normal_name(" Julich-Brain_3.1 ")
    'julich brain 3.1'
    """
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def similar_names(name, known, n=3) -> list:
    """The known names that ``name`` resembles, most alike first: those it is a part of (``julich`` ->
    every ``julich-...``), else those differing from it by a few letters; none when nothing is alike (a hint
    that names an unrelated atlas misleads more than no hint).

    >>> similar_names("jülich3.1", ["julich-3.1", "difumo-64"])
    ['julich-3.1']
    >>> similar_names("foo", ["julich-3.1", "difumo-64"])
    []
    """
    key = normal_name(name).replace(" ", "")
    squeezed = {k: normal_name(k).replace(" ", "") for k in known}

    def alike(a, b):
        return difflib.SequenceMatcher(None, a, b).ratio()

    # names it is a part of, and names (or their first word: "julch" -> the julich maps) a few letters apart
    first = {k: normal_name(k).split(" ")[0] for k in known}
    ratio = {k: max(alike(key, s), alike(key, first[k]) - 0.01 if len(key) <= len(first[k]) + 1 else 0.0)
             for k, s in squeezed.items()}
    part = {k for k in known if len(key) >= 3 and key in squeezed[k]}
    return sorted((k for k in known if k in part or ratio[k] >= 0.75), key=lambda k: (-ratio[k], len(k)))[:n]
