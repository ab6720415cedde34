"""`capture_page()`: one page loaded in headless Chromium and kept as files.

The browser never reaches the network itself. It is started with a proxy that refuses every
connection (a port this process holds bound and never listens on) and a resolver that
resolves nothing; every request it makes is intercepted (Playwright's `route`) and made by
capture/network.py, which checks the address, follows and checks each redirect, counts
against the capture's limits, and hands back what was exchanged: that goes into the WARC,
and the body to the browser. A request that is refused is aborted in the browser and
listed in the manifest with its code. WebSockets are closed unopened; service workers and
downloads are off; pages the page opens are closed.

The page's own address is fetched before the browser goes to it, so that its redirects
are checked (and refused) before anything loads; the browser then goes to the final
address and is given that answer.

An address that answers with a file rather than a page (a PDF, a spreadsheet, an image, or
anything sent as an attachment) is captured as that file: the bytes as served, kept whole
beside the WACZ that holds the exchange, with no screenshot or print (there is no page to
render). Its size is bounded like any capture's (CAPTURE_MAX_BYTES: `too_large` beyond).

The result (CaptureResult) holds the files in a temporary folder: the WACZ, a full-page PNG
screenshot and a PDF of the page as rendered on screen (or the file served), and the
manifest (JSON: the address, the final address, the status, the title, the time, every
file's name, size and SHA-256, the resources refused; `"kind": "file"` for a file).
Its `cleanup()` removes the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from django.utils.translation import gettext as _

from . import errors
from .archive import WarcRecorder, package_wacz
from .errors import CaptureError
from .network import AddressPolicy, Budget, Exchange, Limits, Outgoing, Proxy, fetch

CHROMIUM = "/usr/bin/chromium"
MANIFEST_FORMAT = "casedesk-capture-manifest/1"
VIEWPORT = {"width": 1280, "height": 900}
# Kept for the screenshot, the PDF and the packaging once the page has loaded, whatever the
# page took of the time limit.
RENDER_SECONDS = 30.0
# The page's visible text kept in the WACZ's page list (for search in a replay tool).
PAGE_TEXT_LIMIT = 500_000

ROLE_ARCHIVE, ROLE_SCREENSHOT, ROLE_PDF, ROLE_MANIFEST = "archive", "screenshot", "pdf", "manifest"
#: The file an address served instead of a page, as served.
ROLE_FILE = "file"
MEDIA_TYPES = {ROLE_ARCHIVE: "application/wacz", ROLE_SCREENSHOT: "image/png",
               ROLE_PDF: "application/pdf", ROLE_MANIFEST: "application/json",
               ROLE_FILE: "application/octet-stream"}
#: What a browser shows as a page; any other answer is captured as a file.
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True)
class CapturedFile:
    role: str  # archive, screenshot, pdf, manifest, file
    name: str
    path: Path
    size: int
    sha256: str
    # A served file's type as the server declared it (the stored one is detected anew).
    declared_type: str = ""

    @property
    def media_type(self) -> str:
        return self.declared_type or MEDIA_TYPES[self.role]


@dataclass
class CaptureResult:
    url: str
    final_url: str
    http_status: int
    response_headers: list[tuple[str, str]]
    title: str
    captured_at: datetime
    files: list[CapturedFile]  # archive, screenshot, pdf, manifest
    manifest: dict
    manifest_bytes: bytes
    manifest_sha256: str
    refused: list[dict] = field(default_factory=list)
    worker: str = ""
    workdir: Path | None = None
    # A capture.timestamps.Timestamp once a Time-Stamp Authority has answered, or why none
    # did.
    timestamp: object | None = None
    timestamp_error: str = ""

    def file(self, role: str) -> CapturedFile:
        return next(f for f in self.files if f.role == role)

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cleanup()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def normalize_url(url: str) -> str:
    """The address as a browser writes it: scheme and host in lower case, no default port,
    a path, no fragment."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise CaptureError(errors.INVALID_URL, _("The address cannot be read.")) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def manifest_bytes(manifest: dict) -> bytes:
    """The manifest as stored and timestamped: sorted keys, so the same content is the same
    bytes."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def capture_page(url: str, *, allowed_hosts=(), proxy: str | None = None,
                 limits: Limits | None = None, chromium: str = CHROMIUM) -> CaptureResult:
    """Capture `url`. Raises CaptureError with its code when the address is refused (before
    any browser starts), or when the page cannot be captured at all; resources the page
    asks for that are refused or fail are listed in the result instead."""
    limits = limits or Limits()
    proxy_config = Proxy.parse(proxy)
    policy = AddressPolicy.from_setting(allowed_hosts, resolve=proxy_config is None)
    url = normalize_url(url)
    policy.check(url)
    if not Path(chromium).exists():
        raise CaptureError(errors.BROWSER_FAILED,
                           _("No Chromium at %(path)s.") % {"path": chromium})
    workdir = Path(tempfile.mkdtemp(prefix="casedesk-capture-"))
    try:
        session = _Session(url, policy, proxy_config, limits, chromium, workdir)
        return asyncio.run(session.run())
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


class _Session:
    def __init__(self, url, policy, proxy, limits, chromium, workdir):
        self.url, self.policy, self.proxy = url, policy, proxy
        self.limits, self.chromium, self.workdir = limits, chromium, workdir
        self.budget = Budget(limits)
        self.captured_at = datetime.now(UTC).replace(microsecond=0)
        self.stem = f"capture-{self.captured_at:%Y%m%dT%H%M%SZ}"
        self.recorder = WarcRecorder(workdir / f"{self.stem}.warc.gz",
                                     info={"isPartOf": self.stem})
        self.refused: list[dict] = []
        self.main_chain: list[Exchange] = []
        self.prefetched: Exchange | None = None
        # Main-frame navigations the page made itself: the address asked → its final answer.
        self.navigations: dict[str, Exchange] = {}
        self.page = None

    # --- the browser's requests ---------------------------------------------------------------

    def _note(self, url: str, code: str) -> None:
        if len(self.refused) < 1000:
            self.refused.append({"url": url[:2000], "code": code})

    async def _handle(self, route) -> None:
        request = route.request
        main_navigation = False
        if request.is_navigation_request() and self.page is not None:
            try:
                main_navigation = request.frame == self.page.main_frame
            except Exception:  # a popup's first request has no frame yet: not the page's
                main_navigation = False
        try:
            if main_navigation and self.prefetched is not None:
                final, self.prefetched = self.prefetched, None
                self.navigations[request.url] = final
            else:
                headers = await request.all_headers()
                outgoing = Outgoing(request.url, request.method, tuple(headers.items()),
                                    request.post_data_buffer or b"")
                try:
                    exchanges = await asyncio.to_thread(fetch, outgoing, self.policy,
                                                        self.budget, self.proxy)
                except CaptureError as exc:
                    for exchange in getattr(exc, "exchanges", ()):
                        self.recorder.record(exchange)
                    self._note(request.url, exc.code)
                    await route.abort("blockedbyclient" if exc.is_refusal else "failed")
                    return
                for exchange in exchanges:
                    self.recorder.record(exchange)
                final = exchanges[-1]
                if main_navigation:
                    self.navigations[request.url] = final
            try:
                body = final.decoded_body(self.budget)
            except CaptureError as exc:
                self._note(request.url, exc.code)
                await route.abort("failed")
                return
            await route.fulfill(status=final.status, headers=final.headers_for_browser(),
                                body=body)
        except Exception as exc:
            if _is_playwright_error(exc):
                return  # the page went away while this was answered
            # Never leave the browser waiting on an answer that will not come.
            with contextlib.suppress(Exception):
                await route.abort("failed")
            raise

    async def _close_socket(self, websocket) -> None:
        self._note(websocket.url, errors.WEBSOCKET_NOT_CAPTURED)
        with contextlib.suppress(Exception):
            await websocket.close()

    # --- the session --------------------------------------------------------------------------

    async def run(self) -> CaptureResult:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import async_playwright

        # A port held bound and never listened on: the browser's proxy, so any request that
        # escaped interception is refused by the kernel, not sent.
        dead_end = socket.socket()
        dead_end.bind(("127.0.0.1", 0))
        dead_port = dead_end.getsockname()[1]
        args = ["--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--dns-prefetch-disable",
                f"--proxy-server=http://127.0.0.1:{dead_port}",
                "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox cannot run as root
        try:
            async with async_playwright() as playwright:
                try:
                    browser = await playwright.chromium.launch(
                        executable_path=self.chromium, args=args, timeout=30_000)
                except PlaywrightError as exc:
                    raise CaptureError(errors.BROWSER_FAILED,
                                       _("The browser could not be started.")) from exc
                try:
                    return await self._capture(browser)
                finally:
                    with contextlib.suppress(Exception):
                        await browser.close()
        finally:
            dead_end.close()
            self.recorder.close()

    async def _capture(self, browser) -> CaptureResult:
        from playwright.async_api import Error as PlaywrightError

        user_agent = (await _user_agent(browser)).replace("HeadlessChrome", "Chrome")
        context = await browser.new_context(
            viewport=VIEWPORT, user_agent=user_agent, accept_downloads=False,
            service_workers="block", java_script_enabled=True)
        await context.route("**/*", self._handle)
        await context.route_web_socket(lambda _url: True, self._close_socket)
        page = await context.new_page()
        self.page = page
        context.on("page", lambda other: asyncio.ensure_future(_close_other(other, page)))

        # The page's own address first: refused or unreachable, there is no capture.
        headers = (("user-agent", user_agent),
                   ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,"
                              "*/*;q=0.8"),
                   ("upgrade-insecure-requests", "1"))
        self.main_chain = await asyncio.to_thread(
            fetch, Outgoing(self.url, "GET", headers), self.policy, self.budget, self.proxy)
        for exchange in self.main_chain:
            self.recorder.record(exchange)
        final = self.main_chain[-1]
        if is_file_answer(final):
            with contextlib.suppress(Exception):
                await context.close()
            return await self._file_capture(final, browser.version)
        self.prefetched = final

        load_seconds = max(5.0, self.budget.remaining())
        try:
            await page.goto(final.url, wait_until="domcontentloaded",
                            timeout=load_seconds * 1000)
        except PlaywrightError as exc:
            text = str(exc)
            if "Download is starting" in text:
                raise CaptureError(errors.DOWNLOAD_REFUSED,
                                   _("The address is a file to download, not a page.")) from None
            if "Timeout" in text:
                raise CaptureError(errors.TIMEOUT,
                                   _("The page did not load in time.")) from None
            raise CaptureError(errors.BROWSER_FAILED,
                               _("The browser could not show the page.")) from exc
        await self._settle(page)

        title = (await page.title())[:1000]
        text = await page.evaluate("() => document.body ? document.body.innerText : ''")
        final_exchange = self.navigations.get(page.url) or final
        stem, workdir = self.stem, self.workdir
        render_ms = RENDER_SECONDS * 1000
        screenshot = workdir / f"{stem}.png"
        pdf = workdir / f"{stem}.pdf"
        try:
            await page.screenshot(path=str(screenshot), full_page=True, type="png",
                                  timeout=render_ms)
            await page.emulate_media(media="screen")
            await page.pdf(path=str(pdf), print_background=True, format="A4")
        except PlaywrightError as exc:
            raise CaptureError(errors.BROWSER_FAILED,
                               _("The page could not be photographed or printed.")) from exc
        with contextlib.suppress(Exception):
            await context.close()
        self.recorder.close()

        wacz = workdir / f"{stem}.wacz"
        await asyncio.to_thread(package_wacz, self.recorder.path, wacz,
                                main=final_exchange, title=title,
                                text=(text or "")[:PAGE_TEXT_LIMIT], pages_dir=workdir)
        files = [_file(ROLE_ARCHIVE, wacz), _file(ROLE_SCREENSHOT, screenshot),
                 _file(ROLE_PDF, pdf)]
        return self._finish(final_exchange, title, files, browser.version, kind="page")

    async def _file_capture(self, final: Exchange, browser_version: str) -> CaptureResult:
        """The address answered with a file: kept as served (decoded from its transfer
        encoding), beside the WACZ of the exchange, and listed in the manifest."""
        body = final.decoded_body(self.budget)
        name = f"{self.stem}-{served_name(final)}"
        served = self.workdir / name
        served.write_bytes(body)
        self.recorder.close()
        wacz = self.workdir / f"{self.stem}.wacz"
        title = served_name(final)
        await asyncio.to_thread(package_wacz, self.recorder.path, wacz, main=final,
                                title=title, text="", pages_dir=self.workdir)
        declared = final.header("content-type").split(";")[0].strip().lower()
        files = [_file(ROLE_ARCHIVE, wacz),
                 _file(ROLE_FILE, served, declared_type=declared or MEDIA_TYPES[ROLE_FILE])]
        return self._finish(final, title, files, browser_version, kind="file")

    def _finish(self, final: Exchange, title: str, files: list[CapturedFile],
                browser_version: str, *, kind: str) -> CaptureResult:
        manifest = {
            "format": MANIFEST_FORMAT,
            "url": self.url,
            "final_url": final.url,
            "http_status": final.status,
            "title": title,
            "captured_at": self.captured_at.isoformat().replace("+00:00", "Z"),
            "redirects": [exchange.url for exchange in self.main_chain[:-1]],
            "files": [{"name": f.name, "media_type": f.media_type, "size": f.size,
                       "sha256": f.sha256} for f in files],
            "resources": {"requests": self.budget.resources, "bytes": self.budget.bytes,
                          "refused": self.refused},
            "software": {"name": "Casedesk", "browser": browser_version},
        }
        if kind != "page":
            manifest["kind"] = kind
        data = manifest_bytes(manifest)
        manifest_path = self.workdir / f"{self.stem}.manifest.json"
        manifest_path.write_bytes(data)
        files.append(_file(ROLE_MANIFEST, manifest_path))
        # Only the delivered files stay in the folder.
        for leftover in (self.recorder.path, self.workdir / "pages.jsonl"):
            leftover.unlink(missing_ok=True)
        return CaptureResult(
            url=self.url, final_url=final.url, http_status=final.status,
            response_headers=list(final.response_headers), title=title,
            captured_at=self.captured_at, files=files, manifest=manifest,
            manifest_bytes=data, manifest_sha256=hashlib.sha256(data).hexdigest(),
            refused=list(self.refused), worker=worker_name(), workdir=self.workdir)

    async def _settle(self, page) -> None:
        """Wait for the page to finish loading, scroll through it so that images loaded on
        scrolling load, and wait again; each wait bounded by what is left of the time."""
        from playwright.async_api import Error as PlaywrightError

        def left(cap: float) -> float:
            return max(0.0, min(cap, self.budget.remaining())) * 1000

        for state, cap in (("load", 30.0), ("networkidle", 10.0)):
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state(state, timeout=left(cap) or 1)
        with contextlib.suppress(PlaywrightError):
            await page.evaluate("""async () => {
                const step = window.innerHeight;
                for (let i = 0; i < 30 && window.scrollY + step < document.body.scrollHeight;
                     i++) {
                    window.scrollBy(0, step);
                    await new Promise(r => setTimeout(r, 100));
                }
                window.scrollTo(0, 0);
            }""")
        with contextlib.suppress(PlaywrightError):
            await page.wait_for_load_state("networkidle", timeout=left(5.0) or 1)


def _file(role: str, path: Path, *, declared_type: str = "") -> CapturedFile:
    digest, size = sha256_of(path)
    return CapturedFile(role=role, name=path.name, path=path, size=size, sha256=digest,
                        declared_type=declared_type)


def is_file_answer(exchange: Exchange) -> bool:
    """Whether an answer is a file rather than a page: sent as an attachment, or of a type
    a browser does not show as a page. A redirect or an error page stays a page."""
    if not 200 <= exchange.status < 300:
        return False
    if exchange.header("content-disposition").split(";")[0].strip().lower() == "attachment":
        return True
    declared = exchange.header("content-type").split(";")[0].strip().lower()
    return bool(declared) and declared not in PAGE_TYPES


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def served_name(exchange: Exchange) -> str:
    """A file name for what an address served: the one its Content-Disposition gives, or
    the last part of its path, made safe (letters, digits, dot, dash, underscore)."""
    disposition = exchange.header("content-disposition")
    match = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)", disposition, re.IGNORECASE)
    name = unquote(match.group(1)) if match else unquote(urlsplit(exchange.url).path)
    name = _UNSAFE_NAME.sub("-", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(".-")
    return (name or "file")[-120:]


async def _user_agent(browser) -> str:
    page = await browser.new_page()
    try:
        return await page.evaluate("() => navigator.userAgent")
    finally:
        await page.close()


async def _close_other(other, main) -> None:
    if other is not main:
        with contextlib.suppress(Exception):
            await other.close()


def _is_playwright_error(exc: Exception) -> bool:
    from playwright.async_api import Error as PlaywrightError

    return isinstance(exc, PlaywrightError)
