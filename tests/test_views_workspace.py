"""The case workspace pages, the claim page with its verification moves, and the review queue."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from cases import workflow
from cases.enums import CitationRelation, CommentOutcome, TaskState
from cases.enums import VerificationStatus as S
from cases.models import Claim, CustodyEntry, SourceIdentity, VerificationEvent

from .factories import (
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    SourceFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


def confirmable_claim(case, author):
    """A claim with supporting citations from two independent sources."""
    claim = ClaimFactory(case=case, statement="Ten inmates deserted.", created_by=author)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"))
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="IStories"),
                    relation=CitationRelation.CONFIRMS)
    return claim


# --- Timeline -------------------------------------------------------------------------------

def test_timeline_orders_incidents_and_places_comment_requests_in_time(client, case, viewer):
    IncidentFactory(case=case, title="Second arrests", occurred="2025-06~", detained=2)
    IncidentFactory(case=case, title="First catch", occurred="2025-05-10", detained=4)
    IncidentFactory(case=case, title="Night of desertion", occurred="2025-05-08/2025-05-09",
                    involved=10, detained=6, at_large=4)
    CommentRequestFactory(case=case, party_name="Defence Ministry",
                          asked_at=dt.datetime(2025, 5, 12, 9, tzinfo=dt.UTC),
                          deadline=dt.datetime(2025, 5, 14, tzinfo=dt.UTC),
                          outcome=CommentOutcome.NO_ANSWER)
    client.force_login(viewer)
    page = client.get(url("timeline", case)).content.decode()
    order = [page.index(t) for t in ("Night of desertion", "First catch", "Defence Ministry",
                                     "Second arrests")]
    assert order == sorted(order)
    assert "8–9 May 2025" in page and "about June 2025" in page
    assert "asked 12 May 2025, no answer by the deadline" in page
    assert "10 involved" in page and "adds up" in page


def test_timeline_places_an_unknown_year_by_its_first_report(client, case, viewer):
    IncidentFactory(case=case, title="Later event", occurred="2025-07-01")
    desertion = IncidentFactory(case=case, title="Desertion", occurred="XXXX-05-09")
    CitationFactory(claim=None, incident=desertion, source=SourceFactory(case=case),
                    published_at=dt.datetime(2025, 5, 12, tzinfo=dt.UTC))
    client.force_login(viewer)
    page = client.get(url("timeline", case)).content.decode()
    assert "9 May, year unknown" in page
    assert page.index("Desertion") < page.index("Later event")


def test_timeline_query_count_does_not_grow(client, case, viewer,
                                            django_assert_max_num_queries):
    client.force_login(viewer)

    def populate(n):
        for i in range(n):
            incident = IncidentFactory(case=case, occurred=f"2025-05-{i % 28 + 1:02d}")
            CitationFactory(claim=ClaimFactory(case=case, incident=incident))
            CommentRequestFactory(case=case)

    populate(1)
    with django_assert_max_num_queries(30) as baseline:
        client.get(url("timeline", case))
    populate(199)  # 1 and 200 records cost the same
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(url("timeline", case))


# --- Claims board ---------------------------------------------------------------------------

def test_claims_board_groups_by_status_and_says_whether_sources_are_independent(
        client, case, reporter, editor):
    confirmed = confirmable_claim(case, reporter)
    workflow.transition(confirmed, S.CONFIRMED, actor=editor, note="Two independent outlets.")
    relayed = ClaimFactory(case=case, statement="They were unarmed.")
    outlet = SourceFactory(case=case, name="Outlet")
    insiders = SourceFactory(case=case, name="Insiders", reached_via=outlet, protected=True)
    CitationFactory(claim=relayed, source=insiders, relays=[outlet])
    CitationFactory(claim=relayed, source=outlet)
    client.force_login(reporter)
    response = client.get(url("claims_board", case))
    columns = {status: [card.claim.statement for card in cards]
               for status, _total, cards in response.context["columns"]}
    assert columns[S.CONFIRMED] == ["Ten inmates deserted."]
    assert columns[S.UNVERIFIED] == ["They were unarmed."]
    page = response.content.decode()
    assert "2 independent origins" in page and "one origin only" in page


def test_claims_board_shows_a_column_page_by_page_beyond_its_limit(client, case, viewer):
    ClaimFactory.create_batch(25, case=case)
    client.force_login(viewer)
    board = client.get(url("claims_board", case))
    unverified = dict((s, cards) for s, _t, cards in board.context["columns"])[S.UNVERIFIED]
    assert len(unverified) == 20 and "All 25 unverified" in board.content.decode()
    full = client.get(url("claims_board", case), {"status": "unverified"})
    assert len(full.context["columns"][0][2]) == 25


def test_claims_board_query_count_does_not_grow(client, case, viewer,
                                                django_assert_max_num_queries):
    client.force_login(viewer)
    CitationFactory(claim=ClaimFactory(case=case))
    with django_assert_max_num_queries(40) as baseline:
        client.get(url("claims_board", case))
    for _ in range(199):
        CitationFactory(claim=ClaimFactory(case=case))
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(url("claims_board", case))


# --- Claim page and verification ------------------------------------------------------------

def test_claim_page_offers_a_viewer_no_action(client, case, viewer, reporter):
    claim = confirmable_claim(case, reporter)
    client.force_login(viewer)
    response = client.get(url("claim_detail", case, claim.pk))
    assert response.context["moves"] == [] and not response.context["can_propose"]
    assert "claim_transition" not in response.content.decode()
    assert "<form method=\"post\"" not in response.content.decode().split('id="actions"')[1]


def test_claim_page_offers_a_reporter_moves_but_no_verdict(client, case, reporter):
    claim = confirmable_claim(case, reporter)
    client.force_login(reporter)
    response = client.get(url("claim_detail", case, claim.pk))
    offered = {m.to_status for m in response.context["moves"]}
    assert offered == {S.IN_REVIEW, S.CORROBORATED, S.DISPUTED}
    assert "Propose a verdict" in response.content.decode()


def test_claim_page_offers_an_editor_the_verdicts(client, case, reporter, editor):
    claim = confirmable_claim(case, reporter)
    client.force_login(editor)
    response = client.get(url("claim_detail", case, claim.pk))
    offered = {m.to_status for m in response.context["moves"]}
    assert {S.CONFIRMED, S.FALSE, S.UNVERIFIABLE} <= offered
    assert "Verdict: confirmed" in response.content.decode()


def test_editor_confirms_from_the_claim_page(client, case, reporter, editor):
    claim = confirmable_claim(case, reporter)
    client.force_login(editor)
    response = client.post(url("claim_transition", case, claim.pk),
                           {"to_status": "confirmed", "note": "Independent outlets agree."},
                           follow=True)
    claim.refresh_from_db()
    assert claim.status == S.CONFIRMED
    event = VerificationEvent.objects.get(claim=claim)
    assert (event.actor, event.note) == (editor, "Independent outlets agree.")
    page = response.content.decode()
    assert "The claim is now confirmed." in page and "Independent outlets agree." in page


def test_refused_verdict_shows_why_keeps_the_note_and_changes_nothing(client, case, editor):
    claim = ClaimFactory(case=case, created_by=editor)  # four-eyes: editor wrote it
    CitationFactory(claim=claim)
    client.force_login(editor)
    response = client.post(url("claim_transition", case, claim.pk),
                           {"to_status": "false", "note": "My careful rationale"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Four-eyes rule" in page
    claim.refresh_from_db()
    assert claim.status == S.UNVERIFIED and not VerificationEvent.objects.exists()


def test_refused_confirmation_without_independent_sources_keeps_input(client, case, reporter,
                                                                     editor):
    claim = ClaimFactory(case=case, created_by=reporter)
    source = SourceFactory(case=case)
    CitationFactory(claim=claim, source=source)
    CitationFactory(claim=claim, source=source)
    client.force_login(editor)
    response = client.post(url("claim_transition", case, claim.pk),
                           {"to_status": "confirmed", "note": "Looks solid to me"})
    page = response.content.decode()
    assert "two independent sources" in page
    assert "Looks solid to me" in page  # the note survives the refusal
    assert Claim.objects.get(pk=claim.pk).status == S.UNVERIFIED


def test_reporter_proposes_from_the_claim_page(client, case, reporter):
    claim = confirmable_claim(case, reporter)
    client.force_login(reporter)
    client.post(url("claim_propose", case, claim.pk),
                {"propose-verdict": "confirmed", "propose-note": "Two outlets."})
    claim.refresh_from_db()
    assert (claim.status, claim.proposed_verdict, claim.proposed_by) == (
        S.UNVERIFIED, S.CONFIRMED, reporter)


def test_viewer_post_to_transition_changes_nothing(client, case, viewer, reporter):
    claim = confirmable_claim(case, reporter)
    client.force_login(viewer)
    response = client.post(url("claim_transition", case, claim.pk),
                           {"to_status": "in_review", "note": ""})
    assert "Viewers can read the case" in response.content.decode()
    assert Claim.objects.get(pk=claim.pk).status == S.UNVERIFIED


def test_claim_page_query_count_does_not_grow(client, case, reporter, editor,
                                              django_assert_max_num_queries):
    claim = confirmable_claim(case, reporter)
    client.force_login(editor)
    with django_assert_max_num_queries(30) as baseline:
        client.get(url("claim_detail", case, claim.pk))
    for i in range(199):
        CitationFactory(claim=claim, source=SourceFactory(case=case))
        workflow.propose(claim, S.FALSE, actor=reporter, note=f"Note {i}")
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(url("claim_detail", case, claim.pk))


def test_review_queue_lists_claims_awaiting_my_verdict(client, case, reporter, editor):
    claim = confirmable_claim(case, reporter)
    workflow.propose(claim, S.CONFIRMED, actor=reporter, note="Ready.")
    ClaimFactory(case=case, statement="Nobody looked at this yet.")
    client.force_login(editor)
    page = client.get(reverse("cases:review_queue")).content.decode()
    assert "Ten inmates deserted." in page and "reporter proposes confirmed" in page
    assert "Nobody looked at this yet." not in page


def test_review_queue_is_empty_for_a_reporter(client, case, reporter):
    workflow.propose(confirmable_claim(case, reporter), S.CONFIRMED, actor=reporter, note="Ready.")
    client.force_login(reporter)
    assert "Nothing is waiting" in client.get(reverse("cases:review_queue")).content.decode()


# --- Sources, evidence, tasks, activity -----------------------------------------------------

def test_sources_show_codenames_and_attribution_chains(client, case, viewer):
    outlet = SourceFactory(case=case, name="161.ru", reliability="C")
    insiders = SourceFactory(case=case, name="Investigators-R", protected=True,
                             reached_via=outlet)
    insiders_identity = "Real Name Never Shown"
    SourceIdentity.objects.create(source=insiders, real_name=insiders_identity)
    CitationFactory(claim=ClaimFactory(case=case), source=insiders, relays=[outlet])
    client.force_login(viewer)
    page = client.get(url("source_list", case)).content.decode()
    assert "161.ru → Investigators-R" in page
    assert "C – Fairly reliable" in page
    assert insiders_identity not in page


def test_evidence_download_streams_the_file_and_logs_custody(client, case, viewer):
    evidence = EvidenceFactory(case=case, file=ContentFile(b"original bytes", name="a.pdf"))
    client.force_login(viewer)
    listing = client.get(url("evidence_list", case)).content.decode()
    assert evidence.sha256 in listing
    response = client.get(url("evidence_download", case, evidence.pk))
    assert b"".join(response.streaming_content) == b"original bytes"
    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]
    entry = CustodyEntry.objects.get(evidence=evidence)
    assert (entry.action, entry.actor) == ("downloaded", viewer)


def test_evidence_download_is_404_for_an_outsider_and_logs_nothing(client, case, outsider):
    evidence = EvidenceFactory(case=case)
    client.force_login(outsider)
    assert client.get(url("evidence_download", case, evidence.pk)).status_code == 404
    assert not CustodyEntry.objects.exists()


def test_tasks_mark_overdue_ones(client, case, reporter):
    TaskFactory(case=case, title="Geolocate the ground", assignee=reporter,
                due_on=timezone.localdate() - dt.timedelta(days=1))
    TaskFactory(case=case, title="Done thing", state=TaskState.DONE)
    client.force_login(reporter)
    page = client.get(url("task_list", case)).content.decode()
    assert "Geolocate the ground" in page and "overdue since" in page
    assert "<s>Done thing</s>" in page


def test_activity_lists_changes_and_verification_newest_first(client, case, reporter, editor):
    claim = confirmable_claim(case, reporter)
    workflow.transition(claim, S.IN_REVIEW, actor=reporter, note="")
    client.force_login(editor)
    items = client.get(url("activity", case)).context["items"]
    texts = [i.text for i in items]
    assert texts[0].startswith("moved “Ten inmates deserted.” from unverified to in review")
    assert any(t.startswith("added claim") for t in texts)
    # A move leads to the claim; a change to the record's history, which says what changed.
    assert items[0].url == reverse("cases:claim_detail", args=[case.slug, claim.pk])
    added = next(i for i in items if i.text.startswith("added claim"))
    assert added.url == reverse("cases:claim_history", args=[case.slug, claim.pk])
    assert client.get(url("activity", case), {"before": "not a date"}).status_code == 200


def test_activity_names_a_source_protected_since_by_its_codename_only(client, case, reporter,
                                                                     viewer):
    source = SourceFactory(case=case, name="Ivan Petrov")  # entered before anyone thought
    source.name, source.protected = "Insider 7", True
    source.save()
    client.force_login(viewer)
    for address in (url("activity", case), reverse("cases:dashboard")):
        page = client.get(address).content.decode()
        assert "Ivan Petrov" not in page
        assert page.count("Insider 7") >= 2  # the row that added it and the row that renamed it


@pytest.mark.parametrize("name", ["timeline", "claims_board", "source_list", "evidence_list",
                                  "task_list", "activity"])
def test_workspace_tab_is_404_for_an_outsider(client, case, outsider, name):
    client.force_login(outsider)
    assert client.get(url(name, case)).status_code == 404


def test_figures_reach_the_board(client, case, viewer):
    ClaimFactory(case=case, figure_value=Decimal("300"), figure_qualifier="nearly",
                 figure_unit="dead, captured or missing")
    client.force_login(viewer)
    assert "nearly 300 dead, captured or missing" in client.get(
        url("claims_board", case)).content.decode()


def test_timeline_shows_a_request_about_an_undated_incident_right_after_it(client, case,
                                                                          viewer):
    undated = IncidentFactory(case=case, title="Desertion", occurred="XXXX-05-09")
    IncidentFactory(case=case, title="Dated arrest", occurred="2025-05-20")
    CommentRequestFactory(case=case, incident=undated, party_name="Defence Ministry",
                          asked_at=dt.datetime(2025, 5, 12, tzinfo=dt.UTC))
    client.force_login(viewer)
    page = client.get(url("timeline", case)).content.decode()
    assert page.index("Dated arrest") < page.index("Desertion") < page.index("Defence Ministry")


def test_activity_shows_a_status_change_once_as_the_workflow_event(client, case, reporter,
                                                                   editor):
    claim = confirmable_claim(case, reporter)
    workflow.transition(claim, S.IN_REVIEW, actor=reporter, note="")
    workflow.propose(claim, S.CONFIRMED, actor=reporter, note="Ready.")
    CommentRequestFactory(case=case, party_name="", party_source=SourceFactory(
        case=case, name="Defence Ministry"))
    client.force_login(editor)
    texts = [i.text for i in client.get(url("activity", case)).context["items"]]
    assert not any(t.startswith("changed claim") for t in texts)
    assert sum(t.startswith(("moved", "proposed")) for t in texts) == 2
    assert "added request for comment to “Defence Ministry”" in texts
