"""The capture as a background task (background/): queued by id, run by `manage.py worker`.

    queue_capture(capture)                 a requested capture, to the queue
    ask_for_capture(citation, user)         a capture asked for now (the pages, the API)
    citations_saved(citations, user)        what every way of saving citations calls
    capture_saved_citation(citation, user)  what saving a citation with an address does
    watch_tick, check_page                  re-checking captured pages (capture/watch.py)
    ensure_watch_tick()                     the one pending watch tick, queued if missing

The task is given the capture's id only, and returns it: the address, even a public one,
never sits in the task table. Its failure reason is the capture's code and message, which
never name the address; the exception is raised anew, without the chain that led to it,
so that no message of a library (a browser error names the address it failed on) reaches
the stored traceback. The same code and reason are kept on the Capture for the pages.

A refused capture (the address, the requester's rights) fails the task at once; a capture
that failed for a reason that may pass (a timeout, a connection, the browser) is retried
with backoff, then failed. Running the task again for a capture that is done does nothing
(capture.domain.run_capture).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from background import PermanentFailure, Status, enqueue, state, states, task

from .domain import TRANSIENT, request_capture, run_capture, timestamp_later
from .errors import CaptureError, TimestampError
from .models import Capture, WatchedCitation, WatchSchedule
from .watch import (
    INTERNAL_ERROR,
    claim_due,
    due_for_check,
    record_failure,
    run_check,
    start_watching,
)

logger = logging.getLogger("casedesk.capture")

#: Captures go before routine work: the page may change or vanish while it waits.
PRIORITY = 10


class CaptureFailed(Exception):
    """An attempt of a capture that failed for a reason that may pass; retried."""


class CaptureRefused(PermanentFailure):
    """A capture that cannot succeed: not retried."""


@task(priority=PRIORITY, max_attempts=4, backoff_seconds=60, max_backoff_seconds=30 * 60)
def capture_citation(capture_id: int) -> dict:
    try:
        capture = run_capture(capture_id)
    except Capture.DoesNotExist:
        gone = _("Capture %(number)s no longer exists.") % {"number": capture_id}
        raise CaptureRefused(gone) from None
    except CaptureError as exc:
        raise CaptureFailed(f"[{exc.code}] {exc.message}") from None
    except Exception as exc:
        # Only the exception's class is kept: its message may name the address.
        logger.error("Capture %s failed unexpectedly: %s", capture_id, type(exc).__name__)
        Capture.objects.filter(pk=capture_id).exclude(status=Capture.Status.DONE).update(
            status=Capture.Status.FAILED, failure_code="internal_error",
            failure_reason=_("Unexpected %(error)s; the worker's log has more.")
            % {"error": type(exc).__name__})
        raise CaptureFailed(f"[internal_error] Unexpected {type(exc).__name__}.") from None
    if capture.status == Capture.Status.FAILED:
        if capture.failure_code in TRANSIENT:
            raise CaptureFailed(f"[{capture.failure_code}] {capture.failure_reason}")
        raise CaptureRefused(f"[{capture.failure_code}] {capture.failure_reason}")
    if not capture.timestamp_token and settings.CAPTURE_TSA_URL:
        queue_timestamp(capture.pk)
    _keep_watching()
    return {"capture_id": capture.pk}


class TimestampPending(Exception):
    """No Time-Stamp Authority answered for a stored capture; retried with backoff."""


#: A TSA that is down is usually down for minutes or hours: the tries are spread over about
#: a day (5 min, 10, 20, … up to 6 h between them); `manage.py timestamp_captures` does
#: the rest, and verify_evidence reports each capture still without a timestamp.
TIMESTAMP_RETRY = {"max_attempts": 10, "backoff_seconds": 5 * 60,
                   "max_backoff_seconds": 6 * 60 * 60}
TIMESTAMP_FIRST_DELAY = 60


@task(priority=PRIORITY, **TIMESTAMP_RETRY)
def timestamp_capture(capture_id: int) -> dict:
    """Timestamp a capture stored without one (capture.domain.timestamp_later). Ids only."""
    try:
        capture = timestamp_later(capture_id)
    except Capture.DoesNotExist:
        gone = _("Capture %(number)s no longer exists.") % {"number": capture_id}
        raise PermanentFailure(gone) from None
    except TimestampError as exc:
        raise TimestampPending(f"[{exc.code}] {exc.message}") from None
    except CaptureError as exc:
        raise PermanentFailure(f"[{exc.code}] {exc.message}") from None
    return {"capture_id": capture.pk}


def queue_timestamp(capture_id: int, *, delay: float = TIMESTAMP_FIRST_DELAY) -> str:
    """Queue timestamp_capture for a capture stored without a timestamp."""
    from background.framework import task_backends

    if not task_backends[timestamp_capture.backend].supports_defer:
        delay = None
    return enqueue(timestamp_capture, capture_id, delay=delay)


def queue_capture(capture: Capture) -> str:
    """Queue `capture` (queued by capture.domain.request_capture) for a worker; its task id
    is kept on it, for a page to show the task's state (attempts, next try, reason)."""
    task_id = enqueue(capture_citation, capture.pk)
    Capture.objects.filter(pk=capture.pk).update(task_id=task_id)
    capture.task_id = task_id
    return task_id


def capture_saved_citation(citation, user) -> Capture | None:
    """What saving `citation` does (called once it is saved, by whoever saved it): a capture
    of its public address, queued, unless CAPTURE_ON_SAVE is off, it has no public address
    (a protected source's address is captured only when a handler asks), or this address
    already has a capture that is queued, running or done. The save never waits for it.

    Its queries, when it queues one: the saver's membership of the case (once per user and
    case: cases.access.rights_in_case), the citation's pending or done captures, the
    capture's insert, the task's insert and the task id kept on the capture."""
    if not settings.CAPTURE_ON_SAVE or not citation.url:
        return None
    try:
        capture = request_capture(citation, user, trigger=Capture.Trigger.CITATION_SAVED,
                                  unless_captured=True)
    except CaptureError:
        return None
    if capture is None:
        return None
    # The task row is written in the caller's transaction: queued when the save commits.
    queue_capture(capture)
    return capture


def ask_for_capture(citation, user) -> Capture:
    """A capture of `citation` asked for by `user` (the claim page's button, the API):
    requested (capture.domain.request_capture decides who may) and queued, together or not
    at all. A capture of it already queued or running is returned as it is, not queued
    twice. A CaptureError with its code when the user may not have it captured."""
    with transaction.atomic():
        capture = request_capture(citation, user)
        if not capture.task_id:
            queue_capture(capture)
    return capture


#: Up to this many citations saved together are queued as the save commits; more (an
#: import) are handed to one task that queues them in a worker, so that the save's own time
#: does not grow with the number of citations.
QUEUE_AT_SAVE = 20


def citations_saved(citations, user) -> None:
    """Called by each way of saving citations (the claim form's citations, the back
    office's citation forms, the API, the case import), inside the transaction that saves
    them: once it commits, each saved citation with a public address has its capture queued
    (capture_saved_citation). Nothing is queued if the transaction rolls back, and the save
    does not wait for any capture."""
    if not settings.CAPTURE_ON_SAVE or user is None:
        return
    citations = list(citations)
    if not citations:
        return
    if len(citations) > QUEUE_AT_SAVE:
        ids = [citation.pk for citation in citations if citation.pk is not None]
        transaction.on_commit(partial(_queue_later, ids, user.pk), robust=True)
        return
    # robust: a failure to queue is logged, never the saver's error (the save stands).
    transaction.on_commit(partial(_queue_saved, citations, user), robust=True)


def _queue_saved(citations, user) -> None:
    for citation in citations:
        # Read after the save: a protected source's address has moved out of `url` by now.
        if citation.pk is None or not citation.url:
            continue
        with transaction.atomic():
            capture_saved_citation(citation, user)


def _queue_later(citation_ids: list[int], user_id: int) -> None:
    if citation_ids:
        enqueue(capture_saved_citations, user_id, *citation_ids)


@task(priority=PRIORITY, max_attempts=3, backoff_seconds=30)
def capture_saved_citations(user_id: int, *citation_ids: int) -> dict:
    """The captures of many citations saved together (an import), queued by a worker as
    capture_saved_citation queues one, with the saver's rights as they are now. Safe to run
    again: a citation whose address is queued, running or done is not queued twice."""
    from django.contrib.auth import get_user_model

    from cases.models import Citation

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise PermanentFailure(_("User %(number)s no longer exists.") % {"number": user_id})
    citations = Citation.objects.filter(pk__in=citation_ids).select_related(
        "claim", "incident").order_by("pk")
    queued = 0
    for citation in citations.iterator(chunk_size=200):
        if not citation.url:
            continue
        with transaction.atomic():
            if capture_saved_citation(citation, user) is not None:
                queued += 1
    return {"captures_queued": queued}


# --- watching captured pages (capture/watch.py) ----------------------------------------------
#
# A self-rescheduling "watch tick": each tick first queues its successor, delayed by
# CAPTURE_WATCH_TICK_SECONDS, then queues a check (check_page) for each watched citation
# that is due. No cron: the worker runs it like any task. Exactly one tick is pending at a
# time (ensure_watch_tick holds WatchSchedule's row while it looks and queues). A tick is
# started by `manage.py watch_pages` (run it at every start of the app; see the README),
# and again whenever a capture is done, so that a chain broken by a lost worker heals itself.

WATCH_TICK = "watch_tick"
#: Re-checks are routine work: after captures and anything a person waits for.
CHECK_PRIORITY = -10


def ensure_watch_tick(*, delay: float | None = None, replace_running: bool = False) -> str:
    """The pending watch tick's id, queued now (after `delay` seconds, by default
    CAPTURE_WATCH_TICK_SECONDS) unless one is queued already. A running tick counts as
    pending unless `replace_running` (the tick itself queues its successor). "" when the
    task backend cannot run a task later (a backend without `run_after`)."""
    from background.framework import task_backends

    if not task_backends[watch_tick.backend].supports_defer:
        return ""
    if delay is None:
        delay = settings.CAPTURE_WATCH_TICK_SECONDS
    with transaction.atomic():
        WatchSchedule.objects.get_or_create(name=WATCH_TICK)
        # A write first: it takes the row's lock (and SQLite's write lock) before reading,
        # so two processes cannot both find no tick and both queue one.
        WatchSchedule.objects.filter(name=WATCH_TICK).update(updated_at=timezone.now())
        schedule = WatchSchedule.objects.select_for_update().get(name=WATCH_TICK)
        current = state(schedule.task_id) if schedule.task_id else None
        pending = current is not None and (
            current.status in (Status.QUEUED, Status.RETRYING)
            or (current.status == Status.RUNNING and not replace_running))
        if pending:
            return schedule.task_id
        schedule.task_id = enqueue(watch_tick, delay=delay)
        schedule.run_after = timezone.now() + timedelta(seconds=delay)
        schedule.save(update_fields=["task_id", "run_after", "updated_at"])
        return schedule.task_id


def queue_due_checks() -> list[str]:
    """A check_page task for each watched citation that is due and has no check pending;
    returns their ids. Each is queued in its own transaction with the citation's next
    check moved on, so two ticks never queue the same one."""
    start_watching()
    due = due_for_check()
    pending = {task_id for task_id, task_state in
               states([w.check_task_id for w in due if w.check_task_id]).items()
               if not task_state.is_finished}
    queued = []
    for watched in due:
        if watched.check_task_id in pending:
            continue
        with transaction.atomic():
            if not claim_due(watched):
                continue
            task_id = enqueue(check_page, watched.pk)
            WatchedCitation.objects.filter(pk=watched.pk).update(check_task_id=task_id)
        queued.append(task_id)
    return queued


@task(max_attempts=1)
def watch_tick() -> dict:
    """Queues the next tick, then the checks that are due. Not retried: the next tick does
    what this one could not."""
    ensure_watch_tick(replace_running=True)
    try:
        queued = queue_due_checks()
    except Exception as exc:
        logger.exception("The watch tick could not queue the checks that are due")
        raise WatchTickFailed(_("Unexpected %(error)s; the worker's log has more.")
                              % {"error": type(exc).__name__}) from None
    return {"checks_queued": len(queued)}


def _keep_watching() -> None:
    """After a capture: its page is watched from now on, so a watch tick must be pending. A
    failure here is logged, never the capture's."""
    try:
        ensure_watch_tick()
    except Exception:
        logger.exception("Could not make sure a watch tick is queued")


class WatchTickFailed(PermanentFailure):
    """A tick that could not queue the checks (the next tick tries again)."""


class CheckFailed(Exception):
    """A check that broke unexpectedly; retried once."""


@task(priority=CHECK_PRIORITY, max_attempts=2, backoff_seconds=5 * 60)
def check_page(watched_id: int) -> dict:
    """Re-check one watched citation's page (capture.watch.run_check) and queue the new
    capture a changed page asked for. Ids only, in and out."""
    try:
        check = run_check(watched_id)
    except WatchedCitation.DoesNotExist:
        gone = _("Watched citation %(number)s no longer exists.") % {"number": watched_id}
        raise PermanentFailure(gone) from None
    except Exception as exc:
        # Only the exception's class is kept: its message may name the address.
        logger.error("Check of watched citation %s failed unexpectedly: %s", watched_id,
                     type(exc).__name__)
        record_failure(watched_id, INTERNAL_ERROR,
                       _("Unexpected %(error)s; the worker's log has more.")
                       % {"error": type(exc).__name__})
        raise CheckFailed(f"[internal_error] Unexpected {type(exc).__name__}.") from None
    new_capture = check.new_capture
    if new_capture is not None and not new_capture.task_id:
        queue_capture(new_capture)
    return {"check_id": check.pk, "new_capture_id": check.new_capture_id}
