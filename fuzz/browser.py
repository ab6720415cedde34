"""One role's session: requests tagged for the server log, forms submitted as a browser would
(CSRF token from the page, Referer and Origin set), and the real sign-in with the second
factor (password, then a code from the role's authenticator app)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from . import pages
from .transport import Pairs, Response, encode_form, encode_query

# Every request carries these two headers; the fuzz server's log writes the first beside each
# traceback (fuzz/settings.py), and its access log both (fuzz/server.py).
ID_HEADER, TARGET_HEADER = "X-Fuzz-Id", "X-Fuzz-Target"
LOGIN_PATH = "/accounts/login/"


class SignInError(RuntimeError):
    pass


class Browser:
    def __init__(self, role: str, transport, *, run_id: str = "ci",
                 sign_in: Callable[[Browser], None] | None = None) -> None:
        self.role = role
        self.transport = transport
        self.label = "crawl"
        self._ids = itertools.count(1)
        self.run_id = run_id
        self.last_id = ""
        # Signs this role in again when a response shows the session has ended (a fuzzed
        # form changed the account; fuzz/fixtures.py restored it).
        self.sign_in = sign_in
        self.sign_ins = 0
        self._signing_in = False

    def request(self, method: str, path: str, *, body: bytes | None = None,
                content_type: str | None = None, referer: str | None = None) -> Response:
        self.last_id = f"{self.run_id}-{self.role}-{next(self._ids)}"
        headers = {ID_HEADER: self.last_id, TARGET_HEADER: f"{self.role} {self.label}"}
        if referer is not None:
            origin = getattr(self.transport, "origin", "")
            headers["Referer"] = origin + referer
            headers["Origin"] = origin
        response = self.transport.request(method, path, body=body, content_type=content_type,
                                          headers=headers)
        if self.sign_in is not None and not self._signing_in and response.status in (302, 303) \
                and urlsplit(response.location).path == LOGIN_PATH:
            self._signing_in = True
            try:
                self.sign_in(self)
                self.sign_ins += 1
            finally:
                self._signing_in = False
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def submit(self, form: pages.Form, pairs: Pairs, *, page: str) -> Response:
        if form.method == "get":
            base = form.action.split("?", 1)[0]
            return self.request("GET", f"{base}?{encode_query(pairs)}")
        body, content_type = encode_form(pairs, form.enctype)
        return self.request("POST", form.action or page, body=body, content_type=content_type,
                            referer=page)


def sign_in(browser: Browser, username: str, password: str, code) -> None:
    """Through the sign-in form a browser gets, then the two-factor step if asked for it.
    `code()`: the authenticator app's current code."""
    page = browser.get(LOGIN_PATH)
    forms = [f for f in pages.parse(page.text, LOGIN_PATH).forms
             if f.method == "post" and any(x.kind == "password" for x in f.fields)]
    if page.status != 200 or not forms:
        raise SignInError(f"no sign-in form at {LOGIN_PATH} ({page.status})")
    data = [(n, v) for n, v in forms[0].served_data()]
    data = [(n, username if n == "login" else password if n == "password" else v)
            for n, v in data]
    response = browser.submit(forms[0], data, page=LOGIN_PATH)
    where = urlsplit(response.location).path
    if response.status != 302 or where == LOGIN_PATH:
        raise SignInError(f"{username}: the password was refused ({response.status})")
    if "/2fa/" in where:
        step = browser.get(where)
        code_forms = [f for f in pages.parse(step.text, where).forms
                      if any(x.name == "code" for x in f.fields)]
        if not code_forms:
            raise SignInError(f"{username}: no code form at {where}")
        data = [(n, code() if n == "code" else v) for n, v in code_forms[0].served_data()]
        response = browser.submit(code_forms[0], data, page=where)
        if response.status != 302 or "/2fa/" in response.location:
            raise SignInError(f"{username}: the second factor was refused ({response.status})")
    if not signed_in(browser):
        raise SignInError(f"{username}: signed in, yet the dashboard is not shown")


def signed_in(browser: Browser) -> bool:
    """On the dashboard, past both factors (the two-factor setup page is not the dashboard)."""
    response = browser.get("/")
    return response.status == 200 and 'action="/accounts/logout/"' in response.text


def totp_code(secret: str, last_counter: dict[str, int], key: str) -> str:
    """The code the authenticator app shows now; a code is accepted once, so when this
    account already used the current period's, wait for the next one."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time()) // app_settings.TOTP_PERIOD
    if last_counter.get(key) == counter:
        time.sleep(app_settings.TOTP_PERIOD - time.time() % app_settings.TOTP_PERIOD + 0.2)
        counter = int(time.time()) // app_settings.TOTP_PERIOD
    last_counter[key] = counter
    return format_hotp_value(hotp_value(secret, counter))
