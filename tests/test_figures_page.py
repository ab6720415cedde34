"""The Figures tab (cases/views/figures.py), its data endpoint, the key figures of the case
overview, the claim page's word on its figure, and the people lines per incident group:
content, access (outsider 404, member, editor), exact query counts at one and at N figures."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cases.enums import CitationRelation, FigureQualifier, Reliability

from .factories import CitationFactory, ClaimFactory, IncidentFactory, SourceFactory
from .query_counts import measured_get

pytestmark = pytest.mark.django_db
UTC = dt.UTC
MANY = 6


def _day(day, hour=12):
    return dt.datetime(2025, 5, day, hour, tzinfo=UTC)


def _report(case, value, unit, source=None, published=None, qualifier="exactly",
            statement=None):
    claim = ClaimFactory(case=case, figure_value=Decimal(value), figure_unit=unit,
                         figure_qualifier=qualifier, credibility="2",
                         statement=statement or f"{value} {unit}.")
    if source is not None:
        CitationFactory(claim=claim, source=source, published_at=published)
    return claim


@pytest.fixture
def story(case):
    """The Rostov story's figures: 10 fled (161.ru, B), at least 10 (Don24, C), 12 fled from a
    poorly graded channel the same day, an undated report; 4 then 6 caught."""
    b = SourceFactory(case=case, name="161.ru", reliability=Reliability.B)
    c = SourceFactory(case=case, name="Don24", reliability=Reliability.C)
    e = SourceFactory(case=case, name="Rumour channel", reliability=Reliability.E)
    return {
        "ten": _report(case, 10, "fled", b, _day(9, 8), statement="Ten soldiers fled."),
        "at_least": _report(case, 10, "fled", c, _day(9, 9), "at_least",
                            statement="At least ten fled."),
        "twelve": _report(case, 12, "fled", e, _day(9, 20), statement="Twelve fled."),
        "undated": _report(case, 10, "fled", statement="Ten fled, undated."),
        "four": _report(case, 4, "caught", b, _day(9), statement="Four caught."),
        "six": _report(case, 6, "caught", c, _day(10), statement="Six caught."),
    }


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["figure_list", "figure_data"])
def test_figures_pages_answer_404_to_an_outsider(client, case, outsider, story, name):
    client.force_login(outsider)
    response = client.get(reverse(f"cases:{name}", args=[case.slug]))
    assert response.status_code == 404
    assert b"Ten soldiers fled" not in response.content


@pytest.mark.parametrize("name", ["figure_list", "figure_data"])
def test_figures_pages_open_to_a_viewer_and_an_editor(client, case, viewer, editor, story,
                                                      name):
    for user in (viewer, editor):
        client.force_login(user)
        response = client.get(reverse(f"cases:{name}", args=[case.slug]))
        assert response.status_code == 200
        assert "Ten soldiers fled" in response.content.decode("unicode_escape") or (
            name == "figure_data")


def test_figures_page_refuses_post_to_a_member(client, case, viewer):
    client.force_login(viewer)
    response = client.post(reverse("cases:figure_list", args=[case.slug]))
    assert response.status_code == 405


# --- content -------------------------------------------------------------------------------


def test_figures_page_lists_series_current_and_flags(client, case, viewer, story):
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:figure_list", args=[case.slug])))

    assert 'id="figure-1-title">caught</h2>' in page and 'id="figure-2-title">fled</h2>' in page
    # the current value and why
    assert "Unverified; reported 10 May 2025 by Don24 (C)." in page
    # same day: the better-graded source's
    assert "Unverified; reported 9 May 2025 by 161.ru (B)." in page
    # the contradiction and the warning on the poorly graded report
    assert "contradiction" in page
    assert ("Warning: “12 fled” comes from a poorly graded report (E2) and disagrees with a "
            "better-graded one.") in page
    # a change between reports days apart
    assert "change between reports" in page
    # undated reports apart, never dated today
    assert "Undated reports" in page and "Ten fled, undated." in page
    # each report links to its claim; the chart and its script
    for claim in story.values():
        assert reverse("cases:claim_detail", args=[case.slug, claim.pk]) in page
    assert 'data-figure-chart="figure-2"' in page
    assert "vendor/chartjs-4.5.1/chart.umd.min.js" in page and "js/figure_chart.js" in page
    assert reverse("cases:figure_data", args=[case.slug]) in page


def test_figures_page_has_no_inline_script_or_style(client, case, viewer, story):
    client.force_login(viewer)
    page = client.get(reverse("cases:figure_list", args=[case.slug])).content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs, _ in scripts)
    assert " style=" not in page and "onclick" not in page


def test_figures_page_lists_the_first_twenty_flags_of_a_figure_and_counts_the_rest(
        client, case, viewer):
    # Seven independent outlets, seven different exact counts on one day: 21 pairs, each a
    # contradiction; the list stops at 20 and says how many more there are.
    for number in range(7):
        source = SourceFactory(case=case, name=f"Outlet {number}", reliability=Reliability.B)
        _report(case, 10 + number, "fled", source, _day(9, 8 + number))
    client.force_login(viewer)
    text = _text(client.get(reverse("cases:figure_list", args=[case.slug])))
    flags = re.search(r'<ul class="list-unstyled small mb-2 figure-flags">(.*?)</ul>', text)
    assert flags.group(1).count("<li") == 21
    assert flags.group(1).count(">contradiction</span>") == 20
    assert "…and 1 more flagged pair of reports" in flags.group(1)


def test_figures_page_without_figures(client, case, viewer):
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:figure_list", args=[case.slug])))
    assert "No claim carries a figure yet." in page


def test_figure_data_gives_ranges_links_and_undated_apart(client, case, viewer, story):
    client.force_login(viewer)
    data = client.get(reverse("cases:figure_data", args=[case.slug])).json()

    fled = next(f for f in data["figures"] if f["unit"] == "fled")
    points = {p["claim"]: p for p in fled["points"]}
    assert set(points) == {story["ten"].pk, story["at_least"].pk, story["twelve"].pk}
    at_least = points[story["at_least"].pk]
    assert (at_least["low"], at_least["high"], at_least["label"]) == (
        10.0, None, "at least 10 fled")
    assert at_least["current"] is False and at_least["source"] == "Don24 (C2)"
    assert points[story["ten"].pk]["current"] is True and fled["current"] == story["ten"].pk
    assert at_least["url"] == reverse("cases:claim_detail", args=[case.slug, story["at_least"].pk])
    assert points[story["twelve"].pk]["contradiction"] and points[story["twelve"].pk]["warning"]
    assert points[story["ten"].pk]["t"] == int(_day(9, 8).timestamp() * 1000)
    assert [p["claim"] for p in fled["undated"]] == [story["undated"].pk]
    assert data["moreFigures"] is False


def test_figure_data_times_are_the_pages_wall_clock(client, case, viewer, story, settings):
    settings.TIME_ZONE = "Europe/Moscow"  # UTC+3: 08:00 UTC is 11:00 on the page
    client.force_login(viewer)
    data = client.get(reverse("cases:figure_data", args=[case.slug])).json()
    fled = next(f for f in data["figures"] if f["unit"] == "fled")
    ten = next(p for p in fled["points"] if p["claim"] == story["ten"].pk)
    assert ten["t"] == int(_day(9, 11).timestamp() * 1000) and ten["date"] == "9 May 2025"


def test_figure_data_of_a_protected_source_gives_its_codename_only(client, case, viewer):
    from cases.models import SourceIdentity

    witness = SourceFactory(case=case, name="Witness-7", protected=True)
    SourceIdentity.objects.create(source=witness, real_name="Ivan Petrov")
    _report(case, 3, "caught", witness, _day(9))
    client.force_login(viewer)
    for name in ("figure_data", "figure_list"):
        content = client.get(reverse(f"cases:{name}", args=[case.slug])).content.decode()
        assert "Witness-7" in content and "Ivan Petrov" not in content


def test_overview_key_figures_show_current_why_and_disagreements(client, case, viewer, story):
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:case_overview", args=[case.slug])))

    assert "Key figures" in page
    assert "Unverified; reported 9 May 2025 by 161.ru (B). Chosen over 3 other reports" in page
    assert "1 contradiction" in page and "poorly graded: 12 fled (E2)" in page
    assert "1 change between reports" in page
    assert "Reported " + dt.date.today().strftime("%-d %b %Y") not in page
    assert reverse("cases:figure_list", args=[case.slug]) in page


def test_overview_people_lines_per_group_not_summed(client, case, viewer):
    IncidentFactory(case=case, title="Ten fled", involved=10, count_group="Kadamovsky desertion")
    IncidentFactory(case=case, title="Four caught", involved=10, detained=4,
                    count_group="Kadamovsky desertion")
    IncidentFactory(case=case, title="Six wanted", at_large=6, count_group="Kadamovsky desertion")
    IncidentFactory(case=case, title="Krasnodar desertion", involved=1, detained=1)
    IncidentFactory(case=case, title="Earlier desertion", involved=100,
                    involved_qualifier="more_than", in_case_counts=False)
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:case_overview", args=[case.slug])))

    assert ("<strong>Kadamovsky desertion</strong> <span class=\"small text-body-secondary\">"
            "(3 incidents)</span>: 10 involved · 4 detained · 6 at large") in page
    assert "<strong>Krasnodar desertion</strong>: 1 involved · 1 detained" in page
    assert page.count("adds up") == 2
    assert "unaccounted" not in page
    assert "1 incident is left out of the case's people counts." in page


def test_timeline_shows_qualified_counts_in_words(client, case, viewer):
    IncidentFactory(case=case, involved=100, involved_qualifier="more_than", detained=40,
                    detained_qualifier="about", count_group="Kadamovsky desertion")
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:timeline", args=[case.slug])))
    assert "more than 100 involved · about 40 detained" in page
    assert "at least 57 unaccounted" in page  # 101 or more, 36 to 44 accounted for
    assert "counted with “Kadamovsky desertion”" in page


def test_claim_page_names_consistent_reports_and_contradictions(client, case, viewer, story):
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:claim_detail", args=[case.slug, story["ten"].pk])))

    assert "Can be true together with 2 other reports of this figure" in page
    assert "at least 10 fled</a> (Don24)" in page
    assert "contradiction" in page and "independent origins, and both cannot be true." in page
    assert reverse("cases:claim_detail", args=[case.slug, story["twelve"].pk]) in page


def test_claim_page_without_figure_says_nothing_of_figures(client, case, viewer):
    claim = ClaimFactory(case=case, statement="No number here.")
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:claim_detail", args=[case.slug, claim.pk])))
    assert "Can be true together" not in page and "contradiction" not in page


# --- queries -------------------------------------------------------------------------------


def _figures(case, count):
    """`count` figures, each with two reports from independent outlets that contradict."""
    origin = SourceFactory(case=case, name="Origin", reliability=Reliability.B)
    for k in range(count):
        outlet = SourceFactory(case=case, name=f"Outlet {k}", reliability=Reliability.C)
        relay = SourceFactory(case=case, name=f"Relay {k}", reached_via=origin)
        first = _report(case, 10 + k, f"unit {k}", outlet, _day(9))
        CitationFactory(claim=first, source=relay, published_at=_day(9))
        second = _report(case, 20 + k, f"unit {k}", SourceFactory(case=case, name=f"Other {k}"),
                         _day(9), FigureQualifier.AT_LEAST)
        CitationFactory(claim=second, source=outlet, relation=CitationRelation.DENIES)
        _report(case, 5, f"unit {k}")  # undated, no citation


# session, user, membership + case; the ranking of the claims with a figure, the claims
# kept, their supporting citations with sources, the citations' relays, the case's
# attribution chains
FIGURE_PAGE_QUERIES = 8


@pytest.mark.parametrize("count", [1, MANY])
def test_figure_list_query_count(client, case, viewer, django_assert_num_queries, count):
    _figures(case, count)
    client.force_login(viewer)
    response = measured_get(client, reverse("cases:figure_list", args=[case.slug]),
                            django_assert_num_queries, FIGURE_PAGE_QUERIES)
    assert response.content.decode().count('class="h4"') == count


@pytest.mark.parametrize("count", [1, MANY])
def test_figure_data_query_count(client, case, viewer, django_assert_num_queries, count):
    _figures(case, count)
    client.force_login(viewer)
    response = measured_get(client, reverse("cases:figure_data", args=[case.slug]),
                            django_assert_num_queries, FIGURE_PAGE_QUERIES)
    assert len(response.json()["figures"]) == count


def test_figures_page_bounded_in_figures(client, case, viewer, monkeypatch):
    from cases import tallies

    monkeypatch.setattr(tallies, "MAX_FIGURES", 2)
    _figures(case, 3)
    client.force_login(viewer)
    page = _text(client.get(reverse("cases:figure_list", args=[case.slug])))
    assert page.count('class="h4"') == 2
    assert "Only the first 2 figures, in alphabetical order, are shown." in page


def test_demo_case_shows_group_exclusion_consistent_pair_and_contradiction(client):
    from cases import demo
    from cases.models import Case

    users = demo.seed("demo-password").users
    case = Case.objects.get(slug=demo.CASE_SLUG)
    client.force_login(users["reporter"])

    overview = _text(client.get(reverse("cases:case_overview", args=[case.slug])))
    assert ("<strong>Rostov training-ground desertion</strong> <span class=\"small "
            "text-body-secondary\">(4 incidents)</span>: 10 involved · 6 detained · 4 at "
            "large") in overview
    assert "adds up" in overview and "unaccounted" not in overview
    assert "1 incident is left out of the case's people counts." in overview
    assert "1 contradiction" in overview
    assert "poorly graded: 12 deserters (E4)" in overview

    figures = _text(client.get(reverse("cases:figure_list", args=[case.slug])))
    assert "In review; undated, from 161.ru (C)." in figures
    assert ("Warning: “12 deserters” comes from a poorly graded report (E4) and disagrees "
            "with a better-graded one.") in figures
    data = client.get(reverse("cases:figure_data", args=[case.slug])).json()
    deserters = next(f for f in data["figures"] if f["unit"] == "deserters")
    assert [p["label"] for p in deserters["points"]] == ["at least 10 deserters",
                                                          "12 deserters"]
    assert deserters["points"][0]["high"] is None and not deserters["points"][0]["changed"]
