"""Screenshots of the main pages, from the demo case, for the README (docs/screenshots/)."""

import pytest
from django.conf import settings
from django.core.management import call_command

from cases.models import Case, Claim

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)


def test_screenshots_of_the_demo_case(open_page):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    case = Case.objects.get()
    claim = Claim.objects.of_case(case).filter(events__isnull=False).distinct().first()
    page = open_page("editor", settings.DEMO_PASSWORD)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [
        ("dashboard", "/", "Recent activity on my cases"),
        ("timeline", f"/cases/{case.slug}/timeline/", "9 May, year unknown"),
        ("claims-board", f"/cases/{case.slug}/claims/", "Corroborated"),
        ("claim", f"/cases/{case.slug}/claims/{claim.pk}/", "Verification history"),
    ]
    for name, path, expected in shots:
        page.goto(path)
        assert expected in page.content()
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000
