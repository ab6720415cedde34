"""Exact query counts of every page of a case, of the pages across a user's cases, and of
every API list, each at one record and at six.

The world a test builds holds `item_count` records of every kind, each with the rows its
pages show beside it: its author, incident and type, sources along an attribution chain,
citations, verification events, proposals, custody entries, identity reveals. The same
literal count at one and at six is what shows that a page reads no row per record (pretalx
pins its pages this way); a page whose count must change with its records would be pinned at
both. A change that costs a query fails here: if the query is worth it, change the number in
the same commit and say why there.

Counted: all a request does, the session and the user included. A warm-up request comes
first, because the first request after signing in also saves the session (the once-a-minute
refresh, config/middleware.py) and the first of a process fills Django's caches (content
types, templates); the session is then not saved again during the test
(SESSION_REFRESH_SECONDS is raised, so a slow machine cannot cross the minute). The timeline's
and the claims board's cached parts are rendered, not served: the cache is cleared after the
warm-up (what they cost when served is pinned at the end).

The counts are the same on SQLite and PostgreSQL except for the search (`per_backend`)."""

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from capture.models import Capture, CaptureFile
from cases import workflow
from cases.enums import CitationRelation, Role
from cases.enums import VerificationStatus as S
from cases.models import IdentityReveal, Membership, RevealChannel, SourceIdentity

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    DeskEditorFactory,
    EvidenceFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
    api_key_for,
)
from .query_counts import measured_get, text

pytestmark = pytest.mark.django_db

MANY = 6
item_counts = pytest.mark.parametrize("item_count", [1, MANY], ids=["1", f"{MANY}"])
_serial = itertools.count(1)


def per_backend(*, sqlite: int, postgresql: int) -> int:
    return postgresql if connection.vendor == "postgresql" else sqlite


@pytest.fixture(autouse=True)
def _session_saved_by_the_warm_up_only(settings):
    """The session is refreshed at the warm-up, then not within the day (module docstring)."""
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60


# --- the worlds ------------------------------------------------------------------------------

def fill_case(case, n, *, me) -> dict[str, list]:
    """`n` records of every kind in `case`, each by a different member (who is a source
    handler), with the related rows their pages show. The case's first claim also gathers a
    citation and a proposed verdict from each member: its page lists them."""
    origin = SourceFactory(case=case, name=f"Origin outlet {next(_serial)}", reliability="B")
    insider = SourceFactory(case=case, name=f"Insider {next(_serial)}", protected=True)
    SourceIdentity.objects.create(source=insider, real_name="Ivan Realname")
    world = defaultdict(list, case=case, protected=[insider])
    for _ in range(n):
        k = next(_serial)
        member = UserFactory(username=f"member{k}")
        membership = MembershipFactory(case=case, user=member, role=Role.REPORTER,
                                       can_handle_sources=True, added_by=me)
        incident = IncidentFactory(
            case=case, type=IncidentTypeFactory(name=f"Desertion kind {k}"), created_by=member,
            title=f"Deserters of unit {k}", occurred=f"2025-05-{k % 28 + 1:02d}",
            latitude=Decimal("47.5301"), longitude=Decimal("40.1657"), geo_precision="point")
        source = SourceFactory(case=case, name=f"Deserters watch {k}", created_by=member,
                               reached_via=world["sources"][-1] if world["sources"] else origin)
        claim = ClaimFactory(case=case, incident=incident, created_by=member,
                             statement=f"Deserters number {k} were detained.",
                             figure_value=Decimal(k), figure_unit="deserters")
        CitationFactory(claim=claim, source=source, relays=[origin], created_by=member,
                        quote=f"Deserters said so ({k}).")
        CitationFactory(claim=claim, source=insider, created_by=member)
        CitationFactory(claim=None, incident=incident, source=source, created_by=member)
        workflow.transition(claim, S.IN_REVIEW, actor=member)
        workflow.propose(claim, S.CONFIRMED, actor=member, note="Two outlets agree.")
        refuted = ClaimFactory(case=case, incident=incident, created_by=member,
                               statement=f"Refuted statement {k}.")
        CitationFactory(claim=refuted, source=source, relation=CitationRelation.DENIES,
                        created_by=member)
        workflow.transition(refuted, S.FALSE, actor=me, note="The source itself denies it.")
        if world["claims"]:
            first = world["claims"][0]
            CitationFactory(claim=first, source=source, relays=[insider], created_by=member)
            workflow.propose(first, S.CONFIRMED, actor=member, note=f"Seen by member{k}.")
        evidence = EvidenceFactory(case=case, claim=claim, incident=incident, captured_by=member,
                                   created_by=member, description=f"Deserters photo {k}.")
        evidence.start_custody(member, "Collected.")
        # The claim's citation was captured: the evidence is the capture's screenshot.
        captured = CitationFactory(claim=claim, source=source, created_by=member,
                                   url=f"https://deserters.example/{k}")
        capture = Capture.objects.create(
            case=case, citation=captured, requested_by=member, status=Capture.Status.DONE,
            url=captured.url, final_url=captured.url, http_status=200, title=f"Page {k}",
            captured_at=timezone.now(), manifest_sha256=f"{k:064x}",
            tsa_url="https://tsa.example/", timestamped_at=timezone.now(),
            timestamp_token=b"token", verified_at=timezone.now())
        CaptureFile.objects.create(capture=capture, evidence=evidence,
                                   role=CaptureFile.Role.SCREENSHOT)
        task = TaskFactory(case=case, claim=claim, incident=incident, assignee=me,
                           created_by=member, title=f"Archive page {k}")
        request_ = CommentRequestFactory(
            case=case, incident=incident, party_source=source, party_name="", asked_by=member,
            created_by=member, deadline=timezone.now() - dt.timedelta(days=1))
        IdentityReveal.objects.record(member, [insider], RevealChannel.SOURCE_PAGE)
        for name, record in [("members", member), ("memberships", membership),
                             ("incidents", incident), ("sources", source), ("claims", claim),
                             ("refuted", refuted), ("evidence", evidence), ("tasks", task),
                             ("requests", request_)]:
            world[name].append(record)
    return world


@pytest.fixture
def handler(case, editor):
    """The case's editor, also one of its source handlers: they are shown everything."""
    Membership.objects.filter(case=case, user=editor).update(can_handle_sources=True)
    return editor


@pytest.fixture
def one_case(case, handler, item_count):
    """`item_count` records of every kind in one case (the case pages)."""
    return fill_case(case, item_count, me=handler)


@pytest.fixture
def many_cases(item_count):
    """`item_count` cases of one editor, a record of every kind in each (the pages across
    cases and the API's lists)."""
    me = UserFactory(username="desk")
    worlds = []
    for _ in range(item_count):
        case = CaseFactory(title=f"Desk case {next(_serial)}")
        MembershipFactory(case=case, user=me, role=Role.EDITOR, can_handle_sources=True)
        world = fill_case(case, 1, me=me)
        case.lead = world["members"][0]
        case.save()
        worlds.append(world)
    return me, worlds


# --- the pages of a case -------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    url_name: str
    queries: int
    #: what the page shows of the world: the records themselves, not only that it answered
    shows: Callable[[dict], list[str]]
    record: str | None = None  # the world's list whose first record the URL names
    params: tuple = ()

    def url(self, world) -> str:
        args = [world["case"].slug]
        if self.record:
            args.append(world[self.record][0].pk)
        return reverse(f"cases:{self.url_name}", args=args)


def _usernames(w):
    return [m.username for m in w["members"]]


def _statements(w):
    return [c.statement for c in w["claims"]]


def _titles(kind):
    return lambda w: [r.title for r in w[kind]]


def _source_names(w):
    return [s.name for s in w["sources"]]


def _type_names(w):
    return [i.type.name for i in w["incidents"]]


def _claim_page(w):
    # the first claim's citations (one source per member) and its events (one per member),
    # and its captured citation's capture
    return _source_names(w) + [f"Seen by {m.username}." for m in w["members"][1:]] + [
        'data-status="done"', "timestamped by tsa.example"]


CASE_PAGES = [
    # session, user, membership + case; figures (the ranking, the claims kept, their
    # citations, the citations' relays, the attribution chains), people counts, three record
    # counts, members, the cited pages gone or changed, the linked cases
    Page("case_overview", 15, lambda w: _usernames(w) + ["deserters"]),
    # session, user, membership + case; count, incidents + types, their claims, requests
    Page("timeline", 7, lambda w: _titles("incidents")(w) + _statements(w)
         + _source_names(w)),
    # session, user, membership + case; the attribution chains, the columns, their citations
    # and the citations' relays
    Page("claims_board", 7, _statements),
    Page("claims_board", 8, _statements, params=(("status", "in_review"),)),
    # session, user, membership + case; the claim, its citations and their relays + sources,
    # the chains with the sources' names, the moves (the role, the events seen by the
    # four-eyes rule), the support (citations and their relays, chains, sources),
    # the events + actors, the citations' captures + requesters, their files + evidence; its
    # figure's other reports (ranking, claims, citations, relays, chains: tallies.figure_check)
    Page("claim_detail", 23, _claim_page, record="claims"),
    # session, user, membership + case; names, chains, count, the page of sources
    Page("source_list", 7, _source_names),
    # session, user, membership + case; count, handler grants, the page of reveals + users
    Page("identity_reveals", 6, _usernames),
    Page("evidence_list", 5, lambda w: [e.description for e in w["evidence"]] + _usernames(w)),
    Page("task_list", 5, lambda w: _titles("tasks")(w) + _statements(w)),
    # session, user, membership + case; events, the history of seven kinds, the cases named
    # (a page of the newest items: the last member's are on it)
    Page("activity", 12, lambda w: [w["claims"][-1].statement, w["incidents"][-1].title,
                                    w["members"][-1].username]),
    # the record forms (GET): session, user, membership + case, the record, its choices
    Page("case_edit", 4, _usernames),
    Page("member_list", 4, _usernames),
    # the member's form and its remove form each carry the membership's version
    Page("member_edit", 6, lambda w: [w["members"][0].username], record="memberships"),
    Page("incident_create", 4, _type_names),
    Page("incident_edit", 5, lambda w: [w["incidents"][0].title] + _type_names(w),
         record="incidents"),
    Page("source_create", 4, _source_names),
    Page("source_edit", 6, _source_names, record="sources"),
    # a protected source's page shows its handler who the source is (the identity and its
    # version), and logs so
    Page("source_edit", 8, lambda w: ["Ivan Realname"], record="protected"),
    Page("claim_create", 5, lambda w: _titles("incidents")(w) + _source_names(w)),
    # ... and the citations' relays
    Page("claim_edit", 8, lambda w: [w["claims"][0].statement] + _source_names(w),
         record="claims"),
    Page("evidence_create", 5, lambda w: _statements(w) + _titles("incidents")(w)),
    Page("task_create", 6, lambda w: _statements(w) + _titles("incidents")(w) + _usernames(w)),
    Page("task_edit", 7, lambda w: [w["tasks"][0].title] + _statements(w) + _usernames(w),
         record="tasks"),
    Page("commentrequest_create", 6, lambda w: _source_names(w) + _titles("incidents")(w)
         + _usernames(w)),
    Page("commentrequest_edit", 7, lambda w: _source_names(w) + _titles("incidents")(w)
         + _usernames(w), record="requests"),
    # the export and import pages read nothing of the case's records
    Page("export_case", 3, lambda w: ["Incidents (CSV, ACLED-style columns)"]),
    Page("import_upload", 3, lambda w: ["Import"]),
    # the downloads: session, user, membership + case, then what each export reads: the
    # incidents' (incidents + types, the sources citing them, their claims, the claims'
    # sources); the whole case's (each kind once, the claims' events, the citations' relays)
    Page("export_case", 7, _titles("incidents"), params=(("format", "csv"),)),
    Page("export_case", 7, lambda w: ["xl/worksheets/"], params=(("format", "xlsx"),)),
    Page("export_case", 14, lambda w: _statements(w) + _source_names(w),
         params=(("format", "json"),)),
    Page("export_case", 7, _titles("incidents"), params=(("format", "geojson"),)),
    Page("export_case", 6, lambda w: [c.statement for c in w["refuted"]],
         params=(("format", "claimreview"),)),
    # a file: session, user, membership + case, the evidence, its custody entry
    Page("evidence_download", 5, lambda w: ["evidence bytes"], record="evidence"),
]


def _page_id(page: Page) -> str:
    return "-".join([page.url_name, *(f"{k}={v}" for k, v in page.params),
                     *([page.record] if page.record == "protected" else [])])


@pytest.mark.parametrize("page", CASE_PAGES, ids=_page_id)
@item_counts
def test_case_page_query_count_is_pinned(client, one_case, handler, page, item_count,
                                         django_assert_num_queries):
    client.force_login(handler)

    content = text(measured_get(client, page.url(one_case), django_assert_num_queries,
                                page.queries, dict(page.params)))

    missing = [text for text in page.shows(one_case) if text not in content]
    assert not missing


@item_counts
def test_cached_case_page_parts_cost_only_the_access_check(client, one_case, handler,
                                                           item_count,
                                                           django_assert_num_queries):
    client.force_login(handler)
    for name in ("timeline", "claims_board"):
        url = reverse(f"cases:{name}", args=[one_case["case"].slug])
        client.get(url)  # renders the part and keeps it
        # session, user, membership + case: the part comes from the cache
        with django_assert_num_queries(3):
            content = client.get(url).content.decode()
        assert one_case["claims"][0].statement in content


# --- the pages across the user's cases -------------------------------------------------------

def _case_titles(worlds):
    return [w["case"].title for w in worlds]


def _all(worlds, kind, attribute):
    return [str(getattr(record, attribute)) for w in worlds for record in w[kind]]


CROSS_CASE_PAGES = [
    # session, user; the user's cases counted, the newest listed; the activity (events, the
    # history of seven kinds, the cases named); awaiting a verdict, my tasks, overdue requests
    ("cases:dashboard", {}, 16, lambda ws: _case_titles(ws) + _all(ws, "claims", "statement")
     + _all(ws, "tasks", "title") + _all(ws, "sources", "name")),
    # session, user; count, whether they may open cases, the page of cases + leads
    ("cases:case_list", {}, 5, lambda ws: _case_titles(ws) + _all(ws, "members", "username")),
    # session, user; count, the page of claims + cases + proposers
    ("cases:review_queue", {}, 4, lambda ws: _case_titles(ws) + _all(ws, "claims", "statement")
     + _all(ws, "members", "username")),
]


@pytest.mark.parametrize(("url_name", "params", "queries", "shows"), CROSS_CASE_PAGES,
                         ids=[page[0].split(":")[1] for page in CROSS_CASE_PAGES])
@item_counts
def test_cross_case_page_query_count_is_pinned(client, many_cases, url_name, params, queries,
                                               shows, item_count, django_assert_num_queries):
    me, worlds = many_cases
    client.force_login(me)

    content = text(measured_get(client, reverse(url_name), django_assert_num_queries, queries,
                                params))

    missing = [text for text in shows(worlds) if text not in content]
    assert not missing


@item_counts
def test_case_create_page_query_count_is_pinned(client, many_cases, item_count,
                                                django_assert_num_queries):
    me, worlds = many_cases
    desk_editor = DeskEditorFactory(username="opener")
    for world in worlds:
        MembershipFactory(case=world["case"], user=desk_editor, role=Role.EDITOR)
    client.force_login(desk_editor)

    # session, user, the right to open cases, the lead's choices
    content = text(measured_get(client, reverse("cases:case_create"),
                                django_assert_num_queries, 4))

    assert "opener" in content


# Session, user; the search (cases/search.py); the case filter's choices. The search differs
# by backend: SQLite reads each kind of record in one query (six kinds; one when a kind is
# chosen). PostgreSQL, within a savepoint (its start and release), surveys the user's cases,
# sets the plan and asks each kind for its candidates, then reads the rows of each kind with
# hits (five of six here: no case is called "deserters").
SEARCH_QUERIES = {
    "": {"sqlite": 9, "postgresql": 18},
    "claim": {"sqlite": 4, "postgresql": 9},
}


@pytest.mark.parametrize("kind", SEARCH_QUERIES)
@item_counts
def test_search_page_query_count_is_pinned(client, many_cases, kind, item_count,
                                           django_assert_num_queries):
    me, worlds = many_cases
    client.force_login(me)
    queries = per_backend(**SEARCH_QUERIES[kind])

    content = text(measured_get(client, reverse("cases:search"), django_assert_num_queries,
                                queries, {"q": "deserters", "kind": kind}))

    shown = [text for text in _all(worlds, "claims", "statement") if text in content]
    assert len(shown) == min(item_count, 5 if not kind else 20)


def test_health_check_query_count_is_pinned(client, django_assert_num_queries):
    # the database's answer; no session, no user
    measured_get(client, reverse("cases:healthz"), django_assert_num_queries, 1)


# --- the API's lists -----------------------------------------------------------------------

# kind → (how many of the kind each case of `many_cases` holds, queries). Each list: the token
# and its user, the count, the page of rows with what they show. The cases' list also reads the
# user's memberships (each case's `my_role`), once; so does the citations' (whether each
# address is withheld), which also reads their relays and the relays' names.
API_LISTS = {
    "cases": (1, 4),
    "incident-types": (1, 3),
    "incidents": (1, 3),
    "sources": (3, 3),
    "claims": (2, 3),
    "citations": (5, 5),
    "tasks": (1, 3),
    "comment-requests": (1, 3),
    # also each record's custody entries + actors, and its capture's files + evidence
    "evidence": (1, 5),
    # also the files + evidence
    "captures": (1, 4),
}


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return api


@pytest.mark.parametrize("kind", API_LISTS)
@item_counts
def test_api_list_query_count_is_pinned(many_cases, kind, item_count,
                                        django_assert_num_queries):
    me, worlds = many_cases
    per_case, queries = API_LISTS[kind]
    api = token_client(me)
    url = f"/api/v1/{kind}/"
    # The API keeps no session: the warm-up only fills the process's caches.
    api.get(url)

    with django_assert_num_queries(queries):
        response = api.get(url)

    body = response.json()
    assert body["count"] == len(body["results"]) == per_case * item_count


@item_counts
def test_api_claim_events_query_count_is_pinned(one_case, handler, item_count,
                                                django_assert_num_queries):
    api = token_client(handler)
    url = f"/api/v1/claims/{one_case['claims'][0].pk}/events/"
    api.get(url)

    # the token and its user, the claim, its events with their actors
    with django_assert_num_queries(3):
        response = api.get(url)

    # its move to review and its first proposal, then one proposal from each other member
    assert [event["actor"] for event in response.json()] == (
        [one_case["members"][0].username] * 2 + [m.username for m in one_case["members"][1:]])
