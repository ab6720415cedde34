"""The verification workflow (cases.workflow): who may move a claim where, the four-eyes rule,
the citations a move needs, proposals, atomicity and the immutable verification history.

The matrices below are written out from DESIGN.md ("Verification workflow"), not imported
from the code they check.
"""

import threading
import time

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from cases import workflow
from cases.enums import CitationRelation, Role, VerificationEventKind
from cases.enums import VerificationStatus as S
from cases.models import Claim, Membership, VerificationEvent

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)

OPEN = [S.UNVERIFIED, S.IN_REVIEW, S.CORROBORATED, S.DISPUTED]
FINALS = [S.CONFIRMED, S.FALSE, S.UNVERIFIABLE]
REPORTER_AND_EDITOR = (Role.REPORTER, Role.EDITOR)
EDITOR_ONLY = (Role.EDITOR,)

# (from, to) → the roles that may make the move; every pair not listed is refused to everyone.
RULES: dict[tuple[S, S], tuple[Role, ...]] = {
    (S.UNVERIFIED, S.IN_REVIEW): REPORTER_AND_EDITOR,
    (S.UNVERIFIED, S.CORROBORATED): REPORTER_AND_EDITOR,
    (S.UNVERIFIED, S.DISPUTED): REPORTER_AND_EDITOR,
    (S.IN_REVIEW, S.CORROBORATED): REPORTER_AND_EDITOR,
    (S.IN_REVIEW, S.DISPUTED): REPORTER_AND_EDITOR,
    (S.CORROBORATED, S.IN_REVIEW): REPORTER_AND_EDITOR,
    (S.CORROBORATED, S.DISPUTED): REPORTER_AND_EDITOR,
    (S.DISPUTED, S.IN_REVIEW): REPORTER_AND_EDITOR,
    (S.DISPUTED, S.CORROBORATED): REPORTER_AND_EDITOR,
    **{(frm, verdict): EDITOR_ONLY for frm in OPEN for verdict in FINALS},
    **{(verdict, S.IN_REVIEW): EDITOR_ONLY for verdict in FINALS},
}

ALLOWED = [(frm, to, role) for (frm, to), roles in RULES.items() for role in roles]
WRONG_ROLE = [
    (frm, to, role)
    for (frm, to), roles in RULES.items()
    for role in (Role.VIEWER, Role.REPORTER, Role.EDITOR)
    if role not in roles
]
DISALLOWED = [(frm, to) for frm in S for to in S if (frm, to) not in RULES]


def _ids(params):
    return ["-".join(str(getattr(p, "value", p)) for p in row) for row in params]


# ---------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture
def author(make_member):
    """The reporter who wrote the claims: nobody else in these tests is their creator."""
    return make_member(Role.REPORTER, username="author")


@pytest.fixture
def users(viewer, reporter, editor):
    return {Role.VIEWER: viewer, Role.REPORTER: reporter, Role.EDITOR: editor}


@pytest.fixture
def claim(case, author):
    return ClaimFactory(case=case, created_by=author,
                        statement="Ten soldiers deserted from the training ground.")


def cite(claim, relation=CitationRelation.REPORTS, *, source=None, via=None, **source_kwargs):
    """`via`: the one source the citation came through (its relay)."""
    source = source or SourceFactory(case=claim.case, **source_kwargs)
    return CitationFactory(claim=claim, source=source, relation=relation,
                           relays=[via] if via else [])


@pytest.fixture
def evidenced_claim(claim):
    """A claim whose citations support every move: two independent reports and a denial."""
    cite(claim, name="161.ru")
    cite(claim, name="Astra")
    cite(claim, CitationRelation.DENIES, name="Defence Ministry")
    return claim


def set_status(claim, status, **fields):
    """Put a claim in a starting state for a test (the workflow is what is under test)."""
    Claim.objects.filter(pk=claim.pk).update(status=status, **fields)
    claim.refresh_from_db()
    return claim


def snapshot(claim):
    """Everything a refused call must leave as it was."""
    row = Claim.objects.get(pk=claim.pk)
    return {
        "status": row.status,
        "proposed_verdict": row.proposed_verdict,
        "proposed_by": row.proposed_by_id,
        "updated_at": row.updated_at,
        "events": VerificationEvent.objects.filter(claim=claim).count(),
        "history": Claim.history.filter(id=claim.pk).count(),
    }


def assert_refused(claim, call, *codes):
    """`call()` raises ValidationError, every reason with its code, and changes nothing; with
    `codes`, those are exactly the reasons' codes."""
    before = snapshot(claim)
    in_memory = (claim.status, claim.proposed_verdict, claim.proposed_by_id)
    with pytest.raises(ValidationError) as excinfo:
        call()
    assert snapshot(claim) == before
    assert (claim.status, claim.proposed_verdict, claim.proposed_by_id) == in_memory
    found = workflow.refusal_codes(excinfo.value)
    assert len(found) == len(excinfo.value.messages)  # every reason has its code
    if codes:
        assert set(found) == set(codes), found
    return excinfo.value


NOTE = "Checked against the unit's own roll call."
REASON = "The indictment itself is the primary document here."
R = workflow.Refusal


# ---------------------------------------------------------------------------------------------
# every allowed move


@pytest.mark.parametrize("from_status, to_status, role", ALLOWED, ids=_ids(ALLOWED))
def test_transition_allowed_move_succeeds_and_writes_event(
        evidenced_claim, users, from_status, to_status, role):
    claim = set_status(evidenced_claim, from_status)
    actor = users[role]
    events_before = VerificationEvent.objects.filter(claim=claim).count()
    history_before = claim.history.count()

    event = workflow.transition(claim, to_status, actor=actor, note=f"  {NOTE}  ")

    assert claim.status == to_status  # the caller's copy follows
    claim.refresh_from_db()
    assert claim.status == to_status
    assert VerificationEvent.objects.filter(claim=claim).count() == events_before + 1
    stored = VerificationEvent.objects.get(pk=event.pk)
    assert stored.claim_id == claim.pk
    assert stored.kind == VerificationEventKind.TRANSITION
    assert (stored.from_status, stored.to_status) == (from_status, to_status)
    assert stored.actor == actor
    assert stored.note == NOTE  # stripped
    assert stored.override_reason == ""
    assert stored.created_at is not None
    assert claim.events.latest() == stored
    assert claim.history.count() == history_before + 1
    assert claim.history.first().history_user == actor
    assert claim.history.first().status == to_status


# ---------------------------------------------------------------------------------------------
# refusals: who


@pytest.mark.parametrize("from_status, to_status, role", WRONG_ROLE, ids=_ids(WRONG_ROLE))
def test_transition_wrong_role_is_refused(evidenced_claim, users, from_status, to_status, role):
    claim = set_status(evidenced_claim, from_status)
    # Viewers only read; reporters may neither give a verdict (they propose one) nor reopen.
    if role == Role.VIEWER:
        code = R.ROLE_TOO_LOW
    elif from_status in FINALS:
        code = R.REOPEN_NEEDS_EDITOR
    else:
        code = R.VERDICT_NEEDS_EDITOR

    assert_refused(claim, lambda: workflow.transition(claim, to_status, actor=users[role],
                                                      note=NOTE), code)


@pytest.mark.parametrize("from_status, to_status", list(RULES), ids=_ids(RULES))
def test_transition_by_outsider_is_refused(evidenced_claim, outsider, from_status, to_status):
    claim = set_status(evidenced_claim, from_status)

    assert_refused(claim, lambda: workflow.transition(claim, to_status, actor=outsider,
                                                      note=NOTE),
                   R.NOT_A_MEMBER)


@pytest.mark.parametrize("to_status", [S.IN_REVIEW, S.CONFIRMED])
def test_transition_by_viewer_is_refused_as_read_only(evidenced_claim, viewer, to_status):
    # Not verdict_needs_editor, whose advice is to propose: viewers cannot propose either.
    assert_refused(
        evidenced_claim,
        lambda: workflow.transition(evidenced_claim, to_status, actor=viewer, note=NOTE),
        R.ROLE_TOO_LOW,
    )


@pytest.mark.parametrize("verdict", FINALS)
def test_transition_reporter_giving_verdict_is_told_to_propose(evidenced_claim, reporter,
                                                               verdict):
    assert_refused(
        evidenced_claim,
        lambda: workflow.transition(evidenced_claim, verdict, actor=reporter, note=NOTE),
        R.VERDICT_NEEDS_EDITOR,
    )


@pytest.mark.parametrize("verdict", FINALS)
def test_transition_reporter_reopening_is_refused(evidenced_claim, reporter, verdict):
    claim = set_status(evidenced_claim, verdict)

    assert_refused(claim, lambda: workflow.transition(claim, S.IN_REVIEW, actor=reporter,
                                                      note=NOTE),
                   R.REOPEN_NEEDS_EDITOR)


def test_transition_by_editor_of_another_case_is_refused(evidenced_claim):
    other_editor = UserFactory(username="elsewhere")
    MembershipFactory(case=CaseFactory(), user=other_editor, role=Role.EDITOR)

    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, S.CONFIRMED,
                                               actor=other_editor, note=NOTE),
                   R.NOT_A_MEMBER)


def test_transition_by_non_member_superuser_is_refused(evidenced_claim):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)

    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, S.IN_REVIEW, actor=admin,
                                               note=NOTE),
                   R.NOT_A_MEMBER)


def test_transition_by_inactive_editor_is_refused(evidenced_claim, editor):
    editor.is_active = False
    editor.save()

    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor,
                                               note=NOTE),
                   R.NOT_A_MEMBER)


def test_transition_by_anonymous_user_is_refused(evidenced_claim):
    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, S.IN_REVIEW,
                                               actor=AnonymousUser(), note=NOTE),
                   R.NOT_A_MEMBER)


# ---------------------------------------------------------------------------------------------
# refusals: which moves


@pytest.mark.parametrize("from_status, to_status", DISALLOWED, ids=_ids(DISALLOWED))
def test_transition_disallowed_move_is_refused_even_for_editor(
        evidenced_claim, editor, from_status, to_status):
    claim = set_status(evidenced_claim, from_status)
    # Every move the table leaves out is one of three: to where the claim already is, back to
    # unverified, or on from a verdict without reopening it.
    if from_status == to_status:
        code = R.ALREADY_IN_STATUS
    elif to_status == S.UNVERIFIED:
        code = R.NO_RETURN_TO_UNVERIFIED
    else:
        assert from_status in FINALS
        code = R.REOPEN_FIRST

    assert_refused(claim, lambda: workflow.transition(claim, to_status, actor=editor,
                                                      note=NOTE), code)


@pytest.mark.parametrize("from_status", [s for s in S if s != S.UNVERIFIED])
def test_transition_back_to_unverified_is_refused(evidenced_claim, editor, from_status):
    claim = set_status(evidenced_claim, from_status)

    assert_refused(claim, lambda: workflow.transition(claim, S.UNVERIFIED, actor=editor,
                                                      note=NOTE),
                   R.NO_RETURN_TO_UNVERIFIED)


@pytest.mark.parametrize("from_status, to_status",
                         [(a, b) for a in FINALS for b in FINALS if a != b])
def test_transition_verdict_to_verdict_needs_reopening_first(evidenced_claim, editor,
                                                             from_status, to_status):
    claim = set_status(evidenced_claim, from_status)

    assert_refused(claim, lambda: workflow.transition(claim, to_status, actor=editor,
                                                      note=NOTE),
                   R.REOPEN_FIRST)


@pytest.mark.parametrize("status", list(S))
def test_transition_to_same_status_is_refused(evidenced_claim, editor, status):
    claim = set_status(evidenced_claim, status)

    assert_refused(claim, lambda: workflow.transition(claim, status, actor=editor, note=NOTE),
                   R.ALREADY_IN_STATUS)


@pytest.mark.parametrize("bad", ["approved", "", None, "CONFIRMED"])
def test_transition_unknown_status_is_refused(evidenced_claim, editor, bad):
    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, bad, actor=editor, note=NOTE),
                   R.INVALID_STATUS)


def test_transition_accepts_status_as_plain_string(evidenced_claim, editor):
    workflow.transition(evidenced_claim, "in_review", actor=editor)

    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == S.IN_REVIEW


def test_transition_uses_the_database_status_not_a_stale_copy(evidenced_claim, editor,
                                                              second_editor):
    stale = Claim.objects.get(pk=evidenced_claim.pk)
    workflow.transition(evidenced_claim, S.FALSE, actor=editor, note=NOTE)

    # `stale` still says unverified, but the claim now has a verdict: no reporter-level move.
    assert_refused(stale, lambda: workflow.transition(stale, S.CORROBORATED,
                                                      actor=second_editor, note=NOTE),
                   R.REOPEN_FIRST)
    event = workflow.transition(stale, S.IN_REVIEW, actor=second_editor, note="New footage.")
    assert event.from_status == S.FALSE


# ---------------------------------------------------------------------------------------------
# four-eyes


@pytest.mark.parametrize("verdict", FINALS)
def test_transition_four_eyes_creator_editor_cannot_give_verdict(case, editor, second_editor,
                                                                 verdict):
    claim = ClaimFactory(case=case, created_by=editor)
    cite(claim)
    cite(claim)

    assert_refused(claim, lambda: workflow.transition(claim, verdict, actor=editor, note=NOTE),
                   R.FOUR_EYES)
    workflow.transition(claim, verdict, actor=second_editor, note=NOTE)
    claim.refresh_from_db()
    assert claim.status == verdict


def test_transition_four_eyes_creator_may_still_make_open_moves(case, editor):
    claim = ClaimFactory(case=case, created_by=editor)

    workflow.transition(claim, S.IN_REVIEW, actor=editor)

    claim.refresh_from_db()
    assert claim.status == S.IN_REVIEW


@pytest.mark.parametrize("verdict", FINALS)
def test_transition_four_eyes_proposer_cannot_give_verdict(evidenced_claim, editor,
                                                           second_editor, verdict):
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=editor, note="Two sources agree.")

    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, verdict, actor=editor,
                                               note=NOTE),
                   R.FOUR_EYES)
    workflow.transition(evidenced_claim, verdict, actor=second_editor, note=NOTE)
    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == verdict


def test_transition_four_eyes_survives_a_later_proposal_by_someone_else(
        evidenced_claim, editor, reporter, second_editor):
    """Another member's later proposal replaces the pending one, but the editor who proposed
    a verdict in this round still may not decide it."""
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=editor, note="Two sources agree.")
    workflow.propose(evidenced_claim, S.UNVERIFIABLE, actor=reporter, note="Not sure.")

    assert S.CONFIRMED not in _targets(evidenced_claim, editor)
    for verdict in FINALS:
        assert_refused(evidenced_claim,
                       lambda v=verdict: workflow.transition(evidenced_claim, v, actor=editor,
                                                             note=NOTE),
                       R.FOUR_EYES)
    workflow.transition(evidenced_claim, S.CONFIRMED, actor=second_editor, note=NOTE)
    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == S.CONFIRMED


def test_transition_four_eyes_does_not_block_reopening(evidenced_claim, editor,
                                                       second_editor):
    workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor, note=NOTE)

    workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor, note="New denial.")

    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == S.IN_REVIEW


def test_transition_verdict_settles_pending_proposal(evidenced_claim, reporter, editor):
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=reporter, note="Two sources agree.")

    workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor, note=NOTE)

    evidenced_claim.refresh_from_db()
    assert (evidenced_claim.proposed_verdict, evidenced_claim.proposed_by) == ("", None)


def test_transition_open_move_keeps_pending_proposal(evidenced_claim, reporter, editor):
    workflow.propose(evidenced_claim, S.FALSE, actor=reporter, note="The unit denies it.")

    workflow.transition(evidenced_claim, S.DISPUTED, actor=editor)

    evidenced_claim.refresh_from_db()
    assert evidenced_claim.proposed_verdict == S.FALSE
    assert evidenced_claim.proposed_by == reporter


# ---------------------------------------------------------------------------------------------
# refusals: what the record must show


@pytest.mark.parametrize("verdict", FINALS)
def test_transition_verdict_without_citation_is_refused(claim, editor, verdict):
    assert_refused(claim, lambda: workflow.transition(claim, verdict, actor=editor, note=NOTE),
                   R.CITATION_REQUIRED)


@pytest.mark.parametrize("verdict", FINALS)
@pytest.mark.parametrize("note", ["", "   \n ", None])
def test_transition_verdict_without_rationale_is_refused(evidenced_claim, editor, verdict,
                                                         note):
    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, verdict, actor=editor,
                                               note=note),
                   R.RATIONALE_REQUIRED)


def test_transition_verdict_lists_every_missing_thing(claim, editor):
    error = assert_refused(claim, lambda: workflow.transition(claim, S.FALSE, actor=editor))

    assert workflow.refusal_codes(error) == [R.RATIONALE_REQUIRED, R.CITATION_REQUIRED]


@pytest.mark.parametrize("verdict", FINALS)
def test_transition_reopening_without_note_is_refused(evidenced_claim, editor, verdict):
    claim = set_status(evidenced_claim, verdict)

    assert_refused(claim, lambda: workflow.transition(claim, S.IN_REVIEW, actor=editor,
                                                      note="  "),
                   R.RATIONALE_REQUIRED)


@pytest.mark.parametrize("from_status", [S.UNVERIFIED, S.IN_REVIEW, S.DISPUTED])
def test_transition_corroborated_with_one_supporting_citation_is_refused(claim, reporter,
                                                                         from_status):
    claim = set_status(claim, from_status)
    cite(claim, CitationRelation.REPORTS)
    cite(claim, CitationRelation.DENIES)
    cite(claim, CitationRelation.DECLINED_TO_COMMENT)

    assert_refused(claim, lambda: workflow.transition(claim, S.CORROBORATED, actor=reporter),
                   R.TWO_CITATIONS_REQUIRED)


def test_transition_corroborated_without_citations_is_refused(claim, reporter):
    assert_refused(claim, lambda: workflow.transition(claim, S.CORROBORATED, actor=reporter),
                   R.TWO_CITATIONS_REQUIRED)


@pytest.mark.parametrize("relations", [
    (CitationRelation.REPORTS, CitationRelation.REPORTS),
    (CitationRelation.REPORTS, CitationRelation.CONFIRMS),
    (CitationRelation.CONFIRMS, CitationRelation.CONFIRMS),
])
def test_transition_corroborated_with_two_supporting_citations_succeeds(claim, reporter,
                                                                        relations):
    for relation in relations:
        cite(claim, relation)

    workflow.transition(claim, S.CORROBORATED, actor=reporter)

    claim.refresh_from_db()
    assert claim.status == S.CORROBORATED


@pytest.mark.parametrize("relation", [CitationRelation.REPORTS, CitationRelation.CONFIRMS,
                                      CitationRelation.DECLINED_TO_COMMENT])
def test_transition_disputed_without_denial_is_refused(claim, reporter, relation):
    cite(claim, relation)
    cite(claim, relation)

    assert_refused(claim, lambda: workflow.transition(claim, S.DISPUTED, actor=reporter),
                   R.DENIAL_REQUIRED)


def test_transition_disputed_with_one_denial_succeeds(claim, reporter):
    cite(claim, CitationRelation.DENIES)

    workflow.transition(claim, S.DISPUTED, actor=reporter)

    claim.refresh_from_db()
    assert claim.status == S.DISPUTED


@pytest.mark.parametrize("verdict", [S.FALSE, S.UNVERIFIABLE])
def test_transition_false_or_unverifiable_needs_only_one_citation(claim, editor, verdict):
    cite(claim, CitationRelation.DENIES)

    workflow.transition(claim, verdict, actor=editor, note=NOTE)

    claim.refresh_from_db()
    assert claim.status == verdict


def test_transition_citations_of_another_claim_do_not_count(case, claim, editor):
    other = ClaimFactory(case=case)
    cite(other)
    cite(other)

    assert_refused(claim, lambda: workflow.transition(claim, S.CORROBORATED, actor=editor),
                   R.TWO_CITATIONS_REQUIRED)


# ---------------------------------------------------------------------------------------------
# confirmed: two independent sources, or an override


# Each way citations can depend on one another, and whether two of them stay independent:
# scenario → (independent, how the claim is cited).
def _two_outlets(claim):
    cite(claim, name="161.ru")
    cite(claim, CitationRelation.CONFIRMS, name="Regional prosecutor")


def _one_source_twice(claim):
    outlet = SourceFactory(case=claim.case, name="161.ru")
    cite(claim, source=outlet)
    cite(claim, CitationRelation.CONFIRMS, source=outlet)


def _relayed_by_the_other(claim):
    outlet = SourceFactory(case=claim.case, name="161.ru")
    cite(claim, source=outlet)
    # 161.ru relaying the investigators
    cite(claim, name="Anonymous military investigators", via=outlet)


def _via_the_same_relay(claim):
    outlet = SourceFactory(case=claim.case, name="161.ru")
    cite(claim, name="Investigator A", via=outlet)
    cite(claim, name="Investigator B", via=outlet)


def _reached_via_the_other(claim):
    outlet = SourceFactory(case=claim.case, name="161.ru")
    cite(claim, source=outlet)
    cite(claim, name="Anonymous military investigators", reached_via=outlet)


def _sharing_an_origin(claim):
    insiders = SourceFactory(case=claim.case, name="Insiders in the unit")
    cite(claim, name="161.ru", reached_via=insiders)
    cite(claim, name="Baza", reached_via=insiders)


def _sharing_a_distant_origin(claim):
    insiders = SourceFactory(case=claim.case, name="Insiders in the unit")
    channel = SourceFactory(case=claim.case, name="Telegram channel", reached_via=insiders)
    outlet = SourceFactory(case=claim.case, name="161.ru", reached_via=channel)
    cite(claim, name="Agency", reached_via=outlet)
    cite(claim, name="Baza", via=channel)


def _via_and_reached_via_mixed(claim):
    insiders = SourceFactory(case=claim.case, name="Insiders in the unit")
    outlet = SourceFactory(case=claim.case, name="161.ru", reached_via=insiders)
    cite(claim, name="Agency", via=outlet)
    cite(claim, source=insiders)


def _a_cycle_in_reached_via(claim):
    first = SourceFactory(case=claim.case, name="First")
    second = SourceFactory(case=claim.case, name="Second", reached_via=first)
    first.reached_via = second  # a cycle in the data (Source.clean refuses it in forms)
    first.save()
    cite(claim, source=first)
    cite(claim, source=second)


def _protected_source_relayed_by_its_outlet(claim):
    outlet = SourceFactory(case=claim.case, name="161.ru")
    insiders = SourceFactory(case=claim.case, name="Investigators-R", reached_via=outlet,
                             protected=True)
    cite(claim, source=outlet)
    cite(claim, source=insiders, via=outlet)


def _one_independent_pair_among_dependent(claim):
    outlet = SourceFactory(case=claim.case, name="161.ru")
    cite(claim, source=outlet)
    cite(claim, name="Investigators", via=outlet)
    cite(claim, name="Regional prosecutor")


def _the_two_ends_of_a_chain(claim):
    # A relays B's source, B relays C's: A and C share no source.
    first, second, third, fourth = (SourceFactory(case=claim.case, name=f"S{n}")
                                    for n in range(4))
    cite(claim, source=first, via=second)
    cite(claim, source=second, via=third)
    cite(claim, source=fourth, via=third)


INDEPENDENCE = {
    "two outlets": (True, _two_outlets),
    "one source twice": (False, _one_source_twice),
    "one relayed by the other": (False, _relayed_by_the_other),
    "via the same relay": (False, _via_the_same_relay),
    "one reached via the other": (False, _reached_via_the_other),
    "sharing an origin": (False, _sharing_an_origin),
    "sharing a distant origin": (False, _sharing_a_distant_origin),
    "via and reached_via mixed": (False, _via_and_reached_via_mixed),
    "a cycle in reached_via": (False, _a_cycle_in_reached_via),
    "a protected source relayed by its outlet": (False,
                                                 _protected_source_relayed_by_its_outlet),
    "one independent pair among dependent": (True, _one_independent_pair_among_dependent),
    "the two ends of a chain": (True, _the_two_ends_of_a_chain),
}


@pytest.mark.parametrize("scenario", list(INDEPENDENCE))
@pytest.mark.parametrize("to_status", [S.CORROBORATED, S.CONFIRMED])
def test_transition_needs_two_independent_supporting_citations(claim, reporter, editor,
                                                               to_status, scenario):
    """Corroborated, and confirmed without an override, need two supporting citations that
    share no source; the record is refused, never hung by a cycle, when none do."""
    independent, cited = INDEPENDENCE[scenario]
    cited(claim)
    actor = reporter if to_status == S.CORROBORATED else editor

    def move():
        return workflow.transition(claim, to_status, actor=actor, note=NOTE)

    if not independent:
        assert_refused(claim, move, R.INDEPENDENT_SOURCES_REQUIRED)
        return
    event = move()
    assert (event.to_status, event.override_reason) == (to_status, "")
    assert Claim.objects.get(pk=claim.pk).status == to_status


def test_transition_confirmed_with_one_citation_is_refused(claim, editor):
    cite(claim)

    assert_refused(claim, lambda: workflow.transition(claim, S.CONFIRMED, actor=editor,
                                                      note=NOTE),
                   R.INDEPENDENT_SOURCES_REQUIRED)


def test_transition_confirmed_denials_do_not_count_as_the_second_source(claim, editor):
    cite(claim, name="161.ru")
    cite(claim, CitationRelation.DENIES, name="Defence Ministry")
    cite(claim, CitationRelation.DECLINED_TO_COMMENT, name="Governor's office")

    assert_refused(claim, lambda: workflow.transition(claim, S.CONFIRMED, actor=editor,
                                                      note=NOTE),
                   R.INDEPENDENT_SOURCES_REQUIRED)


def test_transition_confirmed_only_denials_is_refused_even_with_override(claim, editor):
    cite(claim, CitationRelation.DENIES)

    assert_refused(claim, lambda: workflow.transition(claim, S.CONFIRMED, actor=editor,
                                                      note=NOTE,
                                                      override_reason=REASON),
                   R.SUPPORTING_CITATION_REQUIRED)


@pytest.mark.parametrize("setup", ["single", "same_source", "via", "reached_via"])
def test_transition_confirmed_with_override_reason_succeeds(case, claim, editor, setup):
    # Graded A to D: no acknowledgement of a low grade is needed (see the E and F tests).
    outlet = SourceFactory(case=case, name="161.ru", reliability="C")
    cite(claim, source=outlet)
    if setup == "same_source":
        cite(claim, source=outlet)
    elif setup == "via":
        cite(claim, name="Investigators", via=outlet, reliability="D")
    elif setup == "reached_via":
        cite(claim, name="Investigators", reached_via=outlet, reliability="B")
    reason = "The prosecutor's indictment is itself the primary document."

    event = workflow.transition(claim, S.CONFIRMED, actor=editor, note=NOTE,
                                override_reason=f" {reason} ")

    claim.refresh_from_db()
    assert claim.status == S.CONFIRMED
    stored = VerificationEvent.objects.get(pk=event.pk)
    assert stored.override_reason == reason
    assert stored.note == NOTE


@pytest.mark.parametrize("to_status", [S.FALSE, S.UNVERIFIABLE, S.IN_REVIEW,
                                       S.CORROBORATED, S.DISPUTED])
def test_transition_override_reason_on_other_moves_is_refused(evidenced_claim, editor,
                                                              to_status):
    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, to_status, actor=editor,
                                               note=NOTE, override_reason="Because."),
                   R.OVERRIDE_NOT_FOR_THIS_MOVE)


def test_transition_whitespace_override_reason_is_no_override(claim, editor):
    cite(claim)

    assert_refused(claim, lambda: workflow.transition(claim, S.CONFIRMED, actor=editor,
                                                      note=NOTE, override_reason="   "),
                   R.INDEPENDENT_SOURCES_REQUIRED)


def test_transition_override_needs_a_rationale_too(claim, editor):
    cite(claim)

    assert_refused(claim, lambda: workflow.transition(claim, S.CONFIRMED, actor=editor,
                                                      override_reason=REASON,
                                                      acknowledge_low_grade=True),
                   R.RATIONALE_REQUIRED)

# ---------------------------------------------------------------------------------------------
# a single-source override: a reason of substance, and E or F grades acknowledged

def refusal_codes(claim, call) -> set[str]:
    """`call()` is refused, changes nothing; the codes of its reasons."""
    before = snapshot(claim)
    with pytest.raises(ValidationError) as excinfo:
        call()
    assert snapshot(claim) == before
    codes = workflow.refusal_codes(excinfo.value)
    assert len(codes) == len(excinfo.value.messages)  # every reason has its code
    return set(codes)


def confirm(claim, editor, **kwargs):
    return lambda: workflow.transition(claim, S.CONFIRMED, actor=editor, note=NOTE, **kwargs)


def test_transition_one_character_override_on_a_source_graded_e_is_refused(claim, editor):
    cite(claim, name="Telegram channel", reliability="E")

    assert refusal_codes(claim, confirm(claim, editor, override_reason="x")) == {
        R.OVERRIDE_REASON_TOO_SHORT, R.LOW_GRADE_NOT_ACKNOWLEDGED}


def test_transition_override_reason_shorter_than_the_minimum_is_refused(claim, editor):
    cite(claim, reliability="C")
    # Spaces do not make a reason longer.
    short = "    ".join(["ab"] * 9)
    assert len(short) >= workflow.OVERRIDE_REASON_MIN_LENGTH > len(" ".join(short.split()))

    assert refusal_codes(claim, confirm(claim, editor, override_reason="Because.")) == {
        R.OVERRIDE_REASON_TOO_SHORT}
    assert refusal_codes(claim, confirm(claim, editor, override_reason=short)) == {
        R.OVERRIDE_REASON_TOO_SHORT}

    event = confirm(claim, editor,
                    override_reason="y" * workflow.OVERRIDE_REASON_MIN_LENGTH)()
    assert event.to_status == S.CONFIRMED


def test_transition_short_override_is_refused_even_with_independent_sources(claim, editor):
    cite(claim, name="161.ru", reliability="C")
    cite(claim, name="Astra", reliability="B")

    assert refusal_codes(claim, confirm(claim, editor, override_reason="ok")) == {
        R.OVERRIDE_REASON_TOO_SHORT}


@pytest.mark.parametrize("grade", ["E", "F"])
def test_transition_single_source_graded_e_or_f_needs_the_acknowledgement(claim, editor,
                                                                          grade):
    cite(claim, name="Telegram channel", reliability=grade)

    assert refusal_codes(claim, confirm(claim, editor, override_reason=REASON)) == {
        R.LOW_GRADE_NOT_ACKNOWLEDGED}

    event = confirm(claim, editor, override_reason=REASON, acknowledge_low_grade=True)()
    assert (event.to_status, event.override_reason) == (S.CONFIRMED, REASON)
    claim.refresh_from_db()
    assert claim.status == S.CONFIRMED


@pytest.mark.parametrize("grade", ["A", "B", "C", "D"])
def test_transition_single_source_graded_a_to_d_needs_no_acknowledgement(claim, editor, grade):
    cite(claim, reliability=grade)

    assert confirm(claim, editor, override_reason=REASON)().to_status == S.CONFIRMED


def test_transition_low_grade_anywhere_in_the_chain_needs_the_acknowledgement(case, claim,
                                                                             editor):
    outlet = SourceFactory(case=case, name="161.ru", reliability="C")
    cite(claim, name="Investigators", reliability="F", via=outlet)

    assert refusal_codes(claim, confirm(claim, editor, override_reason=REASON)) == {
        R.LOW_GRADE_NOT_ACKNOWLEDGED}


def test_transition_independent_sources_graded_e_need_no_acknowledgement(claim, editor):
    cite(claim, name="Telegram channel", reliability="E")
    cite(claim, name="Regional prosecutor", reliability="B")

    assert confirm(claim, editor)().to_status == S.CONFIRMED


def test_transition_two_independent_ends_of_a_chain_need_no_override(case, claim, editor):
    """A relays B's source, B relays C's: A and C share no source, so they are independent
    (as corroboration counts), though the three merge into one group of origins. The sources
    are graded F (cannot be judged): no acknowledgement is asked either."""
    first, second, third, fourth = (SourceFactory(case=case, name=f"S{n}") for n in range(4))
    cite(claim, source=first, via=second)
    cite(claim, source=second, via=third)
    cite(claim, source=fourth, via=third)
    support = workflow.support_of(claim)
    assert (support.independent, support.needs_acknowledgement) == (True, False)

    assert confirm(claim, editor)().to_status == S.CONFIRMED


# The next two are about the words: one code, independent_sources_required, and the message
# says which of the two situations the claim is in.
def test_transition_single_citation_says_it_has_only_one_source(claim, editor):
    cite(claim, reliability="C")
    with pytest.raises(ValidationError) as excinfo:
        confirm(claim, editor)()
    (message,) = excinfo.value.messages
    assert "only one source" in message and "same origin" not in message
    assert workflow.refusal_codes(excinfo.value) == [R.INDEPENDENT_SOURCES_REQUIRED]


def test_transition_two_citations_of_one_origin_say_they_share_it(case, claim, editor):
    outlet = SourceFactory(case=case, name="161.ru")
    cite(claim, source=outlet)
    cite(claim, CitationRelation.CONFIRMS, source=outlet)
    with pytest.raises(ValidationError) as excinfo:
        confirm(claim, editor)()
    (message,) = excinfo.value.messages
    assert "same origin" in message and "only one source" not in message


def test_support_of_lists_the_sources_and_grades_a_confirmation_rests_on(case, claim):
    outlet = SourceFactory(case=case, name="161.ru", reliability="C")
    cite(claim, name="Investigators-R", reliability="F", via=outlet)
    cite(claim, CitationRelation.DENIES, name="Defence Ministry", reliability="D")

    support = workflow.support_of(claim)

    assert [(s.name, s.reliability) for s in support.sources] == [
        ("161.ru", "C"), ("Investigators-R", "F")]
    assert (support.citations, support.independent, support.needs_acknowledgement) == (
        1, False, True)
    assert [s.name for s in support.low_grade_sources] == ["Investigators-R"]
    assert str(support.low_grade_sources[0]) == (
        "Investigators-R (F – Reliability cannot be judged)")


@pytest.mark.parametrize("scenario, code", [
    ("outsider", R.NOT_A_MEMBER), ("viewer", R.ROLE_TOO_LOW), ("same", R.ALREADY_IN_STATUS),
    ("unverified", R.NO_RETURN_TO_UNVERIFIED), ("creator", R.FOUR_EYES),
    ("bogus", R.INVALID_STATUS), ("reporter verdict", R.VERDICT_NEEDS_EDITOR),
    ("reporter reopens", R.REOPEN_NEEDS_EDITOR), ("verdict to verdict", R.REOPEN_FIRST),
])
def test_transition_authority_refusals_carry_their_code(claim, editor, viewer, reporter,
                                                        author, scenario, code):
    actor, to = {"outsider": (UserFactory(), S.IN_REVIEW), "viewer": (viewer, S.IN_REVIEW),
                 "same": (editor, S.UNVERIFIED), "unverified": (editor, S.UNVERIFIED),
                 "creator": (author, S.FALSE), "bogus": (editor, "bogus"),
                 "reporter verdict": (reporter, S.FALSE),
                 "reporter reopens": (reporter, S.IN_REVIEW),
                 "verdict to verdict": (editor, S.CONFIRMED)}[scenario]
    if scenario == "unverified":
        set_status(claim, S.IN_REVIEW)
    if scenario in ("reporter reopens", "verdict to verdict"):
        set_status(claim, S.FALSE)
    if scenario == "creator":
        Membership.objects.filter(case=claim.case, user=author).update(role=Role.EDITOR)
        cite(claim)

    assert refusal_codes(claim, lambda: workflow.transition(claim, to, actor=actor,
                                                            note=NOTE)) == {code}


def test_transition_record_refusals_carry_their_code(claim, editor):
    assert refusal_codes(claim, lambda: workflow.transition(claim, S.FALSE, actor=editor)) == {
        R.RATIONALE_REQUIRED, R.CITATION_REQUIRED}
    assert refusal_codes(claim, lambda: workflow.transition(
        claim, S.CORROBORATED, actor=editor)) == {R.TWO_CITATIONS_REQUIRED}
    assert refusal_codes(claim, lambda: workflow.transition(
        claim, S.DISPUTED, actor=editor, override_reason=REASON)) == {
        R.OVERRIDE_NOT_FOR_THIS_MOVE, R.DENIAL_REQUIRED}
    cite(claim, CitationRelation.DENIES)
    assert refusal_codes(claim, confirm(claim, editor)) == {R.SUPPORTING_CITATION_REQUIRED}


def test_propose_refusals_carry_their_code(claim, viewer, reporter):
    assert refusal_codes(claim, lambda: workflow.propose(claim, S.IN_REVIEW, actor=viewer,
                                                         note="")) == {
        R.ROLE_TOO_LOW, R.NOT_A_VERDICT, R.RATIONALE_REQUIRED}
    set_status(claim, S.FALSE)
    assert refusal_codes(claim, lambda: workflow.propose(claim, S.CONFIRMED, actor=reporter,
                                                         note=NOTE)) == {R.ALREADY_DECIDED}


# ---------------------------------------------------------------------------------------------
# proposals


@pytest.mark.parametrize("role", [Role.REPORTER, Role.EDITOR])
@pytest.mark.parametrize("verdict", FINALS)
def test_propose_records_event_without_changing_status(evidenced_claim, users, role, verdict):
    claim = set_status(evidenced_claim, S.IN_REVIEW)
    actor = users[role]
    history_before = claim.history.count()

    event = workflow.propose(claim, verdict, actor=actor, note="  Two sources agree.  ")

    assert claim.proposed_verdict == verdict  # the caller's copy follows
    claim.refresh_from_db()
    assert claim.status == S.IN_REVIEW
    assert claim.proposed_verdict == verdict
    assert claim.proposed_by == actor
    stored = VerificationEvent.objects.get(pk=event.pk)
    assert stored.kind == VerificationEventKind.PROPOSAL
    assert (stored.from_status, stored.to_status) == (S.IN_REVIEW, S.IN_REVIEW)
    assert stored.proposed_verdict == verdict
    assert stored.actor == actor
    assert stored.note == "Two sources agree."
    assert str(stored) == f"{actor} proposed {verdict.label}"
    assert claim.history.count() == history_before + 1
    assert claim.history.first().history_user == actor


@pytest.mark.parametrize("status", OPEN)
def test_propose_allowed_from_every_open_status(evidenced_claim, reporter, status):
    claim = set_status(evidenced_claim, status)

    workflow.propose(claim, S.UNVERIFIABLE, actor=reporter, note="Nobody can reach the unit.")

    claim.refresh_from_db()
    assert claim.status == status
    assert claim.proposed_verdict == S.UNVERIFIABLE


def test_propose_later_proposal_replaces_earlier(evidenced_claim, reporter, editor):
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=reporter, note="Two sources.")
    workflow.propose(evidenced_claim, S.FALSE, actor=editor, note="The video is older.")

    evidenced_claim.refresh_from_db()
    assert (evidenced_claim.proposed_verdict, evidenced_claim.proposed_by) == (S.FALSE, editor)
    assert evidenced_claim.events.filter(kind=VerificationEventKind.PROPOSAL).count() == 2


def test_propose_by_viewer_is_refused(evidenced_claim, viewer):
    assert_refused(evidenced_claim,
                   lambda: workflow.propose(evidenced_claim, S.CONFIRMED, actor=viewer,
                                            note="I think so."),
                   R.ROLE_TOO_LOW)


@pytest.mark.parametrize("actor_kind", ["outsider", "anonymous", "inactive"])
def test_propose_by_non_member_is_refused(evidenced_claim, outsider, reporter, actor_kind):
    if actor_kind == "anonymous":
        actor = AnonymousUser()
    elif actor_kind == "inactive":
        reporter.is_active = False
        reporter.save()
        actor = reporter
    else:
        actor = outsider

    assert_refused(evidenced_claim,
                   lambda: workflow.propose(evidenced_claim, S.CONFIRMED, actor=actor,
                                            note="I think so."),
                   R.NOT_A_MEMBER)


@pytest.mark.parametrize("verdict", [S.UNVERIFIED, S.IN_REVIEW, S.CORROBORATED, S.DISPUTED])
def test_propose_non_final_verdict_is_refused(evidenced_claim, reporter, verdict):
    assert_refused(evidenced_claim,
                   lambda: workflow.propose(evidenced_claim, verdict, actor=reporter,
                                            note="Worth a look."),
                   R.NOT_A_VERDICT)


@pytest.mark.parametrize("bad", ["true", "", None])
def test_propose_unknown_verdict_is_refused(evidenced_claim, reporter, bad):
    assert_refused(evidenced_claim,
                   lambda: workflow.propose(evidenced_claim, bad, actor=reporter, note="x"),
                   R.INVALID_STATUS)


@pytest.mark.parametrize("note", ["", "  ", None])
def test_propose_without_note_is_refused(evidenced_claim, reporter, note):
    assert_refused(evidenced_claim,
                   lambda: workflow.propose(evidenced_claim, S.CONFIRMED, actor=reporter,
                                            note=note),
                   R.RATIONALE_REQUIRED)


@pytest.mark.parametrize("verdict", FINALS)
def test_propose_on_claim_with_verdict_is_refused(evidenced_claim, editor, verdict):
    claim = set_status(evidenced_claim, verdict)

    assert_refused(claim, lambda: workflow.propose(claim, S.FALSE, actor=editor, note="x"),
                   R.ALREADY_DECIDED)


def test_propose_then_four_eyes_for_the_proposer(evidenced_claim, editor, second_editor):
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=editor, note="Two sources agree.")

    assert [m.to_status for m in workflow.available_moves(evidenced_claim, editor)] == [
        S.IN_REVIEW, S.CORROBORATED, S.DISPUTED]
    assert_refused(evidenced_claim,
                   lambda: workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor,
                                               note=NOTE),
                   R.FOUR_EYES)

    workflow.transition(evidenced_claim, S.CONFIRMED, actor=second_editor, note=NOTE)

    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == S.CONFIRMED
    kinds = list(evidenced_claim.events.values_list("kind", "actor__username"))
    assert kinds == [(VerificationEventKind.PROPOSAL, "editor"),
                     (VerificationEventKind.TRANSITION, "second_editor")]


def test_propose_reporter_then_editor_decides(evidenced_claim, reporter, editor):
    workflow.propose(evidenced_claim, S.FALSE, actor=reporter, note="The video is from 2019.")

    workflow.transition(evidenced_claim, S.FALSE, actor=editor, note="Reverse image search.")

    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == S.FALSE


def test_propose_after_reopening_is_possible_again(evidenced_claim, editor, second_editor):
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=editor, note="Two sources.")
    workflow.transition(evidenced_claim, S.CONFIRMED, actor=second_editor, note=NOTE)
    workflow.transition(evidenced_claim, S.IN_REVIEW, actor=second_editor, note="A denial.")

    # The reopening cleared the proposal: the first editor may now decide afresh.
    workflow.transition(evidenced_claim, S.FALSE, actor=editor, note="The denial holds.")

    evidenced_claim.refresh_from_db()
    assert evidenced_claim.status == S.FALSE


# ---------------------------------------------------------------------------------------------
# available_moves


def _targets(claim, user):
    return {move.to_status for move in workflow.available_moves(claim, user)}


@pytest.mark.parametrize("status", list(S))
def test_available_moves_follow_the_table_for_each_role(claim, users, outsider, status):
    claim = set_status(claim, status)

    for role, user in users.items():
        expected = {to for (frm, to), roles in RULES.items() if frm == status and role in roles}
        assert _targets(claim, user) == expected, role
    assert _targets(claim, outsider) == set()
    assert _targets(claim, AnonymousUser()) == set()


def test_available_moves_viewer_gets_none(claim, viewer):
    assert workflow.available_moves(claim, viewer) == []


def test_available_moves_reporter_on_new_claim(claim, reporter):
    assert [m.to_status for m in workflow.available_moves(claim, reporter)] == [
        S.IN_REVIEW, S.CORROBORATED, S.DISPUTED]


def test_available_moves_editor_on_new_claim_marks_notes_and_override(claim, editor):
    moves = {m.to_status: m for m in workflow.available_moves(claim, editor)}

    assert set(moves) == {S.IN_REVIEW, S.CORROBORATED, S.DISPUTED, *FINALS}
    for status, move in moves.items():
        assert move.is_verdict is (status in FINALS)
        assert move.needs_note is (status in FINALS)
        assert move.allows_override is (status == S.CONFIRMED)


def test_available_moves_creator_editor_gets_no_verdicts(case, editor):
    claim = ClaimFactory(case=case, created_by=editor)

    assert _targets(claim, editor) == {S.IN_REVIEW, S.CORROBORATED, S.DISPUTED}


@pytest.mark.parametrize("verdict", FINALS)
def test_available_moves_on_verdict_only_editor_reopens_with_note(claim, users, verdict):
    claim = set_status(claim, verdict)

    (move,) = workflow.available_moves(claim, users[Role.EDITOR])
    assert move.to_status == S.IN_REVIEW
    assert move.needs_note
    assert not move.allows_override
    assert workflow.available_moves(claim, users[Role.REPORTER]) == []


def test_available_moves_never_offers_unverified_or_current(claim, editor):
    for status in S:
        claim = set_status(claim, status)
        targets = _targets(claim, editor)
        assert S.UNVERIFIED not in targets
        assert status not in targets


def test_available_moves_do_not_write(claim, editor):
    before = snapshot(claim)

    workflow.available_moves(claim, editor)

    assert snapshot(claim) == before


# ---------------------------------------------------------------------------------------------
# atomicity and the immutable history


class Boom(Exception):
    pass


def _explode(*args, **kwargs):
    raise Boom("the database went away")


def test_transition_event_failure_leaves_status_unsaved(evidenced_claim, editor, monkeypatch):
    before = snapshot(evidenced_claim)
    monkeypatch.setattr(VerificationEvent.objects, "create", _explode)

    with pytest.raises(Boom):
        workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor, note=NOTE)

    assert snapshot(evidenced_claim) == before
    assert evidenced_claim.status == S.UNVERIFIED


def test_transition_event_failure_keeps_pending_proposal(evidenced_claim, reporter, editor,
                                                        monkeypatch):
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=reporter, note="Two sources.")
    before = snapshot(evidenced_claim)
    monkeypatch.setattr(VerificationEvent.objects, "create", _explode)

    with pytest.raises(Boom):
        workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor, note=NOTE)

    assert snapshot(evidenced_claim) == before
    assert before["proposed_verdict"] == S.CONFIRMED


def test_propose_event_failure_leaves_proposal_unsaved(evidenced_claim, reporter, monkeypatch):
    before = snapshot(evidenced_claim)
    monkeypatch.setattr(VerificationEvent.objects, "create", _explode)

    with pytest.raises(Boom):
        workflow.propose(evidenced_claim, S.CONFIRMED, actor=reporter, note="Two sources.")

    assert snapshot(evidenced_claim) == before


def test_transition_saves_only_workflow_fields(evidenced_claim, editor):
    """update_fields: an edit another user has made in memory is not written by a transition."""
    evidenced_claim.statement = "Edited in a form that was never saved."

    workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor)

    assert Claim.objects.get(pk=evidenced_claim.pk).statement == (
        "Ten soldiers deserted from the training ground.")


def test_transition_update_writes_only_the_workflow_columns(evidenced_claim, editor):
    with CaptureQueriesContext(connection) as queries:
        workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor)

    (update,) = [q["sql"] for q in queries.captured_queries
                 if q["sql"].startswith('UPDATE "cases_claim"')]
    assert '"status"' in update and '"proposed_verdict"' in update
    assert '"statement"' not in update and '"credibility"' not in update
    if connection.vendor == "postgresql":
        assert any("FOR UPDATE" in q["sql"] for q in queries.captured_queries)


def test_transition_does_not_overwrite_concurrent_edit(evidenced_claim, editor):
    """The locked row is re-read: an edit saved meanwhile survives the transition."""
    Claim.objects.filter(pk=evidenced_claim.pk).update(statement="Eleven soldiers deserted.")

    workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor)

    assert Claim.objects.get(pk=evidenced_claim.pk).statement == "Eleven soldiers deserted."


def test_verification_event_cannot_be_edited(evidenced_claim, editor):
    event = workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor, note=NOTE)

    event.note = "Rewritten history."
    with pytest.raises(ValidationError, match="never edited"):
        event.save()

    assert VerificationEvent.objects.get(pk=event.pk).note == NOTE


def test_verification_event_cannot_be_deleted(evidenced_claim, editor):
    event = workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor, note=NOTE)

    with pytest.raises(ValidationError, match="never deleted"):
        event.delete()

    assert VerificationEvent.objects.filter(pk=event.pk).exists()


def test_verification_event_queryset_update_and_delete_are_refused(evidenced_claim, editor):
    event = workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor, note=NOTE)

    with pytest.raises(Exception):  # noqa: B017 - any refusal will do
        VerificationEvent.objects.filter(pk=event.pk).update(note="Rewritten history.")
    with pytest.raises(Exception):  # noqa: B017
        VerificationEvent.objects.filter(pk=event.pk).delete()


def test_verification_event_str_for_transition(evidenced_claim, editor):
    event = workflow.transition(evidenced_claim, S.IN_REVIEW, actor=editor)

    assert str(event) == "Unverified → In review"


def test_events_are_in_order_and_status_is_the_last_event(evidenced_claim, reporter, editor,
                                                          second_editor):
    workflow.transition(evidenced_claim, S.IN_REVIEW, actor=reporter)
    workflow.transition(evidenced_claim, S.CORROBORATED, actor=reporter)
    workflow.propose(evidenced_claim, S.CONFIRMED, actor=reporter, note="Two sources.")
    workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor, note=NOTE)
    workflow.transition(evidenced_claim, S.IN_REVIEW, actor=second_editor, note="New denial.")
    workflow.transition(evidenced_claim, S.DISPUTED, actor=reporter)

    steps = list(evidenced_claim.events.values_list("from_status", "to_status"))
    assert steps == [
        (S.UNVERIFIED, S.IN_REVIEW), (S.IN_REVIEW, S.CORROBORATED),
        (S.CORROBORATED, S.CORROBORATED), (S.CORROBORATED, S.CONFIRMED),
        (S.CONFIRMED, S.IN_REVIEW), (S.IN_REVIEW, S.DISPUTED),
    ]
    evidenced_claim.refresh_from_db()
    last = evidenced_claim.events.filter(kind=VerificationEventKind.TRANSITION).latest()
    assert evidenced_claim.status == last.to_status == S.DISPUTED


# ---------------------------------------------------------------------------------------------
# the claim's change history


def test_transition_history_row_names_the_actor(evidenced_claim, editor):
    workflow.transition(evidenced_claim, S.CONFIRMED, actor=editor, note=NOTE)

    record = evidenced_claim.history.first()  # newest first
    assert record.history_user == editor
    assert record.history_type == "~"
    assert record.status == S.CONFIRMED
    assert record.prev_record.status == S.UNVERIFIED


def test_claim_is_final(claim):
    assert not claim.is_final
    for verdict in FINALS:
        assert set_status(claim, verdict).is_final


def test_status_cannot_be_set_outside_the_database_choices(claim):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(status="approved")


# ---------------------------------------------------------------------------------------------
# the row lock (PostgreSQL: SQLite locks the whole database and has no SELECT … FOR UPDATE)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
@pytest.mark.django_db(transaction=True)
def test_transition_waits_for_the_row_lock_and_sees_the_committed_status(case, author,
                                                                         editor,
                                                                         second_editor):
    claim = ClaimFactory(case=case, created_by=author)
    cite(claim)
    cite(claim)
    cite(claim, CitationRelation.DENIES)
    locked, done, outcome = threading.Event(), threading.Event(), {}

    def first_editor():
        try:
            with transaction.atomic():
                Claim.objects.select_for_update().get(pk=claim.pk)
                locked.set()
                done.wait(timeout=2)  # the second editor is now waiting for the lock
                workflow.transition(claim, S.FALSE, actor=editor, note=NOTE)
        finally:
            connection.close()

    def second():
        locked.wait(timeout=5)
        try:
            workflow.transition(Claim.objects.get(pk=claim.pk), S.CONFIRMED,
                                actor=second_editor, note=NOTE)
            outcome["result"] = "confirmed"
        except ValidationError as exc:
            outcome["result"] = workflow.refusal_codes(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_editor), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    locked.wait(timeout=5)
    time.sleep(0.5)  # let the second editor read the claim and block on the lock
    done.set()
    for thread in threads:
        thread.join(timeout=10)

    claim.refresh_from_db()
    assert claim.status == S.FALSE
    assert outcome["result"] == [R.REOPEN_FIRST]
    assert claim.events.count() == 1
