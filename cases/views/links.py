"""Linked cases and linked incidents (cases/models/links.py) on the pages.

- `case_links`: the case's linked cases, with the forms to link another case and to remove
  a link (reporters and editors); the overview lists them too (case_links.html).
- `incident_links`: an incident's linked incidents, in this case or another, with the same
  forms; the timeline links to it from every incident.

Only links whose other side is in a case the reader is a member of are shown or can be
removed: anyone else sees nothing of them. The timeline does not show the links themselves:
its entries are cached per case and role (cases/fragments.py), and what a reader may see of
a link depends on their memberships of other cases too.

Adding and removing go through cases.links (reporter or editor of both sides); a refusal
shows the page again with the reason beside the field (400), its code in the form's errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from .. import links as linking
from ..enums import Role
from ..forms.links import CaseLinkForm, IncidentLinkForm, LinkRemoveForm
from ..models import Case, CaseLink, Incident, IncidentLink
from .case_page import case_view

WRITE = ("POST",)


@dataclass(frozen=True)
class ShownLink:
    """A link as read from one side: the other record, and how it is linked."""

    link: CaseLink | IncidentLink
    other: Case | Incident
    description: str = ""


def visible_case_links(case: Case, user) -> list[ShownLink]:
    """The case's links whose other case `user` is a member of: one query."""
    rows = (CaseLink.objects.visible_to(user).touching(case)
            .select_related("from_case", "to_case", "created_by").order_by("pk"))
    return [ShownLink(link, link.other_side(case)) for link in rows]


def visible_incident_links(incident: Incident, user) -> list[ShownLink]:
    """The incident's links whose other incident is in a case `user` is a member of: one
    query."""
    rows = (IncidentLink.objects.visible_to(user).touching(incident)
            .select_related("from_incident__case", "to_incident__case", "created_by")
            .order_by("pk"))
    return [ShownLink(link, link.other_side(incident), link.describe_from(incident))
            for link in rows]


def _apply_refusal(form, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- Linked cases ----------------------------------------------------------------------------

def _case_links_page(request, case_page, *, form=None, status=200):
    case, user = case_page.case, request.user
    if form is None and case_page.access.can_edit:
        form = CaseLinkForm(case=case, user=user)
    return case_page.render("cases/case_links.html", {
        "case_links": visible_case_links(case, user), "link_form": form}, status=status)


@case_view(tab="overview")
def case_links(request, case_page):
    return _case_links_page(request, case_page)


@case_view(tab="overview", methods=WRITE, min_role=Role.REPORTER)
def case_link_add(request, case_page):
    case = case_page.case
    form = CaseLinkForm(request.POST, case=case, user=request.user)
    if form.is_valid():
        try:
            linking.link_cases(case, form.cleaned_data["to_case"], actor=request.user,
                               note=form.cleaned_data["note"])
        except ValidationError as exc:
            _apply_refusal(form, exc)
        else:
            messages.success(request, _("The cases are linked."))
            return redirect("cases:case_links", slug=case.slug)
    return _case_links_page(request, case_page, form=form, status=400)


@case_view(tab="overview", methods=WRITE, min_role=Role.REPORTER)
def case_link_delete(request, case_page):
    case = case_page.case
    _remove_link(request, CaseLink.objects.visible_to(request.user).touching(case))
    return redirect("cases:case_links", slug=case.slug)


def _remove_link(request, links) -> None:
    """Remove the link the form names among `links` (those this user may see here), and say
    how it went."""
    form = LinkRemoveForm(request.POST, links=links)
    if form.is_valid():
        try:
            linking.unlink(form.cleaned_data["link"], actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The link was removed."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))


# --- Linked incidents ------------------------------------------------------------------------

def _incident(case_page, pk) -> Incident:
    return get_object_or_404(Incident.objects.of_case(case_page.case).select_related("type"),
                             pk=pk)


def _incident_links_page(request, case_page, incident, *, form=None, status=200):
    if form is None and case_page.access.can_edit:
        form = IncidentLinkForm(user=request.user)
    return case_page.render("cases/incident_links.html", {
        "incident": incident, "incident_links": visible_incident_links(incident, request.user),
        "link_form": form}, status=status)


@case_view(tab="timeline")
def incident_links(request, case_page, pk):
    return _incident_links_page(request, case_page, _incident(case_page, pk))


@case_view(tab="timeline", methods=WRITE, min_role=Role.REPORTER)
def incident_link_add(request, case_page, pk):
    incident = _incident(case_page, pk)
    form = IncidentLinkForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            linking.link_incidents(incident, form.cleaned_data["to_incident"],
                                   actor=request.user, kind=form.cleaned_data["kind"],
                                   note=form.cleaned_data["note"])
        except ValidationError as exc:
            _apply_refusal(form, exc)
        else:
            messages.success(request, _("The incidents are linked."))
            return redirect("cases:incident_links", slug=case_page.case.slug, pk=incident.pk)
    return _incident_links_page(request, case_page, incident, form=form, status=400)


@case_view(tab="timeline", methods=WRITE, min_role=Role.REPORTER)
def incident_link_delete(request, case_page, pk):
    incident = _incident(case_page, pk)
    _remove_link(request, IncidentLink.objects.visible_to(request.user).touching(incident)
                 .select_related("from_incident", "to_incident"))
    return redirect("cases:incident_links", slug=case_page.case.slug, pk=incident.pk)
