from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from capture.watch import watch_flags

from ..filters import CaseFilter
from ..forms import CaseForm
from ..models import Case, Membership
from ..opening import OPEN_CASE_DENIED_MESSAGE, may_open_cases, open_case
from ..tallies import case_counts, tracked_figures
from .case_page import case_view

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
    if not may_open_cases(request.user):
        # 403 and not 404: this address is the same for everyone and tells nothing about any
        # case, and a colleague who follows a link here should learn whom to ask.
        return render(request, "cases/case_open_refused.html", {
            "nav": "cases", "message": OPEN_CASE_DENIED_MESSAGE}, status=403)
    # The opener is known before validation: the lead is chosen among the case's people.
    form = CaseForm(request.POST or None, instance=Case(created_by=request.user))
    if request.method == "POST":
        if form.is_valid():
            # Whoever opens a case edits it; they add the rest of the team from there.
            case = open_case(form.save(commit=False), request.user)
            messages.success(request, gettext("Case “%(case)s” created. You are its "
                                              "editor.") % {"case": case})
            return redirect("cases:case_overview", slug=case.slug)
        # Refused: the form again with the input kept, 400 like every record form.
        return render(request, "cases/case_form.html", {"nav": "cases", "form": form},
                      status=400)
    return render(request, "cases/case_form.html", {"nav": "cases", "form": form})


@case_view(tab="overview")
def case_overview(request, case_page):
    case = case_page.case
    members = case.memberships.select_related("user").order_by("role", "user__username")
    return case_page.render("cases/case_detail.html", {
        "members": members,
        "figures": tracked_figures(case),
        # Cited pages gone or changed since they were captured (capture/watch.py).
        "watch_flags": watch_flags(case),
        "counts": case_counts(case),
        "record_counts": {
            "incidents": case.incidents.count(),
            "claims": case.claims.count(),
            "sources": case.sources.count(),
        },
    })
