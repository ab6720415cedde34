from django.shortcuts import render

from ..activity import activity_for
from ..enums import Role
from ..models import Claim, CommentRequest, Membership, Task

DASHBOARD_LIST_LIMIT = 20


def dashboard(request):
    """What needs me today: my cases, verdicts waiting for me, my tasks, overdue replies."""
    user = request.user
    memberships = list(
        Membership.objects.filter(user=user).select_related("case")
        .order_by("-case__updated_at")
    )
    case_ids = [m.case_id for m in memberships]
    editor_case_ids = [m.case_id for m in memberships if m.role == Role.EDITOR]
    awaiting_verdict = (
        Claim.objects.filter(case_id__in=editor_case_ids).awaiting_review()
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
        "memberships": memberships[:DASHBOARD_LIST_LIMIT],
        "more_cases": max(len(memberships) - DASHBOARD_LIST_LIMIT, 0),
        "is_editor_somewhere": bool(editor_case_ids),
        "awaiting_verdict": awaiting_verdict,
        "my_tasks": my_tasks,
        "overdue_requests": overdue_requests,
        "activity": activity_for(case_ids, limit=15),
    })
