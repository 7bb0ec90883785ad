"""Training jobs: "retrain with the current ground truth", requested from the web, run on the gpu queue."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class TrainingJob(models.Model):
    """One retraining of the ensemble on the signed-off, outlined ground truth in the database.

    Status and progress live here (not in a Celery result backend), like ``InferenceRun``.
    ``is_active`` is True while queued or running; a partial unique constraint allows one such job.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    is_active = models.BooleanField(default=True)  # queued or running
    progress = models.FloatField(default=0.0)  # 0..100
    message = models.TextField(blank=True)
    parameters = models.JSONField(default=dict)  # folds, epochs, seed, device, make_default (+ hidden overrides)
    case_count = models.PositiveIntegerField(default=0)  # eligible at request; trained on once running
    patient_count = models.PositiveIntegerField(default=0)
    training_set = models.JSONField(default=list)  # [{case, ground_truth_id, version, slices}] actually used
    metrics = models.JSONField(default=dict)  # cross-validation summary of the trained ensemble
    model_version = models.ForeignKey("inference.ModelVersion", null=True, blank=True, related_name="+",
                                      on_delete=models.SET_NULL)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)  # "host:pid" of the process running it
    device = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_training_job"),
        ]

    def __str__(self) -> str:
        return f"training job {self.pk} ({self.status})"
