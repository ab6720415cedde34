"""HTTP hardening (issue 4, part 4): the security headers on every kind of response, a strict
Content-Security-Policy that every page lives with (no inline script or style anywhere, the
Django admin included), no caching of signed-in pages, no TRACE, HSTS and secure cookies in
production, `check --deploy` clean with production settings, and gunicorn as served."""

import base64
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.urls import reverse

from cases import demo
from cases.models import Case, Claim, Evidence, Task

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent

# The policy every response carries: directive -> the exact sources.
REQUIRED_CSP = {
    "default-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
UNSAFE_SOURCES = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'",
                  "*", "data:", "http:", "https:"}


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in policy, f"{words[0]} given twice in {header!r}"
            policy[words[0]] = words[1:]
    return policy


def assert_security_headers(response, *, framed_by_header=True):
    """What every response carries, whatever served it."""
    assert "Content-Security-Policy" in response, response
    policy = parse_csp(response["Content-Security-Policy"])
    for directive, sources in REQUIRED_CSP.items():
        assert policy.get(directive) == sources, (directive, policy)
    # Scripts and styles: our own files only (default-src, or the same explicitly).
    for directive in ("script-src", "style-src", "script-src-elem", "style-src-elem",
                      "script-src-attr", "style-src-attr"):
        assert not set(policy.get(directive, [])) & UNSAFE_SOURCES, (directive, policy)
    assert set(policy.get("script-src", ["'self'"])) == {"'self'"}
    assert set(policy.get("style-src", ["'self'"])) == {"'self'"}
    assert "Content-Security-Policy-Report-Only" not in response
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    if framed_by_header:
        assert response["X-Frame-Options"] == "DENY"


def assert_no_store(response):
    assert "no-store" in response["Cache-Control"], response.get("Cache-Control")
    assert "private" in response["Cache-Control"]


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def demo_world(db):
    """The demo case: every kind of record, with its history, as a newsroom would have it."""
    return demo.seed(PASSWORD)


@pytest.fixture
def editor_client(client, demo_world):
    client.force_login(demo_world.users["editor"])
    return client


@pytest.fixture
def superuser_client(client, demo_world):
    client.force_login(demo_world.users["admin"])
    return client


# --- the headers on every kind of response --------------------------------------------------

def test_signed_in_page(editor_client):
    response = editor_client.get(reverse("cases:dashboard"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert_no_store(response)


def test_login_page(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert_no_store(response)  # it carries a CSRF token (Django's LoginView: never_cache)


def test_healthz(client):
    response = client.get(reverse("cases:healthz"))
    assert response.status_code == 200
    assert_security_headers(response)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_not_found(client, demo_world, signed_in):
    if signed_in:
        client.force_login(demo_world.users["editor"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_security_headers(response)
    if signed_in:
        assert_no_store(response)


def test_not_found_inside_a_case(editor_client):
    response = editor_client.get(reverse("cases:case_overview", args=["no-such-case"]))
    assert response.status_code == 404
    assert_security_headers(response)
    assert_no_store(response)


def test_admin_page(superuser_client):
    response = superuser_client.get(reverse("admin:cases_claim_changelist"))
    assert response.status_code == 200
    assert_security_headers(response)
    assert_no_store(response)


def test_redirect_to_sign_in(client):
    response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 302
    assert_security_headers(response)


def test_post_redirect_after_sign_in_is_not_stored(client, demo_world):
    response = client.post(reverse("account_login"), {"login": "editor", "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("cases:dashboard")
    assert_security_headers(response)
    assert_no_store(response)


def test_post_redirect_of_a_form(editor_client, demo_world):
    case = demo_world.case
    response = editor_client.post(reverse("cases:task_create", args=[case.slug]),
                                  {"title": "Archive the 161.ru original"})
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("cases:task_list", args=[case.slug])
    assert_security_headers(response)
    assert_no_store(response)
    response = editor_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert_security_headers(response)


def test_csrf_failure_page(client, demo_world):
    csrf_client = type(client)(enforce_csrf_checks=True)
    response = csrf_client.post(reverse("account_login"), {"login": "editor", "password": PASSWORD})
    assert response.status_code == 403
    assert_security_headers(response)
    assert "could not be accepted" in response.content.decode()
    assert_no_inline_code(response.content.decode(), "403_csrf")


def test_evidence_download_keeps_its_sandbox(editor_client, demo_world):
    """The download view's own, stricter policy is not replaced by the site's."""
    evidence = Evidence.objects.create(case=demo_world.case, description="Archived page",
                                       file=ContentFile(b"<html>x</html>", name="page.html"))
    response = editor_client.get(reverse("cases:evidence_download",
                                         args=[demo_world.case.slug, evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert_no_store(response)
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def static_served(settings):
    """Whitenoise serves from STATIC_ROOT after collectstatic; in tests, from the finders."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


def test_static_file(client, demo_world, static_served):
    client.force_login(demo_world.users["editor"])
    response = client.get("/static/css/casedesk.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    # Whitenoise answers before the clickjacking middleware; frame-ancestors covers it.
    assert_security_headers(response, framed_by_header=False)
    # The same for everyone, so cacheable.
    assert "no-store" not in response.get("Cache-Control", "")


# --- TRACE ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["TRACE", "TRACK"])
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/healthz", "/admin/",
                                  "/static/css/casedesk.css", "/no-such-page/"])
def test_trace_is_refused_everywhere(client, static_served, method, path):
    for signed_in in (False, True):
        if signed_in:
            client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
        response = client.generic(method, path)
        assert response.status_code == 405, (method, path, signed_in)
        assert method not in response["Allow"]
        assert b"Cookie" not in response.content
        assert_security_headers(response, framed_by_header=False)


# --- no inline script or style in any page --------------------------------------------------

class InlineCodeFinder(HTMLParser):
    """Collects what a `script-src 'self'; style-src 'self'` policy would block."""

    DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in attrs.items())}>"[:200]
        if tag == "script" and not attrs.get("src"):
            if (attrs.get("type") or "").lower() not in self.DATA_SCRIPT_TYPES:
                self.found.append(f"inline <script>: {where}")
        if tag == "style":
            self.found.append(f"inline <style>: {where}")
        for name, value in attrs.items():
            if name == "style":
                self.found.append(f"style attribute: {where}")
            elif name.startswith("on"):
                self.found.append(f"event handler attribute {name}: {where}")
            elif name in ("href", "src", "action", "formaction") and value and (
                    value.strip().lower().startswith("javascript:")):
                self.found.append(f"javascript: URL: {where}")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == (
                "content-security-policy"):
            self.found.append(f"a second policy in a meta tag: {where}")


def assert_no_inline_code(html: str, page: str):
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    assert not finder.found, f"{page}: " + "\n".join(finder.found)


def workspace_pages(world):
    case = world.case
    claim = Claim.objects.of_case(case).filter(events__isnull=False).distinct().first()
    task = Task.objects.of_case(case).first()
    pages = {name: reverse(f"cases:{name}") for name in
             ("dashboard", "case_list", "case_create", "review_queue")}
    for name in ("case_overview", "timeline", "claims_board", "source_list", "evidence_list",
                 "task_list", "activity", "case_edit", "member_list", "incident_create",
                 "source_create", "claim_create", "evidence_create", "task_create",
                 "commentrequest_create"):
        pages[name] = reverse(f"cases:{name}", args=[case.slug])
    pages["claim_detail"] = reverse("cases:claim_detail", args=[case.slug, claim.pk])
    pages["claim_edit"] = reverse("cases:claim_edit", args=[case.slug, claim.pk])
    pages["task_edit"] = reverse("cases:task_edit", args=[case.slug, task.pk])
    source = case.sources.filter(protected=True).first()
    pages["source_edit (protected)"] = reverse("cases:source_edit", args=[case.slug, source.pk])
    return pages


def test_the_workspace_pages_have_no_inline_code(client, demo_world):
    # The lead reporter handles sources: the protected identity's fields show too.
    for username in ("editor", "reporter"):
        client.force_login(demo_world.users[username])
        for page, url in workspace_pages(demo_world).items():
            response = client.get(url)
            if username == "reporter" and response.status_code == 404:
                continue  # editors' pages
            if username == "reporter" and page == "case_create":
                assert response.status_code == 403  # opening cases is for desk editors
                assert_no_inline_code(response.content.decode(), f"{page} as {username}")
                continue
            assert response.status_code == 200, (username, page, url)
            assert_security_headers(response)
            assert_no_store(response)
            assert_no_inline_code(response.content.decode(), f"{page} as {username}")


def test_a_form_with_errors_has_no_inline_code(editor_client, demo_world):
    response = editor_client.post(reverse("cases:task_create", args=[demo_world.case.slug]), {})
    assert response.status_code == 400  # the form again, with its errors
    assert "is-invalid" in response.content.decode()  # crispy-bootstrap5's error markup
    assert_no_inline_code(response.content.decode(), "task form with errors")


def test_the_login_page_has_no_inline_code(client, demo_world):
    assert_no_inline_code(client.get(reverse("account_login")).content.decode(), "login")
    response = client.post(reverse("account_login"), {"login": "editor", "password": "wrong"})
    assert response.status_code == 200
    assert_no_inline_code(response.content.decode(), "login with an error")


def admin_pages(world):
    """Every admin page of every registered model (list, add, change, history, delete), and
    the admin's own pages."""
    pages = {name: reverse(f"admin:{name}") for name in ("index", "password_change")}
    pages["app_list cases"] = reverse("admin:app_list", args=["cases"])
    for model in admin.site._registry:
        info = f"{model._meta.app_label}_{model._meta.model_name}"
        pages[f"{info} changelist"] = reverse(f"admin:{info}_changelist")
        pages[f"{info} add"] = reverse(f"admin:{info}_add")
        obj = model._default_manager.order_by("pk").last()
        if obj is not None:
            for view in ("change", "history", "delete"):
                pages[f"{info} {view}"] = reverse(f"admin:{info}_{view}", args=[obj.pk])
    user = get_user_model().objects.get(username="editor")
    pages["auth user password"] = reverse("admin:auth_user_password_change", args=[user.pk])
    case = Case.objects.get()
    pages["claims of a case, filtered"] = (reverse("admin:cases_claim_changelist")
                                           + f"?case__id__exact={case.pk}&q=desert")
    return pages


def test_the_admin_pages_have_no_inline_code(superuser_client, demo_world):
    checked = 0
    for page, url in admin_pages(demo_world).items():
        response = superuser_client.get(url)
        assert response.status_code in (200, 403), (page, url, response.status_code)
        assert_security_headers(response)
        assert_no_store(response)
        if response.status_code == 200:
            assert_no_inline_code(response.content.decode(), page)
            checked += 1
    assert checked > 40


def test_the_admin_signs_in_through_the_site_sign_in(client):
    # The admin's own password-only form is replaced: staff go through the two-factor step.
    response = client.get(reverse("admin:login"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("account_login") + "?next=")
    assert_security_headers(response)
    page = response.content.decode()
    assert 'name="login"' in page and 'name="password"' in page
    assert_no_inline_code(page, "admin login")


def test_the_admin_popup_and_autocomplete_have_no_inline_code(superuser_client, demo_world):
    response = superuser_client.get(reverse("admin:cases_source_add") + "?_popup=1")
    assert response.status_code == 200
    assert_no_inline_code(response.content.decode(), "admin popup")
    response = superuser_client.get(reverse("admin:autocomplete"), {
        "app_label": "cases", "model_name": "citation", "field_name": "source", "term": "1"})
    assert response.status_code in (200, 403)
    assert_security_headers(response)
    assert_no_store(response)


def test_the_inline_code_finder_finds_inline_code():
    for html in ('<script>alert(1)</script>', '<style>p{}</style>', '<p style="color:red">',
                 '<a href="javascript:alert(1)">', '<img src="/x.png" onerror="alert(1)">',
                 '<meta http-equiv="Content-Security-Policy" content="default-src *">'):
        finder = InlineCodeFinder()
        finder.feed(html)
        assert finder.found, html
    finder = InlineCodeFinder()
    finder.feed('<script src="/static/js/casedesk.js" defer></script>'
                '<script type="application/json" id="data">{}</script><p class="x">')
    assert not finder.found


# --- production settings: HSTS, HTTPS redirect, secure cookies --------------------------------

@pytest.fixture
def production_https(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True


HSTS = "max-age=31536000; includeSubDomains; preload"


def test_hsts_on_every_https_response(client, demo_world, production_https, static_served):
    responses = {
        "login": client.get(reverse("account_login"), secure=True),
        "healthz": client.get(reverse("cases:healthz"), secure=True),
        "404": client.get("/no-such-page/", secure=True),
        "static": client.get("/static/css/casedesk.css", secure=True),
        "trace": client.generic("TRACE", "/", secure=True),
    }
    client.force_login(demo_world.users["editor"])
    responses["dashboard"] = client.get(reverse("cases:dashboard"), secure=True)
    responses["sign-out"] = client.post(reverse("account_logout"), secure=True)
    for name, response in responses.items():
        assert response["Strict-Transport-Security"] == HSTS, name
        assert_security_headers(response, framed_by_header=name not in ("static", "trace"))


def test_plain_http_is_redirected_to_https(client, production_https):
    response = client.get(reverse("account_login"))
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
    assert "Strict-Transport-Security" not in response  # only ever sent over HTTPS


def test_load_balancer_probe_stays_on_http(client, production_https):
    response = client.get(reverse("cases:healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"


def test_cookies_are_secure_in_production(client, demo_world, production_https):
    page = client.get(reverse("account_login"), secure=True)
    assert page.cookies["csrftoken"]["secure"]
    response = client.post(reverse("account_login"), {"login": "editor", "password": PASSWORD},
                           secure=True)
    assert response.status_code == 302
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["secure"] and session_cookie["httponly"]
    assert session_cookie["samesite"] == "Lax"


# --- `manage.py check --deploy` and the production defaults, in a fresh process --------------

def production_env(**extra) -> dict[str, str]:
    """Only what a production host sets, nothing of the developer's environment that could
    weaken it (no DEBUG, no SECURE_* overrides)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "casedesk.example",
        # A Fernet key (32 random bytes, URL-safe base64) for the protected identities.
        "CASEDESK_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        # A cache every worker shares (the check reads the setting; nothing connects to it).
        "CACHE_URL": "redis://127.0.0.1:6379/0",
    }
    env.update(extra)
    return env


def run(args, env, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


def test_check_deploy_passes_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_check_deploy_fails_when_a_production_default_is_weakened():
    """The test above would catch a regression: the check does look at our settings."""
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                 production_env(SECURE_HSTS_SECONDS="0", SESSION_COOKIE_SECURE="false"))
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W012" in result.stderr


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in (
    "DEBUG", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY")}))
"""


def test_production_defaults():
    result = run(["-c", SHOW_SETTINGS], production_env())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "DEBUG": False, "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": None, "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True,
    }


def test_proxy_ssl_header_from_the_environment():
    result = run(["-c", SHOW_SETTINGS],
                 production_env(SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["SECURE_PROXY_SSL_HEADER"] == [
        "HTTP_X_FORWARDED_PROTO", "https"]
    result = run(["-c", SHOW_SETTINGS], production_env(SECURE_PROXY_SSL_HEADER="https"))
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must be two" in result.stderr


# --- gunicorn, as served ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with gunicorn.conf.py and production settings, on a free loopback port."""
    port = free_port()
    env = production_env(GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
                         DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                         STATIC_ROOT=str(tmp_path / "static"))
    # As a deployment does before it starts: the error pages link the hashed stylesheets.
    collected = run(["manage.py", "collectstatic", "--noinput"], env)
    assert collected.returncode == 0, collected.stderr
    log = open(tmp_path / "gunicorn.log", "w+")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                               cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.seek(0)
                pytest.fail(f"gunicorn did not start:\n{log.read()}")
            time.sleep(0.1)

    def request(method, path, *, https=True):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Host": "casedesk.example"}
        if https:  # what the TLS-terminating proxy on the same host says
            headers["X-Forwarded-Proto"] = "https"
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    yield request
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def test_gunicorn_serves_the_headers_without_a_version(gunicorn):
    response = gunicorn("GET", "/no-such-page/")
    assert response.status == 404
    assert response.getheader("Server") == "gunicorn"  # no version, no Python, no OS
    assert len(response.headers.get_all("Server")) == 1
    assert response.getheader("Strict-Transport-Security") == HSTS
    policy = parse_csp(response.getheader("Content-Security-Policy"))
    assert all(policy[d] == s for d, s in REQUIRED_CSP.items())
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"

    trace = gunicorn("TRACE", "/")
    assert trace.status == 405
    assert trace.getheader("Server") == "gunicorn"

    plain = gunicorn("GET", "/", https=False)
    assert plain.status == 301
    assert plain.getheader("Location") == "https://casedesk.example/"
    probe = gunicorn("GET", "/healthz", https=False)
    assert probe.status == 200


def test_our_copy_of_simple_historys_template_differs_only_by_the_inline_style():
    """templates/simple_history/object_history_list.html overrides the package's to drop an
    inline style, to read a row's kind and change reason through cases/history.py
    (cases/templatetags/history_display.py: "Restored", not "Created"; reasons in words),
    and to list a citation's relay changes below the rows;
    after an upgrade of django-simple-history this says to copy it again. Any other
    difference, or a package template that no longer has one of these lines, fails."""
    import simple_history

    theirs = (Path(simple_history.__file__).parent / "templates" / "simple_history"
              / "object_history_list.html").read_text()
    ours = (BASE_DIR / "templates" / "simple_history" / "object_history_list.html").read_text()
    ours = ours[ours.index("{% endcomment %}\n") + len("{% endcomment %}\n"):]
    intended = [
        ('<p class="paginator" style="border-top: 0">', '<p class="paginator">'),
        ("{% load getattribute from getattributes %}\n",
         "{% load getattribute from getattributes %}\n{% load history_display %}\n"),
        ("<td>{{ record.get_history_type_display }}</td>",
         "<td>{{ record|history_row_action }}</td>"),
        ("{{ record.history_change_reason }}", "{{ record|history_row_reason }}"),
        # A citation's relay changes, below the list (templates/simple_history/
        # relay_history.html; tests/test_admin_citation_history.py).
        ("</p>\n", '</p>\n{% if relay_history %}{% include "simple_history/relay_history.html" %}'
                   "{% endif %}\n"),
    ]
    expected = theirs
    for package_line, our_line in intended:
        assert theirs.count(package_line) == 1, package_line
        expected = expected.replace(package_line, our_line)
    assert ours == expected


def test_csrf_cookie_is_out_of_reach_of_scripts(client):
    response = client.get("/accounts/login/")
    assert response.cookies["csrftoken"]["httponly"] is True
