"""Sign-in (issue 4, part 3, without the second factor): throttling with django-axes and the
documented way back in, over-long usernames, the session's life (a new one at sign-in, ended
at sign-out, after inactivity and when the account is disabled), and no self sign-up."""

import datetime as dt
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessLog
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY, authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import DataError, connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from config.auth import (
    AXES_USERNAME_MAX_LENGTH,
    AccountAdapter,
    client_ip,
    trusted_proxy_networks,
)
from config.middleware import SIGNED_IN_AT, SessionRefreshMiddleware

from .clients import TwoFactorClient
from .factories import PASSWORD, UserFactory, api_key_for
from .test_http_security import assert_no_inline_code, assert_security_headers

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
LIMIT = 3  # failures that lock out, in these tests (settings: AXES_FAILURE_LIMIT, default 5)


@pytest.fixture(autouse=True)
def _small_failure_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def user(db):
    return UserFactory(username="reporter")


def sign_in(client, username="reporter", password=PASSWORD, **extra):
    return client.post(reverse("account_login"), {"login": username, "password": password}, **extra)


def signed_in_as(client):
    """The id of the user the client's session belongs to, or None."""
    return client.session.get(SESSION_KEY)


def session_key(client):
    cookie = client.cookies.get(django_settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def lock_out(client, username="reporter", **extra):
    for _ in range(LIMIT - 1):
        response = sign_in(client, username, "wrong password", **extra)
        assert response.status_code == 200  # the form again, with its message
    response = sign_in(client, username, "wrong password", **extra)
    assert response.status_code == 429
    return response


# --- throttling -------------------------------------------------------------------------


def test_the_settings_throttle_with_axes_before_the_password_check():
    assert django_settings.AUTHENTICATION_BACKENDS == [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert django_settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"
    assert django_settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert django_settings.AXES_RESET_ON_SUCCESS is True


def test_failures_below_the_limit_get_the_form_again(client, user):
    for _ in range(LIMIT - 1):
        response = sign_in(client, password="wrong password")
        assert response.status_code == 200
        assert "username and/or password you specified are not correct" in response.content.decode()
    attempt = AccessAttempt.objects.get(username="reporter")
    assert attempt.failures_since_start == LIMIT - 1
    assert attempt.ip_address == "127.0.0.1"
    # Never the password, in clear, in axes' record.
    assert "wrong password" not in attempt.post_data


def test_the_nth_failure_locks_out_with_our_page_and_no_session(client, user):
    response = lock_out(client)

    assert "registration/locked_out.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert "Sign-in paused" in page
    assert "too many failed sign-ins" in page
    assert "30 minutes" in page  # AXES_COOLOFF_MINUTES' default
    assert "administrator" in page
    assert reverse("account_login") in page  # the way back to the form
    assert_security_headers(response)
    assert_no_inline_code(page, "lockout page")
    assert signed_in_as(client) is None
    assert not response.context["user"].is_authenticated


def test_the_lockout_page_without_cool_off_says_an_administrator_lifts_it(client, user,
                                                                          settings):
    settings.AXES_COOLOFF_TIME = None
    page = lock_out(client).content.decode()
    assert "until an administrator lifts the lock" in page
    assert "minutes" not in page


def test_the_right_password_is_refused_while_locked_out(client, user):
    lock_out(client)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=10))

    response = sign_in(client)

    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert signed_in_as(client) is None
    assert client.get(reverse("cases:dashboard")).status_code == 302
    # The try counted as a failure and started the pause again.
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == LIMIT + 1
    assert attempt.attempt_time > timezone.now() - dt.timedelta(minutes=1)


def test_the_lockout_ends_after_the_cool_off(client, user, settings):
    lock_out(client)
    assert sign_in(client).status_code == 429

    # The failures were made longer ago than the cool-off (30 minutes by default).
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=31))

    response = sign_in(client)
    assert response.status_code == 302
    assert signed_in_as(client) == str(user.pk)


def test_an_admin_resets_a_lockout_with_the_management_command(client, user):
    lock_out(client)
    out = StringIO()

    call_command("axes_reset_username", "reporter", stdout=out)

    assert "1 attempts removed" in out.getvalue()
    assert not AccessAttempt.objects.exists()
    response = sign_in(client)
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:dashboard")
    assert signed_in_as(client) == str(user.pk)


def test_an_admin_lifts_a_lockout_in_the_admin(client, user):
    lock_out(client)
    admin_client = TwoFactorClient()
    admin_client.force_login(UserFactory(username="chief", is_staff=True, is_superuser=True))
    attempt = AccessAttempt.objects.get()

    response = admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]),
                                 {"post": "yes"})

    assert response.status_code == 302
    assert sign_in(client).status_code == 302


def test_a_lockout_is_per_username_and_address(client, user):
    """Colleagues behind the same address (the browser tests' many sign-ins from 127.0.0.1
    among them) are not locked out by one person's failures, nor is the same person from
    elsewhere."""
    colleague = UserFactory(username="editor")
    lock_out(client)

    other = Client()
    assert sign_in(other, "editor").status_code == 302
    assert signed_in_as(other) == str(colleague.pk)

    elsewhere = Client(REMOTE_ADDR="203.0.113.7")
    assert sign_in(elsewhere).status_code == 302
    assert signed_in_as(elsewhere) == str(user.pk)
    assert sign_in(client).status_code == 429  # still locked where the failures came from


def test_a_successful_sign_in_clears_the_failures_and_is_not_logged(client, user):
    for _ in range(LIMIT - 1):
        sign_in(client, password="wrong password")
    assert sign_in(client).status_code == 302
    assert not AccessAttempt.objects.exists()
    # Axes keeps no log of successful sign-ins (the addresses staff sign in from).
    assert not AccessLog.objects.exists()

    client.post(reverse("account_logout"))
    for _ in range(LIMIT - 1):
        assert sign_in(client, password="wrong password").status_code == 200
    assert sign_in(client).status_code == 302


def test_many_successful_sign_ins_never_lock_out(client, user):
    for _ in range(LIMIT * 3):
        assert sign_in(client).status_code == 302
        client.post(reverse("account_logout"))
    assert not AccessAttempt.objects.exists()


def test_an_unknown_username_is_counted_and_locked_out_like_a_known_one(client, db):
    """The lockout says nothing about whether an account exists."""
    response = lock_out(client, username="nobody-by-this-name")
    assert "Sign-in paused" in response.content.decode()


# --- over-long usernames ------------------------------------------------------------------


def test_a_300_character_username_on_the_sign_in_page_is_no_server_error(client, user):
    response = sign_in(client, "x" * 300, "wrong password")
    # Django's sign-in form refuses a name longer than a username can be, before any
    # password check (so nothing to count: no account can have that name).
    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_a_300_character_username_is_cut_to_255_and_counted():
    """Wherever an over-long name reaches authenticate() (the admin's or another sign-in
    form), axes counts it under its first 255 characters: PostgreSQL would refuse the whole
    name in axes' 255-character column, and the page would answer 500."""
    name = "y" * 300
    for tail in ("a", "b"):  # differs only past character 255: the same name to axes
        request = RequestFactory().post(reverse("account_login"), {"login": name + tail})
        assert authenticate(request, username=name + tail, password="wrong") is None

    attempt = AccessAttempt.objects.get()
    assert attempt.username == name[:AXES_USERNAME_MAX_LENGTH]
    assert attempt.failures_since_start == 2

    request = RequestFactory().post(reverse("account_login"))
    assert authenticate(request, username=name, password="wrong") is None
    assert request.axes_locked_out  # the third failure: locked out like any other name


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="SQLite does not enforce a column's length")
def test_without_the_cut_postgresql_would_refuse_an_over_long_username(settings):
    settings.AXES_USERNAME_CALLABLE = None
    settings.AXES_USERNAME_FORM_FIELD = "username"  # axes' default reads it from credentials
    request = RequestFactory().post(reverse("account_login"))
    with pytest.raises(DataError), transaction.atomic():
        authenticate(request, username="z" * 300, password="wrong")


# --- the session --------------------------------------------------------------------------


def test_sign_in_gives_a_new_session_key(client, user):
    """A session key planted before sign-in (session fixation) is worthless after it."""
    planted = client.session
    planted["before sign-in"] = True
    planted.save()
    old_key = planted.session_key
    assert session_key(client) == old_key

    assert sign_in(client).status_code == 302

    new_key = session_key(client)
    assert new_key and new_key != old_key
    assert signed_in_as(client) == str(user.pk)
    assert not Session.objects.filter(session_key=old_key).exists()
    attacker = Client()
    attacker.cookies[django_settings.SESSION_COOKIE_NAME] = old_key
    assert attacker.get(reverse("cases:dashboard")).status_code == 302


def test_sign_out_ends_the_session_on_the_server(client, user):
    sign_in(client)
    key = session_key(client)
    assert client.get(reverse("cases:dashboard")).status_code == 200

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    # The old cookie, kept by someone, no longer signs anyone in.
    stolen = Client()
    stolen.cookies[django_settings.SESSION_COOKIE_NAME] = key
    response = stolen.get(reverse("cases:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_sign_out_needs_a_post(client, user):
    sign_in(client)
    # A GET (a link, an <img> on another site) only asks; it does not sign out.
    page = client.get(reverse("account_logout"))
    assert "Are you sure you want to sign out?" in page.content.decode()
    assert signed_in_as(client) == str(user.pk)
    assert client.get(reverse("cases:dashboard")).status_code == 200


def test_the_session_lasts_two_hours_idle_and_ends_with_the_browser():
    assert django_settings.SESSION_COOKIE_AGE == 2 * 60 * 60
    assert django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    # refreshed once a minute by our middleware, not written on every request
    assert django_settings.SESSION_REFRESH_SECONDS == 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is False
    middleware = django_settings.MIDDLEWARE
    assert middleware.index("config.middleware.SessionRefreshMiddleware") > middleware.index(
        "django.contrib.auth.middleware.AuthenticationMiddleware")


def _last_saved(key, *, seconds_ago, expires_in):
    """The session as if its last save (its expiry refresh) was `seconds_ago`."""
    store = SessionStore(session_key=key)
    store[SessionRefreshMiddleware.REFRESHED_AT] = int(time.time()) - seconds_ago
    store.save()
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + dt.timedelta(seconds=expires_in))


def test_a_request_a_minute_after_the_last_save_pushes_the_idle_expiry_back(client, user,
                                                                            settings):
    settings.SESSION_COOKIE_AGE = 600
    sign_in(client)
    key = session_key(client)
    _last_saved(key, seconds_ago=61, expires_in=30)

    before = timezone.now()
    assert client.get(reverse("cases:dashboard")).status_code == 200

    expiry = Session.objects.get(session_key=key).expire_date
    assert before + dt.timedelta(seconds=590) < expiry <= timezone.now() + dt.timedelta(
        seconds=600)
    # A session cookie: the browser forgets it when it closes.
    assert client.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"] == ""


def test_requests_within_a_minute_of_the_last_save_write_no_session(client, user, settings):
    settings.SESSION_COOKIE_AGE = 600
    sign_in(client)
    key = session_key(client)
    _last_saved(key, seconds_ago=30, expires_in=570)
    expiry = Session.objects.get(session_key=key).expire_date

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("cases:dashboard"))

    assert page.status_code == 200 and signed_in_as(client) == str(user.pk)
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"]
                and not q["sql"].startswith("SELECT")]
    assert Session.objects.get(session_key=key).expire_date == expiry


def test_a_token_authenticated_api_call_is_given_no_session(user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")

    response = api.get("/api/v1/cases/")

    assert response.status_code == 200
    assert Session.objects.count() == 0
    assert django_settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_changed_session_is_saved_at_once(client, user, settings):
    sign_in(client)
    key = session_key(client)
    _last_saved(key, seconds_ago=0, expires_in=600)

    client.post(reverse("account_logout"))

    assert not Session.objects.filter(session_key=key).exists()
    assert signed_in_as(client) is None


def test_an_idle_session_ends(client, user, settings):
    settings.SESSION_COOKIE_AGE = 60
    sign_in(client)
    key = session_key(client)
    assert client.get(reverse("cases:dashboard")).status_code == 200

    # More than SESSION_COOKIE_AGE without a request: the server's copy has expired.
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1))

    response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def _settings_in_a_fresh_process(**env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("SESSION_IDLE_TIMEOUT_SECONDS", "AXES_FAILURE_LIMIT",
                                "AXES_COOLOFF_MINUTES", "SESSION_EXPIRE_AT_BROWSER_CLOSE")}
    environment.update(env)
    code = ("import config.settings as s; print(s.SESSION_COOKIE_AGE, s.AXES_FAILURE_LIMIT, "
            "s.AXES_COOLOFF_TIME)")
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_idle_timeout_and_lockout_come_from_the_environment():
    assert _settings_in_a_fresh_process() == "7200 5 0:30:00"
    assert _settings_in_a_fresh_process(SESSION_IDLE_TIMEOUT_SECONDS="900",
                                        AXES_FAILURE_LIMIT="10",
                                        AXES_COOLOFF_MINUTES="90") == "900 10 1:30:00"
    # 0: no cool-off, a lockout lasts until an administrator resets it.
    assert _settings_in_a_fresh_process(AXES_COOLOFF_MINUTES="0") == "7200 5 None"


# --- disabled accounts ----------------------------------------------------------------------


def test_a_disabled_account_is_signed_out_on_its_next_request(client, user):
    sign_in(client)
    # Signed in through the axes backend first in line; ModelBackend let the user in.
    assert client.session[BACKEND_SESSION_KEY] == "django.contrib.auth.backends.ModelBackend"
    assert client.get(reverse("cases:dashboard")).status_code == 200

    user.is_active = False
    user.save()

    response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_disabled_account_cannot_sign_in(client, user):
    user.is_active = False
    user.save()
    response = sign_in(client)
    assert response.status_code == 200
    assert signed_in_as(client) is None


# --- accounts are created by admins -------------------------------------------------------------


def _all_routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _all_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name or ""


def test_there_is_no_sign_up_url(client, user):
    for name in ("signup", "sign_up", "register", "registration_register",
                 "django_registration_register", "account_signup"):
        with pytest.raises(NoReverseMatch):
            reverse(name)
    for route, name in _all_routes(get_resolver().url_patterns):
        text = f"{route} {name}".lower()
        assert not any(word in text for word in ("signup", "sign-up", "sign_up", "register",
                                                 "join")), (route, name)

    assert client.get("/accounts/signup/").status_code == 404
    assert client.post("/accounts/signup/", {"username": "new", "password1": "x"}
                       ).status_code == 404
    sign_in(client)
    assert client.get("/accounts/signup/").status_code == 404


def test_the_sign_in_page_offers_no_sign_up(client):
    page = client.get(reverse("account_login")).content.decode()
    assert "Accounts are created by your newsroom's administrator." in page
    assert "sign up" not in page.lower() and "register" not in page.lower()


def test_django_password_validators_are_on():
    validators = [v["NAME"].rsplit(".", 1)[1] for v in django_settings.AUTH_PASSWORD_VALIDATORS]
    assert validators == ["UserAttributeSimilarityValidator", "MinimumLengthValidator",
                          "CommonPasswordValidator", "NumericPasswordValidator"]
    for weak in ("password", "12345678", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak)


# --- behind the reverse proxy: the client's address, not the proxy's --------------------------

PROXY = {"REMOTE_ADDR": "127.0.0.1"}  # FORWARDED_ALLOW_IPS' default: a proxy on this host


def test_two_clients_behind_the_proxy_are_counted_apart(client, user):
    lock_out(client, **PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5")

    # Another person behind the same proxy signs in as the same user: not locked out.
    other = TwoFactorClient()
    response = sign_in(other, **PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert response.status_code == 302 and signed_in_as(other) == str(user.pk)
    # The first is still paused (and the try counted), under their own address.
    assert sign_in(client, **PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [
        ("203.0.113.5", LIMIT + 1)]


def test_a_forwarded_header_from_a_non_proxy_is_not_trusted(client, user):
    # A client reaching the app directly writes a new address in every attempt.
    for i in range(LIMIT):
        response = sign_in(client, password="wrong password", REMOTE_ADDR="192.0.2.50",
                           HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    assert response.status_code == 429
    assert sign_in(client, REMOTE_ADDR="192.0.2.50",
                   HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["192.0.2.50"]


@pytest.mark.parametrize(("remote", "forwarded", "count", "counted"), [
    ("127.0.0.1", None, 1, "127.0.0.1"),  # no proxy in between (make run, the tests)
    ("127.0.0.1", "203.0.113.5", 1, "203.0.113.5"),
    # The client's own header comes first; the proxy appends the address it saw.
    ("127.0.0.1", "6.6.6.6, 203.0.113.5", 1, "203.0.113.5"),
    ("127.0.0.1", "6.6.6.6, 203.0.113.5, 10.0.0.2", 2, "203.0.113.5"),
    ("127.0.0.1", "2001:DB8::0:1", 1, "2001:db8::1"),
    ("::1", "203.0.113.5", 1, "203.0.113.5"),
    ("127.0.0.1", "203.0.113.5", 0, "127.0.0.1"),  # TRUSTED_PROXY_COUNT=0: no proxy
    ("127.0.0.1", "203.0.113.5", 2, "127.0.0.1"),  # fewer hops than proxies
    ("127.0.0.1", "not-an-address", 1, "127.0.0.1"),
    ("127.0.0.1", "203.0.113.5:4711", 1, "127.0.0.1"),
    ("192.0.2.50", "203.0.113.5", 1, "192.0.2.50"),  # not a proxy of ours
])
def test_the_counted_address(settings, remote, forwarded, count, counted):
    settings.CASEDESK_TRUSTED_PROXY_COUNT = count
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post(reverse("account_login"), **headers)
    assert client_ip(request) == counted
    # allauth's per-address limits count the same address.
    assert AccountAdapter(request).get_client_ip(request) == counted


def test_trusted_proxies_are_networks_or_a_star(settings):
    settings.CASEDESK_TRUSTED_PROXIES = ["10.0.0.0/24"]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert client_ip(request) == "203.0.113.5"
    settings.CASEDESK_TRUSTED_PROXIES = ["10.0.1.0/24"]
    assert client_ip(request) == "10.0.0.7"
    settings.CASEDESK_TRUSTED_PROXIES = ["*"]
    assert client_ip(request) == "203.0.113.5"
    with pytest.raises(ImproperlyConfigured, match="FORWARDED_ALLOW_IPS"):
        trusted_proxy_networks(["10.0.0.1/24"])  # host bits set: a typo gunicorn refuses too


def test_trusted_proxies_come_from_gunicorns_variable():
    code = ("import config.settings as s; "
            "print(s.CASEDESK_TRUSTED_PROXIES, s.CASEDESK_TRUSTED_PROXY_COUNT, "
            "s.SESSION_ABSOLUTE_LIFETIME_SECONDS)")
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("FORWARDED_ALLOW_IPS", "TRUSTED_PROXY_COUNT",
                                "SESSION_ABSOLUTE_LIFETIME_SECONDS")}

    def run(**env):
        result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR,
                                env={**environment, **env}, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run() == "['127.0.0.1', '::1'] 1 43200"
    assert run(FORWARDED_ALLOW_IPS="10.0.0.2,10.0.1.0/24", TRUSTED_PROXY_COUNT="2",
               SESSION_ABSOLUTE_LIFETIME_SECONDS="3600") == "['10.0.0.2', '10.0.1.0/24'] 2 3600"


# --- a session's absolute lifetime ------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """Moves time.time() (what the session middlewares read) forward, without sleeping."""
    start = time.time()
    moved = {"by": 0}
    monkeypatch.setattr(time, "time", lambda: start + moved["by"])

    def move_to(seconds_after_start):
        moved["by"] = seconds_after_start

    return move_to


def test_a_session_ends_its_lifetime_after_sign_in_however_active(client, user, settings,
                                                                   clock):
    settings.SESSION_ABSOLUTE_LIFETIME_SECONDS = 3600
    sign_in(client)
    key = session_key(client)
    for seconds in (0, 1200, 2400, 3599):  # busy all along: the idle timeout never ends it
        clock(seconds)
        assert client.get(reverse("cases:dashboard")).status_code == 200

    clock(3600)
    response = client.get(reverse("cases:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not Session.objects.filter(session_key=key).exists()
    assert signed_in_as(client) is None
    page = client.get(response["Location"]).content.decode()
    assert "Sessions last at most 1 hour: please sign in again." in page
    # Signing in again starts a new lifetime.
    sign_in(client)
    clock(3600 + 3599)
    assert client.get(reverse("cases:dashboard")).status_code == 200


def test_a_session_lifetime_counts_from_the_latest_sign_in_of_the_same_user(client, user,
                                                                             settings, clock):
    # Django keeps the session's data when the same user signs in again (login() on a
    # session of theirs only changes its key).
    settings.SESSION_ABSOLUTE_LIFETIME_SECONDS = 3600
    sign_in(client)
    clock(3000)
    client.force_login(user)
    clock(3000 + 3599)
    assert client.get(reverse("cases:dashboard")).status_code == 200


def test_a_session_from_before_the_lifetime_starts_counting_at_its_next_request(
        client, user, settings, clock):
    settings.SESSION_ABSOLUTE_LIFETIME_SECONDS = 3600
    sign_in(client)
    session = client.session
    del session[SIGNED_IN_AT]
    session.save()
    clock(5000)
    assert client.get(reverse("cases:dashboard")).status_code == 200
    assert client.session[SIGNED_IN_AT] == int(time.time())
    clock(5000 + 3600)
    assert client.get(reverse("cases:dashboard")).status_code == 302


def test_a_session_past_its_lifetime_reaches_no_api(client, user, settings, clock):
    settings.SESSION_ABSOLUTE_LIFETIME_SECONDS = 3600
    sign_in(client)
    assert client.get("/api/v1/cases/").status_code == 200
    clock(3600)
    response = client.get("/api/v1/cases/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()
    assert signed_in_as(client) is None
