"""What an input says about its template space: a BIDS file name, its JSON sidecar, NeuroVault's image metadata
(:func:`declared_space`), weighed against the user's ``--space`` (:func:`input_space`). Re-exported by
:mod:`gpusiibra.spaces`."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from ._spaces import Space, atlas_space, coordinates_only, resolve, space_names, target_space
from .errors import ImageFileError, OptionError

__all__ = ["Declared", "declared_space", "input_space", "space_column", "space_mismatch"]


@dataclass(frozen=True)
class Declared:
    """A space an input's own files name: ``value`` as written, ``space`` (None: a generic MNI), ``where``
    (the file name, its JSON sidecar or NeuroVault's metadata)."""

    value: str
    space: Space | None
    where: str


_BIDS_SPACE = re.compile(r"(?:^|_)space-([A-Za-z0-9]+)(?=_|\.|$)")
#: keys of a JSON sidecar that name a space: BIDS derivatives, NeuroVault's image metadata
_JSON_KEYS = ("space", "Space", "SpatialReference", "target_template_image", "template")


def _sidecars(path):
    base = os.path.basename(path)
    stem = re.sub(r"\.nii(\.gz)?$", "", base, flags=re.I)
    folder = os.path.dirname(path)
    names = [stem + ".json", base + ".json"]
    return [os.path.join(folder, n) for n in names]


def declared_space(path):
    """What an input's file name (BIDS ``_space-<label>_``) or sidecar (``<name>.json``: BIDS ``SpatialReference``
    / ``space``, NeuroVault's ``target_template_image``) says its space is: a :class:`Declared`, or None.

    A name and a sidecar that name different spaces, two ``space-`` entities, a sidecar that is not a JSON object
    or whose space key is not a name are refused (ImageFileError). A label that names no space gpusiibra knows is
    returned with ``space``
    None and ``value`` as written (the caller decides: a warning, never a guess).

    Examples
    --------
    >>> from gpusiibra.spaces import declared_space
    >>> declared_space("sub-01_space-MNI152NLin6Asym_stat-t_statmap.nii.gz").space.name
    'MNI152NLin6Asym'
    """
    path = os.fspath(path)
    named = _named_space(path)
    for side in _sidecars(path):
        if os.path.isfile(side):
            said = _sidecar_space(side)
            if said is not None:
                if named is not None and said.space is not None and named.space is not None \
                        and said.space.name != named.space.name:
                    raise ImageFileError(path, f"its name says space {named.value}, {said.where} says "
                                               f"{said.value}: which is it? (correct one)")
                return said
    return named


def _named_space(path):
    """The space a BIDS file name's ``space-`` entity says (a Declared), or None; two that differ are refused."""
    labels = list(dict.fromkeys(m.group(1) for m in _BIDS_SPACE.finditer(os.path.basename(path))))
    if len(labels) > 1:
        raise ImageFileError(path, f"its name has {len(labels)} space- entities ({', '.join(labels)}): which is it?")
    return _declared(labels[0], "its name") if labels else None


def _sidecar_space(side):
    """The space a JSON sidecar says (a Declared), or None when it says none; a sidecar that is not a JSON object,
    or whose space key holds something other than a name, is refused (never read as 'no space')."""
    try:
        with open(side, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ImageFileError(side, f"the sidecar is not readable JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ImageFileError(side, f"the sidecar is a JSON {type(meta).__name__}, not an object of metadata")
    for k in _JSON_KEYS:
        v = meta.get(k)
        if isinstance(v, dict):  # BIDS SpatialReference as {"URI": ...} or per-image entries
            v = v.get("URI") or v.get("space") or next(iter(v.values()), None)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if not isinstance(v, str):
            raise ImageFileError(side, f"the sidecar's {k!r} is {json.dumps(v)[:60]}, not the name of a space")
        return _declared(v.strip(), f"its sidecar {os.path.basename(side)} ({k})")
    return None


def _declared(value, where):
    label = value.rsplit("/", 1)[-1]  # a URI such as https://templateflow.s3.../tpl-MNI152NLin6Asym/...
    label = re.sub(r"^tpl-", "", label.split("_")[0]) if label.startswith("tpl-") else label
    try:
        return Declared(value, resolve(label), where)
    except OptionError:  # a space gpusiibra does not know: said, never guessed
        return Declared(value, _Unknown(value), where)


@dataclass(frozen=True)
class _Unknown:
    """A space named in a file that gpusiibra does not know (warned about, never warped)."""

    name: str
    images: bool = True


def input_space(path, space, atlas):
    """The space to warp a file from, given the user's ``space`` (or None) and the atlas's space.

    Returns ``(Space or None, warning or None)``: None means nothing is warped. With ``space`` given, a file
    whose name or sidecar names another particular space is refused (ImageFileError naming both); without it,
    a file that names a space other than the atlas's gets a one-line warning naming ``--space``.
    """
    declared = declared_space(path) if path is not None else None
    user = resolve(space)
    target = atlas_space(atlas)
    if space is not None:
        if user is not None and not user.images:
            raise coordinates_only(space, user)
        if user is not None and declared is not None and declared.space is not None \
                and declared.space.name != user.name:
            raise ImageFileError(path, f"{declared.where} says space {declared.value}, --space says {space}: "
                                       "which is it? (remove one)")
        return (user if user is not None and target_space(atlas, user).name != user.name else None), None
    claim = space_mismatch(declared, target)
    if claim is None:
        return None, None
    if isinstance(declared.space, _Unknown):
        return None, f"{claim} (--space names the spaces: {space_names()})"
    if not declared.space.images:  # Talairach: no template an image can be pulled from, so no --space to advise
        return None, (f"{claim}, and {declared.space.name} maps cannot be (a coordinate system for tables here): "
                      "the regions may be those of other places; --space MNI takes it as it is without this warning")
    return None, (f"{claim}: say --space {declared.space.name} (space='{declared.space.name}') to warp it, or "
                  "--space MNI to take it as it is")


def space_mismatch(declared, target, atlas_names=None):
    """What is wrong when an input's own files (``declared``, a :class:`Declared` or None) name a space other
    than its atlas's (``target``, a Space or None): one clause, or None when nothing is. The warning of
    :func:`input_space` (assign, points) and of ``gpusiibra clusters`` begins with it; each says its own remedy.
    ``atlas_names``: the atlases named in the clause (a run of several atlases), all in ``target``."""
    if declared is None or declared.space is None or target is None or declared.space.name == target.name:
        return None
    names = [atlas_names] if isinstance(atlas_names, str) else list(atlas_names or ())
    atlas = f"atlases {', '.join(names)}" if len(names) > 1 else f"atlas {names[0]}" if names else "atlas"
    if isinstance(declared.space, _Unknown):
        return (f"{declared.where} says space {declared.value}, which gpusiibra does not know; it was taken as "
                f"the {atlas}' {target.name}" if len(names) > 1 else f"{declared.where} says space "
                f"{declared.value}, which gpusiibra does not know; it was taken as the {atlas}'s {target.name}")
    return (f"{declared.where} says space {declared.space.name}, the {atlas} "
            f"{'are' if len(names) > 1 else 'is'} in {target.name}; nothing was warped")


def space_column(values) -> dict:
    """What a table's ``space`` column says, row by row: ``{value: (space, rows)}`` for each distinct value as
    written (stripped; None for an empty cell), ``space`` the :class:`Space` it names, None for a generic MNI,
    or an unknown name's stand-in (``_Unknown``), ``rows`` the row positions (ascending). No column (``values``
    None): ``{}``. For the rule "a row's own space against the user's": the caller says what conflicts."""
    import numpy as np

    if values is None:
        return {}
    cells = [None if v is None or (isinstance(v, float) and v != v) or not str(v).strip() or
             str(v).strip().lower() in ("nan", "n/a", "na", "none") else str(v).strip() for v in list(values)]
    out = {}
    for i, v in enumerate(cells):
        out.setdefault(v, []).append(i)
    said = {}
    for v, rows in out.items():
        if v is None:
            sp = None
        else:
            try:
                sp = resolve(v)
            except OptionError:
                sp = _Unknown(v)
        said[v] = (sp, np.asarray(rows, dtype=np.intp))
    return said
