"""What the incident imports (CSV, XLSX and the case JSON file) say of a row's counts and of a
value that is not a single one: the model's own refusals, in its words and with its codes, and
a list or an object refused beside its column instead of stored as its printed form. Nothing
of a refused file is written."""

import json

import pytest
from django.utils import translation

from cases import imports
from cases.access import get_case_for_user
from cases.exports import FORMAT_NAME, FORMAT_VERSION
from cases.models import Incident

from .factories import CaseFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def written():
    return Incident.objects.count(), Incident.history.count()


def _csv_import(case, user, text: str):
    before = written()
    report = imports.import_file("incidents", get_case_for_user(user, case.slug), user,
                                 text.encode(), "incidents.csv")
    assert written() == before
    assert not report.ok and report.written == 0
    return report


def _json_import(user, **document):
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=user, role="editor")
    body = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION,
                       "case": {"title": "Story"}, **document}).encode()
    before = written()
    report = imports.CaseJSONImporter(get_case_for_user(user, empty.slug), user).run(body)
    assert written() == before
    assert not report.ok and report.written == 0
    return report


def _errors(report) -> list[list[tuple[str, str]]]:
    return [[(str(error), error.code) for error in row.errors] for row in report.error_rows]


def test_import_refuses_a_qualifier_without_a_count_in_the_models_words(case, reporter):
    report = _csv_import(case, reporter, "title,occurred,killed,killed_qualifier\n"
                                         "Raid,2024,,more than\n")
    assert _errors(report) == [[(
        "killed_qualifier: Give the count this qualifier is about, or set it back to "
        "“exactly”.", "qualifier_without_count")]]


def test_import_refuses_fewer_than_no_people_in_the_models_words(case, reporter):
    report = _csv_import(case, reporter, "title,occurred,killed,killed_qualifier\n"
                                         "Raid,2024,0,fewer than\n")
    assert _errors(report) == [[("killed: No number of people is fewer than 0.",
                                 "count_impossible")]]


def test_import_refuses_each_unreadable_count_of_a_row_and_skips_the_balance(case, reporter):
    """3 involved against 5 detained would exceed, but with a count unreadable the balance
    is not what is wrong: the row is refused for its unreadable counts only."""
    report = _csv_import(case, reporter,
                         "title,occurred,involved,detained,killed,killed_qualifier,"
                         "missing_qualifier\n"
                         "Raid,2024,3,5,0,fewer than,about\n")
    assert [[code for _text, code in row] for row in _errors(report)] == [
        ["count_impossible", "qualifier_without_count"]]
    assert [text.split(":")[0] for text in report.error_rows[0].errors] == [
        "killed", "missing_qualifier"]


def test_import_refuses_counts_exceeding_the_people_involved_as_the_model_does(case,
                                                                               reporter):
    report = _csv_import(case, reporter, "title,occurred,involved,detained,at_large\n"
                                         "Raid,2024,1,1,1\n")
    assert _errors(report) == [[(
        "involved: Detained, killed, missing and at large add up to 2, more than the 1 person "
        "involved.", "counts_exceed_involved")]]


def test_import_refuses_counts_exceeding_the_people_involved_in_the_readers_language(
        case, reporter):
    with translation.override("ru"):
        report = _csv_import(case, reporter, "title,occurred,involved,detained\n"
                                             "Raid,2024,1,2\n")
        [[error]] = [list(row.errors) for row in report.error_rows]
    assert error.startswith("involved: ")
    assert error.endswith("больше, чем всего людей: 1 человек.")
    assert error.code == "counts_exceed_involved"


def test_import_writes_qualified_counts_that_may_add_up(case, reporter):
    report = imports.import_file(
        "incidents", get_case_for_user(reporter, case.slug), reporter,
        b"title,occurred,involved,involved_qualifier,detained,killed,killed_qualifier\n"
        b"Raid,2024,10,more than,11,0,at least\n", "incidents.csv")
    assert report.ok and report.written == 1
    assert Incident.objects.values("involved", "involved_qualifier", "detained", "killed",
                                   "killed_qualifier").get() == {
        "involved": 10, "involved_qualifier": "more_than", "detained": 11, "killed": 0,
        "killed_qualifier": "at_least"}


@pytest.mark.parametrize(("value", "message"), [
    (["Rostov"], "is a list: give a single value"),
    ({"name": "Rostov"}, "is an object: give a single value"),
])
@pytest.mark.parametrize("field", ["title", "count_group", "involved", "in_case_counts",
                                   "country"])
def test_json_import_refuses_a_list_or_an_object_beside_its_field(editor, field, value,
                                                                  message):
    record = {"ref": "incident-1", "title": "Raid", "occurred": "2024-05-09", field: value}
    report = _json_import(editor, incidents=[record])
    assert _errors(report) == [[(f"incident #1: {field}: {message}", "invalid")]]
    # The preview shows the cell as the file gives it.
    assert report.error_rows[0].cells[field] == json.dumps(value)


def test_json_import_refuses_a_list_as_a_claims_figure_beside_its_field(editor):
    report = _json_import(editor, claims=[{"ref": "claim-1", "statement": "Ten fled",
                                           "figure_value": [10]}])
    assert _errors(report) == [[("claim #1: figure_value: “[10]” is not a figure",
                                 "invalid")]]
