"""What checking a file found (ImportReport, a RowReport per row shown), for the preview, the
commands and the write that follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .refusals import RowError

# Rows kept with their cells for the preview besides the rows that have errors.
PREVIEW_ROWS = 20
# Rows with errors shown in full; past that the preview says how many more there are.
MAX_ERROR_ROWS_SHOWN = 1000

# Called with the number of rows (or records) done since the last call.
Progress = Callable[[int], None]


@dataclass
class RowReport:
    number: int  # the row's number in the file (the header is row 1)
    cells: dict[str, str]
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    kind: str
    columns: list[str] = field(default_factory=list)  # recognised columns, in file order
    ignored_columns: list[str] = field(default_factory=list)
    total_rows: int = 0
    error_rows: list[RowReport] = field(default_factory=list)
    error_row_count: int = 0
    sample_rows: list[RowReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: list = field(default_factory=list)  # the checked values, one per valid row
    # What the file holds when it is not one record a row (claims: claims and citations).
    counts: dict[str, int] = field(default_factory=dict)
    written: int = 0

    @property
    def ok(self) -> bool:
        return self.error_row_count == 0 and self.total_rows > 0

    @property
    def hidden_error_rows(self) -> int:
        return self.error_row_count - len(self.error_rows)

