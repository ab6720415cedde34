"""Retries with backoff, which Django's Tasks framework leaves to each backend and the database
backend does not do: a failed attempt goes back in the queue until the task's max_attempts.

In place: the task keeps its id (the one a page holds), the backend counts its attempts (one
worker id per attempt), and the last failure's reason stays on it while it waits. The failed
attempt is recorded as waiting in the very write that would have marked it failed, so a page
never shows "failed" for a task that will be tried again. A task that
raised PermanentFailure, or has used its attempts, stays failed with its reason.

A task whose worker died mid-run (killed, its machine gone) would show "running" for ever: a
worker reclaims a task that has been running longer than BACKGROUND_ABANDONED_AFTER_SECONDS
as a failed attempt, retried or failed like any other.
"""

import logging
import traceback
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .framework import TaskResultStatus
from .tasks import BackgroundTask, PermanentFailure

logger = logging.getLogger(__name__)


class WorkerLost(Exception):
    """The reason recorded for a task whose worker stopped before it finished."""


def _is_permanent(exception_class_path: str) -> bool:
    try:
        exception_class = import_string(exception_class_path)
    except ImportError:
        return False
    return isinstance(exception_class, type) and issubclass(exception_class, PermanentFailure)


_CHAINED = ("\nThe above exception was the direct cause of the following exception:\n\n",
            "\nDuring handling of the above exception, another exception occurred:\n\n")


def last_exception_only(traceback_text: str) -> str:
    """A formatted traceback without the exceptions the last one was raised from: their
    messages come from libraries (a browser's error names the address it failed on) and
    must not be stored beside the task. The worker's log keeps the whole chain."""
    ends = [traceback_text.rfind(separator) + len(separator) for separator in _CHAINED
            if separator in traceback_text]
    return traceback_text[max(ends):] if ends else traceback_text


def record_failed_attempt(sender, instance, update_fields=None, **kwargs) -> None:
    """pre_save receiver of the database backend's task row, when the worker records a failed
    attempt. The stored traceback keeps the last exception only. A BackgroundTask with
    attempts left that did not fail for good is saved as waiting for its next attempt instead,
    in the same write: no reader ever sees it failed in between; the failure's class and
    traceback are saved with it (its reason)."""
    if instance.status != TaskResultStatus.FAILED or (
            update_fields is not None and "status" not in update_fields):
        return
    whole_traceback = instance.traceback
    instance.traceback = last_exception_only(whole_traceback)
    try:
        task = instance.task
        attempts = len(instance.worker_ids)
        if (not isinstance(task, BackgroundTask) or attempts >= task.max_attempts
                or _is_permanent(instance.exception_class_path)):
            return
        run_after = timezone.now() + task.backoff(attempts)
        # The worker's save names the fields it writes, and run_after is not one of them.
        type(instance).objects.filter(pk=instance.pk).update(run_after=run_after)
        instance.run_after = run_after
        instance.status = TaskResultStatus.READY
        instance.finished_at = None
        logger.warning("Task id=%s path=%s attempt %d of %d failed, next at %s:\n%s",
                       instance.pk, instance.task_path, attempts, task.max_attempts,
                       run_after.isoformat(), whole_traceback)
    except Exception:
        # A receiver that raises would stop the worker; the task then stays failed, with the
        # reason it failed, which is the right thing to show.
        logger.exception("Task id=%s could not be queued for another attempt", instance.pk)


def reclaim_abandoned(older_than: timedelta | None = None) -> int:
    """Puts back in the queue (or fails, once out of attempts) every task of the database
    backend that has been running longer than `older_than`. Returns how many it reclaimed.
    Safe beside other workers doing the same: each task is reclaimed once."""
    from django_tasks_db.models import DBTaskResult

    if older_than is None:
        older_than = timedelta(seconds=settings.BACKGROUND_ABANDONED_AFTER_SECONDS)
    now = timezone.now()
    reason = "".join(traceback.format_exception_only(WorkerLost(
        "The worker running this task stopped before it finished.")))
    failure = {"exception_class_path": f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
               "traceback": reason}
    reclaimed = 0
    for row in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING,
                                           started_at__lt=now - older_than):
        try:
            task = row.task
        except Exception:  # its code is gone: nothing could run it again
            task = None
        retry = (isinstance(task, BackgroundTask)
                 and len(row.worker_ids) < task.max_attempts)
        if retry:
            change = {"status": TaskResultStatus.READY, "finished_at": None,
                      "run_after": now + task.backoff(len(row.worker_ids))}
        else:
            change = {"status": TaskResultStatus.FAILED, "finished_at": now}
        # Only if it is still the same run: another worker may have reclaimed it already.
        reclaimed += DBTaskResult.objects.filter(
            pk=row.pk, status=TaskResultStatus.RUNNING, started_at=row.started_at,
        ).update(**change, **failure)
    if reclaimed:
        logger.warning("Reclaimed %d task(s) whose worker stopped before they finished",
                       reclaimed)
    return reclaimed
