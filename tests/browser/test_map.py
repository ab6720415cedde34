"""The Map tab in a real browser (Chromium, Playwright, the live server), with no tile server:
the map draws the vendored Natural Earth outlines as its base, each incident at its geo
precision (a region's and a country's outline, a town's circle), groups nearby pins in a
cluster, and a feature's link reaches the incident on the timeline. Nothing is fetched from
outside the server, and no script error or CSP violation happens on the way."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from cases.enums import GeoPrecision, Role

from ..factories import PASSWORD, CaseFactory, IncidentFactory, MembershipFactory, UserFactory
from .axe import axe_violations, describe, failing
from .test_flows import watch

pytestmark = pytest.mark.django_db(transaction=True)


def located(case, title, precision, lat, lon, **fields):
    return IncidentFactory(case=case, title=title, geo_precision=precision,
                           latitude=Decimal(lat), longitude=Decimal(lon), **fields)


@pytest.fixture
def mapped_case(settings):
    settings.CASEDESK_MAP_TILE_URL = ""
    case = CaseFactory(title="Desertions on the map")
    MembershipFactory(case=case, user=UserFactory(username="mapreader"), role=Role.VIEWER)
    # Three pins a few hundred metres apart (one cluster), the rest hundreds of km away.
    pins = [located(case, f"Checkpoint {name}", GeoPrecision.POINT, lat, lon, country="RU",
                    admin_region="Rostov Oblast", place_name=f"Checkpoint {name}")
            for name, lat, lon in [("A", "47.2100", "38.9000"), ("B", "47.2120", "38.9030"),
                                   ("C", "47.2080", "38.9020")]]
    located(case, "Caught in Voronezh", GeoPrecision.TOWN, "51.6720", "39.1843",
            place_name="Voronezh", admin_region="Voronezh Oblast", country="RU")
    # Found by its name (Natural Earth's "Volgograd")...
    located(case, "Manhunt in the oblast", GeoPrecision.REGION, "49.5000", "44.5000",
            admin_region="Volgograd Oblast", country="RU")
    # ...and by where its coordinates fall, the name being written in Russian.
    located(case, "Seen somewhere in Samara region", GeoPrecision.REGION, "53.2000", "50.1000",
            admin_region="Самарская область", country="RU")
    located(case, "Crossed into Georgia", GeoPrecision.COUNTRY, "41.7200", "44.7800",
            admin_region="", place_name="", country="GE")
    IncidentFactory(case=case, title="Place not reported")
    return case, pins


def test_map_draws_outlines_offline_clusters_pins_and_links_to_the_incident(
        open_page, live_server, mapped_case):
    case, pins = mapped_case
    problems = []
    page = open_page("mapreader", PASSWORD)
    watch(page, "mapreader", problems)
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"/cases/{case.slug}/map/")
    map_box = page.locator("[data-incident-map]")
    expect(map_box).to_have_attribute("data-map-ready", "true")

    # The base map is the vendored countries' outlines, the region and country features
    # their own outlines, the town a circle.
    assert page.locator(".leaflet-overlay-pane path").count() > 200
    expect(map_box).to_have_attribute("data-features", "7")
    expect(map_box).to_have_attribute("data-outlines", "3")
    expect(page.locator("path.incident-map-region")).to_have_count(2)
    expect(page.locator("path.incident-map-country")).to_have_count(1)
    expect(page.locator("path.incident-map-circle")).to_have_count(1)
    server = urlsplit(live_server.url).netloc
    assert all(urlsplit(url).netloc == server for url in requested), requested
    assert any(url.endswith("/countries-50m.json") for url in requested)
    assert any(url.endswith("/regions.topo.json") for url in requested)
    # The text alternative lists the same seven, and counts the one not on the map.
    expect(page.locator("[data-map-row]")).to_have_count(7)
    expect(page.locator("[data-map-unlocated]")).to_be_visible()

    # The drawn map and its text alternative pass axe-core (WCAG 2 A and AA).
    violations = failing(axe_violations(page))
    assert not violations, "\n".join(describe("map", violations))

    # The three pins are one cluster; opening it shows each pin, whose popup links to the
    # incident's place on the timeline.
    cluster = page.locator(".marker-cluster")
    expect(cluster).to_have_count(1)
    expect(cluster).to_have_text("3")
    cluster.click()
    pin = page.locator('.leaflet-marker-icon[title="Checkpoint A"]')
    expect(pin).to_be_visible()
    pin.click()
    link = page.locator(f'.leaflet-popup a[data-incident-id="{pins[0].pk}"]')
    expect(link).to_be_visible()
    # Once the popup has faded in (axe reads the colours as they are drawn).
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    violations = failing(axe_violations(page))
    assert not violations, "\n".join(describe("map with a popup", violations))
    link.click()
    page.wait_for_url(f"**/cases/{case.slug}/timeline/#incident-{pins[0].pk}")
    expect(page.locator(f"#incident-{pins[0].pk}")).to_contain_text("Checkpoint A")
    assert not problems, "\n".join(problems)
