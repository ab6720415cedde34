"""Captures of cited pages, end to end: a page with an image and a script served from
127.0.0.1 (tests/pages, a real http.server), captured with Debian's Chromium, timestamped by
a real TSA on 127.0.0.1 (tests/tsa.py), stored as evidence with its custody log, and checked
again by `verify_evidence`.

Tests that start a browser skip, saying why, only where no Chromium is installed.
"""

import gzip
import hashlib
import io
import json
import socket
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image
from pypdf import PdfReader
from warcio.archiveiterator import ArchiveIterator

from capture import errors
from capture.archive import check_wacz
from capture.domain import capture_address, request_capture, run_capture, store_capture
from capture.engine import capture_page
from capture.errors import CaptureError
from capture.models import Capture, CaptureFile
from capture.timestamps import stamp, verify_token
from cases.models import CustodyEntry, Evidence, Membership

from .capture_helpers import CHROMIUM, needs_chromium
from .factories import CitationFactory, ClaimFactory, EvidenceFactory, SourceFactory

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("live_capture_settings")

HEADLINE = "Flood barrier breached at Rostov dam"
LEDE = "Residents of the lower district were told to leave their homes on Tuesday night."


@pytest.fixture(scope="module")
def article(pages, tsa):
    """One capture of the article page, timestamped, shared by the tests that store it."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}.")
    result = capture_page(pages.url("/article.html"), allowed_hosts=["127.0.0.1"])
    result.timestamp = stamp(result.manifest_bytes, [tsa.url], ca_file=tsa.ca_file)
    yield result
    result.cleanup()


@pytest.fixture
def citation(case, pages):
    source = SourceFactory(case=case, name="Rostov Gazette")
    claim = ClaimFactory(case=case, statement="The barrier was breached on Tuesday.")
    return CitationFactory(claim=claim, source=source, url=pages.url("/article.html"))


@pytest.fixture
def protected_citation(case, pages):
    source = SourceFactory(case=case, name="Dam engineer", protected=True)
    claim = ClaimFactory(case=case, statement="The barrier's gauges were switched off.")
    return CitationFactory(claim=claim, source=source, url=pages.url("/article.html"))


def _warc_records(wacz_path) -> list:
    with zipfile.ZipFile(wacz_path) as package:
        [warc_name] = [n for n in package.namelist() if n.startswith("archive/")]
        data = package.read(warc_name)
    records = []
    for record in ArchiveIterator(io.BytesIO(data)):
        body = record.content_stream().read()
        records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                        record.http_headers, body))
    return records


# --- the engine ----------------------------------------------------------------------------------

@needs_chromium
def test_capture_page_archives_page_image_and_script(article, pages):
    assert article.final_url == pages.url("/article.html")
    assert article.http_status == 200
    assert article.title == HEADLINE
    assert ("Content-type", "text/html") in article.response_headers
    assert [f.role for f in article.files] == ["archive", "screenshot", "pdf", "manifest"]

    # The WACZ: datapackage.json lists each file with its SHA-256, and they match.
    wacz = article.file("archive").path
    with zipfile.ZipFile(wacz) as package:
        datapackage = json.loads(package.read("datapackage.json"))
        for resource in datapackage["resources"]:
            content = package.read(resource["path"])
            assert resource["hash"] == "sha256:" + hashlib.sha256(content).hexdigest()
            assert resource["bytes"] == len(content)
        assert {r["path"].split("/")[0] for r in datapackage["resources"]} >= {
            "archive", "indexes", "pages"}
        pages_list = package.read("pages/pages.jsonl").decode().splitlines()
    assert check_wacz(wacz) == []
    page_entry = json.loads(pages_list[1])
    assert page_entry["url"] == pages.url("/article.html")
    assert "Updated by the page's script at load." in page_entry["text"]

    # The WARC: a request and a response record for the page, its image and its script.
    records = _warc_records(wacz)
    responses = {uri: (headers, body) for kind, uri, headers, body in records
                 if kind == "response"}
    requested = {uri for kind, uri, _, _ in records if kind == "request"}
    for path in ("/article.html", "/photo.png", "/article.js", "/style.css"):
        assert pages.url(path) in responses and pages.url(path) in requested
    page_headers, page_body = responses[pages.url("/article.html")]
    assert page_headers.get_statuscode() == "200"
    assert LEDE.encode() in page_body
    assert responses[pages.url("/photo.png")][1] == (Path(__file__).parent / "pages" /
                                                     "photo.png").read_bytes()
    assert b"Updated by the page's script" in responses[pages.url("/article.js")][1]

    # The screenshot is a PNG of the full page; the PDF holds the page's text.
    with Image.open(article.file("screenshot").path) as screenshot:
        assert screenshot.format == "PNG"
        assert screenshot.width == 1280
    reader = PdfReader(article.file("pdf").path)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert HEADLINE in text
    assert "Updated by the page's script at load." in text

    # The manifest: every file's name, size and SHA-256, the address, the time.
    manifest = json.loads(article.manifest_bytes)
    assert manifest == article.manifest
    assert hashlib.sha256(article.manifest_bytes).hexdigest() == article.manifest_sha256
    assert article.file("manifest").sha256 == article.manifest_sha256
    assert manifest["url"] == manifest["final_url"] == pages.url("/article.html")
    assert manifest["captured_at"] == article.captured_at.isoformat().replace("+00:00", "Z")
    assert [(e["name"], e["size"], e["sha256"]) for e in manifest["files"]] == [
        (f.name, f.size, hashlib.sha256(f.path.read_bytes()).hexdigest())
        for f in article.files[:3]]
    assert manifest["resources"]["refused"] == []


def test_capture_page_refuses_loopback_not_allowed(pages):
    before = list(pages.requests)
    with pytest.raises(CaptureError) as refused:
        capture_page(pages.url("/article.html"), allowed_hosts=[])
    assert refused.value.code == errors.LOOPBACK_ADDRESS
    assert pages.requests == before


@needs_chromium
def test_capture_page_refuses_redirect_to_address_not_allowed(pages, elsewhere):
    hidden = elsewhere.url("/article.html")
    with pytest.raises(CaptureError) as refused:
        capture_page(pages.url(f"/redirect?to={hidden}"), allowed_hosts=["127.0.0.1"])
    assert refused.value.code == errors.LOOPBACK_ADDRESS
    assert elsewhere.requests == []


@needs_chromium
def test_capture_page_aborts_resource_not_allowed(pages, elsewhere):
    image = elsewhere.url("/photo.png")
    with capture_page(pages.url(f"/embeds?src={image}"),
                      allowed_hosts=["127.0.0.1"]) as result:
        assert result.title == "Embedding page"
        assert result.refused == [{"url": image, "code": errors.LOOPBACK_ADDRESS}]
        assert result.manifest["resources"]["refused"] == result.refused
        uris = {uri for kind, uri, _, _ in _warc_records(result.file("archive").path)}
    assert image not in uris
    assert elsewhere.requests == []


@needs_chromium
def test_capture_page_closes_websocket_unopened(pages):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    target = f"ws://127.0.0.1:{listener.getsockname()[1]}/live"
    try:
        with capture_page(pages.url(f"/socket?to={target}"),
                          allowed_hosts=["127.0.0.1"]) as result:
            assert result.title == "Live page"
            assert result.refused == [{"url": target, "code": errors.WEBSOCKET_NOT_CAPTURED}]
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


# An address that serves a file (a PDF, an attachment): tests/test_capture_files.py.


# --- storing ------------------------------------------------------------------------------------

def _files(capture) -> dict[str, Evidence]:
    return {f.role: f.evidence for f in capture.files.select_related("evidence")}


@needs_chromium
def test_run_capture_stores_evidence_with_custody_and_verified_timestamp(citation, reporter,
                                                                         pages, tsa):
    capture = request_capture(citation, reporter)
    assert capture.status == Capture.Status.QUEUED

    capture = run_capture(capture.pk)

    assert capture.status == Capture.Status.DONE
    assert (capture.final_url, capture.http_status, capture.title) == (
        pages.url("/article.html"), 200, HEADLINE)
    assert capture.worker and capture.attempts == 1
    files = _files(capture)
    assert set(files) == {"archive", "screenshot", "pdf", "manifest"}
    manifest_file = files["manifest"]
    manifest_bytes = manifest_file.file.open("rb").read()
    assert hashlib.sha256(manifest_bytes).hexdigest() == capture.manifest_sha256 == \
        manifest_file.sha256
    assert json.loads(manifest_bytes) == capture.manifest
    listed = {entry["name"]: entry for entry in capture.manifest["files"]}
    for role in ("archive", "screenshot", "pdf"):
        evidence = files[role]
        assert listed[evidence.original_name]["sha256"] == evidence.sha256
        assert listed[evidence.original_name]["size"] == evidence.size
        assert hashlib.sha256(evidence.file.open("rb").read()).hexdigest() == evidence.sha256
    assert {e.content_type for e in files.values()} == {
        "application/wacz", "image/png", "application/pdf", "application/json"}
    for evidence in files.values():
        assert evidence.case_id == citation.claim.case_id
        assert evidence.claim_id == citation.claim_id
        assert evidence.origin_url == pages.url("/article.html")
        assert evidence.captured_by == reporter
        assert evidence.captured_at == capture.captured_at
        [collected] = evidence.custody.filter(action=CustodyEntry.Action.COLLECTED)
        assert collected.actor == reporter
        assert f"by worker {capture.worker}" in collected.note
        assert "asked for by reporter" in collected.note
        assert capture.manifest_sha256 in collected.note
        assert evidence.sha256 in collected.note
        assert capture.captured_at.strftime("%Y-%m-%d %H:%M:%S") in collected.note

    # The timestamp: kept, verified when stored, and verifiable again.
    assert capture.tsa_url == tsa.url
    assert capture.verified_at is not None and capture.timestamped_at is not None
    assert verify_token(bytes(capture.timestamp_token), capture.manifest_sha256,
                        capture.tsa_chain_pem) == capture.timestamped_at
    [verified] = manifest_file.custody.filter(action=CustodyEntry.Action.HASH_VERIFIED)
    assert capture.manifest_sha256 in verified.note and tsa.url in verified.note

    # Running it again makes nothing new.
    assert run_capture(capture.pk, options={"chromium": "/nonexistent"}).pk == capture.pk
    assert Evidence.objects.filter(case=citation.claim.case).count() == 4


@needs_chromium
def test_store_capture_is_idempotent(citation, reporter, article):
    first = store_capture(citation.pk, reporter.pk, article)
    again = store_capture(citation.pk, reporter.pk, article)
    assert again.pk == first.pk
    assert Capture.objects.count() == 1
    assert CaptureFile.objects.filter(capture=first).count() == 4
    assert Evidence.objects.count() == 4
    assert CustodyEntry.objects.filter(action=CustodyEntry.Action.COLLECTED).count() == 4


@needs_chromium
def test_store_capture_refuses_file_changed_since_capture(citation, reporter, article,
                                                          tmp_path):
    import dataclasses
    import shutil

    copy = tmp_path / "copy.png"
    shutil.copy(article.file("screenshot").path, copy)
    copy.write_bytes(copy.read_bytes() + b"tampered")
    files = [dataclasses.replace(f, path=copy) if f.role == "screenshot" else f
             for f in article.files]
    changed = dataclasses.replace(article, files=files, workdir=None)
    with pytest.raises(CaptureError) as refused:
        store_capture(citation.pk, reporter.pk, changed)
    assert refused.value.code == errors.HASH_MISMATCH
    assert not Capture.objects.exists() and not Evidence.objects.exists()


@needs_chromium
def test_store_capture_keeps_protected_address_sealed(protected_citation, handler, article):
    assert protected_citation.url == "" and protected_citation.protected_url
    capture = store_capture(protected_citation.pk, handler.pk, article)
    capture.refresh_from_db()
    assert capture.protected
    assert (capture.url, capture.final_url, capture.title, capture.manifest,
            capture.response_headers) == ("", "", "", None, [])
    assert capture.details["url"] == article.url
    assert capture.details["manifest"] == article.manifest
    for evidence in _files(capture).values():
        assert evidence.origin_url == ""
        assert HEADLINE not in evidence.description
        assert article.url not in " ".join(c.note for c in evidence.custody.all())


# --- who may have what captured ------------------------------------------------------------------

def test_request_capture_refuses_protected_address_to_non_handler(protected_citation,
                                                                  reporter):
    with pytest.raises(CaptureError) as refused:
        request_capture(protected_citation, reporter)
    assert refused.value.code == errors.PROTECTED_ADDRESS
    assert not Capture.objects.exists()


def test_protected_address_is_not_captured_on_save(protected_citation, handler):
    with pytest.raises(CaptureError) as refused:
        request_capture(protected_citation, handler, trigger=Capture.Trigger.CITATION_SAVED)
    assert refused.value.code == errors.PROTECTED_ADDRESS


def test_handler_may_ask_for_capture_of_protected_address(protected_citation, handler):
    capture = request_capture(protected_citation, handler)
    assert capture.protected and capture.url == ""
    assert capture_address(protected_citation, handler, trigger=capture.trigger) == (
        protected_citation.protected_url, True)
    # Asking again while it waits does not queue a second one.
    assert request_capture(protected_citation, handler).pk == capture.pk


def test_request_capture_refuses_outsider_and_citation_without_address(citation, outsider,
                                                                       reporter):
    with pytest.raises(CaptureError) as refused:
        request_capture(citation, outsider)
    assert refused.value.code == errors.NOT_ALLOWED
    citation.url = ""
    citation.save()
    with pytest.raises(CaptureError) as refused:
        request_capture(citation, reporter)
    assert refused.value.code == errors.NO_ADDRESS


def test_run_capture_rechecks_handler_right(protected_citation, handler):
    capture = request_capture(protected_citation, handler)
    Membership.objects.filter(user=handler).update(can_handle_sources=False)
    capture = run_capture(capture.pk, options={"chromium": "/nonexistent"})
    assert capture.status == Capture.Status.FAILED
    assert capture.failure_code == errors.PROTECTED_ADDRESS
    assert not Evidence.objects.exists()


def test_run_capture_records_refused_address(case, reporter, elsewhere):
    citation = CitationFactory(claim=ClaimFactory(case=case),
                               url=elsewhere.url("/article.html"))
    capture = run_capture(request_capture(citation, reporter).pk)
    assert capture.status == Capture.Status.FAILED
    assert capture.failure_code == errors.LOOPBACK_ADDRESS
    assert "127.0.0.2" not in capture.failure_reason
    assert elsewhere.requests == []


# --- the commands ---------------------------------------------------------------------------------

@needs_chromium
def test_capture_command_now_prints_new_evidence(citation, reporter, pages, capsys):
    call_command("capture", str(citation.pk), "--user", "reporter", "--now")
    printed = json.loads(capsys.readouterr().out)
    capture = Capture.objects.get()
    assert printed["capture"] == capture.pk and printed["status"] == "done"
    assert printed["final_url"] == pages.url("/article.html")
    assert printed["timestamp"]["verified_at"]
    assert sorted(e["role"] for e in printed["evidence"]) == [
        "archive", "manifest", "pdf", "screenshot"]
    stored = {e.pk: e.sha256 for e in Evidence.objects.all()}
    assert {e["id"]: e["sha256"] for e in printed["evidence"]} == stored


def test_capture_command_refuses_with_code(protected_citation, reporter):
    with pytest.raises(CommandError, match=errors.PROTECTED_ADDRESS):
        call_command("capture", str(protected_citation.pk), "--user", "reporter", "--now")


@needs_chromium
def test_verify_evidence_passes_on_untouched_evidence(citation, reporter, article, case,
                                                      capsys):
    store_capture(citation.pk, reporter.pk, article)
    EvidenceFactory(case=case)
    call_command("verify_evidence", case.slug)
    out = capsys.readouterr().out
    assert "Checked 5 evidence files and 1 captures; 1 timestamps verified; 0 mismatches." in out


@needs_chromium
def test_verify_evidence_reports_changed_file(citation, reporter, article, case, capsys):
    capture = store_capture(citation.pk, reporter.pk, article)
    screenshot = _files(capture)["screenshot"]
    Path(screenshot.file.path).write_bytes(b"not the screenshot")
    uploaded = EvidenceFactory(case=case)
    Path(uploaded.file.path).write_bytes(b"edited after upload")
    with pytest.raises(CommandError) as failed:
        call_command("verify_evidence")
    assert failed.value.returncode == 1
    assert "3 mismatches" in str(failed.value)
    err = capsys.readouterr().err
    assert f"[hash_mismatch] evidence {screenshot.pk} “{screenshot.original_name}”" in err
    assert f"[hash_mismatch] evidence {uploaded.pk}" in err
    assert f"[manifest_mismatch] capture {capture.pk}" in err


@needs_chromium
def test_verify_evidence_reports_token_over_another_hash(citation, reporter, article, tsa,
                                                         capsys):
    capture = store_capture(citation.pk, reporter.pk, article)
    other = stamp(b"another manifest", [tsa.url], ca_file=tsa.ca_file)
    Capture.objects.filter(pk=capture.pk).update(timestamp_token=other.token)
    with pytest.raises(CommandError) as failed:
        call_command("verify_evidence")
    assert failed.value.returncode == 1
    assert f"[timestamp_invalid] capture {capture.pk}" in capsys.readouterr().err


@needs_chromium
def test_verify_evidence_notes_capture_without_timestamp(citation, reporter, article,
                                                         capsys):
    import dataclasses

    unstamped = dataclasses.replace(article, timestamp=None, workdir=None,
                                    timestamp_error="No Time-Stamp Authority answered.")
    capture = store_capture(citation.pk, reporter.pk, unstamped)
    call_command("verify_evidence")
    out = capsys.readouterr().out
    assert f"NOTE [not_timestamped] capture {capture.pk}" in out
    assert "No Time-Stamp Authority answered." in out
    assert "0 mismatches" in out


def test_verify_evidence_refuses_unknown_case(db):
    with pytest.raises(CommandError, match="No case"):
        call_command("verify_evidence", "no-such-case")


def test_capture_warc_keeps_compressed_body_as_sent(pages, tmp_path):
    """Not a browser test: the archive module's records, read back with warcio."""
    from capture.archive import WarcRecorder
    from capture.network import AddressPolicy, Budget, Limits, Outgoing, fetch

    [exchange] = fetch(Outgoing(pages.url("/gzipped")), AddressPolicy.from_setting("127.0.0.1"),
                       Budget(Limits()))
    target = tmp_path / "t.warc.gz"
    recorder = WarcRecorder(target, info={})
    recorder.record(exchange)
    recorder.close()
    with target.open("rb") as handle:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-IP-Address"),
                    r.http_headers.get_header("Content-Encoding") if r.http_headers else None,
                    r.raw_stream.read())
                   for r in ArchiveIterator(handle)]
    assert sorted(r[0] for r in records) == ["request", "response", "warcinfo"]
    [(_, address, encoding, body)] = [r for r in records if r[0] == "response"]
    assert address == "127.0.0.1"
    assert encoding == "gzip"
    assert gzip.decompress(body).startswith(b"<!DOCTYPE html>")
