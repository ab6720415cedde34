"""Reported figures with their qualifiers ("at least 49,000", "nearly 300", "more than 100").

A qualifier turns one number into a range of values the statement admits (a `Span`). "About"
and "nearly" are vague by nature; Casedesk reads them with a 10 % tolerance, which is what
lets two reports be checked against each other (nearly 300 is consistent with 291, not
with 250 or with 300 itself). "More than" and "fewer than" exclude their number, "at least"
and "at most" include it; "exactly" is the number alone. So "at least 10" and "10" can both
be true, "more than 10" and "10" cannot.

Spans add up (`Span.__add__`): an incident's outcomes "4 detained" and "more than 2 at large"
account for more than 6 people, which is what the count balance of an incident compares
with the people involved (cases/models/incident.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.utils.translation import pgettext

from .enums import FigureQualifier, format_figure_number

VAGUE_TOLERANCE = Decimal("0.10")


@dataclass(frozen=True)
class Span:
    """The values a statement admits: from `low` to `high` (None: unbounded on that side),
    each end included unless it is `open` ("more than 10" is (10, None) with an open low)."""

    low: Decimal | None
    high: Decimal | None
    low_open: bool = False
    high_open: bool = False

    def admits(self, number) -> bool:
        number = Decimal(number)
        if self.low is not None and (number < self.low
                                     or (self.low_open and number == self.low)):
            return False
        if self.high is not None and (number > self.high
                                      or (self.high_open and number == self.high)):
            return False
        return True

    def overlaps(self, other: Span) -> bool:
        """Whether some value lies in both spans. (Compared end by end, without building
        lists: a figure's flags compare every pair of its reports.)"""
        low, low_open = _inner_end(self.low, self.low_open, other.low, other.low_open,
                                   higher=True)
        high, high_open = _inner_end(self.high, self.high_open, other.high, other.high_open,
                                     higher=False)
        if low is None or high is None or low < high:
            return True
        if low > high:
            return False
        # One value left: it must be closed on every side that reaches it.
        return not low_open and not high_open

    def is_exact(self) -> bool:
        return (self.low is not None and self.low == self.high
                and not self.low_open and not self.high_open)

    def __add__(self, other: Span) -> Span:
        return Span(
            None if self.low is None or other.low is None else self.low + other.low,
            None if self.high is None or other.high is None else self.high + other.high,
            self.low_open or other.low_open, self.high_open or other.high_open)

    def minus(self, other: Span) -> Span:
        """The values of `self - other`, not below zero (what is left of a count)."""
        low = None if self.low is None or other.high is None else self.low - other.high
        high = None if self.high is None or other.low is None else self.high - other.low
        zero = Decimal(0)
        low = zero if low is None or low < 0 else low
        if high is not None and high < 0:
            high = zero
        return Span(low, high, False, False)


def _inner_end(end, is_open, other_end, other_open, *, higher: bool):
    """Of two spans' ends on one side (None: unbounded), the one that bounds both: the
    higher of two lows, the lower of two highs; when they are equal, open if either is."""
    if end is None:
        return other_end, other_open
    if other_end is None or end == other_end:
        return end, is_open or (other_end is not None and other_open)
    if (end > other_end) == higher:
        return end, is_open
    return other_end, other_open


def describe_span(span: Span) -> str:
    """A range in words: "4", "at least 2", "more than 6", "at most 3", "between 2 and 5"."""
    low = None if span.low is None or (span.low == 0 and span.high is not None) else span.low
    if low is not None and low == span.high:
        return format_figure_number(low)
    if span.high is None:
        if low is None:
            return pgettext("figure range", "any number")
        qualifier = FigureQualifier.MORE_THAN if span.low_open else FigureQualifier.AT_LEAST
        return qualifier.describe(low)
    if low is None:
        qualifier = FigureQualifier.FEWER_THAN if span.high_open else FigureQualifier.AT_MOST
        return qualifier.describe(span.high)
    return pgettext("figure range", "between %(low)s and %(high)s") % {
        "low": format_figure_number(low), "high": format_figure_number(span.high)}


def nonnegative(span: Span) -> Span:
    """A count's span: "at most 5" people is 0 to 5, never fewer than none."""
    if span.low is None or span.low < 0:
        return Span(Decimal(0), span.high, False, span.high_open)
    return span


@dataclass(frozen=True)
class Figure:
    value: Decimal
    qualifier: FigureQualifier = FigureQualifier.EXACTLY
    unit: str = ""

    def __post_init__(self):
        # Accept 300, "300" or 0.1 as well as a Decimal (through str(), so that 0.1 stays 0.1
        # and not 0.1000000000000000055…), and "at_least" as well as the enum member.
        if not isinstance(self.value, Decimal):
            object.__setattr__(self, "value", Decimal(str(self.value)))
        object.__setattr__(self, "qualifier", FigureQualifier(self.qualifier))

    def span(self) -> Span:
        """The values the statement admits, with which ends are excluded."""
        return self._span

    @cached_property
    def _span(self) -> Span:
        # Worked out once per figure: the flags compare every pair of a figure's reports.
        v, q = self.value, self.qualifier
        if q == FigureQualifier.EXACTLY:
            return Span(v, v)
        if q == FigureQualifier.AT_LEAST:
            return Span(v, None)
        if q == FigureQualifier.AT_MOST:
            return Span(None, v)
        if q == FigureQualifier.MORE_THAN:
            return Span(v, None, low_open=True)
        if q == FigureQualifier.FEWER_THAN:
            return Span(None, v, high_open=True)
        margin = abs(v) * VAGUE_TOLERANCE
        if q == FigureQualifier.ABOUT:
            return Span(v - margin, v + margin)
        # "Nearly" is below the number, never equal to it.
        return Span(v - margin, v, high_open=True)

    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        """(lowest, highest) value the statement admits; None is unbounded. Whether an end is
        itself admitted ("nearly", "more than", "fewer than" exclude it) is in `span()`."""
        span = self.span()
        return span.low, span.high

    def admits(self, number) -> bool:
        return self.span().admits(number)

    def consistent_with(self, other: Figure) -> bool:
        """Whether some value satisfies both statements (the two reports can both be true)."""
        return self.span().overlaps(other.span())

    def __str__(self) -> str:
        return FigureQualifier(self.qualifier).describe(self.value, self.unit)
