"""manage.py timestamp_captures [CASE_SLUG]: have every capture kept without a timestamp (no
Time-Stamp Authority answered when it was stored) timestamped now, each verified and logged in
its manifest's custody log (capture.domain.timestamp_later). Exit status 1 when any is still
without one. The capture task queues the same, retried with backoff (capture.tasks.
timestamp_capture); this is for after an outage, or for captures made before a TSA was
configured.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cases.models import Case

from ...domain import awaiting_timestamp, timestamp_later
from ...errors import CaptureError


class Command(BaseCommand):
    help = _("Timestamp every capture kept without an RFC 3161 timestamp (of one case, or of "
             "all) with the configured Time-Stamp Authority. Exit status 1 when any is still "
             "without one.")

    def add_arguments(self, parser):
        parser.add_argument("case_slug", nargs="?", help=_("Only this case's captures."))

    def handle(self, *args, case_slug=None, **options):
        if not settings.CAPTURE_TSA_URL:
            raise CommandError(_("No Time-Stamp Authority is configured (CAPTURE_TSA_URL)."))
        pending = awaiting_timestamp().order_by("pk")
        if case_slug:
            case = Case.objects.filter(slug=case_slug).first()
            if case is None:
                raise CommandError(_("No case “%(slug)s”.") % {"slug": case_slug})
            pending = pending.filter(case=case)
        done = failed = 0
        for capture_id in pending.values_list("pk", flat=True):
            try:
                capture = timestamp_later(capture_id)
            except CaptureError as exc:
                failed += 1
                self.stderr.write(_("capture %(id)s: still without a timestamp [%(code)s] "
                                    "%(reason)s") % {"id": capture_id, "code": exc.code,
                                                      "reason": exc.message})
                continue
            done += 1
            self.stdout.write(_("capture %(id)s: timestamped by %(tsa)s, certifying "
                                "%(certified)s UTC") % {
                "id": capture.pk, "tsa": capture.tsa_url,
                "certified": f"{capture.timestamped_at:%Y-%m-%d %H:%M:%S}"})
        summary = ngettext("%(done)d capture timestamped; %(failed)d still without one.",
                           "%(done)d captures timestamped; %(failed)d still without one.",
                           done) % {"done": done, "failed": failed}
        if failed:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
