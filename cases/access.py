"""Who may see and do what in a case: the one place for Casedesk's access rules.

Editorial access is granted per case, by a membership: a role (viewer, reporter, editor,
`Role.at_least`) and the source-handler right (a flag on the membership). Every way in reads
it from here:

- **Querysets**: `member_case_ids(user)`, the rule behind every `visible_to(user)`: the cases
  the user is a member of (or holds a role in, such as the cases they edit), as a subquery.
  Superusers are no exception.
- **The workspace's pages**: `get_case_for_user()` turns "this user, this case" into a
  `CaseAccess` or a 404. A non-member gets 404, never 403, for every URL of a case: Casedesk
  does not confirm that a case exists to someone who is not on it. The views reach it through
  `cases.views.case_page.case_view`.
- **The back office and the API**: permission checks run many times on one page or request
  (every inline, every action, every serialized record), so they read the user's memberships
  once per request (`memberships_of`). In the back office superusers hold every role in every
  case (`has_case_role`: they run the newsroom's system); the API's `role_in` gives them none
  they do not hold.
- **Outside a request** (a save hook, a background task): `rights_in_case(user, case_id)`,
  kept on the user object.
- **Source handlers**: nobody, superusers included, is a source handler of a case without the
  flag on their membership (`handles_sources`, `CaseAccess.can_handle_sources`): only a case's
  handlers see its protected identities (DESIGN.md); an administrator who must reach one goes
  through the audited reveal (cases/admin/reveal.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from .enums import Role
from .models import Case, Membership

# --- Querysets --------------------------------------------------------------------------------

def member_case_ids(user, min_role: Role = Role.VIEWER):
    """The ids of the cases where `user` holds at least `min_role` (a subquery), or None for
    an anonymous or deactivated user, who sees no case at all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    memberships = Membership.objects.filter(user=user)
    if min_role != Role.VIEWER:
        memberships = memberships.filter(role__in=[r for r in Role if r.at_least(min_role)])
    return memberships.values("case_id")


# --- The workspace's pages --------------------------------------------------------------------

@dataclass(frozen=True)
class CaseAccess:
    case: Case
    membership: Membership

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    @property
    def can_edit(self) -> bool:
        return self.role.at_least(Role.REPORTER)

    @property
    def is_editor(self) -> bool:
        return self.role == Role.EDITOR

    @property
    def can_handle_sources(self) -> bool:
        from .identities import can_see_identity

        return can_see_identity(self.membership)


def get_case_for_user(user, slug: str, *, min_role: Role = Role.VIEWER) -> CaseAccess:
    """The case with this slug and the user's membership of it, in one query, or Http404.

    `min_role` also answers 404 to members below it for pages that only exist for them
    (say, a reporter's edit form for a viewer)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Http404("No such case.")
    membership = (
        Membership.objects.select_related("case")
        .filter(user=user, case__slug=slug)
        .first()
    )
    if membership is None or not Role(membership.role).at_least(min_role):
        raise Http404("No such case.")
    return CaseAccess(case=membership.case, membership=membership)


# --- The back office and the API: the requesting user's memberships ---------------------------

_MEMBERSHIPS_ATTR = "_casedesk_memberships"

#: "In any case" for has_case_role() and handles_sources().
ANY_CASE = object()


def memberships_of(request) -> dict[int, tuple[Role, bool]]:
    """{case id: (role, is source handler)} for the requesting user, read once per request."""
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


def role_in(request, case_id) -> Role | None:
    """The requesting user's role in that case, None when they are not a member (superusers
    included: this is the API's rule)."""
    membership = memberships_of(request).get(case_id)
    return membership[0] if membership else None


def has_case_role(request, role: Role, case_id=ANY_CASE) -> bool:
    """The back office's rule: whether the user holds at least `role` in that case (or in
    any case). Superusers hold every role."""
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


# Outside a request (a save hook, a task) there is only the user: their role and handler flag
# per case are kept on the user object instead.
_RIGHTS_ATTR = "_casedesk_rights"


def rights_in_case(user, case_id: int) -> tuple[Role, bool] | None:
    """(role, whether a source handler) of `user` in case `case_id`, or None for a
    non-member (or an anonymous or deactivated user). One query per user and case, kept on
    the user object: saving a form's citations asks once, not once per citation, and a
    worker reads its requester anew for every capture (capture.domain.run_capture)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    known = getattr(user, _RIGHTS_ATTR, None)
    if known is None:
        known = {}
        setattr(user, _RIGHTS_ATTR, known)
    if case_id not in known:
        row = Membership.objects.filter(user=user, case_id=case_id).order_by().values_list(
            "role", "can_handle_sources").first()
        known[case_id] = (Role(row[0]), bool(row[1])) if row else None
    return known[case_id]
