"""Importing incidents and sources from CSV and XLSX: checks, all-or-nothing writes, history,
identities, the browser's upload → preview → confirm and the management commands."""

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from cases import imports
from cases.access import get_case_for_user
from cases.models import Incident, Membership, Source, SourceIdentity

from .factories import IncidentTypeFactory, SourceFactory

pytestmark = pytest.mark.django_db

INCIDENTS_CSV = (
    "title,occurred,type,place_name,admin_region,country,latitude,longitude,geo_precision,"
    "involved,detained,at_large\n"
    "Soldiers leave the training ground,2024-05-09,desertion,Kadamovsky,Rostov Oblast,RU,"
    "47.5,40.1,town,10,6,4\n"
    "Search announced,2024-05,,,Rostov Oblast,Russia,,,,,,\n"
    "Relatives say,~2024-05-09,,,,,,,,,,\n"
    "Anniversary raid,05-09,,,,,,,,,,\n"
)


@pytest.fixture(autouse=True)
def _staging_in_tmp(settings, tmp_path):
    settings.CASEDESK_IMPORT_STAGING_DIR = tmp_path / "staging"


@pytest.fixture
def desertion(db):
    return IncidentTypeFactory(name="Desertion", slug="desertion")


def _import(kind, case, user, text, name="file.csv"):
    access = get_case_for_user(user, case.slug)
    data = text.encode() if isinstance(text, str) else text
    return imports.import_file(kind, access, user, data, name)


def test_import_incidents_writes_every_row_with_derived_dates_and_history(case, reporter,
                                                                          desertion):
    report = _import("incidents", case, reporter, INCIDENTS_CSV)

    assert report.ok and report.written == 4
    incidents = {i.title: i for i in Incident.objects.of_case(case)}
    first = incidents["Soldiers leave the training ground"]
    assert (first.occurred, first.occurred_earliest, first.type) == (
        "2024-05-09", dt.date(2024, 5, 9), desertion)
    assert (first.latitude, first.longitude, first.geo_precision) == (
        Decimal("47.5"), Decimal("40.1"), "town")
    assert (first.involved, first.detained, first.at_large, first.killed) == (10, 6, 4, None)
    month = incidents["Search announced"]
    assert (month.occurred_earliest, month.occurred_latest, month.country.code) == (
        dt.date(2024, 5, 1), dt.date(2024, 5, 31), "RU")
    assert incidents["Relatives say"].occurred == "2024-05-09~"
    unknown_year = incidents["Anniversary raid"]
    assert (unknown_year.occurred, unknown_year.occurred_earliest) == ("XXXX-05-09", None)
    assert all(i.created_by == reporter for i in incidents.values())
    history = Incident.history.filter(case=case)
    assert history.count() == 4
    assert {(h.history_type, h.history_user_id) for h in history} == {("+", reporter.pk)}


def test_import_history_rows_hold_each_record_as_written(case, reporter, desertion):
    # On PostgreSQL records and history are streamed with COPY; elsewhere bulk_create: the
    # history must be what simple-history would have written either way.
    _import("incidents", case, reporter, INCIDENTS_CSV)

    fields = [f.attname for f in Incident._meta.concrete_fields]
    records = {i.pk: [getattr(i, f) for f in fields] for i in Incident.objects.all()}
    history = {h.id: [getattr(h, f) for f in fields] for h in Incident.history.all()}
    assert history == records
    assert set(Incident.history.values_list("history_change_reason", flat=True)) == {
        "Imported from a file (4 incidents)"}


def test_import_with_one_bad_row_writes_nothing_and_names_every_problem(case, reporter):
    text = ("title,occurred,latitude,longitude,involved,detained,country\n"
            "Fine row,2024-05-09,,,,,\n"
            ",2025-02-29,91,,3,5,Atlantis\n"
            "Half located,2024,47.2,39.7,,,\n")
    report = _import("incidents", case, reporter, text)

    assert not report.ok and report.written == 0
    assert Incident.objects.count() == 0 and Incident.history.count() == 0
    rows = {row.number: row.errors for row in report.error_rows}
    assert set(rows) == {3, 4}
    assert "title: is empty" in rows[3]
    assert any("There is no 29 February 2025" in e for e in rows[3])
    assert "latitude: must be between -90 and 90" in rows[3]
    assert any(e.startswith("country: “Atlantis”") for e in rows[3])
    assert rows[4] == ["geo_precision: say how precise the coordinates are (point, town, "
                       "district, region, country)"]


def test_import_counts_must_not_exceed_the_people_involved(case, reporter):
    report = _import("incidents", case, reporter,
                     "title,occurred,involved,detained,killed\nRaid,2024,3,2,2\n")

    # The model's words and code, as the form, the admin and the API refuse the same counts.
    assert report.error_rows[0].errors == [
        "involved: Detained, killed, missing and at large add up to 4, more than the 3 people "
        "involved."]
    assert [e.code for e in report.error_rows[0].errors] == ["counts_exceed_involved"]


def test_import_xlsx_reads_date_cells_numbers_and_aliases(case, reporter):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Title", "Event date", "Location", "admin1", "Latitude", "Longitude",
                  "geo_precision", "Killed", "Notes"])
    sheet.append(["Shelling", dt.datetime(2024, 5, 9), "Belgorod", "Belgorod Oblast", 50.6,
                  36.58, "1", 2, "Two dead"])
    sheet.append([None] * 9)  # a blank line between blocks
    sheet.append(["Drone strike", "2024-06", None, None, None, None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    report = _import("incidents", case, reporter, buffer.getvalue(), "incidents.xlsx")

    assert report.ok and report.written == 2
    shelling = Incident.objects.get(title="Shelling")
    assert (shelling.occurred, shelling.place_name, shelling.admin_region) == (
        "2024-05-09", "Belgorod", "Belgorod Oblast")
    assert (shelling.latitude, shelling.geo_precision, shelling.killed,
            shelling.description) == (Decimal("50.6"), "town", 2, "Two dead")


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "x.csv", "The file is empty."),
    (b"title;colour\n", "x.csv", "The file has no “occurred” column"),
    ("title,occurred\nR\u00e9,2024\n".encode("latin-1"), "x.csv", "is not UTF-8 text"),
    (b"PK\x03\x04garbage", "x.xlsx", "cannot be opened as an Excel workbook"),
    (b"title,occurred,title\na,2024,b\n", "x.csv", "appears twice"),
    (b"not excel", "x.xls", "Old Excel files (.xls) cannot be read"),
])
def test_unreadable_files_are_refused_whole(case, reporter, data, name, message):
    with pytest.raises(imports.FileRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        _import("incidents", case, reporter, data, name)
    assert Incident.objects.count() == 0


def test_semicolon_csv_from_excel_and_ignored_columns(case, reporter):
    report = _import("incidents", case, reporter,
                     "\ufefftitle;occurred;colour\nRaid;2024-05;red\n")

    assert report.ok and report.ignored_columns == ["colour"]
    assert Incident.objects.get().occurred == "2024-05"


def test_import_sources_links_reached_via_within_the_file(case, reporter):
    SourceFactory(case=case, name="161.ru")
    text = ("name,kind,reliability,reached_via,protected,url\n"
            "Investigators,person,F,161.ru,yes,\n"
            "Relative,person,C,Investigators,yes,\n"
            "Ministry,official,b,,no,https://mil.example/\n")
    report = _import("sources", case, reporter, text)

    assert report.ok and report.written == 3
    relative = Source.objects.get(name="Relative")
    assert relative.reached_via.name == "Investigators"
    assert relative.reached_via.reached_via.name == "161.ru"
    assert relative.protected and Source.objects.get(name="Ministry").reliability == "B"
    assert Source.history.filter(name="Relative").get().history_user == reporter


def test_import_sources_refuses_names_taken_cycles_and_unknown_origins(case, reporter):
    SourceFactory(case=case, name="161.ru")
    report = _import("sources", case, reporter,
                     "name,reached_via\n161.RU,\nA,B\nB,A\nA,\n")

    errors = [e for row in report.error_rows for e in row.errors]
    assert "name: the case already has a source called “161.RU”" in errors
    assert "name: “A” is also the name in row 3" in errors
    assert Source.objects.count() == 1

    report = _import("sources", case, reporter, "name,reached_via\nA,B\nB,A\nC,Nobody\n")
    assert report.error_rows[0].errors == [
        "reached_via: there is no source called “Nobody” in the case or the file"]
    report = _import("sources", case, reporter, "name,reached_via\nA,B\nB,A\n")
    assert "in a circle: A, B" in report.error_rows[0].errors[0]
    assert Source.objects.count() == 1


CANARY = "Canary Ivanova 7731"


def test_source_handler_imports_an_identity_encrypted(case, make_member):
    handler = make_member(username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    report = _import("sources", case, handler,
                     f"name,protected,real_name,contact\nNightingale,yes,{CANARY},signal:+7\n")

    assert report.ok
    identity = SourceIdentity.objects.get(source__name="Nightingale")
    assert (identity.real_name, identity.contact) == (CANARY, "signal:+7")
    with connection.cursor() as cursor:
        cursor.execute("SELECT real_name FROM cases_sourceidentity")
        stored = cursor.fetchone()[0]
        cursor.execute("SELECT real_name FROM cases_historicalsourceidentity")
        stored_history = cursor.fetchone()[0]
    assert CANARY not in stored and CANARY not in stored_history
    assert SourceIdentity.history.get().history_user == handler


def test_identity_cells_from_a_non_handler_refuse_the_file(case, reporter):
    report = _import("sources", case, reporter,
                     f"name,protected,real_name,url\nNightingale,yes,{CANARY},\n"
                     "Owl,yes,,https://owl.example/\n")

    assert not report.ok
    errors = {row.number: row.errors for row in report.error_rows}
    assert errors[2] == ["real_name, contact, private_notes: only the case's source handlers "
                         "may import a protected source's identity; leave these cells empty"]
    assert errors[3][0].startswith("url: a protected source's address")
    assert CANARY not in str(report.error_rows[0].cells)
    assert Source.objects.count() == 0 and SourceIdentity.objects.count() == 0


@pytest.mark.parametrize("rows", [5, 30])
def test_import_issues_a_fixed_number_of_queries(case, reporter, django_assert_max_num_queries,
                                                 rows):
    # No query per row: one to check the types, one insert per batch for the records and one
    # for their history (SQLite's batches are smaller: at most 999 parameters a statement,
    # so 30 incidents, with a qualifier per count, take two).
    text = "".join(f"Incident {n},2024-05-{n % 28 + 1:02d}\n" for n in range(rows))
    with django_assert_max_num_queries(10):
        report = _import("incidents", case, reporter, "title,occurred\n" + text)
    assert report.written == rows and Incident.history.count() == rows


# --- the browser ---------------------------------------------------------------------------

def _upload(client, case, text, *, kind="incidents", name="incidents.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(reverse("cases:import_upload", args=[case.slug]),
                       {"kind": kind, "file": SimpleUploadedFile(name, data)})


def test_import_pages_are_for_reporters_and_editors_only(client, case, outsider, viewer,
                                                         editor):
    url = reverse("cases:import_upload", args=[case.slug])
    for user, expected in ((outsider, 404), (viewer, 404), (editor, 200)):
        client.force_login(user)
        assert client.get(url).status_code == expected
        response = _upload(client, case, INCIDENTS_CSV)
        assert response.status_code == (expected if expected == 404 else 200)
    assert Incident.objects.count() == 0  # a preview writes nothing


def test_preview_lists_each_bad_row_beside_its_errors_and_offers_no_import(client, case,
                                                                           reporter):
    client.force_login(reporter)
    response = _upload(client, case, "title,occurred\nGood,2024\nBad,2025-02-29\n,2024\n")

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 of 3 rows have a problem" in page
    assert "There is no 29 February 2025" in page and "title: is empty" in page
    assert 'name="token"' not in page
    assert Incident.objects.count() == 0


def test_upload_preview_confirm_imports_from_the_server_copy(client, case, reporter, desertion):
    client.force_login(reporter)
    preview = _upload(client, case, INCIDENTS_CSV)
    page = preview.content.decode()
    assert "All 4 incidents can be imported" in page
    token = preview.context["token"]
    assert Incident.objects.count() == 0

    # A file sent along with the confirmation is not read: the staged upload is.
    response = client.post(reverse("cases:import_confirm", args=[case.slug]),
                           {"token": token,
                            "file": SimpleUploadedFile("x.csv", b"title,occurred\nEvil,2024\n")})

    assert response.status_code == 302 and response.url == reverse("cases:timeline",
                                                                   args=[case.slug])
    assert sorted(Incident.objects.values_list("title", flat=True)) == sorted([
        "Anniversary raid", "Relatives say", "Search announced",
        "Soldiers leave the training ground"])
    assert set(Incident.history.values_list("history_user", flat=True)) == {reporter.pk}
    # The staged file is gone: confirming twice imports nothing more.
    again = client.post(reverse("cases:import_confirm", args=[case.slug]), {"token": token})
    assert again.status_code == 302 and Incident.objects.count() == 4


def test_confirm_refuses_forged_and_foreign_tokens(client, case, reporter, editor):
    client.force_login(reporter)
    token = _upload(client, case, INCIDENTS_CSV.replace(",desertion,", ",,")).context["token"]
    confirm = reverse("cases:import_confirm", args=[case.slug])

    client.force_login(editor)  # another member cannot confirm someone else's upload
    assert client.post(confirm, {"token": token}).status_code == 302
    client.force_login(reporter)
    assert client.post(confirm, {"token": token[:-3] + "abc"}).status_code == 302
    assert client.get(confirm).status_code == 405
    assert Incident.objects.count() == 0
    assert client.post(confirm, {"token": token}).status_code == 302
    assert Incident.objects.count() == 4


def test_confirm_checks_again_against_the_case_as_it_is_now(client, case, reporter):
    client.force_login(reporter)
    token = _upload(client, case, "name\nNightingale\n", kind="sources",
                    name="sources.csv").context["token"]
    SourceFactory(case=case, name="Nightingale")  # a colleague adds it meanwhile

    response = client.post(reverse("cases:import_confirm", args=[case.slug]), {"token": token})

    assert response.status_code == 409
    assert "already has a source called “Nightingale”" in response.content.decode()
    assert Source.objects.count() == 1


def test_staged_upload_is_encrypted_at_rest(client, case, make_member, settings):
    handler = make_member(username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    client.force_login(handler)
    response = _upload(client, case, f"name,protected,real_name\nNightingale,yes,{CANARY}\n",
                       kind="sources", name="sources.csv")

    page = response.content.decode()
    assert CANARY not in page and "(given)" in page
    (staged,) = list((settings.CASEDESK_IMPORT_STAGING_DIR).iterdir())
    assert CANARY.encode() not in staged.read_bytes()


def test_upload_form_refuses_wrong_extensions_beside_the_field(client, case, reporter):
    client.force_login(reporter)
    response = _upload(client, case, INCIDENTS_CSV, name="incidents.pdf")
    assert response.status_code == 400
    assert "the file must end in .csv, .xlsx, .txt" in response.content.decode()
    response = _upload(client, case, b"title;nothing\n")
    assert "The file has no “occurred” column" in response.content.decode()


# --- the commands --------------------------------------------------------------------------

def test_import_incidents_command_shows_progress_and_writes(case, reporter, tmp_path,
                                                            desertion):
    path = tmp_path / "incidents.csv"
    path.write_text(INCIDENTS_CSV)
    out, err = io.StringIO(), io.StringIO()

    call_command("import_incidents", case.slug, str(path), "--user", reporter.username,
                 stdout=out, stderr=err)

    assert "Imported 4 incidents" in out.getvalue()
    assert "Checking" in err.getvalue() and "Writing" in err.getvalue()
    assert Incident.history.filter(history_user=reporter).count() == 4


def test_import_command_refuses_viewers_and_bad_files(case, viewer, reporter, tmp_path):
    path = tmp_path / "incidents.csv"
    path.write_text("title,occurred\nRaid,someday\n")
    with pytest.raises(CommandError, match="is not a reporter"):
        call_command("import_incidents", case.slug, str(path), "--user", viewer.username)
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported: 1 of 1 rows"):
        call_command("import_incidents", case.slug, str(path), "--user", reporter.username,
                     "--no-progress", stdout=out)
    assert "Row 2: occurred: “someday” is not a date" in out.getvalue()
    assert Incident.objects.count() == 0


def test_sample_files_in_docs_import_cleanly(case, reporter, settings):
    from pathlib import Path

    samples = Path(settings.BASE_DIR) / "docs" / "samples"
    IncidentTypeFactory(name="Desertion", slug="desertion")
    IncidentTypeFactory(name="Arrest", slug="arrest")
    incidents = _import("incidents", case, reporter, (samples / "incidents.csv").read_bytes())
    sources = _import("sources", case, reporter, (samples / "sources.csv").read_bytes())
    assert incidents.ok and sources.ok, (incidents.error_rows, sources.error_rows)
    assert incidents.written >= 5 and sources.written >= 3
