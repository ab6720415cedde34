"""A claim's page, the verification moves made from it, and the editors' review queue."""

from dataclasses import dataclass, replace

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext

from .. import attribution, workflow
from ..access import member_case_ids
from ..enums import Role, VerificationStatus
from ..forms import ProposeForm, TransitionForm
from ..identities import citation_address
from ..models import Claim, Source
from ..models.source import relays_prefetch
from .captures import attach_captures
from .case_page import case_view

REVIEW_PAGE_SIZE = 50
# The claim page shows two forms with a note each: the prefix keeps their ids apart.
PROPOSE_PREFIX = "propose"


def _claim_for(access, pk) -> Claim:
    return get_object_or_404(
        Claim.objects.of_case(access.case).select_related("incident", "created_by",
                                                          "proposed_by"),
        pk=pk,
    )


def _render_claim(case_page, claim, *, transition_form=None, propose_form=None, status=200):
    request, access = case_page.request, case_page.access
    citations = list(claim.citations.select_related("source").prefetch_related(
        relays_prefetch()).order_by("published_at", "pk"))
    for citation in citations:
        citation.shown_url = citation_address(citation, handler=access.can_handle_sources)
    attach_captures(citations, access)
    # The case's attribution chains and its sources' names, in one query.
    rows = list(Source.objects.filter(case_id=access.case.pk).values_list(
        "pk", "reached_via_id", "name", "protected"))
    sources = {pk: _Node(pk, name, protected) for pk, _via, name, protected in rows}
    via_map = {pk: via for pk, via, _name, _protected in rows}
    # The supporting citations' origins are worked out once, by explain().
    explanation = attribution.explain(citations, via_map,
                                      order=lambda pk: (sources[pk].name.casefold(), pk))
    moves = workflow.available_moves(claim, request.user)
    if transition_form is None:
        transition_form = TransitionForm(moves=moves, support=_support_for(claim, moves))
    return case_page.render("cases/claim_detail.html", {
        "claim": claim,
        "citations": citations,
        "independent_origins": len(explanation.origins),
        "attribution": _attribution_shown(explanation, sources),
        "events": claim.events.select_related("actor").order_by("-created_at", "-pk"),
        "moves": moves,
        "transition_form": transition_form,
        "propose_form": propose_form or ProposeForm(prefix=PROPOSE_PREFIX),
        "can_propose": access.can_edit and not claim.is_final,
    }, status=status)


@dataclass(frozen=True)
class _Node:
    """A source as the claim's attribution drawing shows it (a protected source by its
    codename, which is its name)."""

    pk: int
    name: str
    protected: bool
    origin: bool = False


def _attribution_shown(explanation: attribution.Explanation, sources: dict) -> dict:
    """attribution.explain()'s ids as the sources the claim page names and draws."""
    roots = {pk for origin in explanation.origins for pk in origin.roots}

    def node(pk):
        return replace(sources[pk], origin=pk in roots)

    def names(pks):
        return ", ".join(sources[pk].name for pk in pks)

    return {
        "chains": [{"citation": chain.citation,
                    "source": [node(pk) for pk in chain.source_strand],
                    "relays": [[node(pk) for pk in strand] for strand in chain.relay_strands]}
                   for chain in explanation.chains],
        "origins": [[(sources[pk], names(via)) for pk, via in zip(origin.roots,
                                                                   origin.roots_via,
                                                                   strict=True)]
                    for origin in explanation.origins],
        "pairs": [{"first": sources[pair.first.source_id].name,
                   "second": sources[pair.second.source_id].name,
                   "same_source": pair.first.source_id == pair.second.source_id,
                   "independent": pair.independent, "shared": names(pair.shared)}
                  for pair in explanation.pairs],
        "pairs_left_out": explanation.pairs_left_out,
    }


def _support_for(claim, moves):
    """What a confirmation would rest on, when confirming is among the moves offered."""
    if any(move.allows_override for move in moves):
        return workflow.support_of(claim)
    return None


@case_view(tab="claims")
def claim_detail(request, case_page, pk):
    return _render_claim(case_page, _claim_for(case_page.access, pk))


@case_view(tab="claims", methods=["POST"])
def claim_transition(request, case_page, pk):
    claim = _claim_for(case_page.access, pk)
    moves = workflow.available_moves(claim, request.user)
    form = TransitionForm(request.POST, moves=moves, support=_support_for(claim, moves))
    if form.is_valid():
        data = form.cleaned_data
        try:
            workflow.transition(claim, data["to_status"], actor=request.user,
                                note=data["note"], override_reason=data.get("override_reason", ""),
                                acknowledge_low_grade=data.get("acknowledge_low_grade", False))
        except ValidationError as exc:
            form.add_error(None, exc)  # the workflow's reasons, with their codes
        else:
            status = str(VerificationStatus(claim.status).label).lower()
            messages.success(request, gettext("The claim is now %(status)s.") % {
                "status": status})
            return redirect("cases:claim_detail", slug=case_page.case.slug, pk=claim.pk)
    # Refused: the page again, the refusal beside the move and the note as typed.
    return _render_claim(case_page, claim, transition_form=form, status=400)


@case_view(tab="claims", methods=["POST"])
def claim_propose(request, case_page, pk):
    claim = _claim_for(case_page.access, pk)
    form = ProposeForm(request.POST, prefix=PROPOSE_PREFIX)
    if form.is_valid():
        try:
            workflow.propose(claim, form.cleaned_data["verdict"], actor=request.user,
                             note=form.cleaned_data["note"])
        except ValidationError as exc:
            form.add_error(None, exc)  # the workflow's reasons, with their codes
        else:
            messages.success(request,
                             gettext("Your proposed verdict is recorded for the editors."))
            return redirect("cases:claim_detail", slug=case_page.case.slug, pk=claim.pk)
    return _render_claim(case_page, claim, propose_form=form, status=400)


def review_queue(request):
    """Claims waiting for an editor's verdict, across the cases I edit, oldest first."""
    editor_cases = member_case_ids(request.user, min_role=Role.EDITOR)
    claims = (Claim.objects.filter(case_id__in=editor_cases).awaiting_review()
              .select_related("case", "proposed_by", "created_by").order_by("updated_at", "pk"))
    page = Paginator(claims, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cases/review_queue.html", {"nav": "review", "page": page})
