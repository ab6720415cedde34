"""The verification workflow: the one place where a claim's status changes.

Views, admin actions and the API all call `transition()` and `propose()`; nothing else
writes `Claim.status`. Each call checks the rules of DESIGN.md (who may make which move,
the four-eyes rule, the citations a verdict needs), locks the claim row, saves, and writes
a VerificationEvent in the same transaction. A refused call raises ValidationError with
every reason, in words a journalist understands, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from . import attribution
from .enums import CitationRelation, Role, VerificationEventKind
from .enums import VerificationStatus as S
from .models import Citation, Claim, Membership, VerificationEvent

FINALS = S.finals()
# Tags the claim history rows the workflow writes: the activity feed shows the richer
# VerificationEvent for them instead.
HISTORY_CHANGE_REASON = "verification workflow"
OPEN_STATES = (S.UNVERIFIED, S.IN_REVIEW, S.CORROBORATED, S.DISPUTED)

# from → the statuses it may move to. `unverified` is only ever a starting point.
ALLOWED_MOVES: dict[S, frozenset[S]] = {
    S.UNVERIFIED: frozenset({S.IN_REVIEW, S.CORROBORATED, S.DISPUTED, *FINALS}),
    S.IN_REVIEW: frozenset({S.CORROBORATED, S.DISPUTED, *FINALS}),
    S.CORROBORATED: frozenset({S.IN_REVIEW, S.DISPUTED, *FINALS}),
    S.DISPUTED: frozenset({S.IN_REVIEW, S.CORROBORATED, *FINALS}),
    **{final: frozenset({S.IN_REVIEW}) for final in FINALS},
}


@dataclass(frozen=True)
class Move:
    """A move the workflow offers a user, with what the form must ask for."""

    to_status: S
    needs_note: bool
    allows_override: bool

    @property
    def is_verdict(self) -> bool:
        return self.to_status in FINALS


def required_role(from_status: S, to_status: S) -> Role:
    if to_status in FINALS or from_status in FINALS:
        return Role.EDITOR
    return Role.REPORTER


def _proposers_this_round(claim: Claim) -> set:
    """Who has proposed a verdict since the claim's last verdict or reopening.

    A later proposal replaces `Claim.proposed_by`, so that field alone would let an editor
    decide their own proposal as soon as somebody else proposed anything: the events are
    the record of who proposed what."""
    events = VerificationEvent.objects.filter(claim=claim)
    settled = (events.filter(kind=VerificationEventKind.TRANSITION)
               .filter(Q(to_status__in=FINALS) | Q(from_status__in=FINALS))
               .order_by("-pk").values_list("pk", flat=True).first())
    proposals = events.filter(kind=VerificationEventKind.PROPOSAL)
    if settled is not None:
        proposals = proposals.filter(pk__gt=settled)
    return set(proposals.values_list("actor_id", flat=True))


def _authority_problems(claim: Claim, from_status: S, to_status: S, actor, role,
                        proposers: set | None = None) -> list[str]:
    """Whether this person may make this move at all (role, allowed moves, four-eyes).
    `proposers` (see _proposers_this_round) is looked up when a verdict needs it."""
    if role is None:
        return ["You are not a member of this case."]
    if from_status == to_status:
        return [f"The claim is already {from_status.label.lower()}."]
    if to_status not in ALLOWED_MOVES[from_status]:
        refused = (f"A claim that is {from_status.label.lower()} cannot be marked "
                   f"{to_status.label.lower()}")
        if to_status == S.UNVERIFIED:
            return [f"{refused}: unverified is only where a claim starts. Mark it in review "
                    "instead."]
        if from_status in FINALS:
            return [f"{refused} directly: an editor must first reopen it (back to in "
                    "review)."]
        return [f"{refused}."]
    needed = required_role(from_status, to_status)
    if not role.at_least(needed):
        if role == Role.VIEWER:  # viewers cannot propose either: do not suggest it
            return ["Viewers can read the case but not change a claim's status."]
        if from_status in FINALS:
            return ["Only an editor can reopen a claim that has a verdict."]
        return ["Only an editor can give a final verdict; you can propose one instead."]
    if to_status in FINALS:
        if claim.created_by_id == actor.pk:
            return ["Four-eyes rule: you created this claim, so another editor must give "
                    "the verdict."]
        if proposers is None:
            proposers = _proposers_this_round(claim)
        if (claim.proposed_verdict and claim.proposed_by_id == actor.pk) or actor.pk in proposers:
            return ["Four-eyes rule: you proposed a verdict for this claim, so another editor "
                    "must decide."]
    return []


def _evidence_problems(claim: Claim, from_status: S, to_status: S, note: str,
                       override_reason: str) -> list[str]:
    """Whether the record supports the move (notes, citations, independent sources)."""
    problems = []
    citations = list(Citation.objects.filter(claim=claim).only("source_id", "via_id",
                                                                "relation"))
    supporting = [c for c in citations if c.relation in CitationRelation.supporting()]
    if override_reason.strip() and to_status != S.CONFIRMED:
        problems.append("A single-source override only applies to confirming a claim.")
    if to_status in FINALS:
        if not note.strip():
            problems.append("A verdict needs a written rationale.")
        if not citations:
            problems.append("A verdict needs at least one citation.")
    if from_status in FINALS and not note.strip():
        problems.append("Say why the claim is being reopened.")
    if to_status == S.CORROBORATED:
        # Corroboration means two origins: two reports of one insider are one report.
        if len(supporting) < 2:
            problems.append("Corroborated needs at least two citations that report or "
                            "confirm it.")
        elif attribution.independent_pair(
                supporting, attribution.via_map_for_case(claim.case_id)) is None:
            problems.append("Corroborated needs citations from two independent sources: "
                            "these go back to the same origin or reach us through one another.")
    if to_status == S.DISPUTED and not any(c.relation == CitationRelation.DENIES
                                           for c in citations):
        problems.append("Disputed needs at least one citation that denies it.")
    if to_status == S.CONFIRMED and citations:
        if not supporting:
            problems.append("Confirmed needs a citation that reports or confirms the claim.")
        elif not override_reason.strip():
            via_map = attribution.via_map_for_case(claim.case_id)
            if attribution.independent_pair(supporting, via_map) is None:
                problems.append(
                    "Confirmed needs two independent sources: these citations go back to the "
                    "same origin or reach us through one another. Add an independent source, "
                    "or give a reason for a single-source override."
                )
    return problems


def available_moves(claim: Claim, user) -> list[Move]:
    """The moves this user may offer to make on this claim (for pages and admin forms).
    Whether the citations support a move is checked when it is made."""
    role = Membership.objects.role_of(user, claim.case_id)
    current = S(claim.status)
    proposers = (_proposers_this_round(claim)
                 if role == Role.EDITOR and current not in FINALS else set())
    return [
        Move(to, needs_note=to in FINALS or current in FINALS,
             allows_override=to == S.CONFIRMED)
        for to in S
        if to != S.UNVERIFIED
        and not _authority_problems(claim, current, to, user, role, proposers)
    ]


def transition(claim: Claim, to_status, *, actor, note: str = "",
               override_reason: str = "") -> VerificationEvent:
    """Move `claim` to `to_status` on behalf of `actor`, or raise ValidationError."""
    try:
        to_status = S(to_status)
    except ValueError:
        raise ValidationError(f"“{to_status}” is not a verification status.") from None
    note, override_reason = (note or "").strip(), (override_reason or "").strip()
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        from_status = S(locked.status)
        role = Membership.objects.role_of(actor, locked.case_id)
        problems = _authority_problems(locked, from_status, to_status, actor, role)
        if not problems:
            problems = _evidence_problems(locked, from_status, to_status, note,
                                          override_reason)
        if problems:
            raise ValidationError(problems)

        locked.status = to_status
        locked._history_user = actor  # the claim's change history names the editor too
        locked._change_reason = HISTORY_CHANGE_REASON
        if to_status in FINALS or from_status in FINALS:
            # A verdict settles the pending proposal; reopening starts the review afresh.
            locked.proposed_verdict, locked.proposed_by = "", None
        locked.save(update_fields=["status", "proposed_verdict", "proposed_by", "updated_at"])
        event = VerificationEvent.objects.create(
            claim=locked, kind=VerificationEventKind.TRANSITION, from_status=from_status,
            to_status=to_status, actor=actor, note=note, override_reason=override_reason,
        )
    _refresh_workflow_fields(claim, locked)
    return event


def propose(claim: Claim, verdict, *, actor, note: str) -> VerificationEvent:
    """Record `actor`'s proposed verdict for editors to decide; the status stays as it is."""
    try:
        verdict = S(verdict)
    except ValueError:
        raise ValidationError(f"“{verdict}” is not a verification status.") from None
    note = (note or "").strip()
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        role = Membership.objects.role_of(actor, locked.case_id)
        problems = []
        if role is None:
            problems.append("You are not a member of this case.")
        elif not role.at_least(Role.REPORTER):
            problems.append("Viewers can read the case but not propose verdicts.")
        if verdict not in FINALS:
            problems.append("Only a final verdict (confirmed, false, unverifiable) can be "
                            "proposed.")
        if S(locked.status) in FINALS:
            problems.append("This claim already has a verdict; an editor can reopen it.")
        if not note:
            problems.append("Explain the proposed verdict in a note.")
        if problems:
            raise ValidationError(problems)

        locked.proposed_verdict, locked.proposed_by = verdict, actor
        locked._history_user = actor
        locked._change_reason = HISTORY_CHANGE_REASON
        locked.save(update_fields=["proposed_verdict", "proposed_by", "updated_at"])
        event = VerificationEvent.objects.create(
            claim=locked, kind=VerificationEventKind.PROPOSAL, from_status=locked.status,
            to_status=locked.status, proposed_verdict=verdict, actor=actor, note=note,
        )
    _refresh_workflow_fields(claim, locked)
    return event


def _refresh_workflow_fields(claim: Claim, saved: Claim) -> None:
    for field in ("status", "proposed_verdict", "proposed_by_id", "updated_at"):
        setattr(claim, field, getattr(saved, field))
