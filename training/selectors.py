"""Reads for training: which cases the current ground truth can train on, and their training cases.

Training data source (a): cases in the database whose newest signed-off ground truth has a non-empty
pathologist outline. The outline lies on the case's working grid and is usually drawn on one axial
slice (the lamella matching the pathology section), so only the annotated slices are trained on
(``TrainingCase.annotated_slices``): the rest of the volume is unknown, not tumour-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.db.models import QuerySet

from cases.models import Case
from cases.selectors import case_volume_array
from cases.volume_store import load_array
from studies.models import GroundTruth
from studies.selectors import ground_truth_final
from training.loop.data import TrainingCase
from training.models import TrainingJob


@dataclass(frozen=True)
class EligibleTruth:
    case: Case
    ground_truth: GroundTruth


@dataclass
class Eligibility:
    """What "retrain with the current ground truth" would train on now, and what it leaves out and why."""

    items: list[EligibleTruth] = field(default_factory=list)
    signed_off: int = 0  # cases with signed-off ground truth
    without_outline: list[str] = field(default_factory=list)  # signed off, but no (or an empty) outline
    other_grid: list[str] = field(default_factory=list)  # working-grid spacing differs from the current one

    @property
    def cases(self) -> int:
        return len(self.items)

    @property
    def patients(self) -> int:
        return len({item.case.patient_key for item in self.items})

    def summary(self) -> dict:
        return {
            "cases": self.cases,
            "patients": self.patients,
            "signed_off_cases": self.signed_off,
            "without_outline": self.without_outline,
            "other_grid": self.other_grid,
            "working_spacing_mm": working_spacing_mm(),
        }


def working_spacing_mm() -> float:
    return float(settings.PETCTWEB_WORKING_SPACING_MM)


def _on_working_spacing(case: Case) -> bool:
    target = working_spacing_mm()
    return all(math.isclose(float(s), target, rel_tol=1e-3) for s in case.grid.spacing)


def training_eligibility() -> Eligibility:
    """Cases whose newest signed-off ground truth has a non-empty outline on the current working grid."""
    final = ground_truth_final(cases=Case.objects.all())
    cases = Case.objects.in_bulk(list(final))
    result = Eligibility(signed_off=len(final))
    for case_id, gt in sorted(final.items(), key=lambda item: cases[item[0]].code):
        case = cases[case_id]
        if gt.segmentation is None or gt.segmentation.voxel_count == 0:
            result.without_outline.append(case.code)
        elif not _on_working_spacing(case):
            result.other_grid.append(case.code)
        else:
            result.items.append(EligibleTruth(case=case, ground_truth=gt))
    return result


def annotated_slices(*, outline: np.ndarray, slice_index: int | None) -> tuple[int, ...]:
    """The axial slices that carry truth: those the outline covers, and the matched pathology slice."""
    covered = {int(z) for z in np.flatnonzero(outline.reshape(outline.shape[0], -1).any(axis=1))}
    if slice_index is not None and 0 <= slice_index < outline.shape[0]:
        covered.add(int(slice_index))
    return tuple(sorted(covered))


def training_case_build(*, case: Case, ground_truth: GroundTruth) -> TrainingCase:
    """A TrainingCase from the stored working-grid volumes and the ground-truth outline."""
    grid = case.grid
    outline = load_array(name=ground_truth.segmentation.mask_file.name, dtype="uint8", shape=grid.shape)
    specimen = (case_volume_array(case=case, kind="specimen")
                if case.volumes.filter(kind="specimen").exists() else None)
    return TrainingCase(
        case_id=case.code,
        patient_id=case.patient_key,
        tumour_mask=outline,
        spacing=tuple(float(s) for s in grid.spacing),
        ct_hu=case_volume_array(case=case, kind="ct"),  # int16 HU; prepare_channels casts
        pet=case_volume_array(case=case, kind="pet"),
        suv_factor=case.suv_factor,
        specimen_mask=specimen,
        truth_closest_margin_mm=ground_truth.closest_distance_mm,
        grid=grid,
        source=f"case {case.code} ground truth v{ground_truth.version}",
        annotated_slices=annotated_slices(outline=outline, slice_index=ground_truth.slice_index),
    )


def training_job_list() -> QuerySet[TrainingJob]:
    return TrainingJob.objects.select_related("requested_by", "model_version")


def training_job_active() -> TrainingJob | None:
    return TrainingJob.objects.filter(is_active=True).first()


def training_job_payload(job: TrainingJob) -> dict:
    model = job.model_version
    return {
        "id": job.pk,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "parameters": {k: v for k, v in job.parameters.items() if k in PUBLIC_PARAMETERS},
        "case_count": job.case_count,
        "patient_count": job.patient_count,
        "metrics": job.metrics,
        "model_version": None if model is None else {
            "id": model.pk, "label": model.label, "name": model.name, "version": model.version,
            "is_default": model.is_default,
        },
        "attempts": job.attempts,
        "device": job.device,
        "requested_by": job.requested_by.get_username() if job.requested_by else None,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


PUBLIC_PARAMETERS = ("folds", "epochs", "seed", "device", "make_default")
