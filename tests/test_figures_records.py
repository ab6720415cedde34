"""The incident's count qualifiers, count group and place in the case's people counts on
every write and read path: the incident form, the API, the CSV and JSON exports and their
imports (round trip), and the admin."""

import csv
import io
import json

import pytest
from django.urls import reverse

from cases import exports, imports
from cases.access import get_case_for_user
from cases.enums import Role
from cases.models import Incident

from .factories import CaseFactory, IncidentFactory, MembershipFactory
from .test_api import API, token_client

pytestmark = pytest.mark.django_db

FIELDS = ("title", "involved", "involved_qualifier", "detained", "detained_qualifier",
          "at_large", "at_large_qualifier", "count_group", "in_case_counts")


@pytest.fixture
def counted(case):
    IncidentFactory(case=case, title="Hundreds fled", involved=100, involved_qualifier="more_than",
                    detained=40, detained_qualifier="about", count_group="Kadamovsky desertion")
    IncidentFactory(case=case, title="Unrelated desertion", involved=2, detained=2,
                    in_case_counts=False)
    IncidentFactory(case=case, title="Plain", involved=10, at_large=4)


def _values(case):
    return sorted(Incident.objects.of_case(case).values_list(*FIELDS))


def test_incident_form_saves_qualifiers_and_group(client, case, reporter):
    client.force_login(reporter)
    url = reverse("cases:incident_create", args=[case.slug])
    page = client.get(url).content.decode()
    for field in ("involved_qualifier", "at_large_qualifier", "count_group", "in_case_counts"):
        assert f'name="{field}"' in page
    response = client.post(url, {
        "title": "Fled", "occurred": "2025-05-09", "involved": "100",
        "involved_qualifier": "more_than", "detained": "60", "detained_qualifier": "exactly",
        "killed_qualifier": "exactly", "injured_qualifier": "exactly",
        "missing_qualifier": "exactly", "at_large_qualifier": "at_least", "at_large": "40",
        "count_group": "  Kadamovsky   desertion ", "in_case_counts": "on",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(title="Fled")
    assert (incident.involved_qualifier, incident.at_large_qualifier, incident.count_group,
            incident.in_case_counts) == ("more_than", "at_least", "Kadamovsky desertion", True)
    assert incident.history.get().count_group == "Kadamovsky desertion"


def test_incident_form_refuses_counts_above_any_qualified_involved(client, case, reporter):
    client.force_login(reporter)
    response = client.post(reverse("cases:incident_create", args=[case.slug]), {
        "title": "Fled", "occurred": "2025-05-09", "involved": "10",
        "involved_qualifier": "fewer_than", "detained": "10", "detained_qualifier": "exactly",
        "killed_qualifier": "exactly", "injured_qualifier": "exactly",
        "missing_qualifier": "exactly", "at_large_qualifier": "exactly",
    })
    assert response.status_code == 400
    assert "more than the people involved (fewer than 10)." in response.content.decode()
    assert not Incident.objects.filter(title="Fled").exists()


def test_api_writes_and_reads_qualifiers_and_group(world, reporter):
    response = token_client(reporter).post(f"{API}/incidents/", {
        "case": world["cases"].pk, "title": "Manhunt", "occurred": "2025-05-09",
        "involved": 300, "involved_qualifier": "about", "count_group": " Rostov ",
        "in_case_counts": False,
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["involved_qualifier"], body["count_group"], body["in_case_counts"],
            body["detained_qualifier"]) == ("about", "Rostov", False, "exactly")
    refused = token_client(reporter).post(f"{API}/incidents/", {
        "case": world["cases"].pk, "title": "Bad", "occurred": "2025-05-09",
        "involved": 3, "involved_qualifier": "roughly"}, format="json")
    assert refused.status_code == 400 and "involved_qualifier" in refused.json()
    assert not Incident.objects.filter(title="Bad").exists()


def test_case_json_round_trip_keeps_qualifiers_and_groups(case, editor, counted):
    body = b"".join(s.encode() for s in exports.case_json(case))
    document = json.loads(body)
    hundreds = next(r for r in document["incidents"] if r["title"] == "Hundreds fled")
    assert (hundreds["involved_qualifier"], hundreds["count_group"],
            hundreds["in_case_counts"]) == ("more_than", "Kadamovsky desertion", True)
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(body)

    assert report.ok, report.error_rows
    assert _values(empty) == _values(case)


def test_incident_csv_round_trip_keeps_qualifiers_and_groups(client, case, editor, counted):
    client.force_login(editor)
    response = client.get(reverse("cases:export_case", args=[case.slug]), {"format": "csv"})
    body = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    unrelated = next(r for r in rows if r["title"] == "Unrelated desertion")
    assert (unrelated["in_case_counts"], unrelated["involved_qualifier"]) == ("no", "exactly")
    other = CaseFactory(title="Copy")
    MembershipFactory(case=other, user=editor, role=Role.EDITOR)

    report = imports.import_file("incidents", get_case_for_user(editor, other.slug), editor,
                                 body, "export.csv")

    assert report.ok, report.error_rows
    assert _values(other) == _values(case)


def test_incident_csv_import_refuses_unknown_qualifier_and_impossible_counts(case, editor):
    text = ("title,occurred,involved,involved_qualifier,detained\n"
            "Raid,2024,3,roughly,1\n"
            "Siege,2024,10,fewer_than,10\n"
            "Fine,2024,10,more than,12\n")
    report = imports.import_file("incidents", get_case_for_user(editor, case.slug), editor,
                                 text.encode(), "incidents.csv")
    assert report.written == 0 and not Incident.objects.exists()
    errors = {row.number: row.errors for row in report.error_rows}
    assert "involved_qualifier: “roughly” is not one of" in errors[2][0]
    assert errors[3] == ["involved: Detained, killed, missing and at large add up to 10, more "
                         "than the people involved (fewer than 10)."]
    assert [e.code for e in errors[3]] == ["counts_exceed_involved"]
    assert 4 not in errors  # more than 10 involved may be 12


def test_admin_incident_form_has_qualifiers_and_group(client, case, editor, make_staff):
    make_staff(editor)
    incident = IncidentFactory(case=case, involved=5, involved_qualifier="at_least")
    client.force_login(editor)
    page = client.get(reverse("admin:cases_incident_change", args=[incident.pk])).content.decode()
    for field in ("involved_qualifier", "count_group", "in_case_counts"):
        assert f'name="{field}"' in page
