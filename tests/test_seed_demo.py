"""`manage.py seed_demo`: the example story as demo data, written once however often it runs."""

from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.http import HttpRequest
from django.utils import timezone

from cases import demo
from cases.enums import (
    CitationRelation,
    CommentOutcome,
    FigureQualifier,
    Role,
    SourceKind,
    VerificationEventKind,
)
from cases.enums import VerificationStatus as S
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Incident,
    IncidentType,
    Membership,
    Source,
    SourceIdentity,
    Task,
    VerificationEvent,
)

pytestmark = pytest.mark.django_db

User = get_user_model()


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    """Rows in every table of the cases app (history tables included) and of the users."""
    models = [*apps.get_app_config("cases").get_models(), User, Group,
              User.groups.through, Group.permissions.through]
    return {model._meta.label: model._default_manager.count() for model in models}


@pytest.fixture
def seeded(db):
    return seed_demo()


@pytest.fixture
def case(seeded):
    return Case.objects.get(slug=demo.CASE_SLUG)


@pytest.fixture
def users(seeded):
    return {u.username: u for u in User.objects.all()}


# --- idempotency --------------------------------------------------------------------------


def test_a_second_run_changes_nothing(seeded):
    first = row_counts()
    assert "cases.HistoricalClaim" in first  # the history tables are part of the comparison
    claims_updated = dict(Claim.objects.values_list("pk", "updated_at"))

    output = seed_demo()

    assert row_counts() == first
    assert dict(Claim.objects.values_list("pk", "updated_at")) == claims_updated
    assert "nothing changed" in output


def test_the_first_run_fills_every_table_it_is_responsible_for(seeded):
    counts = row_counts()
    for label in ("cases.Case", "cases.Membership", "cases.IncidentType", "cases.Incident",
                  "cases.Source", "cases.SourceIdentity", "cases.Claim", "cases.Citation",
                  "cases.VerificationEvent", "cases.Task", "cases.CommentRequest",
                  "cases.HistoricalCase", "cases.HistoricalClaim", "cases.HistoricalSource"):
        assert counts[label] > 0, label


def test_a_second_run_leaves_the_newsrooms_edits_alone(case, users):
    claim = Claim.objects.get(case=case, figure_unit="caught")
    claim.credibility = "2"
    claim.save()
    task = Task.objects.get(case=case, title__startswith="Geolocate")
    task.state = "done"
    task.save()
    before = row_counts()

    seed_demo()

    assert row_counts() == before
    claim.refresh_from_db()
    task.refresh_from_db()
    assert claim.credibility == "2" and task.state == "done"


# --- users and roles ----------------------------------------------------------------------


def test_the_demo_users_and_their_roles(case, users):
    roles = dict(Membership.objects.filter(case=case).values_list("user__username", "role"))
    assert roles == {"editor": Role.EDITOR, "editor2": Role.EDITOR,
                     "reporter": Role.REPORTER, "viewer": Role.VIEWER}
    assert case.lead == users["reporter"]

    admin = users["admin"]
    assert admin.is_superuser and admin.is_staff

    editor = users["editor"]
    assert editor.is_staff and not editor.is_superuser
    assert editor.groups.filter(name=demo.STAFF_GROUP).exists()
    assert editor.has_perm("cases.change_claim") and editor.has_perm("cases.add_incident")
    assert editor.has_perm("capture.change_casewatch")
    assert not editor.has_perm("capture.change_capture")
    assert not users["reporter"].is_staff

    handlers = Membership.objects.filter(case=case, can_handle_sources=True)
    assert [m.user.username for m in handlers] == ["reporter"]

    assert not Membership.objects.filter(user=users["outsider"]).exists()
    assert not Case.objects.visible_to(users["outsider"]).exists()


def test_the_demo_passwords_work(client, settings, users):
    # django-axes' backend needs the request authenticate() is given (Client.login passes
    # none unless told): an empty one, as axes' documentation does.
    for username in ("admin", "editor", "editor2", "reporter", "viewer", "outsider"):
        assert client.login(request=HttpRequest(), username=username,
                            password=settings.DEMO_PASSWORD), username
        client.logout()
    assert not client.login(request=HttpRequest(), username="editor", password="wrong password")


def test_the_password_comes_from_settings(client, settings, db):
    settings.DEMO_PASSWORD = "another-demo-password"
    output = seed_demo()
    assert client.login(request=HttpRequest(), username="reporter",
                        password="another-demo-password")
    assert "another-demo-password" in output


def test_the_command_prints_the_sign_ins(seeded, settings):
    assert "http://127.0.0.1:8000/admin/" in seeded
    assert settings.DEMO_PASSWORD in seeded
    for username in ("admin", "editor", "editor2", "reporter", "viewer", "outsider"):
        assert f"  {username} " in seeded


# --- the story ----------------------------------------------------------------------------


def test_the_case(case):
    assert case.title == "Rostov training-ground desertion"
    assert case.summary


def test_incidents_with_fuzzy_dates_places_and_counts(case):
    incidents = {i.title: i for i in Incident.objects.filter(case=case)}
    assert len(incidents) >= 4

    desertion = incidents[demo.I_DESERTION]
    assert desertion.occurred == "XXXX-05-09"
    assert desertion.when_display == "9 May, year unknown"
    assert desertion.occurred_earliest is None  # the year is unknown: no invented date
    assert desertion.type.slug == "desertion"
    assert desertion.involved == 10

    rostov = [i for i in incidents.values() if i.count_group]
    assert {i.title for i in rostov} == {demo.I_DESERTION, demo.I_FIRST_CATCH,
                                         demo.I_BORDER_ARRESTS, demo.I_MANHUNT}
    assert {i.count_group for i in rostov} == {"Rostov training-ground desertion"}
    # IStories' nationwide count: context, left out of the case's people counts
    warrants = incidents[demo.I_WARRANTS]
    assert not warrants.in_case_counts and warrants.counts_in_words == {
        "involved": "at least 49,000"}
    assert warrants.citations.exists()

    for incident in rostov:
        assert incident.admin_region == "Rostov Oblast"
        assert incident.country.code == "RU"
        assert incident.geo_precision
        assert incident.when is not None  # a valid EDTF string
        assert incident.citations.exists()

    assert incidents[demo.I_FIRST_CATCH].detained == 4
    assert incidents[demo.I_BORDER_ARRESTS].detained == 2
    assert incidents[demo.I_MANHUNT].at_large == 4
    assert {"desertion", "arrest", "manhunt"} <= set(
        IncidentType.objects.values_list("slug", flat=True))


def test_five_sources_with_the_insiders_protected_behind_161ru(case):
    sources = {s.name: s for s in Source.objects.filter(case=case)}
    assert len(sources) == 8  # two of them the Figures tab's illustrations
    assert {s.name for s in sources.values() if "demo illustration" in s.name} == {
        demo.S_AGGREGATOR, demo.S_CHANNEL}
    outlet, insiders = sources["161.ru"], sources[demo.S_INSIDERS]

    assert outlet.kind == SourceKind.OUTLET and not outlet.protected
    assert insiders.kind == SourceKind.PERSON and insiders.protected
    assert insiders.reached_via == outlet
    identity = SourceIdentity.objects.get(source=insiders)
    assert "fictional" in identity.real_name
    assert identity.real_name not in insiders.name

    assert sources["IStories"].kind == SourceKind.OUTLET
    assert sources["Russian Defence Ministry"].kind == SourceKind.OFFICIAL
    assert sources["TASS"].kind == SourceKind.AGENCY
    assert "photo" in sources["TASS"].reliability_note.lower()
    for source in sources.values():
        assert source.reliability and source.reliability_note


def test_claims_with_citations_and_figures(case):
    claims = list(Claim.objects.filter(case=case).prefetch_related("citations"))
    assert len(claims) >= 8
    assert all(claim.citations.exists() for claim in claims)

    figures = {(c.figure_value, c.figure_qualifier, c.figure_unit) for c in claims
               if c.figure_value is not None}
    assert (Decimal(10), FigureQualifier.EXACTLY, "deserters") in figures
    assert (Decimal(4), FigureQualifier.EXACTLY, "caught") in figures
    assert (Decimal(2), FigureQualifier.EXACTLY, "arrested later") in figures
    assert (Decimal(4), FigureQualifier.EXACTLY, "at large") in figures
    assert str(Claim.objects.get(case=case, figure_value=49000).figure) == (
        "at least 49,000 arrest warrants for desertion")
    nearly = Claim.objects.get(case=case, figure_qualifier=FigureQualifier.NEARLY)
    assert nearly.figure_value == 300
    assert {c.source.name for c in nearly.citations.all()} == {"IStories"}


def test_the_insiders_are_cited_via_161ru(case):
    insider_citations = Citation.objects.filter(source__name=demo.S_INSIDERS)
    assert insider_citations.count() >= 4
    assert set(insider_citations.values_list("relay_links__source__name", flat=True)) == {
        "161.ru"}


def test_verification_went_through_the_workflow(case, users):
    claims = Claim.objects.filter(case=case).prefetch_related("events")
    with_history = [c for c in claims if c.events.exists()]
    assert len(with_history) >= 3

    for claim in claims:
        transitions = [e for e in claim.events.all()
                       if e.kind == VerificationEventKind.TRANSITION]
        # The status is the last transition's; a claim without one is still unverified.
        assert claim.status == (transitions[-1].to_status if transitions else S.UNVERIFIED)
        for event in transitions:
            if S(event.to_status).is_final:  # four-eyes: never the claim's own author
                assert event.actor != claim.created_by
                assert event.note

    statuses = {c.status for c in claims}
    assert {S.UNVERIFIED, S.IN_REVIEW, S.CONFIRMED, S.UNVERIFIABLE} <= statuses


def test_a_reporter_proposal_confirmed_by_the_editor(case, users):
    confirmed = Claim.objects.get(case=case, status=S.CONFIRMED)
    proposal, verdict = confirmed.events.all()
    assert proposal.kind == VerificationEventKind.PROPOSAL
    assert proposal.actor == users["reporter"] and proposal.proposed_verdict == S.CONFIRMED
    assert verdict.kind == VerificationEventKind.TRANSITION
    assert verdict.actor == users["editor"] and verdict.to_status == S.CONFIRMED
    # A single origin (IStories' own count): the editor's override says why.
    assert verdict.override_reason
    assert confirmed.created_by == users["reporter"]
    assert confirmed.proposed_verdict == ""  # the verdict settled the proposal


def test_a_proposal_awaits_the_editors(case, users):
    pending = Claim.objects.filter(case=case).awaiting_review()
    assert pending.filter(proposed_verdict=S.CONFIRMED, proposed_by=users["reporter"]).exists()


def test_history_says_who(case, users):
    assert case.history.earliest().history_user == users["editor"]
    claim = Claim.objects.get(case=case, status=S.CONFIRMED)
    records = list(claim.history.order_by("history_date", "history_id"))
    assert records[0].history_user == users["reporter"]
    assert records[-1].history_user == users["editor"]


def test_the_defence_ministry_did_not_answer(case):
    request = CommentRequest.objects.get(case=case, party_source__name="Russian Defence Ministry")
    assert request.outcome == CommentOutcome.NO_ANSWER
    assert request.asked_at < request.deadline < timezone.now()
    assert Citation.objects.filter(
        source__name="Russian Defence Ministry",
        relation=CitationRelation.DECLINED_TO_COMMENT,
    ).exists()
    assert not Claim.objects.filter(citations__source__name="Russian Defence Ministry").exists()


def test_three_follow_up_tasks(case, users):
    tasks = Task.objects.filter(case=case)
    titles = set(tasks.values_list("title", flat=True))
    assert titles == {"Ask the Southern Military District for comment",
                      "Find the 161.ru original and archive it",
                      "Geolocate the training ground"}
    members = set(Membership.objects.filter(case=case).values_list("user_id", flat=True))
    for task in tasks:
        assert task.assignee_id in members and task.due_on is not None
    assert [t.title for t in tasks.overdue()] == [
        "Ask the Southern Military District for comment"]


def test_verification_history_is_not_replayed(seeded):
    events = VerificationEvent.objects.count()
    seed_demo()
    seed_demo()
    assert VerificationEvent.objects.count() == events


def test_seed_demo_refuses_outside_a_demo_installation(settings):
    from django.core.management import CommandError, call_command

    from cases.models import Case

    settings.DEMO_ALLOWED = False
    with pytest.raises(CommandError, match="local demo only"):
        call_command("seed_demo")
    assert not Case.objects.exists()
