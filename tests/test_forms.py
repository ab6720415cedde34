"""The workspace's create and edit forms (cases/views/records.py, cases/forms.py) and the
no-lost-updates rule (cases/concurrency.py).

Forms are filled the way a browser fills them: the page is fetched, its <form> read back
(hidden version token included), some fields changed, and the result posted."""

import datetime as dt
import hashlib
import threading
import time
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from cases import concurrency, workflow
from cases.concurrency import Token, check_version, make_token, read_token
from cases.enums import CommentOutcome, Role, TaskState
from cases.enums import VerificationStatus as S
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    CustodyEntry,
    Evidence,
    Incident,
    Membership,
    Source,
    SourceIdentity,
    Task,
)

from .clients import TwoFactorClient as Client
from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    IncidentFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
    pdf_document,
)

pytestmark = pytest.mark.django_db


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


# --- Reading a page's form back, as a browser would -----------------------------------------

class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select, self._textarea = [], None, None, None

    def _add(self, name, value):
        self._form["data"].setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action"), "data": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(a["name"], a.get("value", "on"))
            elif kind not in ("submit", "button", "file", "reset"):
                self._add(a["name"], a.get("value") or "")
        elif tag == "select":
            # A multiple select sends each selected option, and nothing when none is.
            self._select = {"name": a["name"], "value": None, "first": None,
                            "multiple": "multiple" in a, "chosen": []}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["value"] = value
                self._select["chosen"].append(value)
        elif tag == "textarea":
            self._textarea = {"name": a["name"], "text": ""}

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            s = self._select
            if s["multiple"]:
                for value in s["chosen"]:
                    self._add(s["name"], value)
            else:
                self._add(s["name"], s["value"] if s["value"] is not None else s["first"])
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea["text"]
            self._add(self._textarea["name"], text[1:] if text.startswith("\n") else text)
            self._textarea = None


def read_form(response, action=None) -> dict:
    """The data the page's (main) form would post, as {name: [values]}."""
    parser = _Forms()
    parser.feed(response.content.decode())
    # The navbar's forms (sign-out, search, the language switcher) are not the page's.
    navbar = {reverse("cases:search"), reverse("account_language")}
    forms = [f for f in parser.forms if "logout" not in (f["action"] or "")
             and f["action"] not in navbar]
    if action is not None:
        forms = [f for f in forms if f["action"] == action]
    assert forms, "no form on the page"
    return {name: list(values) for name, values in forms[0]["data"].items()}


def fill(data, **changes) -> dict:
    filled = dict(data)
    for name, value in changes.items():
        filled[name.replace("__", "-")] = value
    return filled


def open_and_submit(client, path, **changes):
    """GET the form page, change some fields, POST it back."""
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, fill(read_form(page), **changes))


def field_block(page: str, name: str) -> str:
    """The HTML of one crispy field (label, input, errors, help), to check what is beside it."""
    start = page.index(f'id="div_id_{name}"')
    return page[start:page.find('<div id="div_id_', start + 1)]


@pytest.fixture
def client_b():
    return Client()


@pytest.fixture
def handler(make_member):
    user = make_member(Role.REPORTER, username="handler")
    Membership.objects.filter(user=user).update(can_handle_sources=True)
    return user


def counts():
    """Rows and history rows of every record kind: 'nothing was written' is this unchanged."""
    models = (Incident, Source, SourceIdentity, Claim, Citation, Evidence, Task, CommentRequest,
              Membership, Case)
    return {m.__name__: (m.objects.count(), m.history.count()) for m in models}


# --- Who may open the forms -----------------------------------------------------------------

RECORD_FORMS = [
    ("incident_create", None), ("incident_edit", "incident"),
    ("source_create", None), ("source_edit", "source"),
    ("claim_create", None), ("claim_edit", "claim"),
    ("evidence_create", None),
    ("task_create", None), ("task_edit", "task"),
    ("commentrequest_create", None), ("commentrequest_edit", "commentrequest"),
]
EDITOR_FORMS = [("case_edit", None), ("member_list", None), ("member_edit", "membership"),
                ("member_remove", "membership")]


@pytest.fixture
def records(case, reporter):
    source = SourceFactory(case=case, name="161.ru")
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim, source=source)
    return {
        "incident": IncidentFactory(case=case), "source": source, "claim": claim,
        "task": TaskFactory(case=case), "commentrequest": CommentRequestFactory(case=case),
        "membership": Membership.objects.get(user=reporter),
    }


def _path(case, records, name, record):
    return url(name, case, *([records[record].pk] if record else []))


@pytest.mark.parametrize("who", ["outsider", "viewer"])
@pytest.mark.parametrize(("name", "record"), RECORD_FORMS)
def test_record_form_is_404_for_outsider_and_viewer(client, request, case, records, who, name,
                                                    record):
    client.force_login(request.getfixturevalue(who))
    path = _path(case, records, name, record)
    before = counts()
    assert client.get(path).status_code == 404
    response = client.post(path, {"title": "Sneaked in", "name": "Sneaked in",
                                  "statement": "Sneaked in", "occurred": "2025-05-09",
                                  "party_name": "Someone", "kind": "outlet",
                                  "reliability": "F", "credibility": "6"})
    assert response.status_code == 404
    assert counts() == before


@pytest.mark.parametrize(("name", "record"), EDITOR_FORMS)
def test_editor_only_form_is_404_for_reporter_viewer_and_outsider(client, case, records,
                                                                  reporter, viewer, outsider,
                                                                  name, record):
    path = _path(case, records, name, record)
    before = counts()
    for user in (reporter, viewer, outsider):
        client.force_login(user)
        assert client.get(path).status_code == 404
        assert client.post(path, {"title": "Taken over", "role": "editor",
                                  "username": "outsider"}).status_code == 404
    assert counts() == before
    assert Membership.objects.get(user=reporter).role == Role.REPORTER


def test_record_of_another_case_is_404_by_id(client, case, reporter):
    foreign = IncidentFactory(case=CaseFactory(), title="Their incident")
    client.force_login(reporter)
    assert client.get(url("incident_edit", case, foreign.pk)).status_code == 404
    assert client.post(url("incident_edit", case, foreign.pk),
                       {"title": "Mine now", "occurred": "2025"}).status_code == 404
    assert Incident.objects.get(pk=foreign.pk).title == "Their incident"


def test_list_pages_offer_new_and_edit_links_to_reporters_only(client, case, records, reporter,
                                                               viewer):
    client.force_login(reporter)
    assert url("incident_create", case) in client.get(url("timeline", case)).content.decode()
    assert url("source_edit", case, records["source"].pk) in client.get(
        url("source_list", case)).content.decode()
    assert url("claim_edit", case, records["claim"].pk) in client.get(
        url("claim_detail", case, records["claim"].pk)).content.decode()
    client.force_login(viewer)
    for page in ("timeline", "source_list", "claims_board", "evidence_list", "task_list"):
        assert "/new/" not in client.get(url(page, case)).content.decode()
        assert "/edit/" not in client.get(url(page, case)).content.decode()


# --- Incidents ------------------------------------------------------------------------------

def test_incident_create_by_reporter_normalises_and_records_who(client, case, reporter):
    client.force_login(reporter)
    response = open_and_submit(
        client, url("incident_create", case),
        title="  Night   of the\tdesertion ", occurred=" 2025-05-08/2025-05-09 ",
        place_name=" Kadamovsky  training ground", admin_region="Rostov Oblast", country="RU",
        involved="10", detained="6", at_large="4",
        description="Ten left.\r\n\r\n\r\n\r\nSix caught.  ",
    )
    assert response.status_code == 302 and response["Location"] == url("timeline", case)
    incident = Incident.objects.get()
    assert incident.case == case and incident.created_by == reporter
    assert incident.title == "Night of the desertion"
    assert incident.place_name == "Kadamovsky training ground"
    assert incident.description == "Ten left.\n\nSix caught."
    assert (incident.occurred, incident.occurred_earliest, incident.occurred_latest) == (
        "2025-05-08/2025-05-09", dt.date(2025, 5, 8), dt.date(2025, 5, 9))
    assert (incident.involved, incident.detained, incident.at_large, incident.killed) == (
        10, 6, 4, None)
    history = incident.history.get()
    assert (history.history_type, history.history_user) == ("+", reporter)
    page = client.get(response["Location"]).content.decode()
    assert "Incident “Night of the desertion” added to the timeline." in page


def test_incident_edit_by_reporter_saves_and_records_history(client, case, reporter):
    incident = IncidentFactory(case=case, title="First catch", occurred="2025-05-10")
    client.force_login(reporter)
    response = open_and_submit(client, url("incident_edit", case, incident.pk),
                               occurred="2025-05~", detained="4")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.occurred, incident.detained, incident.title) == ("2025-05~", 4, "First catch")
    latest = incident.history.latest()
    assert (latest.history_type, latest.history_user) == ("~", reporter)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"occurred": "2025-02-30"}, "occurred", "“2025-02-30” is not a date Casedesk understands"),
    ({"occurred": "spring 2025"}, "occurred", "is not a date Casedesk understands"),
    ({"latitude": "47.2357", "longitude": "", "geo_precision": "town"}, "longitude",
     "Give both latitude and longitude, or neither."),
    ({"latitude": "47.2357", "longitude": "39.7015", "geo_precision": ""}, "geo_precision",
     "Say how precise the coordinates are."),
    ({"latitude": "123", "longitude": "39.7015", "geo_precision": "town"}, "latitude",
     "less than or equal to 90"),
    ({"involved": "10", "detained": "8", "at_large": "4"}, "involved",
     "add up to 12, more than the 10 people involved"),
    ({"detained": "-1"}, "detained", "greater than or equal to 0"),
    ({"title": "   "}, "title", "This field is required."),
])
def test_incident_bad_input_shows_error_beside_field_and_changes_nothing(
        client, case, reporter, changes, field, message):
    incident = IncidentFactory(case=case, title="Untouched", occurred="2025-05-09")
    client.force_login(reporter)
    before = counts()
    for path in (url("incident_create", case), url("incident_edit", case, incident.pk)):
        response = open_and_submit(client, path, **{"title": "Typed title", **changes})
        assert response.status_code == 400
        page = response.content.decode()
        assert message in field_block(page, field)
        assert "is-invalid" in field_block(page, field)
        if changes.get("occurred"):
            assert f'value="{changes["occurred"]}"' in page  # the input is kept
    assert counts() == before
    incident.refresh_from_db()
    assert (incident.title, incident.occurred) == ("Untouched", "2025-05-09")


# --- Sources and their identities -----------------------------------------------------------

def test_source_create_by_reporter_limits_reached_via_to_the_case(client, case, reporter):
    outlet = SourceFactory(case=case, name="161.ru")
    foreign = SourceFactory(case=CaseFactory(), name="Other case's outlet")
    client.force_login(reporter)
    page = client.get(url("source_create", case))
    assert "161.ru" in page.content.decode()
    assert "Other case&#x27;s outlet" not in page.content.decode()
    assert "Other case's outlet" not in page.content.decode()
    assert "A – Completely reliable" in page.content.decode()  # the grades explained
    response = client.post(url("source_create", case), fill(
        read_form(page), name="  Investigators  R ", kind="person", language=" RU ",
        reliability="C", reached_via=str(outlet.pk), protected="on",
        reliability_note="Two earlier leaks held up."))
    assert response.status_code == 302
    source = Source.objects.get(name="Investigators R")
    assert (source.case, source.created_by, source.language, source.reached_via,
            source.protected) == (case, reporter, "ru", outlet, True)
    assert source.history.get().history_user == reporter
    assert not SourceIdentity.objects.exists()  # reporters without the handler right: none

    response = open_and_submit(client, url("source_create", case), name="Sneaky",
                               reached_via=str(foreign.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in field_block(response.content.decode(), "reached_via")
    assert not Source.objects.filter(name="Sneaky").exists()


def test_source_duplicate_name_is_refused_beside_the_field(client, case, reporter):
    SourceFactory(case=case, name="161.ru")
    client.force_login(reporter)
    response = open_and_submit(client, url("source_create", case), name=" 161.ru ")
    assert response.status_code == 400
    assert "already has a source of that name" in field_block(response.content.decode(), "name")
    assert Source.objects.filter(case=case).count() == 1


def test_source_reached_via_itself_in_a_loop_is_refused(client, case, reporter):
    outlet = SourceFactory(case=case, name="Outlet")
    insiders = SourceFactory(case=case, name="Insiders", reached_via=outlet)
    client.force_login(reporter)
    response = open_and_submit(client, url("source_edit", case, outlet.pk),
                               reached_via=str(insiders.pk))
    assert response.status_code == 400
    assert "circular attribution chain" in field_block(response.content.decode(), "reached_via")
    assert Source.objects.get(pk=outlet.pk).reached_via is None


def test_source_identity_is_hidden_from_non_handlers(client, case, reporter, editor):
    insiders = SourceFactory(case=case, name="Investigators-R", protected=True,
                             url="https://t.me/real-insider-handle")
    SourceIdentity.objects.filter(source=insiders).update(
        real_name="Ivan Realname", contact="Signal +7 900", private_notes="Met in Rostov")
    for user in (reporter, editor):  # not handlers, whatever their role
        client.force_login(user)
        response = client.get(url("source_edit", case, insiders.pk))
        page = response.content.decode()
        assert "Investigators-R" in page
        for secret in ("Ivan Realname", "Signal +7 900", "Met in Rostov", "real-insider-handle"):
            assert secret not in page
        assert "identity_form" not in response.context and 'name="identity-' not in page
        assert 'name="protected"' not in page  # lifting protection is the handlers' call

        # Posting the identity fields anyway (or the protection flag) changes nothing.
        data = fill(read_form(response), reliability="B", identity__real_name="Overwritten",
                    protected="", url="https://evil.example")
        assert client.post(url("source_edit", case, insiders.pk), data).status_code == 302
        insiders.refresh_from_db()
        assert (insiders.reliability, insiders.protected, insiders.url) == ("B", True, "")
        assert insiders.identity.real_name == "Ivan Realname"
        assert insiders.identity.address == "https://t.me/real-insider-handle"


def test_source_identity_is_editable_by_a_handler(client, case, handler):
    insiders = SourceFactory(case=case, name="Investigators-R", protected=True)
    SourceIdentity.objects.create(source=insiders, real_name="Ivan Realname")
    client.force_login(handler)
    page = client.get(url("source_edit", case, insiders.pk))
    assert "Ivan Realname" in page.content.decode()
    response = client.post(url("source_edit", case, insiders.pk), fill(
        read_form(page), identity__real_name="  Ivan   Truename ",
        identity__contact="Signal only, evenings"))
    assert response.status_code == 302
    identity = SourceIdentity.objects.get(source=insiders)
    assert (identity.real_name, identity.contact) == ("Ivan Truename", "Signal only, evenings")
    assert identity.history.latest().history_user == handler


def test_source_identity_is_created_with_a_new_protected_source_by_a_handler(client, case,
                                                                            handler):
    client.force_login(handler)
    response = open_and_submit(client, url("source_create", case), name="Witness-7",
                               kind="person", protected="on", identity__real_name="Anna K.")
    assert response.status_code == 302
    source = Source.objects.get(name="Witness-7")
    assert source.identity.real_name == "Anna K."
    # A public source gets no empty identity row.
    open_and_submit(client, url("source_create", case), name="Meduza")
    assert not SourceIdentity.objects.filter(source__name="Meduza").exists()


# --- Claims and their citations -------------------------------------------------------------

def test_claim_create_with_two_citations_creates_both(client, case, reporter):
    outlet = SourceFactory(case=case, name="161.ru")
    insiders = SourceFactory(case=case, name="Investigators-R", protected=True)
    incident = IncidentFactory(case=case, title="Night of desertion")
    client.force_login(reporter)
    page = client.get(url("claim_create", case))
    assert "1 – Confirmed by other sources" in page.content.decode()
    response = client.post(url("claim_create", case), fill(
        read_form(page),
        statement="  Ten inmates   deserted\n from the training ground. ",
        incident=str(incident.pk), figure_value="10", figure_qualifier="at_least",
        figure_unit=" deserters ", credibility="2",
        citations__0__source=str(outlet.pk), citations__0__relation="reports",
        citations__0__quote="Ten fled.", citations__0__url=" https://161.ru/text/1 ",
        citations__0__published_at="2025-05-09T14:30", citations__0__language="RU",
        citations__1__source=str(insiders.pk), citations__1__relation="confirms",
        citations__1__relays=[str(outlet.pk)],
    ))
    assert response.status_code == 302
    claim = Claim.objects.get()
    assert response["Location"] == url("claim_detail", case, claim.pk)
    assert claim.statement == "Ten inmates deserted from the training ground."
    assert (claim.case, claim.incident, claim.created_by, claim.status) == (
        case, incident, reporter, S.UNVERIFIED)
    assert (claim.figure_value, claim.figure_qualifier, claim.figure_unit, claim.credibility) == (
        Decimal("10"), "at_least", "deserters", "2")
    first, second = claim.citations.order_by("pk")
    assert (first.source, first.relation, first.quote, first.url, first.language) == (
        outlet, "reports", "Ten fled.", "https://161.ru/text/1", "ru")
    assert first.published_at == dt.datetime(2025, 5, 9, 14, 30, tzinfo=dt.UTC)
    assert (second.source, second.relation, second.relay_ids) == (insiders, "confirms",
                                                                  [outlet.pk])
    assert {first.created_by, second.created_by} == {reporter}
    assert claim.history.get().history_user == reporter
    assert {h.history_user for h in Citation.history.all()} == {reporter}


def test_claim_citation_with_a_source_of_another_case_is_refused_and_nothing_is_written(
        client, case, reporter):
    mine = SourceFactory(case=case, name="161.ru")
    foreign = SourceFactory(case=CaseFactory(), name="Foreign outlet")
    client.force_login(reporter)
    before = counts()
    response = open_and_submit(
        client, url("claim_create", case), statement="Ten inmates deserted.",
        citations__0__source=str(mine.pk),
        citations__1__source=str(foreign.pk), citations__1__quote="Kept quote",
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Select a valid choice" in field_block(page, "citations-1-source")
    assert "Foreign outlet" not in page
    assert "Kept quote" in page and "Ten inmates deserted." in page
    assert counts() == before


def test_claim_citation_via_itself_is_refused(client, case, reporter):
    outlet = SourceFactory(case=case, name="161.ru")
    client.force_login(reporter)
    response = open_and_submit(client, url("claim_create", case), statement="A statement.",
                               citations__0__source=str(outlet.pk),
                               citations__0__relays=[str(outlet.pk)])
    assert response.status_code == 400
    assert "cannot be relayed through itself" in field_block(response.content.decode(),
                                                             "citations-0-relays")
    assert not Claim.objects.exists()


def test_claim_figure_without_unit_is_refused(client, case, reporter):
    client.force_login(reporter)
    response = open_and_submit(client, url("claim_create", case),
                               statement="At least 49,000 deserted.", figure_value="49000",
                               figure_unit="   ")
    assert response.status_code == 400
    assert "Say what the figure counts." in field_block(response.content.decode(), "figure_unit")
    assert not Claim.objects.exists()


def test_claim_incident_of_another_case_is_refused(client, case, reporter):
    foreign = IncidentFactory(case=CaseFactory())
    client.force_login(reporter)
    response = open_and_submit(client, url("claim_create", case), statement="A statement.",
                               incident=str(foreign.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in field_block(response.content.decode(), "incident")
    assert not Claim.objects.exists()


def test_claim_form_never_touches_the_verification_status(client, case, reporter, editor):
    claim = ClaimFactory(case=case, statement="Old statement.", created_by=reporter)
    CitationFactory(claim=claim)
    client.force_login(reporter)
    page = client.get(url("claim_edit", case, claim.pk))
    assert 'name="status"' not in page.content.decode()
    assert 'name="proposed_verdict"' not in page.content.decode()
    data = fill(read_form(page), statement="New statement.", status="confirmed",
                proposed_verdict="false", proposed_by=str(editor.pk))
    assert client.post(url("claim_edit", case, claim.pk), data).status_code == 302
    claim.refresh_from_db()
    assert claim.statement == "New statement."
    assert (claim.status, claim.proposed_verdict, claim.proposed_by) == (S.UNVERIFIED, "", None)


def test_claim_edit_changes_adds_and_removes_citations(client, case, reporter):
    claim = ClaimFactory(case=case, statement="Ten deserted.")
    outlet, agency = SourceFactory(case=case, name="161.ru"), SourceFactory(case=case, name="TASS")
    kept = CitationFactory(claim=claim, source=outlet, quote="Old quote")
    dropped = CitationFactory(claim=claim, source=agency)
    client.force_login(reporter)
    page = client.get(url("claim_edit", case, claim.pk))
    data = read_form(page)
    index = {data[f"citations-{i}-id"][0]: i for i in range(2)}
    k, d = index[str(kept.pk)], index[str(dropped.pk)]
    response = client.post(url("claim_edit", case, claim.pk), fill(
        data, **{f"citations__{k}__quote": "New quote", f"citations__{d}__DELETE": "on",
                 "citations__2__source": str(agency.pk), "citations__2__relation": "denies"}))
    assert response.status_code == 302
    assert list(claim.citations.order_by("pk").values_list("source__name", "relation",
                                                           "quote")) == [
        ("161.ru", "reports", "New quote"), ("TASS", "denies", "")]
    assert not Citation.objects.filter(pk=dropped.pk).exists()
    assert Citation.history.filter(id=dropped.pk, history_type="-").get().history_user == reporter


def test_claim_edit_with_thousands_of_posted_citation_rows_is_refused_and_builds_few_forms(
        client, case, reporter):
    """A posted TOTAL_FORMS is the sender's: Django would build (and render) up to a thousand
    forms past the page's rows, holding a worker for minutes."""
    from cases.forms.records import MAX_NEW_CITATIONS_PER_SAVE

    claim = ClaimFactory(case=case, statement="Ten deserted.")
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"), quote="Kept")
    client.force_login(reporter)
    data = read_form(client.get(url("claim_edit", case, claim.pk)))
    response = client.post(url("claim_edit", case, claim.pk), fill(
        data, citations__TOTAL_FORMS="5000", statement="Changed"))
    assert response.status_code == 400
    formset = response.context["citations"]
    assert [e.code for e in formset.non_form_errors().as_data()] == ["too_many_forms"]
    assert len(formset.forms) == 1 + MAX_NEW_CITATIONS_PER_SAVE
    assert f"citations-{1 + MAX_NEW_CITATIONS_PER_SAVE}-quote" not in response.content.decode()
    claim.refresh_from_db()
    assert claim.statement == "Ten deserted."
    assert list(claim.citations.values_list("quote", flat=True)) == ["Kept"]


def test_claim_save_keeps_citation_times_it_did_not_change(client, case, reporter):
    """Date-time inputs show minutes; saving the page must not truncate stored seconds."""
    claim = ClaimFactory(case=case)
    published = dt.datetime(2025, 5, 9, 14, 30, 17, 123456, tzinfo=dt.UTC)
    citation = CitationFactory(claim=claim, published_at=published)
    client.force_login(reporter)
    assert open_and_submit(client, url("claim_edit", case, claim.pk),
                           statement="Edited.").status_code == 302
    citation.refresh_from_db()
    assert citation.published_at == published
    assert open_and_submit(client, url("claim_edit", case, claim.pk),
                           citations__0__published_at="2025-05-10T08:00").status_code == 302
    citation.refresh_from_db()
    assert citation.published_at == dt.datetime(2025, 5, 10, 8, tzinfo=dt.UTC)


def test_claim_edit_page_query_count_does_not_grow(client, case, reporter,
                                                   django_assert_max_num_queries):
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim, source=SourceFactory(case=case))
    client.force_login(reporter)
    with django_assert_max_num_queries(20) as baseline:
        assert client.get(url("claim_edit", case, claim.pk)).status_code == 200
    for _ in range(25):
        source = SourceFactory(case=case)
        CitationFactory(claim=claim, source=source, relays=[SourceFactory(case=case)])
        IncidentFactory(case=case)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(url("claim_edit", case, claim.pk))
    assert len(response.context["citations"].forms) == 26 + 2


@pytest.mark.parametrize(("name", "factory"), [
    ("incident_edit", lambda case: IncidentFactory(case=case)),
    ("source_edit", lambda case: SourceFactory(case=case)),
    ("task_edit", lambda case: TaskFactory(case=case)),
    ("commentrequest_edit", lambda case: CommentRequestFactory(case=case)),
])
def test_edit_page_query_count_does_not_grow(client, case, handler, make_member, name, factory,
                                             django_assert_max_num_queries):
    record = factory(case)
    client.force_login(handler)
    with django_assert_max_num_queries(20) as baseline:
        assert client.get(url(name, case, record.pk)).status_code == 200
    for _ in range(20):
        IncidentFactory(case=case)
        ClaimFactory(case=case)
        SourceFactory(case=case)
        make_member(Role.REPORTER)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(url(name, case, record.pk))


# --- Evidence -------------------------------------------------------------------------------

def test_evidence_upload_hashes_the_file_and_starts_its_custody(client, case, reporter):
    claim = ClaimFactory(case=case)
    content = pdf_document()  # a PDF without metadata is stored as uploaded
    client.force_login(reporter)
    data = fill(read_form(client.get(url("evidence_create", case))),
                description=" Court ruling,  archived ", claim=str(claim.pk),
                origin_url=" https://sudrf.ru/ruling ", captured_at="2025-05-12T09:15")
    data["file"] = SimpleUploadedFile("ruling.pdf", content, content_type="application/pdf")
    response = client.post(url("evidence_create", case), data)
    assert response.status_code == 302 and response["Location"] == url("evidence_list", case)
    evidence = Evidence.objects.get()
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert (evidence.size, evidence.original_name, evidence.content_type) == (
        len(content), "ruling.pdf", "application/pdf")
    assert (evidence.case, evidence.claim, evidence.captured_by, evidence.created_by) == (
        case, claim, reporter, reporter)
    assert (evidence.description, evidence.origin_url) == (
        "Court ruling,  archived", "https://sudrf.ru/ruling")
    assert evidence.captured_at == dt.datetime(2025, 5, 12, 9, 15, tzinfo=dt.UTC)
    assert evidence.file.read() == content
    entry = CustodyEntry.objects.get(evidence=evidence)
    assert (entry.action, entry.actor) == ("collected", reporter)
    assert evidence.history.get().history_user == reporter


def test_evidence_without_a_file_or_about_another_case_is_refused(client, case, reporter):
    foreign_claim = ClaimFactory(case=CaseFactory())
    client.force_login(reporter)
    response = open_and_submit(client, url("evidence_create", case), description="No file")
    assert response.status_code == 400
    assert "This field is required." in field_block(response.content.decode(), "file")
    data = fill(read_form(client.get(url("evidence_create", case))), claim=str(foreign_claim.pk))
    data["file"] = SimpleUploadedFile("a.txt", b"x")
    response = client.post(url("evidence_create", case), data)
    assert response.status_code == 400
    assert "Select a valid choice" in field_block(response.content.decode(), "claim")
    assert "choose the file again" in response.content.decode()
    assert not Evidence.objects.exists() and not CustodyEntry.objects.exists()


# --- Tasks ----------------------------------------------------------------------------------

def test_task_create_assigns_a_member_and_edit_marks_it_done(client, case, reporter, viewer):
    outsider_user = UserFactory(username="not-on-the-case")
    client.force_login(reporter)
    page = client.get(url("task_create", case))
    options = page.context["form"].fields["assignee"].queryset
    assert set(options) == {reporter, viewer}
    assert "not-on-the-case" not in page.content.decode()
    due = timezone.localdate() + dt.timedelta(days=2)
    response = client.post(url("task_create", case), fill(
        read_form(page), title=" Geolocate  the photo ", assignee=str(viewer.pk),
        due_on=due.isoformat()))
    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.assignee, task.due_on, task.state, task.created_by) == (
        "Geolocate the photo", viewer, due, TaskState.OPEN, reporter)

    response = open_and_submit(client, url("task_edit", case, task.pk), state="done")
    assert response.status_code == 302
    assert Task.objects.get(pk=task.pk).state == TaskState.DONE

    response = open_and_submit(client, url("task_edit", case, task.pk),
                               assignee=str(outsider_user.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in field_block(response.content.decode(), "assignee")
    assert Task.objects.get(pk=task.pk).assignee == viewer


# --- Requests for comment -------------------------------------------------------------------

def test_comment_request_to_a_source_of_the_case(client, case, reporter):
    ministry = SourceFactory(case=case, name="Defence Ministry", kind="official")
    incident = IncidentFactory(case=case)
    client.force_login(reporter)
    response = open_and_submit(
        client, url("commentrequest_create", case), party_source=str(ministry.pk),
        incident=str(incident.pk), channel="press_office", asked_at="2025-05-12T09:00",
        deadline="2025-05-14T18:00")
    assert response.status_code == 302 and response["Location"] == url("timeline", case)
    request_ = CommentRequest.objects.get()
    assert (request_.party_source, request_.party_name, request_.incident, request_.channel) == (
        ministry, "", incident, "press_office")
    assert (request_.asked_by, request_.created_by, request_.outcome) == (
        reporter, reporter, CommentOutcome.PENDING)
    assert request_.deadline == dt.datetime(2025, 5, 14, 18, tzinfo=dt.UTC)

    response = open_and_submit(client, url("commentrequest_edit", case, request_.pk),
                               outcome="replied", reply_summary="  They denied it. ")
    assert response.status_code == 302
    request_.refresh_from_db()
    assert (request_.outcome, request_.reply_summary) == ("replied", "They denied it.")


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"asked_at": "2025-05-12T09:00", "deadline": "2025-05-11T09:00"}, "deadline",
     "The deadline is before the request was made."),
    ({"party_name": "   "}, "party_name", "Say who was asked"),
    ({"outcome": "replied", "reply_summary": ""}, "reply_summary", "Summarise the reply."),
])
def test_comment_request_bad_input_is_refused_beside_the_field(client, case, reporter, changes,
                                                                field, message):
    foreign = SourceFactory(case=CaseFactory(), name="Foreign ministry")
    client.force_login(reporter)
    response = open_and_submit(client, url("commentrequest_create", case),
                               **{"party_name": "Defence Ministry", **changes})
    assert response.status_code == 400
    assert message in field_block(response.content.decode(), field)
    response = open_and_submit(client, url("commentrequest_create", case),
                               party_source=str(foreign.pk))
    assert "Select a valid choice" in field_block(response.content.decode(), "party_source")
    assert not CommentRequest.objects.exists()


# --- The case and its members (editors) -----------------------------------------------------

def test_case_edit_by_editor_saves_and_keeps_the_address(client, case, editor, reporter):
    client.force_login(editor)
    page = client.get(url("case_edit", case))
    assert set(page.context["form"].fields["lead"].queryset) == {editor, reporter}
    assert "slug" not in page.context["form"].fields  # made once, when the case is opened
    slug = case.slug
    response = client.post(url("case_edit", case), fill(
        read_form(page), title="  Rostov   desertion ", status="monitoring",
        lead=str(reporter.pk)))
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.title, case.slug, case.status, case.lead) == (
        "Rostov desertion", slug, "monitoring", reporter)
    assert response["Location"] == reverse("cases:case_overview", args=[slug])
    assert case.history.latest().history_user == editor


def test_member_add_by_username(client, case, editor):
    newcomer = UserFactory(username="newcomer")
    client.force_login(editor)
    response = open_and_submit(client, url("member_list", case), username=" Newcomer ",
                               role="reporter", can_handle_sources="on")
    assert response.status_code == 302
    membership = Membership.objects.get(case=case, user=newcomer)
    assert (membership.role, membership.can_handle_sources, membership.added_by) == (
        "reporter", True, editor)
    assert membership.history.get().history_user == editor
    assert "newcomer added as reporter." in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(("username", "message"), [
    ("nobody-by-that-name", "No active Casedesk account has this username."),
    ("reporter", "reporter is already a member of this case"),
    ("", "This field is required."),
])
def test_member_add_refuses_unknown_users_and_members(client, case, editor, reporter, username,
                                                      message):
    UserFactory(username="gone", is_active=False)
    client.force_login(editor)
    before = counts()
    response = open_and_submit(client, url("member_list", case), username=username,
                               role="editor")
    assert response.status_code == 400
    assert message in field_block(response.content.decode(), "username")
    assert counts() == before


def test_member_role_and_handler_right_change(client, case, editor, reporter):
    membership = Membership.objects.get(user=reporter)
    client.force_login(editor)
    response = open_and_submit(client, url("member_edit", case, membership.pk), role="editor",
                               can_handle_sources="on")
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.can_handle_sources) == ("editor", True)
    assert membership.history.latest().history_user == editor


def test_last_editor_cannot_demote_or_remove_themselves(client, case, editor, reporter):
    mine = Membership.objects.get(user=editor)
    client.force_login(editor)
    response = open_and_submit(client, url("member_edit", case, mine.pk), role="reporter")
    assert response.status_code == 400
    assert "You are the last editor of this case" in field_block(response.content.decode(),
                                                                 "role")
    page = client.get(url("member_edit", case, mine.pk))
    remove = url("member_remove", case, mine.pk)
    response = client.post(remove, read_form(page, action=remove))
    assert response.status_code == 400
    assert "You are the last editor of this case" in response.content.decode()
    assert Membership.objects.get(pk=mine.pk).role == Role.EDITOR


def test_editor_steps_down_when_another_editor_remains(client, case, editor, second_editor):
    mine = Membership.objects.get(user=editor)
    client.force_login(editor)
    response = open_and_submit(client, url("member_edit", case, mine.pk), role="reporter")
    assert response.status_code == 302 and response["Location"] == url("case_overview", case)
    assert Membership.objects.get(pk=mine.pk).role == Role.REPORTER
    assert client.get(url("member_list", case)).status_code == 404  # no longer an editor


def test_editor_removes_a_member(client, case, editor, reporter):
    theirs = Membership.objects.get(user=reporter)
    client.force_login(editor)
    page = client.get(url("member_edit", case, theirs.pk))
    remove = url("member_remove", case, theirs.pk)
    assert client.get(remove).status_code == 405
    response = client.post(remove, read_form(page, action=remove))
    assert response.status_code == 302 and response["Location"] == url("member_list", case)
    assert not Membership.objects.filter(pk=theirs.pk).exists()
    deletion = Membership.history.get(id=theirs.pk, history_type="-")
    assert deletion.history_user == editor
    client.force_login(reporter)
    assert client.get(url("timeline", case)).status_code == 404


def test_members_page_query_count_does_not_grow(client, case, editor, make_member,
                                                django_assert_max_num_queries):
    client.force_login(editor)
    with django_assert_max_num_queries(20) as baseline:
        client.get(url("member_list", case))
    for _ in range(20):
        make_member(Role.VIEWER)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        response = client.get(url("member_list", case))
    assert len(response.context["members"]) == 21


# --- No lost updates ------------------------------------------------------------------------

def test_concurrent_incident_edit_is_refused_naming_the_change_and_who(
        client, client_b, case, editor, second_editor):
    incident = IncidentFactory(case=case, title="Night of desertion", place_name="Kadamovsky")
    client.force_login(editor)
    client_b.force_login(second_editor)
    path = url("incident_edit", case, incident.pk)
    a_form = read_form(client.get(path))  # A opens the form…

    b_response = open_and_submit(client_b, path, place_name="Novocherkassk")  # …B saves first
    assert b_response.status_code == 302

    response = client.post(path, fill(a_form, title="A's better title", killed="1"))
    assert response.status_code == 409
    page = response.content.decode()
    notice = page[page.index('id="conflict"'):]
    assert "second_editor changed place of this incident" in notice
    assert "Not saved" in notice
    assert "Changed meanwhile by second_editor. Saved value: Novocherkassk" in field_block(
        page, "place_name")
    assert [c.code for c in response.context["conflicts"]] == ["version_changed"]
    assert [e.code for e in response.context["form"].errors.as_data()["place_name"]] == [
        "changed_meanwhile"]
    assert 'value="A&#x27;s better title"' in page and 'name="killed" value="1"' in page
    incident.refresh_from_db()
    assert (incident.title, incident.place_name, incident.killed) == (
        "Night of desertion", "Novocherkassk", None)
    assert incident.history.count() == 2  # created, B's change: A wrote nothing

    # The refused page carries the current version: saving it again is A's deliberate choice.
    again = client.post(path, read_form(response))
    assert again.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.killed) == ("A's better title", 1)


@pytest.mark.parametrize("token", ["missing", "empty", "garbage", "unsigned", "other_record",
                                   "other_model"])
def test_edit_with_a_missing_or_tampered_token_is_refused(client, case, reporter, token):
    incident = IncidentFactory(case=case, title="Original")
    other = IncidentFactory(case=case)
    client.force_login(reporter)
    path = url("incident_edit", case, incident.pk)
    data = fill(read_form(client.get(path)), title="Changed")
    real = data["version"][0]
    data["version"] = {
        "missing": None, "empty": "", "garbage": "x" * 5000,
        "unsigned": real.rsplit(":", 1)[0] + ":forged",
        "other_record": make_token(other),
        "other_model": make_token(SourceFactory(case=case)),
    }[token]
    if data["version"] is None:
        del data["version"]
    response = client.post(path, data)
    assert response.status_code == 409
    assert "version stamp is missing or not valid" in response.content.decode()
    assert [c.code for c in response.context["conflicts"]] == ["version_unknown"]
    assert Incident.objects.get(pk=incident.pk).title == "Original"


def test_stale_token_of_an_older_version_of_the_same_record_is_refused(client, case, reporter):
    incident = IncidentFactory(case=case, title="Original")
    old_token = make_token(incident)
    incident.title = "Saved by someone"
    incident._history_user = reporter
    incident.save()
    client.force_login(reporter)
    path = url("incident_edit", case, incident.pk)
    data = fill(read_form(client.get(path)), title="Mine", version=old_token)
    assert client.post(path, data).status_code == 409
    assert Incident.objects.get(pk=incident.pk).title == "Saved by someone"
    # Re-signing the same content is the server's secret, not the client's.
    assert signing.Signer(salt="another salt").sign("x") != old_token


def test_concurrent_claim_edit_names_a_status_change_by_the_workflow(client, client_b, case,
                                                                     reporter, editor):
    claim = ClaimFactory(case=case, statement="Ten deserted.", created_by=reporter)
    CitationFactory(claim=claim)
    CitationFactory(claim=claim)
    client.force_login(reporter)
    path = url("claim_edit", case, claim.pk)
    a_form = read_form(client.get(path))
    workflow.transition(claim, S.CORROBORATED, actor=editor, note="Two outlets.")
    response = client.post(path, fill(a_form, statement="Ten inmates deserted."))
    assert response.status_code == 409
    assert "editor changed status of this claim" in response.content.decode()
    claim.refresh_from_db()
    assert (claim.statement, claim.status) == ("Ten deserted.", S.CORROBORATED)


def test_concurrent_claim_edit_names_a_changed_citation(client, client_b, case, reporter,
                                                        second_editor):
    claim = ClaimFactory(case=case, statement="Ten deserted.")
    source = SourceFactory(case=case, name="161.ru")
    citation = CitationFactory(claim=claim, source=source, quote="Original quote")
    client.force_login(reporter)
    client_b.force_login(second_editor)
    path = url("claim_edit", case, claim.pk)
    a_form = read_form(client.get(path))
    assert open_and_submit(client_b, path, citations__0__quote="B's quote").status_code == 302

    response = client.post(path, fill(a_form, citations__0__quote="A's quote"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "second_editor changed quote of the citation from 161.ru" in page
    assert "Saved value: B&#x27;s quote" in field_block(page, "citations-0-quote")
    assert "A&#x27;s quote" in page
    assert Citation.objects.get(pk=citation.pk).quote == "B's quote"


def test_concurrent_claim_edit_names_a_citation_added_meanwhile(client, client_b, case,
                                                                reporter, second_editor):
    claim = ClaimFactory(case=case)
    source = SourceFactory(case=case, name="161.ru")
    client.force_login(reporter)
    client_b.force_login(second_editor)
    path = url("claim_edit", case, claim.pk)
    a_form = read_form(client.get(path))
    assert open_and_submit(client_b, path,
                           citations__0__source=str(source.pk)).status_code == 302
    response = client.post(path, fill(a_form, figure_value="3", figure_unit="arrests"))
    assert response.status_code == 409
    assert "second_editor added a citation" in response.content.decode()
    assert [c.code for c in response.context["conflicts"]] == ["record_added"]
    claim.refresh_from_db()
    assert claim.figure_value is None and claim.citations.count() == 1


def test_concurrent_identity_edit_by_two_handlers_is_refused(client, client_b, case, handler,
                                                             make_member):
    other_handler = make_member(Role.EDITOR, username="other_handler")
    Membership.objects.filter(user=other_handler).update(can_handle_sources=True)
    source = SourceFactory(case=case, name="Witness-7", protected=True)
    client.force_login(handler)
    client_b.force_login(other_handler)
    path = url("source_edit", case, source.pk)
    a_form = read_form(client.get(path))
    # B records the identity first (it did not exist when A opened the page).
    assert open_and_submit(client_b, path, identity__real_name="Anna K.").status_code == 302
    response = client.post(path, fill(a_form, identity__real_name="Anna Karenina"))
    assert response.status_code == 409
    page = response.content.decode()
    assert "other_handler added this source&#x27;s identity" in page
    assert [c.code for c in response.context["conflicts"]] == ["record_added"]
    assert "Saved value: Anna K." in field_block(page, "identity-real_name")
    assert 'value="Anna Karenina"' in page
    assert SourceIdentity.objects.get(source=source).real_name == "Anna K."


def test_concurrent_member_removal_is_refused_when_the_role_changed(client, client_b, case,
                                                                    editor, second_editor,
                                                                    reporter):
    theirs = Membership.objects.get(user=reporter)
    client.force_login(editor)
    client_b.force_login(second_editor)
    page = client.get(url("member_edit", case, theirs.pk))
    remove = url("member_remove", case, theirs.pk)
    assert open_and_submit(client_b, url("member_edit", case, theirs.pk),
                           role="editor").status_code == 302
    response = client.post(remove, read_form(page, action=remove))
    assert response.status_code == 409
    assert "second_editor changed role of reporter&#x27;s membership" in (
        response.content.decode())
    assert Membership.objects.get(pk=theirs.pk).role == Role.EDITOR


def test_concurrent_case_edit_is_refused(client, client_b, case, editor, second_editor):
    client.force_login(editor)
    client_b.force_login(second_editor)
    a_form = read_form(client.get(url("case_edit", case)))
    assert open_and_submit(client_b, url("case_edit", case),
                           summary="B's summary").status_code == 302
    response = client.post(url("case_edit", case), fill(a_form, status="closed"))
    assert response.status_code == 409
    assert "second_editor changed summary of this case" in response.content.decode()
    case.refresh_from_db()
    assert (case.summary, case.status) == ("B's summary", "active")


def test_each_kind_of_stale_save_has_its_code(case, reporter):
    """The codes the pages, the back office and the API share (cases.concurrency)."""
    incident = IncidentFactory(case=case, title="Original")
    subject = "this incident"
    opened = read_token(make_token(incident), Incident)
    assert check_version(incident, opened, subject) is None
    assert check_version(incident, None, subject).code == concurrency.VERSION_UNKNOWN
    incident.title, incident._history_user = "Saved by someone", reporter
    incident.save()
    changed = check_version(incident, opened, subject)
    assert (changed.code, changed.people, changed.field_labels) == (
        concurrency.VERSION_CHANGED, ["reporter"], ["title"])
    opened_new = read_token(make_token(Incident(case=case)), Incident)
    assert check_version(incident, opened_new, subject).code == concurrency.RECORD_ADDED
    gone_pk = incident.pk
    incident.delete()
    removed = check_version(Incident(case=case), Token(str(gone_pk), None), subject)
    assert removed.code == concurrency.RECORD_REMOVED
    assert concurrency.added_meanwhile(Incident, []) is None
    assert concurrency.added_meanwhile(Incident, [IncidentFactory(case=case)]).code == (
        concurrency.RECORD_ADDED)


def test_unchanged_record_saves_twice_from_fresh_pages(client, case, reporter):
    """No false alarms: each save from a freshly opened page goes through."""
    task = TaskFactory(case=case)
    client.force_login(reporter)
    for title in ("First", "Second"):
        assert open_and_submit(client, url("task_edit", case, task.pk),
                               title=title).status_code == 302
    assert Task.objects.get(pk=task.pk).title == "Second"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
@pytest.mark.django_db(transaction=True)
def test_concurrent_save_waits_for_the_row_lock_and_is_refused(case, editor, second_editor):
    """A real race: B's save holds the row when A's arrives. Without the lock A would read the
    old version, pass the check and overwrite B's change."""
    incident = IncidentFactory(case=case, title="Night of desertion", place_name="Kadamovsky")
    path = url("incident_edit", case, incident.pk)
    client_a = Client()
    client_a.force_login(editor)
    a_form = fill(read_form(client_a.get(path)), place_name="A's place")
    b_holds_lock, release_b, outcome = threading.Event(), threading.Event(), {}

    def b_saves():
        try:
            with transaction.atomic():
                row = Incident.objects.select_for_update().get(pk=incident.pk)
                row.place_name, row._history_user = "B's place", second_editor
                row.save()
                b_holds_lock.set()
                release_b.wait(timeout=10)
        finally:
            connection.close()

    def a_submits():
        b_holds_lock.wait(timeout=10)
        try:
            outcome["response"] = client_a.post(path, a_form)
        finally:
            connection.close()

    threads = [threading.Thread(target=b_saves), threading.Thread(target=a_submits)]
    for thread in threads:
        thread.start()
    b_holds_lock.wait(timeout=10)
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:  # wait until A's request is blocked on B's row lock
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("A's save never waited for the row lock")
    release_b.set()
    for thread in threads:
        thread.join(timeout=20)

    assert outcome["response"].status_code == 409
    assert "second_editor changed place of this incident" in outcome[
        "response"].content.decode()
    incident.refresh_from_db()
    assert incident.place_name == "B's place"
