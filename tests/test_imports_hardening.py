"""Imports that cannot be broken (issue 11 §2): damaged workbooks, zip bombs, sheets and CSV
files over the row and cell limits (refused as soon as they pass them, before being read
whole), JSON case files with lone surrogates, odd offsets or deep nesting. Every refusal has a
code, writes nothing, and answers no 500."""

import copy
import io
import json
import re
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cases import imports
from cases.access import get_case_for_user
from cases.exports import FORMAT_NAME, FORMAT_VERSION
from cases.models import Citation, Claim, CommentRequest, Incident, IncidentLink, Source, Task

from .factories import CaseFactory, MembershipFactory

pytestmark = pytest.mark.django_db

SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@pytest.fixture(autouse=True)
def _staging_in_tmp(settings, tmp_path):
    settings.CASEDESK_IMPORT_STAGING_DIR = tmp_path / "staging"


# --- building files -------------------------------------------------------------------------

def _base_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["title", "occurred", "place_name"])
    sheet.append(["Raid", "2024-05-09", "Belgorod"])
    sheet.append(["Search", "2024-05", "Kursk"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


BASE_WORKBOOK = _base_workbook()
BASE_PARTS = {info.filename: zipfile.ZipFile(io.BytesIO(BASE_WORKBOOK)).read(info.filename)
              for info in zipfile.ZipFile(io.BytesIO(BASE_WORKBOOK)).infolist()}
SHEET_PART = "xl/worksheets/sheet1.xml"


def _workbook(replaced: dict[str, bytes]) -> bytes:
    """The base workbook with some of its parts (by path) replaced."""
    parts = {**BASE_PARTS, **replaced}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_sheet(sheet: bytes) -> bytes:
    return _workbook({SHEET_PART: sheet})


def _sheet(rows: str, *, dimension: str | None = None, after: str = "") -> bytes:
    """A first sheet holding `rows` (XML), with a declared size or none, and `after` its
    data (used to put malformed XML where only a reader that reads too far gets)."""
    head = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{SHEET_NS}">{head}'
            f"<sheetData>{rows}{after}</sheetData></worksheet>").encode()


def _row(number: int, *values) -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
    return f'<row r="{number}">{cells}</row>'


def _incident_rows(count: int, start: int = 2) -> str:
    return "".join(_row(n, f"Raid {n}", "2024-05-09") for n in range(start, start + count))


# Where a reader that does not stop at the limit would fail: an unclosed element.
BROKEN_XML = '<row r="999999"><c><v>1</v></row>'


def _import(kind, case, user, data, name):
    return imports.import_file(kind, get_case_for_user(user, case.slug), user, data, name)


def _refusal(kind, case, user, data, name) -> imports.FileRefused:
    with pytest.raises(imports.FileRefused) as refused:
        _import(kind, case, user, data, name)
    assert Incident.objects.count() == Source.objects.count() == 0
    return refused.value


def _upload(client, case, data, *, kind="incidents", name="incidents.xlsx"):
    return client.post(reverse("cases:import_upload", args=[case.slug]),
                       {"kind": kind, "file": SimpleUploadedFile(name, data)})


def _form_error_codes(response) -> list[str]:
    return [error.code for error in response.context["form"].errors.as_data()["file"]]


# --- damaged workbooks ----------------------------------------------------------------------

EMPTY_FILL_STYLES = BASE_PARTS["xl/styles.xml"].replace(b"<fill><patternFill /></fill>",
                                                        b"<fill/>", 1)


def test_xlsx_with_an_empty_fill_refused_as_damaged_beside_the_field(client, case, reporter):
    assert EMPTY_FILL_STYLES != BASE_PARTS["xl/styles.xml"]
    data = _workbook({"xl/styles.xml": EMPTY_FILL_STYLES})
    assert _refusal("incidents", case, reporter, data, "x.xlsx").code == "unreadable_xlsx"

    client.force_login(reporter)
    response = _upload(client, case, data)
    assert response.status_code == 400
    assert _form_error_codes(response) == ["unreadable_xlsx"]
    assert Incident.objects.count() == 0


_TAG = re.compile(rb"<([A-Za-z:]+)([^<>]*?)(/?)>")


@st.composite
def damaged_workbooks(draw):
    """The base workbook with one of its XML parts damaged the way files in the wild are:
    an element emptied or removed, an attribute given an odd value, a part cut short."""
    name = draw(st.sampled_from(sorted(n for n in BASE_PARTS if n.endswith((".xml", ".rels")))))
    xml = BASE_PARTS[name]
    tags = list(_TAG.finditer(xml))
    tag = tags[draw(st.integers(0, len(tags) - 1))]
    how = draw(st.sampled_from(["no_attributes", "attribute", "self_closed", "removed", "cut"]))
    if how == "no_attributes":
        xml = xml[:tag.start()] + b"<" + tag.group(1) + tag.group(3) + b">" + xml[tag.end():]
    elif how == "attribute":
        values = list(re.finditer(rb'="([^"]*)"', tag.group(2)))
        if values:
            value = values[draw(st.integers(0, len(values) - 1))]
            odd = draw(st.sampled_from([b"", b"-1", b"x", b"1e308", b"99999999999999999999",
                                        b"XFD1048577", b"A0", b"\xc3\xa9", b"_xD800_"]))
            start, end = tag.start(2) + value.start(1), tag.start(2) + value.end(1)
            xml = xml[:start] + odd + xml[end:]
    elif how == "self_closed" and not tag.group(3):
        xml = xml[:tag.end() - 1] + b"/>" + xml[tag.end():]
    elif how == "removed":
        xml = xml[:tag.start()] + xml[tag.end():]
    else:
        xml = xml[:draw(st.integers(0, len(xml)))]
    return _workbook({name: xml})


def _sheet_with_text(raw: bytes) -> bytes:
    """A workbook whose second row's title holds `raw` bytes as written in the sheet's XML."""
    return _with_sheet(_sheet(_row(1, "title", "occurred") + _row(2, "RAW", "2024")).replace(
        b"RAW", raw))


@given(damaged_workbooks())
@example(_workbook({"xl/styles.xml": EMPTY_FILL_STYLES}))
# Text no database column can hold cannot come from a sheet: XML refuses it.
@example(_sheet_with_text(b"\xed\xa0\x80"))  # a lone surrogate, encoded
@example(_sheet_with_text(b"&#xD800;"))
@example(_sheet_with_text(b"&#0;"))
@example(BASE_WORKBOOK[:len(BASE_WORKBOOK) // 2])
@example(BASE_WORKBOOK.replace(b"PK\x01\x02", b"PK\x01\x03"))
# A damaged declared size is a size like any other: refused by the limits, before any row.
@example(_with_sheet(_sheet(_row(1, "title", "occurred"), dimension="XFD1048577")))
@settings(max_examples=150, deadline=None)
def test_xlsx_damaged_anywhere_read_or_refused_never_crashes(data):
    try:
        table = imports.read_table(data, "x.xlsx")
    except imports.FileRefused as refused:
        assert refused.code in ("unreadable_xlsx", "not_xlsx", "no_sheet", "empty",
                                "too_many_rows", "too_many_cells")
    else:
        assert isinstance(table.header, list) and isinstance(table.rows, list)


# --- zip bombs and declared sizes -----------------------------------------------------------

def test_xlsx_compressed_like_a_zip_bomb_refused_before_unpacking(case, reporter):
    # Megabytes of one repeated row compress a thousandfold; no spreadsheet does. The XML
    # after it is broken: unpacking and parsing it would end in a different refusal.
    bomb = _sheet(_row(2, "x", "2024") * 60_000, after=BROKEN_XML)
    part = zipfile.ZipFile(io.BytesIO(_with_sheet(bomb))).getinfo(
        SHEET_PART)
    assert part.file_size > 100 * part.compress_size

    refused = _refusal("incidents", case, reporter, _with_sheet(bomb),
                       "x.xlsx")
    assert refused.code == "zip_bomb"


def test_xlsx_unpacking_over_the_limit_refused(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_UNCOMPRESSED_BYTES = 5_000
    assert sum(len(part) for part in BASE_PARTS.values()) > 5_000
    assert _refusal("incidents", case, reporter, BASE_WORKBOOK,
                    "x.xlsx").code == "too_large_unpacked"


@pytest.mark.parametrize(("dimension", "code"), [
    ("A1:XFD3000", "too_many_cells"),  # the finding: 3,000 rows of 16,384 columns
    ("A1:C20000", "too_many_rows"),
])
def test_xlsx_declared_size_over_the_limits_refused_before_any_row(case, reporter, settings,
                                                                   dimension, code):
    settings.CASEDESK_IMPORT_MAX_ROWS = 10_000
    settings.CASEDESK_IMPORT_MAX_CELLS = 100_000
    # The very first row is broken: a reader that reads any row fails differently.
    sheet = _sheet("", dimension=dimension, after=BROKEN_XML)

    refused = _refusal("incidents", case, reporter, _with_sheet(sheet),
                       "x.xlsx")
    assert refused.code == code


# --- rows and cells counted as they are read ------------------------------------------------

def test_xlsx_over_the_row_limit_refused_without_reading_the_rest(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 50
    # No declared size (as in openpyxl's write-only files): 51 rows, then broken XML that
    # only a reader going past the 51st row would reach.
    sheet = _sheet(_row(1, "title", "occurred") + _incident_rows(51), after=BROKEN_XML)

    refused = _refusal("incidents", case, reporter, _with_sheet(sheet),
                       "x.xlsx")
    assert refused.code == "too_many_rows"
    assert "50" in str(refused)


def test_row_limit_refusal_groups_digits_as_the_readers_language_does(case, reporter,
                                                                      settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 1_500
    data = ("title,occurred\n" + "Raid,2024\n" * 1_501).encode()
    english = _refusal("incidents", case, reporter, data, "x.csv")
    with translation.override("ru"):
        russian = _refusal("incidents", case, reporter, data, "x.csv")
    assert english.code == russian.code == "too_many_rows"
    assert "more than 1,500 rows" in str(english)
    # Django's own Russian formats group with a no-break space (no catalogue of ours needed).
    assert "1\xa0500" in str(russian)


def test_xlsx_row_numbered_far_below_refused_at_once(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 50
    sheet = _sheet(_row(1, "title", "occurred") + _row(3_000_000, "Raid", "2024"),
                   after=BROKEN_XML)
    refused = _refusal("incidents", case, reporter, _with_sheet(sheet),
                       "x.xlsx")
    assert refused.code == "too_many_rows"


def test_xlsx_over_the_cell_limit_refused_without_reading_the_rest(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_CELLS = 1_000
    wide = "".join(_row(n, f"Raid {n}", "2024", *(["x"] * 98)) for n in range(2, 13))
    sheet = _sheet(_row(1, "title", "occurred") + wide, after=BROKEN_XML)

    refused = _refusal("incidents", case, reporter, _with_sheet(sheet),
                       "x.xlsx")
    assert refused.code == "too_many_cells"


def test_xlsx_within_the_limits_without_declared_size_imports_every_row(case, reporter,
                                                                        settings):
    # openpyxl's write-only mode (our exports) declares no size: every row is still read.
    settings.CASEDESK_IMPORT_MAX_ROWS = 50
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["title", "occurred"])
    for n in range(50):
        sheet.append([f"Raid {n}", "2024-05"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert b"<dimension" not in zipfile.ZipFile(buffer).read(SHEET_PART)

    report = _import("incidents", case, reporter, buffer.getvalue(), "x.xlsx")

    assert report.ok and report.written == 50


def test_xlsx_rows_missing_from_the_sheet_keep_the_row_numbers(case, reporter):
    sheet = _sheet(_row(1, "title", "occurred") + _row(2, "Raid", "2024")
                   + _row(7, "Search", "2025-02-29"))
    report = _import("incidents", case, reporter, _with_sheet(sheet),
                     "x.xlsx")
    assert [row.number for row in report.error_rows] == [7]
    assert Incident.objects.count() == 0


@pytest.mark.parametrize("where", ["between rows", "inside a cell"])
def test_xlsx_elements_that_are_no_cell_count_too(case, reporter, settings, where):
    # A sheet can pile up XML elements that are neither rows nor cells (the reader would
    # otherwise keep them all in memory, and spend its time on them uncounted).
    settings.CASEDESK_IMPORT_MAX_CELLS = 100
    pile = "<x/>" * 110_000
    if where == "between rows":
        rows = _row(1, "title", "occurred") + pile + _row(2, "Raid", "2024")
    else:
        rows = _row(1, "title", "occurred") + f'<row r="2"><c><v>1</v>{pile}</c></row>'
    refused = _refusal("incidents", case, reporter, _with_sheet(_sheet(rows, after=BROKEN_XML)),
                       "x.xlsx")
    assert refused.code == "too_many_cells"


def _workbook_with_shared_strings(rows: list[list[str]], *, unused: int = 0,
                                  after: str = "") -> bytes:
    """A workbook of `rows` whose texts are shared strings, as Excel writes them (and
    `unused` more shared strings no cell refers to)."""
    strings = sorted({cell for row in rows for cell in row}) + [
        f"unused {n}" for n in range(unused)]
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    sheet_rows = "".join(
        f'<row r="{number}">'
        + "".join(f'<c t="s"><v>{strings.index(cell)}</v></c>' for cell in row) + "</row>"
        for number, row in enumerate(rows, start=1))
    content_types = BASE_PARTS["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                     b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
                     b"</Types>")
    return _workbook({
        "[Content_Types].xml": content_types, SHEET_PART: _sheet(sheet_rows, after=after),
        "xl/sharedStrings.xml": f'<sst xmlns="{SHEET_NS}">{shared}</sst>'.encode()})


def test_xlsx_shared_strings_are_read(case, reporter):
    data = _workbook_with_shared_strings([["title", "occurred"], ["Raid", "2024-05"],
                                          ["Search", "2024-05"]])
    report = _import("incidents", case, reporter, data, "x.xlsx")
    assert report.ok and sorted(Incident.objects.values_list("title", "occurred")) == [
        ("Raid", "2024-05"), ("Search", "2024-05")]


def test_xlsx_shared_strings_over_the_cell_limit_refused_before_the_sheet(case, reporter,
                                                                          settings):
    # Reading a shared text costs as much as reading a cell: a table of more distinct texts
    # than the file may have cells is refused before any row (the sheet is broken).
    settings.CASEDESK_IMPORT_MAX_CELLS = 1_000
    data = _workbook_with_shared_strings([["title", "occurred"], ["Raid", "2024"]],
                                         unused=1_200, after=BROKEN_XML)
    assert _refusal("incidents", case, reporter, data, "x.xlsx").code == "too_many_cells"


def test_csv_over_the_row_limit_refused_without_reading_the_rest(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 50
    rows = "".join(f"Raid {n},2024\n" for n in range(51))
    # A line the strict CSV reader refuses, after the 51st row.
    data = f'title,occurred\n{rows}"unclosed"quote,2024\n'.encode()

    assert _refusal("incidents", case, reporter, data, "x.csv").code == "too_many_rows"


def test_csv_record_over_the_cell_limit_refused_before_it_is_built(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_CELLS = 1_000
    # One line of 5,000 separators ending in what the strict reader refuses: the line is
    # refused before the reader parses it.
    data = ("title,occurred\nRaid,2024" + "," * 5_000 + '"unclosed"quote\n').encode()

    assert _refusal("incidents", case, reporter, data, "x.csv").code == "too_many_cells"


def test_csv_over_the_cell_limit_across_rows_refused(case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_CELLS = 1_000
    data = ("title,occurred,a,b,c,d,e,f,g,h\n" + "Raid,2024,,,,,,,,\n" * 100).encode()
    assert _refusal("incidents", case, reporter, data, "x.csv").code == "too_many_cells"


def test_file_over_the_limits_refused_beside_the_upload_field(client, case, reporter, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 50
    client.force_login(reporter)
    sheet = _sheet(_row(1, "title", "occurred") + _incident_rows(60))

    response = _upload(client, case, _with_sheet(sheet))

    assert response.status_code == 400
    assert _form_error_codes(response) == ["too_many_rows"]
    assert "more than 50 rows" in response.content.decode()
    assert Incident.objects.count() == 0


# --- JSON case files ------------------------------------------------------------------------

def _document() -> dict:
    return {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "case": {"title": "Story"},
        "incidents": [{"ref": "incident-1", "title": "Raid", "occurred": "2024-05-09",
                       "country": "RU", "involved": 3},
                      {"ref": "incident-2", "title": "Arrests", "occurred": "2024-05-12"}],
        "sources": [{"ref": "source-1", "name": "161.ru", "kind": "outlet",
                     "url": "https://161.ru/x", "reliability": "C"},
                    {"ref": "source-2", "name": "Insider", "kind": "person",
                     "protected": True, "reached_via": "source-1"}],
        "claims": [{"ref": "claim-1", "incident": "incident-1", "statement": "Three left.",
                    "figure_value": "3", "figure_unit": "soldiers", "status": "unverified",
                    "verification": []}],
        "citations": [{"claim": "claim-1", "source": "source-1", "relation": "reports",
                       "quote": "They left.", "url": "https://161.ru/x",
                       "published_at": "2024-05-09T14:30:00+03:00", "via": None}],
        "tasks": [{"title": "Call them", "state": "open", "claim": "claim-1",
                   "due_on": "2024-06-01", "assignee": "editor"}],
        "comment_requests": [{"incident": "incident-1", "party_source": "source-1",
                              "asked_at": "2024-05-10T09:00:00+00:00",
                              "deadline": "2024-05-12T09:00:00+00:00", "channel": "email",
                              "outcome": "pending"}],
        "incident_links": [{"from": "incident-2", "to": "incident-1", "kind": "follow_up",
                            "note": "The same three"}],
    }


@pytest.fixture
def empty_case(editor):
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role="editor")
    return empty


def _written(case) -> int:
    return sum(model.objects.of_case(case).count()
               for model in (Incident, Source, Claim, Citation, Task, CommentRequest)) + (
        IncidentLink.objects.filter(from_incident__case=case).count())


def _import_case(case, user, data: bytes) -> imports.ImportReport:
    return imports.CaseJSONImporter(get_case_for_user(user, case.slug), user).run(data)


def test_case_json_valid_document_imports(empty_case, editor):
    report = _import_case(empty_case, editor, json.dumps(_document()).encode())
    assert report.ok, report.error_rows
    assert _written(empty_case) == 9


@pytest.mark.parametrize(("kind", "name", "data"), [
    ("incidents", "incidents.csv", b"title,occurred\nRaid,2024-05-09\n"),
    ("sources", "sources.csv", b"name\n161.ru\n"),
    ("case", "case.json", json.dumps(_document()).encode()),
])
def test_every_importer_reads_checks_and_runs_the_same_way(empty_case, editor, kind, name,
                                                           data):
    importer = imports.importer_for(kind, get_case_for_user(editor, empty_case.slug), editor)
    source = importer.read(data, name)

    checked = importer.check(source)
    assert checked.ok and checked.written == 0 and _written(empty_case) == 0
    report = importer.run(importer.read(data, name))
    assert report.ok and report.written == checked.total_rows == _written(empty_case)


def test_case_json_import_reports_progress_of_every_record(empty_case, editor):
    checked, written = [], []

    report = imports.import_file("case", get_case_for_user(editor, empty_case.slug), editor,
                                 json.dumps(_document()).encode(), "case.json",
                                 progress=checked.append, write_progress=written.append)

    assert report.written == sum(checked) == sum(written) == _written(empty_case) == 9


@pytest.mark.parametrize(("document", "code", "where"), [
    ('"statement": "Three \\ud800 left."', "surrogate", "claim #1, statement"),
    ('"statement": "Three \\u0000 left."', "nul", "claim #1, statement"),
    ('"statement": NaN', "not_finite", "claim #1, statement"),
])
def test_case_json_with_unstorable_text_refused_naming_the_record(empty_case, editor, document,
                                                                 code, where):
    data = json.dumps(_document()).replace('"statement": "Three left."', document).encode()
    with pytest.raises(imports.FileRefused) as refused:
        _import_case(empty_case, editor, data)
    assert refused.value.code == code
    assert where in str(refused.value)
    assert _written(empty_case) == 0


def test_case_json_nested_a_thousand_levels_refused(empty_case, editor):
    document = _document()
    data = json.dumps(document).replace('"verification": []',
                                        '"verification": ' + "[" * 1000 + "]" * 1000).encode()
    with pytest.raises(imports.FileRefused) as refused:
        _import_case(empty_case, editor, data)
    assert refused.value.code == "too_deep"
    assert _written(empty_case) == 0


@pytest.mark.parametrize(("records", "field", "value", "code"), [
    ("citations", "published_at", "2024-05-09T14:30:00+20:00", "utc_offset_out_of_range"),
    ("comment_requests", "deadline", "9999-12-31T23:59:59-15:00", "datetime_out_of_range"),
    ("tasks", "due_on", "0001-01-01", "date_out_of_range"),
])
def test_case_json_datetime_the_database_cannot_hold_is_a_record_error(empty_case, editor,
                                                                       records, field, value,
                                                                       code):
    document = _document()
    document[records][0][field] = value

    report = _import_case(empty_case, editor, json.dumps(document).encode())

    assert not report.ok
    assert [e.code for row in report.error_rows for e in row.errors] == [code]
    assert _written(empty_case) == 0


def test_case_json_over_the_record_limit_refused(empty_case, editor, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 5
    with pytest.raises(imports.FileRefused) as refused:
        _import_case(empty_case, editor, json.dumps(_document()).encode())
    assert refused.value.code == "too_many_rows"


def test_case_json_with_a_surrogate_refused_beside_the_upload_field(client, empty_case, editor):
    client.force_login(editor)
    data = json.dumps(_document()).replace("Three left.", "Three \\udfff left.").encode()

    response = _upload(client, empty_case, data, kind="case", name="case.json")

    assert response.status_code == 400
    assert _form_error_codes(response) == ["surrogate"]
    assert _written(empty_case) == 0


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["", " ", "'=x", "incident-1", "source-1", "source-2", "claim-1", "editor",
                     "2024-05-09T14:30:00+20:00", "9999-12-31T23:59:59-15:00",
                     "2024-05-09T14:30:00", "0001-01-01", "2024-02-30", "1e12", "-1", "x" * 600,
                     "https://example.org/" + "a" * 490]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
)


@st.composite
def altered_documents(draw):
    """The valid document with one record's field changed, removed or the record emptied."""
    document = _document()
    records = document[draw(st.sampled_from(list(imports.CaseJSONImporter.RECORD_LISTS)))]
    record = records[draw(st.integers(0, len(records) - 1))]
    how = draw(st.sampled_from(["value", "value", "value", "remove", "empty"]))
    key = draw(st.sampled_from(sorted(record)))
    if how == "value":
        record[key] = draw(json_values)
    elif how == "remove":
        del record[key]
    else:
        record.clear()
    return document


@given(altered_documents())
@example({**_document(), "incidents": [{"ref": "incident-1"}]})  # an empty record
@example({**_document(), "claims": [{**_document()["claims"][0], "ref": [1]}]})
@example({**_document(), "sources": [{**_document()["sources"][0], "name": "'=161.ru"},
                                     _document()["sources"][1]]})
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_case_json_any_altered_record_is_imported_or_refused_whole(empty_case, editor, document):
    data = json.dumps(copy.deepcopy(document)).encode()
    with transaction.atomic():
        try:
            report = _import_case(empty_case, editor, data)
        except imports.FileRefused as refused:
            assert refused.code and _written(empty_case) == 0
        else:
            if report.ok:
                assert _written(empty_case) == report.written == 9
            else:
                assert _written(empty_case) == 0
                assert all(isinstance(e, imports.RowError) and e.code
                           for row in report.error_rows for e in row.errors)
        transaction.set_rollback(True)


# --- the commands ---------------------------------------------------------------------------

def test_import_command_refuses_a_file_over_the_limits(case, reporter, tmp_path, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 50
    path = tmp_path / "incidents.xlsx"
    path.write_bytes(_with_sheet(_sheet(
        _row(1, "title", "occurred") + _incident_rows(51), after=BROKEN_XML)))

    with pytest.raises(CommandError, match="more than 50 rows"):
        call_command("import_incidents", case.slug, str(path), "--user", reporter.username,
                     "--no-progress")
    assert Incident.objects.count() == 0


def test_import_command_refuses_a_damaged_workbook(case, reporter, tmp_path):
    path = tmp_path / "sources.xlsx"
    path.write_bytes(_workbook({"xl/styles.xml": EMPTY_FILL_STYLES}))
    with pytest.raises(CommandError, match="damaged"):
        call_command("import_sources", case.slug, str(path), "--user", reporter.username,
                     "--no-progress")
    assert Source.objects.count() == 0


def test_import_case_command_refuses_deep_or_unstorable_json(empty_case, editor, tmp_path):
    path = tmp_path / "case.json"
    for text, message in (("[" * 100_000 + "]" * 100_000, "Nested more than"),
                          (json.dumps(_document()).replace("Three left.", "\\ud800"),
                           "claim #1, statement")):
        path.write_text(text)
        with pytest.raises(CommandError, match=message):
            call_command("import_case", empty_case.slug, str(path), "--user", editor.username)
    assert _written(empty_case) == 0


def test_import_command_refuses_a_file_over_the_upload_limit_unread(case, reporter, tmp_path,
                                                                    settings):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 1_000
    path = tmp_path / "incidents.csv"
    path.write_text("title,occurred\n" + "Raid,2024\n" * 200)
    with pytest.raises(CommandError, match="the most an import accepts"):
        call_command("import_incidents", case.slug, str(path), "--user", reporter.username,
                     "--no-progress")
    assert Incident.objects.count() == 0



def test_xlsx_part_declaring_entities_is_refused_as_damaged(case, reporter):
    """A sheet that declares a DTD (the way to entity-expansion bombs and external entities)
    is refused before any entity is read: the parts of a real workbook never declare one."""
    declaration = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                   b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')
    sheet = declaration + BASE_PARTS[SHEET_PART]

    refusal = _refusal("incidents", case, reporter, _workbook({SHEET_PART: sheet}), "x.xlsx")

    assert refusal.code == "unreadable_xlsx"
