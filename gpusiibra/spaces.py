"""Template spaces: which MNI a map or a coordinate is in, and the published transforms between them.

Spaces are named as TemplateFlow names them: ``MNI152NLin2009cAsym`` (ICBM 2009c, siibra's and Julich-Brain's),
``MNI152NLin6Asym`` (FSL's MNI152), ``MNI152Lin`` (SPM's), ``MNI305`` (FreeSurfer's), and, for coordinates,
``Talairach`` (Lancaster's icbm2tal) and ``TalairachBrett`` (Brett's mni2tal). The spellings people type
(``FSL``, ``SPM``, ``ICBM2009c``, ``TAL``, ``fsaverage``...) name them too; bare ``MNI`` / ``MNI152`` names
none: "the atlas's own MNI", siibra's behaviour, nothing warped.

>>> from gpusiibra import spaces
>>> spaces.resolve_space("FSL").name, spaces.resolve_space("MNI") is None
('MNI152NLin6Asym', True)
>>> spaces.warp_points([[0.0, 0.0, 0.0]], "Talairach", "MNI152NLin6Asym").round(3).tolist()
[[1.115, 0.869, -3.605]]
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from ._space_inputs import Declared, declared_space, input_space
from ._spaces import (GENERIC_MNI, SPACES, Space, atlas_space, by_row, coordinates_only, engine_pulls, pull_transform, resolve, route,
                      space_names, target_space, transform_chain)
from .errors import OptionError

__all__ = ["Space", "SPACES", "GENERIC_MNI", "resolve_space", "space_names", "atlas_space", "transform_chain",
           "warp_points", "warp_image", "declared_space", "Declared", "input_space", "TEMPLATE_GRIDS",
           "list_spaces", "points_to_atlas", "pull_to_atlas", "space_record",
           "image_space_record", "engine_pulls", "pull_transform", "warp_table", "warp_file",
           "mixed_spaces_note", "describe_warps", "rows_to_atlas"]

#: the 1 mm grids of TemplateFlow's templates (res-01): shape and affine, where warp_image puts an image
TEMPLATE_GRIDS = {
    "MNI152NLin2009cAsym": ((193, 229, 193), ((1, 0, 0, -96), (0, 1, 0, -132), (0, 0, 1, -78), (0, 0, 0, 1))),
    "MNI152NLin6Asym": ((182, 218, 182), ((-1, 0, 0, 90), (0, 1, 0, -126), (0, 0, 1, -72), (0, 0, 0, 1))),
}


def resolve_space(name, what="space"):
    """The :class:`Space` named by ``name`` (any known spelling), or None for a generic MNI or None.

    Raises
    ------
    OptionError
        For an unknown name (the message lists the names taken).

    Examples
    --------
    >>> from gpusiibra.spaces import resolve_space
    >>> resolve_space("icbm 2009c").name
    'MNI152NLin2009cAsym'
    """
    return resolve(name, what)


def list_spaces():
    """The spaces as a table: name, title, whether images can be in them, the spellings taken.

    Examples
    --------
    >>> from gpusiibra.spaces import list_spaces
    >>> "MNI152NLin6Asym" in set(list_spaces()["name"])
    True
    """
    import pandas as pd

    return pd.DataFrame([{"name": s.name, "title": s.title, "images": s.images, "also": ", ".join(s.aliases)}
                         for s in SPACES])


def warp_points(coords, source, target):
    """Points in ``source`` space (mm, (n, 3)) -> the same points in ``target`` space, through the published
    transforms (chained where no single one joins them: Talairach -> MNI152NLin6Asym -> MNI152NLin2009cAsym).

    A point outside a displacement field's domain comes back as NaN.

    Parameters
    ----------
    coords : array-like, (n, 3) or (3,)
    source, target : str
        Space names (any spelling :func:`resolve_space` takes). A generic "MNI" names no particular template
        and is refused, except beside "Talairach": then Lancaster's pooled transform (icbm_other2tal, for MNI
        templates other than FSL's and SPM's) is used, as NiMARE's ``mni2tal``/``tal2mni`` and GingerALE do.

    Returns
    -------
    numpy.ndarray (n, 3), float64 (CuPy in, CuPy out for the displacement fields)

    Examples
    --------
    >>> from gpusiibra.spaces import warp_points
    >>> warp_points([10, -20, 30], "MNI305", "MNI152NLin6Asym").round(4).tolist()
    [[10.6061, -18.3944, 31.153]]
    """
    xyz = _points(coords)
    pooled = _pooled(source, target)
    if pooled is not None:  # Talairach and "some MNI": Lancaster's pooled fit, as NiMARE and GingerALE take it
        return pooled.map_points(xyz)
    src, dst = _specific(source, "source"), _specific(target, "target")
    if src.name == dst.name:
        return xyz.copy()
    return transform_chain(src.name, dst.name).map_points(xyz)


def _pooled(source, target):
    """Lancaster's icbm_other2tal (or its inverse) when one side is Talairach and the other a generic MNI."""
    from ._spaces import ICBM_OTHER2TAL, AffineTransform

    a, b = resolve(source, "source"), resolve(target, "target")
    if a is None and b is not None and b.name == "Talairach":
        return AffineTransform(ICBM_OTHER2TAL, "Lancaster 2007 icbm_other2tal")
    if b is None and a is not None and a.name == "Talairach":
        return AffineTransform(np.linalg.inv(ICBM_OTHER2TAL), "Lancaster 2007 tal2icbm_other")
    return None


def _specific(name, what):
    sp = resolve(name, what)
    if sp is None:
        raise OptionError(f"{what} space {name!r} names no particular MNI template: use one of "
                          f"{_particular_names(images=True)}")
    return sp


def _particular_names(images=False) -> str:
    """The names of the particular spaces (those a transform starts or ends at), for messages; ``images``: only
    the template spaces an image can be in."""
    return ", ".join(sp.name for sp in SPACES if sp.images or not images)


def _points(coords):
    from .backend import is_device_array

    if is_device_array(coords):
        import cupy as xp
    else:
        xp = np
    xyz = xp.asarray(coords, dtype=xp.float64)
    if xyz.ndim == 1:
        xyz = xyz[None, :]
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise OptionError(f"points are an (n, 3) array of mm coordinates, got shape {tuple(xyz.shape)}")
    return xyz


def warp_image(img, source, target, *, like=None, order=None):
    """A NIfTI image of ``source`` space pulled onto a grid of ``target`` space through the transforms.

    Each voxel of the target grid takes the image's value at the source point it corresponds to (trilinear, or
    nearest neighbour for a mask, as the assignment resamples), 0 outside the image. A 4D image is warped
    volume by volume (one interpolation order for all): a 4D image of as many volumes.

    Parameters
    ----------
    img : nibabel image or path
    source, target : str
        Space names (the target must be a template space, not Talairach).
    like : nibabel image, SparseMap or (shape, affine), optional
        The target grid; default TemplateFlow's 1 mm grid of ``target`` where :data:`TEMPLATE_GRIDS` has one
        (MNI152NLin2009cAsym, MNI152NLin6Asym), else the image's own grid (MNI152Lin, MNI305).
    order : int, optional
        0 or 1; default as the assignment chooses (0 for an image of only 0 and 1).

    Returns
    -------
    nibabel.Nifti1Image (float32 unless order 0 keeps the image's type)
    """
    import nibabel as nib

    from .io import nifti

    src, dst = _specific(source, "source"), _specific(target, "target")
    for sp in (src, dst):
        if not sp.images:
            raise OptionError(f"{sp.name} is a coordinate system here (no template image): warp coordinates "
                              "with warp_points")
    where = os.fspath(img) if isinstance(img, (str, os.PathLike)) else "<in-memory image>"
    if isinstance(img, (str, os.PathLike)):
        img = nifti.load_image(img)
    data, affine = nifti.image_data(img, where)
    nifti.warn_lost_orientation(img, where, f"its coordinates are taken as {src.name}'s, as --from says")
    shape, grid = _grid(like, dst.name, data.shape[:3], affine)
    if data.ndim == 4:  # every volume, through the same transform and the same interpolation
        from ._sparse_image import interpolation_order

        order = interpolation_order(data) if order is None else order
        first = pull_array(data[..., 0], affine, src.name, dst.name, shape, grid, order)
        out = np.empty(first.shape + (data.shape[3],), first.dtype)
        out[..., 0] = first
        for t in range(1, data.shape[3]):
            out[..., t] = pull_array(data[..., t], affine, src.name, dst.name, shape, grid, order)
    else:
        out = pull_array(data, affine, src.name, dst.name, shape, grid, order)
    res = nib.Nifti1Image(out, grid)
    res.header.set_xyzt_units("mm")
    return res


def _grid(like, target, shape, affine):
    if like is None:
        if target in TEMPLATE_GRIDS:
            s, a = TEMPLATE_GRIDS[target]
            return tuple(s), np.asarray(a, np.float64)
        return tuple(shape), np.asarray(affine, np.float64)
    return _like_grid(like)


def _like_grid(like, name="like"):
    """(shape, affine) of the grid ``like`` gives (an image, a SparseMap, or (shape, affine)); an OptionError
    naming ``name`` when it is no 3D grid (a 2D image, a singular affine)."""
    if hasattr(like, "sparse_index"):
        return tuple(like.shape), np.asarray(like.affine, np.float64)
    try:
        if hasattr(like, "affine") and hasattr(like, "shape"):
            s, a = like.shape, like.affine
        else:
            s, a = like
        s = tuple(int(v) for v in s)
        a = np.asarray(a, np.float64)
    except (TypeError, ValueError):
        raise OptionError(f"{name}: give a NIfTI image, an atlas or (shape, affine) for the grid to write on") from None
    filename = getattr(like, "get_filename", lambda: None)()
    where = f"{name} {filename}" if filename else name
    if len(s) < 3 or min(s[:3]) < 1:
        raise OptionError(f"{where}: the grid to write on must be 3D, this image has shape {s}")
    if a.shape != (4, 4) or not np.isfinite(a).all() or abs(np.linalg.det(a[:3, :3])) < 1e-12:
        raise OptionError(f"{where}: the grid to write on has no usable affine (singular or not finite)")
    return s[:3], a


def pull_array(data, affine, source, target, shape, grid, order=None):
    """An array on (shape, grid) of ``target`` space: ``data`` (its grid ``affine``, ``source`` space) pulled
    through the transforms, as the batch pulls it (:func:`gpusiibra._warp.pull_sparse`: only the target voxels
    its nonzero voxels reach; the same numbers)."""
    from . import _warp, backend
    from ._sparse_image import sparse_image

    data = np.asarray(data)
    image = sparse_image(data, affine)
    order = image.order if order is None else order  # nearest neighbour for exactly {0, 1}, as nilearn
    key, value = _warp.pull_sparse([image], [0], shape, grid, pull_transform(source, target), order=order)
    out = np.zeros(int(np.prod(shape)), np.float64 if order == 1 else image.dtype)
    out[backend.to_host(key)] = backend.to_host(value)
    return out.reshape(tuple(int(s) for s in shape))


def points_to_atlas(coords, space, atlas, declared_by=True):
    """Points (mm) of ``space`` in the atlas's space: warped when ``space`` names a particular space other than
    the atlas's, else as they are. A point the transforms cannot take (outside a displacement field) comes back
    as NaN, with a warning: it gets no region, never a wrong one. ``declared_by``: the user said ``space``
    (an unknown name is then an error); else it is an object's own attribute (an unknown one is ignored)."""
    xyz = np.asarray(coords, np.float64).reshape(-1, 3)
    try:
        source = resolve(space)
    except OptionError:
        if declared_by:
            raise
        return xyz
    if source is None or len(xyz) == 0:
        return xyz
    target = target_space(atlas, source)
    if source.name == target.name:
        return xyz
    from .backend import to_host

    out = np.asarray(to_host(transform_chain(source.name, target.name).map_points(xyz)), np.float64)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        first = ", ".join(f"{c:g}" for c in xyz[np.flatnonzero(bad)[0]])
        warnings.warn(f"{int(bad.sum())} point(s) of {source.name} have no place in {target.name} after the "
                      f"transforms and get no assignment (first: ({first}) mm)", RuntimeWarning, stacklevel=4)
        out[bad] = np.nan
    return out


def rows_to_atlas(coords, names, atlas, where=None):
    """Points each in the space its row names (``names``: a table's ``space`` column) in the atlas's space: the
    rows of each space warped together (:func:`points_to_atlas`); a generic "MNI" taken as it is. Every name is
    checked first (all of them when ``coords`` is empty): an unknown one is a PointsFileError naming it."""
    from .errors import PointsFileError

    names = np.asarray(names, dtype=object)
    known = {}
    for v in dict.fromkeys(names.tolist()):
        try:
            known[v] = resolve(v)
        except OptionError:
            rows = int((names == v).sum())
            raise PointsFileError(where, f"{rows} {'row says its' if rows == 1 else 'rows say their'} coordinates "
                                         f"are in {v!r}, a space gpusiibra does "
                                         f"not know (it knows {space_names()})") from None
    xyz = np.asarray(coords, np.float64).reshape(-1, 3)
    out = xyz.copy()
    for v, sp in known.items():
        sel = names[:len(xyz)] == v
        if sp is not None and sel.any():
            out[sel] = points_to_atlas(xyz[sel], sp.name, atlas)
    return out


def pull_to_atlas(data, affine, source, atlas):
    """An image (array, its affine) of ``source`` space pulled onto the atlas's grid through the transforms to
    the atlas's space (a 4D image frame by frame): the array the assignment then takes on the atlas's grid."""
    source = resolve(source)
    target = target_space(atlas, source)
    shape, grid = tuple(atlas.shape), np.asarray(atlas.affine, np.float64)
    data = np.asarray(data)
    if data.ndim == 4:
        return np.stack([pull_array(data[..., t], affine, source.name, target.name, shape, grid)
                         for t in range(data.shape[3])], axis=-1)
    return pull_array(data, affine, source.name, target.name, shape, grid)


def space_record(space, atlases, direction="points") -> dict:
    """What a dataset records of the inputs' declared space: ``{}`` when none was declared (siibra's behaviour,
    the settings of earlier datasets); else ``space`` (its TemplateFlow name, or "MNI": the atlas's own) and, per
    atlas, its space and the transforms used (name, kind; a file's name and SHA-256), the transforms built."""
    if space is None:
        return {}
    if by_row(space):  # each row's own (a table's space column)
        from ._atlas_identity import atlas_label

        return {"space": "column", "warps": {atlas_label(a): {"atlas_space": getattr(atlas_space(a), "name", None)}
                                             for a in atlases}}
    user = resolve(space)
    out = {"space": user.name if user is not None else "MNI", "warps": {}}
    from ._atlas_identity import atlas_label

    for smap in atlases:
        entry = {"atlas_space": getattr(atlas_space(smap), "name", None), "transforms": []}
        if user is not None:
            target = target_space(smap, user)
            if target.name != user.name:
                chain = transform_chain(user.name, target.name)
                if direction == "points":
                    chain.map_points(np.zeros((1, 3)))  # built: a file's SHA-256 is known
                else:
                    chain.pull(np.zeros((1, 3)))
                entry["transforms"] = chain.record(direction)
        out["warps"][atlas_label(smap)] = entry
    return out


def image_space_record(space, atlases) -> dict:
    """:func:`space_record` for maps: the space checked (a template images are in), the transforms that pull
    them onto each atlas's grid built (fetched, their SHA-256 known)."""
    user = resolve(space)
    if user is not None and not user.images:
        raise coordinates_only(space, user)
    return space_record(space, atlases, direction="pull")


def warp_table(table, source, target):
    """A coordinate table (DataFrame or CSV/TSV path) with its coordinate columns warped from ``source`` to
    ``target`` (:func:`warp_points`): every other column kept, a ``space`` column set to ``target`` (added
    when the table has none).

    A ``space`` column that names another space than ``source`` is refused (its rows and lines named); a row
    saying a bare "MNI" is taken as ``source`` when that is an MNI template, refused beside Talairach.
    ``source="column"``: each row warped from the space its own ``space`` column names (Neurosynth's and
    NiMARE's exports mix MNI and Talairach rows).

    Examples
    --------
    >>> import pandas as pd
    >>> from gpusiibra.spaces import warp_table
    >>> warp_table(pd.DataFrame({"x": [0.0], "y": [0.0], "z": [0.0], "t": [5.2]}), "TAL", "FSL").round(3)
           x      y      z    t            space
    0  1.115  0.869 -3.605  5.2  MNI152NLin6Asym
    """
    return _warp_table(table, source, target)[0]


def _warp_table(table, source, target):
    """:func:`warp_table`, and what the space column said: ``{value: rows}`` of the cells naming a generic MNI
    taken as ``source``."""
    import pandas as pd

    from ._space_inputs import _Unknown, space_column
    from .errors import PointsFileError
    from .io.coordinates import check_space, coordinate_columns, points_of, read_table, space_column_name

    where = None
    if isinstance(table, (str, os.PathLike)):
        where = os.fspath(table)
        table = read_table(where)
    attrs = dict(getattr(table, "attrs", {}) or {})
    table = pd.DataFrame(table).reset_index(drop=True)
    table.attrs.update(attrs)  # the file's line numbers, for the messages
    lines = attrs.get("lines") or list(range(1, len(table) + 1))
    column = by_row(source)
    name = _warp_space(target, "target", "--to", images=False)
    name = name.name if name is not None else str(target)
    col = space_column_name(table, where)
    cols = coordinate_columns(table.columns, where)
    bare = table.drop(columns=[col]) if col is not None else table
    bare.attrs.update(attrs)  # the file's line numbers, for the messages
    xyz = np.asarray(points_of(bare, 0.0, None, where).coordinates, np.float64)
    groups = space_column(table[col] if col is not None else None)
    generic = {}
    if column:
        if col is None:
            raise PointsFileError(where, "--from column: the table has no space column (give the space of its "
                                         "coordinates with --from)")
        moved = np.empty_like(xyz)
        for value, (sp, rows) in groups.items():
            first = f"line {lines[rows[0]]}" + (f" and {len(rows) - 1} more" if len(rows) > 1 else "")
            if value is None:
                raise PointsFileError(where, f"{first}: no space in the space column, which --from column warps "
                                             "each row from")
            if isinstance(sp, _Unknown):
                raise PointsFileError(where, f"{first}: space {value!r} is not a space gpusiibra knows (it knows "
                                             f"{_particular_names()})")
            if sp is None and _pooled(value, target) is None:
                raise PointsFileError(where, f"{first}: space {value!r} names no particular MNI template, so "
                                             f"nothing says how to warp it into {name}: write which in the space "
                                             f"column ({_particular_names(images=True)}), or warp these rows with "
                                             "--from")
            if resolve(target) is None and _pooled(value, target) is None:
                raise PointsFileError(where, f"{first}: space {value!r} cannot go to --to {target}, which names no "
                                             "particular MNI template (a bare MNI goes to and from Talairach only: "
                                             "Lancaster's pooled transform)")
            moved[rows] = np.asarray(warp_points(xyz[rows], value, target))
    else:
        generic = check_space(table, where, source, warping=True)
        moved = np.asarray(warp_points(xyz, source, target))
    out = table.copy()
    for a, c in enumerate(cols):
        out[c] = moved[:, a]
    out[col if col is not None else "space"] = name
    return out, generic


def _warp_space(name, what, option, images):
    """The :class:`Space` ``name`` names for ``gpusiibra warp`` (None: a generic MNI), or an OptionError naming
    ``option`` and the spaces it takes (only template spaces for a map)."""
    try:
        return resolve(name, what)
    except OptionError:
        raise OptionError(f"unknown {what} {str(name)!r} ({option}): use one of {_particular_names(images)}"
                          + ("" if images else " (a bare MNI beside Talairach: Lancaster's pooled transform)")) \
            from None


def _check_warp_spaces(source, target, is_map):
    """The spaces of ``gpusiibra warp``, checked before the work: the chain of spaces, said in one line."""
    option = {"source": "--from", "target": "--to"}
    if by_row(source):
        if is_map:
            raise OptionError("--from column: only a table has a space column; give the map's space with --from")
        dst = _warp_space(target, "target", "--to", images=False)
        return f"each row's space (its space column) -> {dst.name if dst is not None else target}"
    spaces = {}
    for what, name in (("source", source), ("target", target)):
        spaces[what] = _warp_space(name, what, option[what], is_map)
    if not is_map and _pooled(source, target) is not None:
        return f"{source} -> {target}: Lancaster's pooled transform"
    for what, sp in spaces.items():
        name = source if what == "source" else target
        if sp is None:
            raise OptionError(f"{option[what]} {name} names no particular MNI template: use one of "
                              f"{_particular_names(images=True)}" + ("" if is_map else " (a bare MNI goes to and "
                                                                     "from Talairach only: Lancaster's pooled "
                                                                     "transform)"))
        if is_map and not sp.images:
            raise OptionError(f"{option[what]} {name}: {sp.name} is a coordinate system here, with no template "
                              "image: warp a table of coordinates from or to it, not a map")
    return " -> ".join([spaces["source"].name] + [st.target for st in route(source, target)])


def _check_warp_out(path, out, is_map):
    """``--out`` of ``gpusiibra warp``, checked before the work: a file (not a folder) of the input's kind, in a
    folder that exists, not the input itself."""
    from .io.nifti import resolve as input_file

    out = os.fspath(out)
    from .io.coordinates import TABLE_SUFFIXES

    kinds = (".nii.gz", ".nii") if is_map else TABLE_SUFFIXES
    if os.path.isdir(out):
        raise OptionError(f"--out {out} is a folder: give the file to write, e.g. "
                          f"{os.path.join(out, 'warped' + kinds[0])}")
    if not out.lower().endswith(kinds):
        what = ("a map is written as NIfTI: give --out a name ending in .nii.gz or .nii" if is_map else
                "a table is written as text: give --out a name ending in .csv, or .tsv or .txt (tab-separated), "
                "each optionally .gz")
        raise OptionError(f"--out {out}: {what}")
    from ._outputs import check_folder

    check_folder(out)
    src = input_file(path)
    same = os.path.abspath(out) == os.path.abspath(src)
    if not same and os.path.exists(out) and os.path.exists(src):
        same = os.path.samefile(out, src)
    if same:
        raise OptionError(f"--out {out} is the input: write the warped {'map' if is_map else 'table'} to another "
                          "file")


def _like(like):
    """``--like``: a NIfTI file, an image, a SparseMap (an atlas's grid) or (shape, affine) -> the grid."""
    if isinstance(like, (str, os.PathLike)):
        from .errors import ImageFileError
        from .io.nifti import is_nifti_path, load_image

        if not is_nifti_path(like):  # the command line gives an atlas's name as its SparseMap (get_map)
            raise OptionError(f"--like {os.fspath(like)}: give a NIfTI file (.nii, .nii.gz), an image or an atlas's "
                              "SparseMap (gpusiibra.get_map)")
        try:
            like = load_image(like)
        except ImageFileError as e:
            raise OptionError(f"--like {e}") from None
    return _like_grid(like, "--like")


def _check_warp(path, source, target, out, like=None):
    """What ``gpusiibra warp`` checks before the work (the spaces, ``out``, ``like`` for a table): (the chain
    of spaces in one line, whether the input is a map)."""
    path, out = os.fspath(path), os.fspath(out)
    if os.path.isdir(path):
        raise OptionError(f"{path} is a folder: gpusiibra warp takes one map (.nii, .nii.gz) or one table (a shell "
                          "loop warps a folder's maps one by one)")
    is_map = path.lower().endswith((".nii", ".nii.gz")) or path.startswith("example:")
    chain = _check_warp_spaces(source, target, is_map)
    _check_warp_out(path, out, is_map)
    if like is not None and not is_map:
        raise OptionError("--like is for a map (the grid to write it on); a table has no grid")
    return chain, is_map


def warp_file(path, source, target, out, like=None) -> str:
    """``gpusiibra warp``: a NIfTI map (:func:`warp_image`; a 4D map volume by volume) or a coordinate table
    (:func:`warp_table`; ``source`` "column": each row from the space its space column names) written to ``out``;
    returns what was done, in one line. The spaces, ``out`` and ``like`` are checked before the work."""
    from ._space_inputs import _Unknown
    from .errors import ImageFileError

    from ._outputs import write_atomically

    path, out = os.fspath(path), os.fspath(out)
    chain, is_map = _check_warp(path, source, target, out, like)
    if is_map:
        grid = None if like is None else _like(like)
        declared = declared_space(path) if not path.startswith("example:") else None
        if declared is not None and declared.space is not None and not isinstance(declared.space, _Unknown) \
                and declared.space.name != resolve(source).name:
            raise ImageFileError(path, f"{declared.where} says space {declared.value}, --from says {source}: "
                                       "which is it? (remove one)")
        if declared is not None and isinstance(declared.space, _Unknown):  # a subject's T1w, say: told, not hidden
            warnings.warn(f"{path}: {declared.where} says space {declared.value}, which gpusiibra does not know; "
                          f"it was taken as --from {source}", RuntimeWarning, stacklevel=2)
        img = warp_image(path, source, target, like=grid)
        import nibabel as nib

        write_atomically(out, lambda tmp: nib.save(img, tmp))
        dst = resolve(target).name
        on = ("--like's grid" if grid is not None else f"TemplateFlow's 1 mm grid of {dst}"
              if dst in TEMPLATE_GRIDS else f"the map's own grid (gpusiibra has no template grid of {dst}; "
                                            "--like chooses one)")
        size = " x ".join(map(str, img.shape[:3])) + " voxels" + (f" x {img.shape[3]} volumes"
                                                                  if len(img.shape) == 4 else "")
        return f"{path} ({chain}) -> {out}: {size}, on {on}"
    from .io.coordinates import table_separator

    df, generic = _warp_table(path, source, target)
    sep = table_separator(out)
    write_atomically(out, lambda tmp: df.to_csv(tmp, sep=sep, index=False))
    said = "".join(f"; {n} {'rows' if n > 1 else 'row'} saying {v!r} taken as {resolve(source).name} (--from)"
                   for v, n in generic.items())
    return f"{path} ({chain}) -> {out}: {len(df)} point{'s' if len(df) != 1 else ''}{said}"


def mixed_spaces_note(atlases):
    """A line saying that atlases of one pass are in different spaces and nothing is warped (no space declared),
    or None."""
    from ._atlas_identity import atlas_label

    named = [(atlas_label(a), getattr(atlas_space(a), "name", None)) for a in atlases]
    if len({sp for _, sp in named if sp}) < 2:
        return None
    return ("the atlases are in different spaces (" + ", ".join(f"{label}: {sp}" for label, sp in named if sp) +
            "): the inputs are compared with each as they are; say their space with --space (space=) to warp them "
            "into each atlas's")


def describe_warps(space, atlases, images=True) -> str:
    """One line: the inputs' declared space and, per atlas, what they were warped into and through what, in the
    data's direction (a map is pulled onto the atlas's grid along the reverse chain: what the dataset records)."""
    from ._atlas_identity import atlas_label

    if by_row(space):
        return "space: each row's own (the table's space column), warped into " + "; ".join(
            f"{atlas_label(a)}: {getattr(atlas_space(a), 'name', '?')}" for a in atlases)
    user = resolve(space)
    if user is None:
        return f"space: {space}, the atlas's own: nothing warped (siibra's behaviour)"
    parts = []
    for smap in atlases:
        target = target_space(smap, user)
        steps = route(user, target)  # said in the data's direction (a map is pulled back along the reverse)
        pulled = " (each map pulled onto the atlas's grid along the reverse)" if images else ""
        parts.append(f"{atlas_label(smap)}: from {user.name} into {target.name} by "
                     + " then ".join(st.name for st in steps) + pulled
                     if steps else f"{atlas_label(smap)}: already in {target.name}, nothing warped")
    return f"space: inputs in {user.name}; " + "; ".join(parts)
