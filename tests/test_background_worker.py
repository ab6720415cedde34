"""Background tasks run by a real `manage.py worker` process against the test database, on
whichever database the suite runs on (CI runs both, PostgreSQL and SQLite)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from background import Status, enqueue, state, states
from background.framework import TaskResultStatus

from . import background_tasks as tasks
from .background_worker import (
    database_for_a_second_process,
    start_worker,
    stop_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def log_dir(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


@pytest.fixture
def database_url(transactional_db, tmp_path):
    with database_for_a_second_process(tmp_path) as url:
        yield url


@pytest.fixture
def worker(database_url, log_dir):
    """worker(*options, environment=None) starts one more worker; all stop after the test."""
    started = []

    def start(*options, environment=None):
        started.append(start_worker(database_url, log_dir, *options, environment=environment))
        return started[-1]

    yield start
    for process in started:
        stop_worker(process)


def finished(task_id):
    def check():
        """the task finished"""
        found = state(task_id)
        return found if found and found.is_finished else None
    return check


def ready_worker(worker):
    """A worker that has run a first task, so what a test times next is not its start-up."""
    process = worker()
    assert wait_for(finished(enqueue(tasks.add, 1, 1))).status == Status.SUCCEEDED
    return process


def test_worker_runs_a_queued_task_and_keeps_its_result(worker):
    task_id = enqueue(tasks.add, 2, 3)
    assert state(task_id).status == Status.QUEUED

    worker()
    done = wait_for(finished(task_id))

    assert done.status == Status.SUCCEEDED
    assert done.return_value == 5
    assert (done.attempts, done.max_attempts, done.reason) == (1, 1, "")
    assert done.task_name == "add"
    assert done.started_at <= done.finished_at
    # The worker names itself host:pid:random, so a result says which machine ran it.
    [worker_id] = DBTaskResult.objects.get(pk=task_id).worker_ids
    assert worker_id.count(":") == 2


def test_failing_task_is_retried_with_backoff_then_failed_with_its_reason(worker, log_dir):
    task_id = enqueue(tasks.always_fails, "fails")
    worker()

    # Between attempts a page sees it waiting, with the reason of the attempt that failed.
    waiting = wait_for(lambda: (s := state(task_id)).status == Status.RETRYING and s)
    assert waiting.reason == "RuntimeError: the source site answered 503 (attempt 1)"
    assert waiting.run_after > waiting.started_at
    assert waiting.status_label == "failed, will retry"

    failed = wait_for(finished(task_id))
    assert failed.status == Status.FAILED
    assert (failed.attempts, failed.max_attempts) == (3, 3)
    assert failed.reason == "RuntimeError: the source site answered 503 (attempt 3)"
    attempts = [when for when, _ in tasks.read_log(log_dir, "fails")]
    assert len(attempts) == 3
    # backoff_seconds=0.5, doubled after each failure: 0.5 s, then 1 s.
    assert attempts[1] - attempts[0] >= 0.5
    assert attempts[2] - attempts[1] >= 1.0
    row = DBTaskResult.objects.get(pk=task_id)
    assert row.status == TaskResultStatus.FAILED
    assert row.exception_class_path == "builtins.RuntimeError"


def test_task_that_fails_once_succeeds_on_its_next_attempt(worker, log_dir):
    task_id = enqueue(tasks.fails_once, "flaky")
    worker()

    done = wait_for(finished(task_id))

    assert done.status == Status.SUCCEEDED
    assert done.return_value == {"attempts": 2}
    assert done.attempts == 2
    assert done.reason == ""  # the earlier failure no longer describes the task
    assert len(tasks.read_log(log_dir, "flaky")) == 2


def test_permanent_failure_is_failed_at_once_with_its_reason(worker, log_dir):
    task_id = enqueue(tasks.refuses, "refused")
    worker()

    failed = wait_for(finished(task_id))

    assert failed.status == Status.FAILED
    assert (failed.attempts, failed.max_attempts) == (1, 5)
    assert failed.reason == "PermanentFailure: citation 7 no longer exists"
    assert len(tasks.read_log(log_dir, "refused")) == 1


def test_result_that_is_not_made_of_ids_fails_the_task_and_is_not_stored(worker):
    task_id = enqueue(tasks.returns_text, "text")
    worker()

    failed = wait_for(finished(task_id))

    assert failed.status == Status.FAILED
    assert failed.attempts == 1
    assert failed.reason.startswith("PermanentFailure: The task returned a str that is not")
    row = DBTaskResult.objects.get(pk=task_id)
    assert row.return_value is None
    assert "a sentence a user wrote" not in row.traceback


def test_delayed_task_waits_for_its_time(worker, log_dir):
    ready_worker(worker)
    before = timezone.now()
    task_id = enqueue(tasks.record_run, "delayed", delay=timedelta(seconds=1.5))
    queued = state(task_id)
    assert queued.status == Status.QUEUED
    assert queued.run_after >= before + timedelta(seconds=1.5)

    wait_for(lambda: timezone.now() >= before + timedelta(seconds=1))
    assert state(task_id).status == Status.QUEUED
    assert tasks.read_log(log_dir, "delayed") == []

    done = wait_for(finished(task_id))
    assert done.status == Status.SUCCEEDED
    assert done.started_at >= before + timedelta(seconds=1.5)


def test_higher_priority_runs_first(worker, log_dir):
    enqueue(tasks.record_run, "order", "low", priority=-10)
    enqueue(tasks.record_run, "order", "default")
    last = enqueue(tasks.record_run, "order", "high", priority=50)

    worker()
    wait_for(lambda: len(tasks.read_log(log_dir, "order")) == 3)

    assert [label for _, label in tasks.read_log(log_dir, "order")] == ["high", "default", "low"]
    assert state(last).status == Status.SUCCEEDED


def test_two_workers_share_the_queue_and_run_each_task_once(worker, log_dir):
    worker()
    worker()
    wait_for(lambda: (log_dir / "worker-output.txt").read_text().count("Starting worker") == 2)
    ids = [enqueue(tasks.record_run, "shared", f"task-{n}") for n in range(12)]

    wait_for(lambda: all(s.is_finished for s in states(ids).values()))

    labels = [label for _, label in tasks.read_log(log_dir, "shared")]
    assert sorted(labels) == sorted(f"task-{n}" for n in range(12))
    assert {s.attempts for s in states(ids).values()} == {1}


def test_worker_reclaims_a_task_whose_worker_died(worker, log_dir):
    long_ago = timezone.now() - timedelta(hours=2)
    retried = enqueue(tasks.record_run, "reclaimed", "again")
    out_of_attempts = enqueue(tasks.record_run, "reclaimed", "never")
    # Both were being run by a worker that has since been killed: one had attempts left.
    DBTaskResult.objects.filter(pk=retried).update(
        status=TaskResultStatus.RUNNING, started_at=long_ago, worker_ids=["gone:1:x"])
    DBTaskResult.objects.filter(pk=out_of_attempts).update(
        status=TaskResultStatus.RUNNING, started_at=long_ago,
        worker_ids=["gone:1:x", "gone:2:y"])

    worker()

    done = wait_for(finished(retried))
    assert (done.status, done.attempts, done.return_value) == (Status.SUCCEEDED, 2, "again")
    lost = wait_for(finished(out_of_attempts))
    assert lost.status == Status.FAILED
    assert lost.reason == "WorkerLost: The worker running this task stopped before it finished."
    assert [label for _, label in tasks.read_log(log_dir, "reclaimed")] == ["again"]


def test_a_running_task_is_not_reclaimed_before_its_time(worker, log_dir):
    task_id = enqueue(tasks.record_run, "running", "x")
    DBTaskResult.objects.filter(pk=task_id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now(), worker_ids=["busy:1:x"])

    ready_worker(worker)

    assert state(task_id).status == Status.RUNNING
    assert tasks.read_log(log_dir, "running") == []
