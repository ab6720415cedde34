"""Per-case access: the one place that turns "this user, this case" into a Case or a 404.

A non-member gets 404, never 403, for every URL of a case: Casedesk does not confirm that a
case exists to someone who is not on it.
"""

from dataclasses import dataclass

from django.http import Http404

from .enums import Role
from .models import Case, Membership


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
