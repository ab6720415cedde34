"""`make scan`: a local security scan of Casedesk as it runs in production.

1. bandit over our code: the packages pyproject.toml installs (cases/, config/, api/);
   configuration and reasons in scan/bandit.yaml.
2. A throwaway instance with production settings (config/production_env.py): DEBUG off, a
   random SECRET_KEY, a new Fernet key in CASEDESK_ENCRYPTION_KEYS, and so every production
   default of config/settings.py (HTTPS redirect, HSTS, Secure cookies, WhiteNoise's manifest
   storage). gunicorn, with gunicorn.conf.py, serves HTTPS itself on 127.0.0.1 (SCAN_PORT,
   default 8799, or a free port) with a self-signed certificate made for this run
   (`cryptography`, from .venv).
   Everything else lives in a temp dir: the SQLite database (`migrate`, then `seed_demo` with
   CASEDESK_ALLOW_DEMO), STATIC_ROOT (`collectstatic`), EVIDENCE_ROOT, the access log.
3. A sign-in as the reporter through whatever sign-in form the app shows (reached by asking
   for a page and following the redirect; its fields are read from the page, so Django's
   `username` and django-allauth's `login` both work), then through the two-factor step with
   a code from the authenticator app the scan gives the reporter (enrol_totp says why). Then
   a case page that only a signed-in member sees must open, or the scan stops here: an
   unauthenticated crawl would pass while testing nothing but the sign-in page.
4. wapiti, time-bounded, scoped to the site, the sign-out URL excluded, with the reporter's
   cookies; it checks the certificate against the one made for this run.
5. The verdict: exit 1 on any bandit finding, any wapiti vulnerability or anomaly, any
   requested module that did not run, any HTTP 5xx in the server's access log, or any
   unhandled exception or worker timeout in gunicorn's log (a streamed response that fails
   midway is logged as a 200). The server is always stopped.
6. A summary of the figures, printed and written to scan/results/latest.txt.

Where the scan differs from production, on purpose (each reason is also in README.md):
- TLS ends at gunicorn with a self-signed certificate; in production a reverse proxy ends it
  (gunicorn.conf.py). Hence no `ssl` module (below).
- AXES_FAILURE_LIMIT is raised: wapiti posts payloads to the forms that take the password
  (sign-in, re-authentication), and after five failures django-axes would lock the reporter
  out and answer them with its lockout page (429) in place of the code under test.
- SQLite and one gunicorn worker with one thread, so that the scan needs nothing but Python
  (production runs PostgreSQL): SQLite allows one writer, and with several workers wapiti's
  concurrent POSTs end in "database is locked" 500s, an artefact of the scan. The worker is
  gthread, not sync (the reason is at the gunicorn command).
- The demo accounts and their published password (seed_demo, CASEDESK_ALLOW_DEMO), and an
  authenticator app (TOTP) for the reporter, which the demo data does not give it.

Knobs (environment): SCAN_PORT, SCAN_MAX_SCAN_TIME (seconds of crawling, default 240),
SCAN_MAX_ATTACK_TIME (seconds per attack module, default 30), SCAN_MODULES, SCAN_FORCE
(default paranoid), SCAN_KEEP=1 (keep the temp dir with the reports and logs), SCAN_VENV
(default .venv-scan), DEMO_PASSWORD.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_PYTHON = ROOT / ".venv" / "bin" / "python"
SCAN_BIN = ROOT / os.environ.get("SCAN_VENV", ".venv-scan") / "bin"
RESULTS = ROOT / "scan" / "results" / "latest.txt"
USERNAME = "reporter"
PASSWORD = os.environ.get("DEMO_PASSWORD", "casedesk-demo")
MAX_SCAN_TIME = os.environ.get("SCAN_MAX_SCAN_TIME", "240")
MAX_ATTACK_TIME = os.environ.get("SCAN_MAX_ATTACK_TIME", "30")
# wapiti's default modules (cookieflags, csp, exec, file, http_headers, permanentxss, redirect,
# sql, ssl, ssrf, upload, xss) minus two, plus five cheap ones (csrf, methods, crlf, backup,
# htaccess). Left out, with the reason:
# - ssl: it grades the TLS endpoint, which in production is the reverse proxy, not gunicorn;
#   here it would only grade the throwaway self-signed certificate. (It also needs the
#   `sslscan` program, which is not a Python package.)
# - ssrf: it needs wapiti's external endpoint on the internet (the machine has no internet).
# - https_redirect: it asks for http:// on the same port, which speaks TLS only here; in
#   production plain HTTP reaches the reverse proxy, and Django's SECURE_SSL_REDIRECT is on.
# - buster, nikto, brute_login_form, cms, wapp, wp_enum, drupal/joomla/..., spring4shell,
#   log4shell, shellshock, takeover, network_device: dictionary attacks on paths, passwords
#   or products we do not run (no PHP, CGI, Java, WordPress), or needing a DNS endpoint.
# - timesql, xxe, ldap: not default; the app sends no query to an LDAP server, parses no XML
#   from requests, and sql's error- and boolean-based tests already cover our queries.
# How many copies of one form (same path, same field names) the crawler keeps. Django masks
# the CSRF token anew on every page, so each page showing a form gives wapiti a "new" form:
# with its default (normal) the crawl kept ~37 copies of every claim's transition form (592
# of 950 requests), and the time-bounded attacks spent their time on copies. "paranoid"
# keeps one copy of a form with three fields or more (and up to ~30 of a one-parameter URL);
# it changes nothing else (wapitiCore.net.explorer.has_too_many_parameters).
SCAN_FORCE = os.environ.get("SCAN_FORCE", "paranoid")
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


def tool_versions() -> dict[str, str]:
    out = subprocess.run(
        [str(SCAN_BIN / "python"), "-c",
         "import importlib.metadata as m; print(m.version('bandit'), m.version('wapiti3'))"],
        capture_output=True, text=True, check=True).stdout.split()
    return {"bandit": out[0], "wapiti": out[1]}


def git_revision() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" with uncommitted changes" if git("status", "--porcelain") else "")


# --- bandit --------------------------------------------------------------------------------

def our_packages() -> list[str]:
    """The packages pyproject.toml installs (its setuptools `include` patterns): our code."""
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    return sorted({p.rstrip("*").rstrip(".") for p in found
                   if (ROOT / p.rstrip("*").rstrip(".")).is_dir()})


def run_bandit(tmp: Path, summary: dict) -> int:
    """Returns the number of bandit findings and errors."""
    out = tmp / "bandit.json"
    packages = our_packages()
    cmd = [str(SCAN_BIN / "bandit"), "-c", "scan/bandit.yaml", "-r", *packages,
           "-ll", "-f", "json", "-o", str(out), "-q"]
    say("bandit: " + " ".join(cmd[1:]))
    proc = subprocess.run(cmd, cwd=ROOT)
    if not out.exists():
        say(f"bandit failed to run (exit {proc.returncode})")
        summary["bandit"] = f"did not run (exit {proc.returncode})"
        return 1
    data = json.loads(out.read_text())
    totals = data["metrics"]["_totals"]
    files = len([k for k in data["metrics"] if k != "_totals"])
    line = (f"{', '.join(p + '/' for p in packages)}: "
            f"{files} files, {totals['loc']} lines of code, {len(data['results'])} findings "
            f"(medium and high severity), {len(data['errors'])} errors")
    summary["bandit"] = line
    say("bandit: " + line)
    for r in data["results"]:
        say(f"  bandit {r['test_id']} {r['issue_severity']}/{r['issue_confidence']} "
            f"{r['filename']}:{r['line_number']}: {r['issue_text']}")
    for e in data["errors"]:
        say(f"  bandit error: {e}")
    return len(data["results"]) + len(data["errors"])


# --- the throwaway instance ----------------------------------------------------------------

def make_certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day; key readable by us only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Casedesk make scan")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        # Its own trust anchor: the scan's clients trust exactly this certificate.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "tls" / "cert.pem", tmp / "tls" / "key.pem"
    cert_path.parent.mkdir(mode=0o700)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_path, key_path


def production_env(tmp: Path, port: int) -> dict[str, str]:
    from config.production_env import throwaway_production_env

    (tmp / "evidence").mkdir(mode=0o700)
    return throwaway_production_env(
        database_url=f"sqlite:///{tmp / 'scan.sqlite3'}",
        static_root=tmp / "static",
        evidence_root=tmp / "evidence",
        https_origin=f"https://127.0.0.1:{port}",
        # The shared cache production has: a Redis database of the scan's own.
        cache_url=os.environ.get("SCAN_CACHE_URL", "redis://127.0.0.1:6379/11"),
        CASEDESK_ALLOW_DEMO="true",
        DEMO_PASSWORD=PASSWORD,
        # Deviations from production, explained in the module docstring.
        AXES_FAILURE_LIMIT="100000",
        WEB_CONCURRENCY="1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_ACCESS_LOG=str(tmp / "access.log"),
        PYTHONUNBUFFERED="1",
    )


def enrol_totp(env: dict[str, str]) -> str:
    """Gives the reporter an authenticator app (TOTP), as any member may set up, through
    allauth's own API (the secret is stored encrypted by config.auth.MFAAdapter). Why: wapiti
    submits the "new case" form, which makes the reporter the new case's editor, and editors
    must pass a second factor (cases/two_factor.py); a session signed in with the password
    alone would be sent to the two-factor setup page for the rest of the scan. Returns the
    secret (this run only)."""
    script = (
        "from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret\n"
        "from django.contrib.auth import get_user_model\n"
        "secret = generate_totp_secret()\n"
        f"TOTP.activate(get_user_model().objects.get(username={USERNAME!r}), secret)\n"
        "print(secret)\n"
    )
    out = subprocess.run([str(APP_PYTHON), "manage.py", "shell", "-c", script], cwd=ROOT,
                         env=env, check=True, capture_output=True, text=True).stdout
    return out.split()[-1]


def totp_code(env: dict[str, str], secret: str) -> str:
    """The current code of the reporter's authenticator, computed by allauth's own functions;
    waits for the next period when this one is about to end."""
    script = (
        "import os, time\n"
        "from allauth.mfa import app_settings as s\n"
        "from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value\n"
        "left = s.TOTP_PERIOD - time.time() % s.TOTP_PERIOD\n"
        "time.sleep(left + 0.5 if left < 5 else 0)\n"
        "counter = int(time.time()) // s.TOTP_PERIOD\n"
        "print(format_hotp_value(hotp_value(os.environ['SCAN_TOTP_SECRET'], counter)))\n"
    )
    out = subprocess.run([str(APP_PYTHON), "manage.py", "shell", "-c", script], cwd=ROOT,
                         env=dict(env, SCAN_TOTP_SECRET=secret), check=True,
                         capture_output=True, text=True).stdout
    return out.split()[-1]


def https_opener(cert: Path, jar: http.cookiejar.CookieJar | None = None):
    """urllib with TLS verified against the scan's certificate (hostname included)."""
    handlers: list = [urllib.request.HTTPSHandler(context=ssl.create_default_context(
        cafile=str(cert)))]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def wait_up(base: str, cert: Path, server: subprocess.Popen, timeout: float = 60) -> None:
    opener = https_opener(cert)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early (exit {server.returncode})")
        try:
            with opener.open(base + "healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server did not answer in time")


# --- signing in ----------------------------------------------------------------------------

class FormParser(HTMLParser):
    """The forms of a page: action, method and their input fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": attrs.get("action", ""),
                          "method": attrs.get("method", "get").lower(), "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea") and self._form is not None:
            self._form["inputs"].append(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def forms_of(page: str) -> list[dict]:
    parser = FormParser()
    parser.feed(page)
    return parser.forms


def sign_in_fields(form: dict) -> dict[str, str]:
    """The sign-in form filled in: hidden fields as served (CSRF token, next), the password,
    and the username in the one text field (Django's `username`, allauth's `login`)."""
    fields, user_fields = {}, []
    for field in form["inputs"]:
        name, kind = field.get("name"), field.get("type", "text").lower()
        if not name:
            continue
        if kind == "hidden":
            fields[name] = field.get("value", "")
        elif kind == "password":
            fields[name] = PASSWORD
        elif kind in ("text", "email"):
            user_fields.append(name)
        # checkboxes ("remember me") stay unticked; buttons carry no data here
    preferred = [n for n in user_fields if n in ("login", "username")]
    if len(preferred or user_fields) != 1:
        raise RuntimeError(f"cannot tell the username field of the sign-in form: {user_fields}")
    fields[(preferred or user_fields)[0]] = USERNAME
    return fields


def shown_errors(page: str) -> list[str] | str:
    errors = re.findall(r'class="[^"]*(?:alert-danger|invalid-feedback|errorlist)[^"]*"[^>]*>'
                        r'\s*(?:<li>)?([^<]+)', page)
    return [e.strip() for e in errors] or "none"


def submit(opener, page_url: str, form: dict, fields: dict) -> tuple[str, str]:
    """POST `fields` to the form found on `page_url`, as the browser would (with the page as
    Referer, which Django's CSRF check wants over HTTPS): the final URL and the page."""
    action = urllib.parse.urljoin(page_url, form["action"] or page_url)
    req = urllib.request.Request(action, data=urllib.parse.urlencode(fields).encode(),
                                 headers={"Referer": page_url})
    with opener.open(req, timeout=10) as resp:
        return resp.geturl(), resp.read().decode()


def sign_in(base: str, cert: Path, env: dict[str, str],
            totp_secret: str) -> tuple[dict[str, dict], str]:
    """Signs in once as the reporter, with the second factor if asked for it; returns the
    cookies and the member-only page checked."""
    jar = http.cookiejar.CookieJar()
    opener = https_opener(cert, jar)
    # Any page sends a signed-out visitor to the sign-in page, wherever it lives.
    with opener.open(base + "cases/", timeout=10) as resp:
        login_url, page = resp.geturl(), resp.read().decode()
    login_path = urllib.parse.urlsplit(login_url).path
    forms = [f for f in forms_of(page) if f["method"] == "post"
             and any(i.get("type", "").lower() == "password" for i in f["inputs"])]
    if not forms:
        raise RuntimeError(f"no sign-in form (a POST form with a password field) at {login_url}")
    fields = sign_in_fields(forms[0])
    final, page = submit(opener, login_url, forms[0], fields)
    if urllib.parse.urlsplit(final).path == login_path:
        raise RuntimeError(f"sign-in as {USERNAME} failed at {login_url}: still on the sign-in "
                           f"page; errors shown: {shown_errors(page)}")
    say(f"password accepted at {login_path} (fields: {', '.join(sorted(fields))}); "
        f"landed on {urllib.parse.urlsplit(final).path}")
    # The second step: a form asking for the authenticator app's code.
    code_forms = [f for f in forms_of(page) if f["method"] == "post"
                  and any(i.get("name") == "code" for i in f["inputs"])]
    if code_forms:
        step_url, step_path = final, urllib.parse.urlsplit(final).path
        fields = {i["name"]: i.get("value", "") for i in code_forms[0]["inputs"]
                  if i.get("name") and i.get("type", "").lower() == "hidden"}
        fields["code"] = totp_code(env, totp_secret)
        final, page = submit(opener, step_url, code_forms[0], fields)
        if urllib.parse.urlsplit(final).path == step_path:
            raise RuntimeError(f"the second factor was refused at {step_path}; errors shown: "
                               f"{shown_errors(page)}")
        say(f"second factor (TOTP code) accepted at {step_path}; landed on "
            f"{urllib.parse.urlsplit(final).path}")
    member_page = check_signed_in(base, opener)
    say(f"signed in for real: {member_page} (a case page, members only) opens, with the "
        f"sign-out button")
    cookies = {c.name: {"value": c.value, "secure": c.secure} for c in jar}
    return cookies, member_page


def check_signed_in(base: str, opener) -> str:
    """Opens the case list, then the first case's overview, which only its members see (a
    signed-out visitor is sent to sign in, a non-member gets 404). Returns the case path."""
    with opener.open(base + "cases/", timeout=10) as resp:
        where, page = urllib.parse.urlsplit(resp.geturl()).path, resp.read().decode()
    if where != "/cases/":
        raise RuntimeError(f"not signed in: /cases/ was sent to {where}")
    slugs = [s for s in re.findall(r'href="/cases/([^/"]+)/"', page) if s != "new"]
    if not slugs:
        raise RuntimeError("signed in, but the reporter's case list shows no case: is the demo "
                           "data there?")
    path = f"/cases/{slugs[0]}/"
    try:
        with opener.open(base + path.lstrip("/"), timeout=10) as resp:
            where, status, page = urllib.parse.urlsplit(resp.geturl()).path, resp.status, \
                resp.read().decode()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"not signed in as a member: {path} answered {exc.code}") from exc
    logout_forms = [f for f in forms_of(page) if "logout" in f["action"]]
    if where != path or status != 200 or not logout_forms:
        raise RuntimeError(f"not signed in as the reporter: {path} ended at {where} ({status}), "
                           f"sign-out button {'shown' if logout_forms else 'missing'}")
    return path


def still_signed_in(base: str, cert: Path, cookies: dict[str, dict]) -> bool:
    jar = http.cookiejar.CookieJar()
    opener = https_opener(cert, jar)
    opener.addheaders = [("Cookie", "; ".join(f"{k}={v['value']}" for k, v in cookies.items()))]
    try:
        check_signed_in(base, opener)
    except (RuntimeError, OSError):
        return False
    return True


# --- wapiti --------------------------------------------------------------------------------

def run_wapiti(base: str, cert: Path, cookies: dict[str, dict], tmp: Path,
               summary: dict) -> int:
    report = tmp / "wapiti.json"
    # wapiti's JSON cookie file (wapitiCore.net.jsoncookie): {domain: {path: {name: attrs}}}.
    # (`-C "name=value"` is not enough: wapiti 3.2.3's cookie jar overrides that header.)
    cookie_file = tmp / "cookies.json"
    cookie_file.write_text(json.dumps({"127.0.0.1": {"/": {
        name: {"value": c["value"], "expires": None, "secure": c["secure"], "port": None,
               "version": 0}
        for name, c in cookies.items()}}}))
    log = tmp / "wapiti.log"
    cmd = [
        str(SCAN_BIN / "wapiti"), "-u", base, "--scope", "folder",
        "-c", str(cookie_file),
        # Signing out would end the authenticated scan.
        "-x", base + "accounts/logout/", "-x", base + "accounts/logout/*",
        "-m", MODULES,
        "--max-scan-time", MAX_SCAN_TIME, "--max-attack-time", MAX_ATTACK_TIME,
        "--scan-force", SCAN_FORCE,
        # The certificate is checked (hostname included) against the scan's own, which
        # SSL_CERT_FILE names: wapiti talks to this server and nothing else.
        "--verify-ssl", "1",
        "--flush-session", "--store-session", str(tmp / "wapiti-session"),
        "--store-config", str(tmp / "wapiti-config"),
        "-f", "json", "-o", str(report), "--no-bugreport", "-v", "1",
        "--log", str(log),
    ]
    say("wapiti: " + " ".join(cmd[1:]))
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp, stdout=subprocess.DEVNULL,
                          env=dict(os.environ, SSL_CERT_FILE=str(cert)))
    summary["wapiti_seconds"] = time.monotonic() - started
    if not report.exists():
        say(f"wapiti produced no report (exit {proc.returncode}); its log: {log}")
        summary["wapiti"] = f"did not run (exit {proc.returncode})"
        return 1
    data = json.loads(report.read_text())
    log_text = log.read_text(errors="replace") if log.exists() else ""
    launched = re.findall(r"Launching module (\w+)", log_text)
    cut = re.findall(r"Max attack time was reached for module (\w+)", log_text)
    crawl_cut = "Max scan time was reached" in log_text
    network_errors = re.findall(r"(\d+) requests were skipped due to network issues", log_text)
    infos = data.get("infos", {})
    summary["coverage"] = attack_coverage(tmp / "wapiti-session")
    summary.update(
        wapiti_exit=proc.returncode, crawled=infos.get("crawled_pages_nbr", "?"),
        crawl_cut=crawl_cut, launched=launched, cut=cut,
        network_errors=sum(int(n) for n in network_errors),
    )
    say(f"wapiti: exit {proc.returncode}, {summary['wapiti_seconds']:.0f} s, "
        f"{summary['crawled']} URLs crawled"
        f"{' (crawl stopped at SCAN_MAX_SCAN_TIME)' if crawl_cut else ''}, "
        f"{len(launched)} modules run: {', '.join(launched)}")
    if cut:
        say(f"wapiti: modules stopped at SCAN_MAX_ATTACK_TIME: {', '.join(cut)}")
    if summary["coverage"]:
        say("wapiti: " + coverage_line(summary["coverage"], cut))
    missing = sorted(set(MODULES.split(",")) - set(launched))
    if missing:
        say(f"wapiti: modules asked for but not run: {', '.join(missing)}")
    findings = 0
    per_kind = {}
    for kind in ("vulnerabilities", "anomalies", "additionals"):
        categories = data.get(kind, {})
        per_kind[kind] = {category: len(entries) for category, entries in categories.items()}
        for category, entries in sorted(categories.items()):
            if not entries:
                continue
            counted = kind != "additionals"  # additionals are informational
            findings += len(entries) if counted else 0
            say(f"  {kind}: {category}: {len(entries)}{'' if counted else ' (informational)'}")
            for e in entries if counted else entries[:3]:
                say(f"    {e.get('method')} {e.get('path')} "
                    f"param={e.get('parameter')!r} module={e.get('module')}: {e.get('info')}")
    summary["per_kind"] = per_kind
    summary["wapiti_findings"] = findings
    if not findings:
        say("wapiti: no vulnerabilities, no anomalies")
    if missing:
        return findings + 1
    return findings


def attack_coverage(session_dir: Path) -> dict:
    """From wapiti's session database: the requests the crawl kept, and how many of them each
    module got to (all of them, unless the module was stopped at its time limit)."""
    databases = sorted(session_dir.glob("*.db"))
    if not databases:
        return {}
    with sqlite3.connect(databases[0]) as db:
        total = db.execute("SELECT count(*) FROM paths WHERE NOT evil").fetchone()[0]
        get = db.execute("SELECT count(*) FROM paths WHERE NOT evil AND method = 'GET'"
                         ).fetchone()[0]
        reached = dict(db.execute(
            "SELECT module, count(DISTINCT path_id) FROM attack_logs GROUP BY module"))
    return {"total": total, "get": get, "post": total - get, "reached": reached}


def coverage_line(coverage: dict, cut: list[str]) -> str:
    return (f"requests kept by the crawl: {coverage['total']} ({coverage['get']} GET, "
            f"{coverage['post']} POST); reached per module: "
            + ", ".join(f"{m} {n}{' (time limit)' if m in cut else ''}"
                        for m, n in sorted(coverage["reached"].items())))


# --- the server's log ----------------------------------------------------------------------

def server_log_errors(log: Path) -> tuple[list[str], int]:
    """From gunicorn's own log: the exceptions raised while answering a request that the
    access log cannot show (a streamed response that fails midway was logged as a 200), and
    the worker timeouts (a request that took longer than gunicorn's timeout)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = text.splitlines()
    exceptions = []
    for i, line in enumerate(lines):
        # "(no URI read)": a connection closed or timed out before any request arrived.
        if "Error handling request" in line and "(no URI read)" not in line:
            tail = next((later for later in lines[i + 1:i + 60]
                         if re.match(r"^\w+(Error|Exception)\b", later)), "?")
            exceptions.append(f"{line.strip()} ... {tail.strip()}")
    return exceptions, text.count("WORKER TIMEOUT")


def access_log_statuses(log: Path) -> tuple[Counter, list[str]]:
    """Status counts and the 5xx lines of gunicorn's access log (default format:
    ... "REQUEST" STATUS SIZE "REFERER" "AGENT")."""
    pattern = re.compile(r'" (\d{3}) ')
    statuses: Counter = Counter()
    errors = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if match := pattern.search(line):
            statuses[match.group(1)] += 1
            if match.group(1).startswith("5"):
                errors.append(line.rstrip())
    return statuses, errors


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


# --- the summary ---------------------------------------------------------------------------

def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def summary_text(s: dict, failures: list[str]) -> str:
    lines = [
        f"Casedesk security scan (make scan), {s['started']:%Y-%m-%d %H:%M} UTC, "
        f"commit {s['revision']}",
        "Result: " + ("FAILED: " + "; ".join(failures) if failures else
                      "CLEAN: no bandit finding, no wapiti finding, no HTTP 5xx"),
        f"Duration: {minutes(s['seconds'])} in all"
        + (f", wapiti {minutes(s['wapiti_seconds'])}" if "wapiti_seconds" in s else ""),
        f"Target: {s.get('base', '?')} with production settings (DEBUG off, random SECRET_KEY, "
        "new Fernet key, HTTPS with a self-signed certificate, collectstatic), SQLite, "
        f"the demo data, signed in as {USERNAME} with password and TOTP (checked on "
        f"{s.get('member_page', '?')})",
        f"bandit {s['versions']['bandit']}: {s.get('bandit', 'not run')}",
    ]
    if "crawled" in s:
        lines.append(
            f"wapiti {s['versions']['wapiti']}: {s['crawled']} URLs crawled"
            + (" (crawl stopped at its time limit)" if s["crawl_cut"] else "")
            + f"; {len(s['launched'])} modules run: {', '.join(s['launched'])}")
        if s["cut"]:
            lines.append(f"  modules stopped at their time limit ({MAX_ATTACK_TIME} s): "
                         f"{', '.join(s['cut'])}")
        if s["coverage"]:
            lines.extend(textwrap.wrap(coverage_line(s["coverage"], s["cut"]), width=96,
                                       initial_indent="  ", subsequent_indent="    "))
        if s["network_errors"]:
            lines.append(f"  requests skipped for network errors: {s['network_errors']}")
        for kind, categories in s["per_kind"].items():
            total = sum(categories.values())
            label = kind + (" (informational)" if kind == "additionals" else "")
            lines.append(f"wapiti {label}: {total} in {len(categories)} categories")
            lines.extend(textwrap.wrap(
                "; ".join(f"{c} {n}" for c, n in sorted(categories.items())),
                width=96, initial_indent="  ", subsequent_indent="  "))
    elif "wapiti" in s:
        lines.append(f"wapiti {s['versions']['wapiti']}: {s['wapiti']}")
    if "statuses" in s:
        statuses = s["statuses"]
        lines.append(
            f"server: {sum(statuses.values())} requests answered; by status: "
            + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
            + f"; HTTP 5xx: {s['errors']}; unhandled exceptions in the server log: "
            f"{s.get('exceptions', '?')}; worker timeouts: {s.get('timeouts', '?')}")
    if "session_kept" in s:
        lines.append("reporter's session after the scan: "
                     + ("still signed in" if s["session_kept"] else "ENDED during the scan"))
    return "\n".join(lines) + "\n"


def main() -> int:
    for exe in (APP_PYTHON, SCAN_BIN / "wapiti", SCAN_BIN / "bandit"):
        if not exe.exists():
            say(f"missing {exe}: run `make scan` (it installs them)")
            return 2
    started = time.monotonic()
    summary: dict = {"started": dt.datetime.now(dt.UTC), "revision": git_revision(),
                     "versions": tool_versions()}
    tmp = Path(tempfile.mkdtemp(prefix="casedesk-scan-"))
    say(f"work dir {tmp}")
    failures: list[str] = []
    server = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if (n := run_bandit(tmp, summary)):
            failures.append(f"bandit: {n} finding(s)")

        port = free_port(int(os.environ.get("SCAN_PORT", "8799")))
        base = summary["base"] = f"https://127.0.0.1:{port}/"
        cert, key = make_certificate(tmp)
        env = production_env(tmp, port)
        # An empty cache, as the fresh database: the last scan's wrong two-factor codes are
        # counted there per user id, and would lock out this run's reporter.
        for args in (["migrate", "--noinput", "-v", "0"], ["seed_demo"],
                     ["shell", "-c", "from django.core.cache import cache; cache.clear()"],
                     ["collectstatic", "--noinput", "-v", "0"],
                     ["check", "--deploy", "--fail-level", "WARNING"]):
            subprocess.run([str(APP_PYTHON), "manage.py", *args], cwd=ROOT, env=env,
                           check=True, stdout=subprocess.DEVNULL)
        totp_secret = enrol_totp(env)
        say("fresh SQLite database migrated and seeded, the reporter given an authenticator "
            "app (TOTP), static files collected, `check --deploy --fail-level WARNING` passes")
        server_log = open(tmp / "server.log", "w")  # noqa: SIM115 (closed with the process)
        server = subprocess.Popen(
            [str(APP_PYTHON), "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--certfile", str(cert), "--keyfile", str(key),
             # One thread (SQLite: one writer), in the gthread worker rather than the sync
             # one: when a wapiti module hits its time limit, its open connections are
             # abandoned without a request, and a sync worker waits on such a connection for
             # its whole timeout (30 s), stalling the next module. In production the reverse
             # proxy buffers requests, so gunicorn never waits on a client.
             "--worker-class", "gthread", "--threads", "1"],
            cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_up(base, cert, server)
        say(f"gunicorn up at {base} (pid {server.pid}), DEBUG off, production settings")

        cookies, summary["member_page"] = sign_in(base, cert, env, totp_secret)
        if (n := run_wapiti(base, cert, cookies, tmp, summary)):
            failures.append(f"wapiti: {n} finding(s)")
        summary["session_kept"] = still_signed_in(base, cert, cookies)
        if not summary["session_kept"]:
            say("note: the reporter's session no longer works after the scan")

        stop(server)
        server_log.close()
        statuses, errors = access_log_statuses(tmp / "access.log")
        summary["statuses"], summary["errors"] = statuses, len(errors)
        say(f"server log: {sum(statuses.values())} requests, {len(errors)} HTTP 5xx")
        for line in errors:
            say(f"  {line}")
        if errors:
            failures.append(f"server: {len(errors)} HTTP 5xx response(s)")
        exceptions, timeouts = server_log_errors(tmp / "server.log")
        summary["exceptions"], summary["timeouts"] = len(exceptions), timeouts
        say(f"server log: {len(exceptions)} unhandled exception(s) outside the access log's "
            f"5xx, {timeouts} worker timeout(s)")
        for line in exceptions:
            say(f"  {line}")
        if exceptions:
            failures.append(f"server: {len(exceptions)} unhandled exception(s)")
        if timeouts:
            failures.append(f"server: {timeouts} worker timeout(s)")
        if errors or exceptions or timeouts:
            say(f"  (tracebacks in {tmp / 'server.log'})")
    except Exception as exc:  # noqa: BLE001 (report any setup failure as a failed scan)
        failures.append(f"scan did not complete: {exc!r}")
    finally:
        stop(server)
        keep = os.environ.get("SCAN_KEEP") or failures
        if keep:
            say(f"reports and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    summary["seconds"] = time.monotonic() - started
    text = summary_text(summary, failures)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(f"\n{text}", end="", flush=True)
    say(f"summary written to {RESULTS.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
