"""A capture of a cited page, and its files (each a cases.Evidence of the citation's case).

A Capture is created when someone asks for one (status queued), taken by a worker
(running), and ends done or failed with a code and a reason. A done capture holds what the
page answered (final address, status, headers, title), its manifest and the manifest's
SHA-256, and the RFC 3161 timestamp over that hash with the TSA's certificate chain. Its
files are Evidence rows (WACZ, PNG, PDF, manifest) with their own custody logs; CaptureFile
says which is which.

A protected source's address is for the case's source handlers only (cases/identities.py):
for such a capture everything that names or shows the address (the address, the final
address, the title, the headers, the manifest, the resources refused) is kept encrypted in
`sealed_details` and the clear columns stay empty. `details` reads either.

Watching captured pages (capture/watch.py): CaseWatch is a case's setting (how often, and
whether protected addresses are re-checked at all), WatchedCitation the latest state of one
citation's page (live, changed since…, gone since…, with the capture that still shows the
original), PageCheck each re-check, WatchSchedule the one pending "watch tick" task.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cases.crypto import EncryptedTextField
from cases.models.base import CaseDataQuerySet

#: The parts of a capture that name or show the address.
DETAIL_FIELDS = ("url", "final_url", "title", "response_headers", "manifest", "refused")


class Capture(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("capture status", "Queued")
        RUNNING = "running", pgettext_lazy("capture status", "Running")
        DONE = "done", pgettext_lazy("capture status", "Done")
        FAILED = "failed", pgettext_lazy("capture status", "Failed")

    class Trigger(models.TextChoices):
        # Asked for by someone (a button, the API, the capture command): a protected
        # source's address is captured only this way, and only for a source handler.
        REQUESTED = "requested", _("Requested")
        # Made because a citation with an address was saved.
        CITATION_SAVED = "citation_saved", _("Citation saved")
        # Made because a re-check found the page's text changed (capture/watch.py).
        PAGE_CHANGED = "page_changed", _("Page changed")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="captures")
    citation = models.ForeignKey("cases.Citation", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="captures")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=20, choices=Trigger.choices,
                               default=Trigger.REQUESTED)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The background task that makes it (background.state() tells its attempts and retries).
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(_("captured by worker"), max_length=200, blank=True,
                              help_text=_("Host and process that made the capture."))
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # What the page answered. Empty for a protected address: see sealed_details.
    protected = models.BooleanField(default=False, editable=False)
    url = models.TextField(_("address"), blank=True)
    final_url = models.TextField(_("final address"), blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    response_headers = models.JSONField(default=list, blank=True)
    title = models.TextField(blank=True)
    manifest = models.JSONField(null=True, blank=True)
    refused = models.JSONField(_("resources refused"), default=list, blank=True)
    sealed_details = EncryptedTextField(null=True, blank=True, editable=False)
    captured_at = models.DateTimeField(null=True, blank=True)

    manifest_sha256 = models.CharField(_("manifest SHA-256"), max_length=64, blank=True,
                                       db_index=True)
    timestamp_token = models.BinaryField(_("RFC 3161 timestamp token (DER)"), null=True,
                                         blank=True)
    tsa_chain_pem = models.TextField(_("TSA certificate chain (PEM)"), blank=True)
    tsa_url = models.CharField(_("Time-Stamp Authority"), max_length=500, blank=True)
    timestamped_at = models.DateTimeField(_("time certified by the TSA"), null=True, blank=True)
    verified_at = models.DateTimeField(_("timestamp verified at"), null=True, blank=True)
    timestamp_error = models.TextField(blank=True)

    objects = CaseDataQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            # One capture per manifest: storing the same result twice finds the first.
            models.UniqueConstraint(fields=["manifest_sha256"],
                                    condition=~Q(manifest_sha256=""),
                                    name="capture_manifest_stored_once"),
        ]

    def __str__(self):
        return f"Capture {self.pk} ({self.get_status_display().lower()})"

    @property
    def details(self) -> dict:
        """The address-bearing parts, from the clear columns or, for a protected address,
        decrypted. Callers show them to the case's source handlers only when `protected`."""
        if self.protected:
            return json.loads(self.sealed_details) if self.sealed_details else {
                name: "" for name in DETAIL_FIELDS}
        return {name: getattr(self, name) for name in DETAIL_FIELDS}

    def set_details(self, **values) -> None:
        unknown = set(values) - set(DETAIL_FIELDS)
        if unknown:
            raise TypeError(f"not capture details: {', '.join(sorted(unknown))}")
        if not self.protected:
            for name, value in values.items():
                setattr(self, name, value)
            return
        sealed = {**self.details, **values}
        self.sealed_details = json.dumps(sealed, ensure_ascii=False)
        for name in DETAIL_FIELDS:
            setattr(self, name, self._meta.get_field(name).get_default())


class CaptureFile(models.Model):
    """Which Evidence of a capture is its archive, screenshot, PDF or manifest."""

    class Role(models.TextChoices):
        ARCHIVE = "archive", _("Web archive (WACZ)")
        SCREENSHOT = "screenshot", _("Screenshot (PNG)")
        PDF = "pdf", _("PDF of the page")
        MANIFEST = "manifest", _("Manifest (JSON)")
        # An address that served a file (a PDF, a spreadsheet…) rather than a page.
        FILE = "file", _("File served")

    capture = models.ForeignKey(Capture, on_delete=models.CASCADE, related_name="files")
    evidence = models.OneToOneField("cases.Evidence", on_delete=models.CASCADE,
                                    related_name="capture_file")
    role = models.CharField(max_length=12, choices=Role.choices)

    class Meta:
        ordering = ["capture", "role"]
        constraints = [
            models.UniqueConstraint(fields=["capture", "role"], name="capture_file_role_once"),
        ]

    def __str__(self):
        return f"{self.get_role_display()} of capture {self.capture_id}"


# --- watching captured pages (capture/watch.py) ----------------------------------------------

class CaseWatch(models.Model):
    """How a case's captured pages are re-checked. A case without one is checked every
    CAPTURE_WATCH_DEFAULT_HOURS, its protected addresses never."""

    class Interval(models.IntegerChoices):
        OFF = 0, _("Not re-checked")
        HOURLY = 1, _("Every hour")
        SIX_HOURS = 6, _("Every 6 hours")
        TWELVE_HOURS = 12, _("Every 12 hours")
        DAILY = 24, _("Daily")
        THREE_DAYS = 72, _("Every 3 days")
        WEEKLY = 168, _("Weekly")

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE,
                                related_name="page_watch")
    interval_hours = models.PositiveSmallIntegerField(
        _("re-check captured pages"), choices=Interval.choices, default=Interval.DAILY)
    watch_protected = models.BooleanField(
        _("also re-check protected sources' addresses"), default=False,
        help_text=_("Off unless the case's editors decide otherwise: every re-check visits "
                    "the address, which tells whoever runs that server that someone is still "
                    "interested in it. Only addresses a source handler had captured are "
                    "re-checked, with that handler's rights."))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   editable=False)

    objects = CaseDataQuerySet.as_manager()

    class Meta:
        verbose_name = _("page watch")
        verbose_name_plural = _("page watch settings")

    def __str__(self):
        return f"Page watch of {self.case}"


class PageCheck(models.Model):
    """One re-check of a captured page: what the address answers now, compared with the
    capture (`capture`). It never names the address; `diff` holds the page's words, so it is
    kept encrypted (a protected source's page is for its handlers only)."""

    class Outcome(models.TextChoices):
        UNCHANGED = "unchanged", pgettext_lazy("page check", "Unchanged")
        CHANGED = "changed", pgettext_lazy("page check", "Changed")
        GONE = "gone", pgettext_lazy("page check", "Gone")
        FAILED = "failed", pgettext_lazy("page check", "Could not check")

    citation = models.ForeignKey("cases.Citation", on_delete=models.CASCADE,
                                 related_name="page_checks")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    capture = models.ForeignKey(Capture, null=True, on_delete=models.SET_NULL,
                                related_name="page_checks",
                                help_text=_("The capture the page was compared with."))
    checked_at = models.DateTimeField(default=timezone.now, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    reason_code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    changed_words = models.PositiveIntegerField(null=True, blank=True)
    text_sha256 = models.CharField(max_length=64, blank=True)
    diff = EncryptedTextField(_("what changed (unified diff)"), null=True, blank=True)
    new_capture = models.ForeignKey(Capture, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+",
                                    help_text=_("The capture queued because the page changed."))
    worker = models.CharField(max_length=200, blank=True)

    objects = CaseDataQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_at", "-pk"]
        indexes = [models.Index(fields=["citation", "-checked_at"])]
        verbose_name = _("page check")
        verbose_name_plural = _("page checks")

    def __str__(self):
        return f"Check of citation {self.citation_id}: {self.outcome}"


class WatchedCitation(models.Model):
    """The latest state of one citation's captured page. Gone and changed are kept apart:
    a page that changed and later vanished is gone (and was changed); once it answers again
    it is changed, or live when it never changed. `original_capture` is the capture that
    still shows the page as it was when it was cited."""

    citation = models.OneToOneField("cases.Citation", on_delete=models.CASCADE,
                                    related_name="page_watch")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE,
                             related_name="watched_citations")
    protected = models.BooleanField(default=False)
    next_check_at = models.DateTimeField(db_index=True)
    check_task_id = models.CharField(max_length=64, blank=True)
    last_check = models.ForeignKey(PageCheck, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    changed_since = models.DateTimeField(null=True, blank=True)
    gone_since = models.DateTimeField(null=True, blank=True)
    original_capture = models.ForeignKey(Capture, null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")

    objects = CaseDataQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["case", "gone_since", "changed_since"])]
        verbose_name = _("watched cited page")
        verbose_name_plural = _("watched cited pages")

    def __str__(self):
        return f"Watch of citation {self.citation_id}"


class WatchSchedule(models.Model):
    """The one pending watch tick (capture.tasks.watch_tick), named so that no second is
    queued: its row is locked while a tick is queued (capture.tasks.ensure_watch_tick)."""

    name = models.CharField(max_length=40, unique=True)
    task_id = models.CharField(max_length=64, blank=True)
    run_after = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("watch schedule")
        verbose_name_plural = _("watch schedules")

    def __str__(self):
        return f"{self.name}: {self.task_id or 'nothing queued'}"
