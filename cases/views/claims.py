"""A claim's page, the verification moves made from it, and the editors' review queue."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render

from .. import attribution, workflow
from ..access import get_case_for_user
from ..enums import CitationRelation, Role, VerificationStatus
from ..forms import ProposeForm, TransitionForm
from ..identities import citation_address
from ..models import Claim, Membership

REVIEW_PAGE_SIZE = 50
# The claim page shows two forms with a note each: the prefix keeps their ids apart.
PROPOSE_PREFIX = "propose"


def _claim_for(access, pk) -> Claim:
    return get_object_or_404(
        Claim.objects.of_case(access.case).select_related("incident", "created_by",
                                                          "proposed_by"),
        pk=pk,
    )


def _render_claim(request, access, claim, *, transition_form=None, propose_form=None,
                  status=200):
    citations = list(claim.citations.select_related("source", "via").order_by(
        "published_at", "pk"))
    for citation in citations:
        citation.shown_url = citation_address(citation, handler=access.can_handle_sources)
    supporting = [c for c in citations if c.relation in CitationRelation.supporting()]
    via_map = attribution.via_map_for_case(access.case.pk)
    moves = workflow.available_moves(claim, request.user)
    if transition_form is None:
        transition_form = TransitionForm(moves=moves, support=_support_for(claim, moves))
    return render(request, "cases/claim_detail.html", {
        "nav": "cases", "access": access, "case": access.case, "tab": "claims",
        "claim": claim,
        "citations": citations,
        "independent_origins": len(attribution.origins(supporting, via_map)),
        "events": claim.events.select_related("actor").order_by("-created_at", "-pk"),
        "moves": moves,
        "transition_form": transition_form,
        "propose_form": propose_form or ProposeForm(prefix=PROPOSE_PREFIX),
        "can_propose": access.can_edit and not claim.is_final,
    }, status=status)


def _support_for(claim, moves):
    """What a confirmation would rest on, when confirming is among the moves offered."""
    if any(move.allows_override for move in moves):
        return workflow.support_of(claim)
    return None


def claim_detail(request, slug, pk):
    access = get_case_for_user(request.user, slug)
    return _render_claim(request, access, _claim_for(access, pk))


def claim_transition(request, slug, pk):
    access = get_case_for_user(request.user, slug)
    claim = _claim_for(access, pk)
    # The method is checked after the access check (not with @require_POST) so a non-member
    # gets 404 whatever the method, never a 405 that confirms the case exists.
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
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
            messages.success(request, f"The claim is now "
                                      f"{VerificationStatus(claim.status).label.lower()}.")
            return redirect("cases:claim_detail", slug=slug, pk=claim.pk)
    # Refused: the page again, the refusal beside the move and the note as typed.
    return _render_claim(request, access, claim, transition_form=form, status=400)


def claim_propose(request, slug, pk):
    access = get_case_for_user(request.user, slug)
    claim = _claim_for(access, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = ProposeForm(request.POST, prefix=PROPOSE_PREFIX)
    if form.is_valid():
        try:
            workflow.propose(claim, form.cleaned_data["verdict"], actor=request.user,
                             note=form.cleaned_data["note"])
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            messages.success(request, "Your proposed verdict is recorded for the editors.")
            return redirect("cases:claim_detail", slug=slug, pk=claim.pk)
    return _render_claim(request, access, claim, propose_form=form, status=400)


def review_queue(request):
    """Claims waiting for an editor's verdict, across the cases I edit, oldest first."""
    editor_cases = Membership.objects.filter(user=request.user, role=Role.EDITOR).values(
        "case_id")
    claims = (Claim.objects.filter(case_id__in=editor_cases).awaiting_review()
              .select_related("case", "proposed_by", "created_by").order_by("updated_at", "pk"))
    page = Paginator(claims, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cases/review_queue.html", {"nav": "review", "page": page})
