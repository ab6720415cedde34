"""manage.py capture CITATION_ID --user U [--now]: capture a cited page.

Without --now the capture is queued for a worker (capture/tasks.py). With --now it is made
in this process, and the new evidence is printed as JSON. The user must be a reporter or
an editor of the citation's case; a protected source's address needs one of its source handlers.
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cases.models import Citation

from ...domain import request_capture, run_capture
from ...errors import CaptureError
from ...models import Capture


def capture_json(capture: Capture) -> dict:
    """What the command prints: the capture and its evidence (the user asked for it, so the
    address is theirs to see, protected or not)."""
    details = capture.details
    return {
        "capture": capture.pk,
        "status": capture.status,
        "failure_code": capture.failure_code or None,
        "failure_reason": capture.failure_reason or None,
        "worker": capture.worker or None,
        "url": details["url"] or None,
        "final_url": details["final_url"] or None,
        "http_status": capture.http_status,
        "title": details["title"] or None,
        "captured_at": capture.captured_at.isoformat() if capture.captured_at else None,
        "manifest_sha256": capture.manifest_sha256 or None,
        "timestamp": {
            "tsa_url": capture.tsa_url,
            "certified_time": capture.timestamped_at.isoformat(),
            "verified_at": capture.verified_at.isoformat() if capture.verified_at else None,
        } if capture.timestamp_token else None,
        "timestamp_error": capture.timestamp_error or None,
        "evidence": [
            {"id": f.evidence.pk, "role": f.role, "name": f.evidence.original_name,
             "content_type": f.evidence.content_type, "size": f.evidence.size,
             "sha256": f.evidence.sha256}
            for f in capture.files.select_related("evidence").order_by("evidence_id")
        ],
    }


class Command(BaseCommand):
    help = "Capture the page a citation cites: queued for a worker, or now with --now."

    def add_arguments(self, parser):
        parser.add_argument("citation_id", type=int)
        parser.add_argument("--user", required=True,
                            help="Who asks for it (a reporter or editor of the citation's case).")
        parser.add_argument("--now", action="store_true",
                            help="Capture in this process and print the new evidence as JSON.")

    def handle(self, *args, citation_id, user, now=False, **options):
        requester = get_user_model().objects.filter(username=user, is_active=True).first()
        if requester is None:
            raise CommandError(f"No active user “{user}”.")
        citation = Citation.objects.filter(pk=citation_id).first()
        if citation is None:
            raise CommandError(f"No citation {citation_id}.")
        try:
            capture = request_capture(citation, requester)
        except CaptureError as exc:
            raise CommandError(f"[{exc.code}] {exc.message}") from None
        if not now:
            from ...tasks import queue_capture

            task_id = queue_capture(capture)
            self.stdout.write(json.dumps({"capture": capture.pk, "status": capture.status,
                                          "task": task_id}))
            return
        try:
            capture = run_capture(capture.pk)
        except CaptureError:
            capture.refresh_from_db()
        self.stdout.write(json.dumps(capture_json(capture), indent=2, ensure_ascii=False))
        if capture.status != Capture.Status.DONE:
            raise CommandError(f"[{capture.failure_code}] {capture.failure_reason}",
                               returncode=1)
