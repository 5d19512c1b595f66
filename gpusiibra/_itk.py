"""ITK transforms in HDF5 (``.h5``), as TemplateFlow publishes them between template spaces, applied to points
in RAS millimetres on NumPy or CuPy arrays (one code path: the array module of the input).

What a file holds
-----------------
ITK's HDF5 transform files (``itkHDF5TransformIO``) keep a list of transforms under ``/TransformGroup/0``,
``/1``, ... Each group has ``TransformType`` (a string such as ``AffineTransform_double_3_3``),
``TransformFixedParameters`` and ``TransformParameters`` (older ITK spelled them ``Tranform...``; both are read).
A composite transform (``CompositeTransform_double_3_3``) is group 0 and stores no parameters; its queue follows
as groups 1..N. TemplateFlow's ``tpl-MNI152NLin2009cAsym_from-MNI152NLin6Asym_mode-image_xfm.h5`` and its
reverse are such composites: an affine, then a displacement field.

- Affine (``AffineTransform_*_3_3``, ``MatrixOffsetTransformBase_*_3_3``): parameters = the 3x3 matrix M row by
  row, then the translation t; fixed parameters = the centre c. ``y = M (x - c) + t + c``.
- Displacement field (``DisplacementFieldTransform_*_3_3``): fixed parameters = size (3), origin (3), spacing
  (3), direction (3x3, row by row); parameters = the vectors, x fastest, the three components of a voxel
  together. ``y = x + d(x)``, d interpolated trilinearly (ITK's ``VectorLinearInterpolateImageFunction``) at the
  continuous index ``k = (D diag(spacing))^-1 (x - origin)``; a point with ``-0.5 <= k < size - 0.5`` on every
  axis is inside (the half voxel beyond the outer voxel centres takes the outer voxels' vectors), any other
  point is not moved (ITK's ``DisplacementFieldTransform::TransformPoint``).
- ITK's physical space is LPS (x and y negated with respect to NIfTI's RAS); this module converts every step to
  RAS once, when the file is read, so :meth:`ITKTransform.map_points` takes and returns RAS millimetres.
- A composite applies its queue in reverse (``CompositeTransform::TransformPoint``: group N first, group 1
  last).

Which direction is which
------------------------
An ITK transform maps points of the *fixed* (reference, output) space to the *moving* (input) space: that is
what pulling an image needs (each output voxel looks up where it comes from). So TemplateFlow's
``tpl-B_from-A_mode-image_xfm.h5``, which ``antsApplyTransforms -i img_in_A -r ref_in_B -t <it>`` uses to
resample an image from A onto B,

- **pulls images from A onto B**, and
- **maps points from B to A** (its :meth:`~ITKTransform.map_points`).

To move *points* from A to B, take the other file, ``tpl-A_from-B_mode-image_xfm.h5`` (as
``ants.apply_transforms_to_points`` does with the transform list of the opposite direction).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .errors import AtlasFileError

__all__ = ["ITKTransform", "AffineStep", "FieldStep", "read_itk_h5", "write_itk_h5"]

#: NIfTI RAS <-> ITK LPS (its own inverse)
_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def affine_rows(pts, m):
    """``pts @ m[:3, :3].T + m[:3, 3]`` for points (n, 3), written out element by element: the same bits for a
    point whatever the other rows (a matrix product's blocking may differ with the number of rows)."""
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    m = np.asarray(m, np.float64).tolist()
    return _xp_of(pts).stack([m[r][0] * x + m[r][1] * y + m[r][2] * z + m[r][3] for r in range(3)], axis=1)


def _xp_of(a):
    try:
        import cupy

        return cupy.get_array_module(a)
    except ImportError:
        return np


@dataclass
class AffineStep:
    """One affine step in RAS millimetres: ``y = matrix[:3, :3] @ x + matrix[:3, 3]``."""

    matrix: np.ndarray


@dataclass
class FieldStep:
    """One displacement field step, in RAS: ``y = x + d(x)``.

    Attributes
    ----------
    vectors : ndarray (nx, ny, nz, 3), float64
        The displacement of each field voxel in RAS millimetres.
    affine : ndarray (4, 4)
        Field voxel index -> RAS millimetres.
    """

    vectors: np.ndarray
    affine: np.ndarray
    _device: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def shape(self):
        return tuple(int(s) for s in self.vectors.shape[:3])

    def arrays(self, xp):
        """The vectors as (n, 3) C-order rows on ``xp``'s device (copied there once per device)."""
        key = xp.__name__
        if xp is not np:
            key += f":{xp.cuda.Device().id}"
        if key not in self._device:
            self._device[key] = xp.asarray(np.ascontiguousarray(self.vectors.reshape(-1, 3)))
        return self._device[key]

    def displacement(self, pts):
        """d(pts) for RAS points ``pts`` (n, 3) as ITK interpolates it (0 outside the field's domain)."""
        xp = _xp_of(pts)
        vec = self.arrays(xp)
        n = self.shape
        k = affine_rows(pts, np.linalg.inv(self.affine))
        inside = xp.ones(pts.shape[0], bool)
        lin = xp.zeros(pts.shape[0], xp.int64)
        fr, step = [], []
        stride = (n[1] * n[2], n[2], 1)
        for a in range(3):
            ka = k[:, a]
            inside &= (ka >= -0.5) & (ka < n[a] - 0.5)
            # the outer half voxels take the outer voxels' vectors: the index clamped to the voxel centres
            kc = xp.minimum(xp.maximum(ka, 0.0), float(n[a] - 1))
            c = xp.minimum(xp.floor(kc).astype(xp.int64), max(n[a] - 2, 0))
            fr.append((kc - c)[:, None])
            lin += c * stride[a]
            step.append(stride[a] if n[a] > 1 else 0)  # one voxel along an axis: its fraction is 0
        f0, f1, f2 = fr
        s0, s1, s2 = step

        def at(offset):  # the rows of the cell's voxels (take: NumPy's fast path for whole rows)
            return xp.take(vec, lin + offset, axis=0)

        c00 = at(0) * (1.0 - f2) + at(s2) * f2
        c01 = at(s1) * (1.0 - f2) + at(s1 + s2) * f2
        c10 = at(s0) * (1.0 - f2) + at(s0 + s2) * f2
        c11 = at(s0 + s1) * (1.0 - f2) + at(s0 + s1 + s2) * f2
        out = (c00 * (1.0 - f1) + c01 * f1) * (1.0 - f0) + (c10 * (1.0 - f1) + c11 * f1) * f0
        return xp.where(inside[:, None], out, 0.0)


class ITKTransform:
    """A transform read from an ITK ``.h5`` file: its steps in RAS, applied to points.

    :meth:`map_points` maps points of the file's *fixed* (reference) space to its *moving* space: for
    TemplateFlow's ``tpl-B_from-A_mode-image_xfm.h5`` it maps **B -> A** points, which is what pulls an
    image from A onto B's grid (see :mod:`gpusiibra._warp`).

    Attributes
    ----------
    path : str
    name : str
        The file's name.
    sha256 : str
        The SHA-256 of the file's bytes.
    steps : list of AffineStep / FieldStep
        In the order they act on a point (the file's last group first).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from gpusiibra._itk import ITKTransform, AffineStep, write_itk_h5, read_itk_h5
    >>> path = os.path.join(tempfile.mkdtemp(), "shift.h5")
    >>> m = np.eye(4); m[:3, 3] = [1.0, 2.0, 3.0]
    >>> write_itk_h5(path, [AffineStep(m)])
    >>> read_itk_h5(path).map_points(np.array([[0.0, 0.0, 0.0]]))
    array([[1., 2., 3.]])
    """

    def __init__(self, steps, path=None, sha256=None):
        self.steps = list(steps)
        self.path = None if path is None else os.fspath(path)
        self.name = os.path.basename(self.path) if self.path else "(in memory)"
        self.sha256 = sha256

    def __repr__(self):
        kinds = ", ".join("affine" if isinstance(s, AffineStep) else f"field {s.shape}" for s in self.steps)
        return f"ITKTransform({self.name}: {kinds})"

    def map_points(self, xyz):
        """Map RAS millimetre points of the fixed space to the moving space.

        Parameters
        ----------
        xyz : array (n, 3) or (3,), NumPy or CuPy
            Points in RAS millimetres.

        Returns
        -------
        array of float64, the shape of ``xyz``, on the input's array module.
        """
        xp = _xp_of(xyz)
        pts = xp.asarray(xyz, dtype=xp.float64)
        one = pts.ndim == 1
        pts = pts.reshape(-1, 3)
        for step in self.steps:
            if isinstance(step, AffineStep):
                pts = affine_rows(pts, step.matrix)
            else:
                pts = pts + step.displacement(pts)
        return pts[0] if one else pts


# ------------------------------------------------------------------ reading
def _text(ds):
    v = ds[()]
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0]
    return v.decode() if isinstance(v, bytes) else str(v)


def _dataset(group, name):
    for spelling in (name, name.replace("Transform", "Tranform", 1)):
        if spelling in group:
            return np.asarray(group[spelling][()], np.float64).reshape(-1)
    raise KeyError(name)


def _affine_step(params, fixed) -> AffineStep:
    m = params[:9].reshape(3, 3)
    t = params[9:12]
    c = fixed[:3] if fixed.size >= 3 else np.zeros(3)
    lps = np.eye(4)
    lps[:3, :3] = m
    lps[:3, 3] = t + c - m @ c
    return AffineStep(_FLIP @ lps @ _FLIP)


def _field_step(params, fixed, path) -> FieldStep:
    if fixed.size != 18:
        raise AtlasFileError(path, f"a displacement field with {fixed.size} fixed parameters (18 expected)")
    size = tuple(int(s) for s in fixed[:3])
    origin, spacing, direction = fixed[3:6], fixed[6:9], fixed[9:18].reshape(3, 3)
    if params.size != 3 * int(np.prod(size)):
        raise AtlasFileError(path, f"a displacement field of size {size} with {params.size} values "
                                   f"({3 * int(np.prod(size))} expected)")
    # x fastest, the 3 components of a voxel together -> (nx, ny, nz, 3)
    vec = params.reshape(size[::-1] + (3,)).transpose(2, 1, 0, 3)
    vec = np.ascontiguousarray(vec * np.array([-1.0, -1.0, 1.0]))  # LPS -> RAS vectors
    lps = np.eye(4)
    lps[:3, :3] = direction * spacing  # column j: axis j's direction times its spacing
    lps[:3, 3] = origin
    return FieldStep(vec, _FLIP @ lps)


def read_itk_h5(path, sha256=None) -> ITKTransform:
    """Read an ITK HDF5 transform file (a composite of affines and displacement fields, or one of them).

    Parameters
    ----------
    path : path
    sha256 : str, optional
        The file's SHA-256 when the caller already knows it (else it is computed).

    Raises
    ------
    AtlasFileError
        The file is not an ITK HDF5 transform, or holds a transform of another kind (one line naming the file).
    """
    import h5py

    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise AtlasFileError(path, f"not an HDF5 file ({e})") from None
    steps = []
    try:
        with f:
            if "TransformGroup" not in f:
                raise AtlasFileError(path, "no /TransformGroup: not an ITK transform file")
            groups = f["TransformGroup"]
            names = sorted((k for k in groups if k.isdigit()), key=int)
            if not names:
                raise AtlasFileError(path, "an empty /TransformGroup")
            for k in names:
                g = groups[k]
                kind = _text(g["TransformType"])
                if kind.startswith("CompositeTransform"):
                    if k != names[0]:
                        raise AtlasFileError(path, "a composite transform nested inside another")
                    continue
                try:
                    params, fixed = _dataset(g, "TransformParameters"), _dataset(g, "TransformFixedParameters")
                except KeyError as e:
                    raise AtlasFileError(path, f"transform {k} ({kind}) has no {e.args[0]}") from None
                if not kind.endswith("_3_3"):
                    raise AtlasFileError(path, f"transform {k} is {kind}: only 3-D transforms (_3_3) are read")
                if kind.startswith(("AffineTransform", "MatrixOffsetTransformBase")):
                    if params.size != 12:
                        raise AtlasFileError(path, f"transform {k} ({kind}) has {params.size} parameters (12 "
                                                   "expected)")
                    steps.append(_affine_step(params, fixed))
                elif kind.startswith("DisplacementFieldTransform"):
                    steps.append(_field_step(params, fixed, path))
                else:
                    raise AtlasFileError(path, f"transform {k} is {kind}: only affine and displacement field "
                                               "transforms are read")
    except AtlasFileError:
        raise
    except (KeyError, ValueError, TypeError) as e:
        raise AtlasFileError(path, f"not a readable ITK transform ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise AtlasFileError(path, f"damaged HDF5 data ({e})") from None
    # a composite applies its queue from the back: the file's last transform acts first on a point
    if sha256 is None:
        from ._download import _file_sha256

        sha256 = _file_sha256(path)
    return ITKTransform(steps[::-1], path, sha256)


# ------------------------------------------------------------------ writing (tests, caches)
def _write_group(g, kind, params, fixed):
    import h5py

    g.create_dataset("TransformType", data=np.array([kind.encode()], dtype=h5py.string_dtype("ascii")))
    g.create_dataset("TransformFixedParameters", data=np.asarray(fixed, np.float64))
    g.create_dataset("TransformParameters", data=np.asarray(params, np.float64))


def write_itk_h5(path, steps, composite=None):
    """Write ``steps`` (in the order they act on a point, as :attr:`ITKTransform.steps`) as ITK's HDF5 layout:
    a ``CompositeTransform_double_3_3`` whose queue is the steps reversed (``composite=False`` with one step:
    that transform alone). ANTs and nitransforms read what it writes."""
    import h5py

    steps = list(steps)
    composite = len(steps) != 1 if composite is None else composite
    with h5py.File(path, "w") as f:
        f.create_dataset("ITKVersion", data=np.array([b"5.4.0"], dtype=h5py.string_dtype("ascii")))
        f.create_dataset("HDFVersion", data=np.array([h5py.version.hdf5_version.encode()],
                                                     dtype=h5py.string_dtype("ascii")))
        groups = f.create_group("TransformGroup")
        n = 0
        if composite:
            _write_group(groups.create_group("0"), "CompositeTransform_double_3_3", np.zeros(0), np.zeros(0))
            n = 1
        for step in reversed(steps):
            g = groups.create_group(str(n))
            n += 1
            if isinstance(step, AffineStep):
                lps = _FLIP @ step.matrix @ _FLIP
                _write_group(g, "AffineTransform_double_3_3", np.r_[lps[:3, :3].ravel(), lps[:3, 3]], np.zeros(3))
            else:
                lps = _FLIP @ step.affine
                spacing = np.linalg.norm(lps[:3, :3], axis=0)
                direction = lps[:3, :3] / spacing
                fixed = np.r_[np.array(step.shape, np.float64), lps[:3, 3], spacing, direction.ravel()]
                vec = step.vectors * np.array([-1.0, -1.0, 1.0])
                _write_group(g, "DisplacementFieldTransform_double_3_3", vec.transpose(2, 1, 0, 3).ravel(), fixed)
