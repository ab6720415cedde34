"""An incident's count qualifiers, count group and place in the case's people counts on every
write path (the workspace's incident form, the admin, the API, the CSV, XLSX and JSON
imports): a save made on a stale version is refused with the shared conflict code even when
only a qualifier, the group or the flag changed, and bad input is refused with a code beside
its field, row or body, writing nothing (rows and history unchanged)."""

import html
import io
import json

import openpyxl
import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse

from cases import concurrency, imports
from cases.access import get_case_for_user
from cases.exports import FORMAT_NAME, FORMAT_VERSION
from cases.models import Incident

from .clients import TwoFactorClient
from .factories import CaseFactory, IncidentFactory, MembershipFactory
from .test_api import API, token_client, version
from .test_forms import field_block, fill, read_form

pytestmark = pytest.mark.django_db

COUNTED = dict(title="Night of desertion", occurred="2025-05-09", involved=10,
               involved_qualifier="at_least", detained=6, at_large=4, count_group="Rostov",
               in_case_counts=True)
STORED = ("title", "involved", "involved_qualifier", "detained", "detained_qualifier",
          "killed", "killed_qualifier", "at_large", "count_group", "in_case_counts")


def stored(incident) -> dict:
    return Incident.objects.filter(pk=incident.pk).values(*STORED).get()


def written():
    """Incidents and their history rows: "nothing was written" is this unchanged."""
    return Incident.objects.count(), Incident.history.count()


def form_codes(form, field=NON_FIELD_ERRORS) -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


@pytest.fixture
def counted(case):
    return IncidentFactory(case=case, **COUNTED)


# What the second person saves first: a qualifier, the group or the flag alone. The first
# person then changes another qualifier alone, on the form opened before.
MEANWHILE = [
    pytest.param({"involved_qualifier": "more_than"}, "people involved: qualifier",
                 id="qualifier"),
    pytest.param({"count_group": "Kadamovsky"}, "count group", id="group"),
    pytest.param({"in_case_counts": False}, "in the case's people counts", id="left_out"),
]


def _posted(changes: dict) -> dict:
    """Changes as a browser posts them: an unticked box is not sent."""
    return {name: ("on" if value else None) if isinstance(value, bool) else value
            for name, value in changes.items()}


def _post(client, path, data):
    return client.post(path, {k: v for k, v in data.items() if v is not None})


# --- No lost updates ------------------------------------------------------------------------

@pytest.mark.parametrize(("meanwhile", "named"), MEANWHILE)
def test_incident_form_on_a_stale_version_is_refused_when_only_counts_reading_changed(
        client, case, editor, second_editor, counted, meanwhile, named):
    path = reverse("cases:incident_edit", args=[case.slug, counted.pk])
    client.force_login(editor)
    a_form = read_form(client.get(path))
    b = TwoFactorClient()
    b.force_login(second_editor)
    assert _post(b, path, fill(read_form(b.get(path)), **_posted(meanwhile))).status_code == 302
    saved, rows = stored(counted), written()

    response = _post(client, path, fill(a_form, at_large_qualifier="about"))

    assert response.status_code == 409
    assert [c.code for c in response.context["conflicts"]] == [concurrency.VERSION_CHANGED]
    [field] = meanwhile
    assert form_codes(response.context["form"], field) == [concurrency.CHANGED_MEANWHILE]
    assert f"second_editor changed {named} of this incident" in html.unescape(
        response.content.decode())
    assert (stored(counted), written()) == (saved, rows)
    assert saved[field] == meanwhile[field]


@pytest.mark.parametrize(("meanwhile", "named"), MEANWHILE)
def test_admin_incident_form_on_a_stale_version_is_refused_when_only_counts_reading_changed(
        case, editor, second_editor, make_staff, counted, meanwhile, named):
    path = reverse("admin:cases_incident_change", args=[counted.pk])
    a, b = TwoFactorClient(), TwoFactorClient()
    a.force_login(make_staff(editor))
    b.force_login(make_staff(second_editor))
    a_form = read_form(a.get(path))
    assert _post(b, path, fill(read_form(b.get(path)), **_posted(meanwhile))).status_code == 302
    saved, rows = stored(counted), written()

    response = _post(a, path, fill(a_form, at_large_qualifier="about"))

    assert response.status_code == 409
    form = response.context["adminform"].form
    assert form_codes(form) == [concurrency.VERSION_CHANGED]
    [field] = meanwhile
    assert form_codes(form, field) == [concurrency.CHANGED_MEANWHILE]
    assert f"second_editor changed {named} of this incident" in " ".join(
        form.non_field_errors())
    assert (stored(counted), written()) == (saved, rows)


@pytest.mark.parametrize(("meanwhile", "named"), MEANWHILE)
def test_api_write_on_a_stale_version_is_refused_when_only_counts_reading_changed(
        case, reporter, editor, counted, meanwhile, named):
    url = f"{API}/incidents/{counted.pk}/"
    reporter_api, editor_api = token_client(reporter), token_client(editor)
    read = version(reporter_api, url)
    assert editor_api.patch(url, meanwhile, format="json",
                            **version(editor_api, url)).status_code == 200
    saved, rows = stored(counted), written()

    response = reporter_api.patch(url, {"at_large_qualifier": "about"}, format="json", **read)

    assert response.status_code == 412
    body = response.json()
    assert body["code"] == concurrency.VERSION_CHANGED
    assert body["detail"].startswith(f"editor changed {named} of this incident")
    assert (stored(counted), written()) == (saved, rows)


# --- Bad input ------------------------------------------------------------------------------

# (changes to a valid incident, the field refused, its code). The same on the form, the admin
# and the API (in the API's types: numbers as numbers, the flag as a boolean).
BAD_INPUT = [
    pytest.param({"involved_qualifier": "roughly"}, "involved_qualifier", "invalid_choice",
                 id="unknown_qualifier"),
    pytest.param({"killed": None, "killed_qualifier": "more_than"}, "killed_qualifier",
                 "qualifier_without_count", id="qualifier_without_count"),
    pytest.param({"killed": 0, "killed_qualifier": "fewer_than"}, "killed",
                 "count_impossible", id="fewer_than_none"),
    pytest.param({"involved": 10, "involved_qualifier": "fewer_than", "detained": 6,
                  "at_large": 4}, "involved", "counts_exceed_involved",
                 id="qualified_counts_exceed"),
    pytest.param({"involved": 10, "involved_qualifier": "exactly", "detained": 6,
                  "detained_qualifier": "more_than", "at_large": 4}, "involved",
                 "counts_exceed_involved", id="qualified_outcome_exceeds"),
    pytest.param({"count_group": "x" * 101}, "count_group", "max_length", id="long_group"),
]


def _as_posted(changes: dict) -> dict:
    return {name: "" if value is None else str(value) for name, value in changes.items()}


@pytest.mark.parametrize(("changes", "field", "code"), BAD_INPUT)
def test_incident_form_refuses_bad_counts_reading_beside_the_field(
        client, case, reporter, counted, changes, field, code):
    client.force_login(reporter)
    saved, rows = stored(counted), written()
    for path in (reverse("cases:incident_create", args=[case.slug]),
                 reverse("cases:incident_edit", args=[case.slug, counted.pk])):
        response = client.post(path, fill(read_form(client.get(path)), title="Typed",
                                          **_as_posted(changes)))
        assert response.status_code == 400
        assert form_codes(response.context["form"], field) == [code]
        [message] = response.context["form"].errors[field]
        assert html.escape(message) in field_block(response.content.decode(), field)
    assert (stored(counted), written()) == (saved, rows)


@pytest.mark.parametrize(("changes", "field", "code"), BAD_INPUT)
def test_admin_incident_form_refuses_bad_counts_reading_beside_the_field(
        client, case, editor, make_staff, counted, changes, field, code):
    client.force_login(make_staff(editor))
    saved, rows = stored(counted), written()
    for path in (reverse("admin:cases_incident_add"),
                 reverse("admin:cases_incident_change", args=[counted.pk])):
        data = fill(read_form(client.get(path)), title="Typed", case=str(case.pk),
                    occurred="2025-05-09", **_as_posted(changes))
        response = client.post(path, data)
        assert response.status_code == 200  # the form again, with its errors
        assert form_codes(response.context["adminform"].form, field) == [code]
    assert (stored(counted), written()) == (saved, rows)


# The API's own types: what a JSON body can get wrong beyond the form's cases.
API_BAD_INPUT = [
    *BAD_INPUT,
    pytest.param({"involved": "many"}, "involved", "invalid", id="count_not_a_number"),
    pytest.param({"involved": 2.5}, "involved", "invalid", id="count_not_whole"),
    pytest.param({"involved": -1}, "involved", "min_value", id="count_negative"),
    # Beyond every backend's integer (PostgreSQL's ends at 2**31 - 1, SQLite's at 2**63 - 1).
    pytest.param({"involved": 2**63}, "involved", "max_value", id="count_too_big"),
    pytest.param({"involved_qualifier": 5}, "involved_qualifier", "invalid_choice",
                 id="qualifier_not_text"),
    pytest.param({"involved_qualifier": None}, "involved_qualifier", "null",
                 id="qualifier_null"),
    pytest.param({"count_group": ["Rostov"]}, "count_group", "invalid", id="group_not_text"),
    pytest.param({"in_case_counts": "maybe"}, "in_case_counts", "invalid",
                 id="flag_not_boolean"),
    pytest.param({"in_case_counts": None}, "in_case_counts", "null", id="flag_null"),
]


@pytest.mark.parametrize(("changes", "field", "code"), API_BAD_INPUT)
def test_api_refuses_bad_counts_reading_beside_the_field(case, reporter, counted, changes,
                                                         field, code):
    api = token_client(reporter)
    url = f"{API}/incidents/{counted.pk}/"
    saved, rows = stored(counted), written()
    created = api.post(f"{API}/incidents/", {"case": case.pk, "title": "Typed",
                                             "occurred": "2025-05-09", **changes},
                       format="json")
    changed = api.patch(url, changes, format="json", **version(api, url))
    for response in (created, changed):
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["codes"][field] == [code]
        assert len(body[field]) == 1  # its message, beside the field
    assert (stored(counted), written()) == (saved, rows)


# The codes beside the messages: DRF keeps them in its ErrorDetail, which JSON drops, so the
# API's exception handler adds them to the body (api/exceptions.py).
def test_api_body_names_the_code_of_a_refused_count(case, reporter):
    response = token_client(reporter).post(f"{API}/incidents/", {
        "case": case.pk, "title": "Typed", "occurred": "2025-05-09", "involved": 10,
        "involved_qualifier": "fewer_than", "detained": 10}, format="json")
    assert response.status_code == 400
    assert response.json()["codes"] == {"involved": ["counts_exceed_involved"]}


# --- Imports --------------------------------------------------------------------------------

# (a row's cells, the code of its refusal): the same rules as the form's, in a file's terms.
IMPORT_BAD_ROWS = [
    pytest.param({"involved": "3", "involved_qualifier": "roughly"}, "invalid_choice",
                 id="unknown_qualifier"),
    pytest.param({"killed_qualifier": "more than"}, "qualifier_without_count",
                 id="qualifier_without_count"),
    pytest.param({"killed": "0", "killed_qualifier": "fewer than"}, "count_impossible",
                 id="fewer_than_none"),
    pytest.param({"involved": "10", "involved_qualifier": "fewer than", "detained": "10"},
                 "counts_exceed_involved", id="qualified_counts_exceed"),
    pytest.param({"count_group": "x" * 101}, "max_length", id="long_group"),
    pytest.param({"involved": "many"}, "invalid", id="count_not_a_number"),
    pytest.param({"in_case_counts": "maybe"}, "invalid", id="flag_not_yes_or_no"),
]


def _row(cells: dict) -> dict:
    return {"title": "Raid", "occurred": "2024-05-09", **cells}


def _csv(cells: dict) -> bytes:
    row = _row(cells)
    return (",".join(row) + "\n" + ",".join(row.values()) + "\n").encode()


def _xlsx(cells: dict) -> bytes:
    row = _row(cells)
    book = openpyxl.Workbook()
    book.active.append(list(row))
    book.active.append(list(row.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _row_codes(report) -> list[list[str]]:
    assert not report.ok and report.written == 0
    return [[error.code for error in row.errors] for row in report.error_rows]


def _checked_import(case, user, make):
    """Import into `case` what `make` gives, and check nothing was written."""
    before = written()
    report = make(get_case_for_user(user, case.slug))
    assert written() == before
    return _row_codes(report)


@pytest.mark.parametrize("name", ["incidents.csv", "incidents.xlsx"])
@pytest.mark.parametrize(("cells", "code"), IMPORT_BAD_ROWS)
def test_incident_file_import_refuses_bad_counts_reading_with_its_code(
        case, reporter, counted, cells, code, name):
    data = (_csv if name.endswith(".csv") else _xlsx)(cells)
    codes = _checked_import(case, reporter, lambda access: imports.import_file(
        "incidents", access, reporter, data, name))
    assert codes == [[code]]


# The JSON file's own types: a number, a boolean or a list where the format has another.
JSON_BAD_RECORDS = [
    *IMPORT_BAD_ROWS,
    pytest.param({"involved": 2.5}, "invalid", id="count_not_whole"),
    pytest.param({"involved_qualifier": 5}, "invalid_choice", id="qualifier_not_text"),
    pytest.param({"count_group": ["Rostov"]}, "invalid", id="group_not_text"),
    pytest.param({"in_case_counts": "maybe"}, "invalid", id="flag_not_boolean"),
]


@pytest.mark.parametrize(("cells", "code"), JSON_BAD_RECORDS)
def test_case_json_import_refuses_bad_counts_reading_with_its_code(editor, cells, code):
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role="editor")
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "case": {"title": "Story"},
                "incidents": [{"ref": "incident-1", **_row(cells)}]}
    body = json.dumps(document).encode()
    codes = _checked_import(empty, editor, lambda access: imports.CaseJSONImporter(
        access, editor).run(body))
    assert codes == [[code]]


# --- The model's own validation, which the form, the admin and the API run ------------------

def test_model_refuses_an_unknown_qualifier_as_a_choice_not_an_exception(case):
    incident = IncidentFactory.build(case=case, involved=3, involved_qualifier="roughly",
                                     detained=1)
    with pytest.raises(ValidationError) as refused:
        incident.full_clean()
    assert {name: [e.code for e in errors]
            for name, errors in refused.value.error_dict.items()} == {
        "involved_qualifier": ["invalid_choice"]}


# --- What the timeline says of an incident's place in the counts ----------------------------

def test_timeline_says_an_incident_left_out_of_the_counts_is_not_counted_with_its_group(
        client, case, viewer):
    IncidentFactory(case=case, title="Counted", involved=4, count_group="Rostov")
    IncidentFactory(case=case, title="Left out", involved=2, count_group="Rostov",
                    in_case_counts=False)
    client.force_login(viewer)
    page = html.unescape(client.get(reverse("cases:timeline", args=[case.slug]))
                         .content.decode())
    starts = sorted((page.index(title), title) for title in ("Counted", "Left out"))
    ends = [start for start, _title in starts[1:]] + [None]
    entries = {title: page[start:end] for (start, title), end in zip(starts, ends, strict=True)}
    assert "counted with “Rostov”" in entries["Counted"]
    assert "not in the case's people counts" not in entries["Counted"]
    assert "not in the case's people counts" in entries["Left out"]
    assert "counted with" not in entries["Left out"]


def test_admin_incident_form_saves_qualifiers_group_and_flag_with_history(
        client, case, editor, make_staff, counted):
    client.force_login(make_staff(editor))
    path = reverse("admin:cases_incident_change", args=[counted.pk])
    response = _post(client, path, fill(read_form(client.get(path)), involved="100",
                                        involved_qualifier="more_than", detained="40",
                                        detained_qualifier="about", count_group="Kadamovsky",
                                        in_case_counts=None))
    assert response.status_code == 302
    assert stored(counted) == {**stored(counted), "involved": 100,
                               "involved_qualifier": "more_than", "detained": 40,
                               "detained_qualifier": "about", "count_group": "Kadamovsky",
                               "in_case_counts": False}
    latest = counted.history.latest()
    assert (latest.history_type, latest.history_user, latest.involved_qualifier,
            latest.in_case_counts) == ("~", editor, "more_than", False)


def test_admin_incident_form_saves_the_count_group_as_one_line(client, case, editor,
                                                                make_staff, counted):
    """The case's count lines group incidents by name: a group typed with extra spaces in the
    back office must join the one the form, the API and the imports wrote."""
    client.force_login(make_staff(editor))
    path = reverse("admin:cases_incident_change", args=[counted.pk])
    response = _post(client, path, fill(read_form(client.get(path)),
                                        count_group="  Kadamovsky \t  desertion "))
    assert response.status_code == 302
    assert stored(counted)["count_group"] == "Kadamovsky desertion"
    assert counted.history.latest().count_group == "Kadamovsky desertion"
