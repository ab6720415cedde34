"""What a page shows of a task: where it stands, how many attempts it took, why it failed.

    state(task_id)  ->  TaskState | None (None: no such task, or its result was pruned)
    states(ids)     ->  {task_id: TaskState}, in one query on the database backend
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .framework import (
    DEFAULT_TASK_BACKEND_ALIAS,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_backends,
)
from .tasks import BackgroundTask

REASON_MAX_CHARS = 300


class Status(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    RETRYING = "retrying", _("failed, will retry")
    FAILED = "failed", _("failed")
    SUCCEEDED = "succeeded", _("done")


@dataclass(frozen=True)
class TaskState:
    id: str
    task_name: str
    status: Status
    attempts: int
    """Attempts started so far (the running one included)."""
    max_attempts: int
    enqueued_at: datetime | None
    started_at: datetime | None
    """When the last attempt started."""
    finished_at: datetime | None
    run_after: datetime | None
    """Not before this (a delay, or the next attempt after a failure); None: when a worker is
    free."""
    reason: str
    """Why the last attempt failed, one line ("TimeoutError: ..."); "" if none failed or the
    task has since succeeded."""
    return_value: Any

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def is_finished(self) -> bool:
        return self.status in (Status.FAILED, Status.SUCCEEDED)


def failure_reason(traceback_text: str) -> str:
    """The first line of the exception in a formatted traceback, its class named without its
    module: "TimeoutError: the page did not load". The frames (paths, code) are for the logs."""
    lines = traceback_text.rstrip().splitlines()
    start = max((i for i, line in enumerate(lines) if line.startswith('  File "')), default=-1)
    start += 1
    while start < len(lines) and lines[start][:1].isspace():  # the frame's code and carets
        start += 1
    text = lines[start].strip() if start < len(lines) else ""
    head, colon, message = text.partition(":")
    if colon and " " not in head:
        text = f"{head.rsplit('.', 1)[-1]}:{message}"
    return text if len(text) <= REASON_MAX_CHARS else text[:REASON_MAX_CHARS - 1] + "…"


def _from_result(result: TaskResult) -> TaskState:
    task = result.task
    status = {
        TaskResultStatus.RUNNING: Status.RUNNING,
        TaskResultStatus.FAILED: Status.FAILED,
        TaskResultStatus.SUCCESSFUL: Status.SUCCEEDED,
    }.get(result.status, Status.RETRYING if result.attempts else Status.QUEUED)
    if result.errors:
        traceback_text = result.errors[-1].traceback
    else:  # the database backend keeps the last failure on a task waiting to retry
        traceback_text = getattr(getattr(result, "db_result", None), "traceback", "")
    return TaskState(
        id=result.id, task_name=task.name, status=status, attempts=result.attempts,
        max_attempts=task.max_attempts if isinstance(task, BackgroundTask) else 1,
        enqueued_at=result.enqueued_at, started_at=result.started_at,
        finished_at=result.finished_at, run_after=task.run_after,
        reason=failure_reason(traceback_text) if traceback_text else "",
        return_value=result.return_value if status == Status.SUCCEEDED else None,
    )


def state(task_id, *, backend: str = DEFAULT_TASK_BACKEND_ALIAS) -> TaskState | None:
    try:
        return _from_result(task_backends[backend].get_result(str(task_id)))
    except (TaskResultDoesNotExist, ImportError, SuspiciousOperation):
        # No such task, or its code is gone (renamed since it was queued).
        return None


def states(task_ids, *, backend: str = DEFAULT_TASK_BACKEND_ALIAS) -> dict[str, TaskState]:
    """The states of these tasks by id (those that exist), for a page that lists many."""
    from django_tasks_db import DatabaseBackend

    ids = [str(task_id) for task_id in task_ids]
    if not isinstance(task_backends[backend], DatabaseBackend):
        found = {task_id: state(task_id, backend=backend) for task_id in ids}
        return {task_id: found_state for task_id, found_state in found.items() if found_state}
    from django_tasks_db.models import DBTaskResult

    id_field, valid_ids = DBTaskResult._meta.pk, []
    for task_id in ids:
        try:
            valid_ids.append(id_field.to_python(task_id))
        except ValidationError:  # not an id of this backend: no such task
            continue
    found = {}
    for row in DBTaskResult.objects.filter(pk__in=valid_ids, backend_name=backend):
        try:
            task_state = _from_result(row.task_result)
        except (ImportError, SuspiciousOperation):
            continue
        found[task_state.id] = task_state
    return found
