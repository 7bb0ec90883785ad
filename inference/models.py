"""Model registry, inference runs, segmentations and margin results."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models import Case, SpecimenSurface


class ModelVersion(models.Model):
    """One ensemble: K fold checkpoints sharing an architecture and preprocessing configuration."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    architecture = models.CharField(max_length=200)
    config = models.JSONField()  # ModelConfig.to_dict()
    bundle_dir = models.CharField(max_length=500)  # relative to PETCTWEB_MODEL_ROOT
    training_description = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)  # cross-validation and held-out test metrics
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="unique_model_name_version"),
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_model"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"


class ModelFold(models.Model):
    model_version = models.ForeignKey(ModelVersion, related_name="folds", on_delete=models.CASCADE)
    fold = models.PositiveSmallIntegerField()
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["fold"]
        constraints = [models.UniqueConstraint(fields=["model_version", "fold"], name="unique_fold")]

    def __str__(self) -> str:
        return f"{self.model_version_id} fold {self.fold}"



class InferenceRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    case = models.ForeignKey(Case, related_name="inference_runs", on_delete=models.CASCADE)
    model_version = models.ForeignKey(ModelVersion, related_name="runs", on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)  # 0..100
    message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    device = models.CharField(max_length=32, blank=True)
    timings = models.JSONField(default=dict)
    threshold_mm = models.FloatField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # written by the running worker (watchdog)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one active run per case and model: re-requests join the active one.
            models.UniqueConstraint(
                fields=["case", "model_version"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_run_per_case_model",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"


class Segmentation(models.Model):
    class Source(models.TextChoices):
        MODEL = "model"
        READER = "reader"
        GROUND_TRUTH = "ground_truth"

    case = models.ForeignKey(Case, related_name="segmentations", on_delete=models.CASCADE)
    source = models.CharField(max_length=16, choices=Source.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT)
    inference_run = models.OneToOneField(
        InferenceRun, null=True, blank=True, related_name="segmentation", on_delete=models.CASCADE
    )
    parent = models.ForeignKey("self", null=True, blank=True, related_name="children", on_delete=models.PROTECT)
    version = models.PositiveIntegerField(default=1)
    is_draft = models.BooleanField(default=False)
    mask_file = models.FileField(upload_to="masks/")  # gzip raw uint8 on the case's working grid
    uncertainty_file = models.FileField(upload_to="masks/", blank=True)  # float16 fold spread (model only)
    probability_file = models.FileField(upload_to="masks/", blank=True)  # float16 ensemble mean (model only)
    # Each fold's probability, uint8-quantised (p * 255), (K, Z, Y, X): re-runs the margin analysis
    # without the network (model only).
    fold_probability_file = models.FileField(upload_to="masks/", blank=True)
    fold_count = models.PositiveSmallIntegerField(default=0)
    voxel_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} segmentation {self.pk} v{self.version}"



class MarginResult(models.Model):
    segmentation = models.OneToOneField(Segmentation, related_name="margin", on_delete=models.CASCADE)
    threshold_mm = models.FloatField()
    status = models.CharField(max_length=32)  # positive / negative / indeterminate / no_tumour_detected
    closest_margin_mm = models.FloatField(null=True, blank=True)
    interval_low_mm = models.FloatField(null=True, blank=True)  # the ensemble's and folds' closest margins: [low, high]
    interval_high_mm = models.FloatField(null=True, blank=True)
    n_foci = models.PositiveIntegerField(default=0)
    tumour_outside_specimen_mm3 = models.FloatField(default=0.0)
    pet_mode = models.CharField(max_length=32, blank=True)  # "suv", "bqml", "uptake_ratio", ...
    # The specimen surface the analysis measured against (null: found from the CT during the run).
    specimen_surface = models.ForeignKey(
        SpecimenSurface, null=True, blank=True, related_name="margin_results", on_delete=models.CASCADE
    )
    created_at = models.DateTimeField(auto_now_add=True, null=True)
    faces = models.JSONField(default=dict)
    per_slice = models.JSONField(default=list)
    closest_point = models.JSONField(null=True, blank=True)
    tumour_volume_ml = models.FloatField(null=True, blank=True)
    suv_max = models.FloatField(null=True, blank=True)
    suv_mean = models.FloatField(null=True, blank=True)
    detail = models.JSONField(default=dict)  # the full MarginResult.to_dict()

    def __str__(self) -> str:
        return f"margin {self.status} ({self.closest_margin_mm} mm)"

    @property
    def interval_mm(self) -> list[float] | None:
        """[low, high] of the ensemble's and the folds' closest margins: always holds the closest margin
        (results stored before the engine included the ensemble's distance are widened to it here)."""
        if self.interval_low_mm is None or self.interval_high_mm is None:
            return None
        low, high = self.interval_low_mm, self.interval_high_mm
        if self.closest_margin_mm is not None:
            low, high = min(low, self.closest_margin_mm), max(high, self.closest_margin_mm)
        return [low, high]


from inference.pacs.models import DicomNode, ResultDelivery  # noqa: E402,F401  (registers the PACS models)
