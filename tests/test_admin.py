"""The Django admin as the newsroom's back office: every model, per-case scoping, the claim
workflow actions, protected source identities and a fixed number of queries per changelist."""

import datetime as dt

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases import workflow
from cases.admin.pagination import VisibleCaseListFilter
from cases.concurrency import make_token
from cases.enums import Role, VerificationEventKind
from cases.enums import VerificationStatus as S
from cases.models import (
    Case,
    CaseLink,
    Citation,
    Claim,
    CommentRequest,
    CustodyEntry,
    Evidence,
    Incident,
    IncidentLink,
    IncidentType,
    Membership,
    Source,
    SourceIdentity,
    Task,
    VerificationEvent,
)
from cases.models.incident import COUNT_FIELDS, qualifier_field

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ALL_MODELS = [Case, Membership, IncidentType, Incident, Source, SourceIdentity, Claim, Citation,
              Evidence, CustodyEntry, VerificationEvent, Task, CommentRequest]
# Read-only in the back office, shown to staff on both sides of a link: tests/test_links.py.
LINK_MODELS = [CaseLink, IncidentLink]
AUDIT_LOGS = [VerificationEvent, CustodyEntry]
# Case data a non-superuser member sees in every changelist (IncidentType is newsroom-wide;
# SourceIdentity is for source handlers only and has tests of its own).
SCOPED_MODELS = [m for m in ALL_MODELS if m not in (IncidentType, SourceIdentity)]
HISTORY_MODELS = [m for m in SCOPED_MODELS if hasattr(m, "history")]
# What a superuser who is not a source handler sees: everything but identities.
SUPERUSER_MODELS = [m for m in ALL_MODELS if m is not SourceIdentity]


def ids(models):
    return [m.__name__ for m in models]


def changelist_url(model):
    return reverse(f"admin:cases_{model._meta.model_name}_changelist")


def add_url(model):
    return reverse(f"admin:cases_{model._meta.model_name}_add")


def change_url(obj):
    return reverse(f"admin:cases_{obj._meta.model_name}_change", args=[obj.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- data ---------------------------------------------------------------------------------

def populate(case, prefix, *, member):
    """One record of every model in `case`, each labelled with `prefix` where the changelist
    shows it. `member` is a reporter of the case (author of events and custody entries)."""
    incident = IncidentFactory(case=case, title=f"{prefix}-incident",
                               type=IncidentTypeFactory(name=f"{prefix}-type"))
    source = SourceFactory(case=case, name=f"{prefix}-source")
    claim = ClaimFactory(case=case, statement=f"{prefix}-claim statement", incident=incident)
    citation = CitationFactory(
        claim=claim, source=SourceFactory(case=case, name=f"{prefix}-citation-source"),
        relays=[source])
    identity = SourceIdentity.objects.create(
        source=SourceFactory(case=case, name=f"{prefix}-codename", protected=True),
        real_name=f"{prefix}-real-name", contact="Signal only")
    evidence = EvidenceFactory(case=case, claim=claim, original_name=f"{prefix}-evidence.jpg",
                               captured_by=member)
    custody = CustodyEntry.objects.create(
        evidence=EvidenceFactory(case=case, original_name=f"{prefix}-custody-file.jpg"),
        action=CustodyEntry.Action.COLLECTED, actor=member)
    event = workflow.propose(ClaimFactory(case=case, statement=f"{prefix}-event-claim"),
                             S.CONFIRMED, actor=member, note="Two outlets agree.")
    task = TaskFactory(case=case, title=f"{prefix}-task", assignee=member, claim=claim,
                       incident=incident)
    comment = CommentRequestFactory(case=case, incident=incident, party_name=f"{prefix}-party",
                                    asked_by=member)
    return {
        Case: case, Membership: Membership.objects.get(case=case, user=member),
        IncidentType: incident.type, Incident: incident, Source: source,
        SourceIdentity: identity, Claim: claim, Citation: citation, Evidence: evidence,
        CustodyEntry: custody, VerificationEvent: event, Task: task, CommentRequest: comment,
    }


# What each changelist shows of a record populated with `prefix`.
LABELS = {
    Case: "{Prefix} desk", Membership: "{prefix}-member", IncidentType: "{prefix}-type",
    Incident: "{prefix}-incident", Source: "{prefix}-source", SourceIdentity: "{prefix}-real-name",
    Claim: "{prefix}-claim statement", Citation: "{prefix}-citation-source",
    Evidence: "{prefix}-evidence.jpg", CustodyEntry: "{prefix}-custody-file.jpg",
    VerificationEvent: "{prefix}-event-claim", Task: "{prefix}-task",
    CommentRequest: "{prefix}-party",
}


def label(model, prefix):
    return LABELS[model].format(prefix=prefix, Prefix=prefix.capitalize())


@pytest.fixture
def world(db):
    """Two cases, alpha and bravo, each with a reporter and one record of every model."""
    records = {}
    for prefix in ("alpha", "bravo"):
        case = CaseFactory(title=f"{prefix.capitalize()} desk")
        member = UserFactory(username=f"{prefix}-member")
        MembershipFactory(case=case, user=member, role=Role.REPORTER)
        records[prefix] = populate(case, prefix, member=member)
    return records


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def alpha_staff(world, make_staff):
    """An editor of the alpha case (not a source handler) with back-office permissions."""
    user = make_staff(UserFactory(username="alpha-staff"))
    MembershipFactory(case=world["alpha"][Case], user=user, role=Role.EDITOR)
    return user


# --- every model, for a superuser -------------------------------------------------------

def test_every_model_is_registered():
    assert {m for m in admin.site._registry if m._meta.app_label == "cases"} == {
        *ALL_MODELS, *LINK_MODELS}


@pytest.mark.parametrize("model", SUPERUSER_MODELS, ids=ids(SUPERUSER_MODELS))
def test_changelist_renders_every_record_for_superuser(client, superuser, world, model):
    client.force_login(superuser)
    response = client.get(changelist_url(model))
    content = response.content.decode()
    for prefix in ("alpha", "bravo"):
        assert change_url(world[prefix][model]) in content
        assert escape(label(model, prefix)) in content


@pytest.mark.parametrize("model", [m for m in SUPERUSER_MODELS if m not in AUDIT_LOGS],
                         ids=ids([m for m in SUPERUSER_MODELS if m not in AUDIT_LOGS]))
def test_add_page_renders_for_superuser(client, superuser, model):
    client.force_login(superuser)
    response = client.get(add_url(model))
    content = response.content.decode()
    assert f"Add {model._meta.verbose_name}" in content
    assert 'name="_save"' in content


@pytest.mark.parametrize("model", SUPERUSER_MODELS, ids=ids(SUPERUSER_MODELS))
def test_change_page_renders_the_record_for_superuser(client, superuser, world, model):
    client.force_login(superuser)
    obj = world["alpha"][model]
    response = client.get(change_url(obj))
    assert response.context["original"] == obj
    assert escape(str(obj)) in response.content.decode()


@pytest.mark.parametrize("model", HISTORY_MODELS, ids=ids(HISTORY_MODELS))
def test_history_page_lists_changes_for_superuser(client, superuser, world, model):
    client.force_login(superuser)
    obj = world["alpha"][model]
    response = client.get(reverse(f"admin:cases_{model._meta.model_name}_history",
                                  args=[obj.pk]))
    assert escape(str(obj)) in response.content.decode()
    assert list(response.context["page_obj"].object_list)  # at least the creation


@pytest.mark.parametrize("model", AUDIT_LOGS, ids=ids(AUDIT_LOGS))
def test_audit_log_cannot_be_added_changed_or_deleted_even_by_superuser(client, superuser,
                                                                       world, model):
    client.force_login(superuser)
    obj = world["alpha"][model]
    before = model.objects.filter(pk=obj.pk).values().get()

    assert client.get(add_url(model)).status_code == 403
    page = client.get(change_url(obj)).content.decode()
    assert 'name="_save"' not in page
    client.post(change_url(obj), {"note": "rewritten"})
    delete_url = reverse(f"admin:cases_{model._meta.model_name}_delete", args=[obj.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403

    assert model.objects.filter(pk=obj.pk).values().get() == before


# --- per-case scoping for a staff member -------------------------------------------------

@pytest.mark.parametrize("model", SCOPED_MODELS, ids=ids(SCOPED_MODELS))
def test_changelist_shows_staff_member_only_their_cases(client, world, alpha_staff, model):
    client.force_login(alpha_staff)
    content = client.get(changelist_url(model)).content.decode()
    assert escape(label(model, "alpha")) in content
    assert label(model, "bravo") not in content
    assert change_url(world["bravo"][model]) not in content
    assert "Bravo desk" not in content  # nor in the filters


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=ids(SCOPED_MODELS))
def test_change_page_of_another_case_is_missing_for_staff_member(client, world, alpha_staff,
                                                                 model):
    client.force_login(alpha_staff)
    response = client.get(change_url(world["bravo"][model]), follow=True)
    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert any("doesn’t exist" in m for m in messages_of(response))
    assert label(model, "bravo") not in response.content.decode()


@pytest.mark.parametrize("model", HISTORY_MODELS, ids=ids(HISTORY_MODELS))
def test_history_of_another_case_is_missing_for_staff_member(client, world, alpha_staff,
                                                             model):
    client.force_login(alpha_staff)
    name = model._meta.model_name
    bravo = world["bravo"][model]
    response = client.get(reverse(f"admin:cases_{name}_history", args=[bravo.pk]))
    assert response.status_code == 404
    version = bravo.history.first().history_id
    response = client.get(reverse(f"admin:cases_{name}_simple_history",
                                  args=[bravo.pk, version]))
    assert response.status_code == 404
    assert label(model, "bravo") not in response.content.decode()


@pytest.mark.parametrize("source_model, field, target", [
    (Incident, "case", Case),
    (Claim, "incident", Incident),
    (Citation, "claim", Claim),
    (Citation, "source", Source),
    (Task, "claim", Claim),
    (Evidence, "incident", Incident),
    (CommentRequest, "party_source", Source),
], ids=lambda v: getattr(v, "__name__", v))
def test_autocomplete_offers_staff_member_only_their_cases(client, world, alpha_staff,
                                                           source_model, field, target):
    client.force_login(alpha_staff)
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "cases", "model_name": source_model._meta.model_name,
        "field_name": field, "term": ""})
    texts = [r["text"] for r in response.json()["results"]]
    assert label(target, "alpha") in texts
    assert not [t for t in texts if "bravo" in t.lower()]


def test_case_filter_of_a_member_of_more_cases_than_it_lists_still_filters(
        client, world, alpha_staff, monkeypatch):
    monkeypatch.setattr(VisibleCaseListFilter, "MAX_CHOICES", 1)
    charlie = CaseFactory(title="Charlie desk")
    MembershipFactory(case=charlie, user=alpha_staff, role=Role.EDITOR)
    ClaimFactory(case=charlie, statement="charlie-claim statement")
    client.force_login(alpha_staff)

    unfiltered = client.get(changelist_url(Claim)).content.decode()
    chosen = client.get(changelist_url(Claim), {"case__id__exact": charlie.pk})
    not_theirs = client.get(changelist_url(Claim),
                            {"case__id__exact": world["bravo"][Case].pk})

    # Two cases, one at most in the list: no list, but a chosen case (from a link, say)
    # filters, and is shown so that it can be unset. It was once dropped with the list.
    assert "alpha-claim statement" in unfiltered and "charlie-claim statement" in unfiltered
    assert 'data-filter-title="case"' not in unfiltered
    content = chosen.content.decode()
    assert "charlie-claim statement" in content and "alpha-claim statement" not in content
    assert chosen.context["cl"].result_count == 1
    assert f'<a href="?case__id__exact={charlie.pk}">Charlie desk</a>' in content
    # Another case's id filters to nothing, and its title is not shown.
    assert not_theirs.context["cl"].result_count == 0
    assert "Bravo desk" not in not_theirs.content.decode()


def test_country_filter_lists_only_countries_of_visible_records(client, world, alpha_staff):
    Incident.objects.filter(pk=world["bravo"][Incident].pk).update(country="UA")
    client.force_login(alpha_staff)
    content = client.get(changelist_url(Incident)).content.decode()
    assert "?country=RU" in content
    assert "?country=UA" not in content
    assert "Ukraine" not in content


def test_related_choices_exclude_records_of_another_case(client, world, alpha_staff):
    """A forged POST naming bravo's claim and source is refused like a missing choice."""
    client.force_login(alpha_staff)
    response = client.post(add_url(Citation), {
        "claim": world["bravo"][Claim].pk, "source": world["bravo"][Source].pk,
        "relation": "reports", "quote": "Injected",
    })
    assert set(response.context["adminform"].form.errors) == {"claim", "source"}
    assert not Citation.objects.filter(quote="Injected").exists()


# --- object permissions by role ----------------------------------------------------------

@pytest.fixture
def alpha_member(world, make_staff):
    """make(role) -> a staff user holding `role` in the alpha case."""

    def make(role, **membership):
        user = make_staff(UserFactory(username=f"alpha-{role}"))
        MembershipFactory(case=world["alpha"][Case], user=user, role=role, **membership)
        return user

    return make


def incident_form(incident, **changes):
    data = {"version": make_token(incident),
            "case": incident.case_id, "title": incident.title, "occurred": incident.occurred,
            "description": "", "place_name": incident.place_name,
            "admin_region": incident.admin_region, "country": incident.country.code,
            # Each count's qualifier, as the form's select sends its default, and the
            # incident's place in the case's people counts (a ticked box).
            **{qualifier_field(count): getattr(incident, qualifier_field(count))
               for count in COUNT_FIELDS},
            "in_case_counts": "on",
            "citations-TOTAL_FORMS": 0, "citations-INITIAL_FORMS": 0,
            "citations-MIN_NUM_FORMS": 0, "citations-MAX_NUM_FORMS": 1000}
    return {**data, **changes}


def test_viewer_sees_record_read_only_and_cannot_change_it(client, world, alpha_member):
    client.force_login(alpha_member(Role.VIEWER))
    incident = world["alpha"][Incident]
    page = client.get(change_url(incident))
    assert escape(incident.title) in page.content.decode()
    assert 'name="_save"' not in page.content.decode()

    response = client.post(change_url(incident), incident_form(incident, title="Renamed"))
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.title == "alpha-incident"


def test_reporter_changes_a_record_of_their_case(client, world, alpha_member):
    client.force_login(alpha_member(Role.REPORTER))
    incident = world["alpha"][Incident]
    response = client.post(change_url(incident), incident_form(incident, title="Renamed"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "Renamed"
    assert incident.history.latest().history_user.username == "alpha-reporter"


def test_viewer_cannot_delete_a_record(client, world, alpha_member):
    client.force_login(alpha_member(Role.VIEWER))
    task = world["alpha"][Task]
    response = client.post(reverse("admin:cases_task_delete", args=[task.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Task.objects.filter(pk=task.pk).exists()


@pytest.mark.parametrize("role, allowed", [(Role.REPORTER, False), (Role.EDITOR, True)])
def test_membership_changes_need_an_editor(client, world, alpha_member, role, allowed):
    client.force_login(alpha_member(role))
    membership = world["alpha"][Membership]
    client.post(change_url(membership), {
        "version": make_token(membership),
        "case": membership.case_id, "user": membership.user_id, "role": Role.VIEWER,
        "can_handle_sources": "on"})
    membership.refresh_from_db()
    assert (membership.role == Role.VIEWER) is allowed
    assert membership.can_handle_sources is allowed


def test_case_choices_are_limited_to_cases_where_user_writes(client, world, alpha_member):
    """A reporter of alpha who only views bravo can neither pick nor post bravo as the case."""
    reporter = alpha_member(Role.REPORTER)
    MembershipFactory(case=world["bravo"][Case], user=reporter, role=Role.VIEWER)
    client.force_login(reporter)

    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "cases", "model_name": "incident", "field_name": "case"})
    assert [r["text"] for r in response.json()["results"]] == ["Alpha desk"]

    response = client.post(add_url(Incident), {
        **incident_form(world["alpha"][Incident], title="Planted"),
        "case": world["bravo"][Case].pk})
    assert "case" in response.context["adminform"].form.errors
    assert not Incident.objects.filter(title="Planted").exists()


def test_staff_member_without_membership_sees_no_case(client, world, make_staff):
    client.force_login(make_staff(UserFactory(username="newcomer")))
    response = client.get(changelist_url(Claim))
    assert response.status_code == 403  # no case to view records of
    response = client.get(reverse("admin:index"))
    assert "alpha" not in response.content.decode().lower()


# --- who wrote it ---------------------------------------------------------------------------

def test_added_claim_is_created_by_the_requesting_user(client, world, alpha_member):
    reporter = alpha_member(Role.REPORTER)
    client.force_login(reporter)
    response = client.post(add_url(Claim), {
        "case": world["alpha"][Case].pk, "statement": "Six deserters were caught.",
        "credibility": "6", "figure_qualifier": "exactly",
        "created_by": world["alpha"][Membership].user_id,  # not a form field: ignored
        "status": S.CONFIRMED,
        "citations-TOTAL_FORMS": 1, "citations-INITIAL_FORMS": 0,
        "citations-MIN_NUM_FORMS": 0, "citations-MAX_NUM_FORMS": 1000,
        "citations-0-source": world["alpha"][Source].pk, "citations-0-relation": "reports",
        "citations-0-quote": "Six were caught.",
        "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0,
        "events-MIN_NUM_FORMS": 0, "events-MAX_NUM_FORMS": 1000,
    })
    assert response.status_code == 302
    claim = Claim.objects.get(statement="Six deserters were caught.")
    assert claim.created_by == reporter
    assert claim.status == S.UNVERIFIED
    assert claim.citations.get().created_by == reporter


def test_added_membership_is_added_by_the_requesting_editor(client, world, alpha_member):
    editor = alpha_member(Role.EDITOR)
    newcomer = UserFactory(username="newcomer")
    client.force_login(editor)
    client.post(add_url(Membership), {"case": world["alpha"][Case].pk, "user": newcomer.pk,
                                      "role": Role.REPORTER})
    membership = Membership.objects.get(user=newcomer)
    assert (membership.case, membership.role, membership.added_by) == (
        world["alpha"][Case], Role.REPORTER, editor)


# A real (one-pixel) PNG: the admin checks uploads by their content (cases/uploads.py).
ONE_PIXEL_PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00"
                 b"\x00\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00"
                 b"\x00\x00\x00IEND\xaeB`\x82")


def test_added_evidence_is_captured_by_the_uploader_and_starts_its_custody(client, world,
                                                                         alpha_member):
    reporter = alpha_member(Role.REPORTER)
    client.force_login(reporter)
    response = client.post(add_url(Evidence), {
        "case": world["alpha"][Case].pk, "description": "Screenshot of the post",
        "file": SimpleUploadedFile("post.png", ONE_PIXEL_PNG, content_type="image/png"),
        "captured_at_0": "2025-05-10", "captured_at_1": "12:00:00",
        "custody-TOTAL_FORMS": 0, "custody-INITIAL_FORMS": 0,
        "custody-MIN_NUM_FORMS": 0, "custody-MAX_NUM_FORMS": 1000,
    })
    assert response.status_code == 302
    evidence = Evidence.objects.get(description="Screenshot of the post")
    assert (evidence.captured_by, evidence.created_by) == (reporter, reporter)
    assert (evidence.original_name, len(evidence.sha256)) == ("post.png", 64)
    assert list(evidence.custody.values_list("action", "actor")) == [
        (CustodyEntry.Action.COLLECTED, reporter.pk)]


def test_case_added_by_a_staff_member_makes_them_its_editor(client, make_staff):
    user = make_staff(UserFactory(username="founder"))
    client.force_login(user)
    response = client.post(add_url(Case), {
        "title": "Conscripts at the border", "status": "active", "sensitivity": "normal",
        **{f"{prefix}-{key}": value
           for prefix in ("memberships", "incidents", "claims", "tasks")
           for key, value in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0),
                              ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 1000))},
    })
    assert response.status_code == 302
    case = Case.objects.get(title="Conscripts at the border")
    assert case.created_by == user
    assert case.role_of(user) == Role.EDITOR
    assert Membership.objects.get(case=case, user=user).added_by == user


# --- queries ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["superuser", "staff"])
def test_changelist_query_count_does_not_grow_with_rows(client, make_staff, who):
    if who == "superuser":
        user = UserFactory(username="root", is_staff=True, is_superuser=True)
    else:
        user = make_staff(UserFactory(username="desk"))

    def add_cases(n):
        for _ in range(n):
            case = CaseFactory(lead=UserFactory())
            member = UserFactory()
            MembershipFactory(case=case, user=member, role=Role.REPORTER)
            if who == "staff":
                MembershipFactory(case=case, user=user, role=Role.EDITOR,
                                  can_handle_sources=True)
            populate(case, f"row{case.pk}", member=member)

    def count_queries(url):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response.context["cl"].result_count

    client.force_login(user)
    add_cases(1)
    models = SUPERUSER_MODELS if who == "superuser" else ALL_MODELS
    urls = {model.__name__: changelist_url(model) for model in models}
    for url in urls.values():
        client.get(url)  # warm per-process caches (content types, templates)
    with_one = {name: count_queries(url) for name, url in urls.items()}
    add_cases(49)
    with_fifty = {name: count_queries(url) for name, url in urls.items()}

    grown = {name: (with_one[name][0], with_fifty[name][0]) for name in urls
             if with_fifty[name][0] > with_one[name][0]}
    assert grown == {}
    assert all(rows >= 50 for _, rows in with_fifty.values())


# --- the claim workflow actions --------------------------------------------------------------

@pytest.fixture
def staff_roles(case, reporter, editor, second_editor, viewer, make_staff):
    for user in (reporter, editor, second_editor, viewer):
        make_staff(user)


@pytest.fixture
def sourced_claim(case, reporter):
    """A claim by the reporter with two independent reports."""
    claim = ClaimFactory(case=case, statement="Ten conscripts deserted.", created_by=reporter)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"))
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="Astra"))
    return claim


def run_action(client, action, claims, **form):
    """Choose the action on the changelist, then confirm it on the intermediate page."""
    url = changelist_url(Claim)
    selected = {"action": action, "_selected_action": [c.pk for c in claims]}
    page = client.post(url, {**selected, "index": 0})
    assert page.templates[0].name == "admin/cases/claim/transition.html"
    fields = {f"workflow-{key}": value for key, value in form.items()}
    return page, client.post(url, {**selected, **fields, "apply": "Go"}, follow=True)


def test_status_action_asks_for_confirmation_before_changing_anything(
        client, staff_roles, second_editor, sourced_claim):
    client.force_login(second_editor)
    page = client.post(changelist_url(Claim), {
        "action": "change_status", "_selected_action": [sourced_claim.pk], "index": 0})
    content = page.content.decode()
    assert "Ten conscripts deserted." in content
    assert 'name="workflow-to_status"' in content
    assert 'name="workflow-override_reason"' in content
    sourced_claim.refresh_from_db()
    assert sourced_claim.status == S.UNVERIFIED
    assert not sourced_claim.events.exists()


def test_status_action_with_an_invalid_form_shows_the_page_again(client, staff_roles,
                                                                 second_editor,
                                                                 sourced_claim):
    client.force_login(second_editor)
    _, response = run_action(client, "change_status", [sourced_claim], to_status="published")
    assert response.redirect_chain == []
    assert response.templates[0].name == "admin/cases/claim/transition.html"
    assert "to_status" in response.context["form"].errors
    sourced_claim.refresh_from_db()
    assert sourced_claim.status == S.UNVERIFIED
    assert not sourced_claim.events.exists()


def test_status_action_confirms_claim_with_two_independent_citations(
        client, staff_roles, second_editor, sourced_claim):
    client.force_login(second_editor)
    _, response = run_action(client, "change_status", [sourced_claim],
                             to_status=S.CONFIRMED, note="Two outlets, separate sources.")
    sourced_claim.refresh_from_db()
    assert sourced_claim.status == S.CONFIRMED
    event = sourced_claim.events.get()
    assert (event.kind, event.from_status, event.to_status, event.actor, event.note) == (
        VerificationEventKind.TRANSITION, S.UNVERIFIED, S.CONFIRMED, second_editor,
        "Two outlets, separate sources.")
    assert messages_of(response) == [
        "“Ten conscripts deserted.”: now confirmed (was unverified)."]


def test_status_action_refuses_verdict_by_the_claims_author(client, staff_roles, editor,
                                                            case):
    claim = ClaimFactory(case=case, statement="Four were caught.", created_by=editor)
    CitationFactory(claim=claim)
    CitationFactory(claim=claim)
    client.force_login(editor)
    _, response = run_action(client, "change_status", [claim], to_status=S.CONFIRMED,
                             note="Looks solid.")
    claim.refresh_from_db()
    assert claim.status == S.UNVERIFIED
    assert not VerificationEvent.objects.filter(claim=claim).exists()
    [message] = messages_of(response)
    assert message.startswith("“Four were caught.” was not changed: Four-eyes rule")


def test_status_action_refuses_verdict_without_citations(client, staff_roles, second_editor,
                                                         case, reporter):
    claim = ClaimFactory(case=case, statement="Nobody reported it.", created_by=reporter)
    client.force_login(second_editor)
    _, response = run_action(client, "change_status", [claim], to_status=S.FALSE,
                             note="Invented.")
    claim.refresh_from_db()
    assert claim.status == S.UNVERIFIED
    assert not claim.events.exists()
    assert "A verdict needs at least one citation." in messages_of(response)[0]


def test_status_action_does_not_let_a_reporter_give_a_verdict(client, staff_roles, reporter,
                                                              case, editor):
    claim = ClaimFactory(case=case, statement="Six at large.", created_by=editor)
    CitationFactory(claim=claim)
    CitationFactory(claim=claim)
    client.force_login(reporter)
    _, response = run_action(client, "change_status", [claim], to_status=S.CONFIRMED,
                             note="Sure of it.")
    claim.refresh_from_db()
    assert claim.status == S.UNVERIFIED
    assert not claim.events.exists()
    assert "Only an editor can give a final verdict" in messages_of(response)[0]


def test_status_action_reports_each_claim_on_its_own(client, staff_roles, second_editor,
                                                     sourced_claim, case, reporter):
    bare = ClaimFactory(case=case, statement="No citation yet.", created_by=reporter)
    client.force_login(second_editor)
    _, response = run_action(client, "change_status", [sourced_claim, bare],
                             to_status=S.CORROBORATED)
    sourced_claim.refresh_from_db()
    bare.refresh_from_db()
    assert (sourced_claim.status, bare.status) == (S.CORROBORATED, S.UNVERIFIED)
    assert sorted(messages_of(response)) == sorted([
        "“Ten conscripts deserted.”: now corroborated (was unverified).",
        "“No citation yet.” was not changed: Corroborated needs at least two citations that "
        "report or confirm it.",
    ])


def test_status_action_applies_single_source_override(client, staff_roles, second_editor,
                                                      case, reporter):
    claim = ClaimFactory(case=case, statement="Seen on video.", created_by=reporter)
    # Graded C: an E or F source would also need the acknowledgement (see
    # tests/test_single_source_override.py).
    CitationFactory(claim=claim, source=SourceFactory(case=case, reliability="C"))
    client.force_login(second_editor)
    run_action(client, "change_status", [claim], to_status=S.CONFIRMED, note="Geolocated.",
               override_reason="The video was geolocated by our team.")
    event = claim.events.get()
    assert (event.to_status, event.override_reason) == (
        S.CONFIRMED, "The video was geolocated by our team.")


def test_propose_action_records_a_proposal_and_keeps_the_status(client, staff_roles,
                                                                reporter, sourced_claim):
    client.force_login(reporter)
    _, response = run_action(client, "propose_verdict", [sourced_claim],
                             verdict=S.CONFIRMED, note="Two independent outlets.")
    sourced_claim.refresh_from_db()
    assert sourced_claim.status == S.UNVERIFIED
    assert (sourced_claim.proposed_verdict, sourced_claim.proposed_by) == (S.CONFIRMED,
                                                                          reporter)
    event = sourced_claim.events.get()
    assert (event.kind, event.proposed_verdict) == (VerificationEventKind.PROPOSAL,
                                                    S.CONFIRMED)
    assert messages_of(response) == ["“Ten conscripts deserted.”: confirmed proposed."]


def test_workflow_actions_are_not_offered_to_a_viewer(client, staff_roles, viewer,
                                                      sourced_claim):
    client.force_login(viewer)
    response = client.get(changelist_url(Claim))
    assert "change_status" not in response.content.decode()
    client.post(changelist_url(Claim), {"action": "change_status", "index": 0,
                                        "_selected_action": [sourced_claim.pk]})
    sourced_claim.refresh_from_db()
    assert sourced_claim.status == S.UNVERIFIED


def test_claim_change_form_cannot_post_a_status(client, staff_roles, second_editor,
                                                sourced_claim):
    client.force_login(second_editor)
    response = client.post(change_url(sourced_claim), {
        "version": make_token(sourced_claim),
        "case": sourced_claim.case_id, "statement": "Ten conscripts deserted the unit.",
        "credibility": "2", "figure_qualifier": "exactly",
        "status": S.CONFIRMED, "proposed_verdict": S.FALSE,
        "citations-TOTAL_FORMS": 0, "citations-INITIAL_FORMS": 0,
        "citations-MIN_NUM_FORMS": 0, "citations-MAX_NUM_FORMS": 1000,
        "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0,
        "events-MIN_NUM_FORMS": 0, "events-MAX_NUM_FORMS": 1000,
    })
    assert response.status_code == 302
    sourced_claim.refresh_from_db()
    assert sourced_claim.statement == "Ten conscripts deserted the unit."
    assert (sourced_claim.status, sourced_claim.proposed_verdict) == (S.UNVERIFIED, "")
    assert not sourced_claim.events.exists()


def test_claim_change_page_shows_verification_history_read_only(client, staff_roles,
                                                                second_editor, reporter,
                                                                sourced_claim):
    workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Both outlets agree.")
    client.force_login(second_editor)
    response = client.get(change_url(sourced_claim))
    content = response.content.decode()
    assert "Both outlets agree." in content
    assert "verification history" in content.lower()
    assert 'name="events-0-note"' not in content  # shown, not an input
    assert 'name="status"' not in content


def test_claim_with_verification_history_cannot_be_deleted_by_staff(client, staff_roles,
                                                                    reporter, sourced_claim):
    workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Both agree.")
    client.force_login(reporter)
    delete_url = reverse("admin:cases_claim_delete", args=[sourced_claim.pk])
    page = client.get(delete_url)
    assert any("Verification event" in obj for obj in page.context["protected"])
    client.post(delete_url, {"post": "yes"})
    assert Claim.objects.filter(pk=sourced_claim.pk).exists()
    assert sourced_claim.events.count() == 1


def test_superuser_cannot_delete_claim_with_verification_history_either(
        client, superuser, reporter, sourced_claim):
    # Verification history is never deleted (cases/history.py: the events are PROTECT, and
    # on PostgreSQL a trigger refuses it): the page says what stands in the way.
    workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Both agree.")
    client.force_login(superuser)
    response = client.post(reverse("admin:cases_claim_delete", args=[sourced_claim.pk]),
                           {"post": "yes"})
    assert response.status_code == 200
    assert any("Verification event" in obj for obj in response.context["protected"])
    assert Claim.objects.filter(pk=sourced_claim.pk).exists()
    assert VerificationEvent.objects.filter(claim_id=sourced_claim.pk).count() == 1


# --- protected source identities -------------------------------------------------------------

def test_source_identity_is_hidden_from_a_member_who_is_not_a_handler(client, world,
                                                                      alpha_staff):
    client.force_login(alpha_staff)
    identity = world["alpha"][SourceIdentity]

    source_page = client.get(change_url(identity.source)).content.decode()
    assert "alpha-codename" in source_page
    assert "alpha-real-name" not in source_page
    assert "Signal only" not in source_page

    response = client.get(changelist_url(SourceIdentity))
    assert response.status_code == 403

    response = client.get(change_url(identity), follow=True)
    assert "alpha-real-name" not in response.content.decode()
    response = client.get(reverse("admin:cases_sourceidentity_history", args=[identity.pk]))
    assert response.status_code == 403  # like the list: no right to identities at all


def test_source_identity_is_visible_to_a_handler_of_its_case(client, world, alpha_member):
    handler = alpha_member(Role.REPORTER, can_handle_sources=True)
    client.force_login(handler)
    identity = world["alpha"][SourceIdentity]

    source_page = client.get(change_url(identity.source)).content.decode()
    assert "alpha-real-name" in source_page
    assert "Signal only" in source_page

    listing = client.get(changelist_url(SourceIdentity)).content.decode()
    assert "alpha-real-name" in listing
    assert "bravo-real-name" not in listing  # handler of alpha only


def test_handler_edits_identity_on_the_source_page(client, world, alpha_member):
    handler = alpha_member(Role.REPORTER, can_handle_sources=True)
    client.force_login(handler)
    identity = world["alpha"][SourceIdentity]
    source = identity.source
    response = client.post(change_url(source), {
        "version": make_token(source),
        "case": source.case_id, "name": source.name, "kind": source.kind,
        "reliability": source.reliability, "protected": "on",
        "identity-TOTAL_FORMS": 1, "identity-INITIAL_FORMS": 1,
        "identity-MIN_NUM_FORMS": 0, "identity-MAX_NUM_FORMS": 1,
        "identity-0-id": identity.pk, "identity-0-source": source.pk,
        "identity-0-version": make_token(identity),
        "identity-0-real_name": "Corrected name", "identity-0-contact": "Signal only",
        "identity-0-private_notes": "",
    })
    assert response.status_code == 302
    identity.refresh_from_db()
    assert identity.real_name == "Corrected name"


def test_source_search_never_matches_an_identity(client, superuser, world):
    client.force_login(superuser)
    response = client.get(changelist_url(Source), {"q": "alpha-real-name"})
    assert response.context["cl"].result_count == 0
    assert "alpha-codename" not in response.content.decode()
    response = client.get(changelist_url(Source), {"identity__real_name": "alpha-real-name"})
    assert response.status_code == 400  # not an allowed lookup either


# --- incidents ---------------------------------------------------------------------------

@pytest.mark.parametrize("occurred, words, earliest, latest", [
    ("2025-05-08/2025-05-09", "8–9 May 2025", "2025-05-08", "2025-05-09"),
    ("XXXX-05-09", "9 May, year unknown", None, None),
])
def test_incident_page_shows_edtf_in_plain_words_and_derived_dates(client, superuser, case,
                                                                   occurred, words, earliest,
                                                                   latest):
    incident = IncidentFactory(case=case, occurred=occurred)
    client.force_login(superuser)
    content = client.get(change_url(incident)).content.decode()
    assert f'value="{occurred}"' in content
    assert words in content
    for value in (earliest, latest):
        if value:
            assert dt.date.fromisoformat(value).strftime("%-d %B %Y") in content
    assert 'name="occurred_earliest"' not in content


def test_incident_with_bad_edtf_gets_the_models_error(client, superuser, case):
    client.force_login(superuser)
    incident = IncidentFactory.build(case=case, title="Raid")
    response = client.post(add_url(Incident), incident_form(incident, occurred="last Tuesday"))
    errors = response.context["adminform"].form.errors
    assert "is not a date Casedesk understands" in errors["occurred"][0]
    assert not Incident.objects.filter(title="Raid").exists()


def test_overdue_task_is_flagged_in_the_list(client, superuser, case):
    TaskFactory(case=case, title="Ask the ministry",
                due_on=timezone.localdate() - dt.timedelta(days=2))
    client.force_login(superuser)
    content = client.get(changelist_url(Task)).content.decode()
    assert "Ask the ministry" in content
    assert 'alt="True"' in content


# --- autocomplete fields given what is not a key -------------------------------------------

def autocomplete_fields():
    """(model, inline class or None, field) for every autocomplete field of the back office,
    on its model's page or in an inline of that model's page."""
    found = []
    for model, model_admin in sorted(admin.site._registry.items(),
                                     key=lambda item: item[0]._meta.label):
        if model._meta.app_label != "cases":
            continue
        found += [(model, None, field) for field in model_admin.autocomplete_fields]
        found += [(model, inline, field) for inline in model_admin.inlines
                  for field in inline.autocomplete_fields]
    return found


# Letters, a NUL byte, a number past any key column's range.
NOT_KEYS = ["abc", "1\x00", "9" * 30]
# A NUL byte is refused before the choice is looked up.
NOT_A_KEY_CODES = {"invalid_choice", "null_characters_not_allowed"}


@pytest.fixture
def handler_editor(world, make_staff):
    """A staff editor and source handler of alpha: may add and change everything there."""
    user = make_staff(UserFactory(username="alpha-handler"))
    MembershipFactory(case=world["alpha"][Case], user=user, role=Role.EDITOR,
                      can_handle_sources=True)
    return user


def inline_prefix(model, inline_class, user, obj):
    request = RequestFactory().get("/admin/")
    request.user = user
    [inline] = [i for i in admin.site._registry[model].get_inline_instances(request, obj)
                if isinstance(i, inline_class)]
    return inline.get_formset(request, obj).get_default_prefix()


def error_codes(form, field):
    return {error.code for error in form.errors.as_data().get(field, [])}


@pytest.mark.parametrize("model, inline, field", autocomplete_fields(),
                         ids=lambda v: getattr(v, "__name__", v))
def test_autocomplete_field_given_a_non_key_is_a_field_error(client, world, handler_editor,
                                                            model, inline, field):
    """Django's autocomplete widget read the posted value as a key while the refused form was
    rendered again: a ValueError (a 500) instead of the field's own error."""
    client.force_login(handler_editor)
    before = {m: (m.objects.count(), m.history.count() if hasattr(m, "history") else 0)
              for m in ALL_MODELS}
    obj = world["alpha"][model]
    posts = []
    for bad in NOT_KEYS:
        if inline is None:
            posts += [(add_url(model), {field: bad}, None),
                      (change_url(obj), {field: bad, "version": make_token(obj)}, None)]
        else:
            prefix = inline_prefix(model, inline, handler_editor, obj)
            posts.append((change_url(obj), {
                "version": make_token(obj), f"{prefix}-TOTAL_FORMS": 1,
                f"{prefix}-INITIAL_FORMS": 0, f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000, f"{prefix}-0-{field}": bad}, prefix))
    for url, data, prefix in posts:
        response = client.post(url, data)
        assert response.status_code == 200, url
        if prefix is None:
            form = response.context["adminform"].form
        else:
            [form] = [row for formset in response.context["inline_admin_formsets"]
                      if formset.formset.prefix == prefix for row in formset.formset.forms]
        assert error_codes(form, field) & NOT_A_KEY_CODES, (url, form.errors)
    assert {m: (m.objects.count(), m.history.count() if hasattr(m, "history") else 0)
            for m in ALL_MODELS} == before
