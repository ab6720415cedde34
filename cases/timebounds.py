"""The dates and datetimes Casedesk accepts: what PostgreSQL, psycopg and Python can all store
and read back, in any time zone.

PostgreSQL stores timestamps up to the year 294276, but Python's datetime stops at 9999-12-31
and psycopg refuses to read anything later ("timestamp too large"). A deadline typed as
`9999-12-31T23:59:59-15:00` is `10000-01-01 14:59:59+00` once stored: PostgreSQL keeps it and
every page that reads the row fails. Shown in a reader's time zone, an instant a few hours from
either end of Python's range overflows too, so the bounds keep a day's margin at both ends.
PostgreSQL refuses UTC offsets beyond ±15:59:59 (Python allows up to ±23:59), so those are
refused here rather than by the database.

Model fields carry the validators (so ModelForms, the admin and the API's `full_clean()` refuse
next to the field); query parameters go through `parse_datetime_param` / `parse_date_param`,
which never raise.
"""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

EARLIEST_DATETIME = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST_DATETIME = dt.datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=dt.UTC)
EARLIEST_DATE = dt.date(1, 1, 2)
LATEST_DATE = dt.date(9999, 12, 30)
# PostgreSQL's limit for a UTC offset ("time zone displacement out of range" beyond it).
MAX_UTC_OFFSET = dt.timedelta(hours=15, minutes=59, seconds=59)

# Longer text is no datetime: a bound on what the parsers are given.
_MAX_PARAM_LENGTH = 64


def datetime_problem(value: dt.datetime) -> str | None:
    """The refusal code for a datetime Casedesk cannot store and read back, or None."""
    offset = value.utcoffset()
    if offset is None:
        # A naive value is read in the current time zone, as Django saves it.
        value = value.replace(tzinfo=timezone.get_current_timezone())
        offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        return "utc_offset_out_of_range"
    # Comparing aware datetimes subtracts them into a timedelta, which cannot overflow.
    if not EARLIEST_DATETIME <= value <= LATEST_DATETIME:
        return "datetime_out_of_range"
    return None


def date_problem(value: dt.date) -> str | None:
    """The refusal code for a date Casedesk cannot store and read back, or None."""
    if isinstance(value, dt.datetime):
        return datetime_problem(value)
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        return "date_out_of_range"
    return None


_MESSAGES = {
    "utc_offset_out_of_range": _(
        "The time zone offset must be between -15:59 and +15:59."),
    "datetime_out_of_range": _(
        "Enter a date and time between 2 January of the year 1 and 30 December 9999 (UTC)."),
    "date_out_of_range": _(
        "Enter a date between 2 January of the year 1 and 30 December 9999."),
}


def range_error(code: str) -> ValidationError:
    """The refusal of a value out of range, by its code (datetime_problem, date_problem)."""
    return ValidationError(_MESSAGES[code], code=code)


#: The code of a period whose end is before its start, wherever one is asked for.
REVERSED_RANGE = "window_reversed"


def refuse_reversed_range(start, end, *, end_field: str) -> None:
    """Refuse a period (of dates or datetimes; either end may be missing) whose end is before
    its start, beside `end_field`. Read as asked, both overlap conditions would still match
    whatever spans both ends: a refusal, not a puzzling answer. A Django form's clean() and a
    DRF serializer's validate() both take the ValidationError raised here (DRF keeps its
    code)."""
    if start is not None and end is not None and start > end:
        raise ValidationError({end_field: ValidationError(
            _("The end of the period is before its start."), code=REVERSED_RANGE)})


def validate_datetime_in_range(value) -> None:
    """Model-field validator: refuse a datetime that could not be stored and read back."""
    if value is None or not isinstance(value, dt.datetime):
        return
    code = datetime_problem(value)
    if code:
        raise range_error(code)


def validate_date_in_range(value) -> None:
    """Model-field validator: refuse a date that could not be stored and read back."""
    if value is None or not isinstance(value, dt.date):
        return
    code = date_problem(value)
    if code:
        raise range_error(code)


def _clean_text(text) -> str | None:
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > _MAX_PARAM_LENGTH or not text.isascii() or not text.isprintable():
        return None
    return text


def parse_datetime_param(text) -> dt.datetime | None:
    """An aware, storable datetime from untrusted text (a query parameter, a header), or None.

    Never raises: NUL bytes, lone surrogates, impossible dates, offsets beyond ±15:59 and years
    past 9999 all give None. A value without an offset is read in the current time zone.
    """
    text = _clean_text(text)
    if text is None:
        return None
    try:
        value = parse_datetime(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if value is None:
        return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=timezone.get_current_timezone())
    try:
        return None if datetime_problem(value) else value
    except (ValueError, OverflowError):
        return None


def parse_date_param(text) -> dt.date | None:
    """A storable date from untrusted text, or None; never raises."""
    text = _clean_text(text)
    if text is None:
        return None
    try:
        value = parse_date(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if value is None or date_problem(value):
        return None
    return value
