"""The requesting user's memberships, as the back office's permission checks read them.

Read once per request: permission checks run many times on one page (every inline, every
action, every related field), and each would otherwise be a query.

Superusers hold every role in every case (they run the newsroom's system), but are source
handlers of no case they are not a handler of: nobody but a case's handlers sees its
protected identities (DESIGN.md), and an administrator who must reach one goes through the
audited reveal (reveal.py).
"""

from __future__ import annotations

from ..enums import Role
from ..models import Membership

_MEMBERSHIPS_ATTR = "_casedesk_admin_memberships"

ANY_CASE = object()


def memberships_of(request) -> dict[int, tuple[Role, bool]]:
    """{case id: (role, is source handler)} for the requesting user."""
    cached = getattr(request, _MEMBERSHIPS_ATTR, None)
    if cached is None:
        # Unordered: Membership's default order joins the case and the user and sorts, for a
        # dict (about 0.6 ms for an editor of a thousand cases, on every admin page); and
        # roles by dict, not Role(value) (a quarter of a millisecond more there).
        rows = Membership.objects.filter(user=request.user).order_by().values_list(
            "case_id", "role", "can_handle_sources")
        role_of_value = {role.value: role for role in Role}
        cached = {case_id: (role_of_value[role], handler) for case_id, role, handler in rows}
        setattr(request, _MEMBERSHIPS_ATTR, cached)
    return cached


def forget_memberships(request) -> None:
    """Drop the per-request cache after the request itself changed a membership."""
    if hasattr(request, _MEMBERSHIPS_ATTR):
        delattr(request, _MEMBERSHIPS_ATTR)


def has_case_role(request, role: Role, case_id=ANY_CASE) -> bool:
    """Whether the user holds at least `role` in that case (or in any case)."""
    if request.user.is_superuser:
        return True
    roles = memberships_of(request)
    if case_id is ANY_CASE:
        return any(r.at_least(role) for r, _ in roles.values())
    membership = roles.get(case_id)
    return membership is not None and membership[0].at_least(role)


def handles_sources(request, case_id=ANY_CASE, role: Role = Role.VIEWER) -> bool:
    """Whether the user is a source handler of that case (or of any case) holding at least
    `role` there. Superusers are not exempt."""
    roles = memberships_of(request)
    if case_id is ANY_CASE:
        return any(handler and r.at_least(role) for r, handler in roles.values())
    membership = roles.get(case_id)
    return membership is not None and membership[1] and membership[0].at_least(role)


def handled_case_ids(request, role: Role = Role.VIEWER) -> list[int]:
    """The cases where the user is a source handler holding at least `role`."""
    return [case_id for case_id, (r, handler) in memberships_of(request).items()
            if handler and r.at_least(role)]
