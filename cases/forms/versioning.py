"""Forms that refuse a stale save (cases/concurrency.py says what that is).

`VersionedFormMixin` gives a form about one record its hidden version token; `find_conflicts`
compares the tokens a page's forms and formsets came back with to the locked records, and
`show_conflicts` marks every field changed meanwhile with its saved value (code
`changed_meanwhile`) and restamps the forms. The workspace's views use them through
cases.views.versioning.NoLostUpdatesMixin, the back office through cases/admin/versions.py.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.formsets import BaseFormSet
from django.utils.translation import gettext_lazy as _

from ..concurrency import (
    CHANGED_MEANWHILE,
    Conflict,
    added_meanwhile,
    check_version,
    make_token,
    read_token,
    saved_value_in_words,
    this_record,
)

TOKEN_FIELD = "version"


class VersionedFormMixin:
    """A form about one record (`self.instance`) that carries its version token.

    Works for ModelForms and for plain forms given an `instance` (a removal form)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[TOKEN_FIELD] = forms.CharField(
            required=False, widget=forms.HiddenInput, initial=make_token(self.instance))

    def conflict_subject(self) -> str:
        return this_record(self.instance)

    def version_conflict(self) -> Conflict | None:
        """Compare the token the form came back with to the (locked) record. Call it before
        validating: validation writes the input into the instance."""
        token = read_token(self.data.get(self.add_prefix(TOKEN_FIELD)), type(self.instance))
        conflict = check_version(self.instance, token, self.conflict_subject())
        if conflict is not None:
            conflict.form = self
        return conflict

    def refresh_version(self) -> None:
        """After a refusal: the page the user gets back is stamped with what is saved now."""
        if self.is_bound and self.instance.pk is not None:
            self.data[self.add_prefix(TOKEN_FIELD)] = make_token(self.instance)


def _versioned_forms(forms_):
    for form in forms_:
        if isinstance(form, BaseFormSet):
            yield from (f for f in form.forms if isinstance(f, VersionedFormMixin))
        elif isinstance(form, VersionedFormMixin):
            yield form


def _added_to_formset(formset) -> Conflict | None:
    """Records added to an inline formset's set since the page was opened (the formset's
    queryset holds them, the posted forms do not)."""
    model = formset.model
    posted = set()
    for form in formset.forms[: formset.initial_form_count()]:
        token = read_token(form.data.get(form.add_prefix(TOKEN_FIELD)), model)
        if token is not None and token.pk:
            posted.add(token.pk)
        if form.instance.pk is not None:
            posted.add(str(form.instance.pk))
    return added_meanwhile(model, [obj for obj in formset.get_queryset()
                                   if str(obj.pk) not in posted])


def find_conflicts(forms_) -> list[Conflict]:
    """Every reason the page's forms are stale. Call it with the record locked, before
    validating the forms."""
    forms_ = list(forms_)
    conflicts = [c for c in (f.version_conflict() for f in _versioned_forms(forms_)) if c]
    for form in forms_:
        if isinstance(form, BaseFormSet) and form.is_bound:
            added = _added_to_formset(form)
            if added:
                conflicts.append(added)
    # A record saved again without a field of its own changing (a claim whose citations
    # changed) says nothing the other conflicts do not say better.
    informative = [c for c in conflicts if c.kind != "changed" or c.field_labels]
    if informative:
        conflicts = informative
    for conflict in conflicts:
        form = conflict.form
        if form is None or conflict.kind not in ("changed", "added"):
            continue
        if conflict.kind == "changed":
            names = {n for change in conflict.changes for n in change.fields}
        else:  # created meanwhile: every value it was created with
            names = {f.name for f in form.instance._meta.concrete_fields
                     if f.editable and getattr(form.instance, f.attname) not in (None, "")}
        for name in names:
            if name in form.fields:
                conflict.saved_values[name] = saved_value_in_words(form.instance, name)
    return conflicts


def show_conflicts(conflicts, forms_) -> None:
    """Mark each field changed meanwhile with its saved value and restamp every form. Call
    it after validating the forms."""
    for conflict in conflicts:
        if conflict.form is None:
            continue
        for name, saved in conflict.saved_values.items():
            conflict.form.add_error(name, ValidationError(
                _("Changed meanwhile by %(who)s. Saved value: %(saved)s"), code=CHANGED_MEANWHILE,
                params={"who": conflict.by_whom, "saved": saved}))
    for form in _versioned_forms(forms_):
        form.refresh_version()
