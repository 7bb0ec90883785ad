"""The fingerprint of everything a study's report is computed from (a few aggregate queries).

Reads, ground-truth versions, segmentations, runs and margin results are only ever added (never
edited in place), so counts and newest ids capture them; sign-off and edits of a draft ground truth
update rows, hence its newest ``updated_at``. ``REPORT_FORMAT`` changes when the statistics code does.
"""

from __future__ import annotations

import hashlib
import json

from django.db.models import Count, Max

from inference.models import InferenceRun, MarginResult, ModelVersion, Segmentation
from studies.models import GroundTruth, Read, ReadingSession, ReadingUnit, Study

REPORT_FORMAT = 1


def _summary(queryset, *fields: str) -> list:
    aggregates = {"n": Count("id"), "last": Max("id")} | {f"max_{f}": Max(f) for f in fields}
    return [str(v) for _, v in sorted(queryset.aggregate(**aggregates).items())]


def report_fingerprint(*, study: Study, model_label: str = "") -> str:
    case_ids = study.study_cases.values("case_id")
    default = ModelVersion.objects.filter(is_default=True).values_list("id", flat=True).first()
    inputs = {
        "format": REPORT_FORMAT,
        "model_label": model_label,
        "default_model": default,
        "study": [study.design, study.margin_threshold_mm, sorted(study.positive_categories),
                  study.indeterminate_counts_as, study.reading_unit, study.status],
        "cases": _summary(study.study_cases.all()),
        "readers": _summary(study.study_readers.all()),
        "sessions": _summary(ReadingSession.objects.filter(study=study)),
        "units": _summary(ReadingUnit.objects.filter(study=study)),
        "reads": _summary(Read.objects.filter(study=study)),
        "truth": _summary(GroundTruth.objects.filter(case_id__in=case_ids), "updated_at"),
        "segmentations": _summary(Segmentation.objects.filter(case_id__in=case_ids, is_draft=False)),
        "runs": _summary(InferenceRun.objects.filter(case_id__in=case_ids, status="done")),
        "margins": _summary(MarginResult.objects.filter(segmentation__case_id__in=case_ids)),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()
