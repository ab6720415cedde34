"""No lost updates: two people editing the same record must not silently overwrite each other.

Every edit form carries a hidden, signed *version token*: which record the form was opened on
and that record's version at that moment (its `updated_at`; for the few models without one,
such as Membership and SourceIdentity, the date of its latest history row). A save runs in
one transaction that locks the row first (`select_for_update`) and compares its current
version with the token. When they differ, or the token is missing, altered or names another
record, the save is refused: the page comes back with the user's input kept, a message naming
what changed and who changed it (read from django-simple-history: the history rows written
after the token, each diffed against the one before), and the saved value beside every field
that changed. The re-rendered form carries a fresh token, so saving it again is a deliberate
choice made after seeing the other person's change.

`VersionedFormMixin` gives a form its token; `NoLostUpdatesMixin` is the POST handling that
every create/edit view of the workspace shares (cases/views/records.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django import forms
from django.core import signing
from django.db import transaction
from django.forms.formsets import BaseFormSet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_countries.fields import Country

TOKEN_FIELD = "version"
_SIGNER = signing.Signer(salt="cases.concurrency.version-token")

# Bookkeeping and derived columns: they change with every save, or follow another field, and
# naming them would only hide the change that matters.
NOT_REPORTED = frozenset({
    "id", "created_at", "updated_at", "created_by", "added_at", "added_by",
    "occurred_earliest", "occurred_latest",
})


# --- Versions and tokens --------------------------------------------------------------------

def _has_updated_at(model) -> bool:
    return any(f.name == "updated_at" for f in model._meta.concrete_fields)


def version_of(obj) -> dt.datetime | None:
    """The record's version: `updated_at`, or the date of its latest history row."""
    if obj is None or obj.pk is None:
        return None
    if _has_updated_at(type(obj)):
        return obj.updated_at
    return (obj.history.order_by("-history_date", "-history_id")
            .values_list("history_date", flat=True).first())


def make_token(obj) -> str:
    version = version_of(obj)
    pk = "" if obj.pk is None else str(obj.pk)
    return _SIGNER.sign(
        f"{obj._meta.label_lower}|{pk}|{version.isoformat() if version else ''}")


@dataclass(frozen=True)
class Token:
    pk: str  # "" when the form was opened on a record not yet saved
    version: dt.datetime | None


def read_token(value, model) -> Token | None:
    """The token's content, or None when it is missing, altered or for another kind of
    record (all of which count as stale)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        raw = _SIGNER.unsign(value)
    except signing.BadSignature:
        return None
    parts = raw.split("|")
    if len(parts) != 3 or parts[0] != model._meta.label_lower:
        return None
    version = None
    if parts[2]:
        try:
            version = parse_datetime(parts[2])
        except ValueError:
            return None
        if version is None:
            return None
    return Token(parts[1], version)


# --- What changed, and who changed it -------------------------------------------------------

def _who(user) -> str:
    if user is None:
        return "someone outside the workspace (an import or a script)"
    return user.get_full_name() or user.get_username()


def _verbose(model, name: str) -> str:
    try:
        return str(model._meta.get_field(name).verbose_name)
    except Exception:  # a field the model no longer has
        return name.replace("_", " ")


def _changed_fields(row, previous) -> list[str]:
    """Names of the fields that differ between two history rows of one record."""
    delta = row.diff_against(previous, excluded_fields=NOT_REPORTED)
    names = list(delta.changed_fields)
    # diff_against() compares editable fields only; the workflow's fields (a claim's status,
    # its proposed verdict) are not editable and changing them still changes the record.
    for f in row.tracked_fields:
        if (not f.editable and f.name not in NOT_REPORTED and f.name not in names
                and getattr(row, f.attname) != getattr(previous, f.attname)):
            names.append(f.name)
    return names


@dataclass(frozen=True)
class Change:
    """One saved version of a record, written by `who` at `at`."""

    who: str
    at: dt.datetime
    kind: str  # "+" created, "~" changed, "-" deleted (simple-history's history_type)
    fields: tuple[str, ...] = ()  # field names


def history_since(obj, since: dt.datetime | None) -> list[Change]:
    """The changes saved to `obj` after version `since` (all of them when None), oldest
    first, each diffed against the version before it."""
    history = obj.history.all()
    column = "updated_at" if _has_updated_at(type(obj)) else "history_date"
    later = history.filter(**{f"{column}__gt": since}) if since is not None else history
    rows = list(later.select_related("history_user").order_by("history_date", "history_id"))
    previous = None
    if since is not None:
        previous = (history.filter(**{f"{column}__lte": since})
                    .order_by("-history_date", "-history_id").first())
    changes = []
    for row in rows:
        names = _changed_fields(row, previous) if previous is not None else []
        changes.append(Change(_who(row.history_user), row.history_date, row.history_type,
                              tuple(names)))
        previous = row
    return changes


def _latest_change(obj) -> list[Change]:
    row = (obj.history.select_related("history_user")
           .order_by("-history_date", "-history_id").first())
    return [Change(_who(row.history_user), row.history_date, row.history_type)] if row else []


def _deletion(model, pk) -> list[Change]:
    row = (model.history.filter(id=pk, history_type="-").select_related("history_user")
           .order_by("-history_date").first())
    return [Change(_who(row.history_user), row.history_date, "-")] if row else []


def _display(obj, name: str) -> str:
    """A field's saved value in words, for the note beside the field."""
    model_field = obj._meta.get_field(name)
    if model_field.choices and not isinstance(getattr(obj, name), Country):
        value = getattr(obj, f"get_{name}_display")()
    else:
        value = getattr(obj, name)
    if isinstance(value, Country):
        value = value.name
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return f"{timezone.localtime(value):%-d %b %Y, %H:%M}"
    if value is None or value == "":
        return "empty"
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _and(items) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class Conflict:
    """Why one form of the page cannot be saved as it stands."""

    subject: str  # "this incident", "the citation from 161.ru"
    kind: str  # "changed", "removed", "added" (created meanwhile) or "unverifiable"
    model: type
    changes: list[Change] = field(default_factory=list)
    form: forms.BaseForm | None = None
    # form field → saved value. May hold a protected source's identity (shown to its handler
    # only), so it stays out of repr(): tracebacks and debug logs print reprs.
    saved_values: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def field_labels(self) -> list[str]:
        seen = []
        for change in self.changes:
            for name in change.fields:
                label = _verbose(self.model, name)
                if label not in seen:
                    seen.append(label)
        return seen

    @property
    def people(self) -> list[str]:
        seen = []
        for change in self.changes:
            if change.who not in seen:
                seen.append(change.who)
        return seen

    @property
    def last_at(self) -> dt.datetime | None:
        return self.changes[-1].at if self.changes else None

    @property
    def text(self) -> str:
        people = _and(self.people) or "someone"
        when = (f" ({timezone.localtime(self.last_at):%-d %b %Y, %H:%M})"
                if self.last_at else "")
        if self.kind == "removed":
            return (f"{people} removed {self.subject} while you were editing{when}; reload the "
                    "page to continue from what is saved.")
        if self.kind == "added":
            return f"{people} added {self.subject} while you were editing{when}."
        if self.kind == "unverifiable":
            last = f" It was last saved by {people}{when}." if self.changes else ""
            return (f"Casedesk cannot tell which version of {self.subject} this form was opened "
                    f"on (its version stamp is missing or not valid), so nothing was saved."
                    f"{last}")
        labels = self.field_labels
        if labels:
            return f"{people} changed {_and(labels)} of {self.subject}{when}."
        return f"{people} saved {self.subject} again{when}."


# --- Forms ----------------------------------------------------------------------------------

class VersionedFormMixin:
    """A form about one record (`self.instance`) that carries its version token.

    Works for ModelForms and for plain forms given an `instance` (a removal form)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[TOKEN_FIELD] = forms.CharField(
            required=False, widget=forms.HiddenInput, initial=make_token(self.instance))

    def conflict_subject(self) -> str:
        return f"this {self.instance._meta.verbose_name}"

    def version_conflict(self) -> Conflict | None:
        """Compare the token the form came back with to the (locked) record. Call it before
        validating: validation writes the input into the instance."""
        instance = self.instance
        model = type(instance)
        token = read_token(self.data.get(self.add_prefix(TOKEN_FIELD)), model)

        def conflict(kind, changes=()):
            return Conflict(self.conflict_subject(), kind, model, list(changes), form=self)

        if instance.pk is None:
            if token is not None and token.pk:
                # Opened on a record that has gone since (the formset could not find it).
                return conflict("removed", _deletion(model, token.pk))
            return None  # a new record: nothing to be stale against
        if token is None or token.pk not in ("", str(instance.pk)):
            return conflict("unverifiable", _latest_change(instance))
        if token.pk == "":
            # Opened when the record did not exist yet; someone created it meanwhile.
            return conflict("added", history_since(instance, None))
        if token.version != version_of(instance):
            return conflict("changed", history_since(instance, token.version))
        return None

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
    added = [obj for obj in formset.get_queryset() if str(obj.pk) not in posted]
    if not added:
        return None
    noun = (model._meta.verbose_name if len(added) == 1
            else f"{len(added)} {model._meta.verbose_name_plural}")
    changes = [Change(_who(getattr(obj, "created_by", None)), obj.created_at, "+")
               for obj in added]
    return Conflict(f"{'a ' if len(added) == 1 else ''}{noun}", "added", model, changes)


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
                conflict.saved_values[name] = _display(form.instance, name)
    return conflicts


def show_conflicts(conflicts, forms_) -> None:
    """Mark each field changed meanwhile with its saved value and restamp every form. Call
    it after validating the forms."""
    for conflict in conflicts:
        if conflict.form is None:
            continue
        who = _and(conflict.people) or "someone"
        for name, saved in conflict.saved_values.items():
            conflict.form.add_error(name, f"Changed meanwhile by {who}. Saved value: {saved}")
    for form in _versioned_forms(forms_):
        form.refresh_version()


# --- Views ----------------------------------------------------------------------------------

class NoLostUpdatesMixin:
    """POST handling shared by every create and edit view of the workspace.

    In one transaction: fetch and lock the record (`get_object(lock=True)`), bind the page's
    forms (`get_forms`), compare their version tokens with the locked rows, validate, and
    save (`save_forms`) only when the forms are valid and nothing changed since they were
    opened. Otherwise render the forms again with the input kept: status 409 with the
    conflicts when the record changed, 400 for invalid input. The view provides get_object,
    get_forms, save_forms, forms_saved and render_forms."""

    def post(self, request, *args, **kwargs):
        data = request.POST.copy()  # mutable: a refused page is restamped
        with transaction.atomic():
            obj = self.get_object(lock=True)
            page_forms = self.get_forms(obj, data, request.FILES)
            conflicts = find_conflicts(page_forms.values())
            valid = [form.is_valid() for form in page_forms.values()]  # all, for every error
            if all(valid) and not conflicts:
                saved = self.save_forms(obj, page_forms)
                refused = False
            else:
                refused = True
        if not refused:
            return self.forms_saved(saved)
        if conflicts:
            show_conflicts(conflicts, page_forms.values())
            return self.render_forms(obj, page_forms, conflicts=conflicts, status=409)
        return self.render_forms(obj, page_forms, status=400)
