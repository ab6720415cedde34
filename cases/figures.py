"""Reported figures with their qualifiers ("at least 49,000", "nearly 300").

A qualifier turns one number into a range of values the statement admits. "About" and
"nearly" are vague by nature; Casedesk reads them with a 10 % tolerance, which is what
lets two reports be checked against each other (nearly 300 is consistent with 291, not
with 250 or with 300 itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
        return FigureQualifier(self.qualifier).describe(self.value, self.unit)
