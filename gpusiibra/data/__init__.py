"""Data bundled with gpusiibra (licences in LICENSES.md): the default atlas, the template and an example map."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

#: the ICBM 2009c nonlinear asymmetric T1 template (MNI152), for figures
TEMPLATE = os.path.join(HERE, "ICBM2009asym.nii.gz")

#: inputs that name bundled example maps (usable wherever a NIfTI path is)
EXAMPLES = {"example:motor": os.path.join(HERE, "spmMotor.nii.gz")}
