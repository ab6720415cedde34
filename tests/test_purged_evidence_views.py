"""A capture's files deleted from the workspace or purged from storage (cases/deletion.py,
manage.py purge_deleted_evidence), as the capture lists and the API show them.

- The capture lists (templates/capture/includes/captures.html, cases/views/captures.py) on
  the claim page, the citation's page and the incident's: a deleted file reads as deleted,
  with no thumbnail and no download link (and, to an editor while it can be restored, a link
  to "Recently deleted"); a purged one reads as purged. Their state is read with the files:
  the pages cost the same queries at one capture and at several.
- The API's download (/api/v1/evidence/{id}/download/): a purged file answers 410 with the
  code `evidence_purged`, as the evidence page's download answers 410; a file deleted but not
  purged is still given, as the page's download gives it; the schema says so."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cases.deletion import CUSTODY_DELETED, CUSTODY_PURGED, CUSTODY_RESTORED
from cases.models import CustodyEntry

from .capture_helpers import ADDRESS, CAPTURED_AT, files_of, stored_capture
from .factories import CitationFactory, ClaimFactory, IncidentFactory, SourceFactory, UserFactory
from .query_counts import measured_get, text
from .test_api import token_client
from .test_capture_query_counts import CITATION_CAPTURES_QUERIES

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
def operator(db):
    return UserFactory(username="operator", is_staff=True)


def _custody(evidence, action, actor, days_ago):
    CustodyEntry.objects.create(evidence=evidence, action=action, actor=actor,
                                at=timezone.now() - dt.timedelta(days=days_ago))


def _purge():
    call_command("purge_deleted_evidence", "--actor=operator", stdout=io.StringIO(),
                 stderr=io.StringIO())


def _capture(citation, user, tmp_path, n=0):
    return stored_capture(citation, user, tmp_path,
                          captured_at=CAPTURED_AT + dt.timedelta(minutes=n))


def _remove_files(capture, editor):
    """The capture's screenshot deleted two days ago (restorable), its PDF deleted 31 days
    ago and purged; its archive stays. Call _purge() once all are set up."""
    files = files_of(capture)
    _custody(files["screenshot"], CUSTODY_DELETED, editor, 2)
    _custody(files["pdf"], CUSTODY_DELETED, editor, 31)
    return files


def download_url(evidence, **params):
    url = reverse("cases:evidence_download", args=[evidence.case.slug, evidence.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def detail_url(evidence):
    return reverse("cases:evidence_detail", args=[evidence.case.slug, evidence.pk])


def claim_url(claim):
    return reverse("cases:claim_detail", args=[claim.case.slug, claim.pk])


def captures_url(citation):
    return reverse("cases:citation_captures", args=[citation.claim.case.slug, citation.pk])


def recently_deleted_url(case):
    return reverse("cases:recently_deleted", args=[case.slug])


def _state(page, evidence) -> str | None:
    """The state the capture list gives `evidence`'s entry ("deleted", "purged"), or None."""
    marker = f'data-evidence="{evidence.pk}" data-state="'
    if marker not in page:
        return None
    return page.split(marker, 1)[1].split('"', 1)[0]


# --- the capture lists ---------------------------------------------------------------------------

def test_claim_page_shows_deleted_and_purged_capture_files_without_thumbnail_or_download(
        client, citation, reporter, editor, operator, tmp_path):
    capture = _capture(citation, reporter, tmp_path)
    files = _remove_files(capture, editor)
    _purge()
    client.force_login(reporter)

    page = client.get(claim_url(citation.claim)).content.decode()

    assert "?thumbnail=1" not in page
    assert download_url(files["screenshot"]) not in page
    assert download_url(files["pdf"]) not in page
    assert f'href="{download_url(files["archive"])}"' in page  # the file in force
    assert _state(page, files["screenshot"]) == "deleted"
    assert "PNG: deleted" in page
    assert _state(page, files["pdf"]) == "purged"
    assert "PDF: purged from storage" in page
    assert _state(page, files["archive"]) is None
    assert recently_deleted_url(citation.claim.case) not in page  # a reporter's page


def test_capture_file_deleted_links_recently_deleted_for_editors_only(
        client, case, citation, outsider, reporter, editor, tmp_path):
    capture = _capture(citation, reporter, tmp_path)
    screenshot = files_of(capture)["screenshot"]
    _custody(screenshot, CUSTODY_DELETED, editor, 2)
    link = f'href="{recently_deleted_url(case)}"'

    client.force_login(outsider)
    assert client.get(claim_url(citation.claim)).status_code == 404
    client.force_login(reporter)
    member_page = client.get(claim_url(citation.claim)).content.decode()
    client.force_login(editor)
    editor_page = client.get(claim_url(citation.claim)).content.decode()

    assert _state(member_page, screenshot) == _state(editor_page, screenshot) == "deleted"
    assert link not in member_page
    assert f"PNG: deleted (<a {link}>Recently deleted</a>)" in editor_page
    # The page it links to offers the file.
    assert screenshot.original_name in client.get(recently_deleted_url(case)).content.decode()


def test_capture_file_deleted_past_the_restore_window_has_no_recently_deleted_link(
        client, case, citation, reporter, editor, tmp_path):
    capture = _capture(citation, reporter, tmp_path)
    screenshot = files_of(capture)["screenshot"]
    _custody(screenshot, CUSTODY_DELETED, editor, 31)  # not purged yet
    client.force_login(editor)

    page = client.get(claim_url(citation.claim)).content.decode()

    assert _state(page, screenshot) == "deleted"
    assert download_url(screenshot, thumbnail=1) not in page
    assert recently_deleted_url(case) not in page


def test_capture_file_restored_is_shown_again(client, citation, reporter, editor, tmp_path):
    capture = _capture(citation, reporter, tmp_path)
    screenshot = files_of(capture)["screenshot"]
    _custody(screenshot, CUSTODY_DELETED, editor, 3)
    _custody(screenshot, CUSTODY_RESTORED, editor, 1)
    client.force_login(reporter)

    page = client.get(claim_url(citation.claim)).content.decode()

    assert f'<img src="{download_url(screenshot, thumbnail=1)}"' in page
    assert f'href="{download_url(screenshot)}"' in page
    assert _state(page, screenshot) is None


def test_citation_page_links_each_removed_files_custody(client, citation, reporter, editor,
                                                       operator, tmp_path):
    capture = _capture(citation, reporter, tmp_path)
    files = _remove_files(capture, editor)
    _purge()
    client.force_login(reporter)

    page = client.get(captures_url(citation)).content.decode()

    for role in ("screenshot", "pdf"):
        assert download_url(files[role]) not in page
        assert f'href="{detail_url(files[role])}"' in page  # its page: custody, hashes
    assert "?thumbnail=1" not in page
    # What the purged file's own page then says.
    assert "This file was purged from storage" in client.get(
        detail_url(files["pdf"])).content.decode()


def test_incident_captures_page_shows_removed_files(client, case, reporter, editor, operator,
                                                    tmp_path):
    incident = IncidentFactory(case=case, title="Raid on the training ground")
    citation = CitationFactory(incident=incident, claim=None, url=ADDRESS,
                               source=SourceFactory(case=case, name="161.ru"))
    files = _remove_files(_capture(citation, reporter, tmp_path), editor)
    _purge()
    client.force_login(reporter)

    page = client.get(reverse("cases:incident_captures", args=[case.slug, incident.pk]))

    body = page.content.decode()
    assert _state(body, files["screenshot"]) == "deleted"
    assert _state(body, files["pdf"]) == "purged"
    assert "?thumbnail=1" not in body


# --- what the lists cost -------------------------------------------------------------------------

def _captures_with_removed_files(citation, reporter, editor, tmp_path, count):
    captures = [_capture(citation, reporter, tmp_path, n) for n in range(count)]
    for capture in captures:
        _remove_files(capture, editor)
    _purge()
    return captures


@pytest.mark.parametrize("count", [1, 4])
def test_citation_captures_page_with_removed_files_costs_the_same_queries(
        client, citation, reporter, editor, operator, tmp_path, count,
        django_assert_num_queries):
    """The files' deletions and purges are read with the files, not a query per file: the
    page's count is tests/test_capture_query_counts.py's, at one capture and at four."""
    _captures_with_removed_files(citation, reporter, editor, tmp_path, count)
    client.force_login(editor)

    body = text(measured_get(client, captures_url(citation), django_assert_num_queries,
                             CITATION_CAPTURES_QUERIES))

    assert body.count('data-state="deleted"') == body.count('data-state="purged"') == count


#: The claim page with one citation and its captures: the session, the user, the
#: membership, the claim, its citations with their relays, the captures, their files (with
#: their evidence, deletions and purges: one query), the watch states, and the page's other
#: parts (the workflow's reads, the move forms' citations, sources and members, the events;
#: tests/test_query_counts.py pins the page with more in it).
CLAIM_PAGE_QUERIES = 18


@pytest.mark.parametrize("count", [1, 4])
def test_claim_page_with_removed_capture_files_costs_the_same_queries(
        client, citation, reporter, editor, operator, tmp_path, count,
        django_assert_num_queries):
    _captures_with_removed_files(citation, reporter, editor, tmp_path, count)
    client.force_login(editor)

    body = text(measured_get(client, claim_url(citation.claim), django_assert_num_queries,
                             CLAIM_PAGE_QUERIES))

    assert body.count('data-state="deleted"') == body.count('data-state="purged"') == count


# --- the API's download ----------------------------------------------------------------------

API = "/api/v1"


def test_api_download_of_a_purged_file_is_410_with_its_code(citation, reporter, editor,
                                                            operator, tmp_path):
    pdf = _remove_files(_capture(citation, reporter, tmp_path), editor)["pdf"]
    _purge()
    api = token_client(reporter)

    for accept in ("application/json", "application/octet-stream"):
        response = api.get(f"{API}/evidence/{pdf.pk}/download/", HTTP_ACCEPT=accept)

        assert response.status_code == 410
        assert response["Content-Type"] == "application/json"
        assert response.json() == {
            "code": "evidence_purged",
            "detail": "This file was purged from storage after its deletion: it cannot be "
                      "downloaded."}
    assert not CustodyEntry.objects.filter(evidence=pdf,
                                           action=CustodyEntry.Action.DOWNLOADED).exists()


def test_api_download_of_a_purged_file_is_in_the_readers_language(citation, reporter, editor,
                                                                  operator, tmp_path):
    pdf = _remove_files(_capture(citation, reporter, tmp_path), editor)["pdf"]
    _purge()

    response = token_client(reporter).get(f"{API}/evidence/{pdf.pk}/download/",
                                          HTTP_ACCEPT_LANGUAGE="ru")

    assert response.status_code == 410
    assert response.json()["code"] == "evidence_purged"
    assert response["Content-Language"] == "ru"


def test_api_download_of_a_purged_file_is_404_to_an_outsider(citation, reporter, editor,
                                                             outsider, operator, tmp_path):
    """Outside the case the file does not exist: 404, not 410, which would say it did."""
    pdf = _remove_files(_capture(citation, reporter, tmp_path), editor)["pdf"]
    _purge()

    response = token_client(outsider).get(f"{API}/evidence/{pdf.pk}/download/")

    assert response.status_code == 404
    assert "code" not in response.json()


def test_api_download_of_a_deleted_file_gives_it_as_the_page_does(client, citation, reporter,
                                                                  editor, tmp_path):
    screenshot = files_of(_capture(citation, reporter, tmp_path))["screenshot"]
    _custody(screenshot, CUSTODY_DELETED, editor, 2)
    content = screenshot.file.open("rb").read()
    client.force_login(reporter)

    page = client.get(download_url(screenshot))
    api = token_client(reporter).get(f"{API}/evidence/{screenshot.pk}/download/",
                                     HTTP_ACCEPT="application/octet-stream")

    assert page.status_code == api.status_code == 200
    assert b"".join(page.streaming_content) == b"".join(api.streaming_content) == content
    assert CustodyEntry.objects.filter(evidence=screenshot,
                                       action=CustodyEntry.Action.DOWNLOADED).count() == 2


def test_api_download_of_a_file_lost_from_storage_stays_404(citation, reporter, tmp_path):
    """Missing from storage, never purged: not the purge's 410."""
    pdf = files_of(_capture(citation, reporter, tmp_path))["pdf"]
    pdf.file.storage.delete(pdf.file.name)

    response = token_client(reporter).get(f"{API}/evidence/{pdf.pk}/download/")

    assert response.status_code == 404
    assert response.json() == {"detail": "The file is missing from storage."}
    assert not CustodyEntry.objects.filter(evidence=pdf, action=CUSTODY_PURGED).exists()


def test_api_schema_documents_the_purged_download(reporter):
    schema = token_client(reporter).get("/api/schema/?format=json").json()
    responses = schema["paths"]["/api/v1/evidence/{id}/download/"]["get"]["responses"]

    body = responses["410"]["content"]["application/json"]["schema"]
    assert body["required"] == ["detail", "code"]
    assert "evidence_purged" in responses["410"]["description"]
    assert "application/octet-stream" in responses["200"]["content"]
