"""Reading an uploaded CSV or XLSX file into a table of cells (`read_table`), or refusing it as
a whole with a message and a code (FileRefused).

CSV is read as UTF-8 with `,` `;` or tab between cells; XLSX is the first sheet of the
workbook, its parts read by openpyxl. Rows and cells are counted as they are read, and a file
is refused at the first over the limits (limits.py), never read whole first; a workbook is
checked for a zip bomb before anything in it is unpacked. openpyxl is imported where a
workbook is read, as in cases/exports.py: most processes never read one."""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse as defused_iterparse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .limits import (
    RATIO_CHECKED_FROM_BYTES,
    grouped,
    max_cells,
    max_compression_ratio,
    max_rows,
    max_uncompressed_bytes,
    too_many_cells,
    too_many_rows,
)
from .refusals import FileRefused


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
        raise FileRefused(_("The file is named .xlsx but is not an Excel workbook."),
                          code="not_xlsx")
    if lowered.endswith(".xls"):
        raise FileRefused(_("Old Excel files (.xls) cannot be read: save the sheet as .xlsx "
                            "or as CSV (UTF-8)."), code="xls")
    return "csv"


def read_table(data: bytes, name: str = "") -> Table:
    """The file's table, or FileRefused saying what is wrong with it. Rows and cells are
    counted as they are read, and reading stops at the first one over the limit."""
    if not data:
        raise FileRefused(_("The file is empty."), code="empty")
    if detect_format(name, data[:4]) == "xlsx":
        return _read_xlsx(data)
    return _read_csv(data)


def _read_csv(data: bytes) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            _("The file is not UTF-8 text (byte %(position)d cannot be read). In Excel or "
              "LibreOffice choose “CSV UTF-8” when saving.") % {"position": exc.start + 1},
            code="not_utf8") from None
    if "\x00" in text:
        raise FileRefused(_("The file contains NUL bytes: it is not a CSV file."), code="nul")
    line_end = text.find("\n")
    first_line = text if line_end < 0 else text[:line_end]
    delimiter = max(",;\t", key=first_line.count) if first_line else ","
    row_limit, cell_limit = max_rows(), max_cells()
    lines = _BoundedLines(text, delimiter, cell_limit)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FileRefused(_("The file is empty."), code="empty")
        cells = len(header)
        rows = []
        for row in reader:
            lines.row_read()
            cells += len(row)
            if cells > cell_limit:
                raise too_many_cells(cell_limit)
            rows.append(row)
            if len(rows) > row_limit:
                raise too_many_rows(row_limit)
    except csv.Error as exc:
        raise FileRefused(_("The CSV cannot be read near line %(line)d: %(problem)s.")
                          % {"line": reader.line_num, "problem": exc},
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
            raise too_many_cells(self.cell_limit)
        return line

    def row_read(self) -> None:
        self.pending = 0


# What openpyxl, zipfile, zlib and the XML parser raise on a damaged or hostile workbook (a
# `<fill/>` without a pattern is a TypeError, a bad cell reference a ValueError, a missing part
# a KeyError…). Caught only around the library's own calls, so that our bugs still surface.
_UNREADABLE_WORKBOOK = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError,
    RuntimeError, ElementTree.ParseError, OSError, KeyError, IndexError, TypeError, ValueError,
    OverflowError, DefusedXmlException,
)
_WORKBOOK_DAMAGED = _("The workbook is damaged and cannot be read.")
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
        raise FileRefused(_("The file cannot be opened as an Excel workbook (.xlsx)."),
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
        raise FileRefused(_("The file cannot be opened as an Excel workbook (.xlsx)."),
                          code="not_xlsx") from exc
    if sheet_part is None:
        raise FileRefused(_("The workbook has no sheet."), code="no_sheet")
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
                    raise too_many_cells(limit)
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
        if (part.file_size > RATIO_CHECKED_FROM_BYTES
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
    # defusedxml's parser: a workbook's parts never declare a DTD, so one that does (entity
    # expansion, external entities) is refused as damaged before any entity is read.
    for event, element in defused_iterparse(source, events=("start", "end"), forbid_dtd=True):
        if event == "start":
            elements += 1
            in_record = 1 if len(stack) <= record_depth else in_record + 1
            if elements > element_limit or in_record > _MAX_ELEMENTS_IN_A_RECORD:
                raise too_many_cells(cell_limit)
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
            ngettext("The sheet says it has %(rows)s rows, more than the %(limit)s a file may "
                     "have: delete the empty rows below the data, or split the file.",
                     "The sheet says it has %(rows)s rows, more than the %(limit)s a file may "
                     "have: delete the empty rows below the data, or split the file.", rows)
            % {"rows": grouped(rows), "limit": grouped(max_rows())}, code="too_many_rows")
    if rows is not None and columns is not None and rows * columns > max_cells():
        raise FileRefused(
            _("The sheet says it has %(rows)s rows of %(columns)s columns, more than the "
              "%(limit)s cells a file may have: delete the empty rows and columns around the "
              "data, or split the file.")
            % {"rows": grouped(rows), "columns": grouped(columns),
               "limit": grouped(max_cells())},
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
            raise too_many_rows(row_limit)
        cells += len(row_cells)
        if cells > cell_limit:
            raise too_many_cells(cell_limit)
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
        raise FileRefused(_("The first sheet is empty."), code="empty")
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

