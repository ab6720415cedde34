"""Importing claims with their citations from CSV and XLSX: one row per citation grouped by
claim, all or nothing, claims unverified, protected addresses sealed, captures queued, the
browser's upload → preview → confirm, and a fixed number of queries however many claims."""

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

from capture.models import Capture
from cases import imports
from cases.access import get_case_for_user
from cases.enums import VerificationStatus
from cases.models import Citation, Claim, Membership, Source, VerificationEvent

from .factories import CaseFactory, IncidentFactory, IncidentTypeFactory, SourceFactory

pytestmark = pytest.mark.django_db

CLAIMS_CSV = (
    "claim,statement,incident,figure_value,figure_unit,figure_qualifier,credibility,"
    "source,via,relation,quote,url,published_at,language\n"
    "C1,Ten soldiers fled the training ground.,Soldiers leave the training ground,10,"
    "deserters,at least,2,161.ru,,reports,Ten men left,https://161.ru/text/1,2025-05-09,ru\n"
    "C1,,,,,,,Southern Military District press office,,denies,,,2025-05-10 09:30,ru\n"
    "C2,Four of them were caught.,,4,caught,,,161.ru,,,,,,\n"
)


@pytest.fixture(autouse=True)
def _staging_in_tmp(settings, tmp_path):
    settings.CASEDESK_IMPORT_STAGING_DIR = tmp_path / "staging"


@pytest.fixture
def story(case):
    """The sources and the incident the sample rows name."""
    return {
        "161.ru": SourceFactory(case=case, name="161.ru", url="https://161.ru/"),
        "press": SourceFactory(case=case, name="Southern Military District press office"),
        "incident": IncidentFactory(case=case, title="Soldiers leave the training ground"),
    }


@pytest.fixture
def handler(make_member):
    user = make_member(username="handler")
    Membership.objects.filter(user=user).update(can_handle_sources=True)
    return user


def _import(case, user, text, name="claims.csv"):
    access = get_case_for_user(user, case.slug)
    data = text.encode() if isinstance(text, str) else text
    return imports.import_file("claims", access, user, data, name)


def _problems(report) -> list[tuple[int, str, str]]:
    return [(row.number, error, error.code) for row in report.error_rows for error in row.errors]


def test_import_claims_writes_each_claim_with_its_citations_unverified(case, reporter, story):
    report = _import(case, reporter, CLAIMS_CSV)

    assert report.ok, _problems(report)
    assert report.written == 2
    assert report.counts == {"claims": 2, "citations": 3}
    fled = Claim.objects.get(statement="Ten soldiers fled the training ground.")
    assert (fled.incident, fled.figure_value, fled.figure_unit, fled.figure_qualifier,
            fled.credibility) == (story["incident"], Decimal("10"), "deserters", "at_least", "2")
    assert (fled.case, fled.created_by) == (case, reporter)
    reports, denies = fled.citations.order_by("published_at")
    assert (reports.source, reports.relation, reports.quote, reports.url, reports.language) == (
        story["161.ru"], "reports", "Ten men left", "https://161.ru/text/1", "ru")
    assert reports.published_at == dt.datetime(2025, 5, 9, tzinfo=dt.UTC)
    assert (denies.source, denies.relation, denies.url) == (story["press"], "denies", "")
    assert denies.published_at == dt.datetime(2025, 5, 10, 9, 30, tzinfo=dt.UTC)
    caught = Claim.objects.get(statement="Four of them were caught.")
    assert (caught.incident, caught.figure_qualifier, caught.credibility) == (None, "exactly", "6")
    assert [c.relation for c in caught.citations.all()] == ["reports"]
    # Unverified, and no verification step: the claim form writes none either.
    assert set(Claim.objects.values_list("status", "proposed_verdict")) == {("unverified", "")}
    assert not VerificationEvent.objects.exists()
    # A "created" history row per record, in the importer's name.
    reason = "Imported from a file (2 claims, 3 citations)"
    assert set(Claim.history.values_list("history_type", "history_user", "history_change_reason")
               ) == {("+", reporter.pk, reason)}
    assert Claim.history.count() == 2 and Citation.history.count() == 3
    assert set(Citation.history.values_list("history_user", flat=True)) == {reporter.pk}


def test_rows_without_a_claim_column_are_grouped_by_their_statement(case, reporter, story):
    text = ("statement,source,quote\n"
            "Ten fled.,161.ru,First report\n"
            "Four were caught.,,\n"
            "Ten fled.,Southern Military District press office,Second report\n")
    report = _import(case, reporter, text)

    assert report.ok and report.counts == {"claims": 2, "citations": 2}
    assert sorted(Claim.objects.get(statement="Ten fled.").citations.values_list(
        "quote", flat=True)) == ["First report", "Second report"]
    assert not Claim.objects.get(statement="Four were caught.").citations.exists()


def test_incident_by_id_and_a_status_column_that_is_not_imported(case, reporter, story):
    incident = story["incident"]
    text = ("statement,incident,status\n"
            f"Ten fled.,{incident.pk},confirmed\n"
            f"Four caught.,incident-{incident.pk},Unverified\n"
            "Six caught.,,false\n")
    report = _import(case, reporter, text)

    assert report.ok
    assert set(Claim.objects.values_list("incident", flat=True)) == {incident.pk, None}
    assert set(Claim.objects.values_list("status", flat=True)) == {"unverified"}
    assert report.notes == [
        "2 claims of the file have a verification status. Imported claims start unverified, "
        "whatever the file says: this case's editors decide verdicts through the verification "
        "workflow."]


def test_import_claims_from_xlsx_reads_date_cells_and_numbers(case, reporter, story):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Claim", "Statement", "Figure", "Counted", "Source", "Published at"])
    sheet.append([1, "Ten fled.", 10, "deserters", "161.ru", dt.datetime(2025, 5, 9)])
    sheet.append([None] * 6)  # a blank line between blocks
    sheet.append([1, None, 10.0, None, "Southern Military District press office",
                  dt.datetime(2025, 5, 9, 14, 30)])
    sheet.append([2, "Four caught.", 4.5, "caught", None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)

    report = _import(case, reporter, buffer.getvalue(), "claims.xlsx")

    assert report.ok, _problems(report)
    fled = Claim.objects.get(statement="Ten fled.")
    assert fled.figure_value == Decimal("10")
    assert sorted(fled.citations.values_list("published_at", flat=True)) == [
        dt.datetime(2025, 5, 9, tzinfo=dt.UTC), dt.datetime(2025, 5, 9, 14, 30, tzinfo=dt.UTC)]
    assert Claim.objects.get(statement="Four caught.").figure_value == Decimal("4.5")


@pytest.mark.parametrize(("rows", "problems"), [
    ("statement,source\n,161.ru\n", [(2, "statement: is empty", "required")]),
    ("statement,source\nTen fled.,Nobody\n",
     [(2, "source: the case has no source called “Nobody”: add it first (the source form, "
          "or a sources import)", "unknown_source")]),
    ("statement,source,via\nTen fled.,161.ru,161.RU\n",
     [(2, "via: a source cannot be relayed through itself", "attribution_self")]),
    ("statement,quote\nTen fled.,They left\n",
     [(2, "source: say which source of the case said it", "required")]),
    ("statement,incident\nTen fled.,Flood\n",
     [(2, "incident: the case has no incident with the id or title “Flood”",
       "unknown_incident")]),
    ("statement,figure_value\nTen fled.,10\n",
     [(2, "figure_unit: say what the figure counts", "required")]),
    ("statement,figure_value,figure_unit\nTen fled.,\"1,200\",deserters\n",
     [(2, "figure_value: “1,200” could be read two ways: write the number without a "
          "thousands separator (1200), or with a decimal point (1.2)", "ambiguous_number")]),
    ("statement,figure_value,figure_unit\nTen fled.,10.125,deserters\n",
     [(2, "figure_value: has more than two decimal places", "max_decimal_places")]),
    ("statement,figure_value,figure_unit\nTen fled.,-3,deserters\n",
     [(2, "figure_value: cannot be negative", "min_value")]),
    ("statement,credibility,figure_qualifier\nTen fled.,7,roughly\n",
     [(2, "figure_qualifier: “roughly” is not one of: exactly, at_least, at_most, about, "
          "nearly, more_than, fewer_than", "invalid_choice"),
      (2, "credibility: “7” is not one of: 1 to 6", "invalid_choice")]),
    ("statement,source,relation\nTen fled.,161.ru,agrees\n",
     [(2, "relation: “agrees” is not one of: reports, confirms, denies, declined_to_comment",
       "invalid_choice")]),
    ("statement,source,url,published_at\nTen fled.,161.ru,161 dot ru,yesterday\n",
     [(2, "url: “161 dot ru” is not a web address (https://…)", "invalid"),
      (2, "published_at: “yesterday” is not a day or a date and time (2024-05-09, "
          "2024-05-09 14:30)", "invalid")]),
    ("statement,source,language\nTen fled.,161.ru," + "x" * 17 + "\n",
     [(2, "language: use a short language code such as ru, en or uk", "max_length")]),
    ("claim,statement,figure_value,figure_unit\nC1,Ten fled.,10,deserters\n"
     "C1,Ten left.,12,deserters\n",
     [(3, "statement: “Ten left.” differs from “Ten fled.” given in row 2 for the same claim",
       "claim_differs"),
      (3, "figure_value: “12” differs from “10” given in row 2 for the same claim",
       "claim_differs")]),
    ("claim,statement,source\nC1,,161.ru\nC1,,161.ru\n",
     [(2, "statement: no row of claim “C1” gives its statement", "required")]),
])
def test_a_bad_row_writes_nothing_and_names_its_row_column_and_code(case, reporter, story, rows,
                                                                   problems):
    report = _import(case, reporter, rows)

    assert not report.ok and report.written == 0
    assert _problems(report) == problems
    assert not Claim.objects.exists() and not Citation.objects.exists()
    assert not Claim.history.exists() and not Citation.history.exists()


def test_one_bad_row_among_good_ones_writes_nothing(case, reporter, story):
    report = _import(case, reporter, CLAIMS_CSV + "C3,Six caught.,,,,,,Nobody,,,,,,\n")

    assert (report.total_rows, report.error_row_count) == (4, 1)
    assert [(row.number, row.errors[0].code) for row in report.error_rows] == [
        (5, "unknown_source")]
    assert not Claim.objects.exists() and not Citation.objects.exists()


def test_incident_title_shared_by_several_incidents_must_be_an_id(case, reporter):
    first = IncidentFactory(case=case, title="Raid")
    second = IncidentFactory(case=case, title="raid")
    report = _import(case, reporter, "statement,incident\nTen fled.,RAID\n")

    assert _problems(report) == [(
        2, f"incident: several incidents of the case are called “RAID”: give the id of the one "
           f"meant ({first.pk}, {second.pk})", "ambiguous_incident")]
    report = _import(case, reporter, f"statement,incident\nTen fled.,{second.pk}\n")
    assert report.ok and Claim.objects.get().incident == second


def test_source_names_differing_only_in_capitals_must_be_written_exactly(case, reporter):
    exact = SourceFactory(case=case, name="RIA")
    SourceFactory(case=case, name="Ria")
    report = _import(case, reporter, "statement,source\nTen fled.,ria\n")

    assert _problems(report) == [(
        2, "source: several sources of the case are called “ria”, in different capitals: "
           "write the name exactly", "ambiguous_source")]
    report = _import(case, reporter, "statement,source\nTen fled.,RIA\n")
    assert report.ok and Citation.objects.get().source == exact


def test_another_cases_sources_and_incidents_are_unknown(case, reporter):
    other = CaseFactory(title="Another story")
    SourceFactory(case=other, name="Secret outlet")
    incident = IncidentFactory(case=other, title="Elsewhere")
    report = _import(case, reporter, f"statement,source,incident\nTen fled.,Secret outlet,"
                                     f"{incident.pk}\n")

    assert [code for _row, _text, code in _problems(report)] == [
        "unknown_incident", "unknown_source"]


def test_missing_statement_column_refuses_the_file_with_its_code(case, reporter):
    with pytest.raises(imports.FileRefused) as refused:
        _import(case, reporter, "claim,source\nC1,161.ru\n")
    assert refused.value.code == "missing_column"


# --- protected sources --------------------------------------------------------------------

ADDRESS = "https://t.me/relative_of_a_deserter/77"


@pytest.mark.parametrize("through", ["source", "via", "reached_via"])
def test_protected_sources_address_is_sealed_from_anyone_who_imports_it(
        case, reporter, story, through, django_capture_on_commit_callbacks, settings):
    settings.CAPTURE_ON_SAVE = True
    relative = SourceFactory(case=case, name="Relative", protected=True)
    if through == "source":
        row = f"Ten fled.,Relative,,{ADDRESS}\n"
    elif through == "via":
        row = f"Ten fled.,161.ru,Relative,{ADDRESS}\n"
    else:
        SourceFactory(case=case, name="Neighbour", reached_via=relative)
        row = f"Ten fled.,Neighbour,,{ADDRESS}\n"
    text = "statement,source,via,url\n" + row + "Four caught.,161.ru,,https://161.ru/2\n"

    with django_capture_on_commit_callbacks(execute=True):
        report = _import(case, reporter, text)

    assert report.ok
    sealed = Citation.objects.get(claim__statement="Ten fled.")
    assert (sealed.url, sealed.protected_url) == ("", ADDRESS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, protected_url FROM cases_citation WHERE id = %s",
                       [sealed.pk])
        stored = cursor.fetchone()
        cursor.execute("SELECT url, protected_url FROM cases_historicalcitation WHERE id = %s",
                       [sealed.pk])
        stored_history = cursor.fetchone()
    assert ADDRESS not in str(stored) and ADDRESS not in str(stored_history)
    # Only the public address is captured (a protected one only at a handler's request).
    assert list(Capture.objects.values_list("url", flat=True)) == ["https://161.ru/2"]


def test_preview_never_shows_a_protected_sources_address(client, case, handler, story):
    SourceFactory(case=case, name="Relative", protected=True)
    client.force_login(handler)
    response = _upload(client, case, f"statement,source,url\nTen fled.,Relative,{ADDRESS}\n"
                                     "Four caught.,161.ru,https://161.ru/2\n")

    page = response.content.decode()
    assert response.status_code == 200 and response.context["report"].ok
    assert ADDRESS not in page and "(for source handlers only)" in page
    assert "https://161.ru/2" in page


# --- the browser ---------------------------------------------------------------------------

def _upload(client, case, text, *, name="claims.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(reverse("cases:import_upload", args=[case.slug]),
                       {"kind": "claims", "file": SimpleUploadedFile(name, data)})


def test_claims_import_is_for_reporters_and_editors_only(client, case, outsider, viewer,
                                                         reporter, story):
    url = reverse("cases:import_upload", args=[case.slug])
    for user, expected in ((outsider, 404), (viewer, 404), (reporter, 200)):
        client.force_login(user)
        assert client.get(url + "?kind=claims").status_code == expected
        assert _upload(client, case, CLAIMS_CSV).status_code == expected
    token = _upload(client, case, CLAIMS_CSV).context["token"]
    confirm = reverse("cases:import_confirm", args=[case.slug])
    for user in (outsider, viewer):
        client.force_login(user)
        assert client.post(confirm, {"token": token}).status_code == 404
    assert not Claim.objects.exists()  # a preview writes nothing, a refused confirm neither


def test_preview_shows_the_rows_and_confirm_writes_them(client, case, reporter, story):
    client.force_login(reporter)
    preview = _upload(client, case, CLAIMS_CSV)

    page = preview.content.decode()
    assert preview.status_code == 200
    assert "2 claims and 3 citations can be imported." in page
    assert "Ten soldiers fled the training ground." in page
    assert "Southern Military District press office" in page
    assert "Import 2 claims and 3 citations" in page
    assert not Claim.objects.exists()

    response = client.post(reverse("cases:import_confirm", args=[case.slug]),
                           {"token": preview.context["token"]}, follow=True)

    assert response.redirect_chain == [(reverse("cases:claims_board", args=[case.slug]), 302)]
    assert "Imported 2 claims and 3 citations from “claims.csv”." in response.content.decode()
    assert Claim.objects.count() == 2 and Citation.objects.count() == 3


def test_preview_of_a_bad_file_lists_the_row_and_offers_no_import(client, case, reporter,
                                                                  story):
    client.force_login(reporter)
    response = _upload(client, case, "statement,source\nTen fled.,161.ru\nFour caught.,Nobody\n")

    page = response.content.decode()
    assert "1 of 2 rows has a problem" in page
    assert "source: the case has no source called “Nobody”" in page
    assert 'name="token"' not in page


def test_confirm_checks_again_against_the_case_as_it_is_now(client, case, reporter, story):
    client.force_login(reporter)
    token = _upload(client, case, CLAIMS_CSV).context["token"]
    story["press"].citations.all().delete()
    Source.objects.filter(pk=story["press"].pk).delete()  # deleted meanwhile

    response = client.post(reverse("cases:import_confirm", args=[case.slug]), {"token": token})

    assert response.status_code == 409
    assert "no source called “Southern Military District press office”" in (
        response.content.decode())
    assert not Claim.objects.exists()


# --- cost ----------------------------------------------------------------------------------

def _claims_csv(count: int) -> str:
    rows = "".join(f"C{n},Claim number {n}.,Soldiers leave the training ground,161.ru,"
                   f"https://161.ru/{n}\n"
                   f"C{n},,,Southern Military District press office,\n" for n in range(count))
    return "claim,statement,incident,source,url\n" + rows


@pytest.mark.parametrize("count", [1, 7])
def test_import_issues_the_same_queries_for_one_claim_or_many(
        case, reporter, story, django_assert_num_queries, count):
    access = get_case_for_user(reporter, case.slug)
    data = _claims_csv(count).encode()
    # Checking: the case's sources and its incidents, once each. Writing: the claims and
    # their history rows; the citations' sources and the case's lineages (the sealing of
    # protected addresses), the citations and their history rows. Each bulk write and the
    # whole run in a savepoint.
    with django_assert_num_queries(14):
        report = imports.import_file("claims", access, reporter, data, "claims.csv")
    assert report.written == count and Citation.history.count() == 2 * count
    assert set(Claim.objects.values_list("incident", flat=True)) == {story["incident"].pk}


@pytest.mark.parametrize("count", [1, 7])
def test_confirm_issues_the_same_queries_for_one_claim_or_many(
        client, case, reporter, story, django_assert_num_queries, count):
    client.force_login(reporter)
    token = _upload(client, case, _claims_csv(count)).context["token"]
    confirm = reverse("cases:import_confirm", args=[case.slug])

    # The session, the user, the membership with its case; then the import's 14 (above).
    with django_assert_num_queries(17):
        response = client.post(confirm, {"token": token})

    assert response.status_code == 302 and Claim.objects.count() == count


def test_sample_claims_file_in_docs_imports_after_the_other_samples(case, reporter, settings):
    samples = Path(settings.BASE_DIR) / "docs" / "samples"
    IncidentTypeFactory(name="Desertion", slug="desertion")
    IncidentTypeFactory(name="Arrest", slug="arrest")
    access = get_case_for_user(reporter, case.slug)
    for kind in ("incidents", "sources"):
        earlier = imports.import_file(kind, access, reporter,
                                      (samples / f"{kind}.csv").read_bytes(), f"{kind}.csv")
        assert earlier.ok
    report = _import(case, reporter, (samples / "claims.csv").read_bytes())

    assert report.ok, _problems(report)
    assert report.counts == {"claims": 4, "citations": 6}
    relayed = Citation.objects.get(source__name="Outlet in exile")
    assert [link.source.name for link in relayed.relay_links.all()] == [
        "161.ru", "Military investigators (anonymous)"]
    assert Claim.objects.filter(incident__isnull=False).count() == 2


def test_claims_file_over_the_row_limit_is_refused_whole(case, reporter, story, settings):
    settings.CASEDESK_IMPORT_MAX_ROWS = 2
    with pytest.raises(imports.FileRefused) as refused:
        _import(case, reporter, CLAIMS_CSV + "C3,Six caught.,,,,,,161.ru,,,,,,\n")
    assert refused.value.code == "too_many_rows"
    assert not Claim.objects.exists()


# Any value in any cell of a claims row: imported, or refused with a code; never an exception.
_cell_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", "161.ru", "161.RU", "Soldiers leave the training ground", "C1",
                     "incident-1", "1e12", "1,200", "10,5", "at least", "2", "confirmed",
                     "2025-05-09", "2025-05-09 14:30+20:00", "0001-01-01", "x" * 600,
                     "https://161.ru/" + "a" * 490, "'=161.ru"]),
)
_COLUMNS = [column.name for column in imports.ClaimImporter.columns]


@given(st.lists(st.lists(_cell_values, min_size=len(_COLUMNS), max_size=len(_COLUMNS)),
                min_size=1, max_size=3))
@hypothesis_settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_cells_are_imported_or_refused_with_codes(case, reporter, story, rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(_COLUMNS)
    buffer = io.BytesIO()
    try:
        for row in rows:
            sheet.append(row)
        workbook.save(buffer)
    except (IllegalCharacterError, ValueError):
        return  # a value openpyxl itself will not write (a control character)
    with transaction.atomic():
        try:
            report = _import(case, reporter, buffer.getvalue(), "claims.xlsx")
        except imports.FileRefused as refused:
            assert refused.code and not Claim.objects.exists()
        else:
            if report.ok:
                assert Claim.objects.count() == report.written == report.counts["claims"]
                assert set(Claim.objects.values_list("status", flat=True)) == {"unverified"}
            else:
                assert not Claim.objects.exists() and not Citation.objects.exists()
                assert all(error.code for row in report.error_rows for error in row.errors)
        transaction.set_rollback(True)


def test_import_claims_command_imports_the_sample_file(case, reporter, settings):
    samples = Path(settings.BASE_DIR) / "docs" / "samples"
    IncidentTypeFactory(name="Desertion", slug="desertion")
    IncidentTypeFactory(name="Arrest", slug="arrest")
    for kind in ("incidents", "sources"):
        call_command(f"import_{kind}", case.slug, str(samples / f"{kind}.csv"), "--user",
                     reporter.username, "--no-progress")
    call_command("import_claims", case.slug, str(samples / "claims.csv"), "--user",
                 reporter.username, "--no-progress")

    claims = Claim.objects.filter(case=case)
    assert claims.count() == 4
    assert set(claims.values_list("status", flat=True)) == {VerificationStatus.UNVERIFIED}
    assert Citation.objects.filter(claim__case=case).count() == 6
