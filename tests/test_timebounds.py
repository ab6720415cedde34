"""Dates and datetimes Casedesk can store and read back (cases/timebounds.py): every input path
refuses the rest beside the field, every date query parameter is bounded, and a value the
database holds but Python cannot read is logged and clamped (cases/readback.py), so one bad
row never takes a case's pages down."""

import datetime as dt
import logging

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from hypothesis import example, given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from cases.enums import Role
from cases.models import Citation, CommentRequest, Evidence, Task
from cases.timebounds import (
    EARLIEST_DATETIME,
    LATEST_DATE,
    LATEST_DATETIME,
    parse_date_param,
    parse_datetime_param,
    validate_date_in_range,
    validate_datetime_in_range,
)

from .factories import (
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
    api_key_for,
)
from .test_forms import fill, open_and_submit, read_form

pytestmark = pytest.mark.django_db

API = "/api/v1"
# The two values: an instant past 9999-12-31 once in UTC, an offset PostgreSQL refuses.
TOO_LATE = "9999-12-31T23:59:59-15:00"
OFFSET_PAST_LIMIT = "2025-05-09T10:00:00+20:00"
REFUSED = [(TOO_LATE, "datetime_out_of_range"), (OFFSET_PAST_LIMIT, "utc_offset_out_of_range")]
# What the database may already hold: PostgreSQL keeps it, psycopg refuses to read it.
UNREADABLE_PG = "10000-01-01 14:59:59+00"
UNREADABLE_SQLITE = "10000-01-01 14:59:59"
SHOWN_AS = "30 Dec 9999"


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


def codes(form, field) -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


# --- The bounds themselves -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    TOO_LATE, OFFSET_PAST_LIMIT, "2025-05-09T10:00:00-16:00", "2025-05-09T10:00:00+24:00",
    "99999-01-01T00:00:00+00:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
    "2025-13-01T00:00", "2025-02-30", "\x00", "2025-05-09\x00", "\ud800", "", "   ",
    "x" * 100_000, "１２３４-05-09", None, 12,
])
def test_parse_datetime_param_gives_none_for_what_cannot_be_stored(text):
    assert parse_datetime_param(text) is None


def test_parse_datetime_param_reads_offsets_within_the_bounds():
    assert parse_datetime_param(" 2025-05-09T10:00:00+15:59 ") == dt.datetime(
        2025, 5, 8, 18, 1, tzinfo=dt.UTC)
    assert parse_datetime_param("2025-05-09T10:00") == dt.datetime(2025, 5, 9, 10, tzinfo=dt.UTC)
    assert parse_datetime_param(LATEST_DATETIME.isoformat()) == LATEST_DATETIME


@given(st.one_of(st.text(), st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                 st.datetimes(timezones=st.builds(
                     dt.timezone, st.timedeltas(min_value=-dt.timedelta(hours=23, minutes=59),
                                                max_value=dt.timedelta(hours=23, minutes=59)))
                 ).map(lambda d: d.isoformat())))
@example(TOO_LATE)
@example(OFFSET_PAST_LIMIT)
@example("0001-01-01T00:00:00+15:00")
@example("\ud800")
def test_parse_params_never_raise_and_give_only_storable_values(text):
    value = parse_datetime_param(text)
    assert value is None or (value.utcoffset() is not None
                             and EARLIEST_DATETIME <= value <= LATEST_DATETIME
                             and abs(value.utcoffset()) < dt.timedelta(hours=16))
    date = parse_date_param(text)
    assert date is None or dt.date(1, 1, 2) <= date <= LATEST_DATE


@pytest.mark.parametrize(("value", "code"), [
    (dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=15))),
     "datetime_out_of_range"),
    (dt.datetime(2025, 5, 9, 10, tzinfo=dt.timezone(dt.timedelta(hours=20))),
     "utc_offset_out_of_range"),
    (dt.datetime(1, 1, 1, 12, tzinfo=dt.UTC), "datetime_out_of_range"),
])
def test_validate_datetime_in_range_refuses_with_a_code(value, code):
    with pytest.raises(ValidationError) as refused:
        validate_datetime_in_range(value)
    assert refused.value.code == code
    validate_datetime_in_range(LATEST_DATETIME)
    validate_datetime_in_range(dt.datetime(2025, 5, 9, 10, tzinfo=dt.timezone(
        dt.timedelta(hours=15, minutes=59))))


def test_validate_date_in_range_refuses_the_last_day_of_9999():
    with pytest.raises(ValidationError) as refused:
        validate_date_in_range(dt.date(9999, 12, 31))
    assert refused.value.code == "date_out_of_range"
    validate_date_in_range(LATEST_DATE)


# --- The workspace's forms ------------------------------------------------------------------

@pytest.mark.parametrize(("value", "code"), REFUSED)
@pytest.mark.parametrize("field", ["deadline", "asked_at"])
def test_comment_request_form_refuses_datetime_out_of_range(client, case, reporter, field,
                                                            value, code):
    request_ = CommentRequestFactory(case=case)
    saved = CommentRequest.objects.values_list(field, "updated_at").get()
    client.force_login(reporter)
    response = open_and_submit(client, url("commentrequest_edit", case, request_.pk),
                               **{field: value})
    assert response.status_code == 400
    assert code in codes(response.context["form"], field)
    page = response.content.decode()
    start = page.index(f'id="div_id_{field}"')
    assert "between" in page[start:page.index("</div>", page.index("invalid-feedback", start))]
    assert CommentRequest.objects.values_list(field, "updated_at").get() == saved
    assert request_.history.count() == 1


@pytest.mark.parametrize(("value", "code"), REFUSED)
def test_citation_form_refuses_published_at_out_of_range(client, case, reporter, value, code):
    claim = ClaimFactory(case=case, statement="Ten deserted.")
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"))
    saved = Citation.objects.values_list("published_at", "updated_at").get()
    client.force_login(reporter)
    response = open_and_submit(client, url("claim_edit", case, claim.pk),
                               citations__0__published_at=value)
    assert response.status_code == 400
    assert codes(response.context["citations"].forms[0], "published_at") == [code]
    assert Citation.objects.values_list("published_at", "updated_at").get() == saved


@pytest.mark.parametrize(("value", "code"), REFUSED)
def test_evidence_form_refuses_captured_at_out_of_range(client, case, reporter, value, code):
    client.force_login(reporter)
    data = fill(read_form(client.get(url("evidence_create", case))), captured_at=value,
                description="Ruling")
    data["file"] = SimpleUploadedFile("ruling.txt", b"The court ruled.")
    response = client.post(url("evidence_create", case), data)
    assert response.status_code == 400
    assert codes(response.context["form"], "captured_at") == [code]
    assert not Evidence.objects.exists()


def test_task_form_refuses_a_due_date_out_of_range(client, case, reporter):
    task = TaskFactory(case=case, due_on=None)
    client.force_login(reporter)
    response = open_and_submit(client, url("task_edit", case, task.pk), due_on="9999-12-31")
    assert response.status_code == 400
    assert codes(response.context["form"], "due_on") == ["date_out_of_range"]
    assert Task.objects.get().due_on is None


# --- The admin ------------------------------------------------------------------------------

@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


ADMIN_CASES = [
    ("commentrequest", "deadline", lambda case: CommentRequestFactory(case=case)),
    ("commentrequest", "asked_at", lambda case: CommentRequestFactory(case=case)),
    ("evidence", "captured_at", lambda case: EvidenceFactory(case=case)),
    ("citation", "published_at", lambda case: CitationFactory(
        claim=ClaimFactory(case=case))),
]


@pytest.mark.parametrize(("model", "field", "make"), ADMIN_CASES)
def test_admin_refuses_datetime_out_of_range_beside_the_field(client, case, root, model, field,
                                                              make):
    obj = make(case)
    saved = type(obj).objects.values_list(field, "updated_at").get(pk=obj.pk)
    client.force_login(root)
    path = reverse(f"admin:cases_{model}_change", args=[obj.pk])
    form = read_form(client.get(path))
    # The admin's date and time inputs carry no offset: the latest instant it can be sent in
    # the server's time zone (UTC), and an offset typed into the date.
    for date_part, time_part, code in [("9999-12-31", "23:59:59", "datetime_out_of_range"),
                                       (OFFSET_PAST_LIMIT, "10:00:00", "invalid")]:
        response = client.post(path, {**form, f"{field}_0": date_part, f"{field}_1": time_part})
        assert response.status_code == 200
        assert codes(response.context["adminform"].form, field) == [code]
        assert type(obj).objects.values_list(field, "updated_at").get(pk=obj.pk) == saved


@pytest.mark.parametrize("query", [
    "asked_at__year=9999", "asked_at__year=9999&asked_at__month=12",
    "asked_at__year=9999&asked_at__month=12&asked_at__day=31",
    "asked_at__year=99999999999999999999", "asked_at__year=2025&asked_at__month=99999999999",
    "asked_at__gte=2025-05-09T10:00:00%2B20:00", "asked_at__gte=9999-12-31T23:59:59-15:00",
    "asked_at__lt=0001-01-01T00:00:00%2B15:00", "asked_at__date__gte=9999-12-31",
    "asked_at__range=2025-01-01,9999-12-31T23:59:59-15:00",
])
def test_admin_changelist_refuses_date_filters_out_of_range(client, case, root, query):
    CommentRequestFactory(case=case, party_name="Defence Ministry")
    client.force_login(root)
    changelist = reverse("admin:cases_commentrequest_changelist")
    response = client.get(f"{changelist}?{query}")
    assert response.status_code == 302 and response["Location"] == f"{changelist}?e=1"


def test_admin_changelist_date_hierarchy_still_drills_down(client, case, root):
    CommentRequestFactory(case=case, party_name="Defence Ministry",
                          asked_at=dt.datetime(2025, 5, 12, 9, tzinfo=dt.UTC))
    client.force_login(root)
    changelist = reverse("admin:cases_commentrequest_changelist")
    found = client.get(f"{changelist}?asked_at__year=2025&asked_at__month=5&asked_at__day=12")
    assert "Defence Ministry" in found.content.decode()
    other = client.get(f"{changelist}?asked_at__year=2024")
    assert other.status_code == 200 and "Defence Ministry" not in other.content.decode()


# --- The API --------------------------------------------------------------------------------

def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return api


@pytest.mark.parametrize(("value", "code"), REFUSED)
@pytest.mark.parametrize(("kind", "field"), [("comment-requests", "deadline"),
                                             ("comment-requests", "asked_at"),
                                             ("citations", "published_at"),
                                             ("citations", "accessed_at")])
def test_api_refuses_datetime_out_of_range_beside_the_field(case, reporter, kind, field, value,
                                                            code):
    obj = (CommentRequestFactory(case=case) if kind == "comment-requests"
           else CitationFactory(claim=ClaimFactory(case=case)))
    saved = type(obj).objects.values_list(field, "updated_at").get(pk=obj.pk)
    api = token_client(reporter)
    path = f"{API}/{kind}/{obj.pk}/"
    response = api.patch(path, {field: value}, format="json",
                         HTTP_IF_MATCH=api.get(path)["ETag"])
    assert response.status_code == 400, response.content
    assert [error.code for error in response.data[field]] == [code]
    assert type(obj).objects.values_list(field, "updated_at").get(pk=obj.pk) == saved


def test_api_refuses_a_new_request_for_comment_out_of_range(case, reporter):
    response = token_client(reporter).post(f"{API}/comment-requests/", {
        "case": case.pk, "party_name": "Defence Ministry", "deadline": TOO_LATE}, format="json")
    assert response.status_code == 400
    assert [error.code for error in response.data["deadline"]] == ["datetime_out_of_range"]
    assert not CommentRequest.objects.exists()


# --- Query parameters -----------------------------------------------------------------------

@pytest.mark.parametrize("before", [OFFSET_PAST_LIMIT, TOO_LATE, "99999-01-01T00:00:00",
                                    "2025-02-30T00:00", "%00", "%ED%A0%80"])
def test_activity_ignores_a_cursor_out_of_range(client, case, viewer, before):
    CommentRequestFactory(case=case, party_name="Defence Ministry")
    client.force_login(viewer)
    response = client.get(url("activity", case) + "?before=" + before.replace("+", "%2B"))
    # A NUL byte may be refused before any view (400); the rest read as "the newest".
    assert response.status_code in ((200, 400) if before == "%00" else (200,))
    if response.status_code == 200:
        assert "request for comment to “Defence Ministry”" in response.content.decode()


def test_activity_cursor_within_bounds_pages_back(client, case, viewer):
    CommentRequestFactory(case=case, party_name="Defence Ministry")
    client.force_login(viewer)
    response = client.get(url("activity", case) + "?before=2000-01-01T00:00:00%2B15:59")
    assert response.status_code == 200
    assert "Defence Ministry" not in response.content.decode()
    assert "Defence Ministry" in client.get(url("activity", case)).content.decode()


# (An offset of +20:00 is a real instant: the filters read it in UTC, which PostgreSQL takes.)
@pytest.mark.parametrize(("query", "code"), [
    ("updated_before=9999-12-31T23:59:59-15:00", "datetime_out_of_range"),
    ("updated_after=0001-01-01T00:00:00%2B15:00", "datetime_out_of_range"),
    ("updated_after=99999-01-01", "invalid")])
def test_api_list_refuses_a_datetime_filter_out_of_range(case, reporter, query, code):
    response = token_client(reporter).get(f"{API}/comment-requests/?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert set(response.json()) == {name, "codes"}
    assert response.json()["codes"] == {name: [code]}


# --- A value the database holds but Python cannot read --------------------------------------

def _write_raw(obj, column: str, literal: str) -> None:
    """Put `literal` in the row and in a new history row of it, as psql (or an old version)
    could: history is append-only, so the value stays there for good."""
    history = type(obj).history.model
    table, history_table = type(obj)._meta.db_table, history._meta.db_table
    columns = [f.column for f in history._meta.concrete_fields if f.column != "history_id"]
    # A parameter in a SELECT list is text to PostgreSQL until cast.
    placeholder = "%s::timestamptz" if connection.vendor == "postgresql" else "%s"
    copied = ", ".join(placeholder if c == column else c for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [literal, obj.pk])
        cursor.execute(
            f"INSERT INTO {history_table} ({', '.join(columns)}) SELECT {copied} "
            f"FROM {history_table} WHERE id = %s ORDER BY history_id DESC LIMIT 1",
            [literal, obj.pk])


@pytest.fixture
def unreadable(case, reporter):
    """The issue's case: a request for comment, a citation and a piece of evidence, each
    holding the year 10000 (row and history), beside records that are fine."""
    literal = UNREADABLE_PG if connection.vendor == "postgresql" else UNREADABLE_SQLITE
    incident = IncidentFactory(case=case, title="Night of desertion", occurred="2025-05-08")
    claim = ClaimFactory(case=case, incident=incident, statement="Ten conscripts deserted.",
                         created_by=reporter)
    citation = CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"),
                               quote="Ten fled.")
    request_ = CommentRequestFactory(case=case, party_name="Defence Ministry", incident=incident)
    CommentRequestFactory(case=case, party_name="Regional prosecutor")
    evidence = EvidenceFactory(case=case, description="Court ruling", original_name="ruling.pdf")
    _write_raw(request_, "deadline", literal)
    _write_raw(citation, "published_at", literal)
    _write_raw(evidence, "captured_at", literal)
    return {"claim": claim, "request": request_, "citation": citation}


def test_pages_survive_a_value_python_cannot_read(client, case, reporter, unreadable, caplog):
    claim = unreadable["claim"]
    client.force_login(reporter)
    with caplog.at_level(logging.WARNING, logger="cases.readback"):
        pages = {name: client.get(path) for name, path in {
            "dashboard": reverse("cases:dashboard"),
            "timeline": url("timeline", case),
            "activity": url("activity", case),
            "claim": url("claim_detail", case, claim.pk),
            "claim edit": url("claim_edit", case, claim.pk),
            "evidence": url("evidence_list", case),
            "request edit": url("commentrequest_edit", case, unreadable["request"].pk),
        }.items()}
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    text = {name: page.content.decode() for name, page in pages.items()}
    assert "request for comment to “Defence Ministry”" in text["dashboard"]
    assert f"(deadline {SHOWN_AS})" in text["timeline"]
    assert "Regional prosecutor" in text["timeline"] and "Night of desertion" in text["timeline"]
    assert text["activity"].count("request for comment to “Defence Ministry”") >= 2
    assert f"published {SHOWN_AS}" in text["claim"] and "Ten fled." in text["claim"]
    assert 'value="9999-12-30T23:59"' in text["claim edit"]
    assert SHOWN_AS in text["evidence"] and "ruling.pdf" in text["evidence"]
    assert 'value="9999-12-30T23:59"' in text["request edit"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "cases.readback"]
    assert warnings and all("10000-01-01" in w and "9999-12-30" in w for w in warnings)
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "cases.readback")


def test_api_and_export_survive_a_value_python_cannot_read(client, case, reporter, unreadable):
    api = token_client(reporter)
    requests = api.get(f"{API}/comment-requests/?case={case.pk}")
    assert requests.status_code == 200
    deadlines = {r["party_name"]: r["deadline"] for r in requests.json()["results"]}
    assert deadlines["Defence Ministry"].startswith("9999-12-30T23:59:59")
    assert "Regional prosecutor" in deadlines
    citations = api.get(f"{API}/citations/?case={case.pk}")
    assert citations.status_code == 200
    assert citations.json()["results"][0]["published_at"].startswith("9999-12-30T23:59:59")
    client.force_login(reporter)
    export = client.get(url("export_case", case) + "?format=json")
    body = b"".join(export.streaming_content).decode()
    assert export.status_code == 200
    assert "Regional prosecutor" in body and "9999-12-30T23:59:59" in body


@pytest.mark.skipif(connection.vendor != "postgresql", reason=(
    "SQLite's date functions (Django's, in Python) read such a text as NULL, which the date "
    "hierarchy cannot show; no Casedesk path writes one there (the save itself failed)."))
def test_admin_survives_a_value_python_cannot_read(client, case, root, unreadable):
    client.force_login(root)
    request_, citation = unreadable["request"], unreadable["citation"]
    pages = {
        "requests": reverse("admin:cases_commentrequest_changelist"),
        "requests by year": reverse("admin:cases_commentrequest_changelist")
        + "?asked_at__year=" + str(dt.date.today().year),
        "request": reverse("admin:cases_commentrequest_change", args=[request_.pk]),
        "request history": reverse("admin:cases_commentrequest_history", args=[request_.pk]),
        "citation": reverse("admin:cases_citation_change", args=[citation.pk]),
        "evidence": reverse("admin:cases_evidence_changelist"),
    }
    responses = {name: client.get(path) for name, path in pages.items()}
    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(pages, 200)
    assert "Regional prosecutor" in responses["requests"].content.decode()
    shown = {name: responses[name].context["adminform"].form[field].value()
             for name, field in [("request", "deadline"), ("citation", "published_at")]}
    assert shown == dict.fromkeys(shown, LATEST_DATETIME.replace(microsecond=0))
    assert 'value="23:59:59"' in responses["request"].content.decode()
    assert "ruling.pdf" in responses["evidence"].content.decode()


def test_a_value_python_cannot_read_can_be_corrected_through_the_form(client, case, reporter,
                                                                     unreadable):
    request_ = unreadable["request"]
    client.force_login(reporter)
    response = open_and_submit(client, url("commentrequest_edit", case, request_.pk),
                               deadline="2030-05-14T18:00")
    assert response.status_code == 302
    assert CommentRequest.objects.get(pk=request_.pk).deadline == dt.datetime(
        2030, 5, 14, 18, tzinfo=dt.UTC)


# --- ?page= ---------------------------------------------------------------------------------

ODD_PAGES = ["0", "-1", "abc", "1e9", "99999999999999999999999", "%00", "", "%ED%A0%80",
             "9" * 5000]


def _paginated_pages(case, claim):
    return [reverse("cases:case_list"), reverse("cases:review_queue"),
            url("timeline", case), url("claims_board", case) + "?status=unverified&",
            url("source_list", case), url("evidence_list", case), url("task_list", case),
            url("identity_reveals", case), url("claim_edit", case, claim.pk),
            reverse("cases:dashboard"), reverse("cases:search") + "?q=desertion&kind=claim&"]


@pytest.mark.parametrize("page", ODD_PAGES)
def test_paginated_pages_answer_odd_page_numbers(client, case, make_member, unreadable, page):
    editor = make_member(Role.EDITOR)
    IncidentFactory.create_batch(16, case=case)  # a second page of the timeline
    client.force_login(editor)
    for path in _paginated_pages(case, unreadable["claim"]):
        query = f"{path}{'' if '?' in path else '?'}page={page}"
        response = client.get(query)
        # A NUL byte may be refused before any view (400); nothing else may fail.
        assert response.status_code in ((200, 400) if page == "%00" else (200,)), query
        if response.status_code == 200 and path == url("timeline", case):
            expected = 2 if page in ("0", "-1", "99999999999999999999999") else 1
            assert f"Page {expected} of 2" in response.content.decode()


@pytest.mark.parametrize("page", ODD_PAGES)
def test_api_lists_answer_odd_page_numbers(case, reporter, unreadable, page):
    response = token_client(reporter).get(f"{API}/comment-requests/?page={page}")
    assert response.status_code in (200, 400, 404)
    if response.status_code == 200:
        assert {r["party_name"] for r in response.json()["results"]} == {
            "Defence Ministry", "Regional prosecutor"}
