"""The visual timeline in a real browser (Chromium, Playwright, the live server), on the demo
case: its incidents are all of an unknown year, so they are listed apart ("Date not placed"),
never on the axis; the test adds three dated ones (an exact time, the night of 8 to 9 May, and
"about May") which the chart draws as a point and two bands. Clicking an item reaches the
incident on the list timeline; the keys zoom; the axis speaks Russian after the switch; and
nothing goes wrong on the way (no script error, no CSP violation: tests/browser/test_flows.py's
`watch`)."""

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from cases.demo import I_DESERTION, I_MANHUNT
from cases.enums import Role
from cases.models import Case, Incident, IncidentType
from cases.views import visual_timeline

from ..factories import PASSWORD, CaseFactory, IncidentFactory, MembershipFactory, UserFactory
from .test_flows import watch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_case():
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    case = Case.objects.get()
    desertion = IncidentType.objects.get(slug="desertion")
    dated = {
        "point": IncidentFactory(case=case, title="Roll call finds ten missing",
                                 occurred="2025-05-09T14:30", type=desertion),
        "night": IncidentFactory(case=case, title="Escape over the fence",
                                 occurred="2025-05-08/2025-05-09", type=desertion),
        "about": IncidentFactory(case=case, title="Search of nearby villages",
                                 occurred="2025-05~", type=None),
    }
    return case, dated


def item(page, title):
    """The chart's item of this incident (its dot or band: the element that holds its link)."""
    return page.locator(".vis-item", has=page.get_by_role("link", name=title, exact=True))


def opened_case(open_page, username, title, incidents):
    """A case of `incidents` ((title, occurred) pairs) whose visual timeline a viewer of it,
    `username`, has opened: the page, the list the page's problems are collected in, and the
    incidents by title."""
    case = CaseFactory(title=title)
    MembershipFactory(case=case, user=UserFactory(username=username), role=Role.VIEWER)
    made = {name: IncidentFactory(case=case, title=name, occurred=occurred)
            for name, occurred in incidents}
    problems = []
    page = open_page(username, PASSWORD)
    watch(page, username, problems)
    page.goto(f"/cases/{case.slug}/timeline/visual/")
    return page, problems, made


def test_visual_timeline_draws_points_bands_and_lists_unknown_years_apart(
        open_page, demo_case, t):
    case, dated = demo_case
    problems = []
    page = open_page("viewer", settings.DEMO_PASSWORD)
    watch(page, "viewer", problems)

    page.goto(f"/cases/{case.slug}/timeline/")
    page.get_by_role("navigation", name=t("Timeline views")).get_by_role(
        "link", name=t("Visual", context="timeline view")).click()
    expect(page).to_have_url(re.compile(r"/timeline/visual/$"))
    chart = page.locator("[data-timeline-chart]")
    # Every incident of the case whose year is known is drawn (the three added here, and any
    # dated one the demo holds), each with its link.
    with_year = Incident.objects.of_case(case).exclude(occurred_earliest=None).count()
    expect(chart.locator(".vis-item:has(a)")).to_have_count(with_year)

    # The exact time is a point; the night and "about May" are bands, "about" hatched.
    point, night, about = (item(page, dated[key].title) for key in ("point", "night", "about"))
    expect(point).to_have_class(re.compile(r"\bvis-point\b"))
    expect(night).to_have_class(re.compile(r"\bvis-range\b"))
    expect(about).to_have_class(re.compile(r"\bvis-range\b.*\bvt-approximate\b"))
    night_width = night.bounding_box()["width"]
    assert about.bounding_box()["width"] > 2 * night_width > 0  # a month against two days

    # The demo's own incidents have no year: apart, in words, none on the axis.
    unplaced = page.locator("[data-timeline-unplaced]")
    expect(unplaced).to_be_visible()
    expect(unplaced.get_by_role("heading")).to_have_text(t("Date not placed"))
    expect(unplaced.locator("li", has_text=I_DESERTION)).to_contain_text(
        t.pick(en="9 May, year unknown", ru="9 мая, год неизвестен"))
    expect(unplaced.locator("li", has_text=I_MANHUNT)).to_contain_text(
        t.pick(en="May, year unknown", ru="май, год неизвестен"))
    expect(chart.get_by_text(I_DESERTION)).to_have_count(0)

    # The text alternative lists what the chart draws, in date order, with the same words.
    desertion = dated["night"].type.name
    listed = page.locator("[data-timeline-list] > li")
    expect(listed).to_have_count(with_year)
    ours = [text for text in listed.all_inner_texts()
            if text.startswith(tuple(incident.title for incident in dated.values()))]
    assert ours == [
        f"Search of nearby villages — {t.pick(en='about May 2025', ru='около мая 2025')}"
        f" · {t('No type')}",
        f"Escape over the fence — {t.pick(en='8–9 May 2025', ru='в ночь на 9 мая 2025')}"
        f" · {desertion}",
        f"Roll call finds ten missing — {t.pick(en='9 May 2025', ru='9 мая 2025')}, 14:30"
        f" · {desertion}",
    ]
    legend = page.locator("[data-timeline-legend]")
    expect(legend).to_contain_text(desertion)
    expect(legend).to_contain_text(t("No type"))

    # Clicking an item reaches the incident on the list timeline.
    night.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.slug}/timeline/(\?page=\d+)?"
                                        rf"#incident-{dated['night'].pk}$"))
    expect(page.locator(f"#incident-{dated['night'].pk}")).to_contain_text(
        "Escape over the fence")
    assert not problems, "\n".join(problems)


def test_visual_timeline_zooms_from_the_keyboard_in_the_readers_language(open_page, t):
    page, problems, made = opened_case(open_page, "zoomer", "One month", [
        ("Search of nearby villages", "2025-05~"),
        ("Escape over the fence", "2025-05-08/2025-05-09")])
    about = item(page, "Search of nearby villages")
    expect(about).to_be_visible()
    before = about.bounding_box()["width"]

    # The chart takes the keyboard: "+" zooms in (the band widens), "Fit all" comes back.
    page.locator("[data-timeline-chart]").focus()
    page.keyboard.press("+")
    selector = f".vis-item:has(a[href$='/{made['Search of nearby villages'].pk}/'])"
    page.wait_for_function(
        "([selector, width]) => document.querySelector(selector)"
        "?.getBoundingClientRect().width > width * 1.3", arg=[selector, before])

    # Zoomed in to months, the axis names them in the page's language (Moment's locale).
    for _ in range(4):
        page.keyboard.press("+")
    english = re.compile(r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec")
    russian = re.compile(r"янв|фев|мар|апр|ма[йя]|июн|июл|авг|сен|окт|ноя|дек", re.IGNORECASE)
    axis = page.locator("[data-timeline-chart] .vis-time-axis.vis-foreground").first
    expect(axis).to_contain_text(t.pick(en=english, ru=russian))
    expect(axis).not_to_contain_text(t.pick(en=russian, ru=english))

    page.get_by_role("button", name=t("Fit all")).click()
    page.wait_for_function(
        "([selector, width]) => Math.abs(document.querySelector(selector)"
        "?.getBoundingClientRect().width - width) < 2", arg=[selector, before])
    assert not problems, "\n".join(problems)


def test_visual_timeline_of_a_case_beyond_its_cap_loads_the_part_the_reader_moves_to(
        open_page, t, monkeypatch):
    # A case with more dated incidents than one answer carries (the cap made small here).
    monkeypatch.setattr(visual_timeline, "MAX_ITEMS", 2)
    page, problems, _ = opened_case(open_page, "longreader", "A long story", [
        ("January arrest", "2025-01-10"), ("February arrest", "2025-02-10"),
        ("November arrest", "2025-11-10"), ("December arrest", "2025-12-10")])
    drawn = page.locator("[data-timeline-chart] .vis-item:has(a)")
    expect(drawn).to_have_count(2)
    expect(drawn.get_by_role("link")).to_have_text(["January arrest", "February arrest"])
    expect(page.locator("[data-timeline-status]")).to_have_text(t.n(
        "The chart shows the earliest %(count)s incident of this period only: zoom in or move "
        "along the axis to see the others.",
        "The chart shows the earliest %(count)s incidents of this period only: zoom in or move "
        "along the axis to see the others.", 2))
    # Past the last incident drawn, the axis is shaded and says it is not all drawn.
    not_loaded = page.locator("[data-timeline-chart] .vis-item.vis-background.vt-not-loaded")
    expect(not_loaded).to_contain_text(t("Not every incident is drawn from here on: zoom in."))

    # Zoom in and move to the end of the year: the script asks for that part and draws it.
    page.locator("[data-timeline-chart]").focus()
    for key in ["+", "+", "+"] + ["ArrowRight"] * 4:
        page.keyboard.press(key)
    expect(drawn.get_by_role("link")).to_have_text(["November arrest", "December arrest"])
    expect(page.locator("[data-timeline-status]")).to_be_hidden()
    expect(not_loaded).to_have_count(0)
    expect(page.locator("[data-timeline-list] > li")).to_have_count(2)
    assert not problems, "\n".join(problems)


def test_visual_timeline_zoomed_out_past_the_year_1_asks_for_the_days_that_exist(
        open_page, t, monkeypatch):
    monkeypatch.setattr(visual_timeline, "MAX_ITEMS", 1)
    page, problems, _ = opened_case(open_page, "antiquarian", "Antiquity", [
        ("First record", "0003-01-10"), ("Second record", "0003-02-10")])
    drawn = page.locator("[data-timeline-chart] .vis-item:has(a)")
    expect(drawn.get_by_role("link")).to_have_text(["First record"])

    # Zoomed out to decades, the window starts before the year 1, which the data refuses.
    page.locator("[data-timeline-chart]").focus()
    with page.expect_response(lambda response: "from=" in response.url) as answer:
        for _ in range(15):
            page.keyboard.press("-")
    assert answer.value.status == 200
    assert "from=0001-01-02&" in answer.value.url
    expect(page.locator("[data-timeline-status]")).to_have_text(t.n(
        "The chart shows the earliest %(count)s incident of this period only: zoom in or move "
        "along the axis to see the others.",
        "The chart shows the earliest %(count)s incidents of this period only: zoom in or move "
        "along the axis to see the others.", 1))
    assert not problems, "\n".join(problems)


def test_visual_timeline_with_no_known_year_draws_no_axis_and_lists_every_incident_apart(
        open_page, t):
    page, problems, _ = opened_case(open_page, "yearless", "Years unknown", [
        ("Escape on Victory Day", "XXXX-05-09"), ("Caught in May", "XXXX-05")])

    expect(page.locator("[data-timeline-status]")).to_have_text(t(
        "No incident of this case has a date with a known year, so none is drawn on the axis."))
    expect(page.locator("[data-timeline-unplaced] li")).to_have_count(2)
    expect(page.locator("[data-timeline-chart]")).to_be_hidden()
    expect(page.locator("[data-timeline-controls]")).to_be_hidden()
    expect(page.locator("[data-timeline-placed]")).to_be_hidden()
    assert not problems, "\n".join(problems)
