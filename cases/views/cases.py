from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render

from ..access import get_case_for_user
from ..enums import Role
from ..filters import CaseFilter
from ..forms import CaseForm
from ..models import Case, Membership
from ..tallies import case_counts, tracked_figures

CASES_PER_PAGE = 25


def case_list(request):
    user = request.user
    my_role = Membership.objects.filter(case=OuterRef("pk"), user=user).values("role")[:1]
    cases = (Case.objects.visible_to(user)
             .annotate(my_role=Subquery(my_role))
             .select_related("lead")
             .order_by("-updated_at"))
    case_filter = CaseFilter(request.GET, queryset=cases, request=request)
    page = Paginator(case_filter.qs, CASES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "cases/case_list.html", {
        "nav": "cases", "filter": case_filter, "page": page,
    })


def case_create(request):
    form = CaseForm(request.POST or None, lead_choices=get_user_model().objects.filter(
        is_active=True).order_by("username"))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            case = form.save(commit=False)
            case.created_by = request.user
            case.save()
            # Whoever opens a case edits it; they add the rest of the team from there.
            Membership.objects.create(case=case, user=request.user, role=Role.EDITOR,
                                      added_by=request.user)
        messages.success(request, f"Case “{case}” created. You are its editor.")
        return redirect("cases:case_overview", slug=case.slug)
    return render(request, "cases/case_form.html", {"nav": "cases", "form": form})


def case_overview(request, slug):
    access = get_case_for_user(request.user, slug)
    case = access.case
    members = case.memberships.select_related("user").order_by("role", "user__username")
    return render(request, "cases/case_detail.html", {
        "nav": "cases", "access": access, "case": case, "tab": "overview",
        "members": members,
        "figures": tracked_figures(case),
        "counts": case_counts(case),
        "record_counts": {
            "incidents": case.incidents.count(),
            "claims": case.claims.count(),
            "sources": case.sources.count(),
        },
    })
