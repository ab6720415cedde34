"""The verification workflow: the one place where a claim's status changes.

Views, admin actions and the API all call `transition()` and `propose()`; nothing else
writes `Claim.status`. Each call checks the rules of DESIGN.md (who may make which move,
the four-eyes rule, the citations a verdict needs), locks the claim row, saves, and writes
a VerificationEvent in the same transaction. A refused call raises ValidationError with
every reason, in words a journalist understands, and changes nothing. Each reason carries a
machine-readable code (`Refusal`), which the pages, the admin and the API pass on unchanged.

Confirming on one origin (no two independent supporting citations) takes an override: a
reason of at least OVERRIDE_REASON_MIN_LENGTH characters and, when a source it rests on is
graded E (unreliable) or F (cannot be judged), the editor's explicit acknowledgement of that
grade (`acknowledge_low_grade`). `support_of()` tells the move forms which sources, and which
grades, a confirmation would rest on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.functional import keep_lazy_text, lazy
from django.utils.translation import gettext_lazy as _

from . import attribution
from .enums import CitationRelation, Reliability, Role, VerificationEventKind
from .enums import VerificationStatus as S
from .models import Citation, Claim, Membership, Source, VerificationEvent

FINALS = S.finals()
# Tags the claim history rows the workflow writes: the activity feed shows the richer
# VerificationEvent for them instead.
HISTORY_CHANGE_REASON = "verification workflow"
OPEN_STATES = (S.UNVERIFIED, S.IN_REVIEW, S.CORROBORATED, S.DISPUTED)

# A single-source override is the editor's account of why one origin is enough: it must say
# something ("x" is not a reason). Counted on the reason with its spaces collapsed.
OVERRIDE_REASON_MIN_LENGTH = 30
# Grades a claim may not be confirmed on alone without the editor saying so explicitly:
# unreliable, and reliability cannot be judged (a new or unknown source).
LOW_GRADES = frozenset({Reliability.E, Reliability.F})


class Refusal:
    """The codes of the workflow's refusals (ValidationError.code): one per reason, so that a
    page, the admin or an API client can tell the reasons apart without reading the words.
    The pages' form errors, the admin's message tags and the API's `codes` carry them."""

    # Who, and which move
    INVALID_STATUS = "invalid_status"  # not a verification status at all
    NOT_A_MEMBER = "not_a_member"
    ALREADY_IN_STATUS = "already_in_status"
    NO_RETURN_TO_UNVERIFIED = "no_return_to_unverified"  # unverified is only a start
    REOPEN_FIRST = "reopen_first"  # a verdict is reopened (to in review) before any other move
    MOVE_NOT_ALLOWED = "move_not_allowed"  # any other move the table does not list
    ROLE_TOO_LOW = "role_too_low"  # viewers read; they neither move nor propose
    VERDICT_NEEDS_EDITOR = "verdict_needs_editor"  # a reporter may propose one instead
    REOPEN_NEEDS_EDITOR = "reopen_needs_editor"
    FOUR_EYES = "four_eyes"  # the claim's creator, or a proposer of this round
    # What the record must show
    RATIONALE_REQUIRED = "rationale_required"  # a verdict, a reopening, a proposal
    CITATION_REQUIRED = "citation_required"
    TWO_CITATIONS_REQUIRED = "two_citations_required"
    INDEPENDENT_SOURCES_REQUIRED = "independent_sources_required"
    DENIAL_REQUIRED = "denial_required"
    SUPPORTING_CITATION_REQUIRED = "supporting_citation_required"
    # A single-source override
    OVERRIDE_NOT_FOR_THIS_MOVE = "override_not_for_this_move"
    OVERRIDE_REASON_TOO_SHORT = "override_reason_too_short"
    LOW_GRADE_NOT_ACKNOWLEDGED = "low_grade_not_acknowledged"
    # Proposals
    NOT_A_VERDICT = "not_a_verdict"
    ALREADY_DECIDED = "already_decided"

    @classmethod
    def codes(cls) -> tuple[str, ...]:
        """Every code, in the order above (for the API's schema)."""
        return tuple(value for name, value in vars(cls).items()
                     if name.isupper() and isinstance(value, str))


def _refusal(message, code: str, **params) -> ValidationError:
    """A refusal's reason. The message stays lazy, with its values in `params`: it is put
    into words in the language of whoever reads it (the page, the admin, the API)."""
    return ValidationError(message, code=code, params=params or None)


@keep_lazy_text
def _lowered(label) -> str:
    """A status label inside a sentence ("already confirmed"), lowered when it is read."""
    return str(label).lower()


# The sources a refusal names, with their grades: joined when the refusal is read, so that
# the grades' labels are in the reader's language.
_graded_sources = lazy(lambda sources: ", ".join(str(s) for s in sources), str)


def refusal_codes(error: ValidationError) -> list[str]:
    """The codes of a refusal's reasons, in order (for the admin's message tags)."""
    return [e.code for e in error.error_list if e.code]


# from → the statuses it may move to. `unverified` is only ever a starting point.
ALLOWED_MOVES: dict[S, frozenset[S]] = {
    S.UNVERIFIED: frozenset({S.IN_REVIEW, S.CORROBORATED, S.DISPUTED, *FINALS}),
    S.IN_REVIEW: frozenset({S.CORROBORATED, S.DISPUTED, *FINALS}),
    S.CORROBORATED: frozenset({S.IN_REVIEW, S.DISPUTED, *FINALS}),
    S.DISPUTED: frozenset({S.IN_REVIEW, S.CORROBORATED, *FINALS}),
    **{final: frozenset({S.IN_REVIEW}) for final in FINALS},
}
# What a move's input may name, wherever it is made (cases/forms/verification.py defines the
# inputs once, for the page, the admin and the API): every status a move can lead to, in the
# enum's order, and the verdicts one may propose.
MOVE_TARGETS = tuple(s for s in S if any(s in targets for targets in ALLOWED_MOVES.values()))
VERDICTS = tuple(s for s in S if s in FINALS)


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
                        proposers: set | None = None) -> list[ValidationError]:
    """Whether this person may make this move at all (role, allowed moves, four-eyes).
    `proposers` (see _proposers_this_round) is looked up when a verdict needs it."""
    if role is None:
        return [_refusal(_("You are not a member of this case."), Refusal.NOT_A_MEMBER)]
    if from_status == to_status:
        return [_refusal(_("The claim is already %(status)s."), Refusal.ALREADY_IN_STATUS,
                         status=_lowered(from_status.label))]
    if to_status not in ALLOWED_MOVES[from_status]:
        statuses = {"from_status": _lowered(from_status.label),
                    "to_status": _lowered(to_status.label)}
        if to_status == S.UNVERIFIED:
            return [_refusal(_("A claim that is %(from_status)s cannot be marked "
                               "%(to_status)s: unverified is only where a claim starts. Mark "
                               "it in review instead."),
                             Refusal.NO_RETURN_TO_UNVERIFIED, **statuses)]
        if from_status in FINALS:
            return [_refusal(_("A claim that is %(from_status)s cannot be marked "
                               "%(to_status)s directly: an editor must first reopen it (back "
                               "to in review)."), Refusal.REOPEN_FIRST, **statuses)]
        return [_refusal(_("A claim that is %(from_status)s cannot be marked %(to_status)s."),
                         Refusal.MOVE_NOT_ALLOWED, **statuses)]
    needed = required_role(from_status, to_status)
    if not role.at_least(needed):
        if role == Role.VIEWER:  # viewers cannot propose either: do not suggest it
            return [_refusal(_("Viewers can read the case but not change a claim's status."),
                             Refusal.ROLE_TOO_LOW)]
        if from_status in FINALS:
            return [_refusal(_("Only an editor can reopen a claim that has a verdict."),
                             Refusal.REOPEN_NEEDS_EDITOR)]
        return [_refusal(_("Only an editor can give a final verdict; you can propose one "
                           "instead."), Refusal.VERDICT_NEEDS_EDITOR)]
    if to_status in FINALS:
        if claim.created_by_id == actor.pk:
            return [_refusal(_("Four-eyes rule: you created this claim, so another editor "
                               "must give the verdict."), Refusal.FOUR_EYES)]
        if proposers is None:
            proposers = _proposers_this_round(claim)
        if (claim.proposed_verdict and claim.proposed_by_id == actor.pk) or actor.pk in proposers:
            return [_refusal(_("Four-eyes rule: you proposed a verdict for this claim, so "
                               "another editor must decide."), Refusal.FOUR_EYES)]
    return []


@dataclass(frozen=True)
class GradedSource:
    """A source a claim's support rests on, with its Admiralty reliability grade."""

    name: str
    reliability: Reliability

    @property
    def is_low_grade(self) -> bool:
        return self.reliability in LOW_GRADES

    def __str__(self) -> str:
        return f"{self.name} ({Reliability(self.reliability).label})"


@dataclass(frozen=True)
class Support:
    """What a confirmation of a claim would rest on: the sources of its supporting citations
    (each citation's whole lineage: source, relays, and what those are reached via)."""

    citations: int
    independent: bool  # two of them are independent (attribution.SupportingOrigins)
    sources: tuple[GradedSource, ...]

    @property
    def single_origin(self) -> bool:
        """Confirming needs an override: no two supporting citations are independent."""
        return not self.independent

    @property
    def low_grade_sources(self) -> tuple[GradedSource, ...]:
        return tuple(s for s in self.sources if s.is_low_grade)

    @property
    def needs_acknowledgement(self) -> bool:
        """A single-origin confirmation that rests on a source graded E or F."""
        return self.citations > 0 and self.single_origin and bool(self.low_grade_sources)


def _origins(claim: Claim, citations) -> attribution.SupportingOrigins:
    return attribution.supporting_origins(citations,
                                          attribution.via_map_for_case(claim.case_id))


def _support(claim: Claim, citations) -> Support:
    origins = _origins(claim, citations)
    ids = origins.source_ids
    rows = (Source.objects.filter(pk__in=ids).order_by("name", "pk")
            .values_list("name", "reliability")) if ids else []
    return Support(citations=len(origins.citations), independent=origins.independent,
                   sources=tuple(GradedSource(name, Reliability(grade)) for name, grade in rows))


def support_of(claim: Claim) -> Support:
    """The sources, and their grades, that confirming `claim` would rest on (for the move
    forms: they show the grades and ask for the acknowledgement when it is needed)."""
    citations = (Citation.objects.filter(claim=claim).only("source_id", "relation")
                 .prefetch_related("relay_links"))
    return _support(claim, list(citations))


def _collapsed(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _override_problems(support: Support, override_reason: str,
                       acknowledge_low_grade: bool) -> list[ValidationError]:
    """Whether a single-source override may confirm on this support."""
    problems = []
    if len(_collapsed(override_reason)) < OVERRIDE_REASON_MIN_LENGTH:
        problems.append(_refusal(
            _("A single-source override needs a reason of at least %(count)d characters: "
              "say why one source is enough here."),
            Refusal.OVERRIDE_REASON_TOO_SHORT, count=OVERRIDE_REASON_MIN_LENGTH))
    if support.single_origin and support.low_grade_sources and not acknowledge_low_grade:
        problems.append(_refusal(
            _("This claim would be confirmed on one source graded E or F: %(sources)s. "
              "Confirm that explicitly (acknowledge the grade), or add an independent "
              "source."),
            Refusal.LOW_GRADE_NOT_ACKNOWLEDGED,
            sources=_graded_sources(support.low_grade_sources)))
    return problems


def _evidence_problems(claim: Claim, from_status: S, to_status: S, note: str,
                       override_reason: str, acknowledge_low_grade: bool = False,
                       ) -> list[ValidationError]:
    """Whether the record supports the move (notes, citations, independent sources)."""
    problems = []
    citations = list(Citation.objects.filter(claim=claim).only("source_id", "relation")
                     .prefetch_related("relay_links"))
    supporting = attribution.supporting(citations)
    if override_reason and to_status != S.CONFIRMED:
        problems.append(_refusal(_("A single-source override only applies to confirming a "
                                   "claim."), Refusal.OVERRIDE_NOT_FOR_THIS_MOVE))
    if to_status in FINALS:
        if not note:
            problems.append(_refusal(_("A verdict needs a written rationale."),
                                     Refusal.RATIONALE_REQUIRED))
        if not citations:
            problems.append(_refusal(_("A verdict needs at least one citation."),
                                     Refusal.CITATION_REQUIRED))
    if from_status in FINALS and not note:
        problems.append(_refusal(_("Say why the claim is being reopened."),
                                 Refusal.RATIONALE_REQUIRED))
    if to_status == S.CORROBORATED:
        # Corroboration means two origins: two reports of one insider are one report.
        if len(supporting) < 2:
            problems.append(_refusal(_("Corroborated needs at least two citations that report "
                                       "or confirm it."), Refusal.TWO_CITATIONS_REQUIRED))
        elif not _origins(claim, supporting).independent:
            problems.append(_refusal(
                _("Corroborated needs citations from two independent sources: these go back "
                  "to the same origin or reach us through one another."),
                Refusal.INDEPENDENT_SOURCES_REQUIRED))
    if to_status == S.DISPUTED and not any(c.relation == CitationRelation.DENIES
                                           for c in citations):
        problems.append(_refusal(_("Disputed needs at least one citation that denies it."),
                                 Refusal.DENIAL_REQUIRED))
    if to_status == S.CONFIRMED and citations:
        if not supporting:
            problems.append(_refusal(_("Confirmed needs a citation that reports or confirms "
                                       "the claim."), Refusal.SUPPORTING_CITATION_REQUIRED))
        else:
            support = _support(claim, supporting)
            if override_reason:
                problems += _override_problems(support, override_reason, acknowledge_low_grade)
            elif support.single_origin:
                if support.citations == 1:
                    refused = _("Confirmed needs two independent sources: this claim has only "
                                "one source. Add an independent source, or give a reason for "
                                "a single-source override.")
                else:
                    refused = _("Confirmed needs two independent sources: these citations go "
                                "back to the same origin or reach us through one another. Add "
                                "an independent source, or give a reason for a single-source "
                                "override.")
                problems.append(_refusal(refused, Refusal.INDEPENDENT_SOURCES_REQUIRED))
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


def transition(claim: Claim, to_status, *, actor, note: str = "", override_reason: str = "",
               acknowledge_low_grade: bool = False) -> VerificationEvent:
    """Move `claim` to `to_status` on behalf of `actor`, or raise ValidationError.

    `override_reason` confirms on a single origin; `acknowledge_low_grade` is the editor's
    explicit yes when that origin includes a source graded E or F."""
    try:
        to_status = S(to_status)
    except ValueError:
        raise _refusal(_("“%(value)s” is not a verification status."), Refusal.INVALID_STATUS,
                       value=to_status) from None
    note, override_reason = (note or "").strip(), (override_reason or "").strip()
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        from_status = S(locked.status)
        role = Membership.objects.role_of(actor, locked.case_id)
        problems = _authority_problems(locked, from_status, to_status, actor, role)
        if not problems:
            problems = _evidence_problems(locked, from_status, to_status, note,
                                          override_reason, acknowledge_low_grade)
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
        raise _refusal(_("“%(value)s” is not a verification status."), Refusal.INVALID_STATUS,
                       value=verdict) from None
    note = (note or "").strip()
    with transaction.atomic():
        locked = Claim.objects.select_for_update().get(pk=claim.pk)
        role = Membership.objects.role_of(actor, locked.case_id)
        problems = []
        if role is None:
            problems.append(_refusal(_("You are not a member of this case."),
                                     Refusal.NOT_A_MEMBER))
        elif not role.at_least(Role.REPORTER):
            problems.append(_refusal(_("Viewers can read the case but not propose verdicts."),
                                     Refusal.ROLE_TOO_LOW))
        if verdict not in FINALS:
            problems.append(_refusal(_("Only a final verdict (confirmed, false, unverifiable) "
                                       "can be proposed."), Refusal.NOT_A_VERDICT))
        if S(locked.status) in FINALS:
            problems.append(_refusal(_("This claim already has a verdict; an editor can "
                                       "reopen it."), Refusal.ALREADY_DECIDED))
        if not note:
            problems.append(_refusal(_("Explain the proposed verdict in a note."),
                                     Refusal.RATIONALE_REQUIRED))
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
