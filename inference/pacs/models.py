"""DICOM destinations configured by administrators, and one delivery record per run and destination.

Registered with the inference app through ``inference.models`` (which imports this module).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

# PS3.5: up to 16 characters of the default repertoire, no backslash, not only spaces.
ae_title_validator = RegexValidator(r"^(?=.*\S)[\x20-\x5b\x5d-\x7e]{1,16}$",
                                    "an AE title is 1-16 printable ASCII characters, not only spaces, no backslash")


class DicomNode(models.Model):
    name = models.CharField(max_length=64, unique=True)
    ae_title = models.CharField(max_length=16, validators=[ae_title_validator])
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    enabled = models.BooleanField(default=True)
    send_after_run = models.BooleanField(default=True)  # send every finished run's SEG + SR here
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "inference"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"


class ResultDelivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    run = models.ForeignKey("inference.InferenceRun", related_name="deliveries", on_delete=models.CASCADE)
    node = models.ForeignKey(DicomNode, related_name="deliveries", on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)  # attempts in the current round (a resend starts one)
    last_error = models.TextField(blank=True)
    reidentified = models.BooleanField(default=False)  # sent with the original UIDs and patient identifiers
    sent_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "inference"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["run", "node"], name="one_delivery_per_run_node")]

    def __str__(self) -> str:
        return f"delivery of run {self.run_id} to {self.node_id} ({self.status})"
