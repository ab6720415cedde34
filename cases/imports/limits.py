"""The limits an imported file is held to, and the refusals of a file over them.

Settings override each limit (README.md, docs/import-format.md). Reading is counted in cells,
whatever the file's shape, because an XLSX costs per cell parsed: the cell limit bounds the
work of the worst file, however built."""

from __future__ import annotations

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import ngettext

from .refusals import FileRefused

DEFAULT_MAX_ROWS = 200_000
DEFAULT_MAX_CELLS = 2_000_000
DEFAULT_MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_COMPRESSION_RATIO = 100
# Small parts of a workbook (styles, themes) compress far better than sheets; their ratio
# says nothing about a bomb.
RATIO_CHECKED_FROM_BYTES = 1024 * 1024


def max_rows() -> int:
    return getattr(settings, "CASEDESK_IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)


def max_cells() -> int:
    return getattr(settings, "CASEDESK_IMPORT_MAX_CELLS", DEFAULT_MAX_CELLS)


def max_uncompressed_bytes() -> int:
    return getattr(settings, "CASEDESK_IMPORT_MAX_UNCOMPRESSED_BYTES",
                   DEFAULT_MAX_UNCOMPRESSED_BYTES)


def max_compression_ratio() -> int:
    return getattr(settings, "CASEDESK_IMPORT_MAX_COMPRESSION_RATIO",
                   DEFAULT_MAX_COMPRESSION_RATIO)


def grouped(number: int) -> str:
    """A count with its digits grouped as the reader's language groups them (200,000;
    200 000 in Russian)."""
    return number_format(number, force_grouping=True)


def too_many_rows(limit: int) -> FileRefused:
    return FileRefused(
        ngettext("The file has more than %(limit)s row: split it into several files.",
                 "The file has more than %(limit)s rows: split it into several files.", limit)
        % {"limit": grouped(limit)}, code="too_many_rows")


def too_many_cells(limit: int) -> FileRefused:
    return FileRefused(
        ngettext("The file has more than %(limit)s cell (rows × columns): split it into "
                 "several files, or remove the columns Casedesk does not read.",
                 "The file has more than %(limit)s cells (rows × columns): split it into "
                 "several files, or remove the columns Casedesk does not read.", limit)
        % {"limit": grouped(limit)}, code="too_many_cells")
