"""Defining and queueing background tasks: how application code runs work outside a request.

    from background import enqueue, task

    @task(max_attempts=5, backoff_seconds=30)
    def capture_citation(citation_id: int, requested_by_id: int) -> dict: ...

    task_id = enqueue(capture_citation, citation.pk, request.user.pk, priority=10)

Arguments are ids, nothing else: whole numbers, booleans, None, UUIDs and short ASCII strings
without spaces (a slug, a key). What a task is given and what it returns is stored in the
database in clear until the result is pruned, so a task never carries a protected identity, a
name or any text a user wrote: it is given the ids of the records and of the user who asked,
and reads them inside the task with that user's rights. Anything else is refused when it is
queued (ArgumentRefused), and a return value that is not made of ids fails the task. The
message of an exception a task raises is stored too (it is the reason a page shows): it names
records by id, never by what they hold. The exceptions it was raised from are not stored
(background/retries.py): a library's message may name what it failed on.

A task is run at least once, not exactly once: a failed attempt is retried after a backoff,
and a task whose worker died is run again (background/retries.py). Every task is therefore
idempotent: running it twice leaves what running it once leaves.

With the database backend the task is written in the caller's transaction: it is queued when
that transaction commits and vanishes if it rolls back, so a worker never starts on a record
that is not saved yet.
"""

import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string

from .framework import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, Task

# A slug, a UUID, a short key: no space, nothing outside ASCII, so no name or sentence fits.
_ID_TEXT = re.compile(r"[A-Za-z0-9_.:-]{0,100}\Z")
_BIGINT = 2**63


class ArgumentRefused(ValueError):
    """A task was given something that is not an id. The message names the argument and its
    type, never its value: the value may be exactly what must not be stored."""

    code = "task_argument_not_an_id"


class PermanentFailure(Exception):
    """Raised by a task when another attempt cannot succeed (the record is gone, the input is
    refused): the task is marked failed at once, with this message as its reason."""


def is_id(value) -> bool:
    if value is None or isinstance(value, bool | uuid.UUID):
        return True
    if isinstance(value, int):
        return -_BIGINT <= value < _BIGINT
    return isinstance(value, str) and bool(_ID_TEXT.match(value))


def _as_stored(value):
    return str(value) if isinstance(value, uuid.UUID) else value


def checked_arguments(args, kwargs) -> tuple[tuple, dict]:
    """The arguments as they will be stored (UUIDs as text), or ArgumentRefused."""
    for position, value in enumerate(args, start=1):
        if not is_id(value):
            raise ArgumentRefused(f"Argument {position} ({type(value).__name__}) is not an id: "
                                  "a task is given ids and reads the records itself.")
    for name, value in kwargs.items():
        if not is_id(value):
            raise ArgumentRefused(f"Argument {name!r} ({type(value).__name__}) is not an id: "
                                  "a task is given ids and reads the records itself.")
    return (tuple(_as_stored(v) for v in args),
            {name: _as_stored(v) for name, v in kwargs.items()})


def checked_result(value):
    """What a task may return, to be stored: None, an id, a list of ids, or a dict of ids by
    name (e.g. {"evidence_id": 12}). Anything else fails the attempt, for good."""
    if isinstance(value, list | tuple) and all(is_id(v) for v in value):
        return [_as_stored(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) and _ID_TEXT.match(k) and is_id(v)
                                       for k, v in value.items()):
        return {k: _as_stored(v) for k, v in value.items()}
    if is_id(value):
        return _as_stored(value)
    raise PermanentFailure(f"The task returned a {type(value).__name__} that is not made of "
                           "ids; its result is stored in clear, so ids only.")


@dataclass(frozen=True, kw_only=True)
class BackgroundTask(Task):
    """A task of Django's Tasks framework with our rules: ids in and out, and a retry policy
    (background/retries.py applies it when an attempt fails)."""

    max_attempts: int = 5
    """How many times the task is run before it is marked failed."""

    backoff_seconds: float = 30.0
    """The wait after the first failed attempt; it doubles after each further one..."""

    max_backoff_seconds: float = 60 * 60
    """...up to this."""

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1.")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < self.backoff_seconds:
            raise ValueError("Backoff must be 0 or more, and max_backoff_seconds no less.")
        super().__post_init__()

    def backoff(self, failed_attempts: int) -> timedelta:
        """How long to wait before the next attempt once `failed_attempts` have failed."""
        seconds = self.backoff_seconds * 2 ** max(failed_attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.max_backoff_seconds))

    def enqueue(self, *args, **kwargs):
        args, kwargs = checked_arguments(args, kwargs)
        return super().enqueue(*args, **kwargs)

    async def aenqueue(self, *args, **kwargs):
        args, kwargs = checked_arguments(args, kwargs)
        return await super().aenqueue(*args, **kwargs)

    def call(self, *args, **kwargs):
        return checked_result(super().call(*args, **kwargs))

    async def acall(self, *args, **kwargs):
        return checked_result(await super().acall(*args, **kwargs))


def task(function=None, *, priority: int = 0, queue_name: str = DEFAULT_TASK_QUEUE_NAME,
         backend: str = DEFAULT_TASK_BACKEND_ALIAS, max_attempts: int = 5,
         backoff_seconds: float = 30.0, max_backoff_seconds: float = 60 * 60):
    """Makes a module-level function a background task: `@task` or `@task(max_attempts=3)`.

    priority: -100 to 100, higher runs first (the default for this task; enqueue() can
    override it). max_attempts, backoff_seconds, max_backoff_seconds: the retry policy.
    """

    def wrap(func) -> BackgroundTask:
        return BackgroundTask(func=func, priority=priority, queue_name=queue_name,
                              backend=backend, takes_context=False, run_after=None,
                              max_attempts=max_attempts, backoff_seconds=backoff_seconds,
                              max_backoff_seconds=max_backoff_seconds)

    return wrap(function) if function is not None else wrap


def enqueue(task_or_path, /, *args, delay: timedelta | float | None = None,
            priority: int | None = None, **kwargs) -> str:
    """Queues a task with these arguments (ids only) and returns its id, for state().

    task_or_path: a task made with @task, or its dotted path ("cases.capture.capture_page").
    delay: run no earlier than this long from now (a timedelta or seconds).
    priority: -100 to 100, higher first; the task's own by default.
    `delay` and `priority` are therefore never the names of a task's own arguments.
    """
    queued = import_string(task_or_path) if isinstance(task_or_path, str) else task_or_path
    if not isinstance(queued, BackgroundTask):
        raise TypeError(f"{task_or_path!r} is not a task made with background.task.")
    run_after = None
    if delay is not None:
        if not isinstance(delay, timedelta):
            delay = timedelta(seconds=delay)
        run_after = timezone.now() + delay
    return queued.using(priority=priority, run_after=run_after).enqueue(*args, **kwargs).id


_worker_id = ""


def worker_id() -> str:
    """The name of this worker process, as the task's result records it (e.g. for a custody
    entry: which worker did it). Outside a worker: this host and process."""
    return _worker_id or f"{socket.gethostname()[:40]}:{os.getpid()}"


def new_worker_id() -> str:
    """host:pid:random, at most 64 characters (the backend's limit), unique across machines."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{get_random_string(8)}"


def set_worker_id(value: str) -> None:
    global _worker_id
    _worker_id = value
