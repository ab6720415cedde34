"""Captures in the workspace: what saving a citation queues (the claim form, the back office,
the API: one capture per save, after the save commits), "Capture now" on the claim page and
the citation's page, the captures a claim page shows (thumbnail, time, hash, timestamp,
downloads, the task's state), what a protected source's capture shows to whom, and each
evidence file's page with its chain of custody.

A capture here is stored as the capture task stores one (capture.domain.store_capture), from
files made by the test and a timestamp of a real TSA on 127.0.0.1 (tests/tsa.py): the
browser itself is tested in tests/test_capture.py."""

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image
from rest_framework.test import APIClient

from background.framework import TaskResultStatus
from capture import errors
from capture.domain import request_capture
from capture.models import Capture
from capture.tasks import queue_capture
from cases.models import Citation, CustodyEntry, Evidence

from .capture_helpers import (
    ADDRESS,
    CAPTURED_AT,
    TITLE,
    files_of,
    stored_capture,
)
from .factories import (
    CitationFactory,
    ClaimFactory,
    EvidenceFactory,
    SourceFactory,
    api_key_for,
)
from .test_forms import fill, read_form

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("stored_capture_settings")


@pytest.fixture
def claim(case):
    return ClaimFactory(case=case, statement="Ten recruits deserted from the training ground.")


@pytest.fixture
def citation(case, claim):
    return CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"),
                           url=ADDRESS)


@pytest.fixture
def protected_citation(case, claim):
    return CitationFactory(claim=claim, url="https://t.me/insider_channel/4411",
                           source=SourceFactory(case=case, name="Insider", protected=True))


def claim_url(claim):
    return reverse("cases:claim_detail", args=[claim.case.slug, claim.pk])


def captures_url(citation):
    case = (citation.claim or citation.incident).case
    return reverse("cases:citation_captures", args=[case.slug, citation.pk])


def evidence_url(name, evidence, **params):
    url = reverse(f"cases:{name}", args=[evidence.case.slug, evidence.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def queued() -> list[tuple]:
    """Every capture and its task, as (citation, status, trigger, its task's path)."""
    tasks = dict(DBTaskResult.objects.values_list("id", "task_path"))
    return [(c.citation_id, c.status, c.trigger, tasks.get(_uuid(c.task_id)))
            for c in Capture.objects.order_by("pk")]


def _uuid(task_id):
    import uuid

    return uuid.UUID(task_id) if task_id else None


# --- saving a citation queues its capture, once, after the save commits -----------------------

def test_claim_form_save_queues_one_capture_per_citation_with_address(
        client, case, claim, reporter, django_capture_on_commit_callbacks):
    source = SourceFactory(case=case, name="161.ru")
    client.force_login(reporter)
    path = reverse("cases:claim_edit", args=[case.slug, claim.pk])
    data = read_form(client.get(path))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(path, fill(data, citations__0__source=str(source.pk),
                                          citations__0__relation="reports",
                                          citations__0__url=ADDRESS,
                                          citations__1__source=str(source.pk),
                                          citations__1__relation="reports"))
    assert response.status_code == 302
    with_address, without = claim.citations.order_by("pk")
    assert (with_address.url, without.url) == (ADDRESS, "")
    # One callback for the save, which queues the one citation with an address.
    assert len(callbacks) == 1
    assert queued() == [(with_address.pk, "queued", "citation_saved",
                         "capture.tasks.capture_citation")]
    assert Capture.objects.get().requested_by == reporter
    assert not Evidence.objects.exists()  # the save did not wait for the capture

    # Saved again without a change to the address: no second capture.
    data = read_form(client.get(path))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(path, fill(data, citations__0__quote="Edited quote"))
    assert Capture.objects.count() == DBTaskResult.objects.count() == 1


def test_claim_form_refused_save_queues_nothing(client, case, claim, reporter,
                                                django_capture_on_commit_callbacks):
    client.force_login(reporter)
    path = reverse("cases:claim_edit", args=[case.slug, claim.pk])
    data = read_form(client.get(path))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(path, fill(data, statement="",
                                          citations__0__source=str(
                                              SourceFactory(case=case).pk),
                                          citations__0__url=ADDRESS))
    assert response.status_code == 400
    assert callbacks == [] and not Capture.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_protected_source_citation_saved_by_handler_is_not_captured(
        client, case, claim, handler, django_capture_on_commit_callbacks):
    insider = SourceFactory(case=case, name="Insider", protected=True)
    client.force_login(handler)
    path = reverse("cases:claim_edit", args=[case.slug, claim.pk])
    data = read_form(client.get(path))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, fill(data, citations__0__source=str(insider.pk),
                                          citations__0__relation="reports",
                                          citations__0__url="https://t.me/insider/1"))
    assert response.status_code == 302
    citation = claim.citations.get()
    assert citation.url == "" and citation.protected_url == "https://t.me/insider/1"
    assert not Capture.objects.exists() and not DBTaskResult.objects.exists()


def test_citation_save_queues_nothing_with_capture_on_save_off(
        client, case, claim, reporter, settings, django_capture_on_commit_callbacks):
    settings.CAPTURE_ON_SAVE = False
    source = SourceFactory(case=case)
    client.force_login(reporter)
    path = reverse("cases:claim_edit", args=[case.slug, claim.pk])
    data = read_form(client.get(path))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.post(path, fill(data, citations__0__source=str(source.pk),
                               citations__0__url=ADDRESS))
    assert claim.citations.get().url == ADDRESS
    assert callbacks == [] and not Capture.objects.exists()


def _admin_form(client, path) -> dict:
    from fuzz.pages import parse

    page = parse(client.get(path).content.decode(), path)
    [form] = [f for f in page.forms if f.method == "post" and "logout" not in f.action]
    data = {}
    for name, value in form.served_data():
        data.setdefault(name, []).append(value)
    return data


def test_admin_citation_inline_save_queues_one_capture(
        client, case, claim, reporter, make_staff, django_capture_on_commit_callbacks):
    source = SourceFactory(case=case)
    client.force_login(make_staff(reporter))
    path = reverse("admin:cases_claim_change", args=[claim.pk])
    data = _admin_form(client, path)
    data.update({"citations-TOTAL_FORMS": ["1"], "citations-0-source": [str(source.pk)],
                 "citations-0-relation": ["reports"], "citations-0-url": [ADDRESS],
                 "citations-0-quote": ["Ten fled."], "citations-0-claim": [str(claim.pk)]})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    citation = claim.citations.get()
    assert queued() == [(citation.pk, "queued", "citation_saved",
                         "capture.tasks.capture_citation")]
    assert Capture.objects.get().requested_by == reporter


def test_admin_citation_change_form_queues_one_capture(
        client, case, citation, reporter, make_staff, django_capture_on_commit_callbacks):
    Citation.objects.filter(pk=citation.pk).update(url="")
    client.force_login(make_staff(reporter))
    path = reverse("admin:cases_citation_change", args=[citation.pk])
    data = _admin_form(client, path)
    data["url"] = [ADDRESS]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert queued() == [(citation.pk, "queued", "citation_saved",
                         "capture.tasks.capture_citation")]


def test_api_citation_create_and_update_queue_one_capture_each(
        case, claim, reporter, django_capture_on_commit_callbacks):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(reporter)}")
    source = SourceFactory(case=case)
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/citations/", {"claim": claim.pk, "source": source.pk,
                                                  "url": ADDRESS}, format="json")
    assert created.status_code == 201, created.json()
    citation_id = created.json()["id"]
    assert queued() == [(citation_id, "queued", "citation_saved",
                         "capture.tasks.capture_citation")]

    # A new address: a capture of it too. The first is still queued: request_capture gives
    # it back rather than queue a second capture of the citation at the same time.
    Capture.objects.update(status=Capture.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        updated = api.patch(f"/api/v1/citations/{citation_id}/",
                            {"url": "https://161.ru/text/2.html"}, format="json",
                            HTTP_IF_MATCH=created["ETag"])
    assert updated.status_code == 200, updated.json()
    assert [(c.url, c.status) for c in Capture.objects.order_by("pk")] == [
        (ADDRESS, "failed"), ("https://161.ru/text/2.html", "queued")]
    assert DBTaskResult.objects.count() == 2


# --- "Capture now" -----------------------------------------------------------------------------

def test_reporter_asks_for_capture_and_it_is_queued_once(client, citation, reporter):
    client.force_login(reporter)
    response = client.post(captures_url(citation))
    assert response.status_code == 302 and response.url == captures_url(citation)
    assert queued() == [(citation.pk, "queued", "requested", "capture.tasks.capture_citation")]
    assert Capture.objects.get().requested_by == reporter
    # Asked again while it waits: the same capture, no second task.
    client.post(captures_url(citation))
    assert Capture.objects.count() == DBTaskResult.objects.count() == 1
    page = client.get(captures_url(citation)).content.decode()
    assert "Capture queued" in page and "asked for by reporter" in page


@pytest.mark.parametrize(("who", "status", "code"), [
    ("viewer", 403, errors.NOT_ALLOWED),
    ("outsider", 404, None),
])
def test_capture_refused_to_viewer_and_outsider(client, request, citation, who, status, code):
    client.force_login(request.getfixturevalue(who))
    response = client.post(captures_url(citation))
    assert response.status_code == status
    if code:
        assert response.context["refusal"].code == code
        assert f'data-code="{code}"' in response.content.decode()
    assert not Capture.objects.exists() and not DBTaskResult.objects.exists()


def test_capture_of_protected_address_is_for_handlers(client, protected_citation, reporter,
                                                      handler):
    client.force_login(reporter)
    response = client.post(captures_url(protected_citation))
    assert response.status_code == 403
    assert response.context["refusal"].code == errors.PROTECTED_ADDRESS
    assert not Capture.objects.exists()

    client.force_login(handler)
    assert client.post(captures_url(protected_citation)).status_code == 302
    capture = Capture.objects.get()
    assert capture.protected and capture.url == "" and capture.requested_by == handler
    assert DBTaskResult.objects.count() == 1


def test_capture_of_citation_without_address_is_refused(client, case, claim, reporter):
    citation = CitationFactory(claim=claim, source=SourceFactory(case=case), url="")
    client.force_login(reporter)
    response = client.post(captures_url(citation))
    assert response.status_code == 400
    assert response.context["refusal"].code == errors.NO_ADDRESS
    assert "no address: there is no page to capture" in response.content.decode()
    assert not Capture.objects.exists()


def test_claim_page_offers_capture_now_to_writers_and_handlers(client, claim, citation,
                                                               protected_citation, viewer,
                                                               reporter, handler):
    def buttons(user):
        client.force_login(user)
        page = client.get(claim_url(claim)).content.decode()
        return [c.pk for c in (citation, protected_citation)
                if f'action="{captures_url(c)}"' in page]

    assert buttons(viewer) == []
    assert buttons(reporter) == [citation.pk]
    assert buttons(handler) == [citation.pk, protected_citation.pk]


# --- what the pages show -----------------------------------------------------------------------

def test_claim_page_shows_done_capture_with_timestamp_and_downloads(client, citation,
                                                                     reporter, tsa, tmp_path):
    capture = stored_capture(citation, reporter, tmp_path, tsa=tsa)
    files = files_of(capture)
    client.force_login(reporter)
    page = client.get(claim_url(citation.claim)).content.decode()
    digest = capture.manifest_sha256
    assert (f"captured 13 May 2025 14:02 UTC\n          · SHA-256 <code title=\"SHA-256 of the "
            f"capture's manifest: {digest}\">{digest[:2]}…{digest[-2:]}</code>") in page
    assert "timestamped by 127.0.0.1 · <span class=\"text-success-emphasis\">verified" in page
    thumbnail = evidence_url("evidence_download", files["screenshot"], thumbnail=1)
    assert f'<img src="{thumbnail}"' in page
    for label, role in [("WACZ", "archive"), ("PDF", "pdf"), ("PNG", "screenshot")]:
        assert f'href="{evidence_url("evidence_download", files[role])}"' in page
        assert f">{label}</a>" in page
    # The thumbnail leads to the screenshot's own page.
    assert f'href="{evidence_url("evidence_detail", files["screenshot"])}"' in page
    # The claim page lists the capture; the citation's page also shows what the page answered
    # and links each file's page (its chain of custody).
    assert TITLE not in page
    detail = client.get(captures_url(citation)).content.decode()
    assert f"“{TITLE}” · HTTP 200 · {ADDRESS}" in detail
    for evidence in files.values():
        assert f'href="{evidence_url("evidence_detail", evidence)}"' in detail
    assert "by worker desk-worker:4242" in detail


def test_capture_without_timestamp_says_so(client, citation, reporter, tmp_path):
    capture = stored_capture(citation, reporter, tmp_path)
    Capture.objects.filter(pk=capture.pk).update(timestamp_error="No TSA answered.")
    client.force_login(reporter)
    page = client.get(claim_url(citation.claim)).content.decode()
    assert "no timestamp</span> (No TSA answered.)" in page
    assert "timestamped by" not in page


def test_claim_page_shows_queued_and_failed_captures_with_their_state(client, citation,
                                                                      reporter):
    capture = request_capture(citation, reporter)
    queue_capture(capture)
    client.force_login(reporter)
    page = client.get(claim_url(citation.claim)).content.decode()
    assert f'data-capture="{capture.pk}" data-status="queued"' in page
    assert "Capture queued" in page

    # A first attempt failed and the task waits for the next one, as background/retries.py
    # leaves it; then its last attempt failed too.
    Capture.objects.filter(pk=capture.pk).update(
        status=Capture.Status.FAILED, failure_code=errors.TIMEOUT,
        failure_reason="The page did not load in time.", attempts=1)
    DBTaskResult.objects.filter(pk=capture.task_id).update(
        worker_ids=["desk-worker:4242:a1"], run_after=dt.datetime(2025, 5, 13, 14, 4,
                                                                  tzinfo=dt.UTC),
        exception_class_path="capture.tasks.CaptureFailed",
        traceback="capture.tasks.CaptureFailed: [timeout] The page did not load in time.\n")
    page = client.get(claim_url(citation.claim)).content.decode()
    assert ("Capture failed: The page did not load in time. <code>timeout</code> · will retry "
            "after 14:04 UTC (attempt 1 of 4)") in page

    DBTaskResult.objects.filter(pk=capture.task_id).update(status=TaskResultStatus.FAILED,
                                                           finished_at=timezone.now())
    page = client.get(claim_url(citation.claim)).content.decode()
    assert "Capture failed: The page did not load in time. <code>timeout</code>" in page
    assert "will retry" not in page


def test_protected_capture_is_shown_to_handlers_only(client, protected_citation, handler,
                                                     reporter, tsa, tmp_path):
    capture = stored_capture(protected_citation, handler, tmp_path, tsa=tsa)
    files = files_of(capture)
    claim = protected_citation.claim

    client.force_login(handler)
    page = client.get(claim_url(claim)).content.decode()
    assert evidence_url("evidence_download", files["screenshot"], thumbnail=1) in page
    detail = client.get(captures_url(protected_citation)).content.decode()
    assert f"“{TITLE}”" in detail and "https://t.me/insider_channel/4411" in detail

    client.force_login(reporter)
    for page in (client.get(claim_url(claim)).content.decode(),
                 client.get(captures_url(protected_citation)).content.decode()):
        assert "captured 13 May 2025 14:02 UTC" in page
        assert "for this case's source handlers only" in page
        assert "asked for by a source handler" in page and "by handler" not in page
        assert TITLE not in page and "insider_channel" not in page
        assert capture.manifest_sha256[:2] + "…" not in page
        assert not any(evidence_url("evidence_download", e) in page for e in files.values())
    for evidence in files.values():
        for url in (evidence_url("evidence_detail", evidence),
                    evidence_url("evidence_download", evidence),
                    evidence_url("evidence_download", evidence, thumbnail=1)):
            assert client.get(url).status_code == 404
    assert not CustodyEntry.objects.filter(action=CustodyEntry.Action.DOWNLOADED).exists()


def test_evidence_list_shows_protected_capture_files_to_handlers_only(
        client, protected_citation, handler, reporter, tsa, tmp_path):
    capture = stored_capture(protected_citation, handler, tmp_path, tsa=tsa)
    files = files_of(capture)
    url = reverse("cases:evidence_list", args=[protected_citation.claim.case.slug])

    client.force_login(handler)
    listed_to_handler = client.get(url).context["page"].object_list
    client.force_login(reporter)
    listed_to_reporter = client.get(url).context["page"].object_list

    assert {e.pk for e in listed_to_handler} == {e.pk for e in files.values()}
    assert list(listed_to_reporter) == []


# --- an evidence file's page, its download and its thumbnail ------------------------------------

def test_evidence_page_shows_custody_log_to_members(client, citation, reporter, viewer, tsa,
                                                   tmp_path):
    capture = stored_capture(citation, reporter, tmp_path, tsa=tsa)
    manifest = files_of(capture)["manifest"]
    client.force_login(viewer)
    client.get(evidence_url("evidence_download", manifest))  # logged in its custody

    page = client.get(evidence_url("evidence_detail", manifest)).content.decode()

    assert manifest.sha256 in page and capture.manifest_sha256 in page
    actions = [e.action for e in manifest.custody.order_by("at", "pk")]
    assert actions == ["collected", "hash_verified", "downloaded"]
    assert page.count('data-action="') == 3
    assert "Downloaded</strong> by viewer" in page
    assert "Collected</strong> by reporter" in page
    assert f"certified {capture.timestamped_at:%-d %b %Y %H:%M:%S} UTC by {tsa.url}" in page
    for role in ("Web archive (WACZ)", "Screenshot (PNG)", "PDF of the page"):
        assert role in page
    listing = client.get(reverse("cases:evidence_list", args=[citation.claim.case.slug]))
    assert evidence_url("evidence_detail", manifest) in listing.content.decode()


def test_evidence_page_is_404_to_outsider(client, case, outsider):
    evidence = EvidenceFactory(case=case)
    client.force_login(outsider)
    assert client.get(evidence_url("evidence_detail", evidence)).status_code == 404


def test_thumbnail_is_a_small_jpeg_and_not_a_custody_entry(client, citation, reporter,
                                                          tmp_path):
    screenshot = files_of(stored_capture(citation, reporter, tmp_path))["screenshot"]
    client.force_login(reporter)
    response = client.get(evidence_url("evidence_download", screenshot, thumbnail=1))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(response.content)) as image:
        assert (image.format, image.size) == ("JPEG", (480, 360))
    assert not screenshot.custody.filter(action=CustodyEntry.Action.DOWNLOADED).exists()

    # The file itself: a download, logged.
    response = client.get(evidence_url("evidence_download", screenshot))
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.custody.filter(action=CustodyEntry.Action.DOWNLOADED,
                                     actor=reporter).count() == 1


def test_thumbnail_of_a_file_that_is_no_picture_is_404(client, case, reporter):
    evidence = EvidenceFactory(case=case, content_type="text/plain")
    client.force_login(reporter)
    assert client.get(evidence_url("evidence_download", evidence,
                                   thumbnail=1)).status_code == 404


# --- what it costs -----------------------------------------------------------------------------

def test_claim_page_query_count_does_not_grow_with_captures(client, case, claim, reporter,
                                                            tmp_path):
    def count_queries():
        client.get(claim_url(claim))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(claim_url(claim)).status_code == 200
        return len(queries)

    client.force_login(reporter)
    first = CitationFactory(claim=claim, source=SourceFactory(case=case), url=ADDRESS)
    stored_capture(first, reporter, tmp_path)
    one = count_queries()
    for n in range(3):
        other = CitationFactory(claim=claim, source=SourceFactory(case=case),
                                url=f"{ADDRESS}?n={n}")
        stored_capture(other, reporter, tmp_path,
                       captured_at=CAPTURED_AT + dt.timedelta(minutes=n + 1))
    assert count_queries() == one
