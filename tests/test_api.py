"""The REST API (/api/v1/): per-case access, the models' validation, the workflow as the only
way to a status, history with the acting user, protected sources, tokens and sessions,
pagination, filters, query counts and the docs page."""

import datetime as dt
import json
import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiToken, digest_of
from cases import workflow
from cases.enums import CitationRelation, Role, VerificationEventKind, VerificationStatus
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Incident,
    Membership,
    Source,
    Task,
    VerificationEvent,
)

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
    api_key_for,
)
from .test_http_security import assert_no_inline_code, parse_csp

pytestmark = pytest.mark.django_db

API = "/api/v1"
R = workflow.Refusal


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return api


def version(api, url) -> dict:
    """The If-Match header naming the version of the record at `url` that `api` reads now:
    every write to an existing record needs it."""
    response = api.get(url)
    assert response.status_code == 200, response.content
    return {"HTTP_IF_MATCH": response["ETag"]}


# A change each endpoint accepts from a reporter, and the field that shows it.
CHANGES = {
    "incidents": {"title": "Ten men fled, four at large"},
    "sources": {"reliability_note": "Local site with a good record."},
    "claims": {"statement": "Ten men fled on 9 May."},
    "citations": {"quote": "Ten prisoners-turned-soldiers fled."},
    "tasks": {"title": "Archive the 161.ru original"},
    "comment-requests": {"party_name": "Southern Military District"},
}
MODELS = {"incidents": Incident, "sources": Source, "claims": Claim, "citations": Citation,
          "tasks": Task, "comment-requests": CommentRequest}


# --- authentication --------------------------------------------------------------------------

def test_api_without_credentials_answers_401_not_the_sign_in_page(world):
    response = APIClient().get(f"{API}/claims/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_api_with_a_wrong_token_answers_401(world):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api.get(f"{API}/claims/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_token_lists_only_the_cases_of_its_user(world, reporter, outsider):
    CaseFactory(title="Another newsroom story")
    response = token_client(reporter).get(f"{API}/cases/")
    assert [c["title"] for c in response.json()["results"]] == [world["cases"].title]
    assert response.json()["results"][0]["my_role"] == "reporter"
    assert token_client(outsider).get(f"{API}/cases/").json()["results"] == []


def test_session_writes_need_the_csrf_token(world, reporter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)
    url = f"{API}/claims/{world['claims'].pk}/"
    refused = client.patch(url, {"statement": "Changed"}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert Claim.objects.get(pk=world["claims"].pk).statement == "Ten men fled."

    client.get(reverse("api:docs"))  # any page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.patch(url, {"statement": "Changed"}, content_type="application/json",
                            HTTP_X_CSRFTOKEN=token, HTTP_IF_MATCH=client.get(url)["ETag"])
    assert accepted.status_code == 200, accepted.content
    assert Claim.objects.get(pk=world["claims"].pk).statement == "Changed"


def test_session_reads_need_no_token(client, world, viewer):
    client.force_login(viewer)
    response = client.get(f"{API}/claims/{world['claims'].pk}/")
    assert response.status_code == 200
    assert response.json()["statement"] == "Ten men fled."


# --- per-case access: outsider / viewer / reporter --------------------------------------------

@pytest.mark.parametrize("kind", list(MODELS))
def test_another_cases_record_is_404_for_a_non_member(world, outsider, kind):
    api = token_client(outsider)
    url = f"{API}/{kind}/{world[kind].pk}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, CHANGES[kind], format="json").status_code == 404
    assert api.get(f"{API}/{kind}/").json()["results"] == []
    assert api.get(f"{API}/cases/{world['cases'].pk}/").status_code == 404


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_viewer_reads_but_cannot_change(world, viewer, kind):
    api = token_client(viewer)
    url = f"{API}/{kind}/{world[kind].pk}/"
    assert api.get(url).json()["id"] == world[kind].pk
    response = api.patch(url, CHANGES[kind], format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "Viewers can read this case but not change it."}
    field, value = next(iter(CHANGES[kind].items()))
    assert getattr(MODELS[kind].objects.get(pk=world[kind].pk), field) != value


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_reporter_changes_a_record_and_history_names_them(world, reporter, kind):
    api, url = token_client(reporter), f"{API}/{kind}/{world[kind].pk}/"
    response = api.patch(url, CHANGES[kind], format="json", **version(api, url))
    assert response.status_code == 200, response.content
    field, value = next(iter(CHANGES[kind].items()))
    assert response.json()[field] == value
    record = MODELS[kind].objects.get(pk=world[kind].pk)
    assert getattr(record, field) == value
    latest = record.history.latest()
    assert latest.history_type == "~"
    assert latest.history_user == reporter  # token auth: DRF set the user on the request


def test_a_case_is_changed_by_its_editors_only(world, reporter, editor):
    url = f"{API}/cases/{world['cases'].pk}/"
    refused = token_client(reporter).patch(url, {"summary": "New"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only an editor of this case can change this."}
    api = token_client(editor)
    accepted = api.patch(url, {"summary": "  New summary  "}, format="json", **version(api, url))
    assert accepted.status_code == 200
    case = Case.objects.get(pk=world["cases"].pk)
    assert case.summary == "New summary"
    assert case.history.latest().history_user == editor


def test_opening_a_case_makes_you_its_editor(desk_editor):
    response = token_client(desk_editor).post(f"{API}/cases/",
                                              {"title": "  Arrests in  Bryansk "}, format="json")
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.title == "Arrests in Bryansk"
    assert re.fullmatch(r"arrests-in-bryansk-[a-z2-9]{5}", case.slug)
    assert response.json()["my_role"] == "editor"
    membership = Membership.objects.get(case=case)
    assert (membership.user, membership.role) == (desk_editor, Role.EDITOR)
    assert case.history.get().history_user == desk_editor
    assert membership.history.get().history_user == desk_editor


def test_a_viewer_cannot_create_records_in_the_case(world, viewer):
    response = token_client(viewer).post(
        f"{API}/incidents/", {"case": world["cases"].pk, "title": "x", "occurred": "2025-05"},
        format="json")
    assert response.status_code == 403
    assert Incident.objects.count() == 1


def test_creating_in_a_case_you_are_not_in_is_refused_like_a_missing_case(world, outsider):
    response = token_client(outsider).post(
        f"{API}/incidents/", {"case": world["cases"].pk, "title": "x", "occurred": "2025-05"},
        format="json")
    assert response.status_code == 400
    missing = token_client(outsider).post(
        f"{API}/incidents/", {"case": 987654, "title": "x", "occurred": "2025-05"},
        format="json")
    assert response.json()["case"] == [m.replace("987654", str(world["cases"].pk))
                                       for m in missing.json()["case"]]
    assert Incident.objects.count() == 1


# --- validation: the models' own rules ----------------------------------------------------------

def test_an_incident_is_created_with_the_models_normalised_date(world, reporter):
    response = token_client(reporter).post(f"{API}/incidents/", {
        "case": world["cases"].pk, "title": " Manhunt  in Rostov ", "occurred": "~2025-05-09",
        "involved": 10, "detained": 6, "at_large": 4, "type": None,
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Manhunt in Rostov"
    assert body["occurred"] == "2025-05-09~"
    assert body["occurred_earliest"] == "2025-05-09"
    incident = Incident.objects.get(pk=body["id"])
    assert incident.created_by == reporter
    assert incident.history.get().history_user == reporter
    assert body["created_by"] == "reporter"


def test_invalid_input_is_refused_beside_its_field_and_changes_nothing(world, reporter):
    api = token_client(reporter)
    response = api.post(f"{API}/incidents/", {
        "case": world["cases"].pk, "title": "Counts", "occurred": "next spring",
        "involved": 3, "detained": 2, "at_large": 2, "latitude": "47.2",
    }, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"occurred", "involved", "longitude", "geo_precision", "codes"}
    assert set(errors["codes"]) == set(errors) - {"codes"}
    assert "more than the 3 people involved" in errors["involved"][0]
    assert errors["longitude"] == ["Give both latitude and longitude, or neither."]
    assert Incident.objects.count() == 1


def test_a_duplicate_source_name_is_refused(world, reporter):
    response = token_client(reporter).post(
        f"{API}/sources/", {"case": world["cases"].pk, "name": " 161.ru "}, format="json")
    assert response.status_code == 400
    assert "already exists" in json.dumps(response.json())
    assert Source.objects.count() == 1


def test_a_citation_cannot_cite_a_source_of_another_case(world, reporter, make_member):
    other_case = CaseFactory(title="Other")
    MembershipFactory(case=other_case, user=reporter, role=Role.REPORTER)
    foreign = SourceFactory(case=other_case, name="Foreign source")
    response = token_client(reporter).post(f"{API}/citations/", {
        "claim": world["claims"].pk, "source": foreign.pk, "relation": "confirms",
    }, format="json")
    assert response.status_code == 400
    assert response.json() == {"source": ["This record belongs to another case."],
                               "codes": {"source": ["other_case"]}}
    assert Citation.objects.count() == 1


def test_a_task_is_assigned_to_members_only(world, reporter, outsider):
    api, url = token_client(reporter), f"{API}/tasks/{world['tasks'].pk}/"
    response = api.patch(url, {"assignee": "outsider"}, format="json", **version(api, url))
    assert response.status_code == 400
    assert response.json() == {"assignee": ["Assign the task to a member of this case."],
                               "codes": {"assignee": ["assignee_not_member"]}}


def test_a_record_stays_in_its_case(world, reporter):
    other_case = CaseFactory(title="Other")
    MembershipFactory(case=other_case, user=reporter, role=Role.EDITOR)
    api, url = token_client(reporter), f"{API}/claims/{world['claims'].pk}/"
    response = api.patch(url, {"case": other_case.pk}, format="json", **version(api, url))
    assert response.status_code == 400
    assert response.json() == {"case": ["A record stays in its case."],
                               "codes": {"case": ["case_fixed"]}}
    assert Claim.objects.get(pk=world["claims"].pk).case == world["cases"]


def test_a_new_request_for_comment_is_asked_by_you(world, reporter):
    response = token_client(reporter).post(f"{API}/comment-requests/", {
        "case": world["cases"].pk, "party_name": "Defence Ministry", "channel": "email",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["asked_by"] == "reporter"
    assert CommentRequest.objects.get(pk=response.json()["id"]).asked_by == reporter


def test_citations_can_be_removed_by_reporters_with_history(world, reporter, viewer):
    url = f"{API}/citations/{world['citations'].pk}/"
    assert token_client(viewer).delete(url).status_code == 403
    api = token_client(reporter)
    assert api.delete(url, **version(api, url)).status_code == 204
    assert not Citation.objects.exists()
    deleted = Citation.history.get(history_type="-")
    assert deleted.history_user == reporter


def test_other_records_cannot_be_deleted_through_the_api(world, editor):
    response = token_client(editor).delete(f"{API}/claims/{world['claims'].pk}/")
    assert response.status_code == 405
    assert Claim.objects.filter(pk=world["claims"].pk).exists()


# --- the workflow ---------------------------------------------------------------------------------

def test_the_status_is_read_only_outside_the_workflow(world, editor):
    claim = world["claims"]
    api, url = token_client(editor), f"{API}/claims/{claim.pk}/"
    response = api.patch(url, {"status": "confirmed", "proposed_verdict": "false"},
                         format="json", **version(api, url))
    assert response.status_code == 200
    assert response.json()["status"] == "unverified"
    claim.refresh_from_db()
    assert (claim.status, claim.proposed_verdict) == ("unverified", "")
    assert not VerificationEvent.objects.exists()


def test_a_transition_goes_through_the_workflow(world, reporter):
    claim = world["claims"]
    api, url = token_client(reporter), f"{API}/claims/{claim.pk}/"
    response = api.post(f"{url}transition/", {"to_status": "in_review"}, format="json",
                        **version(api, url))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_review"
    event = VerificationEvent.objects.get()
    assert (event.from_status, event.to_status, event.actor) == ("unverified", "in_review",
                                                                 reporter)
    assert Claim.history.filter(id=claim.pk).latest().history_user == reporter


def test_a_refused_transition_is_400_with_the_workflows_reasons(world, reporter, editor,
                                                                viewer, outsider):
    claim_url = f"{API}/claims/{world['claims'].pk}/"
    url = f"{claim_url}transition/"

    def move(user, data):
        api = token_client(user)
        return api.post(url, data, format="json", **version(api, claim_url))

    def refusal(response) -> list[str]:
        """The codes of a refused move, one for each reason given."""
        assert response.status_code == 400
        body = response.json()
        assert set(body) == {"non_field_errors", "codes"}
        assert len(body["non_field_errors"]) == len(body["codes"])
        return body["codes"]

    assert refusal(move(reporter, {"to_status": "confirmed"})) == [
        R.VERDICT_NEEDS_EDITOR]
    assert refusal(move(editor, {"to_status": "confirmed"})) == [
        R.RATIONALE_REQUIRED, R.INDEPENDENT_SOURCES_REQUIRED]
    assert refusal(move(viewer, {"to_status": "in_review"})) == [R.ROLE_TOO_LOW]
    assert token_client(outsider).post(url, {"to_status": "in_review"},
                                       format="json").status_code == 404
    unknown = move(editor, {"to_status": "published"})
    assert unknown.status_code == 400
    assert unknown.data["to_status"][0].code == "invalid_choice"
    assert unknown.json()["codes"] == ["invalid_choice"]
    assert Claim.objects.get(pk=world["claims"].pk).status == VerificationStatus.UNVERIFIED
    assert not VerificationEvent.objects.exists()


def test_four_eyes_holds_through_the_api(world, editor, second_editor):
    claim = world["claims"]
    CitationFactory(claim=claim, source=SourceFactory(case=claim.case, name="Insider"),
                    relation=CitationRelation.CONFIRMS)
    url = f"{API}/claims/{claim.pk}/"
    by_editor, by_second = token_client(editor), token_client(second_editor)
    proposed = by_editor.post(f"{url}propose/", {"verdict": "confirmed", "note": "Two outlets."},
                              format="json", **version(by_editor, url))
    assert proposed.status_code == 200
    assert proposed.json()["proposed_verdict"] == "confirmed"
    assert proposed.json()["proposed_by"] == "editor"
    own = by_editor.post(f"{url}transition/", {"to_status": "confirmed", "note": "Mine."},
                         format="json", **version(by_editor, url))
    assert own.status_code == 400
    assert own.json()["codes"] == [R.FOUR_EYES]
    decided = by_second.post(f"{url}transition/",
                             {"to_status": "confirmed", "note": "Independent."}, format="json",
                             **version(by_second, url))
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "confirmed"
    events = token_client(second_editor).get(f"{url}events/").json()
    assert [(e["kind"], e["actor"]) for e in events] == [
        (VerificationEventKind.PROPOSAL, "editor"), (VerificationEventKind.TRANSITION,
                                                     "second_editor")]


def test_a_viewer_cannot_propose(world, viewer):
    api, url = token_client(viewer), f"{API}/claims/{world['claims'].pk}/"
    response = api.post(f"{url}propose/", {"verdict": "false", "note": "No."}, format="json",
                        **version(api, url))
    assert response.status_code == 400
    assert response.json()["codes"] == [R.ROLE_TOO_LOW]
    assert len(response.json()["non_field_errors"]) == 1
    assert Claim.objects.get(pk=world["claims"].pk).proposed_verdict == ""


# --- protected sources ---------------------------------------------------------------------

@pytest.fixture
def protected(case, reporter):
    tag = uuid.uuid4().hex
    source = SourceFactory(case=case, name="Investigators-R", protected=True,
                           url=f"https://t.me/{tag}")
    identity = source.identity  # made as the source was saved: its address is in it
    identity.real_name, identity.contact = f"Realname {tag}", f"Signal {tag}"
    identity.private_notes = f"Notes {tag}"
    identity.save()
    claim = ClaimFactory(case=case, created_by=reporter)
    CitationFactory(claim=claim, source=source)
    CommentRequestFactory(case=case, party_source=source, party_name="")
    return source, identity, tag


def _every_response(api, case, protected_source):
    for kind in ["cases", *MODELS]:
        yield api.get(f"{API}/{kind}/")
    yield api.get(f"{API}/sources/{protected_source.pk}/")
    yield api.get(f"{API}/sources/?protected=true")
    for claim in Claim.objects.of_case(case):
        yield api.get(f"{API}/claims/{claim.pk}/events/")


def test_protected_identities_never_appear_in_the_api(world, protected, make_member):
    source, identity, tag = protected
    handler = make_member(Role.EDITOR, username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    for user in (handler, Membership.objects.get(role=Role.REPORTER).user):
        for response in _every_response(token_client(user), source.case, source):
            assert response.status_code == 200
            body = response.content.decode()
            for secret in (identity.real_name, identity.contact, identity.private_notes,
                           identity.address):
                assert secret not in body
    assert "Investigators-R" in token_client(handler).get(f"{API}/sources/").content.decode()


def test_a_protected_sources_address_is_for_its_handlers_only(world, protected, reporter,
                                                             make_member):
    source, _, tag = protected
    seen = token_client(reporter).get(f"{API}/sources/{source.pk}/").json()
    assert (seen["name"], seen["url"], seen["url_withheld"]) == ("Investigators-R", "", True)
    # The address is part of the identity, which the API never gives, handlers included.
    handler = make_member(Role.REPORTER, username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    shown = token_client(handler).get(f"{API}/sources/{source.pk}/").json()
    assert (shown["url"], shown["url_withheld"]) == ("", True)
    assert tag not in token_client(handler).get(f"{API}/sources/").content.decode()


def test_only_handlers_change_a_protected_sources_address_or_protection(world, protected,
                                                                       reporter):
    source, _, tag = protected
    api = token_client(reporter)
    url = f"{API}/sources/{source.pk}/"
    for change in ({"url": "https://example.org/"}, {"protected": False}):
        response = api.patch(url, change, format="json", **version(api, url))
        assert response.status_code == 400
        body = response.json()
        assert [value for key, value in body.items() if key != "codes"] == [[
            "Only this case's source handlers can change a protected source's address or lift "
            "its protection."]]
        assert list(body["codes"].values()) == [["protected_address"]]
    # Sending back what was read (withheld address, still protected) keeps the address.
    read = api.get(url).json()
    response = api.put(url, {**read, "reliability": "C"}, format="json", **version(api, url))
    assert response.status_code == 200, response.content
    source.refresh_from_db()
    assert (source.reliability, source.url, source.protected) == ("C", "", True)
    assert source.identity.address == f"https://t.me/{tag}"


# --- lost updates --------------------------------------------------------------------------

def test_a_stale_if_match_is_refused_naming_who_changed_what(world, reporter, editor):
    url = f"{API}/claims/{world['claims'].pk}/"
    etag = token_client(reporter).get(url)["ETag"]
    first = token_client(editor).patch(url, {"statement": "Editor's wording."}, format="json",
                                       HTTP_IF_MATCH=etag)
    assert first.status_code == 200
    assert first["ETag"] != etag
    stale = token_client(reporter).patch(url, {"statement": "Reporter's wording."},
                                         format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["detail"].startswith("editor changed statement of this claim")
    assert Claim.objects.get(pk=world["claims"].pk).statement == "Editor's wording."


# --- lists: pagination, filters, query counts ----------------------------------------------------

def test_page_size_is_bounded(world, reporter, settings):
    settings.API_MAX_PAGE_SIZE = 3
    for _ in range(5):
        TaskFactory(case=world["cases"])
    body = token_client(reporter).get(f"{API}/tasks/?page_size=1000").json()
    assert body["count"] == 6
    assert len(body["results"]) == 3
    assert body["next"].endswith("page=2&page_size=1000")


def test_filters_narrow_lists_and_refuse_other_cases(world, reporter):
    ClaimFactory(case=world["cases"], statement="Another claim")
    api = token_client(reporter)
    workflow.transition(world["claims"], "in_review", actor=reporter)
    body = api.get(f"{API}/claims/?status=in_review").json()
    assert [c["id"] for c in body["results"]] == [world["claims"].pk]
    foreign = CaseFactory(title="Not mine")
    refused = api.get(f"{API}/claims/?case={foreign.pk}")
    assert refused.status_code == 400
    assert "case" in refused.json()
    assert api.get(f"{API}/claims/?case_slug={foreign.slug}").json()["results"] == []


def _grow(case, reporter, n):
    incident_type = None
    for i in range(n):
        incident = IncidentFactory(case=case, type=incident_type, created_by=reporter)
        source = SourceFactory(case=case, created_by=reporter)
        claim = ClaimFactory(case=case, incident=incident, created_by=reporter,
                             proposed_by=None)
        relays = [SourceFactory(case=case, created_by=reporter)] if i % 2 else []
        CitationFactory(claim=claim, source=source, relays=relays, created_by=reporter)
        TaskFactory(case=case, assignee=reporter, created_by=reporter)
        CommentRequestFactory(case=case, party_source=source, party_name="",
                              asked_by=reporter, created_by=reporter)


@pytest.mark.parametrize("kind", ["cases", *MODELS])
def test_list_query_counts_do_not_grow_with_rows(world, reporter, kind,
                                                 django_assert_max_num_queries):
    api = token_client(reporter)
    # Token, memberships, count, page: four queries, at one row and at many (citations also
    # read their relays, in one more).
    most = 5 if kind == "citations" else 4
    with django_assert_max_num_queries(most):
        small = api.get(f"{API}/{kind}/")
    assert small.status_code == 200
    _grow(world["cases"], reporter, 30)
    for _ in range(5):
        MembershipFactory(case=CaseFactory(), user=reporter)
    with django_assert_max_num_queries(most):
        large = api.get(f"{API}/{kind}/?page_size=100")
    assert large.json()["count"] > small.json()["count"]


# --- schema and documentation ------------------------------------------------------------------

def test_the_schema_needs_credentials_and_describes_the_workflow(world, reporter):
    assert APIClient().get("/api/schema/").status_code == 401
    response = token_client(reporter).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/claims/{id}/transition/" in schema["paths"]
    claim = schema["components"]["schemas"]["Claim"]["properties"]
    assert claim["status"]["readOnly"] is True
    assert "status" not in schema["components"]["schemas"]["ClaimRequest"]["properties"]
    assert not any("identity" in name.lower() or "real_name" in json.dumps(body)
                   for name, body in schema["components"]["schemas"].items())


def test_the_docs_page_loads_vendored_swagger_ui_without_inline_code(client, reporter):
    anonymous = client.get(reverse("api:docs"))
    assert anonymous.status_code == 302
    client.force_login(reporter)
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_inline_code(html, "api docs")
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in html
    assert "/static/api/docs.js" in html
    assert 'data-schema-url="/api/schema/?format=json"' in html
    csp = parse_csp(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]


# --- tokens in the admin ---------------------------------------------------------------------

def test_tokens_are_scoped_in_the_admin_and_revoked_by_deleting(client, reporter, world):
    staff = UserFactory(username="deskstaff", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="api"))
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    reporter_key = api_key_for(reporter, created_by=superuser)
    staff_key = api_key_for(staff, created_by=superuser)
    reporter_token = ApiToken.objects.get(user=reporter)
    changelist = reverse("admin:api_apitoken_changelist")

    client.force_login(staff)
    page = client.get(changelist).content.decode()
    assert "deskstaff" in page and "reporter" not in page
    assert staff_key not in page and reporter_key[:8] not in page
    assert client.post(reverse("admin:api_apitoken_delete", args=[reporter_token.pk]),
                       {"post": "yes"}).status_code in (302, 404)
    assert ApiToken.objects.filter(user=reporter).exists()

    client.force_login(superuser)
    page = client.get(changelist).content.decode()
    assert "deskstaff" in page and "reporter" in page
    assert reporter_key not in page and f"{reporter_key[:8]}…" in page
    client.post(reverse("admin:api_apitoken_delete", args=[reporter_token.pk]),
                {"post": "yes"})
    assert not ApiToken.objects.filter(user=reporter).exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {reporter_key}")
    assert api.get(f"{API}/cases/").status_code == 401


def test_an_admin_sees_a_new_token_once(client, reporter):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    response = client.post(reverse("admin:api_apitoken_add"), {"user": reporter.pk},
                           follow=True)
    token = ApiToken.objects.get(user=reporter)
    key = re.search(r"API token for reporter: ([0-9a-f]{64})", response.content.decode())[1]
    assert token.digest == digest_of(key) and key != token.digest
    assert key not in client.get(reverse("admin:api_apitoken_changelist")).content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(f"{API}/cases/").status_code == 200


def test_dates_and_times_are_timezone_aware_iso(world, reporter):
    body = token_client(reporter).get(f"{API}/citations/{world['citations'].pk}/").json()
    published = dt.datetime.fromisoformat(body["published_at"])
    assert published.tzinfo is not None
    assert body["source_name"] == "161.ru"
    assert body["case"] == world["cases"].pk


def test_date_filters_take_any_offset_and_refuse_out_of_range(world, reporter):
    # Found by schemathesis on PostgreSQL, which takes UTC offsets up to 16 hours only.
    api = token_client(reporter)
    response = api.get(f"{API}/comment-requests/?updated_before=2482-04-15T01:36:43-21:36")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [world["comment-requests"].pk]
    refused = api.get(f"{API}/comment-requests/?updated_after=0001-01-01T00:00:00%2B05:00")
    assert refused.status_code == 400
    assert refused.json() == {
        "updated_after": ["Enter a date and time between 2 January of the year 1 and 30 "
                          "December 9999 (UTC)."],
        "codes": {"updated_after": ["datetime_out_of_range"]}}
