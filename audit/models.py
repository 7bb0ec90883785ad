"""Append-only audit log: who viewed, created, changed, submitted or exported what, and when."""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    action = models.CharField(max_length=64, db_index=True)  # e.g. case.import, case.view, read.submit
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    case_code = models.CharField(max_length=32, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_id} {self.action} {self.object_type}:{self.object_id}"
