"""gpusiibra: assign brain maps, coordinates and point clouds to probabilistic atlas regions, fast.

The same numbers as siibra-python's ``SparseMap.assign``, from CSR arrays and
vectorized (CPU) or CUDA (GPU) kernels.

>>> import gpusiibra
>>> atlas = gpusiibra.get_map()                 # Julich-Brain 3.1 top-2, embedded
>>> table = atlas.assign("tmap.nii.gz")          # doctest: +SKIP
"""
from .backend import get_backend, gpu_available, set_backend
from .errors import (AtlasFileError, AtlasNotFound, BackendError, DatasetError, GpusiibraError, ImageFileError,
                     OptionError, PointsFileError, RegionNotFound)
from .maps import DEFAULT_ATLAS, SparseMap, available_maps, from_arrays, get_map, load_map
from .points import Point, PointCloud
from .sparse import SparseIndex
from . import volumes

__version__ = "0.1.0"

__all__ = [
    "AtlasFileError",
    "AtlasNotFound",
    "BackendError",
    "DatasetError",
    "GpusiibraError",
    "DEFAULT_ATLAS",
    "ImageFileError",
    "OptionError",
    "PointsFileError",
    "Point",
    "PointCloud",
    "RegionNotFound",
    "SparseIndex",
    "SparseMap",
    "available_maps",
    "from_arrays",
    "get_backend",
    "get_map",
    "gpu_available",
    "load_map",
    "set_backend",
    "volumes",
    "__version__",
]
