"""Captures as background tasks (capture/tasks.py): what saving a citation queues, what the
task table holds (ids only), and a real `manage.py worker` process making a queued capture
(tests/background_worker.py), on whichever database the suite runs on."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from background import Status, state
from capture import errors
from capture.models import Capture
from capture.tasks import CaptureFailed, CaptureRefused, capture_citation, capture_saved_citation
from cases.enums import Role
from cases.models import CustodyEntry, Evidence, Membership

from .background_worker import database_for_a_second_process, start_worker, stop_worker, wait_for
from .capture_helpers import CHROMIUM
from .factories import CitationFactory, ClaimFactory, SourceFactory

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("live_capture_settings")


@pytest.fixture
def citation(case, pages):
    return CitationFactory(claim=ClaimFactory(case=case),
                           source=SourceFactory(case=case, name="Rostov Gazette"),
                           url=pages.url("/article.html"))


def _task_row(task_id) -> DBTaskResult:
    return DBTaskResult.objects.get(pk=task_id)


def test_saved_citation_queues_capture_by_id_only(citation, reporter):
    capture = capture_saved_citation(citation, reporter)
    assert capture.status == Capture.Status.QUEUED
    assert capture.trigger == Capture.Trigger.CITATION_SAVED
    assert state(capture.task_id).status == Status.QUEUED
    row = _task_row(capture.task_id)
    assert row.args_kwargs == {"args": [capture.pk], "kwargs": {}}
    assert row.task_path == "capture.tasks.capture_citation"
    assert citation.url not in json.dumps(row.args_kwargs)
    # Saving it again, unchanged, queues nothing more.
    assert capture_saved_citation(citation, reporter) is None
    assert Capture.objects.count() == DBTaskResult.objects.count() == 1


def test_saved_citation_of_protected_source_is_not_captured(case, make_member, pages):
    handler = make_member(Role.REPORTER, username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    citation = CitationFactory(claim=ClaimFactory(case=case),
                               source=SourceFactory(case=case, protected=True),
                               url=pages.url("/article.html"))
    assert capture_saved_citation(citation, handler) is None
    assert not Capture.objects.exists() and not DBTaskResult.objects.exists()


def test_saved_citation_is_not_captured_when_switched_off(citation, reporter, settings):
    settings.CAPTURE_ON_SAVE = False
    assert capture_saved_citation(citation, reporter) is None
    assert not DBTaskResult.objects.exists()


def test_refused_capture_fails_task_for_good(case, reporter):
    citation = CitationFactory(claim=ClaimFactory(case=case), url="http://10.9.8.7/report")
    capture = capture_saved_citation(citation, reporter)
    with pytest.raises(CaptureRefused, match=errors.PRIVATE_ADDRESS) as failed:
        capture_citation.call(capture.pk)
    assert "10.9.8.7" not in str(failed.value)
    capture.refresh_from_db()
    assert (capture.status, capture.failure_code) == (Capture.Status.FAILED,
                                                      errors.PRIVATE_ADDRESS)


def test_transient_failure_is_raised_for_retry_without_its_cause(citation, reporter,
                                                                  settings):
    settings.CAPTURE_CHROMIUM = "/nonexistent/chromium"
    capture = capture_saved_citation(citation, reporter)
    with pytest.raises(CaptureFailed, match=errors.BROWSER_FAILED) as failed:
        capture_citation.call(capture.pk)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    capture.refresh_from_db()
    assert (capture.status, capture.failure_code) == (Capture.Status.FAILED,
                                                      errors.BROWSER_FAILED)


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"No Chromium at {CHROMIUM}: install Debian's chromium package.")
@pytest.mark.django_db(transaction=True)
def test_capture_command_queues_and_worker_captures(case, reporter, pages, tsa, settings,
                                                    tmp_path, capsys):
    citation = CitationFactory(claim=ClaimFactory(case=case),
                               source=SourceFactory(case=case, name="Rostov Gazette"),
                               url=pages.url("/article.html"))
    call_command("capture", str(citation.pk), "--user", "reporter")
    printed = json.loads(capsys.readouterr().out)
    capture = Capture.objects.get()
    assert printed == {"capture": capture.pk, "status": "queued", "task": capture.task_id}
    assert not Evidence.objects.exists()

    logs = tmp_path / "logs"
    logs.mkdir()
    evidence_root = settings.STORAGES["default"]["OPTIONS"]["location"]
    with database_for_a_second_process(tmp_path) as url:
        worker = start_worker(url, logs, environment={
            "CAPTURE_ALLOWED_HOSTS": "127.0.0.1", "CAPTURE_TSA_URL": tsa.url,
            "CAPTURE_TSA_CA_FILE": tsa.ca_file, "EVIDENCE_ROOT": str(evidence_root)})
        try:
            done = wait_for(lambda: (s := state(capture.task_id)) and s.is_finished and s,
                            timeout=120)
        finally:
            stop_worker(worker)
        assert done.status == Status.SUCCEEDED, (logs / "worker-output.txt").read_text()
        assert done.return_value == {"capture_id": capture.pk}
        [worker_id] = _task_row(capture.task_id).worker_ids
        capture.refresh_from_db()
        assert capture.status == Capture.Status.DONE
        assert capture.worker == worker_id
        assert capture.verified_at is not None
        evidence = list(Evidence.objects.filter(case=case))
        assert len(evidence) == 4
        for item in evidence:
            [collected] = item.custody.filter(action=CustodyEntry.Action.COLLECTED)
            assert f"by worker {worker_id}" in collected.note
            assert Path(item.file.path).is_relative_to(evidence_root)
        row = _task_row(capture.task_id)
        assert citation.url not in json.dumps([row.args_kwargs, row.return_value])
