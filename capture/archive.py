"""The archive of what the browser loaded: WARC records (warcio), packaged as a WACZ (py-wacz).

Each HTTP exchange of a capture (capture/network.py) becomes a request record and a
response record, the response with its headers and its body as received (still gzip- or
deflate-encoded when the server sent it so: replay tools decode it). A redirect hop is an
exchange like any other, so the archive replays the way the browser went.

py-wacz indexes the WARC with cdxj-indexer and writes `datapackage.json` (every file of the
package with its SHA-256) and `datapackage-digest.json` (the SHA-256 of datapackage.json).
It prints progress, which is kept out of the caller's output (the capture command prints
JSON). It reads nothing from the network.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from . import errors
from .errors import CaptureError
from .network import Exchange

SOFTWARE = "Casedesk web capture"


def _warc_date(epoch: float) -> str:
    return datetime_to_iso_date(datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None),
                                use_micros=True)


class WarcRecorder:
    """Appends exchanges to one gzipped WARC file."""

    def __init__(self, path: Path, *, info: dict[str, str]):
        self.path = path
        self._file = path.open("wb")
        self._writer = WARCWriter(self._file, gzip=True)
        self.count = 0
        self._writer.write_record(self._writer.create_warcinfo_record(
            path.name, {"software": SOFTWARE, "format": "WARC File Format 1.1", **info}))

    def record(self, exchange: Exchange) -> None:
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        date = _warc_date(exchange.started)
        request = self._writer.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=StatusAndHeaders(f"{exchange.method} {target} HTTP/1.1",
                                          list(exchange.request_headers),
                                          is_http_request=True),
            warc_headers_dict={"WARC-Date": date})
        response_warc_headers = {"WARC-Date": date}
        if exchange.remote_address:
            response_warc_headers["WARC-IP-Address"] = exchange.remote_address
        response = self._writer.create_warc_record(
            exchange.url, "response", payload=io.BytesIO(exchange.raw_body),
            length=len(exchange.raw_body),
            http_headers=StatusAndHeaders(f"{exchange.status} {exchange.reason}".strip(),
                                          list(exchange.response_headers),
                                          protocol="HTTP/1.1"),
            warc_headers_dict=response_warc_headers)
        self._writer.write_request_response_pair(request, response)
        self.count += 1

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def package_wacz(warc: Path, output: Path, *, main: Exchange, title: str, text: str,
                 pages_dir: Path) -> None:
    """Package `warc` as the WACZ `output`, with one page: the captured one (`main`, the
    exchange that answered it), its title and visible text for a replay tool's search."""
    from wacz.main import main as wacz_main  # imported on use: it is slow to import

    pages = pages_dir / "pages.jsonl"
    header = {"format": "json-pages-1.0", "id": "pages", "title": "Pages"}
    main_url = main.url
    # The page's time is its response record's, so py-wacz matches the page to that record.
    page = {"url": main_url, "ts": _warc_date(main.started), "title": title or main_url,
            "text": text}
    pages.write_text(json.dumps(header) + "\n" + json.dumps(page, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            status = wacz_main(["create", "-o", str(output), "--pages", str(pages),
                                "--url", main_url, "--title", title or main_url, str(warc)])
    except Exception as exc:  # py-wacz raises whatever its indexer met
        raise CaptureError(errors.PACKAGING_FAILED,
                           _("The archive could not be packaged as WACZ.")) from exc
    if status != 0 or not output.exists():
        raise CaptureError(errors.PACKAGING_FAILED,
                           _("The archive could not be packaged as WACZ."))


def read_datapackage(wacz: Path | io.BytesIO) -> dict:
    with zipfile.ZipFile(wacz) as package:
        return json.loads(package.read("datapackage.json"))


def check_wacz(wacz) -> list[str]:
    """What is wrong with a WACZ's own hashes: each file datapackage.json lists must have
    its SHA-256, and datapackage-digest.json must hold datapackage.json's. Empty when
    sound."""
    import hashlib

    problems = []
    try:
        with zipfile.ZipFile(wacz) as package:
            raw = package.read("datapackage.json")
            data = json.loads(raw)
            for resource in data.get("resources", []):
                try:
                    content = package.read(resource["path"])
                except KeyError:
                    problems.append(f"{resource['path']} is listed but missing")
                    continue
                digest = "sha256:" + hashlib.sha256(content).hexdigest()
                if resource.get("hash") != digest:
                    problems.append(f"{resource['path']} does not match its SHA-256")
            digest = json.loads(package.read("datapackage-digest.json"))
            if digest.get("hash") != "sha256:" + hashlib.sha256(raw).hexdigest():
                problems.append("datapackage.json does not match datapackage-digest.json")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        problems.append(f"not a readable WACZ ({exc.__class__.__name__})")
    return problems
