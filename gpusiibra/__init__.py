"""gpusiibra: assign brain maps, coordinates and point clouds to probabilistic atlas regions, fast.

The same numbers as siibra-python's ``SparseMap.assign``, from CSR arrays and
vectorized (CPU) or CUDA (GPU) kernels.

The public names are loaded on first use (as scikit-image does), so that
``import gpusiibra`` and the batch's reader processes start quickly.

>>> import gpusiibra
>>> atlas = gpusiibra.get_map()                 # Julich-Brain 3.1 top-2, embedded (official: "julich-3.1")
>>> len(atlas)
414
"""
import importlib

from .backend import get_backend, gpu_available, set_backend
from .errors import (AtlasFileError, AtlasNotFound, BackendError, DatasetError, DependencyError, DownloadError,
                     GpusiibraError, ImageFileError, OptionError, OutputError, PointsFileError, RegionNotFound)

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first use)
_LAZY = {
    "DEFAULT_ATLAS": "maps", "SparseMap": "maps", "available_maps": "maps", "from_arrays": "maps",
    "get_map": "maps", "load_map": "maps", "Point": "points", "PointCloud": "points", "SparseIndex": "sparse",
    "volumes": None, "atlases": None, "label_points": "tables", "LabelledMap": "labelled",
    "from_label_image": "labelled", "assign_batch": "maps", "get_maps": "maps", "clusters": "cluster_tables",
    "ClusterTables": "cluster_tables",
}

__all__ = [
    "AtlasFileError",
    "AtlasNotFound",
    "BackendError",
    "ClusterTables",
    "DatasetError",
    "DependencyError",
    "DownloadError",
    "GpusiibraError",
    "DEFAULT_ATLAS",
    "LabelledMap",
    "ImageFileError",
    "OptionError",
    "PointsFileError",
    "OutputError",
    "Point",
    "PointCloud",
    "RegionNotFound",
    "SparseIndex",
    "SparseMap",
    "assign_batch",
    "atlases",
    "available_maps",
    "clusters",
    "from_arrays",
    "from_label_image",
    "get_backend",
    "get_map",
    "get_maps",
    "gpu_available",
    "label_points",
    "load_map",
    "set_backend",
    "volumes",
    "__version__",
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name] or name}", __name__)
        value = module if _LAZY[name] is None else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gpusiibra' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(globals()))
