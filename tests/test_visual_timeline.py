"""The visual timeline (cases/views/visual_timeline.py): how each fuzzy date is drawn (points,
bands, dates apart), the JSON data the page's script reads (content, windows, caps, bad
parameters), who may read it, its exact query counts, and the way from an incident to its
place on the list timeline."""

import datetime as dt
import json
import re

import pytest
from django.urls import reverse

from cases import fuzzydate
from cases.models import Incident, SourceIdentity
from cases.views import visual_timeline
from cases.views.visual_timeline import BAND, POINT, placement

from .factories import (
    CaseFactory,
    CitationFactory,
    IncidentFactory,
    IncidentTypeFactory,
    SourceFactory,
)
from .query_counts import measured_get
from .test_fuzzydate import VALID

pytestmark = pytest.mark.django_db


# --- how each date is drawn ------------------------------------------------------------------

# occurred, kind (None: not placed), start, end (exclusive), approximate
DRAWN = [
    ("2025-05-09", POINT, "2025-05-09", None, False),
    ("2025-05-09T14:30", POINT, "2025-05-09T14:30", None, False),
    # A time with an offset is drawn as written, as its words say it.
    ("2025-05-09T14:30Z", POINT, "2025-05-09T14:30", None, False),
    ("2025-05-09/2025-05-09", POINT, "2025-05-09", None, False),
    ("2025-05", BAND, "2025-05-01", "2025-06-01", False),
    ("2024-02", BAND, "2024-02-01", "2024-03-01", False),
    ("2025", BAND, "2025-01-01", "2026-01-01", False),
    ("2025-05~", BAND, "2025-05-01", "2025-06-01", True),
    ("2024?", BAND, "2024-01-01", "2025-01-01", True),
    # "About" a day is not a point: the day is drawn as a band, hatched.
    ("2025-05-09~", BAND, "2025-05-09", "2025-05-10", True),
    ("2025-05-09%", BAND, "2025-05-09", "2025-05-10", True),
    # The night of 8 to 9 May: a band over both days, the night between them included.
    ("2025-05-08/2025-05-09", BAND, "2025-05-08", "2025-05-10", False),
    ("2025-05-08/2025-05-09~", BAND, "2025-05-08", "2025-05-10", True),
    ("2024-12/2025-01", BAND, "2024-12-01", "2025-02-01", False),
    ("2024/2025", BAND, "2024-01-01", "2026-01-01", False),
    # A day of an unknown month is known to the year only: a band over what it allows.
    ("2025-XX-09", BAND, "2025-01-09", "2025-12-10", False),
    ("XXXX-05-09", None, None, None, None),
    ("XXXX-05", None, None, None, None),
    ("XXXX-05-09/XXXX-05-10", None, None, None, None),
    ("not a date", None, None, None, None),
]


@pytest.mark.parametrize("occurred, kind, start, end, approximate", DRAWN,
                         ids=[row[0] for row in DRAWN])
def test_placement_draws_exact_dates_as_points_and_wider_ones_as_bands(
        occurred, kind, start, end, approximate):
    drawn = placement(occurred)

    if kind is None:
        assert drawn is None
        return
    assert (drawn["kind"], drawn["start"], drawn["end"], drawn["approximate"]) == (
        kind, start, end, approximate)
    assert drawn["when"] == fuzzydate.parse(occurred).describe()


@pytest.mark.parametrize("text, edtf, words, earliest, latest, precision, acled", VALID,
                         ids=[row[0].strip() or "blank" for row in VALID])
def test_placement_of_every_fuzzydate_sample_keeps_its_words_precision_and_days(
        text, edtf, words, earliest, latest, precision, acled):
    drawn = placement(text)

    if earliest is None:  # the year is unknown: not on the axis
        assert drawn is None
        return
    assert drawn["when"] == words
    assert drawn["precision"] == precision.value
    assert drawn["start"][:10] == earliest.isoformat()
    if drawn["kind"] == POINT:
        assert earliest == latest and drawn["end"] is None
    else:
        # A band ends after the last day it allows (at the time written, if one was).
        last = latest if "T" in (drawn["end"] or "") else latest + dt.timedelta(days=1)
        assert drawn["end"][:10] == last.isoformat()


# --- the data ----------------------------------------------------------------------------------

def data_url(case, **params):
    return reverse("cases:timeline_data", args=[case.slug]), params


def get_data(client, case, **params):
    url, query = data_url(case, **params)
    response = client.get(url, query)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.fixture
def dated_case(case):
    arrest = IncidentTypeFactory(name="Arrest", slug="arrest")
    desertion = IncidentTypeFactory(name="Desertion", slug="desertion")
    made = {
        "day": IncidentFactory(case=case, title="Caught at the station", occurred="2025-05-12",
                               type=arrest),
        "time": IncidentFactory(case=case, title="Roll call", occurred="2025-05-09T14:30",
                                type=desertion),
        "night": IncidentFactory(case=case, title="Escape", occurred="2025-05-08/2025-05-09",
                                 type=desertion),
        "month": IncidentFactory(case=case, title="Manhunt", occurred="2025-05~", type=None),
        "unknown_year": IncidentFactory(case=case, title="Victory Day escape",
                                        occurred="XXXX-05-09", type=desertion),
    }
    IncidentFactory(title="Another case's incident", occurred="2025-05-10")
    return made


def test_timeline_data_draws_points_and_bands_and_lists_unknown_years_apart(
        client, viewer, case, dated_case):
    client.force_login(viewer)

    data = get_data(client, case)

    items = {item["title"]: item for item in data["items"]}
    assert list(items) == ["Manhunt", "Escape", "Roll call", "Caught at the station"]
    assert items["Caught at the station"] | {"id": 0, "url": "", "group": ""} == {
        "id": 0, "title": "Caught at the station", "url": "", "group": "",
        "kind": "point", "start": "2025-05-12", "end": None, "approximate": False,
        "precision": "day", "when": "12 May 2025"}
    assert (items["Roll call"]["kind"], items["Roll call"]["start"]) == ("point",
                                                                        "2025-05-09T14:30")
    assert items["Roll call"]["when"] == "9 May 2025, 14:30"
    assert (items["Escape"]["kind"], items["Escape"]["start"], items["Escape"]["end"],
            items["Escape"]["when"]) == ("band", "2025-05-08", "2025-05-10", "8–9 May 2025")
    assert (items["Manhunt"]["kind"], items["Manhunt"]["end"], items["Manhunt"]["approximate"],
            items["Manhunt"]["when"]) == ("band", "2025-06-01", True, "about May 2025")
    # The unknown year is not on the axis at all, only in its own list, in plain words.
    assert "Victory Day escape" not in items
    unknown = dated_case["unknown_year"]
    assert data["unplaced"] == [{
        "id": unknown.pk, "title": "Victory Day escape", "when": "9 May, year unknown",
        "group": f"type-{unknown.type_id}",
        "url": reverse("cases:timeline_incident", args=[case.slug, unknown.pk])}]
    assert (data["placed_total"], data["unplaced_total"], data["truncated"]) == (4, 1, False)
    assert data["range"] == {"from": "2025-05-01", "to": "2025-05-31"}
    assert data["window"] == {"from": None, "to": None}


def test_timeline_data_groups_by_type_with_a_colour_each_and_a_group_for_no_type(
        client, viewer, case, dated_case):
    client.force_login(viewer)

    data = get_data(client, case)

    arrest, desertion = dated_case["day"].type, dated_case["time"].type
    assert data["groups"] == [
        {"id": f"type-{arrest.pk}", "name": "Arrest", "colour": 0},
        {"id": f"type-{desertion.pk}", "name": "Desertion", "colour": 1},
        {"id": "none", "name": "No type", "colour": 2},
    ]
    groups = {item["title"]: item["group"] for item in data["items"]}
    assert groups == {"Caught at the station": f"type-{arrest.pk}",
                      "Roll call": f"type-{desertion.pk}", "Escape": f"type-{desertion.pk}",
                      "Manhunt": "none"}


def test_timeline_data_groups_are_the_cases_whatever_the_window_holds(client, viewer, case,
                                                                      monkeypatch):
    monkeypatch.setattr(visual_timeline, "MAX_ITEMS", 1)
    arrest = IncidentTypeFactory(name="Arrest")
    IncidentFactory(case=case, title="Caught", occurred="2025-05-01", type=arrest)
    IncidentFactory(case=case, title="Caught again", occurred="2025-05-02", type=arrest)
    IncidentFactory(case=case, title="Untyped, later", occurred="2025-06-01", type=None)
    client.force_login(viewer)

    first = get_data(client, case)
    later = get_data(client, case, **{"from": "2025-06-01"})

    # The script makes its lanes from the first answer: the untyped incident a later window
    # brings needs its lane there already.
    assert [item["title"] for item in first["items"]] == ["Caught"]
    assert [item["title"] for item in later["items"]] == ["Untyped, later"]
    assert first["groups"] == later["groups"] == [
        {"id": f"type-{arrest.pk}", "name": "Arrest", "colour": 0},
        {"id": "none", "name": "No type", "colour": 1}]


def test_timeline_data_lists_an_unreadable_stored_date_apart_as_written(client, viewer, case):
    incident = IncidentFactory(case=case, title="Legacy row")
    Incident.objects.filter(pk=incident.pk).update(
        occurred="spring, maybe", occurred_earliest=None, occurred_latest=None)
    client.force_login(viewer)

    data = get_data(client, case)

    assert data["items"] == []
    assert [(row["title"], row["when"]) for row in data["unplaced"]] == [
        ("Legacy row", "spring, maybe")]


def test_timeline_data_lists_apart_a_date_it_can_no_longer_read_though_its_days_were_kept(
        client, viewer, case):
    incident = IncidentFactory(case=case, title="Old rules", occurred="2025-05-09")
    IncidentFactory(case=case, title="Readable", occurred="2025-05-10")
    Incident.objects.filter(pk=incident.pk).update(occurred="2025-05-09 or so")
    client.force_login(viewer)

    data = get_data(client, case)

    assert [item["title"] for item in data["items"]] == ["Readable"]
    assert [(row["title"], row["when"]) for row in data["unplaced"]] == [
        ("Old rules", "2025-05-09 or so")]
    assert (data["placed_total"], data["unplaced_total"]) == (1, 1)


def test_timeline_data_speaks_the_readers_language(client, viewer, case, dated_case):
    client.force_login(viewer)

    url, query = data_url(case)
    data = client.get(url, query, HTTP_ACCEPT_LANGUAGE="ru").json()

    words = {item["title"]: item["when"] for item in data["items"]}
    assert words["Caught at the station"] == "12 мая 2025"
    assert data["unplaced"][0]["when"] == "9 мая, год неизвестен"


def test_timeline_data_window_keeps_incidents_that_overlap_it(client, viewer, case):
    IncidentFactory(case=case, title="Before", occurred="2025-04-30")
    IncidentFactory(case=case, title="Spring", occurred="2025-03/2025-05")
    IncidentFactory(case=case, title="Inside", occurred="2025-05-03")
    IncidentFactory(case=case, title="Reaching in", occurred="2025-05-06/2025-05-20")
    IncidentFactory(case=case, title="After", occurred="2025-05-11")
    IncidentFactory(case=case, title="Year unknown", occurred="XXXX-05-05")
    # The longest span of the case bounds how far back the window looks: this one.
    IncidentFactory(case=case, title="Years", occurred="2019/2025")
    IncidentFactory(case=case, title="Long before", occurred="2018-06")
    client.force_login(viewer)

    data = get_data(client, case, **{"from": "2025-05-01", "to": "2025-05-10"})

    assert [item["title"] for item in data["items"]] == ["Years", "Spring", "Inside",
                                                         "Reaching in"]
    assert data["window"] == {"from": "2025-05-01", "to": "2025-05-10"}
    # The totals and the range are the case's, so the page can offer "Fit all".
    assert (data["placed_total"], data["range"]) == (7, {"from": "2018-06-01",
                                                         "to": "2025-12-31"})
    assert [row["title"] for row in data["unplaced"]] == ["Year unknown"]


def test_timeline_data_sends_at_most_max_items_earliest_first_and_says_so(
        client, viewer, case, monkeypatch):
    monkeypatch.setattr(visual_timeline, "MAX_ITEMS", 2)
    for day in (4, 1, 3, 2):
        IncidentFactory(case=case, title=f"Day {day}", occurred=f"2025-05-0{day}")
    client.force_login(viewer)

    data = get_data(client, case)
    later = get_data(client, case, **{"from": "2025-05-03"})
    complete = get_data(client, case, **{"from": "2025-05-02", "to": "2025-05-03"})

    assert ([i["title"] for i in data["items"]], data["truncated"]) == (["Day 1", "Day 2"], True)
    assert (data["placed_total"], data["max_items"]) == (4, 2)
    assert ([i["title"] for i in later["items"]], later["truncated"]) == (["Day 3", "Day 4"],
                                                                          False)
    assert ([i["title"] for i in complete["items"]], complete["truncated"]) == (
        ["Day 2", "Day 3"], False)


def test_timeline_data_caps_the_unplaced_list_and_counts_them_all(client, viewer, case,
                                                                   monkeypatch):
    monkeypatch.setattr(visual_timeline, "MAX_UNPLACED", 2)
    for day in range(1, 4):
        IncidentFactory(case=case, title=f"Unknown {day}", occurred=f"XXXX-05-0{day}")
    client.force_login(viewer)

    data = get_data(client, case)

    assert [row["title"] for row in data["unplaced"]] == ["Unknown 1", "Unknown 2"]
    assert data["unplaced_total"] == 3


def test_timeline_data_never_carries_a_protected_sources_identity(client, viewer, case):
    source = SourceFactory(case=case, name="Insider-3", protected=True)
    SourceIdentity.objects.create(source=source, real_name="Ivan Realname",
                                  contact="+7 900 000-00-00")
    incident = IncidentFactory(case=case, title="Escape", occurred="2025-05-09")
    CitationFactory(incident=incident, source=source, claim=None)
    IncidentFactory(case=case, title="Later", occurred="XXXX-05-10")
    client.force_login(viewer)

    body = client.get(*data_url(case)).content.decode()

    assert "Escape" in body and "Later" in body
    assert "Realname" not in body and "900 000" not in body and "Insider-3" not in body


@pytest.mark.parametrize("params, field, code", [
    ({"from": "yesterday"}, "from", "invalid"),
    ({"to": "2025-13-01"}, "to", "invalid"),
    ({"from": "2025-02-30"}, "from", "invalid"),
    ({"from": "0001-01-01"}, "from", "date_out_of_range"),
    ({"to": "9999-12-31"}, "to", "date_out_of_range"),
    ({"from": "12345-01-01"}, "from", "invalid"),
    ({"from": "2025-05-10", "to": "2025-05-01"}, "to", "window_reversed"),
    ({"from": "2025-05-01" * 1000}, "from", "invalid"),
], ids=["words", "month-13", "feb-30", "year-1", "year-9999-end", "five-digit-year",
        "reversed", "ten-kilobytes"])
def test_timeline_data_refuses_bad_window_with_400_naming_field_and_code(
        client, viewer, case, params, field, code):
    client.force_login(viewer)

    response = client.get(reverse("cases:timeline_data", args=[case.slug]), params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert errors[field][0]["code"] == code
    assert errors[field][0]["message"]


# --- who may read it ---------------------------------------------------------------------------

@pytest.mark.parametrize("url_name", ["visual_timeline", "timeline_data"])
def test_visual_timeline_outsider_404_member_and_editor_read(client, outsider, viewer, editor,
                                                             case, dated_case, url_name):
    url = reverse(f"cases:{url_name}", args=[case.slug])

    client.force_login(outsider)
    refused = client.get(url)
    client.force_login(viewer)
    member = client.get(url)
    client.force_login(editor)
    as_editor = client.get(url)

    assert refused.status_code == 404
    assert b"Caught at the station" not in refused.content
    assert member.status_code == as_editor.status_code == 200
    if url_name == "timeline_data":
        assert member.json() == as_editor.json()
        assert len(member.json()["items"]) == 4
    else:
        for page in (member, as_editor):
            assert b'id="visual-timeline-config"' in page.content
            assert b'id="visual-timeline-config"' not in refused.content


def not_found_page(response) -> str:
    """The 404 page without what it echoes of the request (the language form's token and
    return address), so that two refusals can be compared."""
    return re.sub(r'name="(csrfmiddlewaretoken|next)" value="[^"]*"', "",
                  response.content.decode())


def test_visual_timeline_of_a_case_that_does_not_exist_is_the_same_404(client, outsider, case):
    client.force_login(outsider)

    missing = client.get(reverse("cases:timeline_data", args=["no-such-case"]))
    refused = client.get(reverse("cases:timeline_data", args=[case.slug]))

    assert missing.status_code == refused.status_code == 404
    assert "Page not found" in not_found_page(missing)
    assert not_found_page(missing) == not_found_page(refused)


def test_timeline_incident_outsider_404_member_and_editor_reach_the_incident(
        client, outsider, viewer, editor, case, dated_case):
    incident = dated_case["day"]
    url = reverse("cases:timeline_incident", args=[case.slug, incident.pk])

    client.force_login(outsider)
    refused = client.get(url)
    client.force_login(viewer)
    member = client.get(url)
    client.force_login(editor)
    as_editor = client.get(url)

    assert refused.status_code == 404
    expected = reverse("cases:timeline", args=[case.slug]) + f"#incident-{incident.pk}"
    assert member["Location"] == as_editor["Location"] == expected


# --- the page ------------------------------------------------------------------------------------

def test_visual_timeline_page_passes_its_configuration_and_words_as_json(client, viewer, case):
    client.force_login(viewer)

    response = client.get(reverse("cases:visual_timeline", args=[case.slug]),
                          HTTP_ACCEPT_LANGUAGE="ru")

    html = response.content.decode()
    config = json.loads(re.search(
        r'<script id="visual-timeline-config" type="application/json">(.*?)</script>',
        html).group(1))
    labels = json.loads(re.search(
        r'<script id="visual-timeline-labels" type="application/json">(.*?)</script>',
        html).group(1))
    assert config == {"dataUrl": reverse("cases:timeline_data", args=[case.slug]),
                      "locale": "ru"}
    assert set(labels) == {"loadFailed", "empty", "noneOnAxis", "truncated", "notLoaded",
                           "shownOf"}
    assert "{shown}" in labels["shownOf"] and "{total}" in labels["shownOf"]
    # Every script is a file (the CSP forbids inline ones); the data is JSON, not code.
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
    assert 'style="' not in html
    assert "/static/js/visual_timeline.js" in html


def test_timeline_pages_switch_between_list_and_visual(client, viewer, case, dated_case):
    client.force_login(viewer)

    listed = client.get(reverse("cases:timeline", args=[case.slug])).content.decode()
    visual = client.get(reverse("cases:visual_timeline", args=[case.slug])).content.decode()

    visual_url = reverse("cases:visual_timeline", args=[case.slug])
    list_url = reverse("cases:timeline", args=[case.slug])
    assert f'href="{visual_url}"' in listed and f'href="{list_url}"' in visual
    assert re.search(rf'href="{visual_url}" aria-current="page"', visual)
    assert re.search(rf'href="{list_url}" aria-current="page"', listed)
    # The list's incidents carry the anchors the visual timeline's links land on.
    assert f'id="incident-{dated_case["day"].pk}"' in listed


# --- from an incident to its place on the list ------------------------------------------------

def test_timeline_incident_leads_to_the_list_page_that_shows_it(client, viewer, case):
    incidents = [IncidentFactory(case=case, title=f"Day {n}",
                                 occurred=(dt.date(2025, 1, 1) + dt.timedelta(days=n))
                                 .isoformat())
                 for n in range(20)]
    unknown = IncidentFactory(case=case, title="Unknown year", occurred="XXXX-05-09")
    client.force_login(viewer)
    list_url = reverse("cases:timeline", args=[case.slug])

    first = client.get(reverse("cases:timeline_incident", args=[case.slug, incidents[0].pk]))
    sixteenth = client.get(reverse("cases:timeline_incident",
                                   args=[case.slug, incidents[15].pk]))
    last = client.get(reverse("cases:timeline_incident", args=[case.slug, unknown.pk]))

    assert first["Location"] == f"{list_url}#incident-{incidents[0].pk}"
    assert sixteenth["Location"] == f"{list_url}?page=2#incident-{incidents[15].pk}"
    # Undated by year and never reported: after every dated incident, as the list puts it.
    assert last["Location"] == f"{list_url}?page=2#incident-{unknown.pk}"
    page_two = client.get(list_url, {"page": 2}).content.decode()
    assert f'id="incident-{incidents[15].pk}"' in page_two
    assert f'id="incident-{unknown.pk}"' in page_two


def test_timeline_incident_of_another_case_is_404(client, viewer, case):
    elsewhere = IncidentFactory(case=CaseFactory(), occurred="2025-05-09")
    client.force_login(viewer)

    response = client.get(reverse("cases:timeline_incident", args=[case.slug, elsewhere.pk]))
    missing = client.get(reverse("cases:timeline_incident", args=[case.slug, elsewhere.pk + 1]))

    assert response.status_code == missing.status_code == 404
    assert "Location" not in response
    assert not_found_page(response) == not_found_page(missing)  # nothing says it exists


# --- queries -------------------------------------------------------------------------------------

def fill(case, n):
    types = [IncidentTypeFactory() for _ in range(n)]
    for index in range(n):
        IncidentFactory(case=case, occurred=f"2025-05-{index + 1:02d}", type=types[index])
        IncidentFactory(case=case, occurred=f"2025-{index + 1:02d}~", type=None)
        IncidentFactory(case=case, occurred=f"XXXX-05-{index + 1:02d}", type=types[index])
        source = SourceFactory(case=case, protected=True)
        SourceIdentity.objects.create(source=source, real_name=f"Person {index}")


@pytest.fixture
def _session_saved_by_the_warm_up_only(settings):
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60


# session, user, case with membership; the aggregate, the types, the placed, the unplaced
DATA_QUERIES = 7


@pytest.mark.usefixtures("_session_saved_by_the_warm_up_only")
@pytest.mark.parametrize("item_count", [1, 6], ids=["1", "6"])
def test_timeline_data_query_count_is_fixed(client, viewer, case, item_count,
                                             django_assert_num_queries):
    fill(case, item_count)
    client.force_login(viewer)

    response = measured_get(client, reverse("cases:timeline_data", args=[case.slug]),
                            django_assert_num_queries, DATA_QUERIES)
    windowed = measured_get(client, reverse("cases:timeline_data", args=[case.slug]),
                            django_assert_num_queries, DATA_QUERIES,
                            {"from": "2025-01-01", "to": "2025-12-31"})

    assert len(response.json()["items"]) == len(windowed.json()["items"]) == 2 * item_count
    assert len(response.json()["unplaced"]) == item_count


@pytest.mark.usefixtures("_session_saved_by_the_warm_up_only")
@pytest.mark.parametrize("item_count", [1, 6], ids=["1", "6"])
def test_visual_timeline_page_query_count_is_fixed(client, viewer, case, item_count,
                                                   django_assert_num_queries):
    fill(case, item_count)
    client.force_login(viewer)

    # session, user, case with membership: the page holds no incident, its script asks.
    measured_get(client, reverse("cases:visual_timeline", args=[case.slug]),
                 django_assert_num_queries, 3)


@pytest.mark.usefixtures("_session_saved_by_the_warm_up_only")
@pytest.mark.parametrize("item_count", [1, 6], ids=["1", "6"])
def test_timeline_incident_query_count_is_fixed(client, viewer, case, item_count,
                                                django_assert_num_queries):
    fill(case, item_count)
    target = Incident.objects.of_case(case).order_by("-pk").first()
    client.force_login(viewer)
    url = reverse("cases:timeline_incident", args=[case.slug, target.pk])

    client.get(url)
    with django_assert_num_queries(4):  # session, user, case with membership, the position
        response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].endswith(f"#incident-{target.pk}")

