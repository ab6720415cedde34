"""Fuzzy incident dates stored as EDTF (ISO 8601-2) strings.

The `edtf` package parses and validates the string; this module turns the parsed value into
what the rest of Casedesk needs: the earliest and latest possible day (for sorting and
filtering), the precision, the ACLED time_precision code, and a rendering in plain words
("9 May, year unknown", "about May 2024", "8–9 May 2025").

Supported forms (the ones a newsroom meets; anything else gets a clear error):
  2025-05-09, 2025-05-09T14:30, 2025-05, 2025       a day, a time, a month, a year
  2025-05~  2025-05?  2025-05%                      approximate, uncertain, both
  XXXX-05-09, XXXX-05, 2025-XX-09                   a component unknown
  2025-05-08/2025-05-09                             a range (the night of 8 to 9 May)
Free input is normalised first: "~2025-05-09" and "2025-05-09~" mean the same, "05-09" is
9 May of an unknown year.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
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

FORMAT_HELP = (
    "Use 2025-05-09 for a day, 2025-05-09T14:30 for an exact time, 2025-05 or 2025 for a "
    "month or year, add ~ for 'about' (2025-05~) or ? for 'uncertain', XXXX-05-09 for 9 May "
    "of an unknown year, and 2025-05-08/2025-05-09 for a range."
)

_DAY_MONTH_NO_YEAR = re.compile(r"^(\d{2})-(\d{2})$")


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
        if self.day:
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

    def describe(self, *, with_year: bool = True, with_month: bool = True) -> str:
        parts = []
        if self.day:
            parts.append(str(self.day))
        if with_month:
            if self.month:
                parts.append(calendar.month_name[self.month])
            elif self.day:
                parts = [f"day {self.day} of an unknown month"]
        text = " ".join(parts)
        if with_year:
            if self.year is None:
                text = f"{text}, year unknown" if text else "year unknown"
            elif self.day and not self.month:
                text = f"{text}, {self.year}"
            else:
                text = f"{text} {self.year}" if text else str(self.year)
        if self.time:
            text = f"{text}, {self.time}"
        return text

    def qualify(self, text: str) -> str:
        if self.approximate and self.uncertain:
            return f"about {text}, uncertain"
        if self.approximate:
            return f"about {text}"
        if self.uncertain:
            return f"{text} (uncertain)"
        return text


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
        if span <= 7:
            return 2
        return 3

    def describe(self) -> str:
        """The date in plain words, saying honestly how much of it is known."""
        if self.end is None:
            return self.start.qualify(self.start.describe())
        start, end = self.start, self.end
        plain = not (start.approximate or start.uncertain or start.time or end.time)
        if plain and start.year == end.year and start.year is not None:
            if start.month == end.month and start.month and start.day and end.day:
                text = f"{start.day}–{end.day} {calendar.month_name[start.month]} {start.year}"
                return end.qualify(text)
            if start.month and end.month:
                left = start.describe(with_year=False)
                return end.qualify(f"{left} – {end.describe()}")
        return f"{start.qualify(start.describe())} – {end.qualify(end.describe())}"

    def _points(self) -> tuple[DatePoint, ...]:
        return (self.start,) if self.end is None else (self.start, self.end)

    def __str__(self) -> str:
        return self.describe()


def normalize(text: str) -> str:
    """Turn common hand-typed variants into canonical EDTF before parsing."""
    value = (text or "").strip().replace("–", "/").replace(" / ", "/")
    if "/" in value:
        return "/".join(normalize(part) for part in value.split("/", 1))
    match = _DAY_MONTH_NO_YEAR.match(value)
    if match:
        return f"XXXX-{match[1]}-{match[2]}"
    if value[:1] in "~?%" and len(value) > 1:
        value = value[1:] + value[0]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?", value):
        value = value.replace(" ", "T")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        value += ":00"
    return value.replace("x", "X").replace("u", "X")


def parse(text: str) -> FuzzyDate:
    """Parse an EDTF string (or a hand-typed variant of one) or raise ValidationError."""
    value = normalize(text)
    if not value:
        raise ValidationError("Enter a date. " + FORMAT_HELP, code="required")
    try:
        parsed = parse_edtf(value)
    except (edtf_exceptions.EDTFParseException, ValueError, TypeError) as exc:
        raise ValidationError(
            "“%(value)s” is not a date Casedesk understands. " + FORMAT_HELP,
            code="invalid", params={"value": text},
        ) from exc
    if isinstance(parsed, Interval):
        lower, upper = getattr(parsed, "lower", None), getattr(parsed, "upper", None)
        if not (_is_point_object(lower) and _is_point_object(upper)):
            raise ValidationError(
                "Open-ended ranges are not supported: give both ends. " + FORMAT_HELP,
                code="unsupported",
            )
        result = FuzzyDate(value, _point(lower, text), _point(upper, text))
    else:
        result = FuzzyDate(value, _point(parsed, text))
    earliest, latest = result.earliest, result.latest
    if earliest and latest and earliest > latest:
        raise ValidationError("The range ends before it starts.", code="invalid_range")
    if result.end is not None and (result.start.year is None) != (result.end.year is None):
        raise ValidationError(
            "Give the year at both ends of a range, or at neither.", code="invalid_range"
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
            "“%(value)s” uses an EDTF form Casedesk does not support. " + FORMAT_HELP,
            code="unsupported", params={"value": original},
        )
    year, month, day = (_component(obj, name, original) for name in ("year", "month", "day"))
    if day and not month and year is None:
        raise ValidationError("A day alone is not a date: give at least the month.",
                              code="invalid")
    return DatePoint(year, month, day, time, approximate, uncertain)


def _component(obj, name: str, original: str) -> int | None:
    raw = getattr(obj, name, None)
    if raw is None or set(str(raw)) == {"X"}:
        return None
    if "X" in str(raw):
        raise ValidationError(
            "Mark a whole year, month or day as unknown (XXXX, XX), not single digits.",
            code="unsupported",
        )
    return int(raw)
