"""``SparseMap``: named probability maps on one grid, held sparsely (siibra's ``SparseMap``).

Mirrors siibra's ``siibra.volumes.sparsemap.SparseMap``: ``regions``, ``fetch``, ``assign``,
``save_sparseindex`` / ``load_zipped_sparseindex``. :mod:`gpusiibra.maps` opens atlases.
"""
from __future__ import annotations

import difflib
import os
import warnings

import numpy as np

from . import _assign
from .io import native, nifti, siibra_v1
from .errors import OptionError, RegionNotFound
from .points import Point, PointCloud
from .sparse import SparseIndex
from .volumes import Volume

__all__ = ["SparseMap"]

class SparseMap:
    """Probabilistic region maps held sparsely (siibra's ``SparseMap``).

    Parameters
    ----------
    index : SparseIndex
        The maps.
    regions : list of str
        Region names in index order (``len(regions) == index.num_volumes``).
    name : str
        The atlas name.
    space : str, optional
        Name of the reference space of the grid.
    meta : dict, optional
        Description, licence and the like.
    """

    #: siibra's ``MapType``: ``statistical`` (probability maps) or ``labelled`` (:class:`gpusiibra.LabelledMap`)
    maptype = "statistical"

    def __init__(self, index: SparseIndex, regions, name="", space=None, meta=None):
        regions = [str(r) for r in regions]
        if len(regions) != index.num_volumes:
            raise OptionError(f"{len(regions)} region names for {index.num_volumes} region maps")
        self._index = index
        self.regions = regions
        self.name = name
        self.space = space
        self.meta = dict(meta or {})

    def copy(self) -> "SparseMap":
        """A map of its own over the same (read-only) index: names and metadata copied."""
        return SparseMap(self._index, list(self.regions), self.name, self.space, dict(self.meta))

    # ------------------------------------------------------------ properties
    @property
    def sparse_index(self) -> SparseIndex:
        return self._index

    @property
    def affine(self) -> np.ndarray:
        return self._index.affine

    @property
    def shape(self):
        return self._index.shape

    def __len__(self):
        return len(self.regions)

    def region_fields(self, r) -> dict:
        """The output columns of the regions at indices ``r``: siibra's ``volume`` (here the region's own) and
        ``region``."""
        r = np.asarray(r, np.int64)
        return {"volume": r, "region": np.asarray(self.regions, dtype=object)[r]}

    def __repr__(self):
        return f"SparseMap({self.name!r}: {len(self)} regions on grid {self.shape}, {self._index.n_entries} entries)"

    def summary(self) -> str:
        """A few lines describing the atlas."""
        ix = self._index
        from nibabel.affines import voxel_sizes

        vs = voxel_sizes(self.affine)
        lines = [
            f"atlas    {self.name}",
            f"space    {self.space or '-'}",
            f"regions  {len(self)}",
            f"grid     {' x '.join(map(str, self.shape))} voxels of {' x '.join(f'{v:g}' for v in vs)} mm",
            f"entries  {ix.n_entries:,} nonzero (voxel, region) values over {ix.n_rows:,} voxels",
        ]
        for key in ("description", "licence"):
            if self.meta.get(key):
                lines.append(f"{key:<8} {self.meta[key]}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- lookup
    def get_index(self, region) -> int:
        """Index of a region: by exact name, else a case-insensitive substring that must be unique.

        Raises
        ------
        RegionNotFound
            When nothing or more than one region matches; the message lists close matches.
        """
        if isinstance(region, (int, np.integer)):
            if not 0 <= int(region) < len(self):
                raise RegionNotFound(f"region index {region} is not in 0..{len(self) - 1}")
            return int(region)
        vol = getattr(region, "volume", None)
        if vol is not None:
            return self.get_index(int(vol))
        name = str(getattr(region, "name", region))
        if name in self.regions:
            return self.regions.index(name)
        low = name.lower()
        hits = [i for i, r in enumerate(self.regions) if low in r.lower()]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            shown = ", ".join(repr(self.regions[i]) for i in hits[:8])
            more = f" and {len(hits) - 8} more" if len(hits) > 8 else ""
            raise RegionNotFound(f"{name!r} matches {len(hits)} regions of {self.name!r}: {shown}{more}")
        close = difflib.get_close_matches(name, self.regions, n=5, cutoff=0.4)
        hint = f"; close matches: {', '.join(map(repr, close))}" if close else ""
        raise RegionNotFound(f"no region {name!r} in {self.name!r}{hint}")

    def fetch(self, region_or_index=None, *, index=None, region=None):
        """The dense map of one region as a float32 NIfTI image on the atlas grid (siibra's ``fetch``).

        Parameters
        ----------
        region_or_index : str, int or MapIndex-like
            A region name (matched as :meth:`get_index` does) or an index.
        index : int, optional
            The region's index.
        region : str, optional
            The region's name.
        """
        import nibabel as nib

        spec = next((s for s in (region_or_index, index, region) if s is not None), None)
        if spec is None:
            raise OptionError("fetch needs a region name or an index")
        i = self.get_index(spec)
        img = nib.Nifti1Image(self._index.dense(i), self.affine)
        img.header.set_xyzt_units("mm")
        return img

    # ------------------------------------------------------------ assignment
    def assign(self, item, minsize_voxel=1, lower_threshold=0.0, **kwargs):
        """Assign an image, a point or a point cloud to every region (siibra's ``Map.assign``).

        Parameters
        ----------
        item : nibabel image, Volume, path, Point or PointCloud
            The input, in the atlas space (coordinates in mm). A 4D image is
            assigned volume by volume, with a ``time`` column.
        minsize_voxel : int
            Image components with at most this many voxels are skipped.
        lower_threshold : float
            Atlas values below it count as 0 (for points: only values above it
            are reported).
        split_components : bool, keyword
            Images only: split into 18-connected components (default True).
        space : str, keyword
            The input's template space (:mod:`gpusiibra.spaces`: ``"MNI152NLin6Asym"``, ``"FSL"``,
            ``"Talairach"``...), when it is not the atlas's: the input is warped into the atlas's space first.
            Default: a point cloud's own ``space``; else nothing is warped (siibra's behaviour; ``"MNI"`` says
            the same).

        Returns
        -------
        pandas.DataFrame
            siibra's columns (``input structure``, ``centroid``, ``volume``,
            ``region``, ``correlation``, ``intersection over union``, ``map
            value``, ``map weighted mean``, ``map containedness``, ``input
            weighted mean``, ``input containedness``), empty ones dropped.
        """
        split = kwargs.pop("split_components", True)
        space = kwargs.pop("space", None)
        if kwargs:
            raise TypeError(f"assign() got unexpected keyword(s): {', '.join(kwargs)}")
        from ._options import check_options

        # as the command line refuses them (a labelled map's lower_threshold is siibra's IoU cut: any number)
        check_options(lower_threshold=lower_threshold if self.maptype == "statistical" else None,
                      minsize_voxel=minsize_voxel)
        if isinstance(item, Point):
            item = PointCloud([item.coordinate], item.space, item.sigma)
        if isinstance(item, PointCloud):
            return self._assign_points(item, lower_threshold, space=space)
        data, affine, where = self._image_input(item, space)
        if data.ndim == 4:
            frames = []
            for t in range(data.shape[3]):
                got = _assign.assign_image_data(self, data[..., t], affine, minsize_voxel, lower_threshold, split)
                _warn_outside(got.status, f"{where} (volume {t})")
                cols = got.columns
                if len(cols["volume"]):
                    cols["time"] = np.full(len(cols["volume"]), t, np.int64)
                    frames.append(_assign.make_table(cols, self))
            if not frames:
                return _assign.make_table({"time": []}, self)
            import pandas as pd

            return pd.concat(frames, ignore_index=True)
        got = _assign.assign_image_data(self, data, affine, minsize_voxel, lower_threshold, split)
        _warn_outside(got.status, where)
        return _assign.make_table(got.columns, self)

    def _assign_points(self, cloud, lower_threshold=0.0, centroids=True, space=None):
        """:meth:`assign` of a :class:`PointCloud` (warped into the atlas's space from ``space``, else from the
        cloud's own); without ``centroids``, no ``centroid`` column."""
        from .spaces import points_to_atlas

        coords = points_to_atlas(cloud.coordinates, space if space is not None else cloud.space, self,
                                 declared_by=space is not None)
        cols = _assign.assign_points(self, coords, cloud.sigma, lower_threshold, centroids)
        kind = "point" if "correlation" not in cols else "image"
        return _assign.make_table(cols, self, kind=kind if len(cols["volume"]) else "point")

    def _image_input(self, item, space=None):
        if isinstance(item, Volume):
            space = space if space is not None else _known_space(item.space)
            item = item.fetch()
        path = None
        if isinstance(item, (str, os.PathLike)):
            where = path = os.fspath(item)
            item = nifti.read_image(where)  # as the batch reads it: the same files taken, the same refused
        else:
            where = getattr(item, "get_filename", lambda: None)() or "<in-memory image>"
            path = getattr(item, "get_filename", lambda: None)()
        if not hasattr(item, "dataobj"):
            raise TypeError(f"cannot assign an object of type {type(item).__name__}: "
                            "give a NIfTI image, a Volume, a path, a Point or a PointCloud")
        data, affine = nifti.image_data(item, where)
        from .spaces import input_space, pull_to_atlas

        source, warning = input_space(path, space, self)
        if warning:
            warnings.warn(f"{where}: {warning}", RuntimeWarning, stacklevel=4)
        note = nifti.space_note(item.header, affine, data.shape, check_grid=False) if hasattr(item, "header") \
            else None
        if note and note.startswith(nifti.NO_ORIENTATION):  # whatever the user says of its space
            warnings.warn(f"{where}: {note}: {nifti.RESTORE_AFFINE}", RuntimeWarning, stacklevel=4)
        elif note and space is None:  # a subject's native space or Talairach: the regions would be another place's
            warnings.warn(f"{where}: {note}: is it in MNI152 space? The atlas is", RuntimeWarning, stacklevel=4)
        if source is not None:  # declared: pulled onto the atlas's grid through the transforms (one interpolation)
            return pull_to_atlas(data, affine, source, self), self.affine, where
        return data, affine, where

    def assign_batch(self, inputs, out=None, *, threshold=None, two_sided=False, lower_threshold=0.0, minsize=1,
                     peaks=False, mindist=5, resume=False, chunk_size=None, readers=None, workers=None, scheduler=None,
                     progress=True, space=None):
        """Assign many maps (files, folders, globs) to every region; see :func:`gpusiibra.batch.assign_batch`.

        Returns ``(DataFrame or None, BatchSummary)``: the rows when ``out`` is None, else they are
        written to the Parquet dataset ``out``.

        Examples
        --------
        >>> import gpusiibra
        >>> rows, summary = gpusiibra.get_map().assign_batch(["example:motor"], threshold=3.1, progress=False)
        >>> summary.maps, len(rows) > 0
        (1, True)
        """
        from .batch import assign_batch

        return assign_batch(self, inputs, out, threshold=threshold, two_sided=two_sided,
                            lower_threshold=lower_threshold, minsize=minsize, peaks=peaks, mindist=mindist,
                            resume=resume, chunk_size=chunk_size, readers=readers, workers=workers,
                            scheduler=scheduler, progress=progress, space=space)

    # ------------------------------------------------------------ save/load
    def save_sparseindex(self, destination, filename=None, progress=False) -> str:
        """Save the index as a zip that siibra's reader accepts (siibra's ``save_sparseindex``).

        Parameters
        ----------
        destination : path
            Folder for the zip.
        filename : str, optional
            Name of the zip and prefix of its members (default: the atlas name).
        progress : bool
            A progress bar over the index's rows as they are written.

        Returns
        -------
        str
            The zip's path.
        """
        name = filename or _safe_name(self.name or "sparsemap")
        os.makedirs(destination, exist_ok=True)
        return siibra_v1.write_zip(self._index, os.path.join(os.fspath(destination), name + ".zip"), name,
                                   regions=self.regions, meta={"name": self.name, "space": self.space},
                                   progress=progress)

    def load_zipped_sparseindex(self, zipfname) -> SparseIndex:
        """Load a zipped sparse index into this map (siibra's ``load_zipped_sparseindex``).

        The index must hold as many regions as this map has names.
        """
        index = siibra_v1.read_zip(zipfname, n_regions=len(self))
        self._index = index
        return index

    def save(self, path) -> str:
        """Save in gpusiibra's native format (``.npz``), the fastest to load."""
        return native.write(path, self._index, self.regions,
                            dict(self.meta, name=self.name, space=self.space))


def _known_space(name):
    """An object's own space name when gpusiibra knows it (a Volume's "mni152" names no particular one), else
    None."""
    from .errors import OptionError
    from .spaces import resolve_space

    try:
        return name if resolve_space(name) is not None else None
    except OptionError:
        return None


def _warn_outside(status, where):
    if status == "outside":
        warnings.warn(f"{where}: the image lies entirely outside the atlas grid, so it has no assignment "
                      "(check its affine: is it in the atlas's space, in mm?)", RuntimeWarning, stacklevel=3)


def _safe_name(name):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


