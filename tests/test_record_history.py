"""The members' history page of a record (cases/views/record_history.py): who changed what,
field by field, for members only, with identities for the case's source handlers only."""

import pytest
from django.urls import reverse

from cases.enums import GeoPrecision, Role, TaskState
from cases.models import IdentityReveal, RevealChannel, SourceIdentity

from .factories import (
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REAL_NAME = "Ivan Canaryname"
CONTACT = "signal +7 900 000 11 22"
SOURCE_ADDRESS = "https://vk.com/canary-source-page"
CITATION_ADDRESS = "https://t.me/canary_channel/42"


@pytest.fixture
def handler(case):
    user = UserFactory(username="handler")
    MembershipFactory(case=case, user=user, role=Role.REPORTER, can_handle_sources=True)
    return user


def _save_as(record, user, **changes):
    for name, value in changes.items():
        setattr(record, name, value)
    record._history_user = user
    record.save()
    return record


def _history_url(case, name, record):
    return reverse(f"cases:{name}_history", args=[case.slug, record.pk])


def _records(case):
    incident = IncidentFactory(case=case)
    return {
        "incident": incident,
        "claim": ClaimFactory(case=case, incident=incident),
        "source": SourceFactory(case=case),
        "task": TaskFactory(case=case),
        "commentrequest": CommentRequestFactory(case=case),
        "evidence": EvidenceFactory(case=case),
    }


@pytest.fixture
def protected_source(case, reporter, handler):
    source = SourceFactory(case=case, name="Insider A", protected=True, url=SOURCE_ADDRESS)
    identity = SourceIdentity.objects.get(source=source)
    _save_as(identity, handler, real_name=REAL_NAME, contact=CONTACT)
    return source


# --- who may read it ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["incident", "claim", "source", "task", "commentrequest",
                                  "evidence"])
def test_record_history_is_404_for_a_non_member(client, case, outsider, kind):
    record = _records(case)[kind]
    client.force_login(outsider)
    response = client.get(_history_url(case, kind, record))
    assert response.status_code == 404
    assert str(record) not in response.content.decode()


@pytest.mark.parametrize("kind", ["incident", "claim", "source", "task", "commentrequest",
                                  "evidence"])
def test_record_history_shows_a_viewer_who_created_the_record(client, case, viewer, kind):
    record = _records(case)[kind]
    client.force_login(viewer)
    response = client.get(_history_url(case, kind, record))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Created" in content
    assert "system" in content  # made by a factory, outside any request


def test_record_history_of_another_cases_record_is_404(client, case, viewer, make_member):
    other = IncidentFactory()  # in a case the viewer is not a member of
    client.force_login(viewer)
    response = client.get(reverse("cases:incident_history", args=[case.slug, other.pk]))
    assert response.status_code == 404
    assert other.title not in response.content.decode()


# --- field by field ----------------------------------------------------------------------

def test_incident_history_names_each_changed_field_with_old_and_new_value(client, case,
                                                                        reporter, viewer):
    fled, arrested = IncidentTypeFactory(name="Desertion"), IncidentTypeFactory(name="Arrest")
    incident = IncidentFactory(case=case, title="Ten men fled", type=fled,
                               occurred="2025-05-09", geo_precision=GeoPrecision.TOWN)
    _save_as(incident, reporter, title="Ten conscripts fled", type=arrested,
             occurred="2025-05-08/2025-05-09", geo_precision=GeoPrecision.REGION)
    client.force_login(viewer)
    content = client.get(_history_url(case, "incident", incident)).content.decode()
    change = content[content.index("Changed"):content.index("Created")]
    assert "reporter" in change
    for label, old, new in [
        ("Title", "Ten men fled", "Ten conscripts fled"),
        ("Type", "Desertion", "Arrest"),
        ("When", "9 May 2025", "8–9 May 2025"),
        ("Geo precision", str(GeoPrecision.TOWN.label), str(GeoPrecision.REGION.label)),
    ]:
        row = change[change.index(f">{label}<"):]
        row = row[:row.index("</tr>")]
        assert old in row and new in row, (label, row)
    # Only what changed is listed: the place stayed the same.
    assert "Training ground" not in change
    # Derived columns are not fields anyone edits.
    assert "occurred earliest" not in content.lower()


def test_task_history_shows_choice_labels_and_people_by_name(client, case, reporter, editor):
    task = TaskFactory(case=case, title="Call the ministry")
    _save_as(task, reporter, state=TaskState.DONE, assignee=editor)
    client.force_login(reporter)
    content = client.get(_history_url(case, "task", task)).content.decode()
    change = content[content.index("Changed"):content.index("Created")]
    assert str(TaskState.OPEN.label) in change and str(TaskState.DONE.label) in change
    assert ">editor<" in change and "empty" in change  # nobody was assigned before


def test_claim_history_lists_its_citations_changes(client, case, reporter, viewer):
    claim = ClaimFactory(case=case, statement="Ten men fled.")
    outlet = SourceFactory(case=case, name="161.ru")
    citation = CitationFactory(claim=claim, source=outlet, quote="Ten fled.")
    _save_as(citation, reporter, quote="Ten servicemen fled.")
    client.force_login(viewer)
    content = client.get(_history_url(case, "claim", claim)).content.decode()
    assert "Citation from 161.ru: changed" in content
    assert "Citation from 161.ru: added" in content
    changed = content[content.index("Citation from 161.ru: changed"):]
    assert "Ten fled." in changed and "Ten servicemen fled." in changed


def test_deleted_records_history_stays_readable(client, case, reporter, viewer):
    task = TaskFactory(case=case, title="Archive the original")
    pk = task.pk
    task._history_user = reporter
    task.delete()
    client.force_login(viewer)
    response = client.get(reverse("cases:task_history", args=[case.slug, pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Archive the original" in content and "Deleted" in content
    assert "This record was deleted" in content


# --- identities: the handlers' alone ---------------------------------------------------------

def test_source_history_shows_the_identity_to_a_handler_and_logs_the_reveal(
        client, case, handler, protected_source):
    client.force_login(handler)
    content = client.get(_history_url(case, "source", protected_source)).content.decode()
    assert "Identity (source handlers only)" in content
    for value in (REAL_NAME, CONTACT, SOURCE_ADDRESS):
        assert value in content
    reveal = IdentityReveal.objects.get()
    assert (reveal.user, reveal.source, reveal.channel) == (
        handler, protected_source, RevealChannel.SOURCE_PAGE)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REPORTER, Role.EDITOR])
def test_source_history_never_shows_a_non_handler_the_identity(client, case, make_member,
                                                               protected_source, role):
    member = make_member(role, username=f"member_{role}")
    client.force_login(member)
    response = client.get(_history_url(case, "source", protected_source))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Insider A" in content  # the codename is everyone's
    for value in (REAL_NAME, CONTACT, SOURCE_ADDRESS, "Identity", "Real name", "Contact"):
        assert value not in content
    assert not IdentityReveal.objects.exists()


def test_source_history_before_protection_is_for_handlers_only(client, case, handler,
                                                              reporter):
    source = SourceFactory(case=case, name=REAL_NAME, url="https://example.org/ivan")
    _save_as(source, reporter, reliability="C")
    _save_as(source, handler, name="Insider B", protected=True)
    _save_as(source, handler, reliability="B")
    url = _history_url(case, "source", source)

    client.force_login(reporter)
    content = client.get(url).content.decode()
    assert REAL_NAME not in content and "example.org/ivan" not in content
    assert "shown to the case's source handlers only" in content
    protecting = content[content.index("Changed", content.index("Changed") + 1):]
    protecting = protecting[:protecting.index("</table>")]
    assert ">Protected<" in protecting and ">no<" in protecting and ">yes<" in protecting
    assert ">Name or codename<" not in protecting
    # Changes since are everyone's: the grade changed from C to B.
    latest = content[content.index("Changed"):]
    latest = latest[:latest.index("</table>")]
    assert "by handler" in latest and ">Reliability<" in latest
    assert "C – Fairly reliable" in latest and "B – Usually reliable" in latest

    client.force_login(handler)
    content = client.get(url).content.decode()
    assert REAL_NAME in content
    assert "shown to the case's source handlers only" not in content


def test_claim_history_shows_a_protected_citation_address_to_handlers_only(
        client, case, handler, reporter, protected_source):
    claim = ClaimFactory(case=case)
    citation = CitationFactory(claim=claim, source=protected_source, url=CITATION_ADDRESS)
    assert citation.protected_url == CITATION_ADDRESS  # sealed on save
    _save_as(citation, handler, url=CITATION_ADDRESS.replace("42", "43"))
    url = _history_url(case, "claim", claim)

    client.force_login(handler)
    content = client.get(url).content.decode()
    changed = content[content.index("Citation from Insider A: changed"):]
    changed = changed[:changed.index("</table>")]
    assert ">Address<" in changed
    assert CITATION_ADDRESS in changed and CITATION_ADDRESS.replace("42", "43") in changed

    client.force_login(reporter)
    content = client.get(url).content.decode()
    assert "Citation from Insider A: added" in content
    assert "t.me/canary_channel" not in content
    # The change touched the address alone: nothing of it is shown, not even that it happened.
    assert "Citation from Insider A: changed" not in content


# --- cost ----------------------------------------------------------------------------------

def _edited(record, user, times, field):
    for n in range(times):
        _save_as(record, user, **{field: f"Edit number {n}"})


@pytest.mark.parametrize("edits", [1, 6])
def test_incident_history_query_count_does_not_grow_with_rows(client, case, reporter, edits,
                                                              django_assert_num_queries):
    incident = IncidentFactory(case=case, type=IncidentTypeFactory())
    _edited(incident, reporter, edits, "title")
    url = _history_url(case, "incident", incident)
    client.force_login(reporter)
    client.get(url)  # the warm-up: the session and Django's caches
    # session, user, case and membership, history rows with their authors, incident types,
    # users named in the rows.
    with django_assert_num_queries(5):
        response = client.get(url)
    # Each edit: the title before and after (the first before is the factory's); the
    # newest title is also the heading's and the page title's.
    assert response.content.decode().count("Edit number") == 2 * edits + 1


@pytest.mark.parametrize("edits", [1, 6])
def test_claim_history_query_count_does_not_grow_with_rows(client, case, reporter, edits,
                                                           django_assert_num_queries):
    claim = ClaimFactory(case=case, incident=IncidentFactory(case=case))
    for _ in range(edits):
        citation = CitationFactory(claim=claim)
        _edited(citation, reporter, edits, "quote")
    _edited(claim, reporter, edits, "statement")
    url = _history_url(case, "claim", claim)
    client.force_login(reporter)
    client.get(url)
    # session, user, case and membership, the claim's rows, its citations' rows, their
    # relays' rows, incidents, sources, users.
    with django_assert_num_queries(8):
        response = client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("edits", [1, 6])
def test_source_history_query_count_for_a_handler_does_not_grow_with_rows(
        client, case, handler, protected_source, edits, django_assert_num_queries):
    identity = protected_source.identity
    for n in range(edits):
        _save_as(identity, handler, contact=f"contact {n}")
        _save_as(protected_source, handler, reliability="B" if n % 2 else "C")
    url = _history_url(case, "source", protected_source)
    client.force_login(handler)
    client.get(url)
    # session, user, case and membership, the source's rows, the identity's rows, the live
    # source and the reveal log entry (no user is named in a source's fields).
    with django_assert_num_queries(7):
        response = client.get(url)
    assert f"contact {edits - 1}" in response.content.decode()


@pytest.mark.parametrize("edits", [1, 6])
@pytest.mark.parametrize(("kind", "make", "field", "queries"), [
    # session, user, case and membership, the rows, then one query per kind of record named:
    # a task's incident, claim and assignee are all empty here, so no more.
    ("task", lambda case: TaskFactory(case=case), "title", 4),
    # the party source (a source of the case)
    ("commentrequest", lambda case: CommentRequestFactory(
        case=case, party_name="", party_source=SourceFactory(case=case)), "reply_summary", 5),
    # the users who captured the files
    ("evidence", lambda case: EvidenceFactory(case=case, captured_by=UserFactory()),
     "description", 5),
])
def test_record_history_query_count_is_pinned(client, case, reporter, kind, make, field,
                                              queries, edits, django_assert_num_queries):
    record = make(case)
    _edited(record, reporter, edits, field)
    url = _history_url(case, kind, record)
    client.force_login(reporter)
    client.get(url)
    with django_assert_num_queries(queries):
        response = client.get(url)
    assert f"Edit number {edits - 1}" in response.content.decode()


def test_lists_link_each_record_to_its_history_for_viewers(client, case, viewer):
    incident = IncidentFactory(case=case)
    source = SourceFactory(case=case)
    task = TaskFactory(case=case)
    client.force_login(viewer)
    pages = {name: client.get(reverse(f"cases:{name}", args=[case.slug])).content.decode()
             for name in ("timeline", "source_list", "task_list")}
    assert reverse("cases:incident_history", args=[case.slug, incident.pk]) in pages["timeline"]
    assert reverse("cases:source_history", args=[case.slug, source.pk]) in pages["source_list"]
    assert reverse("cases:task_history", args=[case.slug, task.pk]) in pages["task_list"]
