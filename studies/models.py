"""Reader studies, reading sessions, margin calls (reads) and histopathological ground truth.

Nothing here is ever overwritten in a way that loses history: reads are amended by new linked
versions, signed-off ground truth is corrected by new linked versions, and every write is audited.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models import Case

MARGIN_STATUSES = ("positive", "close", "negative")
FACES = ("+x", "-x", "+y", "-y", "+z", "-z")


class MarginStatus(models.TextChoices):
    POSITIVE = "positive"
    CLOSE = "close"
    NEGATIVE = "negative"


def default_positive_categories() -> list[str]:
    return ["positive", "close"]  # the reference study counted close as positive


class Study(models.Model):
    class Design(models.TextChoices):
        UNAIDED = "unaided", "Unaided (no model output)"
        AIDED = "aided", "Aided (model output visible)"
        CROSSOVER = "crossover", "Crossover (unaided, washout, aided)"

    class Status(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    class IndeterminateCountsAs(models.TextChoices):
        # How the model's "indeterminate" call (its folds disagree about the threshold) is counted.
        POSITIVE = "positive", "Positive (as close is; the safe default)"
        NEGATIVE = "negative", "Negative"
        EXCLUDED = "excluded", "Excluded from the model's statistics"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    design = models.CharField(max_length=16, choices=Design.choices)
    margin_threshold_mm = models.FloatField()
    positive_categories = models.JSONField(default=default_positive_categories)
    indeterminate_counts_as = models.CharField(
        max_length=16, choices=IndeterminateCountsAs.choices, default=IndeterminateCountsAs.POSITIVE
    )
    class ReadingUnit(models.TextChoices):
        SPECIMEN = "specimen", "Whole specimen (one call per case)"
        LAMELLA = "lamella", "Lamella (one call per pathology-matched slice, as published)"

    reading_unit = models.CharField(max_length=16, choices=ReadingUnit.choices, default=ReadingUnit.SPECIMEN)
    allow_context = models.BooleanField(default=False)  # lamella readers may scroll beyond their slice
    washout_days = models.PositiveIntegerField(default=0)
    seed = models.BigIntegerField()
    allow_amendments = models.BooleanField(default=True)  # readers may amend a call while its session lasts
    enforce_order = models.BooleanField(default=True)  # first calls follow each reader's random order
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def reads_lamellae(self) -> bool:
        return self.reading_unit == self.ReadingUnit.LAMELLA


class StudyCase(models.Model):
    study = models.ForeignKey(Study, related_name="study_cases", on_delete=models.CASCADE)
    case = models.ForeignKey(Case, related_name="study_links", on_delete=models.PROTECT)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["study", "case"], name="case_once_per_study")]

    def __str__(self) -> str:
        return f"{self.study_id}:{self.case_id}"


class ReadingUnit(models.Model):
    """What a reader calls in a lamella study: one axial slice (k on the working grid) of a case that
    matches a pathology section. Whole-specimen studies have no units (the case is the unit)."""

    class Source(models.TextChoices):
        GROUND_TRUTH = "ground_truth", "The pathologist's ground truth (slice index)"
        ADMINISTRATOR = "administrator", "Set by the study administrator"

    study = models.ForeignKey(Study, related_name="units", on_delete=models.CASCADE)
    case = models.ForeignKey(Case, related_name="reading_units", on_delete=models.PROTECT)
    slice_index = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    label = models.CharField(max_length=80)  # unique within the study; names the unit in exports

    class Meta:
        ordering = ["study_id", "label"]
        constraints = [
            models.UniqueConstraint(fields=["study", "case", "slice_index"], name="unit_slice_once_per_study"),
            models.UniqueConstraint(fields=["study", "label"], name="unit_label_once_per_study"),
        ]

    def __str__(self) -> str:
        return self.label


class StudyReader(models.Model):
    study = models.ForeignKey(Study, related_name="study_readers", on_delete=models.CASCADE)
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="study_memberships", on_delete=models.PROTECT)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["study", "reader"], name="reader_once_per_study")]

    def __str__(self) -> str:
        return f"{self.study_id}:{self.reader_id}"


class ReadingSession(models.Model):
    """One reader's pass over every case of a study, in its own seeded random order."""

    study = models.ForeignKey(Study, related_name="sessions", on_delete=models.CASCADE)
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="reading_sessions", on_delete=models.PROTECT)
    number = models.PositiveSmallIntegerField()  # 1, 2
    aided = models.BooleanField()
    opens_at = models.DateTimeField(null=True, blank=True)  # None: not scheduled yet (waits for session 1)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study_id", "reader_id", "number"]
        constraints = [models.UniqueConstraint(fields=["study", "reader", "number"], name="one_session_number")]

    def __str__(self) -> str:
        return f"{self.study} · {self.reader} · session {self.number}"


class Assignment(models.Model):
    """A case in a reading session, at its position in that session's order."""

    session = models.ForeignKey(ReadingSession, related_name="assignments", on_delete=models.CASCADE)
    case = models.ForeignKey(Case, related_name="assignments", on_delete=models.PROTECT)
    unit = models.ForeignKey(ReadingUnit, null=True, blank=True, related_name="assignments",
                             on_delete=models.CASCADE)  # lamella studies only
    position = models.PositiveIntegerField()
    opened_at = models.DateTimeField(null=True, blank=True)  # first opened from the worklist

    class Meta:
        ordering = ["session_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["session", "case"], condition=Q(unit__isnull=True),
                                    name="case_once_per_session"),
            models.UniqueConstraint(fields=["session", "unit"], condition=Q(unit__isnull=False),
                                    name="unit_once_per_session"),
            models.UniqueConstraint(fields=["session", "position"], name="one_case_per_position"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.position}:{self.case_id}"


class Read(models.Model):
    """A reader's margin call on a case in one context (a study session, or a free read)."""

    case = models.ForeignKey(Case, related_name="reads", on_delete=models.PROTECT)
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="reads", on_delete=models.PROTECT)
    study = models.ForeignKey(Study, null=True, blank=True, related_name="reads", on_delete=models.PROTECT)
    session = models.ForeignKey(ReadingSession, null=True, blank=True, related_name="reads",
                                on_delete=models.PROTECT)
    unit = models.ForeignKey(ReadingUnit, null=True, blank=True, related_name="reads",
                             on_delete=models.PROTECT)  # the lamella called, in lamella studies
    context_key = models.CharField(max_length=48)  # "free", "session:<id>" or "session:<id>:unit:<id>"
    aided = models.BooleanField()  # whether the model's output was visible to the reader
    status = models.CharField(max_length=16, choices=MarginStatus.choices)
    confidence = models.PositiveSmallIntegerField()  # 1 (unsure) .. 5 (certain)
    face_calls = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    time_spent_s = models.FloatField()
    segmentation = models.ForeignKey("inference.Segmentation", null=True, blank=True, related_name="reads",
                                     on_delete=models.PROTECT)
    version = models.PositiveIntegerField(default=1)
    amends = models.OneToOneField("self", null=True, blank=True, related_name="amended_by",
                                  on_delete=models.PROTECT)
    opened_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["reader", "case", "context_key"], condition=Q(amends__isnull=True),
                                    name="one_first_read_per_context"),
            models.UniqueConstraint(fields=["reader", "case", "context_key", "version"],
                                    name="one_read_version_per_context"),
        ]

    def __str__(self) -> str:
        return f"read {self.pk} v{self.version} {self.status}"


class GroundTruth(models.Model):
    """Histopathological truth for a case; each version is kept, sign-off locks a version."""

    class Source(models.TextChoices):
        FORM = "form"
        CSV = "csv"

    case = models.ForeignKey(Case, related_name="ground_truths", on_delete=models.PROTECT)
    version = models.PositiveIntegerField()
    supersedes = models.OneToOneField("self", null=True, blank=True, related_name="superseded_by",
                                      on_delete=models.PROTECT)
    margin_status = models.CharField(max_length=16, choices=MarginStatus.choices)
    closest_distance_mm = models.FloatField(null=True, blank=True)
    face_status = models.JSONField(default=dict, blank=True)  # face -> positive/close/negative, where known
    tumour_type = models.CharField(max_length=200, blank=True)
    segmentation = models.ForeignKey("inference.Segmentation", null=True, blank=True,
                                     related_name="ground_truths", on_delete=models.PROTECT)
    slice_index = models.PositiveIntegerField(null=True, blank=True)  # axial slice matching the pathology section
    # Margin status of further pathology sections, by axial slice: {"<k>": "positive" | "close" | "negative"}.
    section_status = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    correction_reason = models.TextField(blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.FORM)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    signed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["case", "version"], name="one_ground_truth_version")]

    def __str__(self) -> str:
        return f"ground truth {self.case_id} v{self.version}"

    @property
    def signed_off(self) -> bool:
        return self.signed_off_at is not None


class StudyReport(models.Model):
    """A study's statistics report, computed by a worker (``studies.tasks``) and served as stored.

    Computing it takes seconds to minutes of CPU, so no web request does. ``fingerprint`` hashes the
    inputs the stored report was computed from; when the current inputs hash differently the report
    is served marked stale while one recompute runs (``requested_at`` debounces the enqueueing).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    study = models.ForeignKey(Study, related_name="reports", on_delete=models.CASCADE)
    model_label = models.CharField(max_length=200, blank=True)  # "": the study's own choice of model
    fingerprint = models.CharField(max_length=64, blank=True)
    report_json = models.TextField(blank=True)  # serialised once by the worker, sent as is (MBs)
    computed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "model_label"], name="studyreport_one_per_model")]

    def __str__(self) -> str:
        return f"report of study {self.study_id} ({self.model_label or 'default model'}, {self.status})"
