"""Changelist query parameters on dates, checked against cases.timebounds before any query.

The admin lets through lookups on the date hierarchy's field and on fields reached from a
list filter (`?asked_at__gte=`, `?case__created_at__lt=`, `?due_on__year=`). Django computes
the hierarchy's next year, month or day itself (year 9999 overflows) and hands other values
to the database as typed: an offset of +20:00 is a DataError on PostgreSQL, a year of 99999
an OverflowError on SQLite. A parameter outside the bounds is refused as Django refuses any
bad filter (IncorrectLookupParameters: the list again, with `?e=1`), never a 500.
"""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.constants import LOOKUP_SEP

from ..timebounds import EARLIEST_DATE, LATEST_DATE, parse_date_param, parse_datetime_param

# Lookups that compare with a date or datetime value (`in` and `range` with a list of them).
_COMPARISONS = {"exact", "gt", "gte", "lt", "lte", "in", "range"}
# Transforms to a number, and the range each may take. A year keeps one year's margin at
# both ends: the hierarchy asks for the next one, and a year's bounds are shifted by the
# time zone.
_PARTS = {
    "year": (EARLIEST_DATE.year + 1, LATEST_DATE.year - 1),
    "iso_year": (EARLIEST_DATE.year + 1, LATEST_DATE.year - 1),
    "quarter": (1, 4), "month": (1, 12), "week": (1, 53), "day": (1, 31),
    "week_day": (1, 7), "iso_week_day": (1, 7), "hour": (0, 23), "minute": (0, 59),
    "second": (0, 59),
}


def _lookups_after_date_field(model, key: str) -> list[str] | None:
    """The lookups after the date or datetime field a lookup key names, or None when the key
    names no such field."""
    parts = key.split(LOOKUP_SEP)
    opts = model._meta
    for index, part in enumerate(parts):
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return None
        if isinstance(field, models.DateField):  # DateTimeField included
            return parts[index + 1:]
        if not field.is_relation or field.related_model is None:
            return None
        opts = field.related_model._meta
    return None


def _readable(value: str) -> bool:
    # Django's date and datetime fields each read both forms.
    return parse_datetime_param(value) is not None or parse_date_param(value) is not None


def _in_range(value: str, low: int, high: int) -> bool:
    value = value.strip()
    return value.isascii() and value.isdigit() and len(value) <= 4 and low <= int(value) <= high


def date_lookup_is_bounded(model, key: str, values: list[str]) -> bool:
    """Whether a changelist's `key=value` can be queried, as far as dates are concerned (a
    key that is not about a date is someone else's to check)."""
    rest = _lookups_after_date_field(model, key)
    if rest is None:
        return True
    if rest[:1] == ["date"]:
        rest = rest[1:]
    lookup = rest[0] if rest else "exact"
    if lookup in _PARTS:
        low, high = _PARTS[lookup]
        comparison = rest[1] if len(rest) > 1 else "exact"
        if comparison not in _COMPARISONS:
            return True
        return all(_in_range(item, low, high)
                   for value in values for item in _items(value, comparison))
    if lookup not in _COMPARISONS or len(rest) > 1:
        return True
    return all(_readable(item) for value in values for item in _items(value, lookup))


def _items(value: str, lookup: str) -> list[str]:
    # The admin splits these lookups' values on commas (prepare_lookup_value).
    return value.split(",") if lookup in ("in", "range") else [value]


class BoundedDatesChangeList(ChangeList):
    """Every admin's changelist: its date parameters are checked before Django reads them."""

    def get_filters(self, request):
        for key, values in request.GET.lists():
            if not date_lookup_is_bounded(self.model, key, values):
                raise IncorrectLookupParameters(f"{key}: a date out of range")
        return super().get_filters(request)
