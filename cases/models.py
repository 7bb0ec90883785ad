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
        # Sub-voxel specimen occupancy from the CT (0.5 iso = surface), uint8 = round(255 x fraction):
        # found once at ingest, reused by every inference run.
        SPECIMEN_OCCUPANCY = "specimen_occ"

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


class SpecimenSurface(models.Model):
    """One version of a case's specimen surface (a mask on the working grid); people correct it.

    Version 1 is the automatic surface found at ingest (``source`` auto); each correction is a new
    version pointing at the version it started from (``parent``). Rows are never changed.
    """

    class Source(models.TextChoices):
        AUTO = "auto"
        MANUAL = "manual"

    case = models.ForeignKey(Case, related_name="specimen_surfaces", on_delete=models.CASCADE)
    version = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, related_name="children", on_delete=models.PROTECT)
    source = models.CharField(max_length=16, choices=Source.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    mask_file = models.FileField(upload_to="specimen/")  # gzip raw uint8 on the case's working grid
    voxel_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="unique_specimen_surface_version")]

    def __str__(self) -> str:
        return f"specimen surface {self.case_id} v{self.version} ({self.source})"


class SpecimenOrientation(models.Model):
    """One version of how a case's specimen lay in the scanner: which scanner face (+x .. -z, patient
    LPS) is superior, lateral, anterior ... ``mapping`` holds face -> anatomical name for every face
    the orientation fixes. Rows are never changed; the newest version names the faces everywhere."""

    case = models.ForeignKey(Case, related_name="orientations", on_delete=models.CASCADE)
    version = models.PositiveIntegerField()
    mapping = models.JSONField()
    convention = models.CharField(max_length=64, blank=True)  # site suture convention used, if any
    markers = models.JSONField(default=dict, blank=True)  # e.g. {"short suture": "+z"} under a convention
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="unique_specimen_orientation_version")]

    def __str__(self) -> str:
        return f"specimen orientation {self.case_id} v{self.version}"


class IngestStage(models.TextChoices):
    """Where an upload or a received study is until it is a case (then its inference run says the rest)."""

    RECEIVED = "received"  # all bytes are here, queued for ingest
    CHECKING = "checking"  # reading and validating the headers
    DEIDENTIFYING = "de-identifying"
    RESAMPLING = "resampling"
    DONE = "done"  # the case exists
    FAILED = "failed"


class ReceivedStudy(models.Model):
    """One study arriving over DICOM: receipt, completeness, ingest and the resulting case.

    A re-send after the study was handled opens a new row, which ends as a duplicate of the case.
    """

    class Status(models.TextChoices):
        RECEIVING = "receiving"
        INCOMPLETE = "incomplete"  # quiet, but a series is missing: never ingested as it stands
        QUEUED = "queued"
        INGESTING = "ingesting"
        DONE = "done"
        DUPLICATE = "duplicate"  # a case with the same de-identified StudyInstanceUID exists already
        FAILED = "failed"

    study_key = models.CharField(max_length=64, db_index=True)  # de-identified StudyInstanceUID
    folder = models.CharField(max_length=512)
    calling_ae = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVING, db_index=True)
    instances = models.PositiveIntegerField(default=0)  # C-STOREs answered with success
    ct_instances = models.PositiveIntegerField(default=0)  # counted on disk when receipt ends
    pet_instances = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    stage = models.CharField(max_length=16, choices=IngestStage.choices, blank=True)  # while ingesting
    case = models.ForeignKey(Case, null=True, blank=True, related_name="received_studies", on_delete=models.SET_NULL)
    first_received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_received_at", "-id"]
        constraints = [
            # Instances of one study in flight gather on one row.
            models.UniqueConstraint(fields=["study_key"], condition=models.Q(status__in=["receiving", "incomplete"]),
                                    name="one_open_receipt_per_study"),
        ]

    def __str__(self) -> str:
        return f"received study {self.pk} ({self.status})"


class UploadSession(models.Model):
    """A resumable, chunked upload: a declared manifest of files filled by byte offset, then ingested.

    Bytes go straight to ``folder`` on disk; ``received_bytes`` is the offset the next chunk must start at.
    """

    class State(models.TextChoices):
        UPLOADING = "uploading"
        RECEIVED = "received"
        CHECKING = "checking"
        DEIDENTIFYING = "de-identifying"
        RESAMPLING = "resampling"
        DONE = "done"
        FAILED = "failed"
        EXPIRED = "expired"

    token = models.UUIDField(unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="upload_sessions")
    manifest = models.JSONField()  # [{"name": ..., "size": ...}] in upload order
    total_bytes = models.BigIntegerField()
    file_count = models.PositiveIntegerField()
    received_bytes = models.BigIntegerField(default=0)
    folder = models.CharField(max_length=512)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UPLOADING, db_index=True)
    message = models.TextField(blank=True)
    case = models.ForeignKey(Case, null=True, blank=True, related_name="upload_sessions", on_delete=models.SET_NULL)
    case_codes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()  # last chunk or state change: abandoned sessions expire from it
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"upload {self.token} ({self.state})"


class Reidentification(models.Model):
    """The restricted store: a case's original UIDs and patient identifiers, encrypted at rest.

    Written at import (unless re-identification is switched off), read only by the task that sends
    results to PACS (``cases.reidentification``); no API or page shows it, every use is audited.
    """

    case = models.OneToOneField(Case, related_name="reidentification", on_delete=models.CASCADE)
    payload = models.BinaryField()  # Fernet token of the JSON mapping (cases.reidentification)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"re-identification of case {self.case_id}"
