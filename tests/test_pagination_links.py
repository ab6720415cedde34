"""The shared pager (templates/cases/includes/pagination.html) on the Map tab's table: its
links keep every other parameter of the address with every value, encoded, and replace
`page`, so the next page lists the same filtered incidents."""

import html
import re
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.urls import reverse

from cases.enums import GeoPrecision
from cases.enums import VerificationStatus as S
from cases.views import maps as map_views

from .factories import ClaimFactory, IncidentFactory, IncidentTypeFactory

pytestmark = pytest.mark.django_db

# A parameter the page does not read, whose name and value need encoding.
ODD_NAME = "a&b= ц"
ODD_VALUE = "x&y=z Щ"


def located(case, title, **fields):
    return IncidentFactory(case=case, title=title, geo_precision=GeoPrecision.POINT,
                           latitude=Decimal("47.2357"), longitude=Decimal("39.7015"), **fields)


def pager_link(page_html, label):
    """The href of the pager's link named `label`, unescaped as a browser reads it."""
    match = re.search(r'<a class="page-link" href="([^"]*)">' + label + "</a>", page_html)
    assert match, f"no {label} link"
    return html.unescape(match.group(1))


@pytest.fixture
def filtered_map(case, monkeypatch):
    """Three incidents of one type with a disputed claim (two to a page), and two that
    miss one filter each."""
    monkeypatch.setattr(map_views, "TABLE_PAGE_SIZE", 2)
    desertion = IncidentTypeFactory(name="Desertion")
    other_type = IncidentTypeFactory(name="Arrest")
    for day, title in [(1, "First desertion"), (2, "Second desertion"), (3, "Third desertion")]:
        incident = located(case, title, type=desertion, occurred=f"2025-05-0{day}")
        ClaimFactory(case=case, incident=incident, status=S.DISPUTED)
    unverified = located(case, "Desertion not disputed", type=desertion, occurred="2025-05-04")
    ClaimFactory(case=case, incident=unverified, status=S.UNVERIFIED)
    arrest = located(case, "Disputed arrest", type=other_type, occurred="2025-05-05")
    ClaimFactory(case=case, incident=arrest, status=S.DISPUTED)
    return {"type": str(desertion.pk), "claim_status": S.DISPUTED.value}


def test_pager_next_link_keeps_every_parameter_encoded_and_replaces_page(
        client, case, viewer, filtered_map):
    client.force_login(viewer)
    url = reverse("cases:incident_map", args=[case.slug])
    first = client.get(url, {**filtered_map, "tag": ["x", "y"], ODD_NAME: ODD_VALUE,
                             "page": "1"}).content.decode()
    assert "Page 1 of 2" in first
    assert "First desertion" in first and "Second desertion" in first
    assert "Third desertion" not in first

    next_link = pager_link(first, "Next")
    query = urlsplit(next_link).query
    pairs = parse_qsl(query, keep_blank_values=True)
    assert sorted(pairs) == sorted([
        ("type", filtered_map["type"]), ("claim_status", "disputed"),
        ("tag", "x"), ("tag", "y"), (ODD_NAME, ODD_VALUE), ("page", "2")])
    # The name and the value are encoded: their `&`, `=`, space and Cyrillic letters do not
    # split or end the parameter.
    assert "a%26b%3D+%D1%86=x%26y%3Dz+%D0%A9" in query.split("&")

    second = client.get(url + next_link).content.decode()
    assert "Page 2 of 2" in second
    assert "Third desertion" in second
    for title in ["First desertion", "Second desertion", "Desertion not disputed",
                  "Disputed arrest"]:
        assert title not in second

    previous_pairs = parse_qsl(urlsplit(pager_link(second, "Previous")).query,
                               keep_blank_values=True)
    assert sorted(previous_pairs) == sorted(
        [p for p in pairs if p[0] != "page"] + [("page", "1")])


def test_pager_next_link_keeps_every_value_of_a_repeated_filter(
        client, case, viewer, filtered_map):
    client.force_login(viewer)
    url = reverse("cases:incident_map", args=[case.slug])
    # The filter reads the last value; the link must still carry both, in their order.
    first = client.get(url, {"type": filtered_map["type"],
                             "claim_status": ["false", "disputed"]}).content.decode()
    pairs = parse_qsl(urlsplit(pager_link(first, "Next")).query)
    assert [v for k, v in pairs if k == "claim_status"] == ["false", "disputed"]
    second = client.get(url + pager_link(first, "Next")).content.decode()
    assert "Third desertion" in second and "Disputed arrest" not in second


def test_pager_page_is_not_shown_to_an_outsider(client, case, outsider, filtered_map):
    client.force_login(outsider)
    response = client.get(reverse("cases:incident_map", args=[case.slug]),
                          {**filtered_map, "page": "2"})
    assert response.status_code == 404
    assert b"Third desertion" not in response.content
