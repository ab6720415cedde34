"""background/: what application code calls (enqueue, state), its guard on arguments and
results, and the retry policy, in process. tests/test_background_worker.py runs the same
through a real worker."""

import traceback
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks import task as framework_task
from django_tasks_db.models import DBTaskResult

from background import ArgumentRefused, PermanentFailure, Status, enqueue, state, states
from background.framework import TaskResultStatus
from background.retries import WorkerLost, reclaim_abandoned
from background.state import failure_reason
from background.tasks import BackgroundTask, checked_result
from background.tasks import task as background_task

from . import background_tasks as tasks

pytestmark = pytest.mark.django_db


@framework_task()
def not_ours():
    return None


def attempt_fails(task_id, exception, worker="w:1:a"):
    """One attempt as the worker makes it: claimed, run, recorded as failed."""
    row = DBTaskResult.objects.get(pk=task_id)
    row.claim(worker)
    try:
        raise exception
    except Exception as raised:
        row.set_failed(raised)
    return DBTaskResult.objects.get(pk=task_id)


# --- arguments: ids only ----------------------------------------------------------------------

@pytest.mark.parametrize("argument", [
    "Ivan Petrov", "Иван", "ivan@example.org", "x" * 101, 1.5, b"bytes", ["a", "b"], {"id": 1},
    2**63, object(),
], ids=["name", "cyrillic", "email", "long", "float", "bytes", "list", "dict", "too-big",
        "object"])
def test_task_given_something_other_than_an_id_is_refused_at_enqueue(argument):
    with pytest.raises(ArgumentRefused) as refused:
        enqueue(tasks.record_run, "log", argument)
    assert refused.value.code == "task_argument_not_an_id"
    assert "Argument 2" in str(refused.value)
    with pytest.raises(ArgumentRefused) as refused_by_name:
        tasks.record_run.enqueue("log", label=argument)  # the framework's own way in is guarded
    assert "Argument 'label'" in str(refused_by_name.value)
    assert not DBTaskResult.objects.exists()


def test_refusal_never_repeats_the_value_it_refused():
    with pytest.raises(ArgumentRefused) as refused:
        enqueue(tasks.record_run, "log", "Ivan Petrov, Rostov")
    assert "Ivan" not in str(refused.value)
    assert str(refused.value) == ("Argument 2 (str) is not an id: a task is given ids and reads "
                                  "the records itself.")


def test_ids_are_accepted_and_stored_as_given():
    key = uuid.uuid4()
    task_id = enqueue(tasks.add, 12, 2**62)
    other_id = enqueue(tasks.record_run, "rostov-training-ground-desertion",
                       label=str(key))
    third_id = enqueue("tests.background_tasks.record_run", key, label=None)

    assert DBTaskResult.objects.get(pk=task_id).args_kwargs == {"args": [12, 2**62],
                                                                 "kwargs": {}}
    assert DBTaskResult.objects.get(pk=other_id).args_kwargs == {
        "args": ["rostov-training-ground-desertion"], "kwargs": {"label": str(key)}}
    assert DBTaskResult.objects.get(pk=third_id).args_kwargs == {
        "args": [str(key)], "kwargs": {"label": None}}


def test_enqueue_takes_only_tasks_made_with_background_task():
    with pytest.raises(TypeError):
        enqueue(not_ours)
    with pytest.raises(TypeError):
        enqueue(tasks.log_attempt, "log")
    with pytest.raises(ImportError):
        enqueue("tests.background_tasks.no_such_task")
    assert not DBTaskResult.objects.exists()


@pytest.mark.parametrize("value, stored", [
    (None, None), (7, 7), ("ok", "ok"), ([1, 2], [1, 2]), ((1, "a"), [1, "a"]),
    ({"evidence_id": 4, "capture": "c-1"}, {"evidence_id": 4, "capture": "c-1"}),
])
def test_a_result_made_of_ids_is_stored(value, stored):
    assert checked_result(value) == stored


@pytest.mark.parametrize("value", [
    "a sentence", {"note": "free text here"}, {"nested": {"id": 1}}, [[1]], {"two words": 1},
    1.5,
])
def test_a_result_not_made_of_ids_fails_for_good(value):
    with pytest.raises(PermanentFailure):
        checked_result(value)


# --- queueing: delay, priority, the caller's transaction --------------------------------------

def test_enqueue_with_a_delay_and_a_priority():
    before = timezone.now()
    task_id = enqueue(tasks.record_run, "log", delay=90, priority=40)

    row = DBTaskResult.objects.get(pk=task_id)
    assert before + timedelta(seconds=90) <= row.run_after <= timezone.now() + timedelta(
        seconds=90)
    assert row.priority == 40
    assert state(task_id).run_after == row.run_after
    assert DBTaskResult.objects.get(pk=enqueue(tasks.record_run, "log")).priority == 0


def test_task_queued_in_a_transaction_that_rolls_back_is_not_queued():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(tasks.add, 1, 2)
        raise RuntimeError("the citation could not be saved")
    assert not DBTaskResult.objects.exists()


def test_a_task_definition_with_no_attempt_is_refused():
    with pytest.raises(ValueError):
        background_task(tasks.log_attempt, max_attempts=0)
    with pytest.raises(ValueError):
        background_task(tasks.log_attempt, backoff_seconds=10, max_backoff_seconds=5)


def test_backoff_doubles_up_to_its_cap():
    policy = BackgroundTask(func=tasks.log_attempt, backoff_seconds=30,
                            max_backoff_seconds=100)
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


# --- retries, as the worker records a failed attempt --------------------------------------------

def test_failed_attempt_with_attempts_left_waits_for_its_next_with_the_reason():
    task_id = enqueue(tasks.always_fails, "log")
    before = timezone.now()

    row = attempt_fails(task_id, RuntimeError("the source site answered 503"))

    assert row.status == TaskResultStatus.READY
    assert row.finished_at is None
    assert before + timedelta(seconds=0.5) <= row.run_after <= timezone.now() + timedelta(
        seconds=0.5)
    waiting = state(task_id)
    assert (waiting.status, waiting.attempts, waiting.max_attempts) == (Status.RETRYING, 1, 3)
    assert waiting.reason == "RuntimeError: the source site answered 503"
    assert not waiting.is_finished


def test_last_attempt_fails_the_task_with_its_reason():
    task_id = enqueue(tasks.always_fails, "log")
    for attempt in (1, 2, 3):
        row = attempt_fails(task_id, RuntimeError(f"answered 503 ({attempt})"), f"w:{attempt}:a")

    assert row.status == TaskResultStatus.FAILED
    failed = state(task_id)
    assert (failed.status, failed.attempts) == (Status.FAILED, 3)
    assert failed.reason == "RuntimeError: answered 503 (3)"
    assert failed.finished_at is not None and failed.is_finished


def test_permanent_failure_is_not_retried():
    task_id = enqueue(tasks.refuses, "log")

    row = attempt_fails(task_id, PermanentFailure("citation 7 no longer exists"))

    assert row.status == TaskResultStatus.FAILED
    assert state(task_id).reason == "PermanentFailure: citation 7 no longer exists"


def test_stored_traceback_keeps_only_the_exception_the_task_raised():
    task_id = enqueue(tasks.refuses, "log")
    row = DBTaskResult.objects.get(pk=task_id)
    row.claim("w:1:a")
    try:
        try:
            raise OSError("net::ERR_CONNECTION_REFUSED at https://source.example/leak")
        except OSError as library_error:
            raise PermanentFailure("[connection] the site did not answer") from library_error
    except PermanentFailure as raised:
        row.set_failed(raised)

    stored = DBTaskResult.objects.get(pk=task_id).traceback
    assert "source.example" not in stored and "ERR_CONNECTION_REFUSED" not in stored
    assert stored.startswith("Traceback (most recent call last):")
    assert state(task_id).reason == "PermanentFailure: [connection] the site did not answer"


def test_reclaim_puts_back_only_what_ran_too_long():
    long_ago = timezone.now() - timedelta(hours=2)
    abandoned, recent = enqueue(tasks.record_run, "log"), enqueue(tasks.record_run, "log")
    DBTaskResult.objects.filter(pk=abandoned).update(status=TaskResultStatus.RUNNING,
                                                     started_at=long_ago, worker_ids=["a"])
    DBTaskResult.objects.filter(pk=recent).update(status=TaskResultStatus.RUNNING,
                                                  started_at=timezone.now(), worker_ids=["b"])

    assert reclaim_abandoned(timedelta(hours=1)) == 1
    assert reclaim_abandoned(timedelta(hours=1)) == 0  # once

    reclaimed = state(abandoned)
    assert (reclaimed.status, reclaimed.attempts) == (Status.RETRYING, 1)
    assert reclaimed.reason.startswith("WorkerLost: ")
    assert state(recent).status == Status.RUNNING


# --- state, for pages ---------------------------------------------------------------------------

def test_state_of_an_unknown_task_is_none():
    assert state(uuid.uuid4()) is None
    assert state("not-a-task-id") is None
    assert states(["not-a-task-id", str(uuid.uuid4())]) == {}


def test_states_of_many_tasks_take_one_query(django_assert_num_queries):
    ids = [enqueue(tasks.record_run, "log", f"t{n}") for n in range(5)]
    with django_assert_num_queries(1):
        found = states(ids)
    assert set(found) == set(ids)
    assert {s.status for s in found.values()} == {Status.QUEUED}
    assert found[ids[0]].status_label == "queued"


def raised(exception):
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise exception from inner
    except Exception as outer:
        return "".join(traceback.format_exception(outer))


@pytest.mark.parametrize("text, reason", [
    (raised(PermanentFailure("gone: 404")), "PermanentFailure: gone: 404"),
    (raised(TimeoutError("Timeout 30000ms exceeded.\nCall log:\n  - navigating to x")),
     "TimeoutError: Timeout 30000ms exceeded."),
    (raised(RuntimeError()), "RuntimeError"),
    ("".join(traceback.format_exception_only(WorkerLost("stopped."))), "WorkerLost: stopped."),
    (raised(ValueError("x" * 500)), "ValueError: " + "x" * 287 + "…"),
])
def test_failure_reason_is_the_exception_line_without_module_or_frames(text, reason):
    assert failure_reason(text) == reason
