"""A record's history for the case's members: every change, who made it and when, and field by
field what it was before and after (cases/history.py reads the rows).

For incidents, claims (with their citations and the citations' relays), sources (with, for
the case's source handlers, their identity), tasks, requests for comment and evidence. A
deleted record keeps its page: history outlives the record.

Need to know (cases/identities.py): a protected source's identity and the handlers-only address
of a citation are shown to the case's source handlers only, and showing a handler an identity
is logged as a reveal. Everyone else gets nothing of them, not even "changed": when an identity
was edited says something about the person behind it. The back office's history leaves the
same fields out (cases/admin/need_to_know.py). A protected source's rows from before it was
protected are its handlers' too: a name later changed to a codename may be the person's own.

Each page reads the record's history rows, its parts' rows, and the records they name, one
query each, however long the history (tests/test_record_history.py pins the counts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

from django.core.paginator import Paginator
from django.http import Http404
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..history import (
    history_entries,
    related_names,
    relay_entries,
    relay_history_rows,
    shown_fields,
    with_restored_relays,
)
from ..identities import IDENTITY_FIELDS
from ..models import (
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    IdentityReveal,
    Incident,
    RevealChannel,
    Source,
    SourceIdentity,
    Task,
)
from .case_page import case_view

HISTORY_PAGE_SIZE = 50


@dataclass(frozen=True)
class _Kind:
    """How one kind of record's history page reads and links."""

    model: type
    #: The page's heading, with %(name)s.
    heading: Promise
    #: The record's name, from its latest history row and the names of what it points to.
    name_of: Callable
    #: The address of the record's own page for this member, or of the list it is in.
    back_url: Callable


def _edit_or_list(edit_name: str, list_name: str):
    def back_url(access, pk):
        if access.can_edit:
            return reverse(f"cases:{edit_name}", args=[access.case.slug, pk])
        return reverse(f"cases:{list_name}", args=[access.case.slug])
    return back_url


def _detail(name: str):
    def back_url(access, pk):
        return reverse(f"cases:{name}", args=[access.case.slug, pk])
    return back_url


_KINDS = {
    "incident": _Kind(Incident, _("History of the incident “%(name)s”"),
                      lambda row, names: row.title, _edit_or_list("incident_edit", "timeline")),
    "claim": _Kind(Claim, _("History of the claim “%(name)s”"),
                   lambda row, names: str(row.instance), _detail("claim_detail")),
    "source": _Kind(Source, _("History of the source “%(name)s”"),
                    lambda row, names: row.name, _edit_or_list("source_edit", "source_list")),
    "task": _Kind(Task, _("History of the task “%(name)s”"),
                  lambda row, names: row.title, _edit_or_list("task_edit", "task_list")),
    "commentrequest": _Kind(
        CommentRequest, _("History of the request for comment to “%(name)s”"),
        lambda row, names: row.party_name or names.get((Source, row.party_source_id), ""),
        _edit_or_list("commentrequest_edit", "timeline")),
    "evidence": _Kind(Evidence, _("History of the evidence “%(name)s”"),
                      lambda row, names: str(row.instance), _detail("evidence_detail")),
}

# The columns that place a record or a part, never changed by an edit.
_RECORD_HIDDEN = frozenset({"case"})


def _citation_parts(claim_id, names_wanted, *, handler: bool):
    """The claim's citations' history rows, grouped by citation, and what to read them with."""
    rows = list(Citation.history.filter(claim_id=claim_id).select_related("history_user")
                .order_by("id", "history_date", "history_id"))
    fields = shown_fields(Citation, hidden=frozenset({"claim", "incident"}),
                          also=frozenset(IDENTITY_FIELDS[Citation]))
    names_wanted.append((fields, rows))
    withheld = frozenset() if handler else frozenset(IDENTITY_FIELDS[Citation])
    return [(list(group), fields, withheld)
            for _citation_id, group in groupby(rows, key=lambda row: row.id)]


def _identity_rows(source_id, names_wanted):
    rows = list(SourceIdentity.history.filter(source_id=source_id)
                .select_related("history_user").order_by("history_date", "history_id"))
    fields = shown_fields(SourceIdentity, hidden=frozenset({"source"}))
    names_wanted.append((fields, rows))
    return rows, fields


def _protected_since(rows) -> int:
    """The index of the row from which a source has been protected without a break, or 0
    when it is not protected now (or always was)."""
    if not rows[-1].protected:
        return 0
    since = len(rows) - 1
    while since > 0 and rows[since - 1].protected:
        since -= 1
    return since


def _entries_since_protected(rows, fields, names):
    """A protected source's history as one who is not its handler reads it: what it was
    called and where it was before it was protected may be who it is (a name changed to a
    codename), so those rows are left out; the change that protected it says only that."""
    since = _protected_since(rows)
    others = frozenset(f.name for f in fields) - {"protected"}
    protecting = history_entries(rows[since - 1:since + 1], fields, names, withheld=others)
    # The first row of the protected run lists its values as a creation would: those are
    # already read in the change that protected it, so it is left out.
    return protecting[-1:] + history_entries(rows[since:], fields, names)[1:]


def _history_page(case_page, kind: _Kind, pk: int):
    access = case_page.access
    handler = access.can_handle_sources
    rows = list(kind.model.history.filter(id=pk, case_id=access.case.pk)
                .select_related("history_user").order_by("history_date", "history_id"))
    if not rows:
        raise Http404("No such record.")
    fields = shown_fields(kind.model, hidden=_RECORD_HIDDEN)
    names_wanted = [(fields, rows)]
    citations = (_citation_parts(pk, names_wanted, handler=handler)
                 if kind.model is Claim else [])
    relay_rows = (relay_history_rows({rows[0].id for rows, _f, _w in citations}, names_wanted)
                  if citations else [])
    identity_rows, identity_fields = (_identity_rows(pk, names_wanted)
                                      if kind.model is Source and handler else ([], []))
    names = related_names(names_wanted)

    earlier_withheld = kind.model is Source and not handler and _protected_since(rows) > 0
    if earlier_withheld:
        entries = _entries_since_protected(rows, fields, names)
    else:
        entries = history_entries(rows, fields, names)
    parts = {}
    for citation_rows, citation_fields, withheld in citations:
        source_name = names.get((Source, citation_rows[-1].source_id)) or gettext(
            "a deleted source")
        parts[citation_rows[0].id] = gettext("Citation from %(source)s") % {
            "source": source_name}
        entries += history_entries(
            citation_rows, citation_fields, names, withheld=withheld,
            part=parts[citation_rows[0].id])
    removals = {(entry.part, entry.reason) for entry in entries
                if entry.part and entry.deleted and entry.reason}
    relays, restored_relays = relay_entries(relay_rows, names, parts.get, removals)
    entries = with_restored_relays(entries, restored_relays) + relays
    identity_entries = history_entries(identity_rows, identity_fields, names,
                                       part=gettext("Identity (source handlers only)"))
    entries += identity_entries
    entries.sort(key=lambda entry: entry.at, reverse=True)
    page = Paginator(entries, HISTORY_PAGE_SIZE).get_page(case_page.request.GET.get("page"))

    if identity_entries and any(entry.part == identity_entries[0].part for entry in page):
        # The identity's values are on this page: the reveal log says who saw them.
        source = Source.objects.filter(pk=pk, case_id=access.case.pk).first()
        if source is not None:
            IdentityReveal.objects.record(case_page.request.user, [source],
                                          RevealChannel.SOURCE_PAGE)

    latest = rows[-1]
    return case_page.render("cases/record_history.html", {
        "heading": kind.heading % {"name": kind.name_of(latest, names)},
        "page": page,
        "deleted": latest.history_type == "-",
        "earlier_withheld": earlier_withheld,
        "back_url": None if latest.history_type == "-" else kind.back_url(access, pk),
    })


@case_view(tab="timeline")
def incident_history(request, case_page, pk):
    return _history_page(case_page, _KINDS["incident"], pk)


@case_view(tab="claims")
def claim_history(request, case_page, pk):
    return _history_page(case_page, _KINDS["claim"], pk)


@case_view(tab="sources")
def source_history(request, case_page, pk):
    return _history_page(case_page, _KINDS["source"], pk)


@case_view(tab="tasks")
def task_history(request, case_page, pk):
    return _history_page(case_page, _KINDS["task"], pk)


@case_view(tab="timeline")
def commentrequest_history(request, case_page, pk):
    return _history_page(case_page, _KINDS["commentrequest"], pk)


@case_view(tab="evidence")
def evidence_history(request, case_page, pk):
    return _history_page(case_page, _KINDS["evidence"], pk)
