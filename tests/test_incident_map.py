"""The Map tab (cases/maps.py, cases/views/maps.py): the GeoJSON of located incidents at each
geo precision, the filters shared by the page and the data, who may see them, their exact
query counts at one and many incidents, and the CSP with and without a tile server."""

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases import demo, maps
from cases.enums import GeoPrecision, Role
from cases.enums import VerificationStatus as S
from cases.models import Case, SourceIdentity
from cases.views import maps as map_views
from config.settings import _tile_origin

from .factories import (
    CitationFactory,
    ClaimFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
)
from .query_counts import measured_get
from .test_http_security import assert_no_inline_code, assert_security_headers, parse_csp

pytestmark = pytest.mark.django_db

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROPERTIES = {"title", "type", "when", "precision", "precision_label", "place", "admin_region",
              "country", "country_a3", "country_n3", "radius", "url"}


def data(client, case, **params):
    response = client.get(reverse("cases:incident_map_data", args=[case.slug]), params)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/geo+json"
    return response.json()


def map_config(page):
    """The configuration the page gives its script (json_script)."""
    return json.loads(page.split('id="incident-map-config" type="application/json">')[1]
                      .split("</script>")[0])


def by_title(collection):
    return {f["properties"]["title"]: f for f in collection["features"]}


def located(case, title, precision, lat="47.2357", lon="39.7015", **fields):
    return IncidentFactory(case=case, title=title, geo_precision=precision,
                           latitude=Decimal(lat), longitude=Decimal(lon), **fields)


# --- what the data says at each precision ---------------------------------------------------

def test_map_data_draws_each_incident_at_its_geo_precision(client, case, viewer):
    desertion = IncidentTypeFactory(name="Desertion")
    located(case, "Gate of the training ground", GeoPrecision.POINT, place_name="Gate 3",
            type=desertion, occurred="2025-05-09")
    located(case, "Caught in Novocherkassk", GeoPrecision.TOWN, place_name="Novocherkassk",
            lat="47.4222", lon="40.0939")
    located(case, "Near the border", GeoPrecision.DISTRICT, place_name="Kuibyshevsky district")
    located(case, "Somewhere in the oblast", GeoPrecision.REGION, admin_region="Rostov Oblast",
            country="RU", occurred="XXXX-05-09")
    located(case, "Somewhere in Russia", GeoPrecision.COUNTRY, place_name="", admin_region="",
            country="RU", lat="55.75", lon="37.62")
    IncidentFactory(case=case, title="Place not reported")
    client.force_login(viewer)

    collection = data(client, case)

    assert collection["type"] == "FeatureCollection"
    assert collection["truncated"] is False and collection["limit"] == maps.MAX_FEATURES
    features = by_title(collection)
    assert set(features) == {"Gate of the training ground", "Caught in Novocherkassk",
                             "Near the border", "Somewhere in the oblast",
                             "Somewhere in Russia"}
    for f in features.values():
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        assert set(f["properties"]) == PROPERTIES
        assert f["properties"]["url"] == reverse("cases:timeline_incident",
                                                 args=[case.slug, f["id"]])
    point = features["Gate of the training ground"]
    assert point["geometry"]["coordinates"] == [39.7015, 47.2357]  # longitude first
    assert point["properties"] | {"url": None} == {
        "title": "Gate of the training ground", "type": "Desertion", "when": "9 May 2025",
        "precision": "point", "precision_label": "Exact point", "place": "At this point: Gate 3",
        "admin_region": "Rostov Oblast", "country": "RU", "country_a3": "RUS",
        "country_n3": "643", "radius": None, "url": None}
    town = features["Caught in Novocherkassk"]["properties"]
    assert (town["place"], town["radius"]) == ("In or near Novocherkassk", 5_000)
    district = features["Near the border"]["properties"]
    assert (district["place"], district["radius"]) == (
        "Somewhere in this district (Kuibyshevsky district)", 25_000)
    region = features["Somewhere in the oblast"]["properties"]
    assert (region["place"], region["radius"], region["when"]) == (
        "Somewhere in Rostov Oblast", 150_000, "9 May, year unknown")
    country = features["Somewhere in Russia"]["properties"]
    assert (country["place"], country["radius"], country["country_n3"]) == (
        "Somewhere in Russia", 500_000, "643")


def test_map_data_and_page_hold_no_protected_source_identity(client, case, viewer):
    incident = located(case, "Deserters seen", GeoPrecision.TOWN, place_name="Shakhty")
    insider = SourceFactory(case=case, name="Investigators-R", protected=True)
    SourceIdentity.objects.create(source=insider, real_name="Ivan Realname",
                                  contact="ivan@example.org")
    CitationFactory(claim=None, incident=incident, source=insider)
    CitationFactory(claim=ClaimFactory(case=case, incident=incident), source=insider)
    client.force_login(viewer)
    body = client.get(reverse("cases:incident_map_data", args=[case.slug])).content.decode()
    page = client.get(reverse("cases:incident_map", args=[case.slug])).content.decode()
    assert "Deserters seen" in body and "Deserters seen" in page
    for secret in ("Ivan Realname", "ivan@example.org", "Investigators-R"):
        assert secret not in body and secret not in page


# --- filters ---------------------------------------------------------------------------------

def test_map_filters_by_type_dates_and_claims_status_on_data_and_page(client, case, viewer):
    arrest = IncidentTypeFactory(name="Arrest")
    manhunt = IncidentTypeFactory(name="Manhunt")
    IncidentTypeFactory(name="Type of another case")
    caught = located(case, "Four caught", GeoPrecision.TOWN, type=arrest, occurred="2025-05-12")
    located(case, "Search goes on", GeoPrecision.REGION, type=manhunt,
            occurred="2025-05/2025-07")
    located(case, "Arrest, year unknown", GeoPrecision.POINT, type=arrest, occurred="XXXX-05")
    ClaimFactory(case=case, incident=caught, status=S.CONFIRMED)
    disputed = located(case, "Two more arrested", GeoPrecision.POINT, type=arrest,
                       occurred="2025-06-20")
    ClaimFactory(case=case, incident=disputed, status=S.DISPUTED)
    IncidentFactory(case=case, title="Unlocated arrest", type=arrest, occurred="2025-05-13")
    client.force_login(viewer)

    def titles(**params):
        return set(by_title(data(client, case, **params)))

    assert titles(type=arrest.pk) == {"Four caught", "Arrest, year unknown",
                                      "Two more arrested"}
    # A span that reaches into the range counts; a date without a year cannot be placed.
    assert titles(occurred_from="2025-06-01") == {"Search goes on", "Two more arrested"}
    assert titles(occurred_to="2025-05-31") == {"Four caught", "Search goes on"}
    assert titles(occurred_from="2025-05-13", occurred_to="2025-05-31") == {"Search goes on"}
    assert titles(claim_status=S.CONFIRMED) == {"Four caught"}
    assert titles(claim_status=S.DISPUTED, type=arrest.pk) == {"Two more arrested"}
    assert titles(claim_status=S.FALSE) == set()

    page = client.get(reverse("cases:incident_map", args=[case.slug]),
                      {"type": arrest.pk, "occurred_to": "2025-05-31"}).content.decode()
    assert "Four caught" in page and "Two more arrested" not in page
    # The unlocated arrest matches too: counted, linked to the timeline.
    assert "1 incident matching these filters has no coordinates" in page
    assert reverse("cases:timeline", args=[case.slug]) in page
    # The script asks for the same filters; the type menu offers this case's types only.
    config = map_config(page)
    assert config["dataUrl"] == (reverse("cases:incident_map_data", args=[case.slug])
                                 + f"?type={arrest.pk}&occurred_to=2025-05-31")
    assert "Manhunt" in page and "Type of another case" not in page


def test_map_data_refuses_unreadable_filters_by_name(client, case, viewer):
    client.force_login(viewer)
    response = client.get(reverse("cases:incident_map_data", args=[case.slug]),
                          {"occurred_from": "9 May", "claim_status": "sure", "type": "999"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"occurred_from", "claim_status", "type"}


@pytest.mark.parametrize("params, field, code", [
    ({"occurred_from": "9 May"}, "occurred_from", "invalid"),
    ({"occurred_from": "0001-01-01"}, "occurred_from", "date_out_of_range"),
    ({"occurred_to": "9999-12-31"}, "occurred_to", "date_out_of_range"),
    ({"occurred_from": "2025-06-01", "occurred_to": "2025-05-01"}, "occurred_to",
     "window_reversed"),
    ({"claim_status": "sure"}, "claim_status", "invalid_choice"),
    ({"type": "99999999999999999999999"}, "type", "invalid_choice"),
], ids=["words", "year-1", "year-9999-end", "reversed", "unknown-status", "huge-type"])
def test_map_data_refuses_a_bad_filter_with_400_naming_field_and_code(client, case, viewer,
                                                                      params, field, code):
    # Spans both days of the reversed period: it would match if the period were not refused.
    located(case, "Search goes on", GeoPrecision.REGION, occurred="2025-05/2025-07")
    client.force_login(viewer)
    response = client.get(reverse("cases:incident_map_data", args=[case.slug]), params)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert errors[field][0]["code"] == code and errors[field][0]["message"]


def test_map_page_refuses_a_reversed_period_next_to_its_end_and_shows_no_incident(
        client, case, viewer):
    located(case, "Search goes on", GeoPrecision.REGION, occurred="2025-05/2025-07")
    client.force_login(viewer)
    page = client.get(reverse("cases:incident_map", args=[case.slug]),
                      {"occurred_from": "2025-06-01", "occurred_to": "2025-05-01"}
                      ).content.decode()
    assert "The end of the period is before its start." in page
    assert "Search goes on" not in page and "data-incident-map" not in page


@pytest.mark.parametrize("number", ["0", "-1", "two", "1e3", "99999999999999999999"])
def test_map_table_reads_an_unusable_page_number_as_the_nearest_page(client, case, viewer,
                                                                     monkeypatch, number):
    monkeypatch.setattr(map_views, "TABLE_PAGE_SIZE", 1)
    for day in (1, 2):
        located(case, f"Arrest on day {day}", GeoPrecision.POINT, occurred=f"2025-05-0{day}")
    client.force_login(viewer)
    page = client.get(reverse("cases:incident_map", args=[case.slug]),
                      {"page": number}).content.decode()
    shown = re.findall(r"Arrest on day \d", page)
    # A whole number out of range is the last page (Django's get_page), anything else the first.
    expected = ("Arrest on day 1" if number in ("two", "1e3") else "Arrest on day 2")
    assert shown == [expected]


def test_map_page_with_unreadable_filters_shows_their_errors_and_no_incident(client, case,
                                                                            viewer):
    located(case, "Four caught", GeoPrecision.TOWN)
    client.force_login(viewer)
    response = client.get(reverse("cases:incident_map", args=[case.slug]),
                          {"occurred_from": "soon after 9 May"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a valid date." in page
    assert "Correct the filters above to see the map." in page
    assert "Four caught" not in page and "data-incident-map" not in page
    config = map_config(page)
    assert config["dataUrl"] == ""


def test_map_says_when_more_incidents_match_than_it_draws(client, case, viewer, monkeypatch):
    monkeypatch.setattr(maps, "MAX_FEATURES", 2)
    for day in (3, 1, 2):
        located(case, f"Arrest on day {day}", GeoPrecision.POINT, occurred=f"2025-05-0{day}")
    client.force_login(viewer)
    collection = data(client, case)
    assert collection["truncated"] is True and collection["limit"] == 2
    assert list(by_title(collection)) == ["Arrest on day 1", "Arrest on day 2"]
    page = client.get(reverse("cases:incident_map", args=[case.slug])).content.decode()
    assert "3 located incidents match; the map shows the earliest 2." in page
    assert all(f"Arrest on day {day}" in page for day in (1, 2, 3))  # the table lists all


def test_map_link_leads_to_the_incident_on_the_timeline(client, case, viewer):
    incident = located(case, "Four caught", GeoPrecision.TOWN)
    client.force_login(viewer)
    link = data(client, case)["features"][0]["properties"]["url"]
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"] == (reverse("cases:timeline", args=[case.slug])
                                    + f"#incident-{incident.pk}")


# --- who may see it --------------------------------------------------------------------------

@pytest.mark.parametrize("url_name", ["incident_map", "incident_map_data"])
def test_map_is_for_the_case_members_only(client, case, outsider, viewer, editor, url_name):
    located(case, "Four caught", GeoPrecision.TOWN)
    other = located(IncidentFactory().case, "Another case's incident", GeoPrecision.POINT)
    url = reverse(f"cases:{url_name}", args=[case.slug])

    client.force_login(outsider)
    assert client.get(url).status_code == 404
    MembershipFactory(case=other.case, user=outsider, role=Role.EDITOR)
    assert client.get(url).status_code == 404  # a member of another case is an outsider here

    for member in (viewer, editor):
        client.force_login(member)
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Four caught" in body and "Another case's incident" not in body


# --- cost ------------------------------------------------------------------------------------

def fill(case, n):
    claim_type = IncidentTypeFactory(name="Arrest")
    for k in range(n):
        incident = located(case, f"Mapped incident {k}", list(GeoPrecision)[k % 5],
                           type=claim_type, occurred=f"2025-05-{k % 28 + 1:02d}")
        ClaimFactory(case=case, incident=incident, status=S.CONFIRMED)
        IncidentFactory(case=case, title=f"Unlocated incident {k}")


@pytest.mark.parametrize("n", [1, 6], ids=["1", "6"])
@pytest.mark.parametrize("params", [{}, {"type": "TYPE", "occurred_from": "2025-05-01",
                                         "claim_status": "confirmed"}], ids=["all", "filtered"])
def test_map_query_counts_are_fixed(client, case, viewer, settings, django_assert_num_queries,
                                    n, params):
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60
    fill(case, n)
    if params:
        params = {**params, "type": case.incidents.first().type_id}
    client.force_login(viewer)
    # session, user, the case with the membership; the feature rows (with a chosen type
    # checked: one more).
    body = measured_get(client, reverse("cases:incident_map_data", args=[case.slug]),
                        django_assert_num_queries, 4 + bool(params), params).content.decode()
    assert len(json.loads(body)["features"]) == n
    # ... and on the page: the type menu, the totals, the table's page.
    page = measured_get(client, reverse("cases:incident_map", args=[case.slug]),
                        django_assert_num_queries, 6 + bool(params), params).content.decode()
    assert all(f"Mapped incident {k}" in page for k in range(n))


# --- tiles and the CSP -----------------------------------------------------------------------

def test_map_without_tile_url_uses_vendored_outlines_and_the_csp_allows_no_other_host(
        client, case, viewer, settings):
    settings.CASEDESK_MAP_TILE_URL = ""
    client.force_login(viewer)
    response = client.get(reverse("cases:incident_map", args=[case.slug]))
    policy = parse_csp(response["Content-Security-Policy"])
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src" if "connect-src" in policy else "default-src"] == ["'self'"]
    page = response.content.decode()
    config = map_config(page)
    assert config["tileUrl"] == ""
    outlines = re.findall(r'data-(?:countries|regions)-url="/static/([^"]+)"', page)
    assert outlines == ["vendor/world-atlas-2.0.2/countries-50m.json",
                        "vendor/natural-earth-admin1/regions.topo.json"]
    for path in outlines:  # served as they are: a few MB at most
        assert os.path.getsize(os.path.join(BASE_DIR, "static", path)) < 2_000_000


def test_map_with_tile_url_passes_it_and_the_csp_allows_its_host(client, case, viewer,
                                                                 settings):
    tiles = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    settings.CASEDESK_MAP_TILE_URL = tiles
    settings.CASEDESK_MAP_TILE_ATTRIBUTION = "© Example Tiles"
    policy = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
        **policy["DIRECTIVES"],
        "img-src": [*policy["DIRECTIVES"]["img-src"], _tile_origin(tiles)]}}
    client.force_login(viewer)
    response = client.get(reverse("cases:incident_map", args=[case.slug]))
    assert parse_csp(response["Content-Security-Policy"])["img-src"] == [
        "'self'", "data:", "https://*.tiles.example.org"]
    config = map_config(response.content.decode())
    assert (config["tileUrl"], config["tileAttribution"]) == (tiles, "© Example Tiles")


def settings_in_a_fresh_process(**environ) -> subprocess.CompletedProcess:
    code = ("import json, django; from django.conf import settings; django.setup(); "
            "print(json.dumps(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']))")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **environ},
        check=False)
    return result


def test_tile_host_in_the_csp_comes_from_the_environment():
    result = settings_in_a_fresh_process(
        CASEDESK_MAP_TILE_URL="https://tiles.example.org:8443/osm/{z}/{x}/{y}.png")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [
        "'self'", "data:", "https://tiles.example.org:8443"]
    result = settings_in_a_fresh_process(CASEDESK_MAP_TILE_URL="")
    assert json.loads(result.stdout.splitlines()[-1]) == ["'self'", "data:"]


@pytest.mark.parametrize("template", ["tiles.example.org/{z}/{x}/{y}.png",
                                      "javascript:alert(1)", "https://{host}/{z}/{x}/{y}.png"])
def test_tile_url_that_names_no_fixed_host_is_refused_at_start(template):
    result = settings_in_a_fresh_process(CASEDESK_MAP_TILE_URL=template)
    assert result.returncode != 0
    assert "CASEDESK_MAP_TILE_URL must be an http(s) URL template" in result.stderr


def test_map_tab_follows_the_timeline_tab(client, case, viewer):
    client.force_login(viewer)
    page = client.get(reverse("cases:timeline", args=[case.slug])).content.decode()
    timeline = page.index(reverse("cases:timeline", args=[case.slug]) + '">')
    tab = page.index(reverse("cases:incident_map", args=[case.slug]) + '">')
    claims = page.index(reverse("cases:claims_board", args=[case.slug]) + '">')
    assert timeline < tab < claims


def test_demo_case_maps_its_region_and_counts_the_unplaced_catch(client):
    call_command("seed_demo", stdout=StringIO())
    case = Case.objects.get(slug=demo.CASE_SLUG)
    client.force_login(case.memberships.get(role=Role.VIEWER).user)
    features = by_title(data(client, case))
    # The report places them no closer than the oblast: its outline, no invented point.
    rostov = {demo.I_DESERTION, demo.I_BORDER_ARRESTS, demo.I_MANHUNT}
    assert rostov <= set(features) and demo.I_FIRST_CATCH not in features
    assert {features[title]["properties"]["place"] for title in rostov} == {
        "Somewhere in Rostov Oblast"}
    assert {features[title]["properties"]["precision"] for title in rostov} == {"region"}
    page = client.get(reverse("cases:incident_map", args=[case.slug])).content.decode()
    unlocated = case.incidents.filter(latitude=None).count()
    assert unlocated >= 1
    assert re.search(rf"\b{unlocated} incidents? matching these filters ha(s|ve) no coordinates",
                     page)


def test_map_page_has_no_inline_code_and_the_usual_headers(client, case, viewer):
    located(case, "Four caught", GeoPrecision.TOWN)
    client.force_login(viewer)
    for name in ("incident_map", "incident_map_data"):
        response = client.get(reverse(f"cases:{name}", args=[case.slug]))
        assert_security_headers(response)
    page = client.get(reverse("cases:incident_map", args=[case.slug])).content.decode()
    assert_no_inline_code(page, "map")
