"""Search across the records of the user's cases: cases, incidents, claims, sources (by name
or codename), citation quotes and evidence descriptions.

Only what `visible_to(user)` returns is ever searched. A protected source's identity
(SourceIdentity, encrypted) is no part of any document: sources are found by their name,
which for a protected source is its codename.

PostgreSQL: full-text search with the `russian` text search configuration, whose parser
sends ASCII words to the English Snowball stemmer and Cyrillic words to the Russian one, so
"deserter" finds "deserters", "дезертир" finds "дезертиры", and one query may mix both. The
query is read with `websearch_to_tsquery` (quotes for phrases, `or`, `-word`), which accepts
any input without a syntax error. Names and places are also matched by trigram word
similarity (pg_trgm: "Rostow" finds "Rostov"). Each searchable table has a stored generated
column `search_document` (the weighted tsvector of the fields in `RecordKind.document`) with
a GIN index, and trigram GIN indexes on names and places (migration 0005).

Ranking is bounded: a kind's matches are first cut to CANDIDATE_LIMIT rows straight from the
GIN index (no ordering, so no visit of every match of a frequent word), and only those are
ranked (ts_rank on the stored document, or trigram similarity when greater) and given a
highlighted snippet (ts_headline, computed for the shown rows only). When a word matches
more rows than that, the page says so and suggests narrowing.

The candidates are found with sequential scans priced out and JIT off (SET LOCAL, this
transaction only); for several words also plain index scans and nested loops. With a LIMIT,
PostgreSQL otherwise likes plans that hope to meet matches early (walk the table, or the
user's cases one by one), which for words that never occur together ("soldiers
военнослужащие": English and Russian reports) means visiting every row, or scanning the
text index once per case: its statistics cannot know how often words occur together. Bitmap
scans of the GIN indexes, with the user's cases hashed, cost about the same whatever the
words. For one word the statistics are reliable, so the candidates are its newest matches
and the planner may walk the primary key backwards when the word is frequent (stopping at
the limit instead of building a bitmap of hundreds of thousands of rows), or use the bitmap
when it is rare. The ranking query then fetches the candidates by key.

SQLite (the local demo): every word must start a word of the record (case-insensitive,
Unicode-aware), newest first, with the matches highlighted in Python. No stemming.

Snippets are escaped here, then the highlight markers are turned into <mark>: nothing from
the data can become markup.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVectorField,
    TrigramWordSimilarity,
)
from django.db import connection, transaction
from django.db.models import (
    Count,
    Expression,
    F,
    FloatField,
    Lookup,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.expressions import Col
from django.db.models.functions import Greatest, Replace
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString

from .models import Case, Citation, Claim, Evidence, Incident, Source

TEXT_SEARCH_CONFIG = "russian"
MAX_QUERY_LENGTH = 200
# How many matches of one record kind are ranked at most (see the module docstring).
CANDIDATE_LIMIT = 1000
# Trigram similarity is for names and places: short queries only.
TRIGRAM_MAX_WORDS = 4
# Highlight markers: private-use characters, replaced by <mark> after escaping.
_START, _STOP = "\ue000", "\ue001"


class StoredDocument(Expression):
    """The `search_document` column of the queried table (PostgreSQL; migration 0005). Not a
    model field, so that Django never writes it and other databases never see it."""

    output_field = SearchVectorField()

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False,
                           for_save=False):
        column = SearchVectorField()
        column.set_attributes_from_name("search_document")
        column.model = query.model
        return Col(query.get_initial_alias(), column, output_field=SearchVectorField())


@dataclass(frozen=True)
class RecordKind:
    key: str
    label: str
    model: type
    # Weighted text fields: the stored document of migration 0005 (and, on SQLite, the
    # fields searched).
    document: tuple[tuple[str, str], ...]
    snippet_field: str
    # Fields compared by trigram similarity (names, places).
    trigram_fields: tuple[str, ...] = ()
    select_related: tuple[str, ...] = ("case",)
    case_path: str = "case"
    title: Callable = str
    url: Callable = None
    date_filter: Callable = None


def _created_between(date_from, date_to, name="created_at") -> Q:
    q = Q()
    if date_from:
        q &= Q(**{f"{name}__date__gte": date_from})
    if date_to:
        q &= Q(**{f"{name}__date__lte": date_to})
    return q


def _occurred_between(date_from, date_to) -> Q:
    # Incidents whose possible dates overlap the range.
    q = Q()
    if date_from:
        q &= Q(occurred_latest__gte=date_from)
    if date_to:
        q &= Q(occurred_earliest__lte=date_to)
    return q


def _citation_url(citation) -> str:
    case = citation.source.case
    if citation.claim_id:
        return reverse("cases:claim_detail", args=[case.slug, citation.claim_id]) + "#citations"
    return reverse("cases:timeline", args=[case.slug])


KINDS: dict[str, RecordKind] = {kind.key: kind for kind in [
    RecordKind(
        "claim", "Claims", Claim, (("statement", "A"),), "statement",
        title=lambda c: str(c),
        url=lambda c: reverse("cases:claim_detail", args=[c.case.slug, c.pk]),
        date_filter=_created_between,
    ),
    RecordKind(
        "incident", "Incidents", Incident,
        (("title", "A"), ("description", "B"), ("place_name", "C"), ("admin_region", "C")),
        "description", trigram_fields=("place_name", "admin_region"),
        select_related=("case", "type"),
        title=lambda i: i.title,
        url=lambda i: reverse("cases:timeline", args=[i.case.slug]),
        date_filter=_occurred_between,
    ),
    RecordKind(
        "citation", "Citation quotes", Citation, (("quote", "A"),), "quote",
        select_related=("source__case", "claim", "incident"), case_path="source__case",
        title=lambda c: f"{c.source.name} – {c.get_relation_display().lower()}",
        url=_citation_url,
        date_filter=lambda a, b: _created_between(a, b, "published_at"),
    ),
    RecordKind(
        "source", "Sources", Source, (("name", "A"),), "name", trigram_fields=("name",),
        title=lambda s: s.name,
        url=lambda s: reverse("cases:source_list", args=[s.case.slug]),
        date_filter=_created_between,
    ),
    RecordKind(
        "evidence", "Evidence", Evidence, (("original_name", "A"), ("description", "B")),
        "description",
        title=lambda e: str(e),
        url=lambda e: reverse("cases:evidence_list", args=[e.case.slug]),
        date_filter=lambda a, b: _created_between(a, b, "captured_at"),
    ),
    RecordKind(
        "case", "Cases", Case, (("title", "A"), ("summary", "B")), "summary",
        select_related=(), case_path="pk",
        title=lambda c: c.title,
        url=lambda c: reverse("cases:case_overview", args=[c.slug]),
        date_filter=_created_between,
    ),
]}
# Kinds a verification-status filter applies to.
STATUS_KINDS = ("claim",)


@dataclass(frozen=True)
class Filters:
    case: Case | None = None
    kind: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def kinds(self) -> list[str]:
        keys = [self.kind] if self.kind else list(KINDS)
        if self.status:
            keys = [k for k in keys if k in STATUS_KINDS]
        return keys


@dataclass
class Hit:
    kind: RecordKind
    record: object
    case: Case
    title: str
    url: str
    snippet: SafeString
    rank: float | None = None


@dataclass
class Group:
    kind: RecordKind
    hits: list[Hit]
    total: int

    @property
    def capped(self) -> bool:
        return self.total >= CANDIDATE_LIMIT


@dataclass
class Results:
    query: str
    groups: list[Group] = field(default_factory=list)
    message: str = ""

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)


def clean_query(text: str) -> str:
    """The query as searched: control characters (NUL included) and surrounding space gone,
    runs of space made one."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text or "")
    return " ".join(text.split())


def words_of(text: str) -> list[str]:
    """The words of a query, in order, without repeats (at most 20)."""
    seen = []
    for word in re.findall(r"\w+", text.lower()):
        if word not in seen:
            seen.append(word)
    return seen[:20]


def uses_full_text() -> bool:
    return connection.vendor == "postgresql"


def search(user, text: str, filters: Filters = Filters(), *, per_kind: int = 5,
           offset: int = 0) -> Results:
    """Ranked matches of `text` among the records `user` may see, one group per record kind
    (`per_kind` hits each, from `offset`). A fixed number of queries (on PostgreSQL: the plan
    settings, then per kind its candidates and their ranking), whatever the number of hits."""
    text = clean_query(text)
    results = Results(query=text)
    if not words_of(text):
        results.message = "Type a word, a name or a place to search for."
        return results
    if uses_full_text():
        kinds = [KINDS[key] for key in filters.kinds()]
        with transaction.atomic(), connection.cursor() as cursor:
            terms = _query_terms(cursor, text)
            if terms == 0 and not any(_trigram_applies(kind, text) for kind in kinds):
                kinds = []  # nothing left to search for
            single_word = terms == 1
            _candidate_plans(cursor, single_word=single_word)
            candidates = [candidate_ids(kind, user, text, filters, newest_first=single_word)
                          for kind in kinds]
            _ranking_plans(cursor)
            for kind, ids in zip(kinds, candidates, strict=True):
                results.groups.append(_ranked(kind, text, ids, per_kind, offset))
        if terms == 0 and not results.total:
            results.message = ("These words are too common to search for on their own; add "
                               "a more specific word.")
    else:
        for key in filters.kinds():
            results.groups.append(
                _search_fallback(KINDS[key], user, text, filters, per_kind, offset))
    return results


def _scoped(kind: RecordKind, user, filters: Filters) -> QuerySet:
    queryset = kind.model.objects.visible_to(user)
    if filters.case is not None:
        queryset = queryset.filter(**{kind.case_path: filters.case.pk})
    if filters.status and kind.key in STATUS_KINDS:
        queryset = queryset.filter(status=filters.status)
    if filters.date_from or filters.date_to:
        queryset = queryset.filter(kind.date_filter(filters.date_from, filters.date_to))
    return queryset


def _with_related(kind: RecordKind, queryset: QuerySet) -> QuerySet:
    # select_related() with no names would follow every foreign key.
    return queryset.select_related(*kind.select_related) if kind.select_related else queryset


def _hits(kind: RecordKind, rows, snippet: Callable) -> list[Hit]:
    hits = []
    for row in rows:
        case = row if kind.key == "case" else (
            row.source.case if kind.key == "citation" else row.case)
        hits.append(Hit(kind=kind, record=row, case=case, title=kind.title(row),
                        url=kind.url(row), snippet=snippet(row),
                        rank=getattr(row, "search_rank", None)))
    return hits


# --- PostgreSQL ---------------------------------------------------------------------------


def _ts_query(text: str) -> SearchQuery:
    return SearchQuery(text, search_type="websearch", config=TEXT_SEARCH_CONFIG)


def _trigram_applies(kind: RecordKind, text: str) -> bool:
    return bool(kind.trigram_fields) and len(words_of(text)) <= TRIGRAM_MAX_WORDS \
        and len(text) >= 3


def matching(kind: RecordKind, user, text: str, filters: Filters = Filters()) -> QuerySet:
    """The records of `kind` that match (full text, or trigram for names and places), at
    most CANDIDATE_LIMIT of them, unordered: the candidate set that gets ranked."""
    condition = Q(search_document=_ts_query(text))
    if _trigram_applies(kind, text):
        for name in kind.trigram_fields:
            condition |= Q(TrigramWordSimilar(F(name), text))
    return (_scoped(kind, user, filters).alias(search_document=StoredDocument())
            .filter(condition).order_by())


def _query_terms(cursor, text: str) -> int:
    """How many nodes the query has: 0 when it holds only stop words, 1 for one word."""
    cursor.execute("SELECT numnode(websearch_to_tsquery(%s::regconfig, %s))",
                   [TEXT_SEARCH_CONFIG, text])
    return cursor.fetchone()[0]


def _candidate_plans(cursor, *, single_word: bool = False) -> None:
    """For finding candidates, in this transaction: tables are read through bitmap scans of
    their indexes and joined by hashing (see the module docstring). For a single word, the
    primary key may also be walked backwards (newest first), each row's case looked up."""
    cursor.execute("SELECT set_config('enable_seqscan', 'off', true), "
                   "set_config('enable_indexscan', %s, true), "
                   "set_config('enable_nestloop', %s, true), "
                   # The priced-out plans inflate the estimated cost past JIT's thresholds:
                   # compiling such a query would take longer than running it.
                   "set_config('jit', 'off', true), "
                   # Room for an exact bitmap of a frequent word's matches (no lossy pages
                   # whose every row must be checked again).
                   "set_config('work_mem', '32MB', true)", ["on" if single_word else "off"] * 2)


def _ranking_plans(cursor) -> None:
    """For ranking a known list of candidates: fetch them, and what they link to, by key."""
    cursor.execute("SELECT set_config('enable_nestloop', 'on', true), "
                   "set_config('enable_indexscan', 'on', true)")


def candidate_ids(kind: RecordKind, user, text: str, filters: Filters = Filters(), *,
                  newest_first: bool = False) -> list:
    """The ids of at most CANDIDATE_LIMIT matches. `newest_first` (for one word, whose
    frequency PostgreSQL's statistics know) lets the planner walk the primary key backwards
    when the word is frequent, stopping at the limit, instead of building the bitmap of all
    its matches; for several words, whose joint frequency it can only guess, the bitmap is
    always the plan and the candidates come in table order."""
    queryset = matching(kind, user, text, filters).values_list("pk", flat=True)
    if newest_first:
        queryset = queryset.order_by("-pk")
    return list(queryset[:CANDIDATE_LIMIT])


class _AnyOf(Lookup):
    """`column = ANY(%s)` with the list as one array parameter: a thousand ids cost one
    parameter to send and to plan, not a thousand."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*params, list(self.rhs))


def ranked(kind: RecordKind, text: str, ids: list) -> QuerySet:
    """The candidates `ids` of `kind`, best first, with their rank and a snippet."""
    query = _ts_query(text)
    rank = SearchRank(StoredDocument(), query)
    if _trigram_applies(kind, text):
        rank = Greatest(rank, *[TrigramWordSimilarity(text, name) for name in kind.trigram_fields],
                        output_field=FloatField())
    return (
        _with_related(kind, kind.model.objects.filter(_AnyOf(F("pk"), ids)))
        .annotate(
            search_rank=rank,
            # ts_headline is costly: PostgreSQL computes it after ORDER BY … LIMIT, i.e. for
            # the shown rows only.
            search_headline=SearchHeadline(
                _without_markers(kind.snippet_field), query, config=TEXT_SEARCH_CONFIG,
                start_sel=_START, stop_sel=_STOP, max_words=35, min_words=15,
                max_fragments=2, fragment_delimiter=" … "),
        )
        .order_by("-search_rank", "-pk")
    )


def _ranked(kind, text, ids, limit, offset) -> Group:
    rows = list(ranked(kind, text, ids)[offset:offset + limit]) if ids else []
    return Group(kind=kind, total=len(ids),
                 hits=_hits(kind, rows, lambda row: _marked(row.search_headline or "")))


def _without_markers(name: str):
    # The data's own marker characters must not become highlights.
    return Replace(Replace(F(name), Value(_START), Value("")), Value(_STOP), Value(""))


def _marked(headline: str) -> SafeString:
    """ts_headline's text, escaped, with the marked words in <mark> (stray markers, which the
    data itself could hold, are dropped)."""
    parts = []
    for piece in re.split(f"({_START}[^{_START}{_STOP}]*{_STOP})", headline):
        if piece.startswith(_START) and piece.endswith(_STOP):
            parts.append(format_html("<mark>{}</mark>", piece[1:-1]))
        else:
            parts.append(piece.replace(_START, "").replace(_STOP, ""))
    # format_html_join escapes every plain piece; the <mark> pieces are already safe.
    return format_html_join("", "{}", ((part,) for part in parts))


# --- SQLite and other databases -----------------------------------------------------------


def _word_pattern(word: str) -> str:
    # The word at the start of a word of the text ("desert" finds "deserters").
    return r"(?<!\w)" + re.escape(word)


def _search_fallback(kind, user, text, filters, limit, offset) -> Group:
    words = words_of(text)
    condition = Q()
    for word in words:
        any_field = Q()
        for name, _ in kind.document:
            any_field |= Q(**{f"{name}__iregex": _word_pattern(word)})
        condition &= any_field
    rows = list(
        _with_related(kind, _scoped(kind, user, filters).filter(condition))
        .annotate(search_total=Window(Count("*")), search_rank=Value(None, FloatField()))
        .order_by("-pk")[offset:offset + limit]
    )
    total = rows[0].search_total if rows else 0
    if not rows and offset:
        total = _search_fallback(kind, user, text, filters, 1, 0).total
    return Group(kind=kind, total=total, hits=_hits(
        kind, rows, lambda row: highlight(getattr(row, kind.snippet_field) or "", words)))


def highlight(text: str, words: list[str], width: int = 240) -> SafeString:
    """An escaped excerpt of `text` around the first match, matches in <mark>."""
    if not words:
        return escape(text[:width])
    pattern = re.compile("|".join(_word_pattern(w) + r"\w*" for w in words), re.IGNORECASE)
    first = pattern.search(text)
    start = max(0, (first.start() if first else 0) - width // 3)
    end = min(len(text), start + width)
    excerpt = text[start:end]
    parts, last = [], 0
    for match in pattern.finditer(excerpt):
        parts.append(excerpt[last:match.start()])
        parts.append(format_html("<mark>{}</mark>", match.group()))
        last = match.end()
    parts.append(excerpt[last:])
    prefix = "… " if start else ""
    suffix = " …" if end < len(text) else ""
    return format_html_join("", "{}", ((part,) for part in [prefix, *parts, suffix]))
