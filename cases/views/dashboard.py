from django.db.models import Count, Q
from django.shortcuts import render

from ..access import member_case_ids
from ..activity import activity_for
from ..enums import Role
from ..models import Claim, CommentRequest, Membership, Task

DASHBOARD_LIST_LIMIT = 20


def dashboard(request):
    """What needs me today: my cases, verdicts waiting for me, my tasks, overdue replies.

    Each list is a query bounded by DASHBOARD_LIST_LIMIT; the user's cases enter the others as
    a subquery, never as a list of ids, so an editor of a thousand cases costs what an editor
    of five does."""
    user = request.user
    my_memberships = Membership.objects.filter(user=user)
    counts = my_memberships.aggregate(
        cases=Count("pk"), editing=Count("pk", filter=Q(role=Role.EDITOR)))
    memberships = list(my_memberships.select_related("case")
                       .order_by("-case__updated_at", "case_id")[:DASHBOARD_LIST_LIMIT])
    awaiting_verdict = (
        Claim.objects
        .filter(case__in=member_case_ids(user, min_role=Role.EDITOR))
        .awaiting_review()
        .select_related("case", "proposed_by").order_by("updated_at")[:DASHBOARD_LIST_LIMIT]
    )
    my_tasks = (
        Task.objects.visible_to(user).open().assigned_to(user)
        .select_related("case")[:DASHBOARD_LIST_LIMIT]
    )
    overdue_requests = (
        CommentRequest.objects.visible_to(user).past_deadline()
        .select_related("case", "party_source").order_by("deadline")[:DASHBOARD_LIST_LIMIT]
    )
    return render(request, "cases/dashboard.html", {
        "nav": "dashboard",
        "memberships": memberships,
        "more_cases": max(counts["cases"] - DASHBOARD_LIST_LIMIT, 0),
        "is_editor_somewhere": counts["editing"] > 0,
        "awaiting_verdict": awaiting_verdict if counts["editing"] else [],
        "my_tasks": my_tasks,
        "overdue_requests": overdue_requests,
        "activity": activity_for(my_memberships.values("case_id"), limit=15),
    })
