"""Where Django's Tasks framework comes from: the `django_tasks` backport on Django 5.2.

On Django 6 these names come from `django.tasks` (`django.tasks.base` for Task,
TaskResult and TaskResultStatus, `django.tasks.exceptions` for TaskResultDoesNotExist): this
module is the one import to change, then drop "django_tasks" from INSTALLED_APPS.
django_tasks_db, the database backend, serves both.
"""

from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, task_backends
from django_tasks.base import Task, TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist

__all__ = [
    "DEFAULT_TASK_BACKEND_ALIAS",
    "DEFAULT_TASK_QUEUE_NAME",
    "Task",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "task_backends",
]
