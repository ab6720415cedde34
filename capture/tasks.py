"""The capture as a background task (background/): queued by id, run by `manage.py worker`.

    queue_capture(capture)                 a requested capture, to the queue
    capture_saved_citation(citation, user)  what saving a citation with an address does

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

from django.conf import settings

from background import PermanentFailure, enqueue, task

from .domain import TRANSIENT, request_capture, run_capture
from .errors import CaptureError
from .models import Capture

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
        raise CaptureRefused(f"Capture {capture_id} no longer exists.") from None
    except CaptureError as exc:
        raise CaptureFailed(f"[{exc.code}] {exc.message}") from None
    except Exception as exc:
        # Only the exception's class is kept: its message may name the address.
        logger.error("Capture %s failed unexpectedly: %s", capture_id, type(exc).__name__)
        Capture.objects.filter(pk=capture_id).exclude(status=Capture.Status.DONE).update(
            status=Capture.Status.FAILED, failure_code="internal_error",
            failure_reason=f"Unexpected {type(exc).__name__}; the worker's log has more.")
        raise CaptureFailed(f"[internal_error] Unexpected {type(exc).__name__}.") from None
    if capture.status == Capture.Status.FAILED:
        if capture.failure_code in TRANSIENT:
            raise CaptureFailed(f"[{capture.failure_code}] {capture.failure_reason}")
        raise CaptureRefused(f"[{capture.failure_code}] {capture.failure_reason}")
    return {"capture_id": capture.pk}


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
    already has a capture that is queued, running or done. The save never waits for it."""
    if not settings.CAPTURE_ON_SAVE or not citation.url:
        return None
    if Capture.objects.filter(citation=citation, url=citation.url).exclude(
            status=Capture.Status.FAILED).exists():
        return None
    try:
        capture = request_capture(citation, user, trigger=Capture.Trigger.CITATION_SAVED)
    except CaptureError:
        return None
    if capture.task_id:
        return capture
    # The task row is written in the caller's transaction: queued when the save commits.
    queue_capture(capture)
    return capture
