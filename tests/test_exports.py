"""Exports of a case: ACLED-style CSV and XLSX, GeoJSON, ClaimReview JSON-LD and the whole
case as JSON (with its round trip through the importer). No export carries an identity."""

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from cases import exports, imports
from cases.access import get_case_for_user
from cases.enums import Role
from cases.models import (
    Citation,
    Claim,
    CommentRequest,
    Incident,
    Membership,
    Source,
    SourceIdentity,
    Task,
)
from cases.workflow import transition

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db

CANARY_NAME = "Canary Petrova 4412"
CANARY_CONTACT = "canary-signal-+7-900-000-4412"
CANARY_NOTES = "canary notes: lives above the bakery"
CANARY_URL = "https://t.me/canary_private_4412"


def _body(response) -> bytes:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content)
    return response.content


def _download(client, case, name):
    response = client.get(reverse("cases:export_case", args=[case.slug]), {"format": name})
    assert response.status_code == 200, name
    return response, _body(response)


@pytest.fixture
def story(case, reporter, editor):
    """A case with located and unlocated incidents, public and protected sources (one with a
    canary identity), claims (one with a final verdict), citations, a task and a request."""
    desertion = IncidentTypeFactory(name="Desertion", slug="desertion")
    outlet = SourceFactory(case=case, name="161.ru", kind="outlet", url="https://161.ru/x",
                           reliability="C")
    insiders = SourceFactory(case=case, name="Investigators", kind="person", protected=True,
                             url=CANARY_URL, reached_via=outlet)
    # The address went into the identity as the source was saved.
    SourceIdentity.objects.filter(source=insiders).update(
        real_name=CANARY_NAME, contact=CANARY_CONTACT, private_notes=CANARY_NOTES)
    ministry = SourceFactory(case=case, name="Defence Ministry", kind="official")
    located = IncidentFactory(case=case, title="Ten leave the training ground", type=desertion,
                              occurred="2024-05-09", latitude=Decimal("47.530100"),
                              longitude=Decimal("40.165700"), geo_precision="point",
                              involved=10, detained=6, at_large=4, description="=HYPERLINK()")
    vague = IncidentFactory(case=case, title="Search announced", occurred="2024-05~",
                            place_name="", admin_region="Rostov Oblast")
    CitationFactory(claim=None, incident=located, source=insiders, relays=[outlet],
                    url=CANARY_URL, quote="They left at night.")
    claim = ClaimFactory(case=case, incident=located, statement="Ten soldiers deserted.",
                         figure_value=Decimal("10"), figure_unit="deserters",
                         figure_qualifier="at_least", created_by=reporter)
    CitationFactory(claim=claim, source=outlet, url="https://161.ru/x")
    CitationFactory(claim=claim, source=ministry, relation="denies", quote="No one deserted.")
    refuted = ClaimFactory(case=case, incident=vague, statement="The search ended.",
                           created_by=reporter)
    CitationFactory(claim=refuted, source=ministry, relation="denies")
    transition(refuted, "false", actor=editor, note="The ministry itself says it goes on.")
    TaskFactory(case=case, title="Archive the 161.ru page", incident=located, assignee=reporter,
                claim=claim)
    CommentRequestFactory(case=case, incident=located, party_source=ministry,
                          outcome="declined")
    return {"located": located, "vague": vague, "claim": claim, "refuted": refuted}


def test_incident_csv_has_acled_columns_and_the_recorded_date(client, viewer, story, case):
    client.force_login(viewer)
    response, body = _download(client, case, "csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert list(rows[0]) == exports.INCIDENT_COLUMNS
    located = next(r for r in rows if r["title"] == "Ten leave the training ground")
    assert located | {"incident_id": ""} == located | {
        "event_date": "2024-05-09", "year": "2024", "time_precision": "1",
        "occurred": "2024-05-09", "event_type": "Desertion", "country": "RU",
        "admin1": "Rostov Oblast", "location": "Training ground", "latitude": "47.530100",
        "longitude": "40.165700", "geo_precision": "1", "place_precision": "point",
        "source": "Investigators; 161.ru; Defence Ministry",
        "source_scale": "Insider or person; News outlet; Official body",
        "notes": "'=HYPERLINK()", "involved": "10", "detained": "6", "at_large": "4",
        "killed": "", "incident_id": ""}
    vague = next(r for r in rows if r["title"] == "Search announced")
    assert (vague["event_date"], vague["time_precision"], vague["occurred"],
            vague["date_in_words"]) == ("2024-05-01", "3", "2024-05~", "about May 2024")


def test_incident_csv_reimports_into_another_case(client, editor, story, case):
    client.force_login(editor)
    _response, body = _download(client, case, "csv")
    other = CaseFactory(title="Copy")
    MembershipFactory(case=other, user=editor, role=Role.EDITOR)

    report = imports.import_file("incidents", get_case_for_user(editor, other.slug), editor,
                                 body, "export.csv")

    assert report.ok, report.error_rows
    fields = ("title", "occurred", "type_id", "latitude", "geo_precision", "involved",
              "detained", "at_large", "description", "admin_region")
    original = sorted(Incident.objects.of_case(case).values_list(*fields))
    copied = sorted(Incident.objects.of_case(other).values_list(*fields))
    assert copied == original


def test_incident_xlsx_holds_the_same_rows(client, viewer, story, case):
    client.force_login(viewer)
    _response, body = _download(client, case, "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == exports.INCIDENT_COLUMNS
    by_title = {row[exports.INCIDENT_COLUMNS.index("title")]: row for row in rows[1:]}
    located = dict(zip(exports.INCIDENT_COLUMNS, by_title["Ten leave the training ground"],
                       strict=True))
    assert (located["latitude"], located["notes"], located["occurred"]) == (
        47.5301, "=HYPERLINK()", "2024-05-09")
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml  # the formula-looking text is stored as text


def test_geojson_holds_located_incidents_longitude_first(client, viewer, story, case):
    client.force_login(viewer)
    _response, body = _download(client, case, "geojson")

    collection = json.loads(body)
    assert collection["type"] == "FeatureCollection"
    (feature,) = collection["features"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [40.1657, 47.5301]}
    assert feature["properties"]["title"] == "Ten leave the training ground"
    assert feature["properties"]["place_precision"] == "point"


def test_claimreview_lists_only_claims_with_a_final_verdict(client, viewer, story, case):
    client.force_login(viewer)
    _response, body = _download(client, case, "claimreview")

    document = json.loads(body)
    assert document["@context"] == "https://schema.org"
    (review,) = document["@graph"]
    assert review["@type"] == "ClaimReview"
    assert review["claimReviewed"] == "The search ended."
    assert review["reviewRating"] == {"@type": "Rating", "ratingValue": 1, "bestRating": 5,
                                      "worstRating": 1, "alternateName": "False"}
    assert review["datePublished"] == timezone.now().date().isoformat()
    assert review["itemReviewed"]["@type"] == "Claim"


def test_no_export_carries_a_protected_identity(client, make_member, story, case, tmp_path):
    handler = make_member(Role.EDITOR, username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    client.force_login(handler)  # even a source handler's exports leave identities out
    canaries = [CANARY_NAME, CANARY_CONTACT, CANARY_NOTES, CANARY_URL, "canary"]
    for name in exports.EXPORTS:
        _response, body = _download(client, case, name)
        if name == "xlsx":
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                body = b"".join(archive.read(member) for member in archive.namelist())
        text = body.decode("utf-8", "replace").lower()
        for canary in canaries:
            assert canary.lower() not in text, (name, canary)
    assert "Investigators" in _download(client, case, "json")[1].decode()  # by codename


def test_export_is_for_members_only(client, case, outsider, viewer, editor, story):
    url = reverse("cases:export_case", args=[case.slug])
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(url, {"format": "csv"}).status_code == 404
    for member in (viewer, editor):
        client.force_login(member)
        page = client.get(url)
        assert "Located incidents (GeoJSON)" in page.content.decode()
        assert b"Search announced" in _download(client, case, "csv")[1]
    assert client.get(url, {"format": "pdf"}).status_code == 404
    # Only those who may import see the Import link.
    client.force_login(viewer)
    assert reverse("cases:import_upload", args=[case.slug]) not in client.get(url).content.decode()


@pytest.mark.parametrize("name", ["csv", "json", "geojson", "claimreview", "xlsx"])
def test_export_queries_do_not_grow_with_records(client, viewer, story, case, name,
                                                 django_assert_max_num_queries):
    client.force_login(viewer)
    with django_assert_max_num_queries(20) as few:
        _download(client, case, name)
    for _ in range(30):
        incident = IncidentFactory(case=case, latitude=Decimal("47"), longitude=Decimal("40"),
                                   geo_precision="town")
        claim = ClaimFactory(case=case, incident=incident)
        CitationFactory(claim=claim, source=Source.objects.get(name="161.ru"))
        TaskFactory(case=case, incident=incident)
    with django_assert_max_num_queries(len(few.captured_queries)):
        _download(client, case, name)


# --- the whole case as JSON, and back ------------------------------------------------------

def _normalised(document: dict) -> dict:
    """The export with its ids replaced by what they point at, so two cases compare."""
    names = {}
    for incident in document["incidents"]:
        names[incident["ref"]] = "incident:" + incident["title"]
    for source in document["sources"]:
        names[source["ref"]] = "source:" + source["name"]
    for claim in document["claims"]:
        names[claim["ref"]] = "claim:" + claim["statement"]

    def name(value):
        if isinstance(value, list):  # a citation's relays
            return [names.get(v, v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    def resolve(record, drop=()):
        return {k: name(v) for k, v in record.items() if k not in ("ref", *drop)}

    return {
        "incidents": sorted((resolve(r) for r in document["incidents"]), key=str),
        "sources": sorted((resolve(r) for r in document["sources"]), key=str),
        "claims": sorted((resolve(r, ("status", "verification")) for r in document["claims"]),
                         key=str),
        "citations": sorted((resolve(r) for r in document["citations"]), key=str),
        "tasks": sorted((resolve(r) for r in document["tasks"]), key=str),
        "comment_requests": sorted((resolve(r, ("asked_by",))
                                    for r in document["comment_requests"]), key=str),
    }


def test_case_json_round_trip_gives_the_same_records(client, editor, reporter, story, case):
    client.force_login(editor)
    _response, body = _download(client, case, "json")
    exported = json.loads(body)
    assert exported["format"] == "casedesk-case"
    refuted = next(c for c in exported["claims"] if c["statement"] == "The search ended.")
    assert refuted["status"] == "false"
    assert refuted["verification"][0]["actor"] == "editor"

    empty = CaseFactory(title="Copy of the story")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    MembershipFactory(case=empty, user=reporter, role=Role.REPORTER)
    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(body)

    assert report.ok, report.error_rows
    assert any("start unverified" in note for note in report.notes)
    again = json.loads(b"".join(s.encode() for s in exports.case_json(empty)))
    assert _normalised(again) == _normalised(exported)
    assert Claim.objects.of_case(empty).filter(status="unverified").count() == 2
    assert Task.objects.of_case(empty).get().assignee == reporter
    assert not SourceIdentity.objects.filter(source__case=empty).exists()
    for model in (Incident, Source, Claim, Task, CommentRequest):
        history = model.history.filter(case=empty)
        assert history.count() == model.objects.of_case(empty).count() > 0
        assert set(history.values_list("history_user", flat=True)) == {editor.pk}
    citation_history = Citation.history.filter(source__case=empty)
    assert citation_history.count() == Citation.objects.of_case(empty).count() == 4


def test_case_json_imports_only_into_an_empty_case(client, editor, story, case):
    body = b"".join(s.encode() for s in exports.case_json(case))
    with pytest.raises(imports.FileRefused, match="into an empty case only"):
        imports.CaseJSONImporter(get_case_for_user(editor, case.slug), editor).run(body)
    with pytest.raises(imports.FileRefused, match="not a Casedesk case export"):
        imports.CaseJSONImporter.load(b'{"format": "other"}')


def test_case_json_with_a_broken_link_writes_nothing(editor, story, case):
    document = json.loads(b"".join(s.encode() for s in exports.case_json(case)))
    document["citations"][0]["source"] = "source-999999"
    document["claims"][0]["statement"] = ""
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())

    errors = [e for row in report.error_rows for e in row.errors]
    assert "claim #1: statement: is empty" in errors
    assert "citation #1: source: “source-999999” is not a record of the file" in errors
    assert not Incident.objects.of_case(empty).exists()
    assert not Source.objects.of_case(empty).exists()


def test_export_case_command_writes_each_format(story, case, viewer, outsider, tmp_path):
    for name in exports.EXPORTS:
        path = tmp_path / f"out.{name}"
        call_command("export_case", case.slug, "--user", viewer.username, "--format", name,
                     "-o", str(path))
        assert path.stat().st_size > 0
    assert json.loads((tmp_path / "out.json").read_text())["case"]["slug"] == case.slug
    with pytest.raises(CommandError, match="is not a viewer"):
        call_command("export_case", case.slug, "--user", outsider.username, "--format", "csv")


def test_import_case_command_round_trip(story, case, editor, tmp_path):
    path = tmp_path / "case.json"
    call_command("export_case", case.slug, "--user", editor.username, "--format", "json",
                 "-o", str(path))
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    out = io.StringIO()
    call_command("import_case", empty.slug, str(path), "--user", editor.username, stdout=out)
    assert "Imported" in out.getvalue()
    assert Incident.objects.of_case(empty).count() == 2
    assert dt.date(2024, 5, 9) in Incident.objects.of_case(empty).values_list(
        "occurred_earliest", flat=True)
