"""Search (cases/search.py, the page at /search/): scoped to the user's cases, never by a
protected identity, stemming in English and Russian and trigram similarity on PostgreSQL,
the words' forms on SQLite too (tests/test_search_russian.py has the table of Russian and
Ukrainian forms), bad input answered with results or a message, safe snippets, and a query
count that does not grow with the hits."""

import datetime as dt
from urllib.parse import quote, quote_plus

import pytest
from django.contrib.postgres.lookups import TrigramWordSimilar
from django.db import connection
from django.db.models import F
from django.urls import reverse

from cases import search, workflow
from cases.enums import Role, VerificationStatus
from cases.models import Claim, SourceIdentity

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    EvidenceFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
)
from .test_http_security import assert_no_inline_code

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="full-text stemming and trigram similarity are PostgreSQL features; SQLite has "
           "the exact-word fallback")

URL = reverse("cases:search")


def _search(client, user, **params):
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200
    return response


def _found(response, kind):
    results = response.context["results"]
    if results is None:
        return []
    return [hit.record for group in results.groups if group.kind.key == kind
            for hit in group.hits]


def _titles(user, text, kind, **filters):
    results = search.search(user, text, search.Filters(kind=kind, **filters), per_kind=50)
    return [hit.record for hit in results.groups[0].hits]


# --- scope -------------------------------------------------------------------------------


def test_search_outsider_finds_nothing_of_a_case(client, case, outsider):
    ClaimFactory(case=case, statement="Ten deserters fled the training ground.")
    response = _search(client, outsider, q="deserters")
    assert _found(response, "claim") == []
    assert b"deserters fled" not in response.content


def test_search_member_finds_the_claims_of_their_case(client, case, viewer):
    claim = ClaimFactory(case=case, statement="Ten deserters fled the training ground.")
    response = _search(client, viewer, q="deserters")
    assert _found(response, "claim") == [claim]
    assert reverse("cases:claim_detail", args=[case.slug, claim.pk]).encode() in response.content


def test_search_editor_sees_only_their_cases_not_others(client, case, editor):
    mine = ClaimFactory(case=case, statement="Deserters caught near the training ground.")
    ClaimFactory(case=CaseFactory(), statement="Deserters caught in another case.")
    response = _search(client, editor, q="deserters caught")
    assert _found(response, "claim") == [mine]


def test_search_case_filter_offers_only_the_users_cases(client, case, viewer):
    other = CaseFactory(title="Secret other story")
    response = _search(client, viewer, q="x", case=other.pk)
    assert "case" in response.context["form"].errors
    assert response.context["results"] is None
    assert b"Secret other story" not in response.content


def test_search_finds_every_record_kind(client, case, reporter):
    incident = IncidentFactory(case=case, title="Escape from the barracks",
                               description="Soldiers left at night.")
    claim = ClaimFactory(case=case, statement="The barracks were empty by morning.")
    source = SourceFactory(case=case, name="Barracks Watch")
    citation = CitationFactory(claim=claim, source=source, quote="We saw the barracks empty.")
    evidence = EvidenceFactory(case=case, description="Photo of the barracks gate.")
    own_case = CaseFactory(title="Barracks story")
    MembershipFactory(case=own_case, user=reporter, role=Role.VIEWER)
    response = _search(client, reporter, q="barracks")
    assert _found(response, "incident") == [incident]
    assert _found(response, "claim") == [claim]
    assert _found(response, "source") == [source]
    assert _found(response, "citation") == [citation]
    assert _found(response, "evidence") == [evidence]
    assert _found(response, "case") == [own_case]


# --- protected identities ----------------------------------------------------------------


def test_search_never_finds_a_protected_identity(client, make_member, case):
    handler = make_member(Role.EDITOR, username="handler")
    handler.memberships.update(can_handle_sources=True)
    source = SourceFactory(case=case, name="Heron", protected=True)
    SourceIdentity.objects.create(source=source, real_name="Zhelobtsova Irina",
                                  contact="zhelobtsova@mail.example",
                                  private_notes="Zhelobtsova met us in Taganrog.")
    for q in ("Zhelobtsova", "Irina", "zhelobtsova@mail.example", "Zhelobtsva", "Taganrog"):
        response = _search(client, handler, q=q)
        assert response.context["results"].total == 0, q
        assert b"Heron" not in response.content
        # Nothing of the identity but what was typed into the box (and the page's own
        # address, which the language switcher carries back).
        page = response.content.decode()
        for typed in (q, quote(q), quote_plus(q)):
            page = page.replace(typed, "")
        for part in ("Zhelobtsova", "Irina", "mail.example", "Taganrog"):
            assert part not in page, (q, part)
    response = _search(client, handler, q="Heron")
    assert _found(response, "source") == [source]
    assert b"Zhelobtsova" not in response.content


def test_search_documents_are_the_migrations_stored_documents():
    import importlib

    migration = importlib.import_module("cases.migrations.0005_search_indexes")
    for kind in search.KINDS.values():
        assert list(kind.document) == migration.DOCUMENTS[kind.model._meta.db_table]


def test_search_documents_hold_no_identity_field():
    for kind in search.KINDS.values():
        assert kind.model is not SourceIdentity
        names = {name for name, _ in kind.document} | set(kind.trigram_fields)
        assert not names & {"real_name", "contact", "private_notes", "identity"}


# --- words -------------------------------------------------------------------------------


def test_search_finds_exact_words_on_any_database(case, viewer):
    claim = ClaimFactory(case=case, statement="Four deserters are at large.")
    ClaimFactory(case=case, statement="Nothing to see.")
    assert _titles(viewer, "deserters", "claim") == [claim]
    assert _titles(viewer, "DESERTERS large", "claim") == [claim]
    assert _titles(viewer, "deserters missing", "claim") == []


def test_search_finds_russian_words_on_any_database(case, viewer):
    claim = ClaimFactory(case=case, statement="Дезертиры задержаны в Ростове.")
    assert _titles(viewer, "задержаны", "claim") == [claim]
    assert _titles(viewer, "ДЕЗЕРТИРЫ", "claim") == [claim]


@on_postgresql
def test_search_stems_english(case, viewer):
    claim = ClaimFactory(case=case, statement="Four deserters were caught.")
    assert _titles(viewer, "deserter", "claim") == [claim]
    assert _titles(viewer, "catching deserter", "claim") == []  # catch ≠ caught (no lemma)
    assert _titles(viewer, "deserter caught", "claim") == [claim]


@on_postgresql
def test_search_stems_russian(case, viewer):
    claim = ClaimFactory(case=case, statement="Дезертиры задержаны полицией.")
    assert _titles(viewer, "дезертир", "claim") == [claim]
    assert _titles(viewer, "дезертиров", "claim") == [claim]


@on_postgresql
def test_search_mixed_language_query(case, viewer):
    both = ClaimFactory(case=case, statement="Дезертиры сбежали; the deserters were found.")
    ClaimFactory(case=case, statement="Дезертиры сбежали.")
    ClaimFactory(case=case, statement="The deserters were found.")
    assert _titles(viewer, "дезертир deserter", "claim") == [both]


@on_postgresql
def test_search_trigram_finds_misspelled_places_and_names(case, viewer):
    incident = IncidentFactory(case=case, title="Escape", place_name="Rostov-on-Don",
                               admin_region="Rostov Oblast")
    source = SourceFactory(case=case, name="Mediazona")
    assert _titles(viewer, "Rostow", "incident") == [incident]
    assert _titles(viewer, "Mediazone", "source") == [source]
    assert _titles(viewer, "Novgorod", "incident") == []


@on_postgresql
def test_search_ranks_title_matches_first(case, viewer):
    in_description = IncidentFactory(case=case, title="Night events",
                                     description="A checkpoint was mentioned once.")
    in_title = IncidentFactory(case=case, title="Checkpoint shooting",
                               description="Shots at the checkpoint.")
    assert _titles(viewer, "checkpoint", "incident") == [in_title, in_description]


@on_postgresql
def test_search_only_stop_words_gets_a_message(client, case, viewer):
    ClaimFactory(case=case, statement="The the and of.")
    response = _search(client, viewer, q="the and")
    assert "too common" in response.context["results"].message


# --- bad input ---------------------------------------------------------------------------

BAD_QUERIES = [
    '"', '"deserters', "deserters & | ! ( ) : * <->", "-", "or", "!!!", "'; DROP TABLE x;--",
    "a:* & b:A", "\\", "%_%", "(((", "\u202e\ufeff", "x" * 200,
]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_search_bad_query_gives_results_or_a_message(client, case, viewer, q):
    ClaimFactory(case=case, statement="Deserters: \"quoted\" & more.")
    response = _search(client, viewer, q=q)
    results = response.context["results"]
    assert results is not None
    assert results.groups or results.message


@pytest.mark.parametrize("params", [
    {"q": "deserters\x00detained"}, {"q": "дезертир\x00ы"}, {"q": "\u202e\u0000\ufeff"},
    {"q": "x", "case": "1\x00", "date_from": "2024\x00-01-01", "kind": "claim\x00",
     "page": "\x00"},
])
def test_search_nul_bytes_are_refused_before_searching(client, case, viewer, params,
                                                       django_assert_num_queries):
    # config.middleware.RefuseNulBytesMiddleware answers any address holding NUL with 400
    # before the session, the user or the search is read.
    ClaimFactory(case=case, statement="Deserters were detained.")
    client.force_login(viewer)
    with django_assert_num_queries(0):
        response = client.get(URL, params)
    assert response.status_code == 400
    assert "Bad Request" in response.content.decode()


def test_search_ten_kilobyte_query_is_a_clear_error(client, case, viewer):
    response = _search(client, viewer, q="deserters " * 1024)
    assert "at most 200 characters" in response.context["form"].errors["q"][0]
    assert response.context["results"] is None
    assert "at most 200 characters" in response.content.decode()


def test_search_empty_query_asks_for_words(client, case, viewer):
    response = _search(client, viewer, q="   ")
    assert response.context["results"].message.startswith("Type a word")


# --- filters -----------------------------------------------------------------------------


def test_search_filter_by_case(client, case, viewer):
    other = CaseFactory()
    MembershipFactory(case=other, user=viewer, role=Role.VIEWER)
    here = ClaimFactory(case=case, statement="Deserters detained.")
    ClaimFactory(case=other, statement="Deserters detained elsewhere.")
    response = _search(client, viewer, q="deserters", case=case.pk)
    assert _found(response, "claim") == [here]


def test_search_filter_by_record_type(client, case, viewer):
    ClaimFactory(case=case, statement="Deserters detained.")
    incident = IncidentFactory(case=case, title="Deserters detained")
    response = _search(client, viewer, q="deserters", kind="incident")
    groups = response.context["results"].groups
    assert [g.kind.key for g in groups] == ["incident"]
    assert _found(response, "incident") == [incident]


def test_search_filter_by_verification_status(client, case, viewer, reporter):
    in_review = ClaimFactory(case=case, statement="Deserters detained.")
    workflow.transition(in_review, VerificationStatus.IN_REVIEW, actor=reporter,
                        note="Checking.")
    ClaimFactory(case=case, statement="Deserters detained again.")
    IncidentFactory(case=case, title="Deserters detained")
    response = _search(client, viewer, q="deserters", status="in_review")
    assert [g.kind.key for g in response.context["results"].groups] == ["claim"]
    assert _found(response, "claim") == [in_review]


def test_search_filter_by_date_range(client, case, viewer):
    may = IncidentFactory(case=case, title="Deserters seen", occurred="2025-05-09")
    IncidentFactory(case=case, title="Deserters seen again", occurred="2024-01-02")
    month = IncidentFactory(case=case, title="Deserters seen that month", occurred="2025-05")
    response = _search(client, viewer, q="deserters", kind="incident",
                       date_from="2025-05-01", date_to="2025-05-31")
    assert set(_found(response, "incident")) == {may, month}
    old = CitationFactory(claim=ClaimFactory(case=case), source=SourceFactory(case=case),
                          quote="Deserters quoted",
                          published_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    response = _search(client, viewer, q="deserters", kind="citation", date_to="2020-12-31")
    assert _found(response, "citation") == [old]


def test_search_inverted_date_range_is_an_error_beside_the_field(client, case, viewer):
    response = _search(client, viewer, q="deserters", date_from="2025-06-01",
                       date_to="2025-05-01")
    assert response.context["form"].errors["date_to"] == [
        "The end of the period is before its start."]
    assert response.context["results"] is None
    response = _search(client, viewer, q="deserters", date_from="not a date")
    assert "date_from" in response.context["form"].errors


def test_search_pages_through_one_kind(client, case, viewer):
    claims = [ClaimFactory(case=case, statement=f"Deserters report {i}.") for i in range(25)]
    first = _search(client, viewer, q="deserters", kind="claim")
    second = _search(client, viewer, q="deserters", kind="claim", page=2)
    shown = _found(first, "claim") + _found(second, "claim")
    assert len(_found(first, "claim")) == 20
    assert sorted(c.pk for c in shown) == sorted(c.pk for c in claims)
    assert first.context["results"].groups[0].total == 25
    assert "page=2" in first.context["pages"]["next"]


# --- output ------------------------------------------------------------------------------


def test_search_snippets_escape_the_data(client, case, viewer):
    ClaimFactory(case=case, statement='Deserters <script>alert("x")</script> <b>bold</b> '
                                      "\ue000planted\ue001 markers")
    response = _search(client, viewer, q="deserters")
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;" in html
    assert "<mark>Deserters</mark>" in html
    assert "<mark>planted</mark>" not in html
    assert_no_inline_code(html, "search results")


def test_search_marked_snippet_drops_stray_markers():
    start, stop = search._START, search._STOP
    html = search._marked(f"a {start}<i>{stop} b {stop}{start}{start}c")
    assert html == "a <mark>&lt;i&gt;</mark> b c"


def test_search_box_is_in_the_navbar(client, viewer):
    client.force_login(viewer)
    html = client.get(reverse("cases:dashboard")).content.decode()
    assert f'action="{URL}"' in html and 'name="q"' in html


def test_search_query_count_does_not_grow_with_hits(client, case, viewer,
                                                    django_assert_max_num_queries):
    def make(start, stop):
        for i in range(start, stop):
            claim = ClaimFactory(case=case, statement=f"Deserters number {i}.")
            source = SourceFactory(case=case, name=f"Deserters watch {i}")
            CitationFactory(claim=claim, source=source, quote=f"Deserters said {i}.")
            IncidentFactory(case=case, title=f"Deserters {i}")
            EvidenceFactory(case=case, description=f"Deserters photo {i}.")

    make(0, 2)
    client.force_login(viewer)
    with django_assert_max_num_queries(25) as few:
        client.get(URL, {"q": "deserters"})
    make(2, 17)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL, {"q": "deserters"})
    assert len(_found(response, "claim")) == 5
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(URL, {"q": "deserters", "kind": "citation"})


# --- indexes -----------------------------------------------------------------------------


def _plan(queryset) -> str:
    """The plan under the settings the search runs with."""
    with connection.cursor() as cursor:
        search._candidate_plans(cursor)
        return queryset.explain()


@on_postgresql
@pytest.mark.parametrize("kind_key", list(search.KINDS))
def test_search_document_column_is_stored_and_indexed(kind_key, case, viewer):
    """Each kind's document is the stored column of migration 0005, kept by PostgreSQL on
    every write, and its candidates are read through its GIN index."""
    kind = search.KINDS[kind_key]
    table = kind.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s "
                       "AND indexname = %s", [table, f"{kind_key}_search_gin"])
        assert "USING gin (search_document)" in cursor.fetchone()[0]
    document_match = (kind.model.objects.alias(document=search.StoredDocument())
                      .filter(document=search._ts_query("deserters")).values("pk"))
    assert f"{kind_key}_search_gin" in _plan(document_match)


@on_postgresql
def test_search_claims_use_the_gin_index_at_scale(case, viewer):
    """The whole scoped candidate query (membership, filters, match) reads the GIN index,
    and without the search's scan settings too, once a case holds enough claims."""
    Claim.objects.bulk_create([  # no history needed: these rows only shape the plan
        Claim(case=case, statement=f"Routine statement {i} about the weather.")
        for i in range(3000)])
    ClaimFactory(case=case, statement="Deserters detained.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_claim")
    queryset = search.matching(search.KINDS["claim"], viewer, "deserters").values("pk")[:1000]
    assert "claim_search_gin" in _plan(queryset)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert "claim_search_gin" in queryset.explain()
    assert [c.statement for c in _titles(viewer, "deserters", "claim")] == ["Deserters detained."]


@on_postgresql
def test_search_trigram_uses_the_trigram_index(case, viewer):
    queryset = (search.KINDS["source"].model.objects
                .filter(TrigramWordSimilar(F("name"), "Mediazone")).values("pk"))
    assert "source_name_trgm" in _plan(queryset)
