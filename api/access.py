"""Who may do what through the API: the pages' rules, read from the requesting user's
memberships (one query per request, cached on the request by cases.admin.scoping)."""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from cases.admin.scoping import memberships_of
from cases.enums import Role


def role_in(request, case_id) -> Role | None:
    membership = memberships_of(request).get(case_id)
    return membership[0] if membership else None


def handles_sources(request, case_id) -> bool:
    membership = memberships_of(request).get(case_id)
    return bool(membership and membership[1])


def require_role(request, case_id, needed: Role) -> None:
    """PermissionDenied (403) unless the user holds `needed` in the case. Callers reach a
    case only through querysets scoped with visible_to(), so a non-member never gets here:
    they get 404 (or "does not exist" for a related id) like for a missing record."""
    role = role_in(request, case_id)
    if role is not None and role.at_least(needed):
        return
    if role == Role.VIEWER:
        raise PermissionDenied("Viewers can read this case but not change it.")
    if needed == Role.EDITOR:
        raise PermissionDenied("Only an editor of this case can change this.")
    raise PermissionDenied("You cannot change this case's records.")


class CaseRolePermission(BasePermission):
    """Reading needs a membership (the queryset already says so); writing needs the view's
    `write_role` in the record's case, as the workspace's forms do (RecordFormView.min_role)."""

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        require_role(request, view.case_id_of(obj), view.write_role)
        return True
