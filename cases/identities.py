"""Who may see a protected source's identity, and the addresses that point at it.

The one module for these rules: pages, forms, the admin, the API and the exports ask it
rather than deciding for themselves, and the models call it so that every write path keeps
what it promises.

- **Source handlers** (`Membership.can_handle_sources`) of a case see the identity of its
  protected sources: real name, contact, notes and the source's address. Nobody else does,
  superusers included (the back office's explicit, logged reveal aside: cases/admin).
- **A protected source's address is part of its identity.** `Source.save()` (through
  `store_source_address`) moves it into `SourceIdentity.address`, encrypted; `Source.url`
  holds public addresses only (a check constraint says so). A source that becomes protected
  also loses its earlier addresses from its history table: a backup must not hold them in
  clear. Lifting the protection (a handler's decision) brings the address back to `url`.
- **A citation's address** is handlers-only when any source of its *lineage* (its source,
  its relays, and every source those are `reached_via`: cases/attribution.py) is protected:
  the address may be the protected person's own post, or the relay that names them, and the
  lineage is the one that decides whether two citations are independent. Such an address is
  stored encrypted in `Citation.protected_url` (`seal_citation_addresses`, called by
  `Citation.save()` and by bulk creation), its earlier clear copies leave the history table,
  and `url` keeps public addresses only. So what is stored in clear is what anyone may read.
  A sealed address stays sealed when its lineage loses its protected source, until a handler
  saves it again or lifts the protection: a member who is not a handler cannot make it
  public by re-attributing the citation.
- **Granting the handler right needs a second person**: an editor of the case, or its lead,
  grants it to someone else, never to themselves (`check_handler_grant`, codes below), as
  the four-eyes rule does for verdicts. The case's existing handlers get a mail about every
  new grant, and the case's reveal log lists the grants (`handler_grants`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import router, transaction
from django.db.models import Q
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import post_create_historical_record

from preferences.language import in_language_of

from . import crypto
from .attribution import chain
from .enums import Role
from .history import (
    IDENTITY_ADDRESSES_MOVED,
    RELAY_ADDRESS_MOVED,
    bulk_update_with_history,
    history_maintenance,
)
from .models import Citation, CitationRelay, Membership, Source, SourceIdentity

logger = logging.getLogger("casedesk.identities")

# --- refusal codes (forms, admin and API share them) -------------------------------------

#: Someone tried to grant the source-handler right to themselves.
HANDLER_SELF_GRANT = "handler_self_grant"
#: Someone who is neither an editor of the case nor its lead tried to grant it.
HANDLER_GRANT_NOT_ALLOWED = "handler_grant_not_allowed"
#: Someone who is not a handler sent an address that is handlers-only.
PROTECTED_ADDRESS = "protected_address"

#: Fields that hold identity-grade values, per model: for handlers only, on every page.
IDENTITY_FIELDS = {
    SourceIdentity: ("real_name", "contact", "private_notes", "address"),
    Citation: ("protected_url",),
}


# --- who is a handler ---------------------------------------------------------------------

def can_see_identity(membership) -> bool:
    """Whether this membership (or None) shows its holder the case's protected identities."""
    return bool(membership is not None and membership.can_handle_sources)


def is_handler(user, case) -> bool:
    """Whether `user` is one of `case`'s source handlers (`case` or its id)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    case_id = getattr(case, "pk", case)
    return Membership.objects.filter(user=user, case_id=case_id,
                                     can_handle_sources=True).exists()


# --- reading addresses --------------------------------------------------------------------

class Lineages:
    """Which citations of one case have a protected source in their lineage: the case's
    sources are read once (`for_case`), then each citation is asked without a query."""

    def __init__(self, rows):
        self.via_map = {pk: via for pk, via, _ in rows}
        self.protected_ids = {pk for pk, _, protected in rows if protected}

    @classmethod
    def for_case(cls, case_id) -> Lineages:
        return cls(Source.objects.filter(case_id=case_id)
                   .values_list("pk", "reached_via_id", "protected"))

    def lineage(self, source_id, relay_ids=()) -> set[int]:
        walked = set(chain(source_id, self.via_map))
        for relay in relay_ids:
            walked |= set(chain(relay, self.via_map))
        return walked

    def is_protected(self, citation, relay_ids=None) -> bool:
        """`relay_ids`: the citation's relays when the caller read them (else the citation's
        own, `Citation.relay_ids`)."""
        if relay_ids is None:
            relay_ids = citation.relay_ids
        return not self.protected_ids.isdisjoint(self.lineage(citation.source_id, relay_ids))

    def reaching(self, source_id) -> set[int]:
        """The sources whose chain passes through `source_id` (itself included)."""
        return {pk for pk in self.via_map if source_id in chain(pk, self.via_map)}


def _identity(source, *, create: bool):
    try:
        return source.identity  # the caller's own copy when it set one (the source form)
    except SourceIdentity.DoesNotExist:
        return SourceIdentity(source=source) if create else None


def source_address(source, *, handler: bool) -> str:
    """The address of `source` as the reader may see it. A protected source's address is
    part of its identity: handlers get it (reading the identity, which the caller logs as a
    reveal), everyone else an empty string."""
    if not source.protected:
        return source.url
    if not handler:
        return ""
    identity = _identity(source, create=False) if source.pk else None
    return identity.address if identity is not None else ""


def citation_address(citation, *, handler: bool) -> str:
    """The address of `citation` as the reader may see it: its public `url`, or for the
    case's handlers the protected address it has instead."""
    if citation.url or not handler:
        return citation.url
    return citation.protected_url or ""


def citation_address_withheld(citation, *, handler: bool,
                              lineages: Lineages | None = None) -> bool:
    """Whether a writer who is not a handler may neither see nor change this citation's
    address: it holds a protected one, or its lineage holds a protected source. A form
    leaves the field out (keeping what is stored), the API refuses an address."""
    if handler or citation.pk is None:
        return False
    if citation.protected_url is not None:
        return True
    if lineages is None:
        lineages = Lineages.for_case(
            Source.objects.filter(pk=citation.source_id).values_list("case_id")[:1])
    return lineages.is_protected(citation)


# --- writing addresses: called by the models on every write path ---------------------------

def take_protected_address(source) -> None:
    """A protected source's `url` is bound for its identity: keep it aside, empty `url`.
    Called by Source.clean() (before the check constraint is validated) and Source.save();
    the second call finds nothing to move."""
    if source.protected and (source.url or source.replaces_protected_address):
        source._address_for_identity = source.url
        source.url = ""
        source.replaces_protected_address = False


def _acting_user(instance):
    user = getattr(instance, "_history_user", None)
    if user is None:
        request = getattr(HistoricalRecords.context, "request", None)
        user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def _save_as(record, user) -> None:
    if user is not None:
        record._history_user = user
    record.save()
    # The source form saves its identity form after the source: nothing left to write when
    # this was that same record.
    record.saved_with_source = True


@contextlib.contextmanager
def store_source_address(source):
    """Around Source.save(): a protected source's address goes to its identity, a lifted
    protection brings it back, and the citations through a source whose protection or
    attribution changed are sealed (or, on a lifted protection, unsealed) to match."""
    creating = source._state.adding
    was_protected, old_reached_via = False, None
    if not creating:
        was_protected, old_reached_via = getattr(source, "_saved_state", (None, None))
        if was_protected is None:  # not loaded from the database with these fields
            was_protected, old_reached_via = (
                Source.objects.filter(pk=source.pk)
                .values_list("protected", "reached_via_id").first() or (False, None))
    take_protected_address(source)
    address = source.__dict__.pop("_address_for_identity", None)
    lifted = was_protected and not source.protected
    identity = None
    if lifted:
        identity = _identity(source, create=False)
        if identity is not None and identity.address and not source.url:
            source.url = identity.address
    yield
    user = _acting_user(source)
    if address is not None:
        identity = _identity(source, create=bool(address))
        if identity is not None and (identity.pk is None or identity.address != address):
            identity.address = address
            _save_as(identity, user)
    elif lifted and identity is not None and identity.address:
        identity.address = ""
        _save_as(identity, user)
    if not creating:
        became_protected = source.protected and not was_protected
        if became_protected:
            _scrub_source_history(source)
        if became_protected or lifted or source.reached_via_id != old_reached_via:
            _reseal_citations_through(source, unseal=lifted, user=user)
    source._saved_state = (source.protected, source.reached_via_id)


def seal_citation_addresses(citations) -> list:
    """Before citations are written: the address of each whose lineage holds a protected
    source moves, encrypted, to `protected_url`; a public address given for one whose
    lineage is free replaces a protected one. Two queries however many citations. Returns
    the citations whose given address it sealed."""
    pending = [c for c in citations if c.url or c.replaces_protected_address]
    if not pending:
        return []
    case_of = dict(Source.objects.filter(pk__in={c.source_id for c in pending})
                   .values_list("pk", "case_id"))
    sources_of: dict[int, list] = {case_id: [] for case_id in case_of.values()}
    for case_id, *row in Source.objects.filter(case_id__in=list(sources_of)).values_list(
            "case_id", "pk", "reached_via_id", "protected"):
        sources_of[case_id].append(row)
    lineages = {case_id: Lineages(rows) for case_id, rows in sources_of.items()}
    relays = _relays_of(pending)
    sealed = []
    for citation in pending:
        case_id = case_of.get(citation.source_id)
        if case_id is not None and lineages[case_id].is_protected(
                citation, relays.get(id(citation), ())):
            if citation.url:
                sealed.append(citation)
            citation.protected_url = citation.url or None
            citation.url = ""
        elif citation.url or citation.replaces_protected_address:
            citation.protected_url = None
        citation.replaces_protected_address = False
    return sealed


def _relays_of(citations) -> dict[int, list[int]]:
    """{id(citation): its relay ids} for citations about to be written: those given to
    set_relays(), else those stored (one query for all of them, none when every citation
    is new or had its relays given or prefetched)."""
    found, unread = {}, []
    for citation in citations:
        if (citation.relays_given or citation.pk is None
                or "relay_links" in getattr(citation, "_prefetched_objects_cache", {})):
            found[id(citation)] = citation.relay_ids
        else:
            unread.append(citation)
    if unread:
        stored: dict[int, list[int]] = {}
        for citation_id, source_id in (CitationRelay.objects
                                       .filter(citation_id__in=[c.pk for c in unread])
                                       .order_by("position", "pk")
                                       .values_list("citation_id", "source_id")):
            stored.setdefault(citation_id, []).append(source_id)
        for citation in unread:
            found[id(citation)] = stored.get(citation.pk, [])
    return found


def _reseal_citations_through(source, *, unseal: bool, user) -> None:
    lineages = Lineages.for_case(source.case_id)
    through = lineages.reaching(source.pk)
    changed, sealed = [], []
    citations = (Citation.objects
                 .filter(Q(source_id__in=through) | Q(relay_links__source_id__in=through))
                 .distinct().prefetch_related("relay_links"))
    for citation in citations:
        if lineages.is_protected(citation):
            if citation.url:
                citation.protected_url, citation.url = citation.url, ""
                changed.append(citation)
                sealed.append(citation.pk)
        elif unseal and citation.protected_url is not None:
            citation.url = citation.url or citation.protected_url
            citation.protected_url = None
            changed.append(citation)
    if changed:
        bulk_update_with_history(changed, ["url", "protected_url"], user=user,
                                 reason=IDENTITY_ADDRESSES_MOVED)
    if sealed:
        scrub_citation_history(sealed)


def reseal_citation(citation_id, *, user) -> None:
    """After a relay row was written on its own (the back office): the citation's public
    address moves to its sealed column when its lineage now holds a protected source."""
    citation = (Citation.objects.filter(pk=citation_id).exclude(url="")
                .select_related("source").first())
    if citation is None:
        return
    if Lineages.for_case(citation.source.case_id).is_protected(citation):
        citation.protected_url, citation.url = citation.url, ""
        bulk_update_with_history([citation], ["url", "protected_url"], user=user,
                                 reason=RELAY_ADDRESS_MOVED)
        scrub_citation_history([citation.pk])


# History is append-only. These two are the exception, under history_maintenance(): a clear
# address that became part of an identity leaves the history table (a citation's moves to
# the same row's encrypted column; a source's is in its identity from now on).

def _scrub_source_history(source) -> None:
    manager = Source.history.model._default_manager
    rows = list(manager.filter(id=source.pk).exclude(url="").values_list("pk", flat=True))
    if not rows:
        return
    with history_maintenance(router.db_for_write(Source),
                             reason=f"source {source.pk} became protected: its address "
                                    "leaves its history"):
        for pk in rows:
            crypto.write_raw(manager, pk, {"url": ""})


def scrub_citation_history(citation_ids) -> None:
    """The clear addresses of these citations' history rows move to the rows' encrypted
    column."""
    manager = Citation.history.model._default_manager
    rows = list(manager.filter(id__in=list(citation_ids)).exclude(url="")
                .values_list("pk", "url"))
    if not rows:
        return
    with history_maintenance(router.db_for_write(Citation),
                             reason="citations of a protected source: their addresses are "
                                    "encrypted in their history"):
        for pk, url in rows:
            crypto.write_raw(manager, pk, {"url": "", "protected_url": crypto.encrypt(url)})


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

    `was_handler`: whether the membership held the right before this change; read from the
    database when not given."""
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


@dataclass(frozen=True)
class HandlerGrant:
    at: object  # datetime
    grantee: str
    granted_by: str


def _name(user) -> str:
    if user is None:
        return str(_("someone outside the workspace (a script or an import)"))
    return user.get_full_name() or user.get_username()


def handler_grants(case) -> list[HandlerGrant]:
    """Every time someone became a source handler of `case`, newest first, read from the
    memberships' history (which nobody can rewrite)."""
    rows = (Membership.history.filter(case_id=case.pk)
            .select_related("user", "history_user")
            .order_by("id", "history_date", "history_id"))
    grants, held = [], {}
    for row in rows:
        if row.history_type != "-" and row.can_handle_sources and not held.get(row.id):
            grants.append(HandlerGrant(row.history_date, _name(row.user),
                                       _name(row.history_user)))
        held[row.id] = row.history_type != "-" and row.can_handle_sources
    return sorted(grants, key=lambda grant: grant.at, reverse=True)


@receiver(post_create_historical_record, dispatch_uid="cases.identities.handler_granted")
def _on_membership_history(sender, instance, history_instance, **kwargs):
    if not isinstance(instance, Membership) or not history_instance.can_handle_sources:
        return
    if history_instance.history_type == "-":
        return
    previous = (type(history_instance)._default_manager
                .filter(id=instance.pk, history_date__lte=history_instance.history_date)
                .exclude(pk=history_instance.pk)
                .order_by("-history_date", "-history_id").first())
    if previous is not None and previous.can_handle_sources and previous.history_type != "-":
        return
    membership_id, actor = instance.pk, history_instance.history_user
    transaction.on_commit(lambda: tell_handlers_of_grant(membership_id, actor),
                          using=router.db_for_write(Membership))


def tell_handlers_of_grant(membership_id, actor) -> int:
    """Mail each of the case's other handlers, one by one and in their own name, that
    someone became a handler. The mail names people and the case, never a source. Returns
    the number of mails sent; a mail server that fails is logged, the grant stands."""
    membership = (Membership.objects.select_related("case", "user")
                  .filter(pk=membership_id).first())
    if membership is None or not membership.can_handle_sources:
        return 0
    recipients = [m.user for m in (
        Membership.objects.filter(case_id=membership.case_id, can_handle_sources=True,
                                  user__is_active=True)
        .exclude(user_id=membership.user_id).exclude(user__email="")
        .select_related("user").order_by("user__username"))]
    if not recipients:
        return 0
    at = timezone.localtime()
    messages = []
    for user in recipients:
        # Each mail in its recipient's language, whoever made the grant; the names are
        # rendered inside too ("someone outside the workspace" is a phrase, not a name).
        with in_language_of(user):
            ctx = {"case": membership.case, "grantee": _name(membership.user),
                   "granted_by": _name(actor), "at": at, "recipient": _name(user)}
            subject = " ".join(render_to_string(
                "cases/mail/handler_granted_subject.txt", ctx).split())
            body = render_to_string("cases/mail/handler_granted_body.txt", ctx)
        messages.append(EmailMessage(subject, body, to=[user.email]))
    try:
        return get_connection().send_messages(messages) or 0
    except OSError:
        logger.exception("Could not mail the source handlers of case %s about a new grant",
                         membership.case_id)
        return 0
