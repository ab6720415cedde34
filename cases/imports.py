"""Importing incidents and sources into a case from CSV or XLSX files (docs/import-format.md).

One path for the browser (upload → preview → confirm, cases/views/transfer.py) and the
management commands (import_incidents, import_sources):

1. `read_table()` turns the uploaded bytes into a header and rows of cells (CSV in UTF-8 with
   `,` `;` or tab between cells, or the first sheet of an XLSX workbook read with openpyxl),
   or refuses the file as a whole with a clear message and a code (`FileRefused`). Rows and
   cells are counted as they are read, and a file is refused at the first over the limits
   (`CASEDESK_IMPORT_MAX_*`), never read whole first.
2. An importer (`IncidentImporter`, `SourceImporter`) checks every row, collecting every
   error of every row (`ImportReport`), without writing anything.
3. `write()` runs only when no row has an error, in one transaction: all rows or none. It
   writes in bulk (incidents on PostgreSQL with COPY, `copy_create_with_history`; otherwise
   `bulk_create_with_history`, batches of BATCH_SIZE) with what `save()` would have derived
   (an incident's earliest and latest day) and a "created" history row per record in the
   importing user's name.

Who may import: reporters and editors of the case (as for the record forms). A protected
source's identity (real name, contact, notes) is accepted only from the case's source
handlers, and is encrypted like any identity (cases/crypto.py); anyone else's file with an
identity cell is refused, and the preview never shows identity values.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from xml.etree import ElementTree

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from . import fuzzydate, safejson, timebounds
from .access import CaseAccess
from .enums import GeoPrecision, Reliability, SourceKind
from .forms.base import _code, one_line, tidy_text
from .history import bulk_create_with_history, copy_create_with_history
from .models import Incident, IncidentType, Source, SourceIdentity

BATCH_SIZE = 2000
# Rows kept with their cells for the preview besides the rows that have errors.
PREVIEW_ROWS = 20
# Rows with errors shown in full; past that the preview says how many more there are.
MAX_ERROR_ROWS_SHOWN = 1000

Progress = Callable[[int], None]

# The limits a file is held to before it is read whole (settings override each; README.md,
# docs/import-format.md). Reading is counted in cells, whatever the file's shape, because an
# XLSX costs per cell parsed: the cell limit bounds the work of the worst file, however built.
DEFAULT_MAX_ROWS = 200_000
DEFAULT_MAX_CELLS = 2_000_000
DEFAULT_MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_COMPRESSION_RATIO = 100
# Small parts of a workbook (styles, themes) compress far better than sheets; their ratio
# says nothing about a bomb.
_RATIO_CHECKED_FROM_BYTES = 1024 * 1024


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


class FileRefused(Exception):
    """The file as a whole cannot be imported (not CSV/XLSX, no header, a missing column, over
    a limit). `code` says which refusal it is, for the form's error and for tests."""

    def __init__(self, message, code="file_refused"):
        super().__init__(str(message))
        self.code = code


def _too_many_rows(limit: int) -> FileRefused:
    return FileRefused(
        _("The file has more than %(limit)s rows: split it into several files.")
        % {"limit": f"{limit:,}"}, code="too_many_rows")


def _too_many_cells(limit: int) -> FileRefused:
    return FileRefused(
        _("The file has more than %(limit)s cells (rows × columns): split it into several "
          "files, or remove the columns Casedesk does not read.") % {"limit": f"{limit:,}"},
        code="too_many_cells")


# --- reading files ----------------------------------------------------------------------------

@dataclass
class Table:
    """A file's header (as written) and its data rows, each a list of cells (str, int,
    float, datetime or None). `first_row` is the file's row number of the first data row."""

    header: list[str]
    rows: list[list]
    first_row: int = 2


XLSX_MAGIC = b"PK\x03\x04"


def detect_format(name: str, head: bytes) -> str:
    lowered = (name or "").lower()
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if lowered.endswith((".xlsx", ".xlsm")):
        raise FileRefused("The file is named .xlsx but is not an Excel workbook.", code="not_xlsx")
    if lowered.endswith(".xls"):
        raise FileRefused("Old Excel files (.xls) cannot be read: save the sheet as .xlsx or "
                          "as CSV (UTF-8).", code="xls")
    return "csv"


def read_table(data: bytes, name: str = "") -> Table:
    """The file's table, or FileRefused saying what is wrong with it. Rows and cells are
    counted as they are read, and reading stops at the first one over the limit."""
    if not data:
        raise FileRefused("The file is empty.", code="empty")
    if detect_format(name, data[:4]) == "xlsx":
        return _read_xlsx(data)
    return _read_csv(data)


def _read_csv(data: bytes) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). In Excel or "
            "LibreOffice choose “CSV UTF-8” when saving.", code="not_utf8") from None
    if "\x00" in text:
        raise FileRefused("The file contains NUL bytes: it is not a CSV file.", code="nul")
    line_end = text.find("\n")
    first_line = text if line_end < 0 else text[:line_end]
    delimiter = max(",;\t", key=first_line.count) if first_line else ","
    row_limit, cell_limit = max_rows(), max_cells()
    lines = _BoundedLines(text, delimiter, cell_limit)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FileRefused("The file is empty.", code="empty")
        cells = len(header)
        rows = []
        for row in reader:
            lines.row_read()
            cells += len(row)
            if cells > cell_limit:
                raise _too_many_cells(cell_limit)
            rows.append(row)
            if len(rows) > row_limit:
                raise _too_many_rows(row_limit)
    except csv.Error as exc:
        raise FileRefused(f"The CSV cannot be read near line {reader.line_num}: {exc}.",
                          code="csv_syntax") from None
    return Table(header, rows)


class _BoundedLines:
    """The text's lines for csv.reader, which builds a whole record before returning it: a
    record whose lines hold more separators than the file may have cells is refused before
    the reader builds it (one line of millions of commas would be a list of millions)."""

    def __init__(self, text: str, delimiter: str, cell_limit: int):
        self.lines = iter(io.StringIO(text, newline=""))
        self.delimiter, self.cell_limit = delimiter, cell_limit
        self.pending = 0  # separators in the lines of the record being read

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.pending += line.count(self.delimiter)
        if self.pending > self.cell_limit:
            raise _too_many_cells(self.cell_limit)
        return line

    def row_read(self) -> None:
        self.pending = 0


# What openpyxl, zipfile, zlib and the XML parser raise on a damaged or hostile workbook (a
# `<fill/>` without a pattern is a TypeError, a bad cell reference a ValueError, a missing part
# a KeyError…). Caught only around the library's own calls, so that our bugs still surface.
_UNREADABLE_WORKBOOK = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError,
    RuntimeError, ElementTree.ParseError, OSError, KeyError, IndexError, TypeError, ValueError,
    OverflowError,
)
_WORKBOOK_DAMAGED = "The workbook is damaged and cannot be read."
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@contextlib.contextmanager
def _workbook_library():
    try:
        yield
    except _UNREADABLE_WORKBOOK as exc:
        raise FileRefused(_WORKBOOK_DAMAGED, code="unreadable_xlsx") from exc


def _read_xlsx(data: bytes) -> Table:
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.utils.exceptions import InvalidFileException
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_archive(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise FileRefused("The file cannot be opened as an Excel workbook (.xlsx).",
                          code="not_xlsx") from exc
    # openpyxl's load_workbook() measures every sheet on opening, reading a sheet without a
    # declared size whole (our own exports declare none): its parts are read here instead,
    # the first sheet only, row by row.
    try:
        with _workbook_library():
            reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True)
            reader.read_manifest()
            strings = _shared_strings(reader)
            reader.read_workbook()
            apply_stylesheet(reader.archive, reader.wb)
            sheet_part = next((rel.target for _sheet, rel in reader.parser.find_sheets()
                               if rel.target in reader.valid_files
                               and "chartsheet" not in rel.Type), None)
    except InvalidFileException as exc:
        raise FileRefused("The file cannot be opened as an Excel workbook (.xlsx).",
                          code="not_xlsx") from exc
    if sheet_part is None:
        raise FileRefused("The workbook has no sheet.", code="no_sheet")
    with _workbook_library():
        source = reader.archive.open(sheet_part)
    try:
        workbook = reader.wb
        # openpyxl reads each row's cells (types, shared texts, dates by their format); the
        # loop over the sheet's XML is ours (_sheet_rows), so that it can be bounded.
        parser = WorkSheetParser(source, strings, data_only=True,
                                 epoch=workbook.epoch, date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        return _sheet_table(_sheet_rows(source, parser), cells=len(strings))
    finally:
        source.close()
        reader.archive.close()


def _shared_strings(reader) -> list[str]:
    """The workbook's shared texts, as openpyxl's read_string_table() reads them, but counted
    against the cell limit as they are read: each costs as much as a cell to read, and a sheet
    cannot use more distinct texts than it has cells."""
    from openpyxl.cell.text import Text
    from openpyxl.xml.constants import SHARED_STRINGS

    part = reader.package.find(SHARED_STRINGS)
    if part is None:
        return []
    limit = max_cells()
    strings: list[str] = []
    with reader.archive.open(part.PartName[1:]) as source:
        for depth, element in _xml_records(source, record_depth=1):
            if depth == 1 and element.tag == f"{_SHEET_NS}si":
                strings.append(Text.from_tree(element).content.replace("x005F_", ""))
                if len(strings) > limit:
                    raise _too_many_cells(limit)
    return strings


def _check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse a zip bomb from the archive's directory, before anything is decompressed. Reading
    a part never yields more than its declared size (zipfile stops there), so the declared
    sizes bound the work."""
    parts = archive.infolist()
    limit = max_uncompressed_bytes()
    if sum(part.file_size for part in parts) > limit:
        raise FileRefused(
            _("Unpacked, this workbook would be larger than %(limit)s: split it into several "
              "files.") % {"limit": filesizeformat(limit)}, code="too_large_unpacked")
    ratio = max_compression_ratio()
    for part in parts:
        if (part.file_size > _RATIO_CHECKED_FROM_BYTES
                and part.file_size > ratio * max(part.compress_size, 1)):
            raise FileRefused(
                _("This workbook is compressed more than %(ratio)d to 1, as no spreadsheet "
                  "is: it is refused as a possible zip bomb.") % {"ratio": ratio},
                code="zip_bomb")


# A record (a row, a shared text) is held in memory while it is read, with all it contains:
# far more elements than a row of Excel's 16,384 columns has.
_MAX_ELEMENTS_IN_A_RECORD = 100_000
# XML elements a part may hold for each cell allowed (a cell is two or three: c and v, or c,
# is and t), so that elements that are no cell cannot be piled up either.
_ELEMENTS_PER_CELL = 4


def _xml_records(source, *, record_depth: int) -> Iterator[tuple[int, ElementTree.Element]]:
    """(depth, element) for each element of an XML part down to `record_depth` (the root is
    0: a sheet's rows are at 2, in sheetData), as each ends; deeper elements stay inside their
    record. An element is forgotten once it has been handed over, so memory holds one record
    at a time, and every element counts, so a part cannot hold more than the cell limit
    allows, whatever its elements are."""
    cell_limit = max_cells()
    element_limit = _ELEMENTS_PER_CELL * cell_limit + _MAX_ELEMENTS_IN_A_RECORD
    stack: list[ElementTree.Element] = []
    elements = in_record = 0
    for event, element in ElementTree.iterparse(source, events=("start", "end")):
        if event == "start":
            elements += 1
            in_record = 1 if len(stack) <= record_depth else in_record + 1
            if elements > element_limit or in_record > _MAX_ELEMENTS_IN_A_RECORD:
                raise _too_many_cells(cell_limit)
            stack.append(element)
            continue
        stack.pop()
        if len(stack) <= record_depth:
            yield len(stack), element
            if stack:
                stack[-1].clear()


def _sheet_rows(source, parser) -> Iterator[tuple[int, list[dict]]]:
    """(row number, cells) for each row of a sheet, refusing the sheet when the size it
    declares (`<dimension ref="A1:XFD3000"/>`, before its rows) is over the limits. A sheet
    that declares none, or a wrong one, is still bounded as it is read (_sheet_table)."""
    for depth, element in _xml_records(source, record_depth=2):
        if depth == 1 and element.tag == f"{_SHEET_NS}dimension":
            _check_declared_size(element.get("ref", ""))
        elif depth == 2 and element.tag == f"{_SHEET_NS}row":
            yield parser.parse_row(element)


def _check_declared_size(ref: str) -> None:
    from openpyxl.utils.cell import range_boundaries

    try:
        _min_col, _min_row, columns, rows = range_boundaries(ref)
    except (TypeError, ValueError):
        return  # unreadable: not relied upon
    if rows is not None and rows - 1 > max_rows():
        raise FileRefused(
            _("The sheet says it has %(rows)s rows, more than the %(limit)s a file may have: "
              "delete the empty rows below the data, or split the file.")
            % {"rows": f"{rows:,}", "limit": f"{max_rows():,}"}, code="too_many_rows")
    if rows is not None and columns is not None and rows * columns > max_cells():
        raise FileRefused(
            _("The sheet says it has %(rows)s rows of %(columns)s columns, more than the "
              "%(limit)s cells a file may have: delete the empty rows and columns around the "
              "data, or split the file.")
            % {"rows": f"{rows:,}", "columns": f"{columns:,}", "limit": f"{max_cells():,}"},
            code="too_many_cells")


def _sheet_table(parsed: Iterator[tuple[int, list[dict]]], *, cells: int = 0) -> Table:
    """The header (row 1) and data rows of a sheet parsed row by row, stopping at the first row
    or cell over the limits (`cells`: what the workbook's shared texts already counted). Rows
    missing from the sheet are empty rows, so each row keeps its number."""
    row_limit, cell_limit = max_rows(), max_cells()
    header: list[str] | None = None
    rows: list[list] = []
    while True:
        with _workbook_library():
            try:
                number, row_cells = next(parsed)
            except StopIteration:
                break
        if number - 1 > row_limit:
            raise _too_many_rows(row_limit)
        cells += len(row_cells)
        if cells > cell_limit:
            raise _too_many_cells(cell_limit)
        if header is None:
            if number != 1:
                header = []  # the first row is empty: no column is named
            else:
                header = ["" if value is None else str(value)
                          for value in _in_columns(row_cells, None)]
                while header and not header[-1].strip():
                    header.pop()
                continue
        while len(rows) < number - 2:
            rows.append([])
        rows.append(_in_columns(row_cells, len(header)))
    if header is None:
        raise FileRefused("The first sheet is empty.", code="empty")
    return Table(header, rows)


def _in_columns(row_cells: list[dict], width: int | None) -> list:
    """A row's values by column (1 → index 0), up to `width` columns (None: its last cell)."""
    if width is None:
        width = max((c["column"] for c in row_cells), default=0)
    values = [None] * width
    for cell in row_cells:
        if 1 <= cell["column"] <= width:
            values[cell["column"] - 1] = cell["value"]
    return values


# --- cells -----------------------------------------------------------------------------------

class CellError(Exception):
    """What is wrong with one cell; `code` says which refusal it is (RowError keeps it)."""

    def __init__(self, message, code="invalid"):
        super().__init__(str(message))
        self.code = code


class RowError(str):
    """One problem of a row as shown ("title: is empty"), with the `code` of the refusal."""

    code: str

    def __new__(cls, text, code="invalid"):
        error = super().__new__(cls, text)
        error.code = code
        return error


def _row_error(error, prefix: str = "") -> RowError:
    """`error` (a RowError or any text) under `prefix`, keeping its code."""
    return RowError(prefix + error, getattr(error, "code", "invalid"))


def cell_text(value) -> str:
    """A cell as the text a person typed (XLSX numbers and dates included)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def normalise_header(name) -> str:
    return re.sub(r"[\s\-]+", "_", cell_text(name).strip().lower())


def parse_text(value, *, max_length=None, multiline=False) -> str:
    text = tidy_text(cell_text(value)) if multiline else one_line(cell_text(value))
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        # Our CSV exports put an apostrophe before a text a spreadsheet would run as a
        # formula; it is not part of the text.
        text = text[1:]
    if "\x00" in text:
        raise CellError("contains a NUL byte")
    if max_length is not None and len(text) > max_length:
        raise CellError(f"is {len(text)} characters long; at most {max_length} are allowed")
    return text


def parse_count(value) -> int | None:
    if isinstance(value, bool):
        raise CellError("is not a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise CellError(f"“{value}” is not a whole number")
        number = int(value)
    else:
        text = cell_text(value).strip()
        if not text:
            return None
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise CellError(f"“{text[:40]}” is not a whole number (leave it empty when unknown)")
        number = int(text)
    if number < 0:
        raise CellError("cannot be negative")
    if number > 2_147_483_647:
        raise CellError("is too large")
    return number


_SIX_PLACES = Decimal("0.000001")


def parse_coordinate(value, limit: int) -> Decimal | None:
    if isinstance(value, float):
        text = repr(value)
    else:
        text = cell_text(value).strip().replace(",", ".")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(f"“{text[:40]}” is not a number in decimal degrees") from None
    if not number.is_finite() or not -limit <= number <= limit:
        raise CellError(f"must be between -{limit} and {limit}")
    # Storage keeps six decimal places (about 10 cm): more is rounded, not refused.
    return number.quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN)


def _choice_lookup(choices) -> dict[str, str]:
    lookup = {}
    for value, label in choices.choices:
        lookup[value.lower()] = value
        lookup[str(label).lower()] = value
    return lookup


def parse_choice(value, lookup: dict[str, str], allowed: str, *, default="") -> str:
    text = one_line(cell_text(value)).lower()
    if not text:
        return default
    try:
        return lookup[text]
    except KeyError:
        raise CellError(f"“{text[:40]}” is not one of: {allowed}") from None


@functools.lru_cache(maxsize=4096)
def parse_country(text: str) -> str:
    text = one_line(text)
    if not text:
        return ""
    code = countries.alpha2(text) if len(text) in (2, 3) or text.isdigit() else ""
    code = code or countries.by_name(text) or countries.by_name(text, insensitive=True)
    if not code:
        raise CellError(f"“{text[:40]}” is not a country name or ISO 3166 code (RU, UA, GE…)")
    return code


def parse_country_cell(value) -> str:
    return parse_country(cell_text(value))


_TRUE = {"yes", "y", "true", "1", "x", "protected", "да"}
_FALSE = {"", "no", "n", "false", "0", "public", "нет"}


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = one_line(cell_text(value)).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(f"“{text[:40]}” is neither yes nor no")


# What each parser makes of an empty cell (parse_choice: its `default`).
EMPTY_CELL = {parse_text: "", parse_count: None, parse_coordinate: None,
              parse_country_cell: "", parse_bool: False, parse_choice: ""}


# --- dates -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)
def _parse_date_cached(text: str) -> tuple[fuzzydate.FuzzyDate | None, tuple[str, ...]]:
    """fuzzydate.parse() once per distinct value of a file, refusals included."""
    try:
        return fuzzydate.parse(text), ()
    except ValidationError as exc:
        return None, tuple(exc.messages)


def parse_occurred(value) -> fuzzydate.FuzzyDate:
    text = cell_text(value).strip()
    if not text:
        raise CellError("is empty: give the date, even a vague one (2024, 2024-05, ~2024-05-09)")
    parsed, messages = _parse_date_cached(text)
    if parsed is None:
        raise CellError(" ".join(messages))
    return parsed


# --- reports ---------------------------------------------------------------------------------

@dataclass
class RowReport:
    number: int  # the row's number in the file (the header is row 1)
    cells: dict[str, str]
    errors: list[str] = field(default_factory=list)


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
    written: int = 0

    @property
    def ok(self) -> bool:
        return self.error_row_count == 0 and self.total_rows > 0

    @property
    def hidden_error_rows(self) -> int:
        return self.error_row_count - len(self.error_rows)


# --- importers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""
    # When the file has several of the column's names, the first of `names` present is read.
    prefer_alias: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.aliases, self.name) if self.prefer_alias else (self.name, *self.aliases)


class Importer:
    """Checks a table's rows for one case and writes them. Subclasses list their columns and
    check one row (`clean_row`), returning the values to write or raising CellErrors."""

    kind = ""
    noun = "record"
    columns: tuple[Column, ...] = ()
    # Columns that our own exports write and an import does not read (not reported as unknown).
    export_only: tuple[str, ...] = ()
    # Blank rows between blocks of rows are common in spreadsheets: they are passed over.
    skip_blank_rows = True

    def __init__(self, access: CaseAccess, user):
        self.access, self.case, self.user = access, access.case, user

    # The header: which file column is which of ours.
    def map_header(self, header: list[str], report: ImportReport) -> dict[str, int]:
        """{column: position in the row}. A column may be found under several names (our
        exports' ACLED names among them); the first of its names present wins, and the
        others are quietly not read."""
        found: dict[str, int] = {}
        for index, raw in enumerate(header):
            name = normalise_header(raw)
            if not name:
                continue
            if name in found:
                raise FileRefused(f"The column “{cell_text(raw).strip()}” appears twice.",
                                  code="duplicate_column")
            found[name] = index
        positions: dict[str, int] = {}
        known = set(self.export_only)
        for column in self.columns:
            names = column.names
            known |= set(names)
            present = [n for n in names if n in found]
            if present:
                positions[column.name] = found[present[0]]
        report.ignored_columns = [cell_text(header[i]).strip() for name, i in found.items()
                                  if name not in known]
        missing = [c.name for c in self.columns if c.required and c.name not in positions]
        if missing:
            raise FileRefused(
                "The file has no " + ", ".join(f"“{m}”" for m in missing) + " column. The first "
                "row must name the columns: see the import format (docs/import-format.md).",
                code="missing_column")
        report.columns = sorted(positions, key=positions.get)
        return positions

    def prepare(self) -> None:
        """Load what every row is checked against (once per import)."""

    def check(self, table: Table, *, progress: Progress | None = None) -> ImportReport:
        report = ImportReport(kind=self.kind)
        positions = self.map_header(table.header, report)
        self.prepare()
        width = len(table.header)
        step = 0
        for offset, raw in enumerate(table.rows):
            if progress is not None:
                step += 1
                if step == 1000:
                    progress(step)
                    step = 0
            if self.skip_blank_rows and not any(cell_text(c).strip() for c in raw):
                continue
            number = table.first_row + offset
            if len(raw) < width:
                raw = list(raw) + [None] * (width - len(raw))
            values = {name: raw[positions[name]] for name in report.columns}
            self.row_number = number
            errors: list[str] = []
            record = self.clean_row(values, errors)
            report.total_rows += 1
            if errors:
                report.error_row_count += 1
                if len(report.error_rows) < MAX_ERROR_ROWS_SHOWN:
                    report.error_rows.append(RowReport(number, self.display_cells(values), errors))
            else:
                report.records.append(record)
                if len(report.sample_rows) < PREVIEW_ROWS:
                    report.sample_rows.append(RowReport(number, self.display_cells(values)))
        if progress is not None and step:
            progress(step)
        self.check_file(report)
        if report.total_rows == 0:
            report.notes.append("The file has a header but no rows.")
        return report

    def display_cells(self, values: dict) -> dict[str, str]:
        return {name: cell_text(value)[:200] for name, value in values.items()}

    def check_file(self, report: ImportReport) -> None:
        """Checks across rows, after every row has been checked on its own."""

    def clean_row(self, values: dict, errors: list[str]):
        raise NotImplementedError

    @staticmethod
    def cell(values: dict, name: str, parser, errors: list[str], *args, **kwargs):
        value = values.get(name)
        if (value is None or value == "") and parser in EMPTY_CELL:
            # Most cells of a large file are empty: skip the parser (same result).
            return kwargs.get("default", "") if parser is parse_choice else EMPTY_CELL[parser]
        try:
            return parser(value, *args, **kwargs)
        except CellError as exc:
            errors.append(RowError(f"{name}: {exc}", exc.code))
            return None

    def write(self, report: ImportReport, *, progress: Progress | None = None) -> int:
        raise NotImplementedError

    def run(self, table: Table, *, progress: Progress | None = None,
            write_progress: Progress | None = None) -> ImportReport:
        """Check every row; when none has an error, write them all (or, on a database
        refusal, none)."""
        with transaction.atomic():
            report = self.check(table, progress=progress)
            if report.ok:
                report.written = self.write(report, progress=write_progress)
        return report


def _batches(items: list, size: int = BATCH_SIZE) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ACLED's geo_precision codes: 1 the town itself, 2 near it or a part of a region, 3 only a
# larger region. Read as our nearest precision (our exports write both columns).
_GEO_PRECISIONS = {**_choice_lookup(GeoPrecision), "1": GeoPrecision.TOWN,
                   "2": GeoPrecision.DISTRICT, "3": GeoPrecision.REGION}
_GEO_ALLOWED = ", ".join(GeoPrecision.values)
COUNT_FIELDS = ("involved", "detained", "killed", "injured", "missing", "at_large")


class IncidentImporter(Importer):
    kind = "incidents"
    noun = "incident"
    columns = (
        Column("title", required=True, help="What happened, in a few words (at most 200 "
                                            "characters)."),
        Column("occurred", required=True, aliases=("date", "event_date", "when"),
               help="The date as precisely as it is known: 2024-05-09, 2024-05, 2024, "
                    "~2024-05-09 (about), 2024-05-09? (uncertain), 05-09 (9 May, year unknown), "
                    "2024-05-08/2024-05-09 (a range), or any EDTF form Casedesk accepts."),
        Column("type", aliases=("event_type", "incident_type"),
               help="An incident type of the newsroom's list, by name or slug."),
        Column("description", aliases=("notes",)),
        Column("place_name", aliases=("location", "place")),
        Column("admin_region", aliases=("admin1", "region")),
        Column("country", help="ISO 3166 code (RU) or English name (Russia)."),
        Column("latitude"),
        Column("longitude"),
        Column("geo_precision", aliases=("place_precision",), prefer_alias=True,
               help="point, town, district, region or country (or ACLED's 1, 2, 3); needed "
                    "with coordinates."),
        *(Column(name) for name in COUNT_FIELDS),
    )
    export_only = ("incident_id", "year", "time_precision", "date_in_words", "source",
                   "source_scale")

    def prepare(self):
        self.types = {}
        for incident_type in IncidentType.objects.all():
            self.types[incident_type.slug.lower()] = incident_type.pk
            self.types[incident_type.name.lower()] = incident_type.pk
        self.type_names = ", ".join(IncidentType.objects.values_list("name", flat=True)[:30])

    def parse_type(self, value):
        text = one_line(cell_text(value)).lower()
        if not text:
            return None
        try:
            return self.types[text]
        except KeyError:
            known = self.type_names or "none yet (editors add them in the admin)"
            raise CellError(f"“{text[:40]}” is not an incident type of this newsroom; known "
                            f"types: {known}") from None

    def clean_row(self, values, errors):
        cell = self.cell
        title = cell(values, "title", parse_text, errors, max_length=200)
        if title == "":
            errors.append("title: is empty")
        when = cell(values, "occurred", parse_occurred, errors)
        row = {
            "title": title,
            "when": when,
            "type_id": cell(values, "type", self.parse_type, errors),
            "description": cell(values, "description", parse_text, errors, multiline=True),
            "place_name": cell(values, "place_name", parse_text, errors, max_length=200),
            "admin_region": cell(values, "admin_region", parse_text, errors, max_length=200),
            "country": cell(values, "country", parse_country_cell, errors),
            "latitude": cell(values, "latitude", parse_coordinate, errors, 90),
            "longitude": cell(values, "longitude", parse_coordinate, errors, 180),
            "geo_precision": cell(values, "geo_precision", parse_choice, errors,
                                  _GEO_PRECISIONS, _GEO_ALLOWED),
        }
        for name in COUNT_FIELDS:
            row[name] = cell(values, name, parse_count, errors)
        if errors:
            return None
        # The same rules as Incident.clean(), which a form runs on every save.
        if (row["latitude"] is None) != (row["longitude"] is None):
            errors.append("latitude, longitude: give both, or neither")
        if row["latitude"] is not None and not row["geo_precision"]:
            errors.append("geo_precision: say how precise the coordinates are "
                          f"({_GEO_ALLOWED})")
        involved = row["involved"]
        accounted = sum(row[name] or 0 for name in ("detained", "killed", "missing", "at_large"))
        if involved is not None and accounted > involved:
            errors.append(f"involved: detained, killed, missing and at large add up to "
                          f"{accounted}, more than the {involved} people involved")
        return None if errors else row

    def build(self, row) -> Incident:
        when = row.pop("when")
        # What Incident.save() derives, since bulk writes call no save().
        return Incident(case=self.case, created_by=self.user, occurred=when.edtf,
                        occurred_earliest=when.earliest, occurred_latest=when.latest, **row)

    def write(self, report, *, progress=None):
        written = 0
        reason = f"Imported from a file ({report.total_rows} incidents)"
        if connection.vendor == "postgresql":
            now = timezone.now()
            rows = []
            for row in report.records:
                when = row.pop("when")
                # What Incident.save() derives, since a bulk write calls no save().
                row |= {"occurred": when.edtf, "occurred_earliest": when.earliest,
                        "occurred_latest": when.latest, "case_id": self.case.pk,
                        "created_by_id": self.user.pk, "created_at": now, "updated_at": now}
                rows.append(row)
            return len(copy_create_with_history(
                Incident, rows, user=self.user, reason=reason, progress=progress,
                mine={"case_id": self.case.pk, "created_at": now,
                      "created_by_id": self.user.pk}))
        for batch in _batches(report.records):
            objs = [self.build(row) for row in batch]
            bulk_create_with_history(objs, user=self.user, reason=reason)
            written += len(objs)
            if progress is not None:
                progress(len(objs))
        return written


_SOURCE_KINDS = _choice_lookup(SourceKind)
_RELIABILITY = {**_choice_lookup(Reliability), **{v.lower(): v for v in Reliability.values}}
IDENTITY_COLUMNS = ("real_name", "contact", "private_notes")
_url_validator = URLValidator(schemes=["http", "https"])


def parse_url(value) -> str:
    text = one_line(cell_text(value))
    if not text:
        return ""
    if len(text) > 500:
        raise CellError("is longer than 500 characters")
    try:
        _url_validator(text)
    except ValidationError:
        raise CellError(f"“{text[:60]}” is not a web address (https://…)") from None
    return text


class SourceImporter(Importer):
    kind = "sources"
    noun = "source"
    columns = (
        Column("name", required=True, aliases=("codename",),
               help="The public name, or for a protected source a codename."),
        Column("kind", help="outlet, agency, official, document, social_account, person, "
                            "photo_video or other (default outlet)."),
        Column("url", aliases=("address",)),
        Column("language", help="Language code: ru, en, uk…"),
        Column("country"),
        Column("reliability", help="Admiralty grade A–F (default F, cannot be judged)."),
        Column("reliability_note"),
        Column("protected", help="yes or no (default no)."),
        Column("reached_via", help="The name of the source this one is known through: one of "
                                   "the case's sources or another row of the file."),
        Column("real_name", help="Protected sources only, and only from source handlers."),
        Column("contact"),
        Column("private_notes"),
    )
    export_only = ("source_id",)

    def prepare(self):
        self.existing = dict(Source.objects.of_case(self.case).values_list("name", "pk"))
        self.existing_lower = {name.lower() for name in self.existing}
        self.names_in_file: dict[str, int] = {}

    def clean_row(self, values, errors):
        cell = self.cell
        row = {
            "name": cell(values, "name", parse_text, errors, max_length=200),
            "kind": cell(values, "kind", parse_choice, errors, _SOURCE_KINDS,
                         ", ".join(SourceKind.values), default=SourceKind.OUTLET),
            "url": cell(values, "url", parse_url, errors),
            "language": cell(values, "language", lambda v: _code(cell_text(v)), errors),
            "country": cell(values, "country", parse_country_cell, errors),
            "reliability": cell(values, "reliability", parse_choice, errors, _RELIABILITY,
                                "A, B, C, D, E or F", default=Reliability.F),
            "reliability_note": cell(values, "reliability_note", parse_text, errors,
                                     multiline=True),
            "protected": cell(values, "protected", parse_bool, errors),
            "reached_via": cell(values, "reached_via", parse_text, errors, max_length=200),
        }
        identity = {
            "real_name": cell(values, "real_name", parse_text, errors, max_length=200),
            "contact": cell(values, "contact", parse_text, errors, multiline=True),
            "private_notes": cell(values, "private_notes", parse_text, errors, multiline=True),
        }
        name = row["name"]
        if name == "":
            errors.append("name: is empty")
        elif name:
            if name.lower() in self.existing_lower:
                errors.append(f"name: the case already has a source called “{name}”")
            elif name.lower() in self.names_in_file:
                errors.append(f"name: “{name}” is also the name in row "
                              f"{self.names_in_file[name.lower()]}")
        if row["language"] and len(row["language"]) > 16:
            errors.append("language: use a short language code such as ru, en or uk")
        has_identity = any(identity.values())
        if has_identity and not self.access.can_handle_sources:
            errors.append("real_name, contact, private_notes: only the case's source handlers "
                          "may import a protected source's identity; leave these cells empty")
        elif has_identity and row["protected"] is False:
            errors.append("protected: a source with an identity (real name, contact, notes) "
                          "must be protected: put yes")
        if row["protected"] and row["url"] and not self.access.can_handle_sources:
            errors.append("url: a protected source's address may point at who they are; only "
                          "source handlers may give it")
        row["identity"] = identity if has_identity else None
        if name and not errors:
            self.names_in_file[name.lower()] = self.row_number
        return None if errors else row

    def check_file(self, report):
        """`reached_via` names a source of the case or of the file, without a cycle."""
        if report.error_row_count:
            return
        in_file = {row["name"].lower(): row for row in report.records}
        existing = {name.lower(): pk for name, pk in self.existing.items()}
        for row in report.records:
            via = (row["reached_via"] or "").lower()
            if via and via not in in_file and via not in existing:
                report.error_row_count += 1
                report.error_rows.append(RowReport(
                    0, {"name": row["name"], "reached_via": row["reached_via"]},
                    [f"reached_via: there is no source called “{row['reached_via']}” in the "
                     "case or the file"]))
            elif via == row["name"].lower():
                report.error_row_count += 1
                report.error_rows.append(RowReport(
                    0, {"name": row["name"]}, ["reached_via: a source cannot be reached through "
                                               "itself"]))
        if report.error_row_count:
            return
        try:
            self.layers = _layers(report.records, in_file)
        except ValueError as exc:
            report.error_row_count += 1
            report.error_rows.append(RowReport(0, {}, [str(exc)]))

    def display_cells(self, values):
        # The preview never shows an identity: only that one was given.
        cells = super().display_cells(values)
        for name in IDENTITY_COLUMNS:
            if cells.get(name):
                cells[name] = "(given)"
        return cells

    def write(self, report, *, progress=None):
        names_to_pk = {name.lower(): pk for name, pk in self.existing.items()}
        reason = f"Imported from a file ({report.total_rows} sources)"
        identities = []
        for layer in self.layers:
            sources = []
            for row in layer:
                via = (row["reached_via"] or "").lower()
                protected = bool(row["protected"] or row["identity"])
                sources.append(Source(
                    case=self.case, created_by=self.user, name=row["name"], kind=row["kind"],
                    # A protected source's address is part of its identity (below).
                    url="" if protected else row["url"], language=row["language"],
                    country=row["country"], reliability=row["reliability"],
                    reliability_note=row["reliability_note"], protected=protected,
                    reached_via_id=names_to_pk[via] if via else None))
            created = bulk_create_with_history(sources, user=self.user, reason=reason)
            for row, source in zip(layer, created, strict=True):
                names_to_pk[source.name.lower()] = source.pk
                identity = {**(row["identity"] or {}),
                            "address": (row["url"] or "") if source.protected else ""}
                if any(identity.values()):
                    identities.append(SourceIdentity(source_id=source.pk, **identity))
            if progress is not None:
                progress(len(created))
        if identities:
            bulk_create_with_history(identities, user=self.user, reason=reason)
        return sum(len(layer) for layer in self.layers)


def _layers(rows: list[dict], in_file: dict[str, dict]) -> list[list[dict]]:
    """Rows in the order they can be created: a source reached via another row of the file
    comes after it. A cycle is an error."""
    placed: set[str] = set()
    remaining = list(rows)
    layers = []
    while remaining:
        layer = [row for row in remaining
                 if not row["reached_via"] or row["reached_via"].lower() not in in_file
                 or row["reached_via"].lower() in placed]
        if not layer:
            names = ", ".join(sorted(row["name"] for row in remaining)[:10])
            raise ValueError(f"reached_via: these sources are reached through one another in a "
                             f"circle: {names}")
        placed |= {row["name"].lower() for row in layer}
        layer_ids = {id(row) for row in layer}
        remaining = [row for row in remaining if id(row) not in layer_ids]
        layers.append(layer)
    return layers


IMPORTERS: dict[str, type[Importer]] = {
    IncidentImporter.kind: IncidentImporter,
    SourceImporter.kind: SourceImporter,
}


def column_names(kind: str) -> Iterable[str]:
    return [column.name for column in IMPORTERS[kind].columns]


# --- the whole case from our JSON export (cases.exports.case_json) -------------------------

def _ref_key(value):
    """A reference as the file gives it (`incident-12`), or None for a value that cannot be one
    (a list or an object, which could not even be looked up)."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


class CaseJSONImporter:
    """Brings a case exported as JSON into an empty case: incidents, sources, claims,
    citations, tasks and requests for comment, with their links. Everything is checked before
    anything is written, and written in one transaction.

    Claims start unverified: a status changes only through the verification workflow
    (cases/workflow.py), by this case's editors; the exported verification history stays in
    the file for the reader. Assignees and askers are kept when they are members of this case.
    Identities are never in the file; protected sources come in under their codename."""

    kind = "case"
    noun = "record"

    def __init__(self, access: CaseAccess, user):
        self.access, self.case, self.user = access, access.case, user

    # The file's lists of records, and how a record of each is named in errors.
    RECORD_LISTS = {"incidents": "incident", "sources": "source", "claims": "claim",
                    "citations": "citation", "tasks": "task",
                    "comment_requests": "request for comment"}

    @classmethod
    def load(cls, data: bytes) -> dict:
        """The export's document, read strictly (cases/safejson.py), or FileRefused."""
        from .exports import FORMAT_NAME, FORMAT_VERSION

        try:
            document = safejson.loads(data)
        except safejson.UnsafeJSON as exc:
            raise FileRefused(_("The file cannot be read: %(where)s%(problem)s")
                              % {"where": cls._where(exc.path), "problem": exc.message},
                              code=exc.code) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise FileRefused("This JSON file is not a Casedesk case export.",
                              code="not_case_export")
        if document.get("version") != FORMAT_VERSION:
            raise FileRefused(f"This case export has version {str(document.get('version'))[:20]}; "
                              f"this Casedesk reads version {FORMAT_VERSION}.", code="version")
        for name in cls.RECORD_LISTS:
            value = document.setdefault(name, [])
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise FileRefused(f"“{name}” in the file is not a list of records.",
                                  code="not_a_list")
        limit = max_rows()
        if sum(len(document[name]) for name in cls.RECORD_LISTS) > limit:
            raise FileRefused(
                _("The file has more than %(limit)s records: it cannot be imported at once.")
                % {"limit": f"{limit:,}"}, code="too_many_rows")
        return document

    @classmethod
    def _where(cls, path: str) -> str:
        """Where in the file a JSON path points, as the errors name records: `claims[3].title`
        is "claim #4, title: "."""
        match = re.fullmatch(r"(\w+)\[(\d+)\]\.?(.*)", path)
        if match and match.group(1) in cls.RECORD_LISTS:
            noun, number, rest = cls.RECORD_LISTS[match.group(1)], int(match.group(2)) + 1, \
                match.group(3)
            return f"{noun} #{number}, {rest}: " if rest else f"{noun} #{number}: "
        return f"{path}: " if path else ""

    def _table(self, importer_class, records, refs_to_names=None) -> Table:
        names = [column.name for column in importer_class.columns]
        rows = []
        for record in records:
            row = [record.get(name) for name in names]
            if refs_to_names is not None:  # sources: reached_via names the other source
                index = names.index("reached_via")
                row[index] = refs_to_names.get(_ref_key(record.get("reached_via")), record.get(
                    "reached_via"))
            rows.append(row)
        return Table(names, rows, first_row=1)

    def _importer(self, importer_class) -> Importer:
        importer = importer_class(self.access, self.user)
        # Every record of the file becomes a record or an error: a record without a value is
        # refused (its required fields are empty), not skipped as a blank spreadsheet row.
        importer.skip_blank_rows = False
        return importer

    def check(self, document: dict) -> ImportReport:
        report = ImportReport(kind=self.kind)
        from .models import Claim, CommentRequest, Task

        if (Incident.objects.of_case(self.case).exists()
                or Source.objects.of_case(self.case).exists()
                or Claim.objects.of_case(self.case).exists()
                or Task.objects.of_case(self.case).exists()
                or CommentRequest.objects.of_case(self.case).exists()):
            raise FileRefused("A whole case is imported into an empty case only: create a new "
                              "case and import the file there.", code="case_not_empty")
        self.document = document

        incidents = self._importer(IncidentImporter)
        self.incident_report = incidents.check(self._table(IncidentImporter,
                                                           document["incidents"]))
        self._merge(report, "incident", self.incident_report)
        sources = self._importer(SourceImporter)
        source_refs = {_ref_key(r.get("ref")): r.get("name") for r in document["sources"]}
        self.source_report = sources.check(self._table(SourceImporter, document["sources"],
                                                       source_refs))
        self.source_importer = sources
        self._merge(report, "source", self.source_report)

        self.incident_refs = [_ref_key(r.get("ref")) for r in document["incidents"]]
        self.source_refs = [_ref_key(r.get("ref")) for r in document["sources"]]
        known_incidents, known_sources = set(self.incident_refs), set(self.source_refs)
        self.claims = self._check_records(report, "claim", document["claims"],
                                          self._clean_claim, incidents=known_incidents)
        known_claims = {_ref_key(r.get("ref")) for r in document["claims"]}
        members = dict(self.case.memberships.values_list("user__username", "user_id"))
        context = {"incidents": known_incidents, "sources": known_sources,
                   "claims": known_claims, "members": members}
        self.citations = self._check_records(report, "citation", document["citations"],
                                             self._clean_citation, **context)
        self.tasks = self._check_records(report, "task", document["tasks"], self._clean_task,
                                         **context)
        self.requests = self._check_records(report, "request for comment",
                                            document["comment_requests"],
                                            self._clean_request, **context)
        report.total_rows = sum(len(document[name]) for name in (
            "incidents", "sources", "claims", "citations", "tasks", "comment_requests"))
        verified = sum(1 for claim in document["claims"]
                       if claim.get("status") not in (None, "unverified"))
        if verified:
            report.notes.append(
                f"{verified} claim(s) had a verification status in the exported case. Imported "
                "claims start unverified: this case's editors decide verdicts through the "
                "verification workflow (the exported history stays in the file).")
        report.columns = ["incidents", "sources", "claims", "citations", "tasks",
                          "comment_requests"]
        return report

    @staticmethod
    def _merge(report, noun, part):
        report.error_row_count += part.error_row_count
        for row in part.error_rows:
            row.errors = [_row_error(e, f"{noun} #{row.number}: " if row.number else f"{noun}: ")
                          for e in row.errors]
            report.error_rows.append(row)

    def _check_records(self, report, noun, records, clean, **context) -> list:
        cleaned = []
        for number, record in enumerate(records, start=1):
            errors: list[str] = []
            try:
                values = clean(record, errors, **context)
            except CellError as exc:
                errors.append(RowError(str(exc), exc.code))
            if errors:
                report.error_row_count += 1
                if len(report.error_rows) < MAX_ERROR_ROWS_SHOWN:
                    shown = [(k, v) for k, v in record.items() if not isinstance(v, list | dict)]
                    report.error_rows.append(RowReport(
                        number, {k[:40]: cell_text(v)[:200] for k, v in shown[:20]},
                        [_row_error(e, f"{noun} #{number}: ") for e in errors]))
            else:
                cleaned.append(values)
        return cleaned

    # Each _clean_* returns the model's field values, with references still as refs.

    @staticmethod
    def _ref(record, key, known, errors, *, required=False):
        ref = record.get(key)
        if ref in (None, ""):
            if required:
                errors.append(f"{key}: is missing")
            return None
        if _ref_key(ref) is None:
            errors.append(f"{key}: is not a reference to a record of the file")
            return None
        if ref not in known:
            errors.append(f"{key}: “{cell_text(ref)[:40]}” is not a record of the file")
            return None
        return ref

    def _clean_claim(self, record, errors, *, incidents):
        from .enums import Credibility, FigureQualifier

        cell = Importer.cell
        statement = cell(record, "statement", parse_text, errors, multiline=True)
        if statement == "":
            errors.append("statement: is empty")
        figure = record.get("figure_value")
        figure_value = None
        if figure not in (None, ""):
            try:
                figure_value = Decimal(str(figure))
                if not figure_value.is_finite() or figure_value < 0 or abs(
                        figure_value) >= Decimal("1e12"):
                    raise InvalidOperation
            except InvalidOperation:
                errors.append(f"figure_value: “{cell_text(figure)[:40]}” is not a figure")
                figure_value = None
        unit = cell(record, "figure_unit", parse_text, errors, max_length=100)
        if figure_value is not None and not unit:
            errors.append("figure_unit: say what the figure counts")
        return {
            "ref": _ref_key(record.get("ref")),
            "incident": self._ref(record, "incident", incidents, errors),
            "statement": statement,
            "figure_value": figure_value,
            "figure_unit": unit or "",
            "figure_qualifier": cell(record, "figure_qualifier", parse_choice, errors,
                                     _choice_lookup(FigureQualifier),
                                     ", ".join(FigureQualifier.values),
                                     default=FigureQualifier.EXACTLY),
            "credibility": cell(record, "credibility", parse_choice, errors,
                                _choice_lookup(Credibility), "1 to 6",
                                default=Credibility.CANNOT_BE_JUDGED),
        }

    def _clean_citation(self, record, errors, *, incidents, sources, claims, members):
        from .enums import CitationRelation

        cell = Importer.cell
        claim = self._ref(record, "claim", claims, errors)
        incident = self._ref(record, "incident", incidents, errors)
        if (claim is None) == (incident is None) and not errors:
            errors.append("a citation is about one claim or one incident")
        source = self._ref(record, "source", sources, errors, required=True)
        via = self._ref(record, "via", sources, errors)
        if via is not None and via == source:
            errors.append("via: a source cannot be relayed through itself")
        return {
            "claim": claim, "incident": incident, "source": source, "via": via,
            "relation": cell(record, "relation", parse_choice, errors,
                             _choice_lookup(CitationRelation), ", ".join(CitationRelation.values),
                             default=CitationRelation.REPORTS),
            "quote": cell(record, "quote", parse_text, errors, multiline=True),
            "url": cell(record, "url", parse_url, errors),
            "published_at": cell(record, "published_at", parse_datetime, errors),
            "accessed_at": cell(record, "accessed_at", parse_datetime, errors),
            "language": cell(record, "language", lambda v: _code(cell_text(v))[:16], errors),
        }

    def _clean_task(self, record, errors, *, incidents, sources, claims, members):
        from .enums import TaskState

        cell = Importer.cell
        title = cell(record, "title", parse_text, errors, max_length=200)
        if title == "":
            errors.append("title: is empty")
        return {
            "title": title, "notes": cell(record, "notes", parse_text, errors, multiline=True),
            "state": cell(record, "state", parse_choice, errors, _choice_lookup(TaskState),
                          ", ".join(TaskState.values), default=TaskState.OPEN),
            "claim": self._ref(record, "claim", claims, errors),
            "incident": self._ref(record, "incident", incidents, errors),
            "assignee_id": members.get(_ref_key(record.get("assignee"))),
            "due_on": cell(record, "due_on", parse_day, errors),
        }

    def _clean_request(self, record, errors, *, incidents, sources, claims, members):
        from .enums import CommentChannel, CommentOutcome

        cell = Importer.cell
        party_source = self._ref(record, "party_source", sources, errors)
        party_name = cell(record, "party_name", parse_text, errors, max_length=200)
        if party_source is None and not party_name and not errors:
            errors.append("party_name: say who was asked")
        asked_at = cell(record, "asked_at", parse_datetime, errors)
        if asked_at is None and not errors:
            errors.append("asked_at: is missing")
        deadline = cell(record, "deadline", parse_datetime, errors)
        if asked_at and deadline and deadline < asked_at:
            errors.append("deadline: is before the request was made")
        outcome = cell(record, "outcome", parse_choice, errors, _choice_lookup(CommentOutcome),
                       ", ".join(CommentOutcome.values), default=CommentOutcome.PENDING)
        reply = cell(record, "reply_summary", parse_text, errors, multiline=True)
        if outcome == CommentOutcome.REPLIED and not reply:
            errors.append("reply_summary: summarise the reply")
        return {
            "incident": self._ref(record, "incident", incidents, errors),
            "party_source": party_source, "party_name": party_name or "",
            "asked_by_id": members.get(_ref_key(record.get("asked_by"))),
            "asked_at": asked_at, "deadline": deadline,
            "channel": cell(record, "channel", parse_choice, errors,
                            _choice_lookup(CommentChannel), ", ".join(CommentChannel.values),
                            default=CommentChannel.EMAIL),
            "outcome": outcome, "reply_summary": reply or "",
        }

    def write(self, report, *, progress=None) -> int:
        from .models import Citation, Claim, CommentRequest, Task

        user, case = self.user, self.case
        reason = "Imported from a case export (JSON)"
        incident_importer = IncidentImporter(self.access, user)
        incidents = [incident_importer.build(row) for row in self.incident_report.records]
        created = bulk_create_with_history(incidents, user=user, reason=reason)
        incident_pk = dict(zip(self.incident_refs, (i.pk for i in created), strict=True))
        self.source_importer.write(self.source_report)
        names_to_pk = dict(Source.objects.of_case(case).values_list("name", "pk"))
        # Each source record became one checked row, in file order, under its cleaned name.
        source_pk = {ref: names_to_pk[row["name"]] for ref, row in
                     zip(self.source_refs, self.source_report.records, strict=True)}

        claims = []
        for values in self.claims:
            values = dict(values)
            values.pop("ref")  # matched to its new id below, in file order
            incident = values.pop("incident")
            claims.append(Claim(case=case, created_by=user, incident_id=incident_pk.get(incident),
                                **values))
        created = bulk_create_with_history(claims, user=user, reason=reason)
        claim_pk = dict(zip((c["ref"] for c in self.claims), (c.pk for c in created),
                            strict=True))
        bulk_create_with_history([
            Citation(created_by=user, claim_id=claim_pk.get(c["claim"]),
                     incident_id=incident_pk.get(c["incident"]), source_id=source_pk[c["source"]],
                     via_id=source_pk.get(c["via"]), relation=c["relation"], quote=c["quote"],
                     url=c["url"], published_at=c["published_at"], accessed_at=c["accessed_at"],
                     language=c["language"])
            for c in self.citations], user=user, reason=reason)
        bulk_create_with_history([
            Task(case=case, created_by=user, claim_id=claim_pk.get(t["claim"]),
                 incident_id=incident_pk.get(t["incident"]),
                 **{k: v for k, v in t.items() if k not in ("claim", "incident")})
            for t in self.tasks], user=user, reason=reason)
        bulk_create_with_history([
            CommentRequest(case=case, created_by=user, incident_id=incident_pk.get(r["incident"]),
                           party_source_id=source_pk.get(r["party_source"]),
                           **{k: v for k, v in r.items() if k not in ("incident", "party_source")})
            for r in self.requests], user=user, reason=reason)
        return report.total_rows

    def run(self, data: bytes) -> ImportReport:
        with transaction.atomic():
            report = self.check(self.load(data))
            if report.ok:
                report.written = self.write(report)
        return report


def parse_datetime(value) -> dt.datetime | None:
    from django.utils.dateparse import parse_datetime as django_parse_datetime

    text = cell_text(value).strip()
    if not text:
        return None
    try:
        parsed = django_parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise CellError(f"“{text[:40]}” is not a date and time (2024-05-09T14:30:00+00:00)")
    if parsed.tzinfo is None:
        raise CellError(f"“{text[:40]}” has no time zone")
    _within_bounds(parsed, timebounds.validate_datetime_in_range)
    return parsed


def _within_bounds(value, validator) -> None:
    """What the database can store and read back (cases/timebounds.py): an offset within
    ±15:59, a year before 10000 in every time zone."""
    try:
        validator(value)
    except ValidationError as exc:
        raise CellError(" ".join(exc.messages), code=exc.code) from None


def parse_day(value) -> dt.date | None:
    text = cell_text(value).strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise CellError(f"“{text[:40]}” is not a day (2024-05-09)") from None
    _within_bounds(day, timebounds.validate_date_in_range)
    return day


# --- the browser's upload, kept between the preview and the confirmation ---------------------

STAGING_SALT = "casedesk.imports.staging"
STAGING_MAX_AGE = 60 * 60  # seconds a preview can be confirmed after the upload


def staging_dir():
    import tempfile
    from pathlib import Path

    folder = Path(getattr(settings, "CASEDESK_IMPORT_STAGING_DIR", None)
                  or Path(tempfile.gettempdir()) / "casedesk-import-staging")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def stage_upload(data: bytes, *, case, user, kind: str, name: str) -> str:
    """Keep an uploaded file on the server until its preview is confirmed, and return the
    signed token that names it. The file is encrypted (it may hold a source's identity) and
    is good for STAGING_MAX_AGE seconds, for this user, case and kind only: the confirmation
    reads the file from here, never from the browser."""
    import os
    import uuid

    from django.core import signing

    from .crypto import multi_fernet

    _remove_expired_staging()
    file_id = uuid.uuid4().hex
    path = staging_dir() / file_id
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(multi_fernet().encrypt(data))
    return signing.dumps({"f": file_id, "c": case.pk, "u": user.pk, "k": kind, "n": name[:200]},
                         salt=STAGING_SALT, compress=True)


class StagingExpired(Exception):
    pass


def read_staged(token: str, *, case, user) -> tuple[bytes, dict]:
    """The staged file and its description, or StagingExpired (a forged, foreign or old
    token, or a file already imported)."""
    from cryptography.fernet import InvalidToken
    from django.core import signing

    from .crypto import multi_fernet

    try:
        info = signing.loads(token or "", salt=STAGING_SALT, max_age=STAGING_MAX_AGE)
    except signing.BadSignature:
        raise StagingExpired() from None
    if (not isinstance(info, dict) or info.get("c") != case.pk or info.get("u") != user.pk
            or not re.fullmatch(r"[0-9a-f]{32}", str(info.get("f")))):
        raise StagingExpired()
    path = staging_dir() / info["f"]
    try:
        data = multi_fernet().decrypt(path.read_bytes(), ttl=STAGING_MAX_AGE)
    except (OSError, InvalidToken):
        raise StagingExpired() from None
    return data, info


def discard_staged(token_info: dict) -> None:
    path = staging_dir() / token_info["f"]
    path.unlink(missing_ok=True)


def _remove_expired_staging() -> None:
    import time

    cutoff = time.time() - STAGING_MAX_AGE
    for path in staging_dir().iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def importer_for(kind: str, access: CaseAccess, user):
    if kind == CaseJSONImporter.kind:
        return CaseJSONImporter(access, user)
    return IMPORTERS[kind](access, user)


def check_file(kind: str, access: CaseAccess, user, data: bytes, name: str) -> ImportReport:
    """Check a file without writing anything (the preview)."""
    importer = importer_for(kind, access, user)
    if kind == CaseJSONImporter.kind:
        return importer.check(importer.load(data))
    return importer.check(read_table(data, name))


def import_file(kind: str, access: CaseAccess, user, data: bytes, name: str, *,
                progress: Progress | None = None,
                write_progress: Progress | None = None) -> ImportReport:
    """Check the file again and, when every row is valid, write it all in one transaction."""
    importer = importer_for(kind, access, user)
    if kind == CaseJSONImporter.kind:
        return importer.run(data)
    return importer.run(read_table(data, name), progress=progress, write_progress=write_progress)
