"""Captures and evidence in the API: /evidence/ (list, detail, ?citation=, the download with
the pages' access rules, each capture's manifest, timestamp token and TSA chain, checked here
with `openssl ts -verify` as anyone outside Casedesk would), /captures/ with their tasks'
state, and POST /citations/{id}/capture/ with its refusals' codes."""

import base64
import hashlib
import subprocess

import pytest
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from capture import errors
from capture.models import Capture
from cases.enums import Role
from cases.models import CustodyEntry, Membership

from . import test_capture_pages as shared
from .capture_helpers import ADDRESS, TITLE, files_of, stored_capture
from .factories import CitationFactory, EvidenceFactory, SourceFactory, api_key_for
from .tsa import OPENSSL

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("stored_capture_settings")

# The pages' tests' fixtures: a case's claim, a citation of a public page and one of a
# protected source.
claim, citation, protected_citation = shared.claim, shared.citation, shared.protected_citation


def api_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return api


@pytest.fixture
def done(citation, reporter, tsa, tmp_path):
    """A done, timestamped capture of `citation`."""
    return stored_capture(citation, reporter, tmp_path, tsa=tsa)


# --- /evidence/ --------------------------------------------------------------------------------

def test_evidence_of_capture_gives_hashes_manifest_token_and_chain(done, viewer, tmp_path):
    files = files_of(done)
    body = api_for(viewer).get("/api/v1/evidence/", {"citation": done.citation_id}).json()

    assert body["count"] == 4
    by_role = {item["capture_role"]: item for item in body["results"]}
    assert set(by_role) == {"archive", "screenshot", "pdf", "manifest"}
    for role, item in by_role.items():
        assert item["id"] == files[role].pk
        assert item["sha256"] == files[role].sha256
        assert item["download"] == f"http://testserver/api/v1/evidence/{files[role].pk}/download/"
        assert [entry["action"] for entry in item["custody"]][0] == "collected"
    capture = by_role["manifest"]["capture"]
    assert capture["id"] == done.pk and capture["withheld"] is False
    assert (capture["url"], capture["title"], capture["http_status"]) == (ADDRESS, TITLE, 200)
    assert capture["manifest"] == done.manifest
    assert capture["manifest_sha256"] == done.manifest_sha256
    assert sorted((f["role"], f["sha256"]) for f in capture["files"]) == sorted(
        (role, evidence.sha256) for role, evidence in files.items())

    # Anyone can check the timestamp with what the API gives: the token over the manifest's
    # SHA-256, against the TSA's chain.
    timestamp = capture["timestamp"]
    token = tmp_path / "token.der"
    token.write_bytes(base64.b64decode(timestamp["token"]))
    chain = tmp_path / "chain.pem"
    chain.write_text(timestamp["tsa_chain_pem"])
    verified = subprocess.run(
        [OPENSSL, "ts", "-verify", "-token_in", "-in", str(token), "-digest",
         capture["manifest_sha256"], "-CAfile", str(chain)],
        capture_output=True, text=True, check=False)
    assert verified.returncode == 0 and "Verification: OK" in verified.stdout, verified.stderr
    other = hashlib.sha256(b"another manifest").hexdigest()
    refused = subprocess.run(
        [OPENSSL, "ts", "-verify", "-token_in", "-in", str(token), "-digest", other,
         "-CAfile", str(chain)], capture_output=True, text=True, check=False)
    assert refused.returncode != 0


def test_evidence_download_is_the_file_and_logged(done, viewer):
    screenshot = files_of(done)["screenshot"]
    response = api_for(viewer).get(f"/api/v1/evidence/{screenshot.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == screenshot.sha256
    assert list(screenshot.custody.filter(action=CustodyEntry.Action.DOWNLOADED)
                .values_list("actor__username", flat=True)) == ["viewer"]


def test_evidence_is_404_to_outsider(done, outsider):
    evidence = files_of(done)["pdf"]
    api = api_for(outsider)
    assert api.get("/api/v1/evidence/").json()["count"] == 0
    assert api.get(f"/api/v1/evidence/{evidence.pk}/").status_code == 404
    response = api.get(f"/api/v1/evidence/{evidence.pk}/download/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert not evidence.custody.filter(action=CustodyEntry.Action.DOWNLOADED).exists()


def test_uploaded_evidence_has_no_capture(case, reporter):
    evidence = EvidenceFactory(case=case)
    body = api_for(reporter).get(f"/api/v1/evidence/{evidence.pk}/").json()
    assert (body["capture"], body["capture_role"], body["sha256"]) == (None, None,
                                                                      evidence.sha256)


def test_evidence_list_refuses_unknown_parameter(reporter):
    response = api_for(reporter).get("/api/v1/evidence/", {"citaton": 1})
    assert response.status_code == 400
    assert response.json()["citaton"][0].startswith("This operation takes no such")


def test_protected_capture_is_for_handlers_only(protected_citation, handler, reporter, tsa,
                                                tmp_path):
    capture = stored_capture(protected_citation, handler, tmp_path, tsa=tsa)
    manifest = files_of(capture)["manifest"]

    mine = api_for(handler)
    assert mine.get("/api/v1/evidence/").json()["count"] == 4
    shown = mine.get(f"/api/v1/captures/{capture.pk}/").json()
    assert shown["withheld"] is False and shown["url"] == "https://t.me/insider_channel/4411"
    assert shown["manifest"]["title"] == TITLE and len(shown["files"]) == 4

    theirs = api_for(reporter)
    assert theirs.get("/api/v1/evidence/").json()["count"] == 0
    assert theirs.get("/api/v1/evidence/", {"citation": protected_citation.pk}).json()[
        "count"] == 0
    assert theirs.get(f"/api/v1/evidence/{manifest.pk}/").status_code == 404
    assert theirs.get(f"/api/v1/evidence/{manifest.pk}/download/").status_code == 404
    withheld = theirs.get(f"/api/v1/captures/{capture.pk}/").json()
    assert withheld["withheld"] is True and withheld["status"] == "done"
    assert [withheld[name] for name in ("url", "final_url", "title", "response_headers",
                                        "manifest", "manifest_sha256", "timestamp")] == [
        None] * 7
    assert withheld["files"] == [] and withheld["requested_by"] is None
    assert "insider_channel" not in theirs.get("/api/v1/captures/").content.decode()


# --- POST /citations/{id}/capture/ ------------------------------------------------------------

def test_capture_request_is_accepted_and_queued_once(citation, reporter):
    api = api_for(reporter)
    response = api.post(f"/api/v1/citations/{citation.pk}/capture/")
    assert response.status_code == 202
    body = response.json()
    capture = Capture.objects.get()
    assert (body["id"], body["status"], body["trigger"], body["requested_by"]) == (
        capture.pk, "queued", "requested", "reporter")
    assert body["task"]["id"] == capture.task_id
    assert (body["task"]["status"], body["task"]["attempts"]) == ("queued", 0)
    assert DBTaskResult.objects.get().task_path == "capture.tasks.capture_citation"

    again = api.post(f"/api/v1/citations/{citation.pk}/capture/", {}, format="json")
    assert again.status_code == 202 and again.json()["id"] == capture.pk
    assert Capture.objects.count() == DBTaskResult.objects.count() == 1


@pytest.mark.parametrize(("who", "status", "code"), [
    ("viewer", 403, errors.NOT_ALLOWED),
    ("outsider", 404, None),
])
def test_capture_request_refused_to_viewer_and_outsider(request, citation, who, status, code):
    response = api_for(request.getfixturevalue(who)).post(
        f"/api/v1/citations/{citation.pk}/capture/")
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code
    assert not Capture.objects.exists() and not DBTaskResult.objects.exists()


def test_capture_request_of_protected_address_needs_a_handler(protected_citation, reporter,
                                                              handler):
    url = f"/api/v1/citations/{protected_citation.pk}/capture/"
    refused = api_for(reporter).post(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == errors.PROTECTED_ADDRESS
    assert "t.me" not in refused.content.decode()
    assert not Capture.objects.exists()

    accepted = api_for(handler).post(url)
    assert accepted.status_code == 202
    assert Capture.objects.get().protected


def test_capture_request_refusals_about_the_citation_are_400(case, claim, reporter, citation):
    without = CitationFactory(claim=claim, source=SourceFactory(case=case), url="")
    api = api_for(reporter)
    response = api.post(f"/api/v1/citations/{without.pk}/capture/")
    assert response.status_code == 400 and response.json()["code"] == errors.NO_ADDRESS
    response = api.post(f"/api/v1/citations/{citation.pk}/capture/", {"url": ADDRESS},
                        format="json")
    assert response.status_code == 400
    assert response.json()["url"][0].startswith("There is no such field")
    assert not Capture.objects.exists()


def test_captures_list_gives_failed_capture_and_whether_it_is_retried(citation, reporter):
    api = api_for(reporter)
    capture_id = api.post(f"/api/v1/citations/{citation.pk}/capture/").json()["id"]
    Capture.objects.filter(pk=capture_id).update(
        status=Capture.Status.FAILED, failure_code=errors.TIMEOUT,
        failure_reason="The page did not load in time.", attempts=1)
    task_id = Capture.objects.get(pk=capture_id).task_id
    DBTaskResult.objects.filter(pk=task_id).update(
        worker_ids=["desk-worker:4242:a1"], exception_class_path="capture.tasks.CaptureFailed",
        traceback="capture.tasks.CaptureFailed: [timeout] The page did not load in time.\n")

    [shown] = api.get("/api/v1/captures/", {"citation": citation.pk}).json()["results"]
    assert (shown["status"], shown["failure_code"]) == ("failed", errors.TIMEOUT)
    assert shown["task"]["status"] == "retrying"
    assert (shown["task"]["attempts"], shown["task"]["max_attempts"]) == (1, 4)
    assert shown["task"]["reason"] == ("CaptureFailed: [timeout] The page did not load in "
                                       "time.")


def test_viewer_of_another_case_sees_none_of_its_captures(done, make_member, case):
    from .factories import CaseFactory

    elsewhere = make_member(Role.EDITOR, on_case=CaseFactory(), username="elsewhere")
    Membership.objects.filter(user=elsewhere).update(can_handle_sources=True)
    api = api_for(elsewhere)
    assert api.get("/api/v1/captures/").json()["count"] == 0
    assert api.get(f"/api/v1/captures/{done.pk}/").status_code == 404
    assert api.get("/api/v1/evidence/").json()["count"] == 0
