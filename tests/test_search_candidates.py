"""How the search finds its candidates on PostgreSQL (cases/search.py): the newest rows read
one by one when a sample says they match often, the rest from the text indexes, with no
record found twice or missed; the user's cases as a list of keys when they are few; the
snippets computed for the shown rows only; and the search page's query count, which
depends neither on the hits nor on how many cases the user has."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import search
from cases.enums import Role
from cases.models import Claim, Membership

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the candidate queries are PostgreSQL's; SQLite has the exact-word fallback")

URL = reverse("cases:search")


@pytest.fixture
def small_limits(monkeypatch):
    """Limits a test can reach with a few dozen rows: at most 15 candidates, samples of 10
    rows (5 of the user's at least), and up to 40 newest rows read one by one."""
    monkeypatch.setattr(search, "CANDIDATE_LIMIT", 15)
    monkeypatch.setattr(search, "SAMPLE_ROWS", 10)
    monkeypatch.setattr(search, "MIN_SAMPLED", 5)
    monkeypatch.setattr(search, "NEWEST_ROWS", 40)


def _claims(case, statements):
    return [ClaimFactory(case=case, statement=statement) for statement in statements]


def _survey(user, text, kinds=("claim",), **filters):
    with transaction.atomic(), connection.cursor() as cursor:
        return search._survey(cursor, [search.KINDS[key] for key in kinds], user, text,
                              search.Filters(**filters))


def _candidates(kind_key, user, text, *, read_from=None, limit=100, scope_keys=None):
    """What the ranking statement returns (count, best keys, ranks), run as the search runs
    it."""
    with transaction.atomic(), connection.cursor() as cursor:
        search._candidate_plans(cursor)
        sql, params = search.ranking_statement(
            search.KINDS[kind_key], user, text, limit=limit, read_from=read_from,
            scope_keys=scope_keys)
        cursor.execute(sql, params)
        return cursor.fetchone()


def _plan(kind_key, user, text, **options) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        search._candidate_plans(cursor)
        sql, params = search.ranking_statement(search.KINDS[kind_key], user, text, limit=5,
                                               **options)
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- the newest rows ---------------------------------------------------------------------


@on_postgresql
def test_search_reads_the_newest_rows_when_they_match_often(case, viewer, small_limits):
    old = _claims(case, [f"Deserters seen at the gate {i}." for i in range(30)])
    _claims(case, [f"Nothing to report {i}." for i in range(20)])
    newest = _claims(case, [f"Deserters seen in town {i}." for i in range(20)])
    survey = _survey(viewer, "deserters")
    assert survey.read_from["claim"] == newest[-1].pk - search.NEWEST_ROWS + 1
    assert survey.scope_keys == {}  # the user's one case is all there is
    results = search.search(viewer, "deserters", search.Filters(kind="claim"), per_kind=50)
    group = results.groups[0]
    assert group.total == 15 and group.capped
    # Every candidate is one of the newest matches: the old ones were never needed.
    assert {hit.record.pk for hit in group.hits} <= {claim.pk for claim in newest}
    assert not {hit.record.pk for hit in group.hits} & {claim.pk for claim in old}


@on_postgresql
def test_search_asks_the_text_index_when_the_newest_rows_rarely_match(case, viewer,
                                                                       small_limits):
    rare = _claims(case, ["Zebra crossing near the barracks.", "A zebra again."])
    frequent = _claims(case, [f"Deserters seen {i}." for i in range(40)])
    assert "claim" not in _survey(viewer, "zebra").read_from
    # The same rows, a frequent word: the newest 40 are read one by one.
    assert _survey(viewer, "deserters").read_from == {"claim": frequent[0].pk}
    found = search.search(viewer, "zebra", search.Filters(kind="claim")).groups[0]
    assert found.total == 2
    assert sorted(hit.record.pk for hit in found.hits) == sorted(claim.pk for claim in rare)


def _by_case_index(plan: str) -> bool:
    """Whether the plan reads claims through an index that starts with their case."""
    return any(name in plan for name in ("claim_case_newest", "cases_claim_case_id"))


@on_postgresql
def test_search_reads_the_rows_of_few_cases_when_they_match_often(case, viewer,
                                                                   small_limits):
    """A user with few cases: their own rows, read one by one through the cases' keys, when
    a sample of them matches often."""
    others = [CaseFactory() for _ in range(4)]
    for other in others:
        _claims(other, [f"Deserters elsewhere {i}." for i in range(12)])
    mine = _claims(case, [f"Deserters detained {i}." for i in range(12)])
    _claims(case, ["Zebra crossing."])
    survey = _survey(viewer, "deserters")
    assert survey.scope_keys == {"claim": [case.pk]}
    assert survey.read_from == {"claim": 0}
    assert "claim" not in _survey(viewer, "zebra").read_from
    plan = _plan("claim", viewer, "deserters", read_from=0, scope_keys=[case.pk])
    assert "ts_match_vq" in plan and _by_case_index(plan)
    found = search.search(viewer, "deserters", search.Filters(kind="claim"), per_kind=50)
    assert found.groups[0].total == 12
    assert {hit.record.pk for hit in found.groups[0].hits} == {claim.pk for claim in mine}


@on_postgresql
def test_search_newest_rows_and_the_rest_add_up_without_repeats(case, viewer, small_limits):
    """Fewer matches among the newest rows than the limit: the text index gives the rest,
    and nothing the newest rows gave comes again."""
    old = _claims(case, [f"Deserters detained {i}." for i in range(30)])
    _claims(case, [f"Nothing to report {i}." for i in range(30)])
    newest = _claims(case, [f"Deserters detained again {i}." for i in range(10)])
    read_from = newest[-1].pk - search.NEWEST_ROWS + 1
    total, ids, _ = _candidates("claim", viewer, "deserters", read_from=read_from)
    assert total == 15 and len(ids) == len(set(ids)) == 15
    assert {claim.pk for claim in newest} <= set(ids)
    assert set(ids) - {claim.pk for claim in newest} <= {claim.pk for claim in old}


@on_postgresql
def test_search_trigram_matches_among_the_newest_rows_are_not_lost_or_repeated(case, viewer):
    # The region matches "Rostov" by its words and by trigram similarity alike; the place
    # of the last two only by trigram ("Rostow").
    by_words = [IncidentFactory(case=case, title=f"Escape {i}", place_name="Kursk",
                                admin_region="Rostov Oblast") for i in range(6)]
    by_trigram = [IncidentFactory(case=case, title=f"Escape {i}", place_name="Rostow",
                                  admin_region="Kursk Oblast") for i in range(2)]
    IncidentFactory(case=case, title="Escape", place_name="Kursk", admin_region="Kursk Oblast")
    expected = {incident.pk for incident in by_words + by_trigram}
    everything = _candidates("incident", viewer, "Rostov")
    for read_from in (by_words[3].pk, by_trigram[0].pk, by_trigram[-1].pk + 1):
        total, ids, _ = _candidates("incident", viewer, "Rostov", read_from=read_from)
        assert len(ids) == len(set(ids)) == total == len(expected)
        assert set(ids) == expected
        assert (total, ids) == everything[:2]


@on_postgresql
def test_search_newest_rows_are_read_by_key_and_the_rest_by_the_text_index(case, viewer):
    ClaimFactory(case=case, statement="Deserters detained.")
    plan = _plan("claim", viewer, "deserters", read_from=1)
    newest, rest = plan.split("Bitmap Index Scan on claim_search_gin")[0], plan
    assert "cases_claim_pkey" in newest and "ts_match_vq" in newest
    assert "claim_search_gin" in rest
    assert "Seq Scan on cases_claim" not in plan
    without = _plan("claim", viewer, "deserters")
    assert "claim_search_gin" in without and "cases_claim_pkey" not in without


# --- the user's cases --------------------------------------------------------------------


@on_postgresql
def test_search_few_cases_are_given_as_keys(case, viewer):
    others = [CaseFactory() for _ in range(4)]
    source = SourceFactory(case=case)
    SourceFactory(case=others[0])
    survey = _survey(viewer, "deserters", kinds=("claim", "citation", "case"))
    assert survey.scope_keys == {"claim": [case.pk], "citation": [source.pk],
                                 "case": [case.pk]}
    chief = MembershipFactory(case=others[0], role=Role.EDITOR).user
    for other in [case, *others[1:]]:
        MembershipFactory(case=other, user=chief, role=Role.EDITOR)
    assert _survey(chief, "deserters").scope_keys == {}  # every case: no list


@on_postgresql
def test_search_with_few_cases_finds_only_theirs(client, case, viewer):
    others = [CaseFactory() for _ in range(4)]
    mine = ClaimFactory(case=case, statement="Deserters detained.")
    quote = CitationFactory(claim=mine, quote="Deserters detained, said a witness.")
    for other in others:
        claim = ClaimFactory(case=other, statement="Deserters detained elsewhere.")
        CitationFactory(claim=claim, quote="Deserters detained elsewhere, they said.")
    assert _survey(viewer, "deserters", kinds=("claim", "citation")).scope_keys
    client.force_login(viewer)
    results = client.get(URL, {"q": "deserters detained"}).context["results"]
    found = {group.kind.key: [hit.record for hit in group.hits] for group in results.groups}
    assert found["claim"] == [mine] and found["citation"] == [quote]
    assert results.total == 2


@on_postgresql
def test_search_with_few_cases_reads_their_rows_through_the_case_index(case, viewer):
    """Among other cases' thousands of rows: a frequent word is looked for in the user's own
    rows, found through the case index, before the text index is asked; the other cases'
    rows are never read."""
    others = [CaseFactory() for _ in range(7)]
    Claim.objects.bulk_create([  # no history needed: these rows only shape the plan
        Claim(case=others[i % 7], statement=f"Deserters detained near unit {i}.")
        for i in range(4000)])
    mine = ClaimFactory(case=case, statement="Deserters detained.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_claim")
    keys = _survey(viewer, "deserters").scope_keys["claim"]
    assert keys == [case.pk]
    plan = _plan("claim", viewer, "deserters detained", read_from=0, scope_keys=keys)
    theirs = plan.split("->  Bitmap Heap Scan")[1]  # the first part of the union
    assert _by_case_index(theirs) and "ts_match_vq" in theirs
    assert "Seq Scan on cases_claim" not in plan
    total, ids, _ = _candidates("claim", viewer, "deserters detained", read_from=0,
                                scope_keys=keys)
    assert (total, ids) == (1, [mine.pk])


# --- one snapshot: a member of every case ------------------------------------------------


def _candidate_statements(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("WITH candidates")]


def _every_case_member(viewer, *cases):
    for other in cases:
        MembershipFactory(case=other, user=viewer, role=Role.VIEWER)
    return viewer


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_search_of_a_member_of_every_case_checks_no_membership(case, viewer):
    """In a transaction of its own, one snapshot: a member of every case is searched
    without a membership check on any row, and finds what is in each of their cases."""
    other = CaseFactory()
    _every_case_member(viewer, other)
    found = [ClaimFactory(case=c, statement="Deserters detained.") for c in (case, other)]
    CitationFactory(claim=found[1], quote="Deserters detained, said a witness.")
    with CaptureQueriesContext(connection) as queries:
        results = search.search(viewer, "deserters", search.Filters(kind="claim"))
        quotes = search.search(viewer, "deserters", search.Filters(kind="citation"))
    statements = _candidate_statements(queries)
    assert len(statements) == 2
    assert not any("cases_membership" in sql for sql in statements)
    assert {hit.record for hit in results.groups[0].hits} == set(found)
    assert [hit.record.claim for hit in quotes.groups[0].hits] == [found[1]]


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_search_of_a_member_of_all_but_one_case_checks_memberships(case, viewer):
    other = CaseFactory()
    mine = ClaimFactory(case=case, statement="Deserters detained.")
    ClaimFactory(case=other, statement="Deserters detained elsewhere.")
    with CaptureQueriesContext(connection) as queries:
        results = search.search(viewer, "deserters", search.Filters(kind="claim"))
    assert all("cases_membership" in sql for sql in _candidate_statements(queries))
    assert results.groups[0].total == 1
    assert [hit.record for hit in results.groups[0].hits] == [mine]


@on_postgresql
def test_search_inside_another_transaction_checks_memberships(case, viewer):
    """Inside a transaction already open (here the test's), the survey and the candidates
    cannot share one snapshot: every row is checked against the user's memberships, even
    for a member of every case."""
    ClaimFactory(case=case, statement="Deserters detained.")
    assert _survey(viewer, "deserters").every_case is False
    with CaptureQueriesContext(connection) as queries:
        results = search.search(viewer, "deserters", search.Filters(kind="claim"))
    assert all("cases_membership" in sql for sql in _candidate_statements(queries))
    assert results.groups[0].total == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_search_snapshot_leaves_out_a_case_added_after_the_survey(case, viewer):
    """A case (and its records) added by someone else between the survey, which found the
    user a member of every case, and the candidate queries is not in the snapshot: it is
    neither counted nor found, though no row is checked against memberships."""
    ClaimFactory(case=case, statement="Deserters detained.")

    def add_another_case():  # on a connection of its own, committed at once
        try:
            ClaimFactory(case=CaseFactory(), statement="Deserters detained elsewhere.")
        finally:
            connection.close()

    filters = search.Filters(kind="claim")
    with search._one_snapshot() as snapshot, connection.cursor() as cursor:
        survey = search._survey(cursor, [search.KINDS["claim"]], viewer, "deserters", filters,
                                one_snapshot=snapshot)
        assert snapshot and survey.every_case
        worker = threading.Thread(target=add_another_case)
        worker.start()
        worker.join()
        total, ids, _ = search._best_candidates(cursor, search.KINDS["claim"], viewer,
                                                "deserters", filters, 5, 0, survey)
    assert Claim.objects.filter(statement__startswith="Deserters").count() == 2
    assert total == 1 and len(ids) == 1


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_search_snapshot_is_read_only_and_the_connection_is_restored(case, viewer):
    with search._one_snapshot() as snapshot, connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('transaction_isolation'), "
                       "current_setting('transaction_read_only')")
        assert snapshot and cursor.fetchone() == ("repeatable read", "on")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('transaction_isolation'), "
                       "current_setting('transaction_read_only')")
        assert cursor.fetchone() == ("read committed", "off")
        ClaimFactory(case=case, statement="Written after a search.")
    assert Claim.objects.filter(statement="Written after a search.").exists()


# --- snippets and queries ----------------------------------------------------------------


@on_postgresql
def test_search_snippets_are_made_for_the_shown_rows_only(case, viewer):
    _claims(case, [f"Deserters detained {i}." for i in range(12)])
    with CaptureQueriesContext(connection) as queries:
        results = search.search(viewer, "deserters", search.Filters(kind="claim"),
                                per_kind=5)
    assert results.groups[0].total == 12 and len(results.groups[0].hits) == 5
    headlines = [q["sql"] for q in queries.captured_queries if "ts_headline" in q["sql"]]
    assert len(headlines) == 1
    assert "LIMIT" not in headlines[0]  # the five shown rows by key, nothing to cut
    assert all("<mark>" in str(hit.snippet) for hit in results.groups[0].hits)


def _page_queries(client, user, **params):
    client.force_login(user)
    client.get(URL, params)  # sessions, caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    assert response.status_code == 200
    return response, len(queries.captured_queries)


def test_search_page_queries_do_not_grow_with_the_users_cases(client, case, viewer):
    ClaimFactory(case=case, statement="Deserters detained.")
    _, few = _page_queries(client, viewer, q="deserters")
    for i in range(30):
        MembershipFactory(case=CaseFactory(title=f"Story {i}"), user=viewer, role=Role.VIEWER)
    response, many = _page_queries(client, viewer, q="deserters")
    assert response.content.decode().count('<option value="') >= 31 + 6 + 8
    assert many == few


def test_search_query_count_is_pinned(case, viewer, django_assert_num_queries):
    """On PostgreSQL: a savepoint, the survey (2, the second also setting the plans), one
    candidate query per kind (6), the savepoint's release, then one query per kind with
    hits (5 here: no evidence). On SQLite one query per kind."""
    claim = ClaimFactory(case=case, statement="Deserters detained.")
    CitationFactory(claim=claim, quote="Deserters detained.")
    IncidentFactory(case=case, title="Deserters detained")
    SourceFactory(case=case, name="Deserters watch")
    expected = 15 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(expected):
        results = search.search(viewer, "deserters")
    assert {group.kind.key for group in results.groups
            if group.hits} >= {"claim", "citation", "incident", "source"}


# --- the case list -----------------------------------------------------------------------


def test_search_case_list_escapes_titles_and_marks_the_chosen_case(client, case, viewer):
    odd = CaseFactory(title='<b>"Bold" & co</b>')
    MembershipFactory(case=odd, user=viewer, role=Role.VIEWER)
    CaseFactory(title="Not theirs")
    client.force_login(viewer)
    html = client.get(URL, {"q": "deserters", "case": odd.pk}).content.decode()
    assert f'<option value="{odd.pk}" selected>&lt;b&gt;&quot;Bold&quot; &amp; co&lt;/b&gt;' \
           f"</option>" in html
    assert f'<option value="{case.pk}">{case.title}</option>' in html
    assert '<option value="">All my cases</option>' in html
    assert "<b>" not in html.split('name="case"')[1].split("</select>")[0]
    assert "Not theirs" not in html
    assert Membership.objects.filter(user=viewer).count() == 2
