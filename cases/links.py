"""Making and removing links between cases and between incidents (cases/models/links.py):
the one place that writes them, for the pages, the API and the import alike.

Making or removing a link needs a reporter or editor of BOTH sides' cases: a link changes
what each case shows. A side in a case the actor is not a member of is refused exactly like
a record that does not exist (`link_target_not_found`), so trying ids reveals nothing; a
member who only reads one side is told so (`link_not_allowed`). Each refusal raises
ValidationError with its code and changes nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .access import member_case_ids
from .enums import IncidentLinkKind, Role
from .models import Case, CaseLink, Incident, IncidentLink, Membership
from .text import tidy_text

LINK_TARGET_NOT_FOUND = "link_target_not_found"
LINK_NOT_ALLOWED = "link_not_allowed"
LINK_TO_ITSELF = "link_to_itself"
LINK_EXISTS = "link_exists"
LINK_KIND_INVALID = "link_kind_invalid"
NOTE_MAX_LENGTH = 2000

MESSAGES = {
    LINK_TARGET_NOT_FOUND: _("There is no such record among the cases you are a member of."),
    LINK_NOT_ALLOWED: _("Linking and unlinking needs a reporter or editor of both cases."),
    LINK_TO_ITSELF: _("A record cannot be linked to itself."),
    LINK_EXISTS: _("These two are already linked."),
    LINK_KIND_INVALID: _("Choose how the incidents are linked: same event, follow-up or "
                         "related."),
}


def refusal(code: str, field: str | None = None) -> ValidationError:
    error = ValidationError(MESSAGES[code], code=code)
    return ValidationError({field: error}) if field else error


def check_may_link(user, case_ids, field: str | None = None) -> None:
    """Refuse unless `user` is a reporter or editor of every case in `case_ids`: a non-member
    of one of them as if that side did not exist. One query."""
    case_ids = set(case_ids)
    memberships = member_case_ids(user)
    rows = {} if memberships is None else dict(
        Membership.objects.filter(user=user, case_id__in=case_ids)
        .values_list("case_id", "role"))
    roles = [Role(rows[case_id]) if case_id in rows else None for case_id in case_ids]
    if any(role is None for role in roles):
        raise refusal(LINK_TARGET_NOT_FOUND, field)
    if not all(role.at_least(Role.REPORTER) for role in roles):
        raise refusal(LINK_NOT_ALLOWED, field)


def _note(note) -> str:
    note = tidy_text(note or "")
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": ValidationError(
            _("Keep the note under %(limit)d characters.") % {"limit": NOTE_MAX_LENGTH},
            code="max_length")})
    return note


def _save_new(link, actor, field: str):
    link._history_user = actor
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError:
        # Linked the other way round meanwhile (the unordered pair is unique).
        raise refusal(LINK_EXISTS, field) from None
    return link


def link_cases(from_case: Case, to_case: Case, *, actor, note: str = "") -> CaseLink:
    if from_case.pk == to_case.pk:
        raise refusal(LINK_TO_ITSELF, "to_case")
    check_may_link(actor, [from_case.pk, to_case.pk], "to_case")
    if CaseLink.objects.filter(Q(from_case=from_case, to_case=to_case)
                               | Q(from_case=to_case, to_case=from_case)).exists():
        raise refusal(LINK_EXISTS, "to_case")
    return _save_new(CaseLink(from_case=from_case, to_case=to_case, note=_note(note),
                              created_by=actor), actor, "to_case")


def link_incidents(from_incident: Incident, to_incident: Incident, *, actor,
                   kind: str = IncidentLinkKind.RELATED, note: str = "") -> IncidentLink:
    if kind not in IncidentLinkKind.values:
        raise refusal(LINK_KIND_INVALID, "kind")
    if from_incident.pk == to_incident.pk:
        raise refusal(LINK_TO_ITSELF, "to_incident")
    check_may_link(actor, [from_incident.case_id, to_incident.case_id], "to_incident")
    if IncidentLink.objects.filter(
            Q(from_incident=from_incident, to_incident=to_incident)
            | Q(from_incident=to_incident, to_incident=from_incident)).exists():
        raise refusal(LINK_EXISTS, "to_incident")
    return _save_new(IncidentLink(from_incident=from_incident, to_incident=to_incident,
                                  kind=kind, note=_note(note), created_by=actor),
                     actor, "to_incident")


def case_ids_of(link) -> list[int]:
    if isinstance(link, CaseLink):
        return [link.from_case_id, link.to_case_id]
    return [link.from_incident.case_id, link.to_incident.case_id]


def unlink(link, *, actor) -> None:
    """Remove a link (recorded in its history in the actor's name)."""
    check_may_link(actor, case_ids_of(link))
    link._history_user = actor
    link.delete()
