"""A capture stored while no Time-Stamp Authority answered gets its timestamp later: the
capture task queues `timestamp_capture` (retried with backoff while the TSA is down), and
`manage.py timestamp_captures` timestamps every capture still without one; until then
`verify_evidence` reports it as not timestamped. The test TSA (tests/tsa.py) is taken down
(`failing`) and brought back up."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from capture import errors
from capture.domain import awaiting_timestamp, request_capture, timestamp_later
from capture.errors import TimestampError
from capture.models import Capture
from capture.tasks import (
    TIMESTAMP_FIRST_DELAY,
    TIMESTAMP_RETRY,
    TimestampPending,
    capture_citation,
    timestamp_capture,
)
from capture.timestamps import verify_token
from cases.models import CustodyEntry

from .capture_helpers import capture_result, files_of, needs_chromium
from .factories import CitationFactory, ClaimFactory, SourceFactory
from .tsa import TestTSA

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("stored_capture_settings")

DOWN = "No Time-Stamp Authority answered."


@pytest.fixture
def flaky_tsa(settings):
    """A TSA of this test alone, configured, that the test takes down and brings back."""
    with TestTSA("Flaky test TSA") as authority:
        settings.CAPTURE_TSA_URL = [authority.url]
        settings.CAPTURE_TSA_CA_FILE = authority.ca_file
        yield authority


@pytest.fixture
def citation(case):
    return CitationFactory(claim=ClaimFactory(case=case),
                           source=SourceFactory(case=case, name="Rostov Gazette"),
                           url="https://161.ru/text/incidents/2025/05/13/dam.html")


@pytest.fixture
def unstamped(citation, reporter, tmp_path):
    """A done capture kept without a timestamp: the TSA was down when it was stored."""
    from capture.domain import store_capture

    result = capture_result(tmp_path, citation.url)
    result.timestamp_error = DOWN
    return store_capture(citation.pk, reporter.pk, result)


def _verify(capsys) -> str:
    call_command("verify_evidence")
    return capsys.readouterr().out


def test_capture_without_timestamp_waits_while_the_tsa_is_down(unstamped, flaky_tsa, capsys):
    flaky_tsa.failing = True
    with pytest.raises(TimestampError) as down:
        timestamp_later(unstamped.pk)
    assert down.value.code == errors.TSA_UNAVAILABLE
    unstamped.refresh_from_db()
    assert unstamped.timestamp_token is None and unstamped.verified_at is None
    # Why it is still without one is kept for the pages and verify_evidence.
    assert "no usable answer (HTTPError)" in unstamped.timestamp_error
    assert list(awaiting_timestamp()) == [unstamped]
    out = _verify(capsys)
    assert f"NOTE [not_timestamped] capture {unstamped.pk}" in out
    assert "0 timestamps verified; 0 mismatches" in out
    assert not files_of(unstamped)["manifest"].custody.filter(
        action=CustodyEntry.Action.HASH_VERIFIED).exists()


def test_capture_without_timestamp_is_timestamped_once_the_tsa_is_back(unstamped, flaky_tsa,
                                                                        reporter, capsys):
    flaky_tsa.failing = True
    with pytest.raises(TimestampError):
        timestamp_later(unstamped.pk)
    flaky_tsa.failing = False

    capture = timestamp_later(unstamped.pk)

    assert capture.tsa_url == flaky_tsa.url and capture.timestamp_error == ""
    assert capture.verified_at is not None
    assert verify_token(bytes(capture.timestamp_token), capture.manifest_sha256,
                        capture.tsa_chain_pem) == capture.timestamped_at
    # It certifies when it was obtained, after the capture, and the custody log says so.
    assert capture.timestamped_at > capture.captured_at
    [entry] = files_of(capture)["manifest"].custody.filter(
        action=CustodyEntry.Action.HASH_VERIFIED)
    assert entry.actor == reporter
    assert capture.manifest_sha256 in entry.note and flaky_tsa.url in entry.note
    assert "Obtained after the capture of 2025-05-13 14:02:09 UTC" in entry.note
    out = _verify(capsys)
    assert "not_timestamped" not in out
    assert "1 timestamps verified; 0 mismatches" in out
    # Again: nothing more is asked or logged.
    requests = flaky_tsa.requests
    assert timestamp_later(capture.pk).timestamp_token == capture.timestamp_token
    assert flaky_tsa.requests == requests
    assert files_of(capture)["manifest"].custody.count() == 2  # collected, timestamp verified


def test_timestamp_captures_command_fails_while_down_and_stamps_when_up(unstamped, flaky_tsa,
                                                                        capsys):
    flaky_tsa.failing = True
    with pytest.raises(CommandError, match="0 captures timestamped; 1 still without one") as failed:
        call_command("timestamp_captures")
    assert failed.value.returncode == 1
    assert f"capture {unstamped.pk}: still without a timestamp [tsa_unavailable]" in \
        capsys.readouterr().err

    flaky_tsa.failing = False
    call_command("timestamp_captures", unstamped.case.slug)

    out = capsys.readouterr().out
    assert f"capture {unstamped.pk}: timestamped by {flaky_tsa.url}" in out
    assert "1 capture timestamped; 0 still without one." in out
    assert not awaiting_timestamp().exists()


def test_timestamp_captures_command_needs_a_tsa(unstamped, settings):
    settings.CAPTURE_TSA_URL = []
    with pytest.raises(CommandError, match="CAPTURE_TSA_URL"):
        call_command("timestamp_captures")


def test_timestamp_captures_command_refuses_unknown_case(unstamped, flaky_tsa):
    with pytest.raises(CommandError, match="No case"):
        call_command("timestamp_captures", "no-such-case")


def test_timestamp_task_is_retried_while_down_and_stamps_when_up(unstamped, flaky_tsa):
    flaky_tsa.failing = True
    # Not a PermanentFailure: the framework retries it with backoff.
    with pytest.raises(TimestampPending, match=errors.TSA_UNAVAILABLE):
        timestamp_capture.call(unstamped.pk)
    assert timestamp_capture.max_attempts == TIMESTAMP_RETRY["max_attempts"] > 1

    flaky_tsa.failing = False
    assert timestamp_capture.call(unstamped.pk) == {"capture_id": unstamped.pk}
    unstamped.refresh_from_db()
    assert unstamped.timestamp_token and unstamped.verified_at


@needs_chromium
def test_capture_made_while_the_tsa_is_down_queues_its_timestamp(case, reporter, pages,
                                                                 flaky_tsa, settings):
    settings.CAPTURE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CAPTURE_CHROMIUM = "/usr/bin/chromium"
    citation = CitationFactory(claim=ClaimFactory(case=case), source=SourceFactory(case=case),
                               url=pages.url("/article.html"))
    flaky_tsa.failing = True
    capture = request_capture(citation, reporter)
    before = timezone.now()

    assert capture_citation.call(capture.pk) == {"capture_id": capture.pk}

    capture.refresh_from_db()
    assert capture.status == Capture.Status.DONE and capture.timestamp_token is None
    assert "no usable answer (HTTPError)" in capture.timestamp_error
    [row] = DBTaskResult.objects.filter(task_path="capture.tasks.timestamp_capture")
    assert json.loads(json.dumps(row.args_kwargs)) == {"args": [capture.pk], "kwargs": {}}
    assert row.run_after >= before + timedelta(seconds=TIMESTAMP_FIRST_DELAY)

    flaky_tsa.failing = False
    timestamp_capture.call(capture.pk)
    capture.refresh_from_db()
    assert capture.verified_at is not None and capture.timestamp_error == ""
