"""Small statistical maps for the cluster tables (tests/test_clusters.py) and the atlasreader oracle
(tools/atlasreader_oracle.py): made from NumPy and nibabel alone, deterministically, so that the tests regenerate
the very maps whose tables atlasreader 0.3.2 wrote into tests/golden/atlasreader/.

Each case is ``(name, image, options)``; ``options`` are atlasreader's (``cluster_extent``, ``voxel_thresh``,
``direction``, ``min_distance``)."""
import numpy as np
import nibabel as nib

# (x, y, z in mm, amplitude, width in mm): blobs at cortical and subcortical places of the MNI152 brain
_POSITIVE = [((-38, -22, 56), 7.5, 6.0), ((40, -20, 54), 6.0, 5.0), ((-4, -82, 6), 5.2, 7.0), ((22, 2, 2), 4.1, 3.5),
             ((-46, 28, 14), 3.6, 3.0), ((58, -40, 30), 3.3, 2.5), ((0, 50, -12), 4.8, 4.0)]
_NEGATIVE = [((-2, -54, 30), -6.4, 7.0), ((44, 30, 30), -4.6, 4.5), ((-24, -4, -18), -3.9, 3.0),
             ((30, -70, -30), -5.0, 5.0), ((-60, -30, 0), -3.4, 2.5)]


def _grid(voxel, shape, origin):
    affine = np.diag([-voxel, voxel, voxel, 1.0])
    affine[:3, 3] = origin
    return affine, shape


def _image(blobs, voxel, shape, origin, ripple=0.0):
    affine, shape = _grid(voxel, shape, origin)
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    data = np.zeros(len(xyz))
    for centre, amp, width in blobs:
        d2 = ((xyz - np.asarray(centre, float)) ** 2).sum(1)
        data += amp * np.exp(-d2 / (2 * width ** 2))
    if ripple:  # a smooth, deterministic texture, so that clusters have several local maxima
        data += ripple * np.sin(xyz[:, 0] / 7.0) * np.cos(xyz[:, 1] / 9.0) * np.sin(xyz[:, 2] / 5.0 + 1.0)
    img = nib.Nifti1Image(data.reshape(shape).astype(np.float32), affine)
    img.header.set_xyzt_units("mm")
    return img


def cases():
    """The maps the golden tables were made from."""
    pos = _image(_POSITIVE, 2.0, (91, 109, 91), (90, -126, -72), ripple=0.4)
    neg = _image(_NEGATIVE, 2.0, (91, 109, 91), (90, -126, -72))
    both = _image(_POSITIVE[:4] + _NEGATIVE[:3], 3.0, (61, 73, 61), (91.5, -127.5, -73.5), ripple=0.3)
    return [
        ("positive", pos, {"cluster_extent": 5, "voxel_thresh": 2.5, "direction": "pos", "min_distance": None}),
        ("negative", neg, {"cluster_extent": 10, "voxel_thresh": 2.0, "direction": "neg", "min_distance": None}),
        ("two-sided", both, {"cluster_extent": 3, "voxel_thresh": 2.2, "direction": "both", "min_distance": None}),
        ("positive-subpeaks", pos, {"cluster_extent": 5, "voxel_thresh": 2.5, "direction": "pos",
                                    "min_distance": 10.0}),
    ]
