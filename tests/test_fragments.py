"""The timeline's entries and the claims board's columns are served from the cache while the
case's records are unchanged (cases/fragments.py); database triggers move the case's content
version on every change (cases/revisions.py), whatever made it."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import imports, revisions, workflow
from cases.access import get_case_for_user
from cases.enums import Role
from cases.enums import VerificationStatus as S
from cases.models import Case, Citation, Claim, Incident, IncidentType

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db


def timeline(client, case, **params):
    return client.get(reverse("cases:timeline", args=[case.slug]), params)


def board(client, case, **params):
    return client.get(reverse("cases:claims_board", args=[case.slug]), params)


def without_csrf_token(response):
    """The page; the sign-out form's token is masked afresh for every response."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def version(case):
    return Case.objects.values_list("content_version", flat=True).get(pk=case.pk)


def record_reads(queries):
    return [q["sql"] for q in queries.captured_queries
            if any(f'FROM "{table}"' in q["sql"] for table in revisions.VERSIONED_TABLES)]


@pytest.fixture
def story(case):
    kind = IncidentTypeFactory(name="Desertion", slug="desertion")
    incident = IncidentFactory(case=case, title="Four soldiers left the range", type=kind,
                               occurred="2025-05-09")
    source = SourceFactory(case=case, name="161.ru")
    claim = ClaimFactory(case=case, incident=incident, statement="Four men deserted.")
    CitationFactory(claim=claim, source=source)
    return {"incident": incident, "source": source, "claim": claim, "type": kind}


# --- served from the cache --------------------------------------------------------------------

@pytest.mark.parametrize("page", [timeline, board])
def test_an_unchanged_case_is_served_without_reading_its_records(client, case, viewer, story,
                                                                 page):
    client.force_login(viewer)
    first = page(client, case)

    with CaptureQueriesContext(connection) as queries:
        again = page(client, case)

    assert without_csrf_token(again) == without_csrf_token(first)
    assert "Four men deserted." in again.content.decode()
    assert record_reads(queries) == []
    # session, user, and the case with the reader's membership: nothing else is read
    assert len([q for q in queries.captured_queries if q["sql"].startswith("SELECT")]) == 3


def test_each_page_of_the_timeline_is_cached_on_its_own(client, case, viewer):
    for day in range(1, 18):
        IncidentFactory(case=case, title=f"Incident {day:02d}", occurred=f"2025-05-{day:02d}")
    client.force_login(viewer)

    first, second = timeline(client, case), timeline(client, case, page=2)

    assert "Incident 01" in first.content.decode()
    assert "Incident 01" not in second.content.decode()
    assert "Incident 17" in second.content.decode()


def test_members_with_other_rights_get_their_own_copy(client, case, viewer, reporter, story):
    client.force_login(reporter)
    assert "Edit</a>" in timeline(client, case).content.decode()

    client.force_login(viewer)
    assert "Edit</a>" not in timeline(client, case).content.decode()


def test_a_non_member_gets_404_even_when_the_page_is_cached(client, case, viewer, outsider,
                                                            story):
    client.force_login(viewer)
    timeline(client, case)
    board(client, case)

    client.force_login(outsider)
    assert timeline(client, case).status_code == 404
    assert board(client, case).status_code == 404


def test_a_request_with_other_parameters_is_rendered_afresh_and_not_kept(client, case, viewer):
    for day in range(1, 18):
        IncidentFactory(case=case, occurred=f"2025-05-{day:02d}")
    client.force_login(viewer)

    crafted = timeline(client, case, page=1, utm="planted")
    plain = timeline(client, case, page=1)

    # The pager repeats the address's parameters: the crafted one must not reach others.
    assert "utm=planted" in crafted.content.decode()
    assert "utm=planted" not in plain.content.decode()


# --- every change moves the version, and the pages show it at once ----------------------------

def _edit_incident(story):
    incident = story["incident"]
    incident.title = "Five soldiers left the range"
    incident.save()
    return "Five soldiers left the range"


def _add_incident(story):
    IncidentFactory(case=story["incident"].case, title="A second escape", occurred="2025-06-01")
    return "A second escape"


def _bulk_add_incidents(story):
    case = story["incident"].case
    Incident.objects.bulk_create([Incident(case=case, title="Bulk-added escape",
                                           occurred="2025-07-01")])
    return "Bulk-added escape"


def _update_claims_in_bulk(story):
    Claim.objects.filter(pk=story["claim"].pk).update(statement="Four men ran away.")
    return "Four men ran away."


def _transition_claim(story):
    claim, case = story["claim"], story["claim"].case
    editor = MembershipFactory(case=case, role=Role.EDITOR).user
    workflow.transition(claim, S.IN_REVIEW, actor=editor)
    return "In review"


def _add_citation(story):
    CitationFactory(claim=story["claim"], source=SourceFactory(case=story["claim"].case))
    return "2 citations"


def _delete_citation(story):
    Citation.objects.filter(claim=story["claim"]).delete()
    return "0 citations"


def _add_comment_request(story):
    CommentRequestFactory(case=story["incident"].case, party_name="Defence Ministry",
                          asked_at=dt.datetime(2025, 5, 10, tzinfo=dt.UTC))
    return "Defence Ministry"


def _rename_incident_type(story):
    IncidentType.objects.filter(pk=story["type"].pk).update(name="Escape")
    return "Escape"


def _import_incidents(story):
    case = story["incident"].case
    user = case.memberships.get(role=Role.REPORTER).user
    report = imports.import_file("incidents", get_case_for_user(user, case.slug), user,
                                 b"title,occurred\nImported escape,2025-08-01\n", "file.csv")
    assert report.written == 1
    return "Imported escape"


CHANGES = [_edit_incident, _add_incident, _bulk_add_incidents, _update_claims_in_bulk,
           _transition_claim, _add_citation, _delete_citation, _add_comment_request,
           _rename_incident_type, _import_incidents]


@pytest.mark.parametrize("change", CHANGES, ids=lambda change: change.__name__.strip("_"))
def test_a_change_to_the_case_shows_on_the_timeline_at_once(client, case, viewer, reporter,
                                                            story, change):
    client.force_login(viewer)
    timeline(client, case)
    before = version(case)

    expected = change(story)

    assert version(case) > before
    assert expected in timeline(client, case).content.decode()


def test_a_deleted_incident_leaves_the_timeline_at_once(client, case, viewer, story):
    gone = IncidentFactory(case=case, title="Added by mistake", occurred="2025-06-01")
    client.force_login(viewer)
    assert "Added by mistake" in timeline(client, case).content.decode()

    gone.delete()

    assert "Added by mistake" not in timeline(client, case).content.decode()


def test_a_change_to_the_case_shows_on_the_claims_board_at_once(client, case, viewer, story):
    client.force_login(viewer)
    assert "Four men deserted." in board(client, case).content.decode()

    _update_claims_in_bulk(story)

    page = board(client, case).content.decode()
    assert "Four men ran away." in page and "Four men deserted." not in page


def test_a_source_renamed_shows_at_once(client, case, viewer, story):
    CommentRequestFactory(case=case, party_name="", party_source=story["source"],
                          asked_at=dt.datetime(2025, 5, 10, tzinfo=dt.UTC))
    client.force_login(viewer)
    assert "161.ru" in timeline(client, case).content.decode()

    story["source"].name = "Rostov outlet"
    story["source"].save()

    assert "Rostov outlet" in timeline(client, case).content.decode()


def test_a_change_moves_only_its_own_cases_version(case, story):
    other = CaseFactory()
    mine, theirs = version(case), version(other)

    _edit_incident(story)

    assert version(case) == mine + 1
    assert version(other) == theirs


def test_the_version_never_goes_back_when_a_stale_case_is_saved(case, story):
    stale = Case.objects.get(pk=case.pk)
    _edit_incident(story)
    bumped = version(case)

    stale.summary = "Saved from an old copy"
    stale.save()

    assert version(case) == bumped
    assert Case.objects.get(pk=case.pk).summary == "Saved from an old copy"


def test_every_versioned_table_has_its_triggers():
    installed = revisions.installed_triggers(connection)
    tables = {table for table, _trigger in installed}
    assert set(revisions.VERSIONED_TABLES) | set(revisions.EVERY_CASE_TABLES) | {
        "cases_case"} <= tables
    for table in revisions.VERSIONED_TABLES:
        assert len([t for t, _ in installed if t == table]) == 3  # insert, update, delete


def test_the_triggers_survive_reinstalling():
    before = revisions.installed_triggers(connection)

    revisions.install_triggers(connection)

    assert revisions.installed_triggers(connection) == before


def test_the_status_badge_names_the_status_and_carries_its_colour_class(client, case, viewer,
                                                                        story):
    client.force_login(viewer)
    page = timeline(client, case).content.decode()
    assert '<span class="badge status-badge status-unverified">Unverified</span>' in page


# --- the figures tab ------------------------------------------------------------------------

def figures(client, case):
    return client.get(reverse("cases:figure_list", args=[case.slug]))


def figure_data(client, case):
    return client.get(reverse("cases:figure_data", args=[case.slug]))


@pytest.fixture
def reported_figure(story):
    claim = story["claim"]
    Claim.objects.filter(pk=claim.pk).update(figure_value=4, figure_unit="deserters")
    Citation.objects.filter(claim=claim).update(
        published_at=dt.datetime(2025, 5, 9, 12, tzinfo=dt.UTC))
    return claim


@pytest.mark.parametrize("page", [figures, figure_data])
def test_an_unchanged_case_serves_its_figures_without_reading_its_records(
        client, case, viewer, reported_figure, page):
    client.force_login(viewer)
    first = page(client, case)

    with CaptureQueriesContext(connection) as queries:
        again = page(client, case)

    assert without_csrf_token(again) == without_csrf_token(first)
    assert f"/claims/{reported_figure.pk}/" in again.content.decode()
    assert record_reads(queries) == []
    assert len([q for q in queries.captured_queries if q["sql"].startswith("SELECT")]) == 3


def test_a_changed_figure_shows_on_the_figures_tab_and_its_chart_at_once(
        client, case, viewer, reported_figure):
    client.force_login(viewer)
    assert "4 deserters" in figures(client, case).content.decode()
    assert figure_data(client, case).json()["figures"][0]["points"][0]["value"] == 4

    Claim.objects.filter(pk=reported_figure.pk).update(figure_value=5)

    page = figures(client, case).content.decode()
    assert "5 deserters" in page and "4 deserters" not in page
    assert figure_data(client, case).json()["figures"][0]["points"][0]["value"] == 5


def test_figures_of_another_language_are_kept_apart(client, case, viewer, reported_figure):
    client.force_login(viewer)
    english = figure_data(client, case).json()["figures"][0]["points"][0]["statusLabel"]

    russian = client.get(reverse("cases:figure_data", args=[case.slug]),
                         headers={"accept-language": "ru"}).json()

    assert english == "Unverified"
    assert russian["figures"][0]["points"][0]["statusLabel"] == "Не проверено"


def test_a_non_member_gets_404_from_the_figures_even_when_they_are_cached(
        client, case, viewer, outsider, reported_figure):
    client.force_login(viewer)
    assert f"/claims/{reported_figure.pk}/" in figures(client, case).content.decode()
    assert figure_data(client, case).json()["figures"]

    client.force_login(outsider)
    for page in (figures, figure_data):
        refused = page(client, case)
        assert refused.status_code == 404
        assert "deserters" not in refused.content.decode()
