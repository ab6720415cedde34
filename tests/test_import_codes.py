"""Every refusal of an import carries a machine-readable code: each cell parser's, each rule
of a row (tabular files and the case JSON file), each whole-file refusal, and the expired
preview. The message is for the person; the code is for the form, the commands and tests."""

import json

import pytest

from cases import imports
from cases.access import get_case_for_user
from cases.exports import FORMAT_NAME, FORMAT_VERSION
from cases.imports import cells
from cases.models import Membership

from .factories import CaseFactory, MembershipFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("parse", "value", "code"), [
    (cells.parse_text, "Ra\x00id", "null_characters_not_allowed"),
    (lambda v: cells.parse_text(v, max_length=3), "Raid", "max_length"),
    (cells.parse_count, True, "invalid"),
    (cells.parse_count, 2.5, "invalid"),
    (cells.parse_count, "a few", "invalid"),
    (cells.parse_count, "-1", "min_value"),
    (cells.parse_count, "2147483648", "max_value"),
    (lambda v: cells.parse_coordinate(v, 90), "north", "invalid"),
    (lambda v: cells.parse_coordinate(v, 90), "NaN", "invalid"),
    (lambda v: cells.parse_coordinate(v, 90), "-90.5", "min_value"),
    (lambda v: cells.parse_coordinate(v, 90), "Infinity", "max_value"),
    (lambda v: cells.parse_choice(v, {"town": "town"}, "town"), "city", "invalid_choice"),
    (cells.parse_country_cell, "Atlantis", "invalid_choice"),
    (cells.parse_bool, "maybe", "invalid"),
    (cells.parse_occurred, " ", "required"),
    (cells.parse_occurred, "2025-02-29", "invalid"),
    (cells.parse_occurred, "2024-05-09/2024-05-01", "invalid_range"),
    (cells.parse_url, "https://example.org/" + "a" * 490, "max_length"),
    (cells.parse_url, "example dot org", "invalid"),
    (cells.parse_datetime, "soon", "invalid"),
    (cells.parse_datetime, "2024-05-09T14:30:00", "no_time_zone"),
    (cells.parse_datetime, "2024-05-09T14:30:00+20:00", "utc_offset_out_of_range"),
    (cells.parse_datetime, "9999-12-31T23:59:59-15:00", "datetime_out_of_range"),
    (cells.parse_day, "2024-02-30", "invalid"),
    (cells.parse_day, "0001-01-01", "date_out_of_range"),
])
def test_cell_parser_refusal_has_its_code(parse, value, code):
    with pytest.raises(imports.CellError) as refused:
        parse(value)
    assert refused.value.code == code


def _codes(kind, case, user, text) -> list[list[str]]:
    report = imports.import_file(kind, get_case_for_user(user, case.slug), user, text.encode(),
                                 "file.csv")
    assert not report.ok and report.written == 0
    return [[error.code for error in row.errors] for row in report.error_rows]


@pytest.mark.parametrize(("text", "codes"), [
    ("title,occurred\n,2024\n", ["required"]),
    ("title,occurred\nRaid,\n", ["required"]),
    ("title,occurred,type\nRaid,2024,flood\n", ["invalid_choice"]),
    ("title,occurred,longitude,geo_precision\nRaid,2024,39.7,town\n",
     ["coordinates_incomplete"]),
    ("title,occurred,latitude,longitude\nRaid,2024,47.2,39.7\n", ["geo_precision_missing"]),
    ("title,occurred,involved,killed\nRaid,2024,1,2\n", ["counts_exceed_involved"]),
    ("title,occurred,country,killed\n,2024,Atlantis,-1\n",
     ["required", "invalid_choice", "min_value"]),
])
def test_incident_row_refusal_has_its_code(case, reporter, text, codes):
    assert _codes("incidents", case, reporter, text) == [codes]


@pytest.mark.parametrize(("text", "codes"), [
    ("name,kind\n,outlet\n", [["required"]]),
    ("name\n161.RU\n", [["name_taken"]]),
    ("name\nA\na\n", [["name_repeated"]]),
    ("name,language\nA," + "x" * 17 + "\n", [["max_length"]]),
    ("name,protected,real_name\nA,yes,Anna K.\n", [["identity_handlers_only"]]),
    ("name,protected,url\nA,yes,https://a.example/\n", [["protected_address"]]),
    ("name,reached_via\nA,Nobody\n", [["unknown_reached_via"]]),
    ("name,reached_via\nA,A\n", [["reached_via_itself"]]),
    ("name,reached_via\nA,B\nB,A\n", [["reached_via_cycle"]]),
])
def test_source_row_refusal_has_its_code(case, reporter, text, codes):
    SourceFactory(case=case, name="161.ru")
    assert _codes("sources", case, reporter, text) == codes


def test_source_identity_of_a_public_source_has_its_code(case, make_member):
    handler = make_member(username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    assert _codes("sources", case, handler, "name,protected,real_name\nA,no,Anna K.\n") == [
        ["identity_not_protected"]]


def _document() -> dict:
    return {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "case": {"title": "Story"},
        "incidents": [{"ref": "incident-1", "title": "Raid", "occurred": "2024-05-09"}],
        "sources": [{"ref": "source-1", "name": "161.ru"}],
        "claims": [{"ref": "claim-1", "incident": "incident-1", "statement": "Three left."}],
        "citations": [{"claim": "claim-1", "source": "source-1"}],
        "tasks": [{"title": "Call them"}],
        "comment_requests": [{"party_name": "Ministry",
                              "asked_at": "2024-05-10T09:00:00+00:00"}],
    }


@pytest.mark.parametrize(("records", "changes", "shown"), [
    ("incidents", {"title": ""}, ("incident #1: title: is empty", "required")),
    ("sources", {"name": ""}, ("source #1: name: is empty", "required")),
    ("claims", {"statement": " "}, ("claim #1: statement: is empty", "required")),
    ("claims", {"incident": ["incident-1"]},
     ("claim #1: incident: is not a reference to a record of the file", "invalid_reference")),
    ("claims", {"incident": "incident-9"},
     ("claim #1: incident: “incident-9” is not a record of the file", "unknown_reference")),
    ("claims", {"figure_value": "many", "figure_unit": "people"},
     ("claim #1: figure_value: “many” is not a figure", "invalid")),
    ("claims", {"figure_value": "3"},
     ("claim #1: figure_unit: say what the figure counts", "required")),
    ("citations", {"source": None}, ("citation #1: source: is missing", "required")),
    ("citations", {"incident": "incident-1"},
     ("citation #1: a citation is about one claim or one incident", "claim_or_incident")),
    ("citations", {"via": "source-1"},
     ("citation #1: via: a source cannot be relayed through itself", "attribution_self")),
    ("tasks", {"title": ""}, ("task #1: title: is empty", "required")),
    ("comment_requests", {"party_name": ""},
     ("request for comment #1: party_name: say who was asked", "required")),
    ("comment_requests", {"asked_at": None},
     ("request for comment #1: asked_at: is missing", "required")),
    ("comment_requests", {"deadline": "2024-05-01T09:00:00+00:00"},
     ("request for comment #1: deadline: is before the request was made",
      "deadline_before_asked")),
    ("comment_requests", {"outcome": "replied"},
     ("request for comment #1: reply_summary: summarise the reply", "required")),
])
def test_case_json_record_refusal_has_its_code(editor, records, changes, shown):
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role="editor")
    document = _document()
    document[records][0].update(changes)

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())

    assert [(error, error.code) for row in report.error_rows for error in row.errors] == [shown]


@pytest.mark.parametrize(("data", "name", "code"), [
    (b"", "x.csv", "empty"),
    (b"\xef\xbb\xbf", "x.csv", "empty"),
    (b"title;colour\n", "x.csv", "missing_column"),
    (b"title,occurred,title\na,2024,b\n", "x.csv", "duplicate_column"),
    ("title,occurred\nR\u00e9,2024\n".encode("latin-1"), "x.csv", "not_utf8"),
    (b"title,occurred\nRa\x00id,2024\n", "x.csv", "nul"),
    (b'title,occurred\n"Raid,2024\n', "x.csv", "csv_syntax"),
    (b"not excel", "x.xls", "xls"),
    (b"not excel", "x.xlsx", "not_xlsx"),
    (b"PK\x03\x04garbage", "x.xlsx", "not_xlsx"),
])
def test_file_refusal_has_its_code(case, reporter, data, name, code):
    with pytest.raises(imports.FileRefused) as refused:
        imports.import_file("incidents", get_case_for_user(reporter, case.slug), reporter, data,
                            name)
    assert refused.value.code == code


@pytest.mark.parametrize(("data", "code"), [
    (b'{"format": "other"}', "not_case_export"),
    (json.dumps({"format": FORMAT_NAME, "version": -1}).encode(), "version"),
    (json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, "claims": {}}).encode(),
     "not_a_list"),
    (b'{"format": "casedesk-case", "format": "twice"}', "duplicate_key"),
])
def test_case_json_file_refusal_has_its_code(case, editor, data, code):
    importer = imports.importer_for("case", get_case_for_user(editor, case.slug), editor)
    with pytest.raises(imports.FileRefused) as refused:
        importer.read(data, "case.json")
    assert refused.value.code == code


def test_case_json_into_a_case_with_records_refused_with_its_code(case, editor):
    SourceFactory(case=case)
    importer = imports.importer_for("case", get_case_for_user(editor, case.slug), editor)
    with pytest.raises(imports.FileRefused) as refused:
        importer.check(importer.read(json.dumps(_document()).encode()))
    assert refused.value.code == "case_not_empty"


def test_expired_preview_has_its_code(case, reporter, settings, tmp_path):
    settings.CASEDESK_IMPORT_STAGING_DIR = tmp_path
    with pytest.raises(imports.StagingExpired) as refused:
        imports.read_staged("forged", case=case, user=reporter)
    assert refused.value.code == "preview_expired"
