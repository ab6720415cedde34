"""What a search costs in Python beside its queries (bench/results/latest.md: the search page
at a million claims). The query text (`search.text_search_query`: every word's stems,
prefixes, transliteration and Ukrainian spelling) is built once per distinct query and reused
by the survey, each kind's candidates, ranks and snippets, instead of 33 times for two
words."""

import pytest
from django.db import connection

from cases import search
from cases.enums import Role

from .factories import CaseFactory, ClaimFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader():
    user = UserFactory()
    case = CaseFactory(title="Military court in Rostov")
    MembershipFactory(case=case, user=user, role=Role.EDITOR)
    ClaimFactory(case=case, statement="The military court sentenced two deserters.")
    return user


def test_search_builds_each_text_query_once(reader):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite searches with regular expressions, not a text search query")
    search.text_search_query.cache_clear()
    results = search.search(reader, "military court")
    assert results.total == 2  # the claim and the case
    first = search.text_search_query.cache_info()
    # the query as searched (asked for with and without its keyword arguments, which the
    # cache keeps apart) and as highlighted in the snippets; 12 more calls answered
    assert (first.misses, first.hits) == (3, 12)
    search.search(reader, "military court")
    assert search.text_search_query.cache_info().misses == first.misses


def test_text_search_query_cached_answers_as_built():
    search.text_search_query.cache_clear()
    built = search.text_search_query("в Ростове", variants=False)
    assert search.text_search_query("в Ростове", variants=False) == built == "'ростов':*ABC"
    assert search.text_search_query("в Ростове") != built  # variants are part of the key
    assert search.text_search_query.cache_info().misses == 2


def test_search_fetches_shown_rows_unsorted_and_shows_them_best_first():
    """The shown rows are fetched by key with no ORDER BY (the models' default order would
    be planned and sorted for nothing) and put in the ranking's order in Python."""
    from django.test.utils import CaptureQueriesContext

    user = UserFactory()
    case = CaseFactory(title="Deserters")
    MembershipFactory(case=case, user=user, role=Role.EDITOR)
    # Oldest first by key; the best match (the word twice) is neither the first nor the last.
    ClaimFactory(case=case, statement="A deserter was seen near the training ground.")
    best = ClaimFactory(case=case, statement="Deserter, deserter: the deserter's mother spoke.")
    ClaimFactory(case=case, statement="Officers said a deserter had been detained.")
    with CaptureQueriesContext(connection) as captured:
        results = search.search(user, "deserter", search.Filters(kind="claim"))
    hits = results.groups[0].hits
    assert len(hits) == 3
    ranks = [hit.rank for hit in hits]
    if connection.vendor == "postgresql":
        assert hits[0].record == best
        assert ranks == sorted(ranks, reverse=True)
        shown = [q["sql"] for q in captured.captured_queries
                 if q["sql"].startswith('SELECT "cases_claim"."id"')]
        assert len(shown) == 1
        assert "ORDER BY" not in shown[0]
    else:  # SQLite: newest first, unranked
        assert [hit.record.pk for hit in hits] == sorted((h.record.pk for h in hits),
                                                           reverse=True)
