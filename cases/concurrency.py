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

This module is the domain of it: versions, tokens, the history since a version, and the
`Conflict` that says why a save is refused, with a machine-readable `code` shared by the
pages, the back office and the API. Forms carry their tokens with
cases.forms.versioning.VersionedFormMixin; the workspace's views save with
cases.views.versioning.NoLostUpdatesMixin, the back office with cases/admin/versions.py; the
API compares `If-Match` with `version_of` (api/preconditions.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core import signing
from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, ngettext, pgettext
from django_countries.fields import Country

if TYPE_CHECKING:
    from django.forms import BaseForm

_SIGNER = signing.Signer(salt="cases.concurrency.version-token")

# Why a save is refused (Conflict.code), and the error beside a field changed meanwhile.
VERSION_CHANGED = "version_changed"  # the record was saved since the form was opened
VERSION_UNKNOWN = "version_unknown"  # the token is missing, altered or names another record
RECORD_REMOVED = "record_removed"  # the record was deleted since
RECORD_ADDED = "record_added"  # a record was created since (or added to the form's set)
CHANGED_MEANWHILE = "changed_meanwhile"

_CODE_OF_KIND = {"changed": VERSION_CHANGED, "unverifiable": VERSION_UNKNOWN,
                 "removed": RECORD_REMOVED, "added": RECORD_ADDED}

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
        return gettext("someone outside the workspace (an import or a script)")
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


def saved_value_in_words(obj, name: str) -> str:
    """A field's saved value in words, for the note beside the field."""
    model_field = obj._meta.get_field(name)
    if model_field.choices and not isinstance(getattr(obj, name), Country):
        value = getattr(obj, f"get_{name}_display")()
    else:
        value = getattr(obj, name)
    if isinstance(value, Country):
        value = value.name
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, dt.datetime):
        return _in_words(value)
    if value is None or value == "":
        return gettext("empty")
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _in_words(moment: dt.datetime) -> str:
    """A saved moment, local time, in the reader's language ("9 May 2025, 14:05")."""
    return dateformat.format(timezone.localtime(moment),
                             pgettext("date and time of a saved change", "j M Y, H:i"))


def _and(items) -> str:
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return gettext("%(items)s and %(last)s") % {"items": ", ".join(items[:-1]),
                                                 "last": items[-1]}


def this_record(obj) -> str:
    """What a conflict calls the record a form is about: "this incident"."""
    return gettext("this %(record)s") % {"record": obj._meta.verbose_name}


@dataclass
class Conflict:
    """Why one form of the page cannot be saved as it stands."""

    subject: str  # "this incident", "the citation from 161.ru"
    kind: str  # "changed", "removed", "added" (created meanwhile) or "unverifiable"
    model: type
    changes: list[Change] = field(default_factory=list)
    form: BaseForm | None = None
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
    def code(self) -> str:
        """Why the save is refused, for machines: VERSION_CHANGED, VERSION_UNKNOWN,
        RECORD_REMOVED or RECORD_ADDED."""
        return _CODE_OF_KIND[self.kind]

    @property
    def by_whom(self) -> str:
        """Who saved the changes, in words."""
        return _and(self.people) or gettext("someone")

    @property
    def last_at(self) -> dt.datetime | None:
        return self.changes[-1].at if self.changes else None

    @property
    def text(self) -> str:
        """Why the save is refused, in the reader's language (read when it is shown)."""
        values = {"people": self.by_whom, "subject": self.subject,
                  "when": f" ({_in_words(self.last_at)})" if self.last_at else ""}
        if self.kind == "removed":
            return gettext("%(people)s removed %(subject)s while you were editing%(when)s; "
                           "reload the page to continue from what is saved.") % values
        if self.kind == "added":
            return gettext("%(people)s added %(subject)s while you were editing%(when)s.") % (
                values)
        if self.kind == "unverifiable":
            text = gettext("Casedesk cannot tell which version of %(subject)s this form was "
                           "opened on (its version stamp is missing or not valid), so nothing "
                           "was saved.") % values
            if self.changes:
                text += " " + gettext("It was last saved by %(people)s%(when)s.") % values
            return text
        labels = self.field_labels
        if labels:
            return gettext("%(people)s changed %(fields)s of %(subject)s%(when)s.") % {
                **values, "fields": _and(labels)}
        return gettext("%(people)s saved %(subject)s again%(when)s.") % values


# --- Is a save stale? -------------------------------------------------------------------------

def check_version(instance, token: Token | None, subject: str) -> Conflict | None:
    """Why a form opened with `token` may not save `instance` (read under a lock), or None
    when it may. Call it before validating the form: validation writes the input into the
    instance."""
    model = type(instance)
    if instance.pk is None:
        if token is not None and token.pk:
            # Opened on a record that has gone since (a formset could not find it).
            return Conflict(subject, "removed", model, _deletion(model, token.pk))
        return None  # a new record: nothing to be stale against
    if token is None or token.pk not in ("", str(instance.pk)):
        return Conflict(subject, "unverifiable", model, _latest_change(instance))
    if token.pk == "":
        # Opened when the record did not exist yet; someone created it meanwhile.
        return Conflict(subject, "added", model, history_since(instance, None))
    if token.version != version_of(instance):
        return Conflict(subject, "changed", model, history_since(instance, token.version))
    return None


def added_meanwhile(model, added) -> Conflict | None:
    """The records added to a set (a claim's citations) since its page was opened, as one
    conflict, or None when there are none."""
    added = list(added)
    if not added:
        return None
    if len(added) == 1:
        subject = gettext("a %(record)s") % {"record": model._meta.verbose_name}
    else:
        subject = ngettext("%(count)d %(records)s", "%(count)d %(records)s", len(added)) % {
            "count": len(added), "records": model._meta.verbose_name_plural}
    changes = [Change(_who(getattr(obj, "created_by", None)), obj.created_at, "+")
               for obj in added]
    return Conflict(subject, "added", model, changes)
