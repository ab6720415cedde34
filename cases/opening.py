"""Opening a case: a newsroom decision, not something any account can do.

Opening a case starts a story and makes its opener the case's editor, so it is a right of its
own: the permission `cases.open_case` (Case.Meta.permissions), given through a group.
Migration 0011 creates the group "Desk editors" with it; administrators put in it the people
who start stories (seed_demo puts the demo's two editors there). The right counts only when
held through a group or given to the account itself: a superuser's blanket permissions do not
make them a newsroom editor, as editorial access is never implied by a technical role
(docs/architecture.md, Access).

Every way in asks `may_open_cases()`: the pages (the "New case" button is hidden and the form
answers 403), the API (403 with code `open_case_denied`) and the admin (adding a case).
`open_case()` saves the case and its opener's editor membership in one transaction. Who may
lead the new case, and the address it gets, are the model's rules (Case.lead_candidates,
Case.save): the same on every path.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .enums import Role
from .models import Case, Membership

OPEN_CASE_PERMISSION = "cases.open_case"
DESK_EDITORS_GROUP = "Desk editors"
OPEN_CASE_DENIED = "open_case_denied"
OPEN_CASE_DENIED_MESSAGE = _(
    "Opening a case is for desk editors: ask one to open it and add you, or ask an "
    "administrator for the right."
)

_CACHE_ATTR = "_casedesk_may_open_cases"


def may_open_cases(user) -> bool:
    """Whether `user` holds `cases.open_case` through a group or directly (remembered on the
    user object, so a page asks the database once)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    allowed = getattr(user, _CACHE_ATTR, None)
    if allowed is None:
        app_label, codename = OPEN_CASE_PERMISSION.split(".")
        allowed = (Permission.objects
                   .filter(content_type__app_label=app_label, codename=codename)
                   .filter(Q(user=user) | Q(group__user=user)).exists())
        setattr(user, _CACHE_ATTR, allowed)
    return allowed


def desk_editors():
    """The group that holds the right to open cases, as migration 0011 made it (made again,
    with the right, if it has been deleted since)."""
    app_label, codename = OPEN_CASE_PERMISSION.split(".")
    group, _ = Group.objects.get_or_create(name=DESK_EDITORS_GROUP)
    group.permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                 codename=codename))
    return group


@transaction.atomic
def open_case(case: Case, opener) -> Case:
    """Save the new `case`, opened by `opener`, who becomes its editor; both are recorded in
    the history in their name. PermissionDenied without the right."""
    if not may_open_cases(opener):
        raise PermissionDenied(OPEN_CASE_DENIED_MESSAGE)
    case.created_by = opener
    case._history_user = opener
    case.save()
    membership = Membership(case=case, user=opener, role=Role.EDITOR, added_by=opener)
    membership._history_user = opener
    membership.save()
    return case
