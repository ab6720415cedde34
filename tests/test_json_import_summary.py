"""The whole-case JSON import keeps the exported case's summary (cases/imports/case_json.py)."""

import json

import pytest

from cases import exports, imports
from cases.access import get_case_for_user
from cases.enums import Role
from cases.models import Case

from .factories import CaseFactory, IncidentFactory, MembershipFactory

pytestmark = pytest.mark.django_db

SUMMARY = ("Ten conscripts fled the Kadamovsky training ground on the night of 8 to 9 May "
           "2025.\n\nFour were caught the next day; six are still sought.")


def _exported(case) -> bytes:
    return b"".join(part.encode() for part in exports.case_json(case))


def _empty_case(editor, summary=""):
    empty = CaseFactory(title="Copy of the story", summary=summary)
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    return empty


def _import(editor, case, body):
    return imports.CaseJSONImporter(get_case_for_user(editor, case.slug), editor).run(body)


def test_case_json_round_trip_keeps_the_summary(editor, case):
    case.summary = SUMMARY
    case.save()
    IncidentFactory(case=case, title="Ten men fled")
    body = _exported(case)
    assert json.loads(body)["case"]["summary"] == SUMMARY
    empty = _empty_case(editor)

    report = _import(editor, empty, body)

    assert report.ok, report.error_rows
    empty.refresh_from_db()
    assert empty.summary == SUMMARY
    assert json.loads(_exported(empty))["case"]["summary"] == SUMMARY
    # The change is the importer's, in the case's history.
    latest = Case.history.filter(id=empty.pk).latest("history_date", "history_id")
    assert (latest.summary, latest.history_user) == (SUMMARY, editor)


def test_case_json_import_keeps_the_cases_own_summary(editor, case):
    case.summary = SUMMARY
    case.save()
    IncidentFactory(case=case)
    empty = _empty_case(editor, summary="Our own angle on the story.")

    report = _import(editor, empty, _exported(case))

    assert report.ok, report.error_rows
    assert any("summary of its own" in note for note in report.notes)
    empty.refresh_from_db()
    assert empty.summary == "Our own angle on the story."


def test_case_json_without_a_summary_leaves_the_case_as_it_is(editor, case):
    IncidentFactory(case=case)
    document = json.loads(_exported(case))
    del document["case"]["summary"]
    empty = _empty_case(editor)

    report = _import(editor, empty, json.dumps(document).encode())

    assert report.ok, report.error_rows
    empty.refresh_from_db()
    assert empty.summary == ""


@pytest.mark.parametrize("summary", [["a list"], {"an": "object"}, 12])
def test_case_json_summary_that_is_not_text_is_refused_with_its_code(editor, case, summary):
    IncidentFactory(case=case)
    document = json.loads(_exported(case))
    document["case"]["summary"] = summary
    empty = _empty_case(editor)

    with pytest.raises(imports.FileRefused, match="summary in the file is not a text") as refused:
        _import(editor, empty, json.dumps(document).encode())

    assert refused.value.code == "summary_not_text"
    assert not empty.incidents.exists()
