"""The audited reveal: how an administrator who is not a source handler sees an identity.

Superusers run the system, not the stories: like everyone else they see protected sources
by codename only (DESIGN.md). When one must reach an identity (a court order, a source in
danger, a broken record), they ask for it on this page, for one source at a time, with a
reason of substance. The identity is then shown on the answer to that request only; the
showing is written to the case's reveal log with the reason, and the case's editors read it
at `cases/<slug>/sources/reveals/`. Nothing is kept that would show it again: the next
look is the next reveal, with its own reason.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..access import handles_sources
from ..models import IdentityReveal, RevealChannel, SourceIdentity

TEMPLATE = "admin/cases/source/reveal.html"

#: A reason says something: counted with its spaces collapsed, as the workflow counts a
#: single-source override's reason.
REVEAL_REASON_MIN_LENGTH = 30
REVEAL_REASON_TOO_SHORT = "reveal_reason_too_short"

# What the page never shows: the record's keys.
_NOT_SHOWN = {"id", "source"}


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=_("Why you need to see who this source is"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=_("Kept in the case's reveal log with your name, for its editors to read."),
    )

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if len(reason) < REVEAL_REASON_MIN_LENGTH:
            raise ValidationError(
                _("Give a reason of at least %(min)d characters: what you need the identity "
                  "for, and on whose request."),
                code=REVEAL_REASON_TOO_SHORT, params={"min": REVEAL_REASON_MIN_LENGTH})
        return reason


def may_ask_to_reveal(request, source) -> bool:
    """Whether the requesting user needs (and may use) the audited reveal for `source`."""
    return (request.user.is_superuser and source.protected
            and not handles_sources(request, source.case_id))


def _identity_fields(identity) -> list[tuple[str, str]]:
    return [(str(field.verbose_name), getattr(identity, field.attname) or "")
            for field in SourceIdentity._meta.concrete_fields if field.name not in _NOT_SHOWN]


def reveal_view(model_admin, request, object_id):
    """The reveal page of one source (SourceAdmin wires it at <source>/reveal/)."""
    source = model_admin.get_object(request, unquote(object_id))
    if source is None:
        raise Http404
    if not may_ask_to_reveal(request, source):
        raise PermissionDenied
    identity = SourceIdentity.objects.filter(source=source).first()
    form = RevealForm(request.POST if request.method == "POST" else None)
    shown = None
    if request.method == "POST" and identity is not None and form.is_valid():
        with transaction.atomic():
            IdentityReveal.objects.create(
                case_id=source.case_id, source=source, source_name=source.name,
                user=request.user, channel=RevealChannel.ADMIN_REVEAL,
                reason=form.cleaned_data["reason"])
        shown = _identity_fields(identity)
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Reveal the identity of %(source)s") % {"source": source},
        "opts": opts,
        "original": source,
        "form": form,
        "has_identity": identity is not None,
        "shown": shown,
        "min_length": REVEAL_REASON_MIN_LENGTH,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)
