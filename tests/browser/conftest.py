"""Real-browser tests: Debian's Chromium driven by Playwright against Django's live server.

They skip, saying why, only where no Chromium is installed (`.ci/run` installs it).

Every test that opens a browser context through `new_context` (and so `open_page`) runs in
English and once more in Russian: `interface_language` is parametrized, and `t` gives the
test its words in that language (tests/browser/language.py)."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from cases.two_factor import requires_second_factor

from ..mfa import enrol_totp, totp_code
from .language import BROWSER_LOCALE, DJANGO_LANGUAGE, LANGUAGES, Words

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="package")
def chromium():
    """One browser for the browser tests, closed when they are done: Playwright's sync API
    runs an event loop in the test thread while it is open, which later tests that start a
    loop of their own (the page capture) must not meet."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}: install Debian's chromium package "
                    "(apt-get install chromium) to run the browser tests.")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Django's ORM refuses to run from a thread with an event loop unless told it is safe (it
    # is: the loop never awaits the ORM). Only while the browser is open, and not in the
    # environment later tests hand to their subprocesses.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )
            yield browser
            browser.close()


@pytest.fixture(params=LANGUAGES)
def interface_language(request):
    """The language of the interface the test reads: "en" or "ru" (its id in the test's
    name). A test that is about languages itself (test_screenshots.py) parametrizes it
    directly with the one value it needs."""
    return request.param


@pytest.fixture
def t(interface_language):
    """t("Sources") -> the msgid in the test's language; t.pick(en=..., ru=...)."""
    return Words(interface_language)


@pytest.fixture
def new_context(chromium, live_server, interface_language):
    """new_context(**options) -> a browser context of the live server that asks for the
    test's language (its locale makes the Accept-Language header, which the language
    middleware reads when neither the account nor a cookie names one); closed at the end."""
    contexts = []

    def make(**options):
        context = chromium.new_context(**{
            "viewport": {"width": 1280, "height": 900}, "base_url": live_server.url,
            "locale": BROWSER_LOCALE[interface_language], **options})
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def open_page(new_context, interface_language):
    """open_page(username) -> a Page signed in as that user (one browser context each, in
    the test's language), through the real sign-in: password, then, for editors and admins,
    the code of an authenticator app enrolled for them here (as their phone would show it)."""
    secrets = {}

    def open_as(username, password):
        user = get_user_model().objects.get(username=username)
        if requires_second_factor(user) and username not in secrets:
            secrets[username] = enrol_totp(user)
        page = new_context().new_page()
        page.set_default_timeout(10_000)
        page.goto("/accounts/login/")
        page.fill("#id_login", username)
        page.fill("#id_password", password)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        if username in secrets:
            assert "/accounts/2fa/authenticate/" in page.url, page.url
            page.fill("#id_code", totp_code(secrets[username]))
            page.click("main button[type=submit]")
            page.wait_for_url(lambda url: "/accounts/2fa/" not in url)
        assert page.locator("html").get_attribute("lang") == DJANGO_LANGUAGE[interface_language]
        return page

    return open_as
