"""Admin actions that move claims through the verification workflow.

The admin never writes a claim's status: these actions collect the editor's decision on an
intermediate page and hand each selected claim to `cases.workflow`, which checks the rules,
writes the claim and its VerificationEvent in one transaction, or refuses and changes
nothing. Each claim is reported on its own, success or the workflow's own reasons.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import workflow
from ..forms.verification import ProposalInput, TransitionInput

TEMPLATE = "admin/cases/claim/transition.html"
FORM_PREFIX = "workflow"
APPLY = "apply"  # the name of the confirmation page's submit button


def _admin_widths(form) -> None:
    for field in form.fields.values():
        if isinstance(field.widget, forms.Textarea):
            field.widget.attrs["cols"] = 60


class StatusChangeForm(TransitionInput):
    """The page's move input (every status a move can lead to: which move is allowed for
    whom is the workflow's call, made per claim), laid out for the admin."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _admin_widths(self)
        field = self.fields["acknowledge_low_grade"]
        field.help_text = format_lazy("{} {}", field.help_text,
                                      _("The sources column above shows the grades."))


class ProposalForm(ProposalInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _admin_widths(self)


def _transition(claim, user, data):
    return workflow.transition(claim, data["to_status"], actor=user, note=data["note"],
                               override_reason=data["override_reason"],
                               acknowledge_low_grade=data["acknowledge_low_grade"])


def _propose(claim, user, data):
    return workflow.propose(claim, data["verdict"], actor=user, note=data["note"])


def _describe_transition(event) -> str:
    return gettext("now %(to_status)s (was %(from_status)s).") % {
        "to_status": event.get_to_status_display().lower(),
        "from_status": event.get_from_status_display().lower()}


def _describe_proposal(event) -> str:
    return gettext("%(verdict)s proposed.") % {
        "verdict": event.get_proposed_verdict_display().lower()}


def _run(modeladmin, request, queryset, *, form_class, apply, describe, title, intro,
         submit_label):
    """Show the confirmation page, or apply the workflow to each claim and report back.

    Returning None sends the user back to the changelist, where the messages are shown."""
    if APPLY in request.POST:
        form = form_class(request.POST, prefix=FORM_PREFIX)
        if form.is_valid():
            for claim in queryset:
                try:
                    event = apply(claim, request.user, form.cleaned_data)
                except ValidationError as exc:
                    # The workflow's codes go with the message (its CSS classes), as the
                    # pages' forms and the API carry them.
                    modeladmin.message_user(
                        request, gettext("“%(claim)s” was not changed: %(reasons)s") % {
                            "claim": claim, "reasons": " ".join(exc.messages)},
                        messages.ERROR, extra_tags=" ".join(workflow.refusal_codes(exc)))
                else:
                    modeladmin.message_user(
                        request, gettext("“%(claim)s”: %(outcome)s") % {
                            "claim": claim, "outcome": describe(event)},
                        messages.SUCCESS)
            return None
    else:
        form = form_class(prefix=FORM_PREFIX)

    claims = list(queryset.select_related("case", "proposed_by"))
    rows = [(claim, [move.to_status.label for move in
                     workflow.available_moves(claim, request.user)],
             workflow.support_of(claim).sources) for claim in claims]
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "intro": intro,
        "submit_label": submit_label,
        "opts": opts,
        "form": form,
        "rows": rows,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "apply_name": APPLY,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)


@admin.action(description=_("Change verification status…"), permissions=["change"])
def change_status(modeladmin, request, queryset):
    return _run(
        modeladmin, request, queryset, form_class=StatusChangeForm, apply=_transition,
        describe=_describe_transition, title=_("Change verification status"),
        intro=_("Each claim is checked on its own against the verification rules; a claim "
                "the rules do not allow to move stays exactly as it is."),
        submit_label=_("Change status"),
    )


@admin.action(description=_("Propose a verdict…"), permissions=["change"])
def propose_verdict(modeladmin, request, queryset):
    return _run(
        modeladmin, request, queryset, form_class=ProposalForm, apply=_propose,
        describe=_describe_proposal, title=_("Propose a verdict"),
        intro=_("A proposal is recorded for editors to decide; the status does not change."),
        submit_label=_("Propose verdict"),
    )

