"""Image volumes with a reference space (siibra's ``Volume``, ``from_nifti``, ``from_array``)."""
from __future__ import annotations

import numpy as np

__all__ = ["Volume", "from_nifti", "from_array"]


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
        return np.asarray(self._img.affine)

    @property
    def shape(self):
        return self._img.shape

    def __repr__(self):
        return f"Volume({self.name!r}, shape={self.shape}, space={self.space!r})"


def from_nifti(img, space=None, name=""):
    """Wrap a NIfTI image (or a path to one) as a :class:`Volume` (siibra's ``volumes.from_nifti``)."""
    if not hasattr(img, "affine"):
        from .io.nifti import load_image

        img = load_image(img)
    return Volume(img, space, name)


def from_array(data, affine, space=None, name=""):
    """A :class:`Volume` from an array and its voxel -> mm affine (siibra's ``volumes.from_array``)."""
    import nibabel as nib

    data = np.asarray(data)
    if data.dtype == bool:
        data = data.astype(np.uint8)  # NIfTI has no boolean type
    return Volume(nib.Nifti1Image(data, np.asarray(affine, dtype=np.float64)), space, name)
