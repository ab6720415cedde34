"""The Figures tab in a real browser (Chromium, Playwright, the live server), on the demo case:
the "deserters" figure has two dated reports (the demo's illustrations: "at least 10" and
"12"), which Chart.js draws as points with their ranges, while 161.ru's undated "10" is in
the table of undated reports only. A click on a point opens its claim. Nothing goes wrong on
the way: no script error and no CSP violation (tests/browser/test_flows.py's `watch`)."""

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from cases.models import Case, Claim

from .test_flows import watch

pytestmark = pytest.mark.django_db(transaction=True)

# The chart's points in the page's pixels, read from Chart.js's own instance.
POINTS = """canvas => {
  const chart = Chart.getChart(canvas);
  const box = canvas.getBoundingClientRect();
  return chart.data.datasets.flatMap((dataset, index) =>
    chart.getDatasetMeta(index).data.map((element, i) => ({
      value: dataset.data[i].point.value, high: dataset.data[i].point.high,
      x: box.left + element.x, y: box.top + element.y})));
}"""


@pytest.fixture
def demo_case():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Case.objects.get()


def test_figures_chart_draws_dated_reports_and_opens_their_claims(open_page, demo_case):
    problems = []
    page = open_page("viewer", settings.DEMO_PASSWORD)
    watch(page, "viewer", problems)

    page.goto(f"/cases/{demo_case.slug}/")
    page.locator(f'.nav-tabs a[href="/cases/{demo_case.slug}/figures/"]').click()
    expect(page).to_have_url(re.compile(r"/figures/$"))
    section = page.locator("section", has=page.get_by_role("heading", name="deserters", exact=True))
    chart = section.locator("[data-figure-chart] canvas")
    expect(chart).to_be_visible()
    page.wait_for_function("canvas => Chart.getChart(canvas) !== undefined",
                           arg=chart.element_handle())

    chart.scroll_into_view_if_needed()
    points = chart.evaluate(POINTS)
    # "12" and "at least 10" (a range open upwards)
    assert sorted((p["value"], p["high"]) for p in points) == [(10, None), (12, 12)]
    # 161.ru's ten has no date: it is listed apart (the second table), never drawn
    undated = section.locator("table").nth(1)
    expect(undated.get_by_role("link", name=re.compile("^Ten men recruited"))).to_be_visible()

    twelve = next(p for p in points if p["value"] == 12)
    page.mouse.click(twelve["x"], twelve["y"])
    claim = Claim.objects.get(case=demo_case, figure_value=12)
    expect(page).to_have_url(re.compile(rf"/claims/{claim.pk}/$"))
    assert problems == []
