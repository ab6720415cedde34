"""A period whose end is before its start is refused the same way wherever one is asked for
(cases/timebounds.py `refuse_reversed_range`): the map's filter, the visual timeline's window
(tests/test_incident_map.py, tests/test_visual_timeline.py), and the search page and the
API's search here: one message beside the end, code `window_reversed`."""
import pytest
from django.urls import reverse

from .factories import IncidentFactory, api_key_for
from .test_forms import field_block

pytestmark = pytest.mark.django_db

MESSAGE = "The end of the period is before its start."
SEARCH = reverse("cases:search")
API_SEARCH = "/api/v1/search/"


def _api(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {api_key_for(user)}"
    return client


@pytest.fixture
def may_ninth(case):
    # Spans both ends of the reversed periods below: it would be found were they read.
    return IncidentFactory(case=case, title="Deserters seen", occurred="2025-05-08/2025-05-10")


def test_search_page_reversed_range_is_refused_beside_date_to_with_code(client, viewer,
                                                                         may_ninth):
    client.force_login(viewer)
    response = client.get(SEARCH, {"q": "deserters", "date_from": "2025-05-10",
                                   "date_to": "2025-05-08"})
    assert response.status_code == 200
    form = response.context["form"]
    assert [(e.message, e.code) for e in form.errors.as_data()["date_to"]] == [
        (MESSAGE, "window_reversed")]
    assert "date_from" not in form.errors
    assert MESSAGE in field_block(response.content.decode(), "date_to")
    assert response.context["results"] is None


def test_search_page_range_of_one_day_is_accepted(client, viewer, may_ninth):
    client.force_login(viewer)
    response = client.get(SEARCH, {"q": "deserters", "kind": "incident",
                                   "date_from": "2025-05-09", "date_to": "2025-05-09"})
    assert not response.context["form"].errors
    hits = [hit.record for group in response.context["results"].groups for hit in group.hits]
    assert hits == [may_ninth]


def test_api_search_reversed_range_is_a_400_with_its_code_by_field(client, viewer, may_ninth):
    response = _api(client, viewer).get(API_SEARCH, {"q": "deserters",
                                                     "date_from": "2025-05-10",
                                                     "date_to": "2025-05-08"})
    assert response.status_code == 400
    body = response.json()
    assert body["date_to"] == [MESSAGE]
    assert body["codes"] == {"date_to": ["window_reversed"]}


def test_api_search_range_of_one_day_is_accepted(client, viewer, may_ninth):
    response = _api(client, viewer).get(API_SEARCH, {"q": "deserters", "kind": "incident",
                                                     "date_from": "2025-05-09",
                                                     "date_to": "2025-05-09"})
    assert response.status_code == 200
    incidents = next(group for group in response.json()["groups"]
                     if group["kind"] == "incident")
    assert [hit["id"] for hit in incidents["hits"]] == [may_ninth.pk]
