"""Linked cases and linked incidents (cases/models/links.py, cases/links.py, the pages of
cases/views/links.py, the API's /case-links/ and /incident-links/, the JSON export and
import): a link is seen only by a member of both sides' cases, made and removed only by a
reporter or editor of both, and anyone else learns nothing of the other side, not even that
a link exists."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases import exports, imports
from cases import links as linking
from cases.access import get_case_for_user
from cases.enums import IncidentLinkKind, Role
from cases.models import CaseLink, IncidentLink

from .factories import CaseFactory, IncidentFactory, MembershipFactory, UserFactory, api_key_for
from .query_counts import measured_get

pytestmark = pytest.mark.django_db

OTHER_TITLE = "Krasnodar unit desertion"
OTHER_INCIDENT_TITLE = "Four soldiers left the Krasnodar base"


@pytest.fixture
def other_case(db):
    return CaseFactory(title=OTHER_TITLE)


@pytest.fixture
def both(case, other_case):
    """A reporter of both cases."""
    user = UserFactory(username="both")
    MembershipFactory(case=case, user=user, role=Role.REPORTER)
    MembershipFactory(case=other_case, user=user, role=Role.REPORTER)
    return user


@pytest.fixture
def reads_other(case, other_case):
    """A reporter of the case who only reads the other one."""
    user = UserFactory(username="reads-other")
    MembershipFactory(case=case, user=user, role=Role.REPORTER)
    MembershipFactory(case=other_case, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def one_side(reporter):
    """A reporter of the case only: not a member of the other case."""
    return reporter


@pytest.fixture
def incidents(case, other_case):
    return {"here": IncidentFactory(case=case, title="Ten men fled the training ground"),
            "here_later": IncidentFactory(case=case, title="Six of them were caught"),
            "there": IncidentFactory(case=other_case, title=OTHER_INCIDENT_TITLE)}


@pytest.fixture
def case_link(case, other_case, both):
    return linking.link_cases(case, other_case, actor=both, note="Same unit, same week.")


@pytest.fixture
def incident_link(incidents, both):
    return linking.link_incidents(incidents["here"], incidents["there"], actor=both,
                                  kind=IncidentLinkKind.SAME_EVENT, note="Same night.")


def api_for(user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return api


def codes_of(form, field):
    return [error.code for error in form.errors.as_data()[field]]


# --- the domain's rules ------------------------------------------------------------------

def test_link_cases_by_reporter_of_both_is_saved_with_history(case, other_case, both):
    link = linking.link_cases(case, other_case, actor=both, note="  Same unit.  ")
    assert (link.from_case, link.to_case, link.note, link.created_by) == (
        case, other_case, "Same unit.", both)
    assert list(link.history.values_list("history_type", "history_user")) == [("+", both.pk)]


def _code(excinfo):
    error = excinfo.value
    if hasattr(error, "error_dict"):
        return [e.code for errors in error.error_dict.values() for e in errors]
    return [e.code for e in error.error_list]


def test_link_cases_refusals_carry_their_codes(case, other_case, both, reads_other,
                                               one_side, outsider):
    cases = [
        (both, case, case, linking.LINK_TO_ITSELF),
        (reads_other, case, other_case, linking.LINK_NOT_ALLOWED),
        (one_side, case, other_case, linking.LINK_TARGET_NOT_FOUND),
        (outsider, case, other_case, linking.LINK_TARGET_NOT_FOUND),
    ]
    for actor, start, end, code in cases:
        with pytest.raises(ValidationError) as excinfo:
            linking.link_cases(start, end, actor=actor)
        assert _code(excinfo) == [code], actor
    assert not CaseLink.objects.exists()


def test_a_pair_is_linked_once_whichever_way(case, other_case, both, case_link):
    with pytest.raises(ValidationError) as excinfo:
        linking.link_cases(other_case, case, actor=both)
    assert _code(excinfo) == [linking.LINK_EXISTS]
    assert CaseLink.objects.count() == 1


def test_the_database_refuses_a_reversed_pair_and_a_self_link(case, other_case, case_link):
    from django.db import IntegrityError, transaction

    for start, end in ((other_case, case), (case, case)):
        with pytest.raises(IntegrityError), transaction.atomic():
            CaseLink.objects.create(from_case=start, to_case=end)


def test_incident_link_refusals_carry_their_codes(incidents, both, one_side):
    here, there = incidents["here"], incidents["there"]
    for actor, end, kind, code in [
        (both, here, IncidentLinkKind.RELATED, linking.LINK_TO_ITSELF),
        (both, there, "cousin", linking.LINK_KIND_INVALID),
        (one_side, there, IncidentLinkKind.RELATED, linking.LINK_TARGET_NOT_FOUND),
    ]:
        with pytest.raises(ValidationError) as excinfo:
            linking.link_incidents(here, end, actor=actor, kind=kind)
        assert _code(excinfo) == [code]
    assert not IncidentLink.objects.exists()


def test_links_visible_only_to_members_of_both_sides(case_link, incident_link, both,
                                                     one_side, outsider, reads_other):
    for user, count in ((both, 1), (reads_other, 1), (one_side, 0), (outsider, 0)):
        assert CaseLink.objects.visible_to(user).count() == count, user
        assert IncidentLink.objects.visible_to(user).count() == count, user


# --- the pages: the overview and the linked cases page -------------------------------------

def test_overview_shows_a_linked_case_to_a_member_of_both(client, case, both, case_link):
    client.force_login(both)
    content = client.get(reverse("cases:case_overview", args=[case.slug])).content.decode()
    assert OTHER_TITLE in content and "Same unit, same week." in content


def test_member_of_one_side_sees_nothing_of_the_other_case(client, case, other_case,
                                                           one_side, case_link,
                                                           incident_link, incidents):
    client.force_login(one_side)
    pages = [reverse("cases:case_overview", args=[case.slug]),
             reverse("cases:case_links", args=[case.slug]),
             reverse("cases:incident_links", args=[case.slug, incidents["here"].pk]),
             reverse("cases:timeline", args=[case.slug]),
             reverse("cases:search") + "?q=Krasnodar"]
    for url in pages:
        content = client.get(url).content.decode()
        for secret in (OTHER_TITLE, OTHER_INCIDENT_TITLE, other_case.slug, "Same unit",
                       "Same night"):
            assert secret not in content, (url, secret)
    overview = client.get(pages[0]).content.decode()
    assert "No linked cases." in overview
    assert "No linked incidents." in client.get(pages[2]).content.decode()
    # Nor through the other case's addresses.
    assert client.get(reverse("cases:case_links", args=[other_case.slug])).status_code == 404


def test_linked_cases_page_gives_outsider_404_viewer_no_form(client, case, viewer, outsider,
                                                             case_link):
    url = reverse("cases:case_links", args=[case.slug])
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.post(reverse("cases:case_link_add", args=[case.slug])).status_code == 404
    client.force_login(viewer)
    response = client.get(url)
    assert response.status_code == 200 and response.context["link_form"] is None
    assert b"Remove link" not in response.content
    response = client.post(reverse("cases:case_link_add", args=[case.slug]),
                           {"to_case": 1})
    assert response.status_code == 404
    assert not CaseLink.objects.exclude(pk=case_link.pk).exists()


def test_reporter_of_both_links_cases_on_the_page(client, case, other_case, both):
    client.force_login(both)
    response = client.post(reverse("cases:case_link_add", args=[case.slug]),
                           {"to_case": other_case.pk, "note": "Same unit."})
    assert response.status_code == 302
    link = CaseLink.objects.get()
    assert (link.from_case, link.to_case, link.note) == (case, other_case, "Same unit.")
    assert link.history.get().history_user == both
    content = client.get(reverse("cases:case_overview", args=[other_case.slug])).content
    assert b"Rostov training-ground desertion" in content


def test_link_to_a_case_one_is_not_on_gets_the_answer_of_a_missing_one(client, case,
                                                                       other_case, one_side):
    client.force_login(one_side)
    url = reverse("cases:case_link_add", args=[case.slug])
    answers = []
    for target in (other_case.pk, 999_999, "x"):
        response = client.post(url, {"to_case": target})
        assert response.status_code == 400
        form = response.context["link_form"]
        assert codes_of(form, "to_case") == [linking.LINK_TARGET_NOT_FOUND]
        answers.append(form.errors["to_case"])
    assert answers[0] == answers[1] == answers[2]
    assert not CaseLink.objects.exists()
    assert OTHER_TITLE not in client.get(
        reverse("cases:case_links", args=[case.slug])).content.decode()


def test_case_one_only_reads_is_not_offered(client, case, other_case, reads_other):
    client.force_login(reads_other)
    response = client.post(reverse("cases:case_link_add", args=[case.slug]),
                           {"to_case": other_case.pk})
    assert response.status_code == 400
    assert codes_of(response.context["link_form"], "to_case") == [
        linking.LINK_TARGET_NOT_FOUND]


def test_case_select_offers_the_cases_one_may_link_escaped_and_keeps_the_choice(
        client, case, other_case, both):
    other_case.title = "Krasnodar <desertion> & more"
    other_case.save(update_fields=["title"])
    client.force_login(both)
    page = client.get(reverse("cases:case_links", args=[case.slug])).content.decode()
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', page)
    assert options == [("", " selected", "---------"),
                       (str(other_case.pk), "", "Krasnodar &lt;desertion&gt; &amp; more")]
    # A refused note (too long) comes back with the case still chosen.
    response = client.post(reverse("cases:case_link_add", args=[case.slug]),
                           {"to_case": other_case.pk, "note": "x" * 10_000})
    assert response.status_code == 400
    assert f'<option value="{other_case.pk}" selected>' in response.content.decode()
    assert not CaseLink.objects.exists()


def test_remove_case_link_by_reporter_of_both_only(client, case, both, one_side, reads_other,
                                                   case_link):
    url = reverse("cases:case_link_delete", args=[case.slug])
    for refused in (one_side, reads_other):
        client.force_login(refused)
        response = client.post(url, {"link": case_link.pk}, follow=True)
        assert CaseLink.objects.filter(pk=case_link.pk).exists(), refused
    # The one who only reads the other case is told why; the other is told nothing more
    # than of a link that does not exist.
    client.force_login(both)
    response = client.post(url, {"link": case_link.pk}, follow=True)
    assert not CaseLink.objects.exists()
    assert "The link was removed." in response.content.decode()
    assert CaseLink.history.filter(history_type="-").get().history_user == both


# --- the pages: an incident's links ------------------------------------------------------

def test_incident_links_shown_from_both_sides(client, case, other_case, both, incidents):
    linking.link_incidents(incidents["here_later"], incidents["here"], actor=both,
                           kind=IncidentLinkKind.FOLLOW_UP)
    client.force_login(both)
    later = client.get(reverse("cases:incident_links", args=[case.slug,
                                                           incidents["here_later"].pk]))
    earlier = client.get(reverse("cases:incident_links", args=[case.slug,
                                                             incidents["here"].pk]))
    assert "Follows up" in later.content.decode()
    assert "Followed up by" in earlier.content.decode()
    assert "Ten men fled" in later.content.decode()


def test_reporter_links_an_incident_of_another_case_by_number(client, case, other_case, both,
                                                             incidents):
    client.force_login(both)
    here = incidents["here"]
    response = client.post(reverse("cases:incident_link_add", args=[case.slug, here.pk]),
                           {"to_incident": incidents["there"].pk, "kind": "same_event",
                            "note": "Same night."})
    assert response.status_code == 302
    link = IncidentLink.objects.get()
    assert (link.from_incident, link.to_incident, link.kind) == (
        here, incidents["there"], IncidentLinkKind.SAME_EVENT)
    there = client.get(reverse("cases:incident_links",
                               args=[other_case.slug, incidents["there"].pk])).content.decode()
    assert "Ten men fled the training ground" in there and "Same event" in there


def test_incident_link_refused_with_codes_on_the_page(client, case, one_side, incidents):
    client.force_login(one_side)
    here = incidents["here"]
    url = reverse("cases:incident_link_add", args=[case.slug, here.pk])
    for target, field, code in [
        (incidents["there"].pk, "to_incident", linking.LINK_TARGET_NOT_FOUND),
        (999_999, "to_incident", linking.LINK_TARGET_NOT_FOUND),
        (here.pk, "to_incident", linking.LINK_TO_ITSELF),
    ]:
        response = client.post(url, {"to_incident": target, "kind": "related"})
        assert response.status_code == 400
        assert codes_of(response.context["link_form"], field) == [code]
    response = client.post(url, {"to_incident": incidents["here_later"].pk, "kind": "cousin"})
    assert codes_of(response.context["link_form"], "kind") == ["invalid_choice"]
    assert not IncidentLink.objects.exists()


def test_incident_links_outsider_404_viewer_reads(client, case, viewer, outsider, incidents,
                                                  incident_link):
    here = incidents["here"]
    page = reverse("cases:incident_links", args=[case.slug, here.pk])
    add = reverse("cases:incident_link_add", args=[case.slug, here.pk])
    delete = reverse("cases:incident_link_delete", args=[case.slug, here.pk])
    client.force_login(outsider)
    assert [client.get(page).status_code, client.post(add).status_code,
            client.post(delete).status_code] == [404, 404, 404]
    client.force_login(viewer)
    response = client.get(page)
    assert response.status_code == 200 and response.context["link_form"] is None
    assert client.post(delete, {"link": incident_link.pk}).status_code == 404
    assert IncidentLink.objects.filter(pk=incident_link.pk).exists()


def test_incident_of_another_case_in_the_address_is_404(client, case, both, incidents):
    client.force_login(both)
    url = reverse("cases:incident_links", args=[case.slug, incidents["there"].pk])
    assert client.get(url).status_code == 404


def test_timeline_links_to_each_incidents_links_page(client, case, both, incidents,
                                                     incident_link):
    client.force_login(both)
    content = client.get(reverse("cases:timeline", args=[case.slug])).content.decode()
    assert reverse("cases:incident_links", args=[case.slug, incidents["here"].pk]) in content
    # The entries are cached per case and role: the link's other side is not in them.
    assert OTHER_INCIDENT_TITLE not in content


def test_remove_incident_link(client, case, both, one_side, incidents, incident_link):
    url = reverse("cases:incident_link_delete", args=[case.slug, incidents["here"].pk])
    client.force_login(one_side)
    client.post(url, {"link": incident_link.pk})
    assert IncidentLink.objects.exists()
    client.force_login(both)
    assert client.post(url, {"link": incident_link.pk}).status_code == 302
    assert not IncidentLink.objects.exists()


# --- query counts ---------------------------------------------------------------------------

def _many_case_links(case, user, count):
    for number in range(count):
        other = CaseFactory(title=f"Linked case {number}")
        MembershipFactory(case=other, user=user, role=Role.REPORTER)
        linking.link_cases(case, other, actor=user, note=f"note {number}")


def _many_incident_links(incident, user, count):
    for number in range(count):
        other = CaseFactory(title=f"Linked case {number}")
        MembershipFactory(case=other, user=user, role=Role.REPORTER)
        linking.link_incidents(incident, IncidentFactory(case=other, title=f"inc {number}"),
                               actor=user)


# The overview's queries in this world, its linked cases one of them. The linked cases page:
# the session, the user, the membership with its case, the links, the cases offered to link.
# An incident's links page: the session, the user, the membership, the incident, its links.
OVERVIEW_QUERIES = 11
CASE_LINKS_QUERIES = 5
INCIDENT_LINKS_QUERIES = 5


@pytest.mark.parametrize("count", [1, 6])
def test_overview_query_count_with_links(client, case, both, django_assert_num_queries,
                                         count):
    _many_case_links(case, both, count)
    client.force_login(both)
    content = measured_get(client, reverse("cases:case_overview", args=[case.slug]),
                           django_assert_num_queries, OVERVIEW_QUERIES).content.decode()
    assert content.count("Linked case ") == count


@pytest.mark.parametrize("count", [1, 6])
def test_linked_cases_page_query_count(client, case, both, django_assert_num_queries, count):
    _many_case_links(case, both, count)
    client.force_login(both)
    content = measured_get(client, reverse("cases:case_links", args=[case.slug]),
                           django_assert_num_queries, CASE_LINKS_QUERIES).content.decode()
    assert content.count("Remove link") == count


@pytest.mark.parametrize("count", [1, 6])
def test_incident_links_page_query_count(client, case, both, incidents,
                                         django_assert_num_queries, count):
    _many_incident_links(incidents["here"], both, count)
    client.force_login(both)
    url = reverse("cases:incident_links", args=[case.slug, incidents["here"].pk])
    content = measured_get(client, url, django_assert_num_queries,
                           INCIDENT_LINKS_QUERIES).content.decode()
    assert content.count("Remove link") == count


TIMELINE_QUERIES = 7


@pytest.mark.parametrize("count", [1, 6])
def test_timeline_query_count_does_not_grow_with_links(client, case, both, incidents,
                                                       django_assert_num_queries, count):
    _many_incident_links(incidents["here"], both, count)
    client.force_login(both)
    measured_get(client, reverse("cases:timeline", args=[case.slug]), django_assert_num_queries,
                 TIMELINE_QUERIES)


# --- the API ---------------------------------------------------------------------------------

def test_api_case_links_scoped_to_members_of_both(case, other_case, both, one_side,
                                                  case_link):
    listed = api_for(both).get("/api/v1/case-links/").json()
    assert [(r["from_case"], r["to_case"], r["note"]) for r in listed["results"]] == [
        (case.pk, other_case.pk, "Same unit, same week.")]
    api = api_for(one_side)
    assert api.get("/api/v1/case-links/").json()["results"] == []
    assert api.get(f"/api/v1/case-links/{case_link.pk}/").status_code == 404
    assert api.get(f"/api/v1/case-links/?case={case.pk}").json()["results"] == []


def test_api_creates_an_incident_link_and_refuses_with_codes(case, both, one_side,
                                                             reads_other, incidents):
    here, there = incidents["here"], incidents["there"]
    body = {"from_incident": here.pk, "to_incident": there.pk, "kind": "follow_up",
            "note": "Next day."}
    response = api_for(one_side).post("/api/v1/incident-links/", body, format="json")
    assert response.status_code == 400
    assert response.json()["to_incident"][0].startswith("Invalid pk")  # no such record
    response = api_for(both).post("/api/v1/incident-links/", {**body, "related_cases": [1]},
                                  format="json")
    assert response.status_code == 400 and "related_cases" in response.json()
    assert not IncidentLink.objects.exists()
    response = api_for(both).post("/api/v1/incident-links/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "follow_up" and response["ETag"]
    again = api_for(both).post("/api/v1/incident-links/", {**body, "from_incident": there.pk,
                                                           "to_incident": here.pk},
                               format="json")
    assert again.status_code == 400
    assert again.json()["to_incident"] == [str(linking.MESSAGES[linking.LINK_EXISTS])]
    listed = api_for(both).get(f"/api/v1/incident-links/?incident={there.pk}").json()
    assert [r["id"] for r in listed["results"]] == [IncidentLink.objects.get().pk]


def test_api_refuses_a_link_where_one_only_reads_with_403(case, other_case, reads_other):
    response = api_for(reads_other).post(
        "/api/v1/case-links/", {"from_case": case.pk, "to_case": other_case.pk},
        format="json")
    assert response.status_code == 403
    assert response.json()["code"] == linking.LINK_NOT_ALLOWED
    assert not CaseLink.objects.exists()


def test_api_unknown_field_is_refused_not_dropped(case, other_case, both):
    response = api_for(both).post("/api/v1/case-links/", {
        "from_case": case.pk, "to_case": other_case.pk, "kind": "related"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()
    assert not CaseLink.objects.exists()


def test_api_delete_needs_if_match_and_both_sides(case_link, both, reads_other):
    url = f"/api/v1/case-links/{case_link.pk}/"
    api = api_for(both)
    assert api.delete(url).status_code == 428
    etag = api.get(url)["ETag"]
    assert api_for(reads_other).delete(url, HTTP_IF_MATCH=etag).status_code == 403
    assert api.delete(url, HTTP_IF_MATCH=etag).status_code == 204
    assert not CaseLink.objects.exists()


# --- export and import ----------------------------------------------------------------------

def _exported(case, user=None) -> dict:
    return json.loads("".join(exports.case_json(case, user)))


def test_json_export_carries_links_the_exporter_may_see(case, both, one_side, incidents,
                                                        case_link, incident_link):
    linking.link_incidents(incidents["here_later"], incidents["here"], actor=both,
                           kind=IncidentLinkKind.FOLLOW_UP, note="Later.")
    document = _exported(case, both)
    assert document["incident_links"] == [
        {"from": f"incident-{incidents['here_later'].pk}",
         "to": f"incident-{incidents['here'].pk}", "kind": "follow_up", "note": "Later."}]
    elsewhere = document["links_to_other_cases"]
    assert [(e["link"], e["other_case"]["title"]) for e in elsewhere] == [
        ("case", OTHER_TITLE), ("incident", OTHER_TITLE)]
    assert elsewhere[1]["other_incident"]["title"] == OTHER_INCIDENT_TITLE
    for hidden in (_exported(case, one_side), _exported(case)):
        assert hidden["links_to_other_cases"] == []
        text = json.dumps(hidden)
        assert OTHER_TITLE not in text and OTHER_INCIDENT_TITLE not in text
        assert len(hidden["incident_links"]) == 1


def test_json_import_recreates_links_within_the_case_only(case, both, editor, incidents,
                                                          case_link, incident_link):
    linking.link_incidents(incidents["here_later"], incidents["here"], actor=both,
                           kind=IncidentLinkKind.FOLLOW_UP, note="Later.")
    body = "".join(exports.case_json(case, both)).encode()
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(body)
    assert report.ok, report.error_rows
    assert any("not imported" in note for note in report.notes)
    [link] = IncidentLink.objects.filter(from_incident__case=empty)
    assert (link.from_incident.title, link.to_incident.title, link.kind, link.note) == (
        "Six of them were caught", "Ten men fled the training ground", "follow_up", "Later.")
    assert link.history.get().history_user == editor
    assert not CaseLink.objects.filter(from_case=empty).exists()
    assert not IncidentLink.objects.filter(to_incident__case=empty).exclude(
        from_incident__case=empty).exists()


def test_json_import_refuses_a_bad_incident_link(case, editor, incidents):
    document = _exported(case)
    ref = f"incident-{incidents['here'].pk}"
    document["incident_links"] = [{"from": ref, "to": ref, "kind": "related"},
                                  {"from": ref, "to": "incident-0", "kind": "related"},
                                  {"from": ref, "to": f"incident-{incidents['here_later'].pk}",
                                   "kind": "cousin"}]
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())
    assert not report.ok
    codes = [e.code for row in report.error_rows for e in row.errors]
    assert codes == ["link_to_itself", "unknown_reference", "invalid_choice"]
    assert not IncidentLink.objects.exists() or not IncidentLink.objects.filter(
        from_incident__case=empty).exists()


# --- the back office -------------------------------------------------------------------------

def test_admin_lists_a_link_to_staff_of_both_sides_only(make_staff, case_link, both, one_side):
    from .clients import TwoFactorClient

    client = TwoFactorClient()
    changelist = reverse("admin:cases_caselink_changelist")
    history = reverse("admin:cases_caselink_history", args=[case_link.pk])
    client.force_login(make_staff(both))
    assert OTHER_TITLE in client.get(changelist).content.decode()
    assert client.get(history).status_code == 200
    client.force_login(make_staff(one_side))
    response = client.get(changelist)
    assert response.status_code == 200 and OTHER_TITLE not in response.content.decode()
    assert client.get(history).status_code == 404
    assert client.get(reverse("admin:cases_caselink_change",
                              args=[case_link.pk])).status_code in (302, 404)


@pytest.mark.parametrize("value", ["99999999999999999999999", "1.5", "-1", "\x00", "abc", ""])
def test_hostile_ids_are_refused_not_a_500(client, case, both, incidents, value):
    client.force_login(both)
    url = reverse("cases:incident_link_add", args=[case.slug, incidents["here"].pk])
    response = client.post(url, {"to_incident": value, "kind": "related", "note": "x\x00"})
    assert response.status_code == 400
    assert codes_of(response.context["link_form"], "to_incident") in (
        [linking.LINK_TARGET_NOT_FOUND], ["required"])
    response = client.post(reverse("cases:case_link_add", args=[case.slug]), {"to_case": value})
    assert response.status_code == 400
    response = client.post(reverse("cases:case_link_delete", args=[case.slug]), {"link": value},
                           follow=True)
    assert "There is no such record" in response.content.decode() or value == ""
    assert not CaseLink.objects.exists() and not IncidentLink.objects.exists()


def test_api_options_on_a_link_answers_without_locking(case_link, incident_link, both):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_for(both)
    for url in (f"/api/v1/case-links/{case_link.pk}/",
                f"/api/v1/incident-links/{incident_link.pk}/"):
        with CaptureQueriesContext(connection) as queries:
            response = api.options(url)
        assert response.status_code == 200 and response.json()["name"]
        assert not [q for q in queries if "FOR UPDATE" in q["sql"]], url
