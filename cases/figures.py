"""Reported figures with their qualifiers ("at least 49,000", "nearly 300").

A qualifier turns one number into a range of values the statement admits. "About" and
"nearly" are vague by nature; Casedesk reads them with a 10 % tolerance, which is what
lets two reports be checked against each other (nearly 300 is consistent with 291, not
with 250 or with 300 itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format

from .enums import FigureQualifier

VAGUE_TOLERANCE = Decimal("0.10")


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

    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        """(lowest, highest) value the statement admits; None is unbounded. "Nearly" is below
        the number, never equal to it: the upper bound is exclusive (see `admits`)."""
        v, q = self.value, FigureQualifier(self.qualifier)
        margin = abs(v) * VAGUE_TOLERANCE
        return {
            FigureQualifier.EXACTLY: (v, v),
            FigureQualifier.AT_LEAST: (v, None),
            FigureQualifier.AT_MOST: (None, v),
            FigureQualifier.ABOUT: (v - margin, v + margin),
            FigureQualifier.NEARLY: (v - margin, v),
        }[q]

    def admits(self, number) -> bool:
        number = Decimal(number)
        low, high = self.bounds()
        if low is not None and number < low:
            return False
        if high is not None and number > high:
            return False
        if self.qualifier == FigureQualifier.NEARLY and number == self.value:
            return False
        return True

    def consistent_with(self, other: Figure) -> bool:
        """Whether some value satisfies both statements (the two reports can both be true)."""
        low = max((b for b in (self.bounds()[0], other.bounds()[0]) if b is not None),
                  default=None)
        high = min((b for b in (self.bounds()[1], other.bounds()[1]) if b is not None),
                   default=None)
        if low is None or high is None:
            return True
        if low < high:
            return True
        return low == high and self.admits(low) and other.admits(low)

    def __str__(self) -> str:
        number = self.value.normalize()
        if number == number.to_integral():
            number = number.quantize(Decimal(1))  # 4.9E+4 is written 49,000
        # Grouped the reader's way: "49,000" in English, "49 000" in Russian.
        text = number_format(number, force_grouping=True)
        prefix = "" if self.qualifier == FigureQualifier.EXACTLY else (
            FigureQualifier(self.qualifier).label + " "
        )
        return f"{prefix}{text} {self.unit}".strip()
