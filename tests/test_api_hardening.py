"""The API under bad input and concurrent writers (issue 11, §2 and §4): strict JSON bodies
(no NUL, lone surrogate, NaN or deep nesting reaches a field), the NUL-byte guard on every URL,
OPTIONS on every detail route, unknown query parameters and body fields refused by name, and
If-Match required on every write to an existing record (428 without it, 412 when stale), with
two editors per model."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from rest_framework.settings import api_settings

from api import serializers as s
from api.urls import router
from capture.models import Capture
from cases import links
from cases.enums import CitationRelation, IncidentLinkKind, Role, VerificationStatus
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Incident,
    Source,
    Task,
    VerificationEvent,
)

from .factories import (
    CaseFactory,
    CitationFactory,
    EvidenceFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
)
from .test_api import API, token_client, version

pytestmark = pytest.mark.django_db

MODELS = {"cases": Case, "incidents": Incident, "sources": Source, "claims": Claim,
          "citations": Citation, "tasks": Task, "comment-requests": CommentRequest}
SERIALIZERS = {"cases": s.CaseSerializer, "incidents": s.IncidentSerializer,
               "sources": s.SourceSerializer, "claims": s.ClaimSerializer,
               "citations": s.CitationSerializer, "tasks": s.TaskSerializer,
               "comment-requests": s.CommentRequestSerializer}


def _writable_fields():
    """(endpoint, field) for every field a client may send, the workflow's moves included."""
    for kind, serializer in SERIALIZERS.items():
        for name, field in serializer().fields.items():
            if not field.read_only:
                yield kind, name
    yield "transition", "to_status"
    yield "propose", "verdict"


def _post_raw(api, url, text, **headers):
    return api.generic("POST", url, text, content_type="application/json", **headers)


def _send(api, world, endpoint, text):
    """POST `text` to the endpoint's create URL, or to the claim's workflow move; a case's
    fields go to the case as a change (opening a case is a newsroom right of its own)."""
    if endpoint in ("transition", "propose"):
        claim_url = f"{API}/claims/{world['claims'].pk}/"
        return _post_raw(api, f"{claim_url}{endpoint}/", text, **version(api, claim_url))
    if endpoint == "cases":
        url = f"{API}/cases/{world['cases'].pk}/"
        return api.generic("PATCH", url, text, content_type="application/json",
                           **version(api, url))
    return _post_raw(api, f"{API}/{endpoint}/", text)


def _counts():
    return {kind: model.objects.count() for kind, model in MODELS.items()} | {
        "events": VerificationEvent.objects.count(),
        "case changes": Case.history.filter(history_type="~").count()}


# --- strict JSON bodies ------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "field"), list(_writable_fields()))
def test_lone_surrogate_in_any_field_is_refused_naming_the_field(world, editor, endpoint,
                                                                 field):
    # Lone surrogates in choice fields gave UnicodeEncodeError while the 400 was rendered.
    before = _counts()
    response = _send(token_client(editor), world, endpoint,
                     json.dumps({field: "ok\ud800"}))
    assert response.status_code == 400
    assert list(response.data) == [field]
    assert response.data[field][0].code == "surrogate"
    assert "U+D800" in response.json()[field][0]
    assert _counts() == before


@pytest.mark.parametrize(("endpoint", "field"),
                         [("cases", "lead"), ("tasks", "assignee"),
                          ("comment-requests", "asked_by"), ("incidents", "type"),
                          ("incidents", "title"), ("transition", "note")])
def test_nul_byte_in_a_body_is_refused_before_any_lookup(world, editor, endpoint, field):
    # NUL in a lookup field was a DataError (500) on PostgreSQL.
    before = _counts()
    response = _send(token_client(editor), world, endpoint, json.dumps({field: "a\x00b"}))
    assert response.status_code == 400
    assert response.data[field][0].code == "nul"
    assert _counts() == before


def test_nul_byte_in_a_key_is_refused(world, editor):
    response = _post_raw(token_client(editor), f"{API}/tasks/", '{"ti\\u0000tle": "x"}')
    assert response.status_code == 400
    assert response.json()["code"] == "nul"
    assert Task.objects.count() == 1


def test_deep_nesting_is_refused_naming_where(world, editor):
    # 1,000 levels gave RecursionError (500).
    api = token_client(editor)
    deep = _post_raw(api, f"{API}/incidents/", '{"title": ' + "[" * 1000 + "]" * 1000 + "}")
    assert deep.status_code == 400
    (path,) = deep.data
    assert path.startswith("title[0][0]")
    assert deep.data[path][0].code == "too_deep"
    bare = _post_raw(api, f"{API}/incidents/", "[" * 1000 + "]" * 1000)
    assert bare.status_code == 400
    (path,) = bare.data
    assert path.startswith("[0][0]")
    assert bare.data[path][0].code == "too_deep"
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused_naming_the_field(world, editor, literal):
    response = _post_raw(token_client(editor), f"{API}/incidents/",
                         f'{{"case": {world["cases"].pk}, "title": "x", "occurred": "2025", '
                         f'"latitude": {literal}, "longitude": 1}}')
    assert response.status_code == 400
    assert response.data["latitude"][0].code == "not_finite"
    assert Incident.objects.count() == 1


def test_the_apis_renderer_writes_a_lone_surrogate_as_an_escape():
    # Defence in depth: should such text reach a response, writing it must not fail.
    (renderer_class,) = api_settings.DEFAULT_RENDERER_CLASSES
    rendered = renderer_class().render({"status": ["“\ud800” is not a valid choice."]})
    assert b"\\ud800" in rendered
    assert json.loads(rendered) == {"status": ["“\ud800” is not a valid choice."]}
    assert renderer_class().render({"title": "Ростов"}) == '{"title":"Ростов"}'.encode()


# --- NUL bytes in the address ----------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/api/v1/incident-types/%00/", "/api/v1/tasks/?assignee=%00", "/api/v1/incidents/?type=%00",
    "/api/v1/cases/?slug=a%00b", "/api/v1/claims/1%00/", "/api/v1/%00",
])
def test_nul_byte_in_an_api_address_is_a_json_400_before_any_query(world, reporter, url,
                                                                   django_assert_num_queries):
    IncidentTypeFactory(slug="arrest")
    api = token_client(reporter)
    with django_assert_num_queries(0):
        response = api.get(url)
    assert response.status_code == 400
    assert response.json()["code"] == "nul_byte"


@pytest.mark.parametrize("url", ["/cases/%00/", "/search/?q=%00", "/accounts/login/?next=%00"])
def test_nul_byte_in_a_page_address_is_a_400(client, reporter, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 400
    client.force_login(reporter)
    signed_in = client.get(url)
    assert signed_in.status_code == 400
    assert "Bad Request" in signed_in.content.decode()


def test_an_encoded_percent_sign_is_not_a_nul_byte(world, reporter):
    response = token_client(reporter).get(f"{API}/cases/?slug=%2500")
    assert response.status_code == 200
    assert response.json()["results"] == []


# --- OPTIONS -----------------------------------------------------------------------------------

def _detail_routes():
    """(url name, lookup kwarg) of every API route that names one record."""
    for pattern in router.urls:
        if isinstance(pattern, URLPattern) and pattern.pattern.regex.groupindex.keys() - {
                "format"}:
            yield pattern.name, next(iter(pattern.pattern.regex.groupindex.keys() - {"format"}))


@pytest.mark.django_db(transaction=True)
def test_options_on_every_detail_route_answers_without_locking(world, editor):
    # OPTIONS ran get_object() as a PUT, whose row lock outside a transaction raised
    # TransactionManagementError on PostgreSQL (a test's own transaction would hide it).
    records = {**world, "incident-types": IncidentTypeFactory(slug="arrest"),
               "evidence": EvidenceFactory(case=world["cases"]),
               "captures": Capture.objects.create(case=world["cases"],
                                                  citation=world["citations"],
                                                  requested_by=editor)}
    other_case = CaseFactory()
    MembershipFactory(case=other_case, user=editor, role=Role.EDITOR)
    records["case-links"] = links.link_cases(world["cases"], other_case, actor=editor)
    records["incident-links"] = links.link_incidents(
        world["incidents"], IncidentFactory(case=world["cases"]), actor=editor,
        kind=IncidentLinkKind.RELATED)
    api = token_client(editor)
    routes = list(_detail_routes())
    assert len(routes) >= 11  # every viewset's detail, and the claims' three actions
    for name, kwarg in routes:
        kind = {"case": "cases", "incidenttype": "incident-types", "incident": "incidents",
                "source": "sources", "claim": "claims", "citation": "citations",
                "task": "tasks", "commentrequest": "comment-requests",
                "evidence": "evidence", "capture": "captures", "caselink": "case-links",
                "incidentlink": "incident-links"}[name.split("-")[0]]
        record = records[kind]
        lookup = record.slug if kwarg == "slug" else record.pk
        url = reverse(f"api:{name}", kwargs={kwarg: lookup})
        with CaptureQueriesContext(connection) as queries:
            response = api.options(url)
        assert response.status_code == 200, (url, response.content)
        assert response.json()["name"]
        assert not [q for q in queries if "FOR UPDATE" in q["sql"]], url
        if name.endswith("-detail") and kind not in ("incident-types", "evidence", "captures",
                                                     "case-links", "incident-links"):
            assert "PUT" in response.json()["actions"], url
    assert Claim.objects.get().statement == "Ten men fled."


# --- unknown query parameters and body fields --------------------------------------------------

@pytest.mark.parametrize("kind", [*MODELS, "incident-types"])
def test_an_unknown_query_parameter_is_refused_naming_it(world, reporter, kind):
    api = token_client(reporter)
    response = api.get(f"{API}/{kind}/?search=nothing&page=1")
    assert response.status_code == 400
    assert list(response.data) == ["search", "codes"]
    assert response.json()["codes"] == {"search": ["unknown_parameter"]}
    assert "page_size" in response.data["search"][0]


def test_a_detail_takes_no_filter(world, reporter):
    api = token_client(reporter)
    url = f"{API}/claims/{world['claims'].pk}/"
    refused = api.get(f"{url}?status=confirmed&serach=x")
    assert refused.status_code == 400
    assert refused.json()["codes"] == {
        "status": ["unknown_parameter"], "serach": ["unknown_parameter"]}
    assert api.get(f"{url}?format=json").json()["id"] == world["claims"].pk


def test_every_documented_query_parameter_is_taken(world, reporter):
    api = token_client(reporter)
    schema = api.get("/api/schema/?format=json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        names = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        path = path.replace("{id}", str(world["claims"].pk)).replace("{slug}", "x")
        response = api.get(f"{path}?" + "&".join(f"{name}=1" for name in names))
        if response.status_code == 400:  # a value this filter does not take, then
            assert not [name for name, codes in response.json()["codes"].items()
                        if "unknown_parameter" in codes], (path, response.content)
        checked += len(names)
    assert checked > 50


def test_an_unknown_body_field_is_refused_and_nothing_is_created(world, reporter):
    api = token_client(reporter)
    response = api.post(f"{API}/incidents/", {
        "case": world["cases"].pk, "title": "Manhunt", "occurred": "2025-05-09",
        "related_cases": [world["cases"].pk], "involved": -1}, format="json")
    assert response.status_code == 400
    assert response.data["related_cases"][0].code == "unknown_field"
    assert "involved" in response.data  # the fields' own errors come with it
    assert Incident.objects.count() == 1


def test_an_unknown_field_in_a_change_or_a_move_is_refused(world, reporter):
    api = token_client(reporter)
    url = f"{API}/tasks/{world['tasks'].pk}/"
    response = api.patch(url, {"title": "Renamed", "priority": "high"}, format="json",
                         **version(api, url))
    assert response.status_code == 400
    assert response.data["priority"][0].code == "unknown_field"
    assert Task.objects.get().title == "Archive the original"
    claim_url = f"{API}/claims/{world['claims'].pk}/"
    move = api.post(f"{claim_url}transition/", {"to_status": "in_review", "reason": "x"},
                    format="json", **version(api, claim_url))
    assert move.status_code == 400
    assert move.data["reason"][0].code == "unknown_field"
    assert Claim.objects.get().status == VerificationStatus.UNVERIFIED
    assert not VerificationEvent.objects.exists()


def test_read_only_fields_sent_back_are_accepted(world, reporter):
    api = token_client(reporter)
    url = f"{API}/incidents/{world['incidents'].pk}/"
    read = api.get(url).json()
    response = api.put(url, {**read, "title": "Renamed"}, format="json", **version(api, url))
    assert response.status_code == 200, response.content
    assert Incident.objects.get().title == "Renamed"


# --- If-Match: required, and checked -----------------------------------------------------------

def _versioned_operations(world):
    """(method, url, body, record) of every write to an existing record."""
    for kind in MODELS:
        url = f"{API}/{kind}/{world[kind].pk}/"
        yield "patch", url, {}, world[kind]
    yield "delete", f"{API}/citations/{world['citations'].pk}/", None, world["citations"]
    claim_url = f"{API}/claims/{world['claims'].pk}/"
    yield "post", f"{claim_url}transition/", {"to_status": "in_review"}, world["claims"]
    yield "post", f"{claim_url}propose/", {"verdict": "false", "note": "No."}, world["claims"]


@pytest.mark.parametrize("header", [None, "", "*"])
def test_a_write_without_a_version_is_428_and_changes_nothing(world, editor, header):
    api = token_client(editor)
    extra = {} if header is None else {"HTTP_IF_MATCH": header}
    for method, url, body, record in _versioned_operations(world):
        before = type(record).objects.get(pk=record.pk).updated_at
        response = getattr(api, method)(url, body, format="json", **extra)
        assert response.status_code == 428, (method, url, response.content)
        assert response.json()["code"] == "if_match_required"
        assert "If-Match" in response.json()["detail"]
        assert type(record).objects.get(pk=record.pk).updated_at == before
    assert Citation.objects.exists()
    assert not VerificationEvent.objects.exists()


@pytest.mark.parametrize("etag", [
    '"2025-05-09T10:00:00+20:00"',  # PostgreSQL refuses offsets past 15:59 (a DataError)
    '"9999-12-31T23:59:59-15:00"', '"not a date"', "no-quotes", '"', '"2025-02-30T00:00:00Z"',
])
def test_an_unreadable_version_is_412_not_an_error(world, editor, etag):
    url = f"{API}/claims/{world['claims'].pk}/"
    response = token_client(editor).patch(url, {"statement": "Changed"}, format="json",
                                          HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    assert response.json()["code"] == "version_unknown"
    assert Claim.objects.get().statement == "Ten men fled."


def test_the_same_version_written_another_way_is_accepted(world, editor):
    claim = world["claims"]
    claim.refresh_from_db()
    utc = claim.updated_at.isoformat().replace("+00:00", "Z")
    response = token_client(editor).patch(f"{API}/claims/{claim.pk}/", {"statement": "New."},
                                          format="json", HTTP_IF_MATCH=f'W/"{utc}"')
    assert response.status_code == 200, response.content
    assert Claim.objects.get().statement == "New."


# One change per kind that the first editor saves, and one the second tries over it.
EDITS = {
    "cases": ("summary", "First editor's summary.", "Second editor's summary."),
    "incidents": ("title", "First editor's title", "Second editor's title"),
    "sources": ("reliability_note", "First editor's note.", "Second editor's note."),
    "claims": ("statement", "First editor's wording.", "Second editor's wording."),
    "citations": ("quote", "First editor's quote.", "Second editor's quote."),
    "tasks": ("title", "First editor's task", "Second editor's task"),
    "comment-requests": ("party_name", "First party", "Second party"),
}


@pytest.mark.parametrize("kind", list(EDITS))
def test_two_editors_of_one_record_the_later_is_refused(world, editor, second_editor, kind):
    field, first_value, second_value = EDITS[kind]
    url = f"{API}/{kind}/{world[kind].pk}/"
    first, second = token_client(editor), token_client(second_editor)
    read_by_first, read_by_second = version(first, url), version(second, url)
    assert read_by_first == read_by_second

    saved = first.patch(url, {field: first_value}, format="json", **read_by_first)
    assert saved.status_code == 200, saved.content
    assert saved["ETag"] != read_by_first["HTTP_IF_MATCH"]

    stale = second.patch(url, {field: second_value}, format="json", **read_by_second)
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_changed"
    label = MODELS[kind]._meta.get_field(field).verbose_name
    assert stale.json()["detail"].startswith(f"editor changed {label} of this ")
    blind = second.patch(url, {field: second_value}, format="json")
    assert blind.status_code == 428
    assert blind.json()["code"] == "if_match_required"

    record = MODELS[kind].objects.get(pk=world[kind].pk)
    assert getattr(record, field) == first_value
    assert record.history.filter(history_user=second_editor).count() == 0

    # Having seen the change, the second editor may save over it deliberately.
    again = second.patch(url, {field: second_value}, format="json", **version(second, url))
    assert again.status_code == 200, again.content
    assert getattr(MODELS[kind].objects.get(pk=world[kind].pk), field) == second_value


def test_two_editors_a_citation_changed_meanwhile_is_not_removed(world, editor,
                                                                 second_editor):
    url = f"{API}/citations/{world['citations'].pk}/"
    first, second = token_client(editor), token_client(second_editor)
    read_by_second = version(second, url)
    assert first.patch(url, {"quote": "Corrected quote."}, format="json",
                       **version(first, url)).status_code == 200
    refused = second.delete(url, **read_by_second)
    assert refused.status_code == 412
    assert refused.json()["code"] == "version_changed"
    assert Citation.objects.get().quote == "Corrected quote."
    removed = second.delete(url, **version(second, url))
    assert removed.status_code == 204
    assert not Citation.objects.exists()


def test_two_editors_a_move_on_a_changed_claim_is_refused(world, editor, second_editor):
    claim = world["claims"]
    CitationFactory(claim=claim, source=SourceFactory(case=claim.case, name="Insider"),
                    relation=CitationRelation.CONFIRMS)
    url = f"{API}/claims/{claim.pk}/"
    first, second = token_client(editor), token_client(second_editor)
    read_by_second = version(second, url)
    assert first.patch(url, {"statement": "Ten men fled; two were caught."}, format="json",
                       **version(first, url)).status_code == 200
    for move, body in (("transition", {"to_status": "false", "note": "Invented."}),
                       ("propose", {"verdict": "false", "note": "Invented."})):
        refused = second.post(f"{url}{move}/", body, format="json", **read_by_second)
        assert refused.status_code == 412
        assert refused.json()["code"] == "version_changed"
        assert refused.json()["detail"].startswith("editor changed statement of this claim")
    claim.refresh_from_db()
    assert (claim.status, claim.proposed_verdict) == (VerificationStatus.UNVERIFIED, "")
    assert not VerificationEvent.objects.exists()
    moved = second.post(f"{url}transition/", {"to_status": "in_review"}, format="json",
                        **version(second, url))
    assert moved.status_code == 200
    assert moved["ETag"] != read_by_second["HTTP_IF_MATCH"]
    assert VerificationEvent.objects.get().actor == second_editor


def test_a_new_record_answers_its_version(world, reporter):
    api = token_client(reporter)
    created = api.post(f"{API}/tasks/", {"case": world["cases"].pk, "title": "Call back"},
                       format="json")
    assert created.status_code == 201
    url = f"{API}/tasks/{created.json()['id']}/"
    changed = api.patch(url, {"title": "Call back today"}, format="json",
                        HTTP_IF_MATCH=created["ETag"])
    assert changed.status_code == 200, changed.content
    assert Task.objects.get(pk=created.json()["id"]).title == "Call back today"


# --- the schema says all of it -------------------------------------------------------------------

VERSIONED = {("patch", "/api/v1/{kind}/{id}/"), ("put", "/api/v1/{kind}/{id}/"),
             ("delete", "/api/v1/citations/{id}/"),
             ("post", "/api/v1/claims/{id}/transition/"), ("post", "/api/v1/claims/{id}/propose/")}


def test_the_schema_requires_if_match_exactly_where_the_api_does(world, editor):
    api = token_client(editor)
    schema = api.get("/api/schema/?format=json").json()
    requiring = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            headers = {p["name"]: p for p in operation.get("parameters", [])
                       if p["in"] == "header"}
            if "If-Match" in headers:
                assert headers["If-Match"]["required"] is True
                assert {"412", "428"} <= set(operation["responses"]), (method, path)
                requiring.add((method, path))
            else:
                assert "428" not in operation["responses"], (method, path)
            assert "400" in operation["responses"]
    expected = {(m, p.replace("{kind}", kind)) for m, p in VERSIONED for kind in MODELS
                if "{kind}" in p} | {(m, p) for m, p in VERSIONED if "{kind}" not in p}
    assert requiring == expected
    # And the API holds to it: each of those answers 428 without the header.
    for method, path in requiring:
        kind = path.split("/")[3]
        url = path.replace("{id}", str(world[kind].pk))
        response = getattr(api, method)(url, {}, format="json")
        assert response.status_code == 428, (method, path)


def test_the_schema_documents_the_coded_error_bodies(reporter):
    schema = token_client(reporter).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/claims/{id}/"]["patch"]
    body = operation["responses"]["428"]["content"]["application/json"]["schema"]
    assert body["required"] == ["detail", "code"]
    assert "unknown_parameter" in operation["responses"]["400"]["description"]

