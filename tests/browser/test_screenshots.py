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
    # (file name, page, English text that shows it, Russian text that shows it, what a
    # page's script draws, waited for before the picture is taken)
    shots = [
        ("dashboard", "/", "Recent activity on my cases", "Сводка", None),
        ("timeline", f"/cases/{case.slug}/timeline/", "9 May, year unknown", "Хронология",
         None),
        ("visual-timeline", f"/cases/{case.slug}/timeline/visual/", "Date not placed",
         "Хронология", "[data-timeline-chart] .vis-item:has(a)"),
        ("map", f"/cases/{case.slug}/map/", "Rostov Oblast", "Карта",
         "path.incident-map-region"),
        ("figures", f"/cases/{case.slug}/figures/", "deserters", "Цифры",
         "[data-figure-chart] canvas:not([hidden])"),
        ("claims-board", f"/cases/{case.slug}/claims/", "Corroborated", "Утверждения", None),
        ("claim", f"/cases/{case.slug}/claims/{claim.pk}/", "Verification history",
         "Утверждения", None),
    ]

    def take(path, expected, drawn, file):
        page.goto(path)
        if drawn:
            expect(page.locator(drawn).first).to_be_visible()
            page.wait_for_load_state("networkidle")
        assert expected in page.content()
        page.screenshot(path=file, full_page=True)
        assert file.stat().st_size > 10_000

    for name, path, expected, _, drawn in shots:
        take(path, expected, drawn, SCREENSHOTS / f"{name}.png")

    # The same pages in Russian, switched the way a reader does: the navbar's button.
    russian = SCREENSHOTS / "ru"
    russian.mkdir(exist_ok=True)
    page.goto("/")
    page.locator("nav").get_by_role("button", name="Русский").click()
    for name, path, _, expected, drawn in shots:
        take(path, expected, drawn, russian / f"{name}.png")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
