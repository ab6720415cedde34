"""Background work: the one module application code calls to run something outside a request.

    @task(max_attempts=5, backoff_seconds=30)     define (module level)
    enqueue(task, *ids, delay=…, priority=…)      queue; returns the task's id
    state(task_id), states(task_ids)              what a page shows: status, attempts, reason

Built on Django's Tasks framework with the backend settings.TASKS names (the database queue of
django_tasks_db, run by `manage.py worker`). Its rules (ids only, idempotent tasks, retries)
are in background/tasks.py and background/retries.py; docs/architecture.md says why.
"""

from .state import Status, TaskState, state, states
from .tasks import ArgumentRefused, PermanentFailure, enqueue, task, worker_id

__all__ = [
    "ArgumentRefused",
    "PermanentFailure",
    "Status",
    "TaskState",
    "enqueue",
    "state",
    "states",
    "task",
    "worker_id",
]
