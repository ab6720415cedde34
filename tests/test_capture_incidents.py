"""Captures of the pages cited for an incident (not for one of its claims): the incident's
captures page lists each citation with its captures and "Capture now" for those the reader
may have captured; asking posts to the citation's captures page, as on the claim page. Who
may ask and what a protected source's citation shows follow the claim page's rules."""

import pytest
from django.urls import reverse

from capture.models import Capture
from cases.enums import Role

from .capture_helpers import stored_capture
from .factories import CitationFactory, ClaimFactory, IncidentFactory, SourceFactory
from .query_counts import measured_get, text

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = [pytest.mark.usefixtures("stored_capture_settings")]

ADDRESS = "https://161.ru/text/incidents/2025/05/12/raid.html"
PROTECTED = "https://t.me/insider_channel/4411"


@pytest.fixture(autouse=True)
def _session_saved_by_the_warm_up_only(settings):
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60


@pytest.fixture
def incident(case):
    return IncidentFactory(case=case, title="Raid on the training ground")


@pytest.fixture
def public(case, incident):
    return CitationFactory(incident=incident, claim=None, url=ADDRESS,
                           source=SourceFactory(case=case, name="161.ru"),
                           quote="Police raided the training ground.")


@pytest.fixture
def protected(case, incident):
    return CitationFactory(incident=incident, claim=None, url=PROTECTED,
                           source=SourceFactory(case=case, name="Insider", protected=True))


def _page(incident):
    return reverse("cases:incident_captures", args=[incident.case.slug, incident.pk])


def _capture_buttons(body) -> int:
    return body.count('class="d-inline capture-now"')


def test_incident_page_lists_its_citations_with_capture_now_for_writers(
        client, incident, public, protected, reporter, tmp_path):
    ClaimFactory(case=incident.case, incident=incident)  # its claims' citations: elsewhere
    stored_capture(public, reporter, tmp_path)
    client.force_login(reporter)

    body = client.get(_page(incident)).content.decode()

    assert "Cited for the incident Raid on the training ground" in body
    assert f'data-citation="{public.pk}"' in body and f'data-citation="{protected.pk}"' in body
    assert ADDRESS in body and "Police raided the training ground." in body
    assert "captured 13 May 2025 14:02 UTC" in body
    # A reporter who handles no source: the public address only, and its button.
    assert PROTECTED not in body
    assert _capture_buttons(body) == 1
    assert reverse("cases:citation_captures", args=[incident.case.slug, public.pk]) in body


def test_incident_page_offers_protected_address_to_handlers(client, incident, public,
                                                            protected, handler):
    client.force_login(handler)
    body = client.get(_page(incident)).content.decode()
    assert PROTECTED in body
    assert _capture_buttons(body) == 2


def test_incident_page_offers_no_capture_to_viewers(client, incident, public, viewer):
    client.force_login(viewer)
    body = client.get(_page(incident)).content.decode()
    assert ADDRESS in body and _capture_buttons(body) == 0


def test_incident_page_is_404_to_outsiders_and_for_another_case(client, incident, outsider,
                                                                reporter, make_member):
    client.force_login(outsider)
    assert client.get(_page(incident)).status_code == 404
    other = IncidentFactory()
    make_member(Role.REPORTER, on_case=other.case, username="elsewhere")
    client.force_login(reporter)
    url = reverse("cases:incident_captures", args=[incident.case.slug, other.pk])
    assert client.get(url).status_code == 404


def test_capture_now_of_incident_citation_is_queued_once(client, incident, public, reporter):
    client.force_login(reporter)
    url = reverse("cases:citation_captures", args=[incident.case.slug, public.pk])

    response = client.post(url)
    again = client.post(url)

    assert response.status_code == again.status_code == 302
    assert response["Location"] == url
    [capture] = Capture.objects.all()
    assert (capture.citation, capture.url, capture.status, capture.requested_by) == (
        public, ADDRESS, Capture.Status.QUEUED, reporter)
    assert capture.task_id
    body = client.get(url).content.decode()
    assert "Cited for the incident Raid on the training ground" in body


#: The session, the user, the membership, the incident, its citations (with their source),
#: their relays, their captures (requesters), their files with their evidence, their pages'
#: watch states.
INCIDENT_CAPTURES_QUERIES = 9


@pytest.mark.parametrize("count", [1, 4])
def test_incident_page_queries_do_not_grow_with_citations(client, case, incident, reporter,
                                                          tmp_path, count,
                                                          django_assert_num_queries):
    source = SourceFactory(case=case, name="161.ru")
    for n in range(count):
        citation = CitationFactory(incident=incident, claim=None, source=source,
                                   url=f"https://161.ru/text/{n}.html")
        (tmp_path / str(n)).mkdir()
        stored_capture(citation, reporter, tmp_path / str(n))
    client.force_login(reporter)
    body = text(measured_get(client, _page(incident), django_assert_num_queries,
                             INCIDENT_CAPTURES_QUERIES))
    assert body.count("data-citation=") == count
    assert _capture_buttons(body) == count


def test_timeline_links_each_incident_to_its_captures_page(client, incident, viewer):
    client.force_login(viewer)
    body = client.get(reverse("cases:timeline", args=[incident.case.slug])).content.decode()
    assert f'href="{_page(incident)}"' in body
