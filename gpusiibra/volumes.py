"""Image volumes with a reference space, and the seed workflow's volume operations.

siibra's ``Volume``, ``from_nifti``, ``from_array`` and ``from_pointcloud``,
with :meth:`Volume.draw_samples` (an exact sampler of the volume's density)
and :meth:`Volume.find_peaks` (scikit-image's ``peak_local_max``). The array
work runs on the backend in force (NumPy/SciPy or CuPy/cupyx).
"""
from __future__ import annotations

import numpy as np

from . import backend
from ._peaks import peak_local_max
from .errors import OptionError
from .points import PointCloud

__all__ = ["Volume", "from_nifti", "from_array", "from_pointcloud", "peak_local_max", "random_source"]


class Volume:
    """An image in a reference space.

    Parameters
    ----------
    img : nibabel.Nifti1Image
        The image (its affine maps voxel indices to mm of ``space``).
    space : str, optional
        Name of the reference space (e.g. ``"mni152"``).
    name : str
        A name for tables and figures.
    """

    def __init__(self, img, space=None, name=""):
        self._img = img
        self.space = space
        self.name = name

    def fetch(self):
        """The NIfTI image."""
        return self._img

    @property
    def affine(self):
        return np.asarray(self._img.affine, dtype=np.float64)

    def get_data(self):
        """The voxel array (3D), non-finite values set to 0 with a warning (README, "Differences from siibra", 3)."""
        from .io.nifti import image_data

        data, _ = image_data(self._img, self.name or None)
        if data.ndim != 3:
            raise OptionError(f"volume {self.name!r} has shape {data.shape}: this operation needs a 3D image")
        return data

    def draw_samples(self, N, e=1, sigma_mm=None, invert=False, random_state=None):
        """Points drawn from the volume's values read as an unnormalized density (siibra's ``draw_samples``).

        Each point falls in voxel v with probability proportional to ``P_v**e``,
        where ``P = (q - min q) / (max q - min q)`` (``1 - P`` when ``invert``),
        and lies uniformly inside it: voxel (i, j, k) covers index coordinates
        [i, i+1) x [j, j+1) x [k, k+1), as in siibra, so that
        :func:`from_pointcloud` counts each point in the voxel it was drawn
        from. siibra samples by rejection; this is an exact inverse-CDF sampler
        of the same density.

        Parameters
        ----------
        N : int
            Number of points.
        e : float
            Exponent that sharpens (> 1) or flattens (< 1) the density.
        sigma_mm : float, optional
            Uncertainty given to every point (mm); None stores 0.
        invert : bool
            Sample from ``1 - P`` instead.
        random_state : None, int, numpy.random.Generator or RandomState
            Source of randomness. None uses NumPy's global generator, so
            ``np.random.seed(n)`` makes a run repeatable as with siibra. The
            random numbers always come from NumPy, so both backends draw the
            same points for the same seed.

        Returns
        -------
        PointCloud
            N points in mm (this volume's space) with ``sigma_mm``.
        """
        N = int(N)
        if N < 0:
            raise OptionError(f"N must be >= 0, got {N}")
        xp = backend.xp()
        q = xp.asarray(self.get_data(), dtype=xp.float64)
        lo, hi = float(q.min()), float(q.max())
        if not hi > lo:
            raise OptionError(f"volume {self.name!r} is constant ({lo:g}): it defines no density to sample")
        P = (q - lo) / (hi - lo)
        if invert:
            P = 1.0 - P
        cdf = xp.cumsum((P ** float(e)).ravel())
        total = float(cdf[-1])
        rng = random_source(random_state)
        u = rng.random(N) * total
        offset = rng.random((N, 3))
        flat = xp.searchsorted(cdf, xp.asarray(u), side="right")
        flat = xp.minimum(flat, int(xp.flatnonzero(P.ravel() > 0)[-1]))  # u rounded up to total
        ijk = backend.to_host(xp.stack(xp.unravel_index(flat, q.shape), axis=1)).astype(np.float64) + offset
        return PointCloud(ijk, None, 0.0 if sigma_mm is None else sigma_mm).transform(self.affine, self.space)

    def find_peaks(self, mindist=5, sigma_mm=0):
        """Local maxima in mm, strongest first, labelled 0..n-1 (siibra's ``find_peaks``).

        The peaks are those of ``skimage.feature.peak_local_max(data,
        min_distance=mindist)``: see :func:`peak_local_max`.

        Parameters
        ----------
        mindist : int
            Minimal distance between peaks, in voxels (also the excluded border).
        sigma_mm : float
            Uncertainty given to every peak (mm).
        """
        ijk = peak_local_max(self.get_data(), min_distance=mindist)
        return PointCloud(ijk, None, sigma_mm, labels=np.arange(len(ijk))).transform(self.affine, self.space)

    @property
    def shape(self):
        return self._img.shape

    def __repr__(self):
        return f"Volume({self.name!r}, shape={self.shape}, space={self.space!r})"


def from_nifti(img, space=None, name=""):
    """Wrap a NIfTI image (or a path to one) as a :class:`Volume` (siibra's ``volumes.from_nifti``)."""
    if not hasattr(img, "affine"):
        from .io.nifti import read_image

        img = read_image(img)  # as the batch reads files: the same taken, the same refused
    return Volume(img, space, name)


def from_array(data, affine, space=None, name=""):
    """A :class:`Volume` from an array and its voxel -> mm affine (siibra's ``volumes.from_array``)."""
    import nibabel as nib

    data = np.asarray(data)
    if data.dtype == bool:
        data = data.astype(np.uint8)  # NIfTI has no boolean type
    elif data.dtype == np.float16:
        data = data.astype(np.float32)  # nor a 16-bit float one (exact)
    elif data.dtype.kind not in "iuf":
        raise OptionError(f"volume data must be numbers, not {data.dtype}")
    return Volume(nib.Nifti1Image(data, np.asarray(affine, dtype=np.float64)), space, name)


def random_source(random_state=None):
    """A NumPy random source: the global one for None, a new Generator for an int, else as given."""
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    return np.random.default_rng(random_state)


def _grid_of(target):
    """(shape, affine, space) of a target: a Volume, a nibabel image, a SparseMap, or None (the default
    atlas's grid, read from the bundled ICBM 2009c template's header: the same grid)."""
    if target is None:
        import nibabel as nib

        from .data import TEMPLATE

        header = nib.load(TEMPLATE).header
        return tuple(int(s) for s in header.get_data_shape()[:3]), header.get_best_affine(), "mni152"
    if isinstance(target, Volume):
        return tuple(target.shape[:3]), target.affine, target.space
    if hasattr(target, "affine") and hasattr(target, "shape"):
        return tuple(target.shape[:3]), np.asarray(target.affine, np.float64), getattr(target, "space", None)
    raise TypeError(f"target must be a Volume, a NIfTI image or a SparseMap, not {type(target).__name__}")


def from_pointcloud(points, label=None, target=None, normalize=True, *, clip_out_of_bounds=False):
    """A kernel density volume of (some of) a point cloud's points (siibra's ``from_pointcloud``).

    The points are counted per voxel of the target grid (voxel =
    ``int(inv(A) @ p)``, truncated, no rounding), the counts are blurred with a
    Gaussian whose width is the selected points' mean ``sigma_mm`` converted to
    voxels along each axis of the target grid (README, "Differences from siibra", 2: siibra
    1.0.1a25 documents mm), edges repeated and the kernel cut at 4 sigma, and
    divided by their total when ``normalize``.

    Parameters
    ----------
    points : PointCloud
    label : int, optional
        Use only the points with this label (all points when None).
    target : Volume, nibabel image or SparseMap, optional
        The output grid; the embedded default atlas's grid when None.
    normalize : bool
        Divide by the sum, so that the volume sums to 1.
    clip_out_of_bounds : bool
        Drop points outside the target grid instead of raising.

    Returns
    -------
    Volume
        float32 density on the target grid.
    """
    shape, affine, space = _grid_of(target)
    coords = points.coordinates
    sigma = points.sigma
    if label is not None and points.labels is not None:
        if not np.any(points.labels == label):
            raise OptionError(f"no points with label {label}; the labels are {sorted(set(points.labels.tolist()))}")
        coords, sigma = coords[points.labels == label], sigma[points.labels == label]
    if len(coords) == 0:
        raise OptionError("the point cloud is empty: there is no density to estimate")
    vox = PointCloud(coords).transform(np.linalg.inv(affine)).coordinates.astype(np.int64)  # truncation, as int()
    inside = np.all((vox >= 0) & (vox < np.asarray(shape)), axis=1)
    if not inside.all():
        if not clip_out_of_bounds:
            raise OptionError(f"{int((~inside).sum())} of {len(vox)} points lie outside the target grid "
                             "(pass clip_out_of_bounds=True to drop them)")
        vox = vox[inside]
        if len(vox) == 0:
            raise OptionError("every point lies outside the target grid")
    xp, ndi = backend.xp(), backend.ndi()
    flat = xp.asarray(np.ravel_multi_index(tuple(vox.T), shape))
    counts = xp.bincount(flat, minlength=int(np.prod(shape))).astype(xp.float32).reshape(shape)
    bandwidth_mm = float(np.mean(sigma))
    from nibabel.affines import voxel_sizes

    voxel_mm = voxel_sizes(affine)
    if bandwidth_mm > 0:
        counts = ndi.gaussian_filter(counts, sigma=(bandwidth_mm / voxel_mm).tolist(), mode="nearest", truncate=4.0)
    if normalize:
        counts = (counts / counts.sum(dtype=xp.float64)).astype(xp.float32)
    name = f"KDE of {len(vox)} points" + ("" if label is None else f" labelled {label}")
    return from_array(backend.to_host(counts), affine, space, name)
