"""The capture tests' helpers and constants (their fixtures: tests/capture_fixtures.py, a
pytest plugin that is never imported directly, so that pytest can rewrite its asserts).

- `needs_chromium`: skips, saying why, where Debian's Chromium is not installed;
- `capture_result()` / `stored_capture()`: what capture_page() returns, made without a
  browser, and stored as the capture task stores it; `files_of(capture)`: role → Evidence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from capture.domain import store_capture
from capture.engine import CapturedFile, CaptureResult, manifest_bytes
from capture.models import Capture
from capture.timestamps import stamp
from cases.models import Evidence

from .factories import pdf_document

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"No Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install "
           "chromium) to run the capture tests.")

ADDRESS = "https://161.ru/text/incidents/2025/05/13/deserters.html"
TITLE = "Ten deserters flee Rostov training ground"
CAPTURED_AT = dt.datetime(2025, 5, 13, 14, 2, 9, tzinfo=dt.UTC)


def capture_result(tmp_path: Path, url: str, *, tsa=None, title: str = TITLE,
                   captured_at=CAPTURED_AT) -> CaptureResult:
    """What capture_page() returns for `url`, made here: a WACZ holding a datapackage, a
    full-page PNG, a PDF and the manifest listing them, timestamped by `tsa` if given."""
    folder = tmp_path / f"capture-{captured_at:%H%M%S}"
    folder.mkdir()
    wacz = folder / "page.wacz"
    with zipfile.ZipFile(wacz, "w") as package:
        datapackage = json.dumps({"title": title, "resources": []}).encode()
        package.writestr("datapackage.json", datapackage)
        package.writestr("datapackage-digest.json", json.dumps(
            {"path": "datapackage.json",
             "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest()}))
    png = folder / "page.png"
    Image.new("RGB", (1280, 2400), (250, 240, 200)).save(png)
    pdf = folder / "page.pdf"
    pdf.write_bytes(pdf_document())

    def listed(role, path):
        data = path.read_bytes()
        return CapturedFile(role, path.name, path, len(data), hashlib.sha256(data).hexdigest())

    files = [listed("archive", wacz), listed("screenshot", png), listed("pdf", pdf)]
    manifest = {"format": "casedesk-capture-manifest/1", "url": url, "final_url": url,
                "http_status": 200, "title": title,
                "captured_at": captured_at.isoformat().replace("+00:00", "Z"),
                "files": [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in files]}
    data = manifest_bytes(manifest)
    manifest_path = folder / "page.manifest.json"
    manifest_path.write_bytes(data)
    files.append(listed("manifest", manifest_path))
    result = CaptureResult(url=url, final_url=url, http_status=200,
                           response_headers=[("content-type", "text/html")], title=title,
                           captured_at=captured_at, files=files, manifest=manifest,
                           manifest_bytes=data, manifest_sha256=hashlib.sha256(data).hexdigest(),
                           worker="desk-worker:4242")
    if tsa is not None:
        result.timestamp = stamp(data, [tsa.url], ca_file=tsa.ca_file)
    return result


def stored_capture(citation, user, tmp_path, *, tsa=None, **kwargs) -> Capture:
    """A done capture of `citation` asked for by `user`, stored as the task stores one."""
    address = citation.url or citation.protected_url
    return store_capture(citation.pk, user.pk,
                         capture_result(tmp_path, address, tsa=tsa, **kwargs))


def files_of(capture) -> dict[str, Evidence]:
    return {f.role: f.evidence for f in capture.files.select_related("evidence")}
