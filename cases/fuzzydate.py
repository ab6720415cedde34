"""Fuzzy incident dates stored as EDTF (ISO 8601-2) strings.

The `edtf` package parses and validates the string; this module turns the parsed value into
what the rest of Casedesk needs: the earliest and latest possible day (for sorting and
filtering), the precision, the ACLED time_precision code, and a rendering in plain words
("9 May, year unknown", "about May 2024", "8–9 May 2025") in the active language: each
sentence pattern is a translatable string, so a language is a catalogue, not code.

Supported forms (the ones a newsroom meets; anything else gets a clear error):
  2025-05-09, 2025-05-09T14:30, 2025-05, 2025       a day, a time, a month, a year
  2025-05~  2025-05?  2025-05%                      approximate, uncertain, both
  XXXX-05-09, XXXX-05, 2025-XX-09                   a component unknown
  2025-05-08/2025-05-09                             a range (the night of 8 to 9 May)
Free input is normalised first: "~2025-05-09" and "2025-05-09~" mean the same, "05-09" is
9 May of an unknown year.
Refused with a clear error (a ValidationError, never another exception): days that do not
exist (2025-02-29), a day without its month, a wholly unknown date (XXXX), open-ended
ranges, seasons, sets, digit-level unknowns (202X) and anything over MAX_LENGTH characters.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.dates import MONTHS_ALT
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext, pgettext_lazy
from edtf import parse_edtf
from edtf.parser import edtf_exceptions
from edtf.parser.parser_classes import (
    Date,
    DateAndTime,
    Interval,
    PartialUnspecified,
    UncertainOrApproximate,
    Unspecified,
)

from .enums import DatePrecision

FORMAT_HELP = _(
    "Use 2025-05-09 for a day, 2025-05-09T14:30 for an exact time, 2025-05 or 2025 for a "
    "month or year, add ~ for 'about' (2025-05~) or ? for 'uncertain', XXXX-05-09 for 9 May "
    "of an unknown year, and 2025-05-08/2025-05-09 for a range."
)


def _with_help(message):
    """A refusal followed by how to write a date."""
    return format_lazy("{} {}", message, FORMAT_HELP)

_DAY_MONTH_NO_YEAR = re.compile(r"^(\d{2})-(\d{2})$")

# The width of Incident.occurred; every supported form is far shorter. Longer input (a pasted
# paragraph) is refused with a clear error before it is normalised or parsed.
MAX_LENGTH = 64


@dataclass(frozen=True)
class DatePoint:
    """One end of a fuzzy date: any component may be unknown (None)."""

    year: int | None
    month: int | None
    day: int | None
    time: str | None = None
    approximate: bool = False
    uncertain: bool = False

    @property
    def precision(self) -> DatePrecision:
        if self.year is None and (self.month or self.day):
            return DatePrecision.UNKNOWN_YEAR
        if self.time:
            return DatePrecision.TIME
        if self.day and self.month:
            return DatePrecision.DAY
        if self.month:
            return DatePrecision.MONTH
        return DatePrecision.YEAR

    def earliest(self) -> dt.date | None:
        if self.year is None:
            return None
        return dt.date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> dt.date | None:
        if self.year is None:
            return None
        month = self.month or 12
        day = self.day or calendar.monthrange(self.year, month)[1]
        return dt.date(self.year, month, day)

    def describe(self, *, with_year: bool = True, genitive: bool = False) -> str:
        """The point in words of the active language. `genitive`: the form that follows
        "about" (in Russian "около мая 2025", not "около май 2025")."""
        if self.day and self.month:
            values = {"day": self.day, "month": _month_in_date(self.month)}
            if not with_year:
                text = pgettext("fuzzy date", "%(day)d %(month)s") % values
            elif self.year is None:
                text = pgettext("fuzzy date", "%(day)d %(month)s, year unknown") % values
            else:
                text = pgettext("fuzzy date", "%(day)d %(month)s %(year)d") % {
                    **values, "year": self.year}
        elif self.month:
            month = _month_in_date(self.month) if genitive else _month_alone(self.month)
            if not with_year:
                text = month
            elif self.year is None:
                text = pgettext("fuzzy date", "%(month)s, year unknown") % {"month": month}
            else:
                text = pgettext("fuzzy date", "%(month)s %(year)d") % {
                    "month": month, "year": self.year}
        elif self.day:
            if self.year is None or not with_year:
                text = pgettext("fuzzy date", "day %(day)d of an unknown month") % {
                    "day": self.day}
            else:
                text = pgettext("fuzzy date", "day %(day)d of an unknown month, %(year)d") % {
                    "day": self.day, "year": self.year}
        elif self.year is None:
            text = pgettext("fuzzy date", "year unknown")
        elif genitive:
            # Translators: a year alone after "about" ("about 2025").
            text = pgettext("fuzzy date, after about", "%(year)d") % {"year": self.year}
        else:
            text = str(self.year)
        if self.time:
            text = pgettext("fuzzy date", "%(date)s, %(time)s") % {"date": text,
                                                                  "time": self.time}
        return text

    @property
    def is_qualified(self) -> bool:
        return self.approximate or self.uncertain

    def describe_qualified(self) -> str:
        """The point in words with what is approximate or uncertain about it."""
        return self.qualify(self.describe(), self.describe(genitive=True))

    def qualify(self, text: str, genitive_text: str | None = None) -> str:
        """`text` (`genitive_text`: the same in the form that follows "about") with the
        point's qualifiers."""
        after_about = genitive_text if genitive_text is not None else text
        if self.approximate and self.uncertain:
            return pgettext("fuzzy date", "about %(date)s, uncertain") % {"date": after_about}
        if self.approximate:
            return pgettext("fuzzy date", "about %(date)s") % {"date": after_about}
        if self.uncertain:
            return pgettext("fuzzy date", "%(date)s (uncertain)") % {"date": text}
        return text


# The month names alone, as in "May 2025". Django's own are for headings (capitalised in
# Russian: "Май"); its MONTHS_ALT, the form with a day ("9 мая"), serve the dates with a day
# and the months after "about".
MONTHS_ALONE = {
    1: pgettext_lazy("month alone, as in 'May 2025'", "January"),
    2: pgettext_lazy("month alone, as in 'May 2025'", "February"),
    3: pgettext_lazy("month alone, as in 'May 2025'", "March"),
    4: pgettext_lazy("month alone, as in 'May 2025'", "April"),
    5: pgettext_lazy("month alone, as in 'May 2025'", "May"),
    6: pgettext_lazy("month alone, as in 'May 2025'", "June"),
    7: pgettext_lazy("month alone, as in 'May 2025'", "July"),
    8: pgettext_lazy("month alone, as in 'May 2025'", "August"),
    9: pgettext_lazy("month alone, as in 'May 2025'", "September"),
    10: pgettext_lazy("month alone, as in 'May 2025'", "October"),
    11: pgettext_lazy("month alone, as in 'May 2025'", "November"),
    12: pgettext_lazy("month alone, as in 'May 2025'", "December"),
}


def _month_alone(month: int) -> str:
    return str(MONTHS_ALONE[month])


def _month_in_date(month: int) -> str:
    """The month as a date with a day names it: Django's "alt. month" (format character E),
    "May" in English, "мая" in Russian."""
    return str(MONTHS_ALT[month])


def _is_night(start: DatePoint, end: DatePoint) -> bool:
    """Two days in a row, plainly given: the night between them, as newsrooms date what
    happened overnight (2025-05-08/2025-05-09)."""
    if start.is_qualified or end.is_qualified or start.time or end.time:
        return False
    if not (start.day and start.month and end.day and end.month):
        return False
    if (start.year is None) != (end.year is None):
        return False
    # With the year unknown, in a leap year: 28 February to 1 March may be two nights apart.
    first = dt.date(start.year or 2000, start.month, start.day)
    try:
        following = dt.date(end.year or 2000, end.month, end.day)
    except ValueError:
        return False
    return following - first == dt.timedelta(days=1)


@dataclass(frozen=True)
class FuzzyDate:
    """A parsed EDTF value: one point or a closed range of two points."""

    edtf: str
    start: DatePoint
    end: DatePoint | None = None

    @property
    def is_range(self) -> bool:
        return self.end is not None

    @property
    def earliest(self) -> dt.date | None:
        return self.start.earliest()

    @property
    def latest(self) -> dt.date | None:
        return (self.end or self.start).latest()

    @property
    def is_approximate(self) -> bool:
        return any(p.approximate or p.uncertain for p in self._points())

    @property
    def precision(self) -> DatePrecision:
        if self.end is not None:
            return DatePrecision.RANGE
        return self.start.precision

    @property
    def acled_time_precision(self) -> int:
        """ACLED's time_precision: 1 the day is known, 2 within a week, 3 a month or vaguer."""
        earliest, latest = self.earliest, self.latest
        if earliest is None or latest is None:
            return 3
        span = (latest - earliest).days
        if span == 0 and not self.is_approximate:
            return 1
        if span < 7:  # at most seven days, both ends included
            return 2
        return 3

    def describe(self) -> str:
        """The date in plain words of the active language, saying honestly how much of it is
        known."""
        if self.end is None or self.start == self.end:  # "2025-05-09/2025-05-09": that day
            return self.start.describe_qualified()
        start, end = self.start, self.end
        # Translators: "night" writes two days in a row as the night between them ("the night
        # before 9 May 2025"), "range" as a range of days ("8–9 May 2025"). Keep the word.
        two_days_as = pgettext("fuzzy date: two days in a row", "range")
        if two_days_as == "night" and _is_night(start, end):
            return pgettext("fuzzy date", "the night before %(date)s") % {
                "date": end.describe()}
        plain = not (start.approximate or start.uncertain or start.time or end.time)
        if plain and start.year == end.year:
            if start.month == end.month and start.month and start.day and end.day:
                return end.qualify(self._days_of_one_month())
            if start.month and end.month:
                return end.qualify(*(
                    pgettext("fuzzy date range", "%(start)s – %(end)s") % {
                        "start": start.describe(with_year=False, genitive=genitive),
                        "end": end.describe(genitive=genitive)}
                    for genitive in (False, True)))
        return pgettext("fuzzy date range", "%(start)s – %(end)s") % {
            "start": start.describe_qualified(), "end": end.describe_qualified()}

    def _days_of_one_month(self) -> str:
        """"8–9 May 2025": a range of days in one month (the month as a date with a day names
        it, which is also the form after "about")."""
        start, end = self.start, self.end
        values = {"first_day": start.day, "last_day": end.day,
                  "month": _month_in_date(start.month)}
        if start.year is None:
            return pgettext("fuzzy date range",
                            "%(first_day)d–%(last_day)d %(month)s, year unknown") % values
        return pgettext("fuzzy date range", "%(first_day)d–%(last_day)d %(month)s %(year)d") % {
            **values, "year": start.year}

    def _points(self) -> tuple[DatePoint, ...]:
        return (self.start,) if self.end is None else (self.start, self.end)

    def __str__(self) -> str:
        return self.describe()


def normalize(text: str) -> str:
    """Turn common hand-typed variants into canonical EDTF before parsing."""
    value = (text or "").replace("\u00a0", " ").strip()  # no-break spaces from word processors
    value = value.replace("–", "/").replace("—", "/").replace(" / ", "/")
    if "/" in value:
        # Each end on its own; a third part stays in the second and is refused by the parser.
        start, end = value.split("/", 1)
        return f"{_normalize_point(start)}/{_normalize_point(end)}"
    return _normalize_point(value)


def _normalize_point(value: str) -> str:
    value = value.strip()
    match = _DAY_MONTH_NO_YEAR.match(value)
    if match:
        return f"XXXX-{match[1]}-{match[2]}"
    if value[:1] in "~?%" and len(value) > 1:
        value = value[1:] + value[0]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?", value):
        value = value.replace(" ", "T")
    time = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(Z|[+-]\d{2}(?::\d{2})?)?", value)
    if time:  # seconds are optional when typing, not in EDTF
        value = f"{time[1]}:00{time[2] or ''}"
    return value.replace("x", "X").replace("u", "X")


def parse(text: str) -> FuzzyDate:
    """Parse an EDTF string (or a hand-typed variant of one) or raise ValidationError."""
    if text is not None and not isinstance(text, str):
        raise ValidationError(_with_help(_("Enter the date as text.")), code="invalid")
    if text and len(text) > MAX_LENGTH:
        raise ValidationError(
            _with_help(_("That is too long for a date (at most %(max)d characters).")),
            code="max_length", params={"max": MAX_LENGTH},
        )
    value = normalize(text)
    if not value:
        raise ValidationError(_with_help(_("Enter a date.")), code="required")
    if "\x00" in value or not value.isprintable():
        raise ValidationError(_with_help(_("The date contains characters that cannot be part "
                                           "of a date.")), code="invalid")
    return _plain_date(value) or _parse_normalized(value, text)


def describe_or_as_written(text: str) -> str:
    """A stored date in words, or `text` itself when it cannot be read: a value stored
    before the accepted forms (or before a fix of the parser) is shown as it is, never
    refused or hidden, wherever a stored date is shown."""
    try:
        return parse(text).describe()
    except ValidationError:
        return text


# The plain forms that make up almost every date typed or imported: 2025-05-09, 2025-05,
# 2025, with ~ ? % after them, and XXXX-05-09.
_PLAIN_DATE = re.compile(r"(\d{4}|XXXX)(?:-(\d{2})(?:-(\d{2}))?)?([~?%]?)")


def _plain_date(value: str) -> FuzzyDate | None:
    """What the EDTF parser would return for a plain form, built directly: python-edtf's
    grammar takes milliseconds per value, which an import of 100,000 rows or a timeline
    page after a change would otherwise spend here. None for anything else (and for a plain
    form that names no real day, so that the parser gives its error).
    tests/test_fuzzydate.py compares the two on every form."""
    match = _PLAIN_DATE.fullmatch(value)
    if not match:
        return None
    year_text, month_text, day_text, flag = match.groups()
    year = None if year_text == "XXXX" else int(year_text)
    month = int(month_text) if month_text else None
    day = int(day_text) if day_text else None
    if not _plain_date_exists(year, month, day):
        return None
    return FuzzyDate(value, DatePoint(year, month, day, None, approximate=flag in ("~", "%"),
                                      uncertain=flag in ("?", "%")))


def _plain_date_exists(year, month, day) -> bool:
    if year is None:
        # XXXX-05-09 only; XXXX alone and XXXX-05 go to the parser.
        if month is None or day is None:
            return False
        year = 2000  # a leap year: 29 February of an unknown year is possible
    elif year < 1:
        return False
    if month is None:
        return day is None
    try:
        dt.date(year, month, day or 1)
    except ValueError:
        return False
    return True


# The other forms go to the edtf package's parser (pyparsing), which takes milliseconds per
# value: parse each distinct string once per process. FuzzyDate is immutable; refusals
# (ValidationError) are not cached and cost the parse again.
@functools.lru_cache(maxsize=8192)
def _parse_normalized(value: str, text: str) -> FuzzyDate:
    try:
        parsed = parse_edtf(value)
    except (edtf_exceptions.EDTFParseException, ValueError, TypeError) as exc:
        raise ValidationError(
            _with_help(_("“%(value)s” is not a date Casedesk understands.")),
            code="invalid", params={"value": text},
        ) from exc
    except Exception as exc:  # the parser has bugs on some malformed input (AttributeError)
        raise ValidationError(
            _with_help(_("“%(value)s” is not a date Casedesk understands.")),
            code="invalid", params={"value": text},
        ) from exc
    if isinstance(parsed, Interval):
        lower, upper = getattr(parsed, "lower", None), getattr(parsed, "upper", None)
        if not (_is_point_object(lower) and _is_point_object(upper)):
            raise ValidationError(
                _with_help(_("Open-ended ranges are not supported: give both ends.")),
                code="unsupported",
            )
        result = FuzzyDate(value, _point(lower, text), _point(upper, text))
    else:
        result = FuzzyDate(value, _point(parsed, text))
    earliest, latest = result.earliest, result.latest
    if earliest and latest and earliest > latest:
        raise ValidationError(
            _("The range ends before it starts: put the earlier date first."),
            code="invalid_range")
    if result.end is not None and (result.start.year is None) != (result.end.year is None):
        raise ValidationError(
            _("Give the year at both ends of a range, or at neither."), code="invalid_range"
        )
    return result


def _is_point_object(obj) -> bool:
    return isinstance(obj, Date | DateAndTime | UncertainOrApproximate)


def _point(obj, original: str) -> DatePoint:
    approximate = uncertain = False
    if isinstance(obj, UncertainOrApproximate):
        approximate = obj.is_approximate or obj.is_uncertain_and_approximate
        uncertain = obj.is_uncertain or obj.is_uncertain_and_approximate
        obj = obj.date
    time = None
    if isinstance(obj, DateAndTime):
        time = str(obj.time)[:5]
        obj = obj.date
    if type(obj) not in (Date, Unspecified, PartialUnspecified):
        raise ValidationError(
            _with_help(_("“%(value)s” uses an EDTF form Casedesk does not support.")),
            code="unsupported", params={"value": original},
        )
    year, month, day = (_component(obj, name, original) for name in ("year", "month", "day"))
    if year is None and month is None:
        message = (_("A day alone is not a date: give at least the month.") if day else
                   _("Give at least the year or the month; for an unknown date give a range "
                     "that bounds it, such as 2024/2025."))
        raise ValidationError(message, code="invalid")
    _check_calendar(year, month, day)
    return DatePoint(year, month, day, time, approximate, uncertain)


def _check_calendar(year: int | None, month: int | None, day: int | None) -> None:
    """The parser lets through days that do not exist (29 February 2025, 31 April of an
    unknown year) and the year 0; refuse them here rather than fail later."""
    if year is not None and year < 1:
        raise ValidationError(_("Give a year from 1 onwards."), code="invalid")
    if month is None or day is None:
        return
    # With the year unknown, 29 February is possible (a leap year): check against 2000.
    last = calendar.monthrange(year if year is not None else 2000, month)[1]
    if day > last:
        date = DatePoint(year, month, day).describe(with_year=year is not None)
        raise ValidationError(
            ngettext("There is no %(date)s: that month has %(days)d day.",
                     "There is no %(date)s: that month has %(days)d days.", last),
            code="invalid", params={"date": date, "days": last},
        )


def _component(obj, name: str, original: str) -> int | None:
    raw = getattr(obj, name, None)
    if raw is None or set(str(raw)) == {"X"}:
        return None
    if "X" in str(raw):
        raise ValidationError(
            _("Mark a whole year, month or day as unknown (XXXX, XX), not single digits."),
            code="unsupported",
        )
    return int(raw)
