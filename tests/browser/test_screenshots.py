"""Screenshots of the main pages, from the demo case, for the README (docs/screenshots/), in
English and, after switching in the navbar, in Russian (docs/screenshots/ru/).

It is its own Russian run, so it starts in English only (`interface_language`, which would
otherwise run it once per language, is fixed to "en")."""

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from cases.models import Case, Claim

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("interface_language", ["en"])
def test_screenshots_of_the_demo_case(open_page):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    case = Case.objects.get()
    claim = Claim.objects.of_case(case).filter(events__isnull=False).distinct().first()
    page = open_page("editor", settings.DEMO_PASSWORD)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # (file name, page, English text that shows it, Russian text that shows it)
    shots = [
        ("dashboard", "/", "Recent activity on my cases", "Сводка"),
        ("timeline", f"/cases/{case.slug}/timeline/", "9 May, year unknown", "Хронология"),
        ("claims-board", f"/cases/{case.slug}/claims/", "Corroborated", "Утверждения"),
        ("claim", f"/cases/{case.slug}/claims/{claim.pk}/", "Verification history",
         "Утверждения"),
    ]
    for name, path, expected, _ in shots:
        page.goto(path)
        assert expected in page.content()
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000

    # The same pages in Russian, switched the way a reader does: the navbar's button.
    russian = SCREENSHOTS / "ru"
    russian.mkdir(exist_ok=True)
    page.goto("/")
    page.locator("nav").get_by_role("button", name="Русский").click()
    for name, path, _, expected in shots:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        assert expected in page.content()
        page.screenshot(path=russian / f"{name}.png", full_page=True)
        assert (russian / f"{name}.png").stat().st_size > 10_000
