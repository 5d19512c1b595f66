"""Template spaces and the published transforms between them (the engine of :mod:`gpusiibra.spaces`).

A space is named as TemplateFlow names it (``MNI152NLin2009cAsym``, ``MNI152NLin6Asym``, ``MNI152Lin``,
``MNI305``) or, for coordinates only, ``Talairach`` (Lancaster's icbm2tal) and ``TalairachBrett`` (Brett's
mni2tal, for legacy tables). Bare "MNI", "MNI152", "ICBM152" and NeuroVault's ``GenericMNI`` name no space:
they mean "the atlas's own MNI", as siibra treats every MNI152 variant as one space (:func:`resolve` gives
None: nothing is warped, siibra's numbers).

The transforms (:data:`STEPS`) are edges of a graph; :func:`route` finds the shortest chain between two spaces
and :class:`Chain` maps points along it (``map_points``) and pulls images back along it (``pull``: target
points to source points, what an interpolation needs).

Every matrix below is a published number:

- Lancaster JL et al. (2007) Bias between MNI and Talairach coordinates analyzed using the ICBM-152 brain
  template. Hum Brain Mapp 28(11):1194-1205, doi:10.1002/hbm.20345; the matrices of the authors' icbm_fsl2tal.m
  and icbm_spm2tal.m (ric.uthscsa.edu, 3/14/07): MNI (FSL's template, SPM's template) -> Talairach; their
  tal2icbm_*.m apply the inverse.
- Brett M (1999, 2001), mni2tal.m / tal2mni.m (MRC CBU, "The MNI brain and the Talairach atlas"):
  a rotation of 0.05 rad about x and zooms (0.99, 0.97, 0.92) above the AC, (0.99, 0.97, 0.84) below it
  (SPM's spm_matrix([0 0 0 0.05 0 0 0.99 0.97 0.92])).
- FreeSurfer's Coordinate Systems page (surfer.nmr.mgh.harvard.edu/fswiki/CoordinateSystems, section 8):
  MNI305 (fsaverage) -> MNI152, from $FREESURFER_HOME/average/mni152.register.dat (FSL's MNI152).
- TemplateFlow's composite transforms (an affine and a displacement field, ITK .h5) between
  MNI152NLin6Asym and MNI152NLin2009cAsym: read by :mod:`gpusiibra._itk`, fetched by
  :mod:`gpusiibra._templateflow` (:func:`~gpusiibra._templateflow.point_transform`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .errors import OptionError

__all__ = ["Space", "SPACES", "resolve", "route", "Chain", "Step", "STEPS", "GENERIC_MNI", "space_names",
           "AffineTransform", "BrettTransform", "atlas_space", "target_space", "transform_chain", "pull_transform",
           "engine_pulls"]


@dataclass(frozen=True)
class Space:
    """A template space: its TemplateFlow name, a title, the spellings users type, whether images live in it."""

    name: str
    title: str
    aliases: tuple = ()
    images: bool = True  # Talairach is a coordinate system here (no template image of ours)


SPACES = (
    Space("MNI152NLin2009cAsym", "ICBM 2009c nonlinear asymmetric: siibra's MNI152 (Julich-Brain, DiFuMo), fMRIPrep's "
          "default", ("ICBM2009c", "ICBM 2009c", "ICBM152 2009c", "MNI152 2009c", "MNI2009c", "MNI152NLin2009c",
                      "2009c", "MNI 152 ICBM 2009c Nonlinear Asymmetric", "MNI152_2009c", "ICBM 2009c Nonlinear "
                      "Asymmetric", "ICBM 2009c nonlinear asymmetric (MNI152)")),
    Space("MNI152NLin6Asym", "FSL's MNI152 (6th generation nonlinear asymmetric, MNI152_T1_1mm): FSL, most of "
          "NeuroVault, HCP", ("FSL", "FSL MNI152", "MNI152 FSL", "MNI152NLin6", "NLin6", "MNI152_T1_1mm",
                             "MNI152_T1_2mm", "FSL MNI", "MNI152 6th generation")),
    Space("MNI152Lin", "the linear ICBM152 average (avg152T1): SPM's MNI", ("SPM", "SPM MNI", "MNI152 SPM",
                                                                           "avg152T1", "avg152", "ICBM152 linear",
                                                                           "MNI152 linear", "ICBM452")),
    Space("MNI305", "the MNI305 average: FreeSurfer's fsaverage volume and talairach.xfm", ("fsaverage",
                                                                                            "FreeSurfer", "avg305",
                                                                                            "MNI 305")),
    Space("Talairach", "Talairach-Tournoux coordinates (Lancaster's icbm2tal: BrainMap, GingerALE)",
          ("TAL", "TT", "TLRC", "Talairach-Tournoux", "Talairach Tournoux", "icbm2tal", "Lancaster"), images=False),
    Space("TalairachBrett", "Talairach coordinates converted by Brett's mni2tal (legacy tables)",
          ("mni2tal", "Brett", "TAL Brett", "Talairach Brett"), images=False),
)

#: spellings that name no particular MNI space: the atlas's own (siibra's behaviour, no warp)
GENERIC_MNI = ("MNI", "MNI152", "ICBM", "ICBM152", "GenericMNI", "MNI space", "MNI152 space", "ICBM 152",
               # MNI152 variants with no published transform to the others: taken as the atlas's MNI (as siibra)
               "MNI152NLin2009aAsym", "MNI152NLin2009aSym", "MNI152NLin2009bAsym", "MNI152NLin2009bSym",
               "MNI152NLin2009cSym", "MNI152NLin6Sym")


def _key(text) -> str:
    """A spelling without case, spaces or punctuation ('MNI152 NLin-6' -> 'mni152nlin6')."""
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


_BY_KEY = {_key(s): sp.name for sp in SPACES for s in (sp.name, *sp.aliases)}
_SPACE = {sp.name: sp for sp in SPACES}
_GENERIC = {_key(s) for s in GENERIC_MNI}


def coordinates_only(typed, sp) -> OptionError:
    """The error for ``--space`` naming a coordinate system (Talairach) where images are warped."""
    return OptionError(f"--space {typed}: {sp.name} is a coordinate system for tables here, with no template an "
                       "image can be pulled from; take the map as it is (--space MNI), or warp it to MNI152 with a "
                       "tool that has a Talairach template")


def by_row(space) -> bool:
    """True for the space ``"column"``: each row of a table from the space its own space column names."""
    return isinstance(space, str) and space.strip().lower() == "column"


def space_names() -> str:
    """The names :func:`resolve` takes, for messages: the spaces, then 'MNI' (the atlas's own)."""
    return ", ".join(sp.name for sp in SPACES) + " (or MNI: the atlas's own)"


def resolve(name, what="space"):
    """The :class:`Space` a spelling names, None for a generic MNI ('MNI', 'MNI152', ...) or None itself.

    Raises
    ------
    OptionError
        For a name no space has, listing the names taken.
    """
    if name is None:
        return None
    if isinstance(name, Space):
        return name
    k = _key(name)
    if k in _GENERIC:
        return None
    if k in _BY_KEY:
        return _SPACE[_BY_KEY[k]]
    raise OptionError(f"unknown {what} {str(name)!r}: use one of {space_names()}")


# ---------------------------------------------------------------- transforms

@dataclass(frozen=True)
class AffineTransform:
    """Points mapped by a 4x4 matrix (RAS mm to RAS mm); ``name`` says where the matrix was published."""

    matrix: np.ndarray
    name: str
    sha256: str | None = None

    def map_points(self, xyz):
        from .backend import is_device_array

        if is_device_array(xyz):  # the device's points stay there (the displacement fields' steps take them)
            import cupy

            m = cupy.asarray(self.matrix)
            return cupy.asarray(xyz, cupy.float64) @ m[:3, :3].T + m[:3, 3]
        from nibabel.affines import apply_affine

        return apply_affine(self.matrix, np.asarray(xyz, np.float64))

    def inverse(self, name) -> "AffineTransform":
        return AffineTransform(np.linalg.inv(self.matrix), name)


def _spm_matrix_brett(zoom_z):
    """Brett's spm_matrix([0 0 0 0.05 0 0 0.99 0.97 zoom_z]): a rotation of 0.05 rad about x after the zooms."""
    c, s = np.cos(0.05), np.sin(0.05)
    rot = np.array([[1, 0, 0, 0], [0, c, s, 0], [0, -s, c, 0], [0, 0, 0, 1.0]])
    return rot @ np.diag([0.99, 0.97, zoom_z, 1.0])


@dataclass(frozen=True)
class BrettTransform:
    """Brett's mni2tal (``inverse=False``: MNI -> Talairach, zooms chosen by the MNI z's sign) or tal2mni
    (the rotation undone, then the zooms chosen by the sign of the rotated z: the exact inverse)."""

    inverse_: bool
    name: str
    sha256: str | None = None

    def map_points(self, xyz):
        from nibabel.affines import apply_affine

        from .backend import to_host

        p = np.asarray(to_host(xyz), np.float64)
        out = np.empty_like(p)
        if not self.inverse_:
            below = p[..., 2] < 0
            out[below] = apply_affine(_spm_matrix_brett(0.84), p[below])
            out[~below] = apply_affine(_spm_matrix_brett(0.92), p[~below])
            return out
        c, s = np.cos(0.05), np.sin(0.05)
        unrot = np.linalg.inv(np.array([[1, 0, 0, 0], [0, c, s, 0], [0, -s, c, 0], [0, 0, 0, 1.0]]))
        q = apply_affine(unrot, p)
        below = q[..., 2] < 0
        out[below] = apply_affine(np.diag([1 / 0.99, 1 / 0.97, 1 / 0.84, 1.0]), q[below])
        out[~below] = apply_affine(np.diag([1 / 0.99, 1 / 0.97, 1 / 0.92, 1.0]), q[~below])
        return out


#: Lancaster's icbm_fsl2tal: MNI (FSL's MNI152) -> Talairach
ICBM_FSL2TAL = np.array([[0.9464, 0.0034, -0.0026, -1.0680],
                         [-0.0083, 0.9479, -0.0580, -1.0239],
                         [0.0053, 0.0617, 0.9010, 3.1883],
                         [0.0, 0.0, 0.0, 1.0]])
#: Lancaster's icbm_spm2tal: MNI (SPM's template) -> Talairach
ICBM_SPM2TAL = np.array([[0.9254, 0.0024, -0.0118, -1.0207],
                         [-0.0048, 0.9316, -0.0871, -1.7667],
                         [0.0152, 0.0883, 0.8924, 4.0926],
                         [0.0, 0.0, 0.0, 1.0]])
#: Lancaster's icbm_other2tal (pooled; NiMARE's tal2mni/mni2tal): MNI (other templates) -> Talairach
ICBM_OTHER2TAL = np.array([[0.9357, 0.0029, -0.0072, -1.0423],
                           [-0.0065, 0.9396, -0.0726, -1.3940],
                           [0.0103, 0.0752, 0.8967, 3.6475],
                           [0.0, 0.0, 0.0, 1.0]])
#: FreeSurfer's MNI305 -> MNI152 (CoordinateSystems, section 8)
MNI305_TO_MNI152 = np.array([[0.9975, -0.0073, 0.0176, -0.0429],
                             [0.0146, 1.0009, -0.0024, 1.5496],
                             [-0.0130, -0.0093, 0.9971, 1.1840],
                             [0.0, 0.0, 0.0, 1.0]])

#: the pairs TemplateFlow publishes composite transforms between (points of the first to the second through
#: tpl-<first>_from-<second>_mode-image_xfm.h5: see gpusiibra._itk on which file maps which way)
TEMPLATEFLOW_PAIRS = (("MNI152NLin6Asym", "MNI152NLin2009cAsym"), ("MNI152NLin2009cAsym", "MNI152NLin6Asym"))


@dataclass(frozen=True)
class Step:
    """One published transform: points of ``source`` to points of ``target``; ``make()`` builds it."""

    source: str
    target: str
    name: str
    kind: str  # "affine", "piecewise affine", "displacement field"
    make: object = field(compare=False, repr=False)


def _affine(matrix, name):
    return lambda: AffineTransform(matrix, name)


def _templateflow(source, target):
    """TemplateFlow's file whose points go from ``source`` to ``target``: tpl-<source>_from-<target>."""
    def make():
        from . import _templateflow  # the displacement-field side: fetched once, parsed once

        return _templateflow.point_transform(source, target)

    return make


STEPS = (
    Step("MNI152NLin6Asym", "Talairach", "Lancaster 2007 icbm_fsl2tal", "affine",
         _affine(ICBM_FSL2TAL, "Lancaster 2007 icbm_fsl2tal")),
    Step("Talairach", "MNI152NLin6Asym", "Lancaster 2007 tal2icbm_fsl", "affine",
         _affine(np.linalg.inv(ICBM_FSL2TAL), "Lancaster 2007 tal2icbm_fsl")),
    Step("MNI152Lin", "Talairach", "Lancaster 2007 icbm_spm2tal", "affine",
         _affine(ICBM_SPM2TAL, "Lancaster 2007 icbm_spm2tal")),
    Step("Talairach", "MNI152Lin", "Lancaster 2007 tal2icbm_spm", "affine",
         _affine(np.linalg.inv(ICBM_SPM2TAL), "Lancaster 2007 tal2icbm_spm")),
    Step("MNI152Lin", "TalairachBrett", "Brett 1999 mni2tal", "piecewise affine",
         lambda: BrettTransform(False, "Brett 1999 mni2tal")),
    Step("TalairachBrett", "MNI152Lin", "Brett 2001 tal2mni", "piecewise affine",
         lambda: BrettTransform(True, "Brett 2001 tal2mni")),
    Step("MNI305", "MNI152NLin6Asym", "FreeSurfer MNI305 to MNI152 (mni152.register.dat)", "affine",
         _affine(MNI305_TO_MNI152, "FreeSurfer MNI305 to MNI152 (mni152.register.dat)")),
    Step("MNI152NLin6Asym", "MNI305", "FreeSurfer MNI152 to MNI305 (inverse of mni152.register.dat)", "affine",
         _affine(np.linalg.inv(MNI305_TO_MNI152), "FreeSurfer MNI152 to MNI305 (inverse of mni152.register.dat)")),
) + tuple(Step(s, t, f"TemplateFlow tpl-{s}_from-{t}_mode-image_xfm.h5", "displacement field",
               _templateflow(s, t)) for s, t in TEMPLATEFLOW_PAIRS)


def route(source, target) -> tuple:
    """The shortest chain of :data:`STEPS` from ``source`` to ``target`` (names or :class:`Space`); () for
    the same space. Raises OptionError when no chain of published transforms joins them."""
    src, dst = resolve(source).name, resolve(target).name
    if src == dst:
        return ()
    prev, frontier = {src: None}, [src]
    while frontier and dst not in prev:  # breadth first: the fewest steps
        nxt = []
        for node in frontier:
            for st in STEPS:
                if st.source == node and st.target not in prev:
                    prev[st.target] = st
                    nxt.append(st.target)
        frontier = nxt
    if dst not in prev:
        raise OptionError(f"no published transform joins {src} and {dst}")
    chain, node = [], dst
    while prev[node] is not None:
        chain.append(prev[node])
        node = prev[node].source
    return tuple(reversed(chain))


class Chain:
    """The transforms of a route, built once: ``map_points`` (source -> target) and ``pull`` (target ->
    source: the reverse route, what pulls an image onto the target grid); ``record`` says what was used."""

    def __init__(self, source, target):
        self.source, self.target = resolve(source), resolve(target)
        self.steps = route(self.source, self.target)
        self._forward = None
        self._backward = None

    def __bool__(self):
        return bool(self.steps)

    def _built(self, steps):
        return [st.make() for st in steps]

    def map_points(self, xyz):
        """Points of the source space (n, 3) in mm -> the same anatomical points in the target space."""
        if self._forward is None:
            self._forward = self._built(self.steps)
        for t in self._forward:
            xyz = t.map_points(xyz)
        return xyz

    def pull(self, xyz):
        """Points of the target space -> the source space's points (along the reverse route)."""
        if self._backward is None:
            self._backward = self._built(route(self.target, self.source))
        for t in self._backward:
            xyz = t.map_points(xyz)
        return xyz

    def pull_transforms(self) -> list:
        """The transforms of the reverse route, built once (target points to source points, in order)."""
        if self._backward is None:
            self._backward = self._built(route(self.target, self.source))
        return self._backward

    def record(self, direction="points") -> list:
        """What a dataset records: each transform's name, kind and, for a file, its name and SHA-256."""
        made = self._forward if direction == "points" else self._backward
        steps = self.steps if direction == "points" else route(self.target, self.source)
        out = []
        for i, st in enumerate(steps):
            r = {"from": st.source, "to": st.target, "transform": st.name, "kind": st.kind}
            t = made[i] if made else None
            if t is not None and getattr(t, "sha256", None):
                r["sha256"] = t.sha256
                r["file"] = os.path.basename(getattr(t, "path", "") or "") or st.name
            out.append(r)
        return out

    def describe(self) -> str:
        return " -> ".join([self.source.name] + [f"[{st.name}] {st.target}" for st in self.steps])


def atlas_space(smap):
    """The template space of an atlas (a :class:`Space`), or None when it does not say.

    An official atlas carries the space its source states (the catalog's ``template``: FSL's Harvard-Oxford maps
    are in ``MNI152NLin6Asym`` although siibra's configuration files them under ICBM 2009c); otherwise its
    ``space`` is read as a name.

    Examples
    --------
    >>> import gpusiibra
    >>> from gpusiibra.spaces import atlas_space
    >>> atlas_space(gpusiibra.get_map()).name
    'MNI152NLin2009cAsym'
    """
    for name in (_stated_template(smap), smap.space):
        if name:
            try:
                sp = resolve(name)
            except OptionError:
                continue
            if sp is not None:
                return sp
    return None


def _stated_template(smap):
    """The template an atlas's source states (its ``template``, or its catalog entry's), or None."""
    meta = getattr(smap, "meta", None) or {}
    template = meta.get("template")
    if not template:
        source = meta.get("catalog_id") or meta.get("source")
        if isinstance(source, str) and source:
            from .atlases import catalog_template

            template = catalog_template(source)
    return template or None


def target_space(atlas, source):
    """The atlas's space, for warping from ``source``; an OptionError when the atlas does not say."""
    target = atlas_space(atlas)
    if target is None:
        said = _stated_template(atlas)
        if said:  # a space it states, that no published transform of ours reaches (Colin27, IXI549...)
            raise OptionError(f"the atlas {getattr(atlas, 'name', '') or 'given'!r} is in {said}, and no published "
                              f"transform joins {source.name} and {said} here; leave out --space to take the "
                              f"inputs as they are (spaces with transforms: {space_names()})")
        raise OptionError(f"the atlas {getattr(atlas, 'name', '') or 'given'!r} does not say its space, so inputs in "
                          f"{source.name} cannot be warped into it: give the atlas's space (load_map(..., space=...)) "
                          "or leave out --space")
    return target


@lru_cache(maxsize=16)
def transform_chain(source, target) -> Chain:
    """The transforms from ``source`` to ``target`` (names), built once per process."""
    return Chain(source, target)


@lru_cache(maxsize=16)
def pull_transform(source, target):
    """The transform that pulls an image of ``source`` onto a grid of ``target`` (target points to source
    points), built once per process."""
    return _Pull(transform_chain(source, target))


def engine_pulls(smap, source):
    """For the engine (:func:`gpusiibra._engine.assign_chunk`'s ``pulls``): the transform pulling a map declared
    in ``source`` onto ``smap``'s grid, or None when the atlas is in that space."""
    target = target_space(smap, resolve(source)).name
    return None if target == source else pull_transform(source, target)


class _Pull:
    """A chain seen from the target: ``map_points`` takes target points to source points."""

    def __init__(self, chain):
        self.chain = chain
        self.name = chain.describe()
        chain.pull_transforms()
        self.sha256 = None

    def map_points(self, xyz):
        return self.chain.pull(xyz)


# ------------------------------------------------------------ what an input says about its space
