"""A synthetic case with a stored model result whose margin is known, without DICOM or a network.

CT: a tissue block (20 HU) in air; the block's -x face (array axis i) runs half-way between voxel
columns 11 and 12. Three folds see a sphere of radius 2.6, 3.0 and 3.4 mm around voxel (20, 20, 20),
so their margins on that face are about 1.65, 1.25 and 0.85 mm: they straddle the 1 mm threshold.
"""

from __future__ import annotations

import itertools

import numpy as np

from cases.imaging.volume import Grid
from cases.models import Case, CaseVolume
from cases.specimen_surfaces import specimen_surface_initial_create
from cases.volume_store import store_array
from inference.engine.specimen_correction import quantise_folds, reanalyse_margins
from inference.margin_results import margin_result_create
from inference.models import InferenceRun, ModelVersion, Segmentation

SHAPE = (40, 40, 40)
SPACING = 0.5
CENTRE = np.array([20.0, 20.0, 20.0])
RADII_MM = (2.6, 3.0, 3.4)
FACE_I = 12  # first tissue column on the -i side
_codes = itertools.count(1)


def fold_fields() -> np.ndarray:
    k, j, i = np.indices(SHAPE, dtype=np.float32)
    r_mm = np.sqrt((k - CENTRE[0]) ** 2 + (j - CENTRE[1]) ** 2 + (i - CENTRE[2]) ** 2) * SPACING
    return np.stack([1.0 / (1.0 + np.exp((r_mm - radius) / 0.4)) for radius in RADII_MM]).astype(np.float32)


def specimen_block() -> np.ndarray:
    mask = np.zeros(SHAPE, np.uint8)
    mask[4:36, 4:36, FACE_I:36] = 1
    return mask


def make_case_with_result(*, with_result: bool = True) -> Case:
    code = f"PC-S{next(_codes):05d}"
    grid = Grid(shape=SHAPE, spacing=(SPACING,) * 3, origin=(0.0, 0.0, 0.0))
    case = Case.objects.create(
        code=code, patient_key=f"p-{code}", study_key=f"s-{code}", source=Case.Source.IMPORT,
        ct_acquired=grid.to_dict(), pet_acquired=grid.to_dict(), working_grid=grid.to_dict(), pet_units="BQML",
        suv_factor=None, suv_unavailable_reason="synthetic",
    )
    specimen = specimen_block()
    ct = np.where(specimen > 0, 20, -1000).astype(np.int16)
    folds = fold_fields()
    arrays = {"ct": ct, "pet": folds.mean(axis=0).astype(np.float32), "specimen": specimen}
    names = {}
    for kind, array in arrays.items():
        name, sha, size = store_array(array=array, name=f"volumes/{code}/{kind}.raw.gz")
        names[kind] = name
        CaseVolume.objects.create(case=case, kind=kind, file=name, dtype=str(array.dtype), shape=list(SHAPE),
                                  sha256=sha, size_bytes=size)
    surface = specimen_surface_initial_create(case=case, mask_file=names["specimen"],
                                              voxel_count=int(specimen.sum()))
    if not with_result:
        return case
    model, _ = ModelVersion.objects.get_or_create(name="synthetic", version="1", defaults={
        "architecture": "none", "config": {}, "bundle_dir": "nowhere"})
    run = InferenceRun.objects.create(case=case, model_version=model, status="done", progress=100.0, threshold_mm=1.0)
    mean = folds.mean(axis=0)
    mask = (mean > 0.5).astype(np.uint8)
    quantised = quantise_folds(folds)
    stored = {
        "mask_file": store_array(array=mask, name=f"masks/{code}/mask.raw.gz")[0],
        "uncertainty_file": store_array(array=folds.std(axis=0).astype(np.float16), name=f"masks/{code}/u.raw.gz")[0],
        "probability_file": store_array(array=mean.astype(np.float16), name=f"masks/{code}/p.raw.gz")[0],
        "fold_probability_file": store_array(array=quantised, name=f"masks/{code}/folds.raw.gz")[0],
    }
    segmentation = Segmentation.objects.create(case=case, source="model", model_version=model, inference_run=run,
                                               fold_count=len(RADII_MM), voxel_count=int(mask.sum()), **stored)
    margin = reanalyse_margins(
        ct_hu=ct, fold_probabilities=quantised.astype(np.float32) / 255.0, specimen_mask=specimen, grid=grid,
        threshold_mm=1.0, tumour_level=0.5, min_focus_volume_mm3=5.0, suv=None,
        inputs={"working_spacing_mm": [SPACING] * 3, "model_spacing_mm": SPACING, "spacing_matches": True,
                "pet_mode": "uptake_ratio"},
    )
    margin_result_create(segmentation=segmentation, margin=margin, threshold_mm=1.0, specimen_surface=surface)
    return case
