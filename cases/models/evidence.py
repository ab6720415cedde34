import hashlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .base import AppendOnlyQuerySet, AuthoredModel, CaseDataQuerySet, same_case_errors


def evidence_upload_to(instance, filename) -> str:
    # The stored name is ours, never the uploader's: the original name is kept in a field
    # and the file cannot be reached by guessing a path.
    return f"evidence/{instance.case_id}/{uuid.uuid4().hex}"


class Evidence(AuthoredModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="evidence")
    claim = models.ForeignKey("cases.Claim", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="evidence")
    incident = models.ForeignKey("cases.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="evidence")
    file = models.FileField(upload_to=evidence_upload_to, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, editable=False, db_index=True)
    size = models.PositiveBigIntegerField(editable=False, default=0)
    content_type = models.CharField(max_length=100, blank=True)
    origin_url = models.URLField("found at", max_length=500, blank=True)
    captured_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    captured_at = models.DateTimeField(default=timezone.now,
                                       help_text="When the file was collected or archived.")
    description = models.TextField(blank=True)

    history = HistoricalRecords()
    objects = CaseDataQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "evidence"
        ordering = ["-captured_at", "pk"]

    def __str__(self):
        return self.original_name or self.description[:60] or f"Evidence {self.pk}"

    def clean(self):
        errors = same_case_errors(self.case_id, claim=self.claim, incident=self.incident)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # Hash the content as it is stored, whenever a new file arrives.
        if self.file and not getattr(self.file, "_committed", True):
            digest, size = hashlib.sha256(), 0
            for chunk in self.file.chunks():
                digest.update(chunk)
                size += len(chunk)
            self.sha256, self.size = digest.hexdigest(), size
            # A replacement file brings its own name and type: the previous file's must not
            # carry over. On creation an explicitly given name (a clearer title) is kept.
            replacing = self.pk is not None
            if replacing or not self.original_name:
                self.original_name = self.file.name.rsplit("/", 1)[-1][:255]
            if replacing or not self.content_type:
                self.content_type = getattr(self.file.file, "content_type", "") or ""
        super().save(*args, **kwargs)


class CustodyEntry(models.Model):
    """One link of an evidence file's chain of custody. Appended, never changed."""

    class Action(models.TextChoices):
        COLLECTED = "collected", "Collected"
        DOWNLOADED = "downloaded", "Downloaded"
        HASH_VERIFIED = "hash_verified", "Hash verified"
        TRANSFERRED = "transferred", "Handed over"
        WORKING_COPY = "working_copy", "Working copy made"

    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="custody")
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+")
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "custody entries"
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("The custody log is never edited.")
        super().save(*args, **kwargs)
