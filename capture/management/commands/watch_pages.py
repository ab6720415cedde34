"""manage.py watch_pages [--now [--case SLUG] [--all]]: re-check captured pages.

Without --now: makes sure a watch tick is pending (capture/tasks.py; the worker runs it and
it queues its successor) and queues the checks that are due now. Idempotent: run it at every
start of the app (a deployment, `make run`); a second run queues no second tick and no check
already queued. Prints {"tick": task id, "checks_queued": n}.

With --now: checks in this process, without a worker, the pages that are due (or, with
--all, every watched page), of one case with --case, and prints each check as a line of JSON
(ids, outcome, HTTP status, reason code; never the address). A changed page's new capture is
queued for a worker.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.models import Case

from ...models import WatchedCitation
from ...tasks import ensure_watch_tick, queue_capture, queue_due_checks
from ...watch import due_for_check, run_check, start_watching


class Command(BaseCommand):
    help = ("Re-check captured pages: make sure the watch tick is queued and queue the checks "
            "that are due, or with --now check them in this process.")

    def add_arguments(self, parser):
        parser.add_argument("--now", action="store_true",
                            help="Check in this process and print each check as JSON.")
        parser.add_argument("--case", metavar="SLUG", help="With --now: this case's only.")
        parser.add_argument("--all", action="store_true", dest="every",
                            help="With --now: every watched page, due or not.")

    def handle(self, *args, now, case, every, **options):
        if not now:
            if case or every:
                raise CommandError("--case and --all go with --now.")
            tick = ensure_watch_tick()
            queued = queue_due_checks()
            self.stdout.write(json.dumps({"tick": tick or None, "checks_queued": len(queued)}))
            return
        start_watching()
        if every:
            watched = WatchedCitation.objects.order_by("pk")
        else:
            watched = WatchedCitation.objects.filter(
                pk__in=[w.pk for w in due_for_check(timezone.now(), limit=10**9)])
        if case:
            try:
                watched = watched.filter(case=Case.objects.get(slug=case))
            except Case.DoesNotExist:
                raise CommandError(f"No case {case!r}.") from None
        for watched_id in watched.values_list("pk", flat=True):
            check = run_check(watched_id)
            if check.new_capture is not None and not check.new_capture.task_id:
                queue_capture(check.new_capture)
            self.stdout.write(json.dumps({
                "check": check.pk, "citation": check.citation_id, "outcome": check.outcome,
                "http_status": check.http_status, "reason_code": check.reason_code,
                "changed_words": check.changed_words, "new_capture": check.new_capture_id}))
