"""Deleting a record from the workspace, the case's "Recently deleted" page and restoring from
it (the rules are cases/deletion.py's).

Editors only: like the record forms (cases/views/records.py), a member below the page's role
gets 404, as a non-member does. The confirmation page (GET) says what goes with the record;
its form carries the record's version, so a record changed since the page was opened is not
deleted blindly (409 with who changed what, as the edit forms answer).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext, ngettext

from ..deletion import (
    ALREADY_DELETED,
    DELETABLE,
    RESTORE_DAYS,
    DeletionRefused,
    consequences,
    delete_record,
    evidence_is_deleted,
    recently_deleted,
    restore_record,
)
from ..enums import Role
from ..forms.versioning import VersionedFormMixin
from ..models import Evidence
from .case_page import case_view

CONFIRM_TEMPLATE = "cases/record_confirm_delete.html"

#: kind → (the case tab it belongs to, the list a deletion returns to)
PLACES = {"incident": ("timeline", "cases:timeline"),
          "claim": ("claims", "cases:claims_board"),
          "source": ("sources", "cases:source_list"),
          "task": ("tasks", "cases:task_list"),
          "commentrequest": ("timeline", "cases:timeline"),
          "evidence": ("evidence", "cases:evidence_list")}


class DeleteForm(VersionedFormMixin, forms.Form):
    """The confirmation: nothing to fill in but the record's version."""

    def __init__(self, *args, instance, **kwargs):
        self.instance = instance
        super().__init__(*args, **kwargs)


def _record(case_page, kind, pk, *, lock=False):
    records = DELETABLE[kind].objects.filter(case=case_page.case, pk=pk)
    if lock:
        records = records.select_for_update()
    record = records.first()
    if record is None:
        raise Http404
    return record


def _refusal_of(kind, record) -> DeletionRefused | None:
    if kind == "evidence" and evidence_is_deleted(record):
        return DeletionRefused(gettext("This evidence is already deleted."),
                               code=ALREADY_DELETED)
    return None


def _confirm_page(case_page, kind, record, form, *, conflicts=(), refusal=None, status=200):
    outcome = consequences(record)
    refusal = refusal or _refusal_of(kind, record) or outcome.refusal
    return case_page.render(CONFIRM_TEMPLATE, {
        "object": record, "kind": kind, "form": form, "conflicts": conflicts,
        "refusal": refusal, "refusal_message": refusal.messages[0] if refusal else "",
        "removed": outcome.removed, "unlinked": outcome.unlinked,
        "is_evidence": isinstance(record, Evidence), "restore_days": RESTORE_DAYS,
        "cancel_url": reverse(PLACES[kind][1], args=[case_page.case.slug]),
    }, status=status)


def _delete_view(kind):
    tab, list_url = PLACES[kind]

    @case_view(tab=tab, methods=("GET", "POST"), min_role=Role.EDITOR)
    def delete_page(request, case_page, pk):
        if request.method != "POST":
            record = _record(case_page, kind, pk)
            return _confirm_page(case_page, kind, record, DeleteForm(instance=record))
        data = request.POST.copy()  # mutable: a refused page is restamped
        conflict = refusal = None
        with transaction.atomic():
            record = _record(case_page, kind, pk, lock=True)
            form = DeleteForm(data, instance=record)
            conflict = form.version_conflict()
            if conflict is None:
                try:
                    delete_record(record, request.user)
                except DeletionRefused as refused:
                    refusal = refused
        if conflict is not None:
            form.refresh_version()
            return _confirm_page(case_page, kind, record, form, conflicts=[conflict],
                                 status=409)
        if refusal is not None:
            return _confirm_page(case_page, kind, record, form, refusal=refusal, status=400)
        messages.success(request, ngettext(
            "%(record)s “%(name)s” deleted. An editor can restore it from Recently deleted "
            "for %(days)d day.",
            "%(record)s “%(name)s” deleted. An editor can restore it from Recently deleted "
            "for %(days)d days.", RESTORE_DAYS) % {
                "record": record._meta.verbose_name.capitalize(), "name": record,
                "days": RESTORE_DAYS})
        return redirect(list_url, case_page.case.slug)

    delete_page.__name__ = f"{kind}_delete"
    delete_page.__doc__ = f"Delete one {kind} of the case, after a confirmation page."
    return delete_page


incident_delete = _delete_view("incident")
claim_delete = _delete_view("claim")
source_delete = _delete_view("source")
task_delete = _delete_view("task")
commentrequest_delete = _delete_view("commentrequest")
evidence_delete = _delete_view("evidence")


@case_view(tab="activity", min_role=Role.EDITOR)
def recently_deleted_page(request, case_page):
    """The case's records deleted in the last 30 days, who deleted each and when, each with
    Restore. A source appears under its name, which for a protected source is its codename:
    no identity is read here."""
    slug = case_page.case.slug
    items = [(item, reverse(f"cases:deleted_{item.kind}_restore", args=[slug, item.pk]))
             for item in recently_deleted(case_page.case)]
    return case_page.render("cases/recently_deleted.html", {
        "items": items, "restore_days": RESTORE_DAYS})


def _restore_view(kind):
    @case_view(tab="activity", methods=("POST",), min_role=Role.EDITOR)
    def restore(request, case_page, pk):
        try:
            record = restore_record(case_page.case, kind, pk, request.user)
        except DeletionRefused as refusal:
            messages.error(request, refusal.messages[0], extra_tags=refusal.code)
        else:
            messages.success(request, gettext("%(record)s “%(name)s” restored.") % {
                "record": record._meta.verbose_name.capitalize(), "name": record})
        return redirect("cases:recently_deleted", case_page.case.slug)

    restore.__name__ = f"{kind}_restore"
    restore.__doc__ = f"Restore one deleted {kind} of the case (POST only)."
    return restore


incident_restore = _restore_view("incident")
claim_restore = _restore_view("claim")
source_restore = _restore_view("source")
task_restore = _restore_view("task")
commentrequest_restore = _restore_view("commentrequest")
evidence_restore = _restore_view("evidence")
