"""Cases: a de-identified specimen scan (CT + PET) on its working grid."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cases.imaging.volume import Grid


class Case(models.Model):
    class Source(models.TextChoices):
        UPLOAD = "upload"
        IMPORT = "import"
        SCANNER = "scanner"

    code = models.CharField(max_length=32, unique=True)  # pseudonymous; the only name shown anywhere
    patient_key = models.CharField(max_length=64, db_index=True)  # keyed hash of the original patient id
    study_key = models.CharField(max_length=64, unique=True)  # keyed hash of the original study UID
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    metadata = models.JSONField(default=dict)  # de-identified header facts
    ct_acquired = models.JSONField()  # Grid.to_dict() of the CT as acquired
    pet_acquired = models.JSONField()
    working_grid = models.JSONField()  # Grid.to_dict() shared by every stored volume
    pet_units = models.CharField(max_length=16)
    suv_factor = models.FloatField(null=True, blank=True)  # SUVbw per PET value (per Bq/ml for BQML)
    suv_unavailable_reason = models.CharField(max_length=255, blank=True)
    warnings = models.JSONField(default=list)
    orientation = models.JSONField(null=True, blank=True)  # axis -> anatomical face, once recorded

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.code

    @property
    def grid(self) -> Grid:
        return Grid.from_dict(self.working_grid)


class CaseVolume(models.Model):
    """A voxel array of a case on its working grid, stored gzip-compressed raw (C order)."""

    class Kind(models.TextChoices):
        CT = "ct"  # HU, int16
        PET = "pet"  # rescaled PET values (Bq/ml for BQML), float32
        SPECIMEN = "specimen"  # specimen mask from the CT, uint8

    case = models.ForeignKey(Case, related_name="volumes", on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to="volumes/")
    dtype = models.CharField(max_length=16)
    shape = models.JSONField()
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "kind"], name="one_volume_per_kind")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.kind}"



class SourceHeaders(models.Model):
    """De-identified CT headers (no pixels), needed to export DICOM SEG that references the CT."""

    case = models.OneToOneField(Case, related_name="source_headers", on_delete=models.CASCADE)
    ct_headers = models.FileField(upload_to="headers/")  # gzip JSON list of DICOM JSON datasets

    def __str__(self) -> str:
        return f"headers of case {self.case_id}"
