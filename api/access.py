"""Who may write what through the API: the pages' rules (cases.access, read from the
requesting user's memberships once per request), answered the REST way: 403 with the reason
to a member whose role is too low."""

from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from cases.access import role_in
from cases.enums import Role


def require_role(request, case_id, needed: Role) -> None:
    """PermissionDenied (403) unless the user holds `needed` in the case. Callers reach a
    case only through querysets scoped with visible_to(), so a non-member never gets here:
    they get 404 (or "does not exist" for a related id) like for a missing record."""
    role = role_in(request, case_id)
    if role is not None and role.at_least(needed):
        return
    if role == Role.VIEWER:
        raise PermissionDenied(_("Viewers can read this case but not change it."))
    if needed == Role.EDITOR:
        raise PermissionDenied(_("Only an editor of this case can change this."))
    raise PermissionDenied(_("You cannot change this case's records."))


class CaseRolePermission(BasePermission):
    """Reading needs a membership (the queryset already says so); writing needs the view's
    `write_role` in the record's case, as the workspace's forms do (RecordFormView.min_role)."""

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        require_role(request, view.case_id_of(obj), view.write_role)
        return True
