"""A claim of the demo case with the capture of its cited page, in a real browser: the
thumbnail is shown under the site's Content-Security-Policy (`img-src 'self'`), and the page
is photographed for the README (docs/screenshots/claim-capture.png, and in the Russian run
docs/screenshots/ru/claim-capture.png).

The cited page is a test page served from 127.0.0.1 (tests/pages), captured by Chromium
(capture/engine.py) and timestamped by a TSA on 127.0.0.1 (tests/tsa.py)."""

import threading

import pytest
from django.conf import settings
from django.core.management import call_command

from capture.domain import store_capture
from capture.engine import capture_page
from capture.timestamps import stamp
from cases.models import Case, Citation, Claim

from ..pages.server import PageServer
from ..tsa import TestTSA, require_openssl
from .conftest import CHROMIUM, SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

def _captured(url, tsa):
    """capture_page() in a thread of its own: the browser test's thread runs Playwright's
    event loop, and a capture starts its own."""
    done = {}

    def run():
        try:
            done["result"] = capture_page(url, allowed_hosts=["127.0.0.1"], chromium=CHROMIUM)
            done["result"].timestamp = stamp(done["result"].manifest_bytes, [tsa.url],
                                             ca_file=tsa.ca_file)
        except Exception as exc:  # reported in the test's thread
            done["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in done:
        raise done["error"]
    return done["result"]


def test_claim_with_its_capture_shows_thumbnail_under_csp(open_page, t, interface_language):
    require_openssl()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    case = Case.objects.get()
    claim = Claim.objects.of_case(case).filter(events__isnull=False).distinct().first()
    citation = claim.citations.filter(source__protected=False, relay_links__isnull=True,
                                      source__reached_via__isnull=True).first()
    # The demo cites no addresses: this citation gets one on its source's site.
    cited = f"{citation.source.url.rstrip('/')}/text/incidents/2025/05/13/training-ground/"
    Citation.objects.filter(pk=citation.pk).update(url=cited)
    editor = case.memberships.get(user__username="editor").user
    with PageServer("127.0.0.1") as pages, TestTSA() as tsa:
        result = _captured(pages.url("/article.html"), tsa)
    with result:
        capture = store_capture(citation.pk, editor.pk, result)
    assert capture.verified_at is not None

    page = open_page("editor", settings.DEMO_PASSWORD)
    blocked = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"/cases/{case.slug}/claims/{claim.pk}/#citation-{citation.pk}")
    thumbnail = page.locator(f'[data-capture="{capture.pk}"] img')
    thumbnail.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => img.naturalWidth") == 480
    text = page.locator(f'[data-capture="{capture.pk}"]').inner_text()
    assert (f"{t('timestamped by %(tsa)s', tsa='127.0.0.1')} · "
            f"{t('verified', 'timestamp')}") in text
    assert "WACZ" in text and "PDF" in text and "PNG" in text
    assert blocked == []

    folder = SCREENSHOTS if interface_language == "en" else SCREENSHOTS / interface_language
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "claim-capture.png"
    page.locator(f"#citation-{citation.pk}").screenshot(path=shot)
    assert shot.stat().st_size > 10_000
