"""A cited address that serves a file rather than a page (a PDF report, a spreadsheet sent as
an attachment): captured as that file, byte for byte, beside the WACZ of the exchange, listed
with its SHA-256 in the timestamped manifest and stored as evidence of the case with its
custody log; bounded by CAPTURE_MAX_BYTES like any capture (`too_large` beyond). Served by
the test page server (tests/pages/server.py), captured with Debian's Chromium."""

import hashlib
import io
import json
import zipfile

import pytest
from django.core.management import call_command
from pypdf import PdfReader
from warcio.archiveiterator import ArchiveIterator

from capture import errors
from capture.archive import check_wacz
from capture.domain import request_capture, run_capture
from capture.engine import capture_page
from capture.errors import CaptureError
from capture.models import Capture
from capture.network import Limits
from capture.timestamps import verify_token
from cases.models import CustodyEntry

from .capture_helpers import files_of, needs_chromium
from .factories import CitationFactory, ClaimFactory, SourceFactory
from .pages.server import REPORT_PDF, REPORT_TEXT

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = [needs_chromium, pytest.mark.usefixtures("live_capture_settings")]

REPORT = "/reports/dam-inspection.pdf"


def _responses(wacz_path) -> dict[str, bytes]:
    with zipfile.ZipFile(wacz_path) as package:
        [warc] = [n for n in package.namelist() if n.startswith("archive/")]
        data = package.read(warc)
    return {record.rec_headers.get_header("WARC-Target-URI"): record.content_stream().read()
            for record in ArchiveIterator(io.BytesIO(data)) if record.rec_type == "response"}


def test_capture_page_keeps_pdf_as_served(pages):
    with capture_page(pages.url(REPORT), allowed_hosts=["127.0.0.1"]) as result:
        assert [f.role for f in result.files] == ["archive", "file", "manifest"]
        served = result.file("file")
        assert served.path.read_bytes() == REPORT_PDF
        assert served.sha256 == hashlib.sha256(REPORT_PDF).hexdigest()
        assert served.name.endswith("-dam-inspection.pdf")
        assert (result.http_status, result.title) == (200, "dam-inspection.pdf")
        assert result.manifest["kind"] == "file"
        listed = {entry["name"]: entry for entry in result.manifest["files"]}
        assert listed[served.name] == {"name": served.name, "media_type": "application/pdf",
                                       "size": len(REPORT_PDF), "sha256": served.sha256}
        # The WACZ holds the exchange, so that it replays, and its own hashes hold.
        wacz = result.file("archive").path
        assert check_wacz(wacz) == []
        assert _responses(wacz)[pages.url(REPORT)] == REPORT_PDF
        assert REPORT_TEXT in PdfReader(io.BytesIO(served.path.read_bytes())).pages[0] \
            .extract_text()


def test_capture_page_keeps_attachment_under_its_name(pages):
    with capture_page(pages.url("/download"), allowed_hosts=["127.0.0.1"]) as result:
        served = result.file("file")
        assert served.name.endswith("-figures.csv")
        assert served.path.read_bytes() == b"col1,col2\n1,2\n"
        assert served.media_type == "text/csv"


def test_capture_page_refuses_file_over_the_size_limit(pages):
    with pytest.raises(CaptureError) as refused:
        capture_page(pages.url(REPORT), allowed_hosts=["127.0.0.1"],
                     limits=Limits(max_bytes=len(REPORT_PDF) // 2))
    assert refused.value.code == errors.TOO_LARGE


def test_cited_pdf_is_stored_as_evidence_with_hash_custody_and_timestamp(case, reporter,
                                                                        pages, tsa, capsys):
    claim = ClaimFactory(case=case, statement="The dam's gauges were switched off.")
    citation = CitationFactory(claim=claim, source=SourceFactory(case=case, name="Rosvodresursy"),
                               url=pages.url(REPORT))

    capture = run_capture(request_capture(citation, reporter).pk)

    assert capture.status == Capture.Status.DONE
    files = files_of(capture)
    assert set(files) == {"archive", "file", "manifest"}
    report = files["file"]
    assert report.content_type == "application/pdf"
    assert report.sha256 == report.original_sha256 == hashlib.sha256(REPORT_PDF).hexdigest()
    assert report.file.open("rb").read() == REPORT_PDF
    assert (report.claim_id, report.origin_url) == (claim.pk, pages.url(REPORT))
    [collected] = report.custody.filter(action=CustodyEntry.Action.COLLECTED)
    assert report.sha256 in collected.note and capture.manifest_sha256 in collected.note
    manifest = json.loads(files["manifest"].file.open("rb").read())
    assert {e["name"]: e["sha256"] for e in manifest["files"]}[report.original_name] == \
        report.sha256
    assert verify_token(bytes(capture.timestamp_token), capture.manifest_sha256,
                        capture.tsa_chain_pem) == capture.timestamped_at
    # verify_evidence expects a file capture's three files, not a page's four.
    call_command("verify_evidence")
    assert "1 timestamps verified; 0 mismatches." in capsys.readouterr().out


def test_cited_file_over_the_size_limit_fails_with_its_reason(case, reporter, pages,
                                                            settings):
    settings.CAPTURE_MAX_BYTES = len(REPORT_PDF) // 2
    citation = CitationFactory(claim=ClaimFactory(case=case),
                               source=SourceFactory(case=case), url=pages.url(REPORT))

    capture = run_capture(request_capture(citation, reporter).pk)

    assert (capture.status, capture.failure_code) == (Capture.Status.FAILED, errors.TOO_LARGE)
    assert not capture.files.exists()
