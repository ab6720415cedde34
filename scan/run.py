"""`make scan`: a local security scan of Casedesk. Standard library only.

1. bandit over our code (cases/, config/; configuration and reasons in scan/bandit.yaml);
2. the app on 127.0.0.1 (SCAN_PORT, default 8799, or a free port) under gunicorn with
   DEBUG on, a fresh SQLite database in a temp dir, `migrate` and `seed_demo`, an access log;
3. one sign-in as the reporter (CSRF handled) whose session cookie is handed to wapiti;
4. wapiti, time-bounded, scoped to the site, the sign-out URL excluded, JSON report;
5. the verdict: exit 1 on any bandit finding, any wapiti vulnerability or anomaly, or any
   HTTP 5xx in the server's log. The server is always stopped.

Knobs (environment): SCAN_PORT, SCAN_MAX_SCAN_TIME (seconds, default 240),
SCAN_MAX_ATTACK_TIME (seconds per attack module, default 30), SCAN_MODULES, SCAN_KEEP=1 (keep
the temp dir with the reports and logs), SCAN_VENV (default .venv-scan), DEMO_PASSWORD.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
SCAN_BIN = ROOT / os.environ.get("SCAN_VENV", ".venv-scan") / "bin"
USERNAME = "reporter"
PASSWORD = os.environ.get("DEMO_PASSWORD", "casedesk-demo")
MAX_SCAN_TIME = os.environ.get("SCAN_MAX_SCAN_TIME", "240")
MAX_ATTACK_TIME = os.environ.get("SCAN_MAX_ATTACK_TIME", "30")
# wapiti's default modules minus `ssl` (the target is plain http on loopback) and `ssrf`
# (needs wapiti's external endpoint on the internet); plus csrf, methods, crlf, backup and
# htaccess, which are cheap.
MODULES = os.environ.get(
    "SCAN_MODULES",
    "cookieflags,csp,exec,file,http_headers,permanentxss,redirect,sql,upload,xss,"
    "csrf,methods,crlf,backup,htaccess",
)


def say(msg: str) -> None:
    print(f"[scan] {msg}", flush=True)


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


def run_bandit(tmp: Path) -> int:
    """Returns the number of bandit findings."""
    out = tmp / "bandit.json"
    cmd = [str(SCAN_BIN / "bandit"), "-c", "scan/bandit.yaml", "-r", "cases", "config",
           "-ll", "-f", "json", "-o", str(out), "-q"]
    say("bandit: " + " ".join(cmd[1:]))
    proc = subprocess.run(cmd, cwd=ROOT)
    if not out.exists():
        say(f"bandit failed to run (exit {proc.returncode})")
        return 1
    data = json.loads(out.read_text())
    totals = data["metrics"]["_totals"]
    files = len([k for k in data["metrics"] if k != "_totals"])
    say(f"bandit: {files} files, {totals['loc']} lines of code, "
        f"{len(data['results'])} findings (medium+ severity), {len(data['errors'])} errors")
    for r in data["results"]:
        say(f"  bandit {r['test_id']} {r['issue_severity']}/{r['issue_confidence']} "
            f"{r['filename']}:{r['line_number']}: {r['issue_text']}")
    for e in data["errors"]:
        say(f"  bandit error: {e}")
    return len(data["results"]) + len(data["errors"])


def wait_up(base: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early (exit {server.returncode})")
        try:
            with urllib.request.urlopen(base + "accounts/login/", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server did not answer in time")


def sign_in(base: str) -> dict[str, str]:
    """Signs in once as the reporter; returns the cookies (sessionid, csrftoken)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = base + "accounts/login/"
    with opener.open(login, timeout=10) as resp:
        page = resp.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not token:
        raise RuntimeError("no CSRF token on the sign-in page")
    body = urllib.parse.urlencode({
        "csrfmiddlewaretoken": token.group(1), "username": USERNAME, "password": PASSWORD,
        "next": "/",
    }).encode()
    req = urllib.request.Request(login, data=body, headers={"Referer": login})
    with opener.open(req, timeout=10) as resp:
        final = resp.geturl()
    cookies = {c.name: c.value for c in jar}
    if "sessionid" not in cookies or final.rstrip("/").endswith("/accounts/login"):
        raise RuntimeError(f"sign-in as {USERNAME} failed (ended at {final})")
    say(f"signed in as {USERNAME} (once); landed on {final}")
    return cookies


def still_signed_in(base: str, cookies: dict[str, str]) -> bool:
    req = urllib.request.Request(base, headers={
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return "/accounts/login/" not in resp.geturl()


def run_wapiti(base: str, cookies: dict[str, str], tmp: Path) -> tuple[int, dict]:
    report = tmp / "wapiti.json"
    # wapiti's JSON cookie file (wapitiCore.net.jsoncookie): {domain: {path: {name: attrs}}}.
    # (`-C "name=value"` is not enough: wapiti 3.2.3's cookie jar overrides that header.)
    cookie_file = tmp / "cookies.json"
    cookie_file.write_text(json.dumps({"127.0.0.1": {"/": {
        name: {"value": value, "expires": None, "secure": False, "port": None, "version": 0}
        for name, value in cookies.items()}}}))
    cmd = [
        str(SCAN_BIN / "wapiti"), "-u", base, "--scope", "folder",
        "-c", str(cookie_file),
        "-x", base + "accounts/logout/", "-x", base + "accounts/logout/*",
        "-m", MODULES,
        "--max-scan-time", MAX_SCAN_TIME, "--max-attack-time", MAX_ATTACK_TIME,
        "--flush-session", "--store-session", str(tmp / "wapiti-session"),
        "--store-config", str(tmp / "wapiti-config"),
        "-f", "json", "-o", str(report), "--no-bugreport", "-v", "1",
        "--log", str(tmp / "wapiti.log"),
    ]
    say("wapiti: " + " ".join(cmd[1:]))
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp, stdout=subprocess.DEVNULL)
    duration = time.monotonic() - started
    if not report.exists():
        say(f"wapiti produced no report (exit {proc.returncode})")
        return 1, {}
    data = json.loads(report.read_text())
    infos = data.get("infos", {})
    say(f"wapiti: exit {proc.returncode}, {duration:.0f} s, "
        f"{infos.get('crawled_pages_nbr', '?')} URLs crawled, modules: {MODULES}")
    findings = 0
    for kind in ("vulnerabilities", "anomalies", "additionals"):
        for category, entries in sorted(data.get(kind, {}).items()):
            if not entries:
                continue
            counted = kind != "additionals"  # additionals are informational
            findings += len(entries) if counted else 0
            say(f"  {kind[:-1] if kind != 'vulnerabilities' else 'vulnerability'}: "
                f"{category}: {len(entries)}{'' if counted else ' (informational)'}")
            for e in entries:
                say(f"    {e.get('method')} {e.get('path')} "
                    f"param={e.get('parameter')!r} module={e.get('module')}: {e.get('info')}")
    if not findings:
        say("wapiti: no vulnerabilities, no anomalies")
    return findings, data


def server_errors(log: Path) -> list[str]:
    """5xx responses in gunicorn's access log (default format: ... "REQUEST" STATUS SIZE ...)."""
    pattern = re.compile(r'" (5\d\d) ')
    return [line.rstrip() for line in log.read_text(errors="replace").splitlines()
            if pattern.search(line)]


def stop(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    say(f"server stopped (pid {server.pid})")


def main() -> int:
    for exe in (APP_PYTHON, SCAN_BIN / "wapiti", SCAN_BIN / "bandit"):
        if not exe.exists():
            say(f"missing {exe}: run `make scan` (it installs them)")
            return 2
    tmp = Path(tempfile.mkdtemp(prefix="casedesk-scan-"))
    say(f"work dir {tmp}")
    failures: list[str] = []
    server = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if (n := run_bandit(tmp)):
            failures.append(f"bandit: {n} finding(s)")

        port = free_port(int(os.environ.get("SCAN_PORT", "8799")))
        base = f"http://127.0.0.1:{port}/"
        env = dict(
            os.environ,
            DEBUG="true",
            DATABASE_URL=f"sqlite:///{tmp / 'scan.sqlite3'}",
            # wapiti posts to the sign-in forms; a lockout must not stop the scan.
            AXES_FAILURE_LIMIT="100000",
            DEMO_PASSWORD=PASSWORD,
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_ACCESS_LOG=str(tmp / "access.log"),
            # One sync worker: SQLite allows one writer, and with several workers wapiti's
            # concurrent POSTs end in "database is locked" 500s (a scan artefact; production
            # runs on PostgreSQL).
            WEB_CONCURRENCY="1",
            PYTHONUNBUFFERED="1",
        )
        for args in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
            subprocess.run([str(APP_PYTHON), "manage.py", *args], cwd=ROOT, env=env,
                           check=True, stdout=subprocess.DEVNULL)
        say(f"fresh database {tmp / 'scan.sqlite3'} migrated and seeded")
        server_log = open(tmp / "server.log", "w")  # noqa: SIM115 (closed with the process)
        server = subprocess.Popen(
            [str(APP_PYTHON), "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_up(base, server)
        say(f"gunicorn up at {base} (pid {server.pid}, DEBUG on)")

        cookies = sign_in(base)
        n, _ = run_wapiti(base, cookies, tmp)
        if n:
            failures.append(f"wapiti: {n} finding(s)")
        if not still_signed_in(base, cookies):
            say("note: the reporter's session no longer works after the scan")

        stop(server)
        server_log.close()
        errors = server_errors(tmp / "access.log")
        say(f"server log: {len(errors)} HTTP 5xx response(s)")
        for line in errors:
            say(f"  {line}")
        if errors:
            failures.append(f"server: {len(errors)} HTTP 5xx response(s)")
            tracebacks = (tmp / "server.log").read_text(errors="replace")
            say(f"  (tracebacks in {tmp / 'server.log'}, {len(tracebacks)} bytes)")
    except Exception as exc:  # noqa: BLE001 (report any setup failure as a failed scan)
        failures.append(f"scan did not complete: {exc!r}")
    finally:
        stop(server)
        keep = os.environ.get("SCAN_KEEP") or failures
        if keep:
            say(f"reports and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        say("FAILED: " + "; ".join(failures))
        return 1
    say("clean: no bandit finding, no wapiti finding, no HTTP 5xx")
    return 0


if __name__ == "__main__":
    sys.exit(main())
