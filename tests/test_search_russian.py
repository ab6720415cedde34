"""Search that understands Russian and Ukrainian words (cases/search.py, "Words and their
forms"; migration 0013): a table of queries, the forms each must find and those it must
not, on PostgreSQL and, for what it supports (everything in the table), on SQLite; the
option that switches transliterations and Ukrainian spellings off; and the same search in
the API (`?q=` on every list, /api/v1/search/), scoped to the user's cases, never by a
protected identity, at a query count that does not grow with the hits."""

import re

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from cases import search
from cases.enums import Role
from cases.models import SourceIdentity

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    api_key_for,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="PostgreSQL's stored documents and ranking")

ROSTOV = ["Ростов", "Ростова", "Ростову", "Ростовом", "Ростове", "Ростовской"]
ROSTOV_NOUN = ROSTOV[:5]
DESERTER = ["дезертир", "дезертиры", "дезертировали", "дезертирство"]

# query → (texts it must find, texts it must not find). Each text is one claim's statement.
TABLE = {
    # a place name in six cases (the sixth: its adjective), whichever case is typed
    "Ростов": (ROSTOV, ["рост цен", "Ростокино"]),
    "ростов": (ROSTOV, ["рост цен"]),
    "Ростова": (ROSTOV_NOUN, ["рост цен"]),
    "Ростову": (ROSTOV_NOUN, ["рост цен"]),
    "Ростовом": (ROSTOV_NOUN, ["рост цен"]),
    "Ростове": (ROSTOV_NOUN, ["рост цен"]),
    "Ростовской": (["Ростовской", "Ростовская", "Ростовскую"], ["Ростов", "рост цен"]),
    "под Ростовом": (ROSTOV_NOUN, ["рост цен", "под Таганрогом"]),
    # nouns and verbs of one root
    "дезертир": (DESERTER, ["десерт", "дезинфекция"]),
    "дезертиры": (DESERTER, ["десерт"]),
    "дезертиров": (["дезертир", "дезертиры", "дезертировали"], ["десерт"]),
    "дезертировали": (["дезертировали", "дезертировать"], ["десерт"]),
    "суда": (["суд", "суда", "судом", "суде"], ["судьба", "посуда"]),
    "полигоне": (["полигон", "полигоне", "полигонах"], ["полиграф"]),
    # Russian ↔ Ukrainian spellings
    "полигон": (["полигон", "полигоне", "полігон", "полігоні"], ["полиграф"]),
    "полігон": (["полигон", "полигоне", "полігон", "полігоні"], ["полиграф"]),
    # Ukrainian declension: і of a closed last syllable is о or е (ї: є) in the other cases
    "Харків": (["Харків", "Kharkiv", "Харкова", "Харкові", "Харковом"], ["Харьков"]),
    "Львів": (["Львів", "Lviv", "Львова", "Львові", "Львов"], ["Лев"]),
    "Київ": (["Київ", "Києва", "Києві", "Киев", "Киеве"], ["Кирилл"]),
    "Ірпінь": (["Ірпінь", "Ірпеня", "Ірпені", "Ирпень"], ["Ирина"]),
    "объект": (["объект", "об'єкт", "об’єкті"], ["субъект"]),
    # Latin ↔ Cyrillic
    "Rostov": (["Rostov", "Rostov-on-Don", "Ростов", "Ростове", "Ростовской"], ["рост цен"]),
    "Ростов-на-Дону": (["Ростов-на-Дону", "Ростове-на-Дону"], ["Ростов Великий"]),
    "Kharkiv": (["Kharkiv", "Харків"], ["Харьков"]),
    "Shebekino": (["Шебекино", "Shebekino"], ["Белгород"]),
    "Taganrog": (["Таганрог", "Таганроге", "Taganrog"], ["Ростов"]),
    "Таганрог": (["Таганрог", "Таганроге", "Taganrog"], ["Ростов"]),
    # English as before: stems, and the beginnings of words
    "deserters": (["deserter", "deserters", "desertion"], ["dessert"]),
    "country": (["country", "countries"], ["count"]),
}


def _claims(case, texts):
    return {text: ClaimFactory(case=case, statement=f"Новость: {text}.") for text in texts}


def _found(user, text, *, variants=True) -> set:
    results = search.search(user, text, search.Filters(kind="claim", variants=variants),
                            per_kind=100)
    return {hit.record.statement.removeprefix("Новость: ").removesuffix(".")
            for hit in results.groups[0].hits}


@pytest.mark.parametrize("query", list(TABLE))
def test_search_russian_query_finds_its_forms_and_not_others(case, viewer, query):
    wanted, unwanted = TABLE[query]
    if connection.vendor != "postgresql" and query == "country":
        pytest.skip("English stems that are no prefix of the word (countri) need PostgreSQL")
    _claims(case, {*wanted, *unwanted})
    found = _found(viewer, query)
    assert found >= set(wanted), f"{query!r} missed {set(wanted) - found}"
    assert not found & set(unwanted), f"{query!r} also found {found & set(unwanted)}"


def test_search_rostov_never_finds_growth(case, viewer):
    """The russian stemmer alone cuts "Ростов" to "рост": the search must not."""
    _claims(case, ["рост цен", "Рост потерь", "росте"])
    assert _found(viewer, "Ростов") == set()
    assert _found(viewer, "Ростов", variants=False) == set()


def test_search_without_variants_finds_no_transliteration_or_ukrainian_spelling(case, viewer):
    _claims(case, ["Ростов", "Ростове", "Rostov", "полигон", "полігон", "Харків", "Kharkiv"])
    assert _found(viewer, "Rostov", variants=False) == {"Rostov"}
    assert _found(viewer, "Ростов", variants=False) == {"Ростов", "Ростове"}
    assert _found(viewer, "полигон", variants=False) == {"полигон"}
    assert _found(viewer, "полігон", variants=False) == {"полігон"}
    assert _found(viewer, "Kharkiv", variants=False) == {"Kharkiv"}
    # and with them, as the table says
    assert _found(viewer, "Rostov") == {"Ростов", "Ростове", "Rostov"}
    assert _found(viewer, "полигон") == {"полигон", "полігон"}


def test_search_exact_spelling_still_finds_a_ukrainian_words_other_cases(case, viewer):
    """The other cases of a word are no variant spelling: found with the option off too,
    in their Ukrainian spelling only (not the Russian one, nor a transliteration)."""
    _claims(case, ["Харків", "у Харкові", "до Харкова", "Kharkiv", "Києва", "Киева"])
    assert _found(viewer, "Харків", variants=False) == {"Харків", "у Харкові", "до Харкова"}
    assert _found(viewer, "Київ", variants=False) == {"Києва"}
    assert _found(viewer, "Київ") == {"Києва", "Киева"}


def test_search_oblique_stems_only_of_an_alternating_last_syllable():
    assert search.oblique_stems("харків") == ["харков", "харкев"]
    assert search.oblique_stems("київ") == ["києв"]
    assert search.oblique_stems("бориспіль") == ["бориспол", "бориспел"]
    assert search.oblique_stems("полігон") == []  # і not in the last syllable
    assert search.oblique_stems("ростов") == []
    assert search.oblique_stems("кіт") == []  # too short a stem to look for
    assert search.text_search_query("Харків", variants=False) == (
        "('харків':*ABC | 'харков':*ABC | 'харкев':*ABC)")


def test_search_page_checkbox_switches_variants_off(client, case, viewer):
    _claims(case, ["Ростов", "Rostov"])
    client.force_login(viewer)
    on = client.get("/search/", {"q": "Rostov", "kind": "claim"})
    off = client.get("/search/", {"q": "Rostov", "kind": "claim", "exact": "on"})
    shown = {hit.record.statement for hit in on.context["results"].groups[0].hits}
    assert shown == {"Новость: Ростов.", "Новость: Rostov."}
    shown = {hit.record.statement for hit in off.context["results"].groups[0].hits}
    assert shown == {"Новость: Rostov."}
    assert 'name="exact"' in on.content.decode()


def test_search_highlights_the_inflected_form(client, case, viewer):
    ClaimFactory(case=case, statement="Дезертиры задержаны под Ростовом.")
    client.force_login(viewer)
    html = client.get("/search/", {"q": "ростов дезертир"}).content.decode()
    assert "<mark>Ростовом</mark>" in html
    assert "<mark>Дезертиры</mark>" in html


def test_search_query_of_forms_is_built_for_postgresql():
    assert search.text_search_query("Ростов", variants=False) == "'ростов':*ABC"
    assert search.text_search_query("в Ростове", variants=False) == "'ростов':*ABC"
    assert search.text_search_query("the and") == ""
    assert search.text_search_query('"Ростов на Дону" or Таганрог -Москва', variants=False) == (
        "(('ростов':*ABC <2> ('дону':ABC | 'дон':ABC)) | 'таганрог':*ABC) & !'москв':*ABC")
    # Whatever is typed, only lexemes come out: nothing of the tsquery syntax is read.
    assert search.text_search_query("a:* & b:A | !( ) <-> '\\", variants=False) == "'b':ABC"


@on_postgresql
def test_search_stop_words_and_stems_agree_with_postgresql():
    """The stop words and stems built in Python are PostgreSQL's own."""
    with connection.cursor() as cursor:
        for word in ["и", "под", "the", "between", "ростова", "дезертиры", "deserters",
                     "countries", "полигонах"]:
            cursor.execute("SELECT ts_lexize(%s, %s)",
                           ["russian_stem" if search._is_cyrillic(word) else "english_stem",
                            word])
            lexemes = cursor.fetchone()[0]
            if word in search.STOP_WORDS:
                assert lexemes == [], word
            else:
                stemmer = search._RUSSIAN if search._is_cyrillic(word) else search._ENGLISH
                assert lexemes == [stemmer.stemWord(word)], word


@on_postgresql
def test_search_folded_ukrainian_words_are_stored_under_weight_d(case):
    claim = ClaimFactory(case=case, statement="Біля полігону, Ростов")
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_document::text FROM cases_claim WHERE id = %s",
                       [claim.pk])
        document = cursor.fetchone()[0]
    # weight D is written without a letter
    assert re.search(r"'полигону':\d+ ", document), document
    assert "'полігону':" in document and "'ростов':" in document
    assert "'рост':" in document  # the stem, for ranking; the query never asks for it


# --- the API -------------------------------------------------------------------------------


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}")
    return api


@pytest.fixture
def two_cases(case, viewer):
    """The viewer's case, with claims near Rostov, and another case they are not in."""
    mine = _claims(case, ["Дезертиры под Ростовом", "рост цен", "Rostov-on-Don"])
    other = CaseFactory(title="Другое дело")
    theirs = ClaimFactory(case=other, statement="Дезертиры в Ростове (чужое дело).")
    return mine, theirs


def test_api_list_q_finds_forms_in_the_users_cases_only(two_cases, viewer, outsider):
    mine, theirs = two_cases
    body = token_client(viewer).get(f"{API}/claims/", {"q": "Ростов"}).json()
    assert {row["id"] for row in body["results"]} == {
        mine["Дезертиры под Ростовом"].pk, mine["Rostov-on-Don"].pk}
    assert body["count"] == 2
    body = token_client(viewer).get(f"{API}/claims/", {"q": "Ростов", "exact": "true"}).json()
    assert [row["id"] for row in body["results"]] == [mine["Дезертиры под Ростовом"].pk]
    response = token_client(outsider).get(f"{API}/claims/", {"q": "Ростов"})
    assert response.json()["count"] == 0
    assert "Ростов" not in response.content.decode()


@pytest.mark.parametrize("path, make, text", [
    ("cases", lambda case: CaseFactory(title="Дезертиры под Ростовом"), "title"),
    ("incidents", lambda case: IncidentFactory(case=case, title="Побег",
                                               place_name="Ростов-на-Дону"), "title"),
    ("sources", lambda case: SourceFactory(case=case, name="Ростовский вестник"), "name"),
    ("citations", lambda case: CitationFactory(
        claim=ClaimFactory(case=case), source=SourceFactory(case=case),
        quote="Их видели в Ростове."), "quote"),
    ("tasks", lambda case: TaskFactory(case=case, title="Позвонить в Ростов"), "title"),
])
def test_api_every_list_takes_q(case, viewer, path, make, text):
    record = make(case)
    if path == "cases":
        MembershipFactory(case=record, user=viewer, role=Role.VIEWER)
    api = token_client(viewer)
    found = api.get(f"{API}/{path}/", {"q": "Ростове"}).json()
    # The case fixture is "Rostov training-ground desertion": found through transliteration.
    also = {case.pk} if path == "cases" else set()
    assert {row["id"] for row in found["results"]} == {record.pk} | also
    missed = api.get(f"{API}/{path}/", {"q": "Таганрог"}).json()
    assert missed["count"] == 0


@pytest.mark.parametrize("path", ["comment-requests", "evidence", "captures"])
def test_api_list_q_is_taken_by_the_other_lists(case, viewer, path):
    response = token_client(viewer).get(f"{API}/{path}/", {"q": "Ростов", "exact": "true"})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_api_search_finds_forms_in_the_users_cases_only(two_cases, viewer, outsider):
    mine, theirs = two_cases
    body = token_client(viewer).get(f"{API}/search/", {"q": "Ростов"}).json()
    claims = next(group for group in body["groups"] if group["kind"] == "claim")
    assert {hit["id"] for hit in claims["hits"]} == {
        mine["Дезертиры под Ростовом"].pk, mine["Rostov-on-Don"].pk}
    assert theirs.pk not in {hit["id"] for group in body["groups"] for hit in group["hits"]}
    body = token_client(outsider).get(f"{API}/search/", {"q": "Ростов"}).json()
    assert body["total"] == 0
    assert all(group["hits"] == [] for group in body["groups"])


def test_api_search_pages_one_kind_and_switches_variants_off(two_cases, viewer):
    mine, _ = two_cases
    api = token_client(viewer)
    body = api.get(f"{API}/search/", {"q": "Rostov", "kind": "claim", "exact": "true"}).json()
    assert [group["kind"] for group in body["groups"]] == ["claim"]
    assert [hit["id"] for hit in body["groups"][0]["hits"]] == [mine["Rostov-on-Don"].pk]
    assert body["page"] == 1 and body["pages"] == 1
    assert "<mark>" in body["groups"][0]["hits"][0]["snippet"]


def test_api_never_finds_a_protected_identity(case, make_member):
    handler = make_member(Role.EDITOR, username="handler")
    handler.memberships.update(can_handle_sources=True)
    source = SourceFactory(case=case, name="Цапля", protected=True)
    SourceIdentity.objects.create(source=source, real_name="Желобцова Ирина",
                                  contact="zhelobtsova@mail.example",
                                  private_notes="Желобцова живёт в Таганроге.")
    api = token_client(handler)
    for q in ("Желобцова", "Zhelobtsova", "Ирина", "Таганрог"):
        for url in (f"{API}/search/", f"{API}/sources/"):
            response = api.get(url, {"q": q})
            page = response.content.decode()
            assert response.status_code == 200
            assert "Цапля" not in page, (url, q)
            for part in ("Желобцов", "Ирин", "mail.example", "Таганрог"):
                assert part not in page.replace(q, ""), (url, q, part)
    body = api.get(f"{API}/search/", {"q": "Цапля"}).json()
    sources = next(group for group in body["groups"] if group["kind"] == "source")
    assert [hit["id"] for hit in sources["hits"]] == [source.pk]


@pytest.mark.parametrize("params, field", [
    ({"q": "Ростов", "serach": "x"}, "serach"),
    ({"q": "x" * 201}, "q"),
    ({}, "q"),
    ({"q": "Ростов", "kind": "person"}, "kind"),
    ({"q": "Ростов", "date_from": "2025-06-01", "date_to": "2025-05-01"}, "date_to"),
    ({"q": "Ростов", "page": "2"}, "page"),
    ({"q": "Ростов", "exact": "perhaps"}, "exact"),
])
def test_api_search_bad_input_is_a_400_naming_the_parameter(viewer, params, field):
    response = token_client(viewer).get(f"{API}/search/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_api_search_another_cases_id_is_refused_like_a_missing_one(two_cases, viewer):
    _, theirs = two_cases
    api = token_client(viewer)
    other = api.get(f"{API}/search/", {"q": "Ростов", "case": theirs.case_id})
    missing = api.get(f"{API}/search/", {"q": "Ростов", "case": 10**9})
    assert other.status_code == missing.status_code == 400
    assert other.json() == missing.json()


def test_api_list_q_too_long_is_a_400(viewer):
    response = token_client(viewer).get(f"{API}/claims/", {"q": "x" * 201})
    assert response.status_code == 400
    assert "q" in response.json()


def test_api_search_needs_a_token(two_cases):
    response = APIClient().get(f"{API}/search/", {"q": "Ростов"})
    assert response.status_code == 401
    assert "Ростов" not in response.content.decode()


# --- query counts --------------------------------------------------------------------------

# The token with its user, then the search's own queries (cases/search.py: on PostgreSQL the
# survey, its samples and plan settings, one ranking query per kind and one query of the
# shown rows per kind with hits, inside a savepoint; on SQLite one query per kind).
SEARCH_QUERIES = {"sqlite": 1 + 1, "postgresql": 1 + 2 + 2 + 1 + 1}
LIST_QUERIES = 3  # the token with its user, the count, the page


def _rostov_claims(case, n):
    return [ClaimFactory(case=case, statement=f"Задержание {i} под Ростовом.")
            for i in range(n)]


@pytest.mark.parametrize("n", [1, 7])
def test_api_search_query_count_does_not_grow_with_hits(case, viewer, n,
                                                        django_assert_num_queries):
    _rostov_claims(case, n)
    api = token_client(viewer)
    api.get(f"{API}/search/", {"q": "Ростов", "kind": "claim"})  # warm-up
    with django_assert_num_queries(SEARCH_QUERIES[connection.vendor]):
        body = api.get(f"{API}/search/", {"q": "Ростов", "kind": "claim"}).json()
    assert len(body["groups"][0]["hits"]) == body["groups"][0]["total"] == n


@pytest.mark.parametrize("n", [1, 7])
def test_api_list_q_query_count_does_not_grow_with_hits(case, viewer, n,
                                                        django_assert_num_queries):
    _rostov_claims(case, n)
    ClaimFactory(case=case, statement="рост цен")
    api = token_client(viewer)
    api.get(f"{API}/claims/", {"q": "Ростов"})  # warm-up
    with django_assert_num_queries(LIST_QUERIES):
        body = api.get(f"{API}/claims/", {"q": "Ростов"}).json()
    assert body["count"] == len(body["results"]) == n


# --- frequent words ------------------------------------------------------------------------


def test_search_whole_word_forms_drop_prefixes_and_redundant_words():
    whole = search.word_forms("военнослужащие", variants=False, whole=True)
    assert whole == [search.Form("военнослужа", False)]
    assert search.word_forms("Ростов", variants=False, whole=True) == [
        search.Form("ростов", False)]
    assert search.text_search_query("soldiers Ростов", variants=False,
                                    whole_words=frozenset({"soldiers"})) == (
        "'soldier':ABC & 'ростов':*ABC")


@on_postgresql
def test_search_words_frequent_in_a_large_table_are_looked_for_whole(case, viewer,
                                                                     monkeypatch):
    """A word the sample finds in many rows of a large table is looked for without
    prefixes (cases.search._survey): its nouns still fill the candidates."""
    monkeypatch.setattr(search, "NEWEST_ROWS", 40)
    monkeypatch.setattr(search, "SAMPLE_ROWS", 10)
    monkeypatch.setattr(search, "MIN_SAMPLED", 5)
    nouns = _claims(case, [f"дезертиры {i}" for i in range(45)])
    verb = ClaimFactory(case=case, statement="Они дезертировали.")
    last_key = max(claim.pk for claim in [*nouns.values(), verb])
    monkeypatch.setattr(search, "WHOLE_WORD_MATCHES", last_key)  # every sampled row matches
    with transaction.atomic(), connection.cursor() as cursor:
        survey = search._survey(cursor, [search.KINDS["claim"]], viewer, "дезертир Ростов",
                                search.Filters())
    assert survey.whole_words["claim"] == {"дезертир"}
    found = _found(viewer, "дезертир")
    assert found == {f"дезертиры {i}" for i in range(45)}  # the verb only through a prefix
    monkeypatch.setattr(search, "WHOLE_WORD_MATCHES", 10**12)
    assert _found(viewer, "дезертир") == found | {"Они дезертировали"}


def test_api_incident_types_list_searches_names_and_descriptions(client, viewer):
    from cases.models import IncidentType

    IncidentType.objects.create(name="Дезертирство", slug="dezertirstvo-test")
    IncidentType.objects.create(name="Обстрел", slug="obstrel-test")
    client.force_login(viewer)
    response = client.get("/api/v1/incident-types/", {"q": "дезертирство"})
    assert [row["slug"] for row in response.json()["results"]] == ["dezertirstvo-test"]
