"""A real web server for the capture tests: this folder's pages over HTTP from a thread.

`PageServer("127.0.0.1")` serves the files beside this module, and a few addresses made for
the tests:

- `/redirect?to=URL` answers 302 to URL;
- `/gzipped` answers an HTML page gzip-encoded;
- `/embeds?src=URL` answers a page whose image is URL (another host's, say);
- `/socket?to=URL` answers a page whose script opens a WebSocket to URL;
- `/download` answers a file to save (Content-Disposition: attachment), not a page;
- `/reports/dam-inspection.pdf` answers a PDF document (REPORT_PDF), as a cited report is.

`requests` lists every path asked for, in order, so a test can show that a server was never
reached.
"""

from __future__ import annotations

import functools
import gzip
import html
import http.server
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).resolve().parent

GZIPPED_PAGE = ("<!DOCTYPE html><html><head><title>Compressed report</title></head><body>"
                "<p>This report travelled gzip-encoded.</p></body></html>")


def _pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII), written by hand: a header, five objects, their
    cross-reference table, so that a PDF reader opens it and a type check sees a PDF."""
    stream = f"BT /F1 18 Tf 40 140 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


REPORT_TEXT = "Rostov dam inspection: gauges switched off on 12 May"
REPORT_PDF = _pdf(REPORT_TEXT)


class _Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "CasedeskTestPages/1"

    def do_GET(self):
        self.server.requests.append(self.path)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path == "/gzipped":
            return self._send(gzip.compress(GZIPPED_PAGE.encode()), "text/html; charset=utf-8",
                              encoding="gzip")
        if parts.path == "/embeds":
            src = html.escape(query["src"][0])
            page = (f"<!DOCTYPE html><html><head><title>Embedding page</title></head><body>"
                    f"<p>An image from elsewhere:</p><img src=\"{src}\" alt=\"x\"></body></html>")
            return self._send(page.encode(), "text/html; charset=utf-8")
        if parts.path == "/socket":
            to = html.escape(query["to"][0])
            page = (f"<!DOCTYPE html><html><head><title>Live page</title></head><body>"
                    f"<p id=\"to\" data-to=\"{to}\">Live updates</p>"
                    f"<script src=\"/socket.js\"></script></body></html>")
            return self._send(page.encode(), "text/html; charset=utf-8")
        if parts.path == "/reports/dam-inspection.pdf":
            return self._send(REPORT_PDF, "application/pdf")
        if parts.path == "/download":
            return self._send(b"col1,col2\n1,2\n", "text/csv",
                              disposition="attachment; filename=figures.csv")
        return super().do_GET()

    def _send(self, body: bytes, content_type: str, *, encoding: str = "",
              disposition: str = ""):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if disposition:
            self.send_header("Content-Disposition", disposition)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class PageServer:
    def __init__(self, host: str = "127.0.0.1"):
        handler = functools.partial(_Handler, directory=str(PAGES))
        self._server = http.server.ThreadingHTTPServer((host, 0), handler)
        self._server.requests = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.host = host
        self.port = self._server.server_address[1]
        self.origin = f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def url(self, path: str) -> str:
        return f"{self.origin}/{path.lstrip('/')}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
