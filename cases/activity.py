"""The activity feed: verification events and the change history of a set of cases, merged
newest first. One query per source table whatever the amount of history, so the dashboard and
the case's Activity page cost the same for a quiet case and a busy one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from .history import RESTORED_REASON
from .models import (
    Case,
    Claim,
    CommentRequest,
    Evidence,
    Incident,
    Membership,
    Source,
    Task,
    VerificationEvent,
)
from .workflow import HISTORY_CHANGE_REASON

# model → (what was done to such a row, by history type, and under RESTORED_REASON for a
# restore, whose row is a "+" like a creation's; how to name the record; related rows to
# fetch). Whole sentences rather than verb + noun, so a language can agree its verb with the
# noun's gender and case. Evidence and members are never restored from history rows (a file's
# restore is a custody entry), so they have no restore sentence.
_HISTORY_SOURCES = {
    Incident: ({"+": pgettext_lazy("activity", "added incident “%(name)s”"),
                "~": pgettext_lazy("activity", "changed incident “%(name)s”"),
                "-": pgettext_lazy("activity", "deleted incident “%(name)s”"),
                RESTORED_REASON: pgettext_lazy("activity", "restored incident “%(name)s”")},
               lambda row: row.title, ()),
    Claim: ({"+": pgettext_lazy("activity", "added claim “%(name)s”"),
             "~": pgettext_lazy("activity", "changed claim “%(name)s”"),
             "-": pgettext_lazy("activity", "deleted claim “%(name)s”"),
             RESTORED_REASON: pgettext_lazy("activity", "restored claim “%(name)s”")},
            lambda row: row.statement, ()),
    # A protected source's name is its codename; rows from before it was protected are named
    # by its latest name, never by the name it had then (see _source_rows).
    Source: ({"+": pgettext_lazy("activity", "added source “%(name)s”"),
              "~": pgettext_lazy("activity", "changed source “%(name)s”"),
              "-": pgettext_lazy("activity", "deleted source “%(name)s”"),
              RESTORED_REASON: pgettext_lazy("activity", "restored source “%(name)s”")},
             lambda row: row.latest_name if row.latest_protected else row.name, ()),
    Task: ({"+": pgettext_lazy("activity", "added task “%(name)s”"),
            "~": pgettext_lazy("activity", "changed task “%(name)s”"),
            "-": pgettext_lazy("activity", "deleted task “%(name)s”"),
            RESTORED_REASON: pgettext_lazy("activity", "restored task “%(name)s”")},
           lambda row: row.title, ()),
    CommentRequest: ({"+": pgettext_lazy("activity", "added request for comment to “%(name)s”"),
                      "~": pgettext_lazy("activity",
                                         "changed request for comment to “%(name)s”"),
                      "-": pgettext_lazy("activity",
                                         "deleted request for comment to “%(name)s”"),
                      RESTORED_REASON: pgettext_lazy(
                          "activity", "restored request for comment to “%(name)s”")},
                     lambda row: row.party_name or row.party_source.name, ("party_source",)),
    Evidence: ({"+": pgettext_lazy("activity", "added evidence “%(name)s”"),
                "~": pgettext_lazy("activity", "changed evidence “%(name)s”"),
                "-": pgettext_lazy("activity", "deleted evidence “%(name)s”")},
               lambda row: row.original_name, ()),
    Membership: ({"+": pgettext_lazy("activity", "added member “%(name)s”"),
                  "~": pgettext_lazy("activity", "changed member “%(name)s”"),
                  "-": pgettext_lazy("activity", "removed member “%(name)s”")},
                 lambda row: f"{row.user.get_username()} ({row.get_role_display()})", ("user",)),
}


# Where an item leads: a record's history page (what changed), a claim's page for its moves.
_PAGES = {Incident: "cases:incident_history", Claim: "cases:claim_history",
          Source: "cases:source_history", Task: "cases:task_history",
          CommentRequest: "cases:commentrequest_history", Evidence: "cases:evidence_history",
          VerificationEvent: "cases:claim_detail"}


@dataclass(frozen=True)
class ActivityItem:
    at: dt.datetime
    actor: str
    case: Case
    text: str
    url: str = ""


def _truncate(text: str, length: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _sentence(sentences, row):
    """What a history row did: a record brought back from "Recently deleted" reads as
    restored, not added a second time."""
    if (row.history_type == "+" and row.history_change_reason == RESTORED_REASON
            and RESTORED_REASON in sentences):
        return sentences[RESTORED_REASON]
    return sentences[row.history_type]


def _source_rows(rows):
    """A source made protected may have been entered under a person's real name: its older
    history rows still hold it. Each row carries the source's latest state, so that a source
    protected now (or when deleted) is named by its codename in every row of the feed, which
    every member reads."""
    latest = Source.history.filter(id=OuterRef("id")).order_by("-history_date", "-history_id")
    return rows.annotate(latest_name=Subquery(latest.values("name")[:1]),
                         latest_protected=Subquery(latest.values("protected")[:1]))


def activity_for(case_ids, *, limit: int = 20, before: dt.datetime | None = None):
    """The `limit` newest activity items of these cases (older than `before`, if given).

    `case_ids` is a list or a subquery of case ids (the dashboard passes the user's
    memberships as a subquery: an editor of a thousand cases costs no more than one of five).
    Only the cases named by the items shown are fetched."""
    # (when, who, case id, what, the page's url name and record id)
    found: list[tuple[dt.datetime, str, int, str, str | None, int]] = []

    events = VerificationEvent.objects.filter(claim__case_id__in=case_ids)
    if before is not None:
        events = events.filter(created_at__lt=before)
    for event in events.select_related("actor", "claim").order_by("-created_at", "-pk")[:limit]:
        claim = event.claim
        if event.kind == "proposal":
            text = _("proposed %(verdict)s for “%(claim)s”") % {
                "verdict": event.get_proposed_verdict_display().lower(), "claim": claim}
        else:
            text = _("moved “%(claim)s” from %(old)s to %(new)s") % {
                "claim": claim, "old": event.get_from_status_display().lower(),
                "new": event.get_to_status_display().lower()}
        found.append((event.created_at, event.actor.get_username(), claim.case_id, text,
                      _PAGES[VerificationEvent], claim.pk))

    for model, (sentences, name_of, related) in _HISTORY_SOURCES.items():
        rows = model.history.filter(case_id__in=case_ids).exclude(
            history_change_reason=HISTORY_CHANGE_REASON)
        if model is Source:
            rows = _source_rows(rows)
        if before is not None:
            rows = rows.filter(history_date__lt=before)
        rows = rows.select_related("history_user", *related).order_by(
            "-history_date", "-history_id")[:limit]
        for row in rows:
            actor = row.history_user.get_username() if row.history_user else _("system")
            text = _sentence(sentences, row) % {"name": _truncate(name_of(row))}
            found.append((row.history_date, actor, row.case_id, text, _PAGES.get(model), row.id))

    found.sort(key=lambda item: item[0], reverse=True)
    found = found[:limit]
    cases = Case.objects.in_bulk({item[2] for item in found})
    return [ActivityItem(at, actor, cases[case_id], text,
                         reverse(page, args=[cases[case_id].slug, pk]) if page else "")
            for at, actor, case_id, text, page, pk in found]
