"""The API's docs page in a real browser (Debian's Chromium, Playwright): Swagger UI renders
the schema from our own origin under the site's CSP, with no violation reported."""

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = os.environ.get("API_DOCS_SCREENSHOT")  # a path, to look at the page by eye



def _look_at_the_docs(base_url: str, password: str) -> dict:
    """Sign in as the demo reporter (no second factor needed), open /api/docs/ and report
    what the browser saw. Runs in a thread of its own: Playwright's sync API refuses to start
    where another test's browser (tests/browser/) keeps an event loop running."""
    from playwright.sync_api import sync_playwright

    seen = {"console": [], "failed": [], "script_errors": []}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                       base_url=base_url)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: seen["console"].append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda error: seen["script_errors"].append(str(error)))
        page.on("requestfailed", lambda request: seen["failed"].append(request.url))
        # The browser asks for /favicon.ico on its own; the site has none (no page links one).
        page.on("response", lambda r: seen["failed"].append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

        page.goto("/accounts/login/")
        page.fill("#id_login", "reporter")
        page.fill("#id_password", password)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

        response = page.goto("/api/docs/")
        seen["status"] = response.status
        seen["csp"] = response.headers["content-security-policy"]
        page.wait_for_selector(".swagger-ui .opblock-tag-section")
        seen["tags"] = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
        seen["transition_ops"] = page.locator(
            ".swagger-ui .opblock-summary-path",
            has_text="/api/v1/claims/{id}/transition/").count()
        # Swagger UI's own stylesheet applies (loaded from /static/, not blocked).
        seen["get_colour"] = page.locator(
            ".swagger-ui .opblock-get .opblock-summary-method").first.evaluate(
            "e => getComputedStyle(e).backgroundColor")
        if SCREENSHOT:
            page.screenshot(path=SCREENSHOT, full_page=False)
        context.close()
        chromium.close()
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_docs_page_renders_under_the_csp(live_server, settings):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}: install Debian's chromium package.")
    pytest.importorskip("playwright.sync_api")
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    with ThreadPoolExecutor(max_workers=1) as worker:
        seen = worker.submit(_look_at_the_docs, live_server.url, settings.DEMO_PASSWORD).result()

    assert seen["status"] == 200
    assert "script-src 'self'" in seen["csp"]
    assert any(tag.startswith("claims") for tag in seen["tags"]), seen["tags"]
    assert seen["transition_ops"] == 1
    assert seen["get_colour"] == "rgb(97, 175, 254)"
    assert [m for m in seen["console"] if "Content Security Policy" in m] == []
    assert seen["failed"] == []
    assert seen["script_errors"] == []
