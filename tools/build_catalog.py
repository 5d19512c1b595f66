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
    """siibra's clear_name for these names: drop 'hemisphere' and ' -', collapse spaces."""
    for word in ("hemisphere", " -", "-brain", "both", "Both"):
        name = name.replace(word, "")
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


_DIFUMO_CSCS = "https://object.cscs.ch/v1/AUTH_4791e0a3b3de43e2840fe46d9dc2b334/ext-d000017_DiFuMoAtlases_pub/"
DIFUMO = {  # dimension: (names, parcellation id, the 4D NIfTI, commit of the configuration file read)
    64: (DIFUMO64, "minds/core/parcellationatlas/v1.0.0/d80fbab2-ce7f-4901-a3a2-3c8ef8a3b721",
         _DIFUMO_CSCS + "64/maps.nii.gz", "0e5b502fdbac47418af333b35ed5ea60a0fa87aa"),
    128: (DIFUMO128, "minds/core/parcellationatlas/v1.0.0/73f41e04-b7ee-4301-a828-4b298ad05ab8",
          _DIFUMO_CSCS + "128/maps.nii.gz", "0e5b502fdbac47418af333b35ed5ea60a0fa87aa"),
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


def main():
    entries = [julich_31(), julich_29()] + [difumo(n) for n in sorted(DIFUMO)]
    for e in entries:
        e.setdefault("values", "probabilities")
    for e in entries:
        n = len(e["regions"])
        assert len(e["volumes"]) in (0, 1, n), e["id"]  # none, one 4D file, or one file per region
        assert n == len(e["configured_names"]) == len(set(e["regions"])), e["id"]
    with open(OUT, "w") as f:
        json.dump({"format": "gpusiibra-atlas-catalog/1", "atlases": entries}, f, indent=1)
        f.write("\n")
    print("written", OUT, [(e["id"], len(e["regions"])) for e in entries])


if __name__ == "__main__":
    main()
