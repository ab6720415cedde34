import hashlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ..history import HistoricalRecords
from ..timebounds import validate_datetime_in_range
from ..uploads import content_type_of
from .base import AppendOnlyQuerySet, AuthoredModel, CaseDataQuerySet, same_case_errors


def evidence_upload_to(instance, filename) -> str:
    # The stored name is ours, never the uploader's: the original name is kept in a field
    # and the file cannot be reached by guessing a path.
    return f"evidence/{instance.case_id}/{uuid.uuid4().hex}"


class Evidence(AuthoredModel):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="evidence",
                             verbose_name=_("case"))
    claim = models.ForeignKey("cases.Claim", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="evidence", verbose_name=_("claim"))
    incident = models.ForeignKey("cases.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="evidence",
                                 verbose_name=_("incident"))
    file = models.FileField(_("file"), upload_to=evidence_upload_to, max_length=255)
    original_name = models.CharField(_("original name"), max_length=255, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False, db_index=True)
    # The file as it was collected, before Casedesk removed an image's metadata (see
    # cases/uploads.py): equal to sha256 when the stored file is the upload itself.
    original_sha256 = models.CharField(
        _("SHA-256 as collected"), max_length=64, editable=False, blank=True, db_index=True,
        help_text=_("Of the file as uploaded, before its metadata was removed."))
    size = models.PositiveBigIntegerField(_("size"), editable=False, default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    origin_url = models.URLField(_("found at"), max_length=500, blank=True)
    captured_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("captured by"))
    captured_at = models.DateTimeField(_("captured at"), default=timezone.now,
                                       validators=[validate_datetime_in_range],
                                       help_text=_("When the file was collected or archived."))
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords()
    objects = CaseDataQuerySet.as_manager()

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = pgettext_lazy("plural", "evidence")
        ordering = ["-captured_at", "pk"]

    def __str__(self):
        return (self.original_name or self.description[:60]
                or _("Evidence %(id)s") % {"id": self.pk})

    def clean(self):
        errors = same_case_errors(self.case_id, claim=self.claim, incident=self.incident)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        # Hash the content as it is stored, whenever a new file arrives.
        if self.file and not getattr(self.file, "_committed", True):
            content = self.file.file
            digest, size = hashlib.sha256(), 0
            for chunk in self.file.chunks():
                digest.update(chunk)
                size += len(chunk)
            self.sha256, self.size = digest.hexdigest(), size
            # What the upload check learnt (cases.uploads.clean_upload), when the file came
            # through a form; otherwise the stored file is the file as collected.
            info = getattr(content, "upload_info", None)
            self.original_sha256 = info.original_sha256 if info else self.sha256
            self._upload_info = info
            # A replacement file brings its own name and type: the previous file's must not
            # carry over. On creation an explicitly given name (a clearer title) is kept.
            replacing = self.pk is not None
            if replacing or not self.original_name:
                self.original_name = self.file.name.rsplit("/", 1)[-1][:255]
            # The type is the one detected from the content, never a browser's claim.
            self.content_type = info.kind.content_type if info else content_type_of(content)
        super().save(*args, **kwargs)

    def start_custody(self, actor, note: str) -> None:
        """The first links of the file's chain of custody, right after it is stored: its
        collection and, when the stored file is a copy without metadata, that copy."""
        CustodyEntry.objects.create(
            evidence=self, action=CustodyEntry.Action.COLLECTED, actor=actor,
            note=gettext("%(note)s SHA-256 as collected: %(sha256)s.") % {
                "note": note, "sha256": self.original_sha256 or self.sha256})
        info = getattr(self, "_upload_info", None)
        if info is not None and info.rewritten:
            # The log is written in the language of whoever stored the file: it is read as
            # they wrote it, like the notes people type.
            values = {"removed": ", ".join(info.metadata_removed) or gettext("none found"),
                      "sha256": self.sha256, "size": self.size,
                      "original_sha256": info.original_sha256,
                      "original_size": info.original_size}
            if info.turned_upright:
                note = gettext(
                    "Metadata removed before storing (found: %(removed)s); EXIF orientation "
                    "applied to the pixels. Stored working copy: SHA-256 %(sha256)s, %(size)s "
                    "bytes. The file as uploaded (SHA-256 %(original_sha256)s, "
                    "%(original_size)s bytes) was not kept.") % values
            else:
                note = gettext(
                    "Metadata removed before storing (found: %(removed)s). Stored working copy: "
                    "SHA-256 %(sha256)s, %(size)s bytes. The file as uploaded (SHA-256 "
                    "%(original_sha256)s, %(original_size)s bytes) was not kept.") % values
            CustodyEntry.objects.create(
                evidence=self, action=CustodyEntry.Action.METADATA_STRIPPED, actor=actor,
                note=note)

    @property
    def metadata_removed(self) -> tuple[str, ...]:
        """What the upload check removed from this file, in the request that stored it."""
        info = getattr(self, "_upload_info", None)
        return info.metadata_removed if info is not None and info.rewritten else ()


class CustodyEntry(models.Model):
    """One link of an evidence file's chain of custody. Appended, never changed."""

    class Action(models.TextChoices):
        COLLECTED = "collected", pgettext_lazy("custody action", "Collected")
        DOWNLOADED = "downloaded", pgettext_lazy("custody action", "Downloaded")
        HASH_VERIFIED = "hash_verified", pgettext_lazy("custody action", "Hash verified")
        TRANSFERRED = "transferred", pgettext_lazy("custody action", "Handed over")
        WORKING_COPY = "working_copy", pgettext_lazy("custody action", "Working copy made")
        METADATA_STRIPPED = "metadata_stripped", pgettext_lazy("custody action", "Metadata removed")
        # An evidence file is never deleted (this log vouches for it): the workspace marks it
        # deleted, and an editor may restore it for 30 days (cases/deletion.py).
        DELETED = "deleted", pgettext_lazy("custody action", "Deleted")
        RESTORED = "restored", pgettext_lazy("custody action", "Restored")
        # The stored file removed for good by an operator once the restore window is over
        # (manage.py purge_deleted_evidence): the row, its hashes and this log are kept.
        PURGED = "purged", pgettext_lazy("custody action", "Purged")

    # PROTECT: the custody log outlives nothing it vouches for; evidence with a custody log
    # cannot be deleted (see cases/history.py).
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="custody",
                                 verbose_name=_("evidence"))
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("actor"))
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now,
                              validators=[validate_datetime_in_range])

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("custody entry")
        verbose_name_plural = _("custody entries")
        ordering = ["at", "pk"]

    def __str__(self):
        return _("%(action)s by %(actor)s at %(at)s") % {
            "action": self.get_action_display(), "actor": self.actor,
            "at": f"{self.at:%Y-%m-%d %H:%M}"}

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError(_("The custody log is never edited."))
        super().save(*args, **kwargs)
