"""Reads for models, runs and results."""

from __future__ import annotations

from django.db.models import Q

from inference.models import InferenceRun, ModelVersion, Segmentation


def model_version_default() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_default=True).first()


def model_version_get(*, label: str | None) -> ModelVersion | None:
    """A model by "name:version", by name (newest), or the default when label is empty."""
    if not label:
        return model_version_default()
    name, _, version = label.partition(":")
    versions = ModelVersion.objects.filter(name=name)
    if version:
        versions = versions.filter(version=version)
    return versions.order_by("-created_at", "-id").first()


def inference_run_latest(*, case) -> InferenceRun | None:
    return case.inference_runs.select_related("model_version").order_by("-created_at", "-id").first()


def model_segmentation_latest(*, case) -> Segmentation | None:
    """The newest model result: a finished run's, or a re-analysis of one against a corrected specimen."""
    finished = Q(inference_run__status="done") | Q(inference_run__isnull=True, parent__inference_run__status="done")
    return (
        Segmentation.objects.filter(finished, case=case, source=Segmentation.Source.MODEL)
        .select_related("margin", "model_version", "margin__specimen_surface")
        .order_by("-created_at", "-id")
        .first()
    )
