"""The server `make fuzz` attacks: gunicorn with production settings on a PostgreSQL database
of its own, and what its logs say afterwards.

The database (FUZZ_DATABASE_URL; its name must contain "fuzz", since it is dropped) is made anew
on every run: migrated, seeded with the demo case (`seed_demo`) and the fuzzer's records
(fuzz/fixtures.py). The server runs with the throwaway production environment of
config/production_env.py (DEBUG off, a SECRET_KEY and an encryption key made for this run), a
Redis database of its own (FUZZ_CACHE_URL), collected static files, and HTTPS with a certificate
made for this run (the scan's, scan/run.py): production's cookies are Secure and its HTTP
requests are redirected. gunicorn.conf.py's sync workers (FUZZ_WORKERS, default two) and
timeout, so a request that keeps a worker too long is a worker timeout, as in production (a
gthread worker keeps its heartbeat while a thread is stuck). The access log records each
request's X-Fuzz-Id and X-Fuzz-Target; the error log (fuzz/settings.py) names the X-Fuzz-Id of
each traceback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCESS_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(L)s "%({x-fuzz-id}i)s" "%({x-fuzz-target}i)s"'
_ACCESS_LINE = re.compile(r'" (?P<status>\d{3}) \S+ (?P<seconds>[\d.]+) "(?P<id>[^"]*)" '
                          r'"(?P<target>[^"]*)"$')


def production_env(tmp: Path, *, port: int, database_url: str, cache_url: str,
                   password: str) -> dict[str, str]:
    from config.production_env import throwaway_production_env

    (tmp / "evidence").mkdir(mode=0o700, exist_ok=True)
    return throwaway_production_env(
        database_url=database_url,
        static_root=tmp / "static",
        evidence_root=tmp / "evidence",
        https_origin=f"https://127.0.0.1:{port}",
        cache_url=cache_url,
        settings_module="fuzz.settings",
        CASEDESK_ALLOW_DEMO="true",
        DEMO_PASSWORD=password,
        WEB_CONCURRENCY=os.environ.get("FUZZ_WORKERS", "2"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_ACCESS_LOG=str(tmp / "access.log"),
        # The mails the fuzz makes happen (new handlers, say) go nowhere.
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        PYTHONUNBUFFERED="1",
    )


def recreate_database(url: str) -> None:
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    name = config["NAME"]
    if "fuzz" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'fuzz'")
    with psycopg.connect(host=config.get("HOST") or None, port=config.get("PORT") or None,
                         user=config.get("USER") or None,
                         password=config.get("PASSWORD") or None, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Server:
    tmp: Path
    port: int
    env: dict[str, str]
    cert: Path
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def start(self) -> None:
        key = self.tmp / "tls" / "key.pem"
        self.log = open(self.tmp / "server.log", "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--certfile", str(self.cert), "--keyfile", str(key),
             "--access-logformat", ACCESS_FORMAT],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self._wait_up()

    def _wait_up(self, timeout: float = 60) -> None:
        import ssl

        context = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early ({self.process.returncode}); see "
                                   f"{self.tmp / 'server.log'}")
            try:
                with urllib.request.urlopen(self.base + "healthz", timeout=2,
                                            context=context) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "log", None) is not None:
            self.log.close()


# --- what the logs say ----------------------------------------------------------------------

# Frames that say where the plumbing broke, not which feature: skipped when naming a cause.
_PLUMBING = ("/django/db/", "/django/utils/", "/django/core/", "/django/views/decorators/",
             "/django/contrib/admin/sites.py", "/django/template/", "/django/forms/")
_RECORD_START = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|\[\d{4}-\d\d-\d\d )")
_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|DoesNotExist|Interrupt)\b|^[\w.]+: ")


@dataclass
class ServerException:
    fuzz_id: str
    summary: str  # the logger's message line
    exception: str  # the exception's last line (the one the request died of)
    frames: list[str] = field(default_factory=list)  # the telling frames of its traceback

    @property
    def signature(self) -> str:
        where = self.frames[-1] if self.frames else "?"
        return f"{self.exception.split(':', 1)[0]} at {where}"


def _telling(frames: list[str]) -> list[str]:
    """Our code's frames; else those of the library or Django app that failed."""
    ours = [f for f in frames if "/site-packages/" not in f]
    if ours:
        return ours[-3:]
    return [f for f in frames if not any(p in f for p in _PLUMBING)][-3:] or frames[-1:]


def server_exceptions(log: Path) -> tuple[list[ServerException], int]:
    """The unhandled exceptions of the server log (Django's "Internal Server Error", and
    gunicorn's own "Error handling request" for a response that failed while streaming) and
    the count of worker timeouts."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    found: list[ServerException] = []
    for i, line in enumerate(lines):
        head = re.search(r"\[fuzz-id ([^\]]*)\] (Internal Server Error.*)", line)
        gunicorn = "Error handling request" in line and "(no URI read)" not in line
        if not head and not gunicorn:
            continue
        block = []
        for later in lines[i + 1:i + 2000]:
            if _RECORD_START.match(later):
                break
            block.append(later)
        starts = [n for n, b in enumerate(block) if b.startswith("Traceback (most recent")]
        last = block[starts[-1]:] if starts else block
        frames = [b.strip() for b in last if b.startswith("  File ")]
        exceptions = [b.strip() for b in last if _EXCEPTION_LINE.match(b)]
        found.append(ServerException(head.group(1) if head else "-",
                                     head.group(2) if head else line.strip(),
                                     exceptions[-1] if exceptions else "?", _telling(frames)))
    return found, sum("WORKER TIMEOUT" in line for line in lines)


def access_counts(log: Path) -> dict[str, Counter]:
    """X-Fuzz-Target → answers by status, as the server logged them."""
    counts: dict[str, Counter] = {}
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if match := _ACCESS_LINE.search(line):
            counts.setdefault(match["target"], Counter())[int(match["status"])] += 1
    return counts
