"""Who may see a protected source's identity, and the addresses that point at it.

The one module for these rules; pages, forms, the admin, the API and the exports ask it
rather than deciding for themselves.

- **Source handlers** (`Membership.can_handle_sources`) of a case see the identity of its
  protected sources: real name, contact, notes, and the source's address. Nobody else does,
  superusers included (the back office's explicit, logged reveal aside: cases/admin).
- **A citation's address** is handlers-only when any source of its *lineage* (its source,
  its `via`, and every source those are `reached_via`: cases/attribution.py) is protected.
  The address may be where the protected person posted, or the relay that names them; the
  lineage is the same one that decides whether two citations are independent.
- **Granting the handler right needs a second person**: an editor of the case, or its lead,
  may grant it to someone else, never to themselves (`check_handler_grant`, refusal codes
  below). The case's existing handlers are told of every new grant.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .attribution import chain
from .enums import Role
from .models import Membership, Source

# --- refusal codes (forms, admin and API share them) -------------------------------------

#: Someone tried to grant the source-handler right to themselves.
HANDLER_SELF_GRANT = "handler_self_grant"
#: Someone who is neither an editor of the case nor its lead tried to grant it.
HANDLER_GRANT_NOT_ALLOWED = "handler_grant_not_allowed"
#: Someone who is not a handler sent an address that is handlers-only.
PROTECTED_ADDRESS = "protected_address"


# --- who is a handler ---------------------------------------------------------------------

def can_see_identity(membership) -> bool:
    """Whether this membership (or None) shows its holder the case's protected identities."""
    return bool(membership is not None and membership.can_handle_sources
                and membership.user.is_active)


def is_handler(user, case) -> bool:
    """Whether `user` is one of `case`'s source handlers (`case` or its id)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    case_id = getattr(case, "pk", case)
    return Membership.objects.filter(user=user, case_id=case_id,
                                     can_handle_sources=True).exists()


# --- addresses ----------------------------------------------------------------------------

class Lineages:
    """Which citations of one case have a protected source in their lineage: the case's
    sources read once (`for_case`), then asked per citation without a query."""

    def __init__(self, rows):
        self.via_map = {pk: via for pk, via, _ in rows}
        self.protected_ids = {pk for pk, _, protected in rows if protected}

    @classmethod
    def for_case(cls, case_id) -> Lineages:
        return cls(Source.objects.filter(case_id=case_id)
                   .values_list("pk", "reached_via_id", "protected"))

    def lineage(self, source_id, via_id) -> set[int]:
        return set(chain(source_id, self.via_map)) | set(chain(via_id, self.via_map))

    def is_protected(self, citation) -> bool:
        return not self.protected_ids.isdisjoint(
            self.lineage(citation.source_id, citation.via_id))


def source_address(source, *, handler: bool) -> str:
    """The address of `source` as the reader may see it: a protected source's address is
    part of its identity, for its handlers only."""
    if not source.protected:
        return source.url
    return source.url if handler else ""


def citation_address(citation, *, handler: bool, lineages: Lineages | None = None) -> str:
    """The address of `citation` as the reader may see it: handlers-only when its lineage
    holds a protected source."""
    if handler or not citation.url:
        return citation.url
    if lineages is None:
        lineages = Lineages.for_case(citation.source.case_id)
    return "" if lineages.is_protected(citation) else citation.url


# --- granting the handler right -----------------------------------------------------------

def may_grant_handler(actor, case) -> bool:
    """Editors of the case and its lead may grant the right (to others)."""
    if actor is None or not actor.is_active:
        return False
    if case.lead_id == actor.pk:
        return True
    return Membership.objects.filter(case=case, user=actor, role=Role.EDITOR).exists()


def check_handler_grant(membership, *, actor, was_handler: bool | None = None) -> None:
    """Refuse, with a ValidationError on `can_handle_sources` carrying its code, a change
    that makes `membership` a source handler when `actor` may not grant it: nobody grants it
    to themselves (a second person vouches for every handler), and only an editor of the
    case or its lead grants it at all. Nothing to check when the right is not being granted
    (kept, withdrawn, or never asked for).

    `was_handler` is whether the membership held the right before this change; by default
    it is read from the database."""
    if not membership.can_handle_sources:
        return
    if was_handler is None:
        was_handler = bool(membership.pk) and Membership.objects.filter(
            pk=membership.pk, can_handle_sources=True).exists()
    if was_handler:
        return
    if actor is not None and membership.user_id == actor.pk:
        raise ValidationError({"can_handle_sources": ValidationError(
            _("You cannot make yourself a source handler: another editor of the case, or "
              "its lead, has to grant it to you."), code=HANDLER_SELF_GRANT)})
    if not may_grant_handler(actor, membership.case):
        raise ValidationError({"can_handle_sources": ValidationError(
            _("Only an editor of this case, or its lead, can make someone a source "
              "handler."), code=HANDLER_GRANT_NOT_ALLOWED)})
