"""Search across the records of the user's cases: cases, incidents, claims, sources (by name
or codename), citation quotes and evidence descriptions.

Only what `visible_to(user)` returns is ever searched. A protected source's identity
(SourceIdentity, encrypted) is no part of any document: sources are found by their name,
which for a protected source is its codename.

Words and their forms (the query side is "Words and their forms" below; the stored side,
migration 0013). A reporter types "Ростов" and expects "в Ростове", "под Ростовом",
"Ростовской области"; the `russian` stemmer alone cuts "Ростов" to "рост" (as if -ов were a
genitive plural), which finds "рост цен" and misses "Ростовской" (ростовск). So each stored
document holds, per field, the `russian` configuration's stems *and* the `simple`
configuration's unstemmed words, and the query is built here, word by word, as lexemes that
are either whole stems or the beginnings of words (`'ростов':*`, served by the same GIN index
as a range of its keys):

- a Cyrillic word is looked for as the beginning of words (from five letters on), and so is
  its Snowball stem ("Ростове" → ростов:*, "дезертиры" → дезертир:*, which also finds
  "дезертировали" and "дезертирство"); a short stem only as a whole stem ("суда" → суд, not
  судьба). The stem of a word ending in -ов/-ев is used only when long (дезертиров →
  дезертир), since the ending is as often part of a name (Ростов, Иванов) as a plural's;
- a Ukrainian word whose last syllable has і (ї) also as the stems of its other cases, where
  it is о or е (є): "Харків" → харков:* ("у Харкові"), "Київ" → києв:*, with the option below
  or without (`oblique_stems`);
- an ASCII word as its English stem (as before: "deserter" finds "deserters") or the
  beginning of words;
- stop words are left out (PostgreSQL's own lists), and `"quotes"`, `or` and `-word` read as
  websearch_to_tsquery read them; nothing typed becomes tsquery syntax;
- with the option on (`Filters.variants`, the page's "Exact spelling" unticked, the API's
  `exact=false`): the word's transliteration (Rostov ↔ Ростов, Kharkiv ↔ Харків) and its
  Ukrainian spelling folded into Russian (і ї → и, є → е, ґ → г, no apostrophe or ъ:
  полігон ↔ полигон, об'єкт ↔ объект). The documents store the folded form of their
  Ukrainian words under weight D, which no field uses; with the option off every lexeme is
  restricted to weights A–C, so neither is found.

Measured against the alternatives the issue named: an ispell dictionary needs Debian's
hunspell-ru installed on every server and CI machine (PostgreSQL's share directory, outside
the project) and still leaves names such as Ростов out of its dictionary; a lemmatiser
(pymorphy3) knows them but runs in Python, and the documents must stay generated columns
that PostgreSQL keeps on every write path (COPY, psql) — so it could serve only the query,
and the prefixes above already give it the forms a lemma would. Prefixes of stems need
nothing outside PostgreSQL and Python, and keep the search indexed (bench/results/search.md).

Names and places are also matched by trigram word similarity (pg_trgm: "Rostow" finds
"Rostov"; migration 0005's trigram GIN indexes). Each searchable table has a stored
generated column `search_document` (the weighted tsvector of the fields in
`RecordKind.document`) with a GIN index.

Ranking is bounded: a kind's matches are first cut to CANDIDATE_LIMIT candidates, and only
those are ranked (ts_rank on the stored document, or trigram similarity when greater); one
query per kind finds, counts and ranks them and returns the best keys. Only the shown rows
are then fetched, with what they link to and a highlighted snippet (ts_headline, the costly
part, computed for those rows only). When a word matches more rows than that, the page says
so and suggests narrowing.

Where the candidates come from. Asking a GIN index for the matches of frequent words costs
as much as there are matches of each word in the whole table, however few candidates are
needed and however few of the rows are the user's ("military court" over two million
quotes: 40 ms for the index scan alone); and with a LIMIT, PostgreSQL likes plans that hope
to meet matches early (walk the table, or the user's cases one by one), which for words
that never occur together ("soldiers военнослужащие": English and Russian reports) means
visiting every row: its statistics cannot know how often words occur together. So, per
kind (`_survey`, then one candidate query):

- The user's cases. When they are few among all (at most a quarter), their keys (for
  citations: their sources' keys) are read once, from `Case.objects.visible_to(user)` in
  the same transaction, as a list that the case (or source) index can be read with, alone
  or combined with the text index (bitmap AND): only the user's rows are visited. When
  they are a member of every case (a chief editor), no row is checked against their
  memberships at all: the survey and the candidate queries share one snapshot
  (REPEATABLE READ, `_one_snapshot`), so no case can have been added meanwhile. The shown
  rows are fetched through `visible_to(user)` as always.
- A sample of the user's rows (large tables only): the table's newest SAMPLE_ROWS rows, or
  for a user with few cases a few rows of each of their cases; how many match. Rare words
  (under 1% of the sample) leave the list aside: the text index alone finds few rows, and
  reading the list's index would cost more. When at the sample's rate NEWEST_ROWS rows of
  the user's would hold 1.5 times the candidates needed (frequent words), rows are read
  one by one first, each checked with `ts_match_vq` (the function behind `@@`, which no
  index serves, so the planner cannot trade the rows for the text index): the newest rows
  that hold about NEWEST_ROWS of the user's (a range of keys, at most four times as long),
  or all the rows of the user's few cases (through the list).
- Words the sample finds in WHOLE_WORD_MATCHES rows of the table or more are looked for
  as whole lexemes (their forms and stems), without prefixes: the text index serves a
  prefix by collecting every match of every word it begins in the whole table first, and
  such a word's whole forms fill the candidates many times over anyway.
- The rest comes from the GIN indexes (bitmap scans; trigram indexes for names and
  places), without what was read one by one, and only when that gave fewer than
  CANDIDATE_LIMIT (the two are one UNION ALL under the LIMIT).

The candidate queries run with sequential scans, plain index scans and nested loops priced
out and JIT off (SET LOCAL, this transaction only): tables are read through bitmap scans
(of keys, or of the text indexes) and joined by hashing, which costs about the same
whatever the words. The candidates are therefore the first matches among the rows read one
by one (the newest, for a user who sees most cases), otherwise the first ones the text
index gives, in table order.

SQLite (the local demo): the same forms of each word, as regular expressions (a form at the
start of a word of the record, case-insensitive, Unicode-aware; a whole stem followed by at
most a Russian ending; Ukrainian letters as classes of their Russian ones), every word
required, newest first, with the matches highlighted in Python. Snowball's Python stemmer
(snowballstemmer, pinned) is the same algorithm as PostgreSQL's; English stems that are no
beginning of their word ("countri") are not found on SQLite.

Snippets are escaped here, then the highlight markers are turned into <mark>: nothing from
the data can become markup.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    SearchVectorField,
    TrigramWordSimilarity,
)
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Lookup,
    Q,
    QuerySet,
    TextField,
    Value,
    Window,
)
from django.db.models.expressions import Col, RawSQL
from django.db.models.functions import Coalesce, Greatest, Replace
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy
from psycopg import IsolationLevel
from snowballstemmer import stemmer

from .models import Case, Citation, Claim, Evidence, Incident, Membership, Source

TEXT_SEARCH_CONFIG = "russian"
# The configuration the query is read with: its lexemes are built here (see "Words and their
# forms"), so its dictionary only lowercases them.
QUERY_CONFIG = "simple"
MAX_QUERY_LENGTH = 200
# How many matches of one record kind are ranked at most (see the module docstring).
CANDIDATE_LIMIT = 1000
# About how many of the user's rows may be checked one by one for matches before the text
# index is asked for the rest, and how many rows are sampled to decide whether that is
# worth it (see the module docstring).
NEWEST_ROWS = 20_000
SAMPLE_ROWS = 500
# How many matches of one word in a table make it looked for as whole lexemes, without the
# prefixes of its forms (see `_survey`).
WHOLE_WORD_MATCHES = 50_000
# The fewest of the user's rows in a sample that say anything about their rate of matches.
MIN_SAMPLED = 50
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
    label: object  # a lazily translated text
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
        "claim", gettext_lazy("Claims"), Claim, (("statement", "A"),), "statement",
        title=lambda c: str(c),
        url=lambda c: reverse("cases:claim_detail", args=[c.case.slug, c.pk]),
        date_filter=_created_between,
    ),
    RecordKind(
        "incident", gettext_lazy("Incidents"), Incident,
        (("title", "A"), ("description", "B"), ("place_name", "C"), ("admin_region", "C")),
        "description", trigram_fields=("place_name", "admin_region"),
        select_related=("case", "type"),
        title=lambda i: i.title,
        url=lambda i: reverse("cases:timeline", args=[i.case.slug]),
        date_filter=_occurred_between,
    ),
    RecordKind(
        "citation", gettext_lazy("Citation quotes"), Citation, (("quote", "A"),), "quote",
        select_related=("source__case", "claim", "incident"), case_path="source__case",
        title=lambda c: f"{c.source.name} – {c.get_relation_display().lower()}",
        url=_citation_url,
        date_filter=lambda a, b: _created_between(a, b, "published_at"),
    ),
    RecordKind(
        "source", gettext_lazy("Sources"), Source, (("name", "A"),), "name",
        trigram_fields=("name",),
        title=lambda s: s.name,
        url=lambda s: reverse("cases:source_list", args=[s.case.slug]),
        date_filter=_created_between,
    ),
    RecordKind(
        "evidence", gettext_lazy("Evidence"), Evidence,
        (("original_name", "A"), ("description", "B")), "description",
        title=lambda e: str(e),
        url=lambda e: reverse("cases:evidence_list", args=[e.case.slug]),
        date_filter=lambda a, b: _created_between(a, b, "captured_at"),
    ),
    RecordKind(
        "case", gettext_lazy("Cases"), Case, (("title", "A"), ("summary", "B")), "summary",
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
    # Also transliterations (Rostov ↔ Ростов) and Ukrainian spellings (полігон ↔ полигон).
    variants: bool = True
    # Words the survey found so frequent in a kind's table that they are looked for as
    # whole lexemes, without prefixes (see `_survey`); set per kind by the search.
    whole_words: frozenset = frozenset()

    def kinds(self) -> list[str]:
        keys = [self.kind] if self.kind else list(KINDS)
        if self.status:
            keys = [k for k in keys if k in STATUS_KINDS]
        return keys


NO_FILTERS = Filters()  # the default: every kind, no filter (immutable)


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


# --- Words and their forms ----------------------------------------------------------------

# PostgreSQL's own stop words (tsearch_data/russian.stop and english.stop, from Snowball):
# the `russian` configuration leaves them out of the stemmed part of a document, and a query
# word that is one is left out of the query, as websearch_to_tsquery did. The list is here
# because the query is built here, and SQLite has no such file.
STOP_WORDS = frozenset("""
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне
было вот от меня еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него
до вас нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для
мы тебя их чем была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того
потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были куда зачем
всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего
них какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя
такой им более всегда конечно всю между
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
she her hers herself it its itself they them their theirs themselves what which who whom this
that these those am is are was were be been being have has had having do does did doing a an
the and but if or because as until while of at by for with about against between into
through during before after above below to from up down in out on off over under again
further then once here there when where why how all any both each few more most other some
such no nor not only own same so than too very s t can will just don should now
""".split())

# Snowball's stemmers, the same algorithms as PostgreSQL's `russian` configuration (Cyrillic
# words: Russian; ASCII words: English).
_RUSSIAN = stemmer("russian")
_ENGLISH = stemmer("english")
# A word or stem of a Cyrillic word is matched as the beginning of words from this length
# on; shorter ones only as whole words or stems ("суд" must not find "судьба").
MIN_PREFIX_CYRILLIC = 5
MIN_PREFIX_LATIN = 4
# The stem of a word ending in -ов/-ев is used only from this length on: the ending is a
# genitive plural's ("дезертиров" → дезертир) as often as part of a name ("Ростов" → рост,
# which would find "рост цен"; "Иванов" → иван). Long stems are the plural's.
MIN_STEM_BEFORE_OV = 7

# Ukrainian spelling folded into Russian (both in the documents' folded part, migration 0013,
# and in the query): і ї → и, є → е, ґ → г, and the apostrophe and ъ left out ("об'єкт",
# "объект" → обект). ё is е everywhere, as Russian texts write it.
_UKRAINIAN_FOLD = str.maketrans({"і": "и", "ї": "и", "є": "е", "ґ": "г", "ё": "е", "ъ": None,
                                 "'": None, "’": None, "ʼ": None})
_UKRAINIAN_LETTERS = re.compile("[іїєґъ'’ʼ]")
# The apostrophe inside a Ukrainian word ("об'єкт"), which splits words otherwise.
_WORD_APOSTROPHE = re.compile(r"(?<=[^\W\d_])['’ʼ](?=[^\W\d_])")

# Transliteration as the English-language press writes Russian and Ukrainian names (close to
# BGN/PCGN and Ukraine's national system): "Ростов" ↔ Rostov, "Харків" ↔ Kharkiv,
# "Шебекино" ↔ Shebekino. The libraries we tried implement other, reversible schemes:
# cyrtranslit turns "Kharkiv" into "Кгарків", transliterate "Yevgeny" into "ыевгены" and
# "Харьков" into "Har'kov", and unidecode goes one way only. A name has many Latin
# spellings; with prefix matching and trigram similarity beside it, one reading each way is
# what a table can honestly promise.
_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
}
_TO_CYRILLIC = [  # longest first
    ("shch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"),
    ("yu", "ю"), ("ya", "я"), ("yo", "е"), ("ye", "е"), ("iy", "ий"), ("yy", "ый"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("w", "в"), ("g", "г"), ("h", "х"), ("d", "д"),
    ("e", "е"), ("z", "з"), ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"),
    ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("f", "ф"), ("c", "к"), ("q", "к"), ("x", "кс"),
]
_VOWELS_LATIN = "aeiouy"


def to_latin(word: str) -> str:
    """A Cyrillic word as the press spells it in Latin letters (lowercase)."""
    return "".join(_TO_LATIN.get(ch, ch) for ch in word.lower())


def to_cyrillic(word: str) -> str:
    """A Latin word read as a transliterated Russian one (lowercase): "rostov" → ростов."""
    word, out, i = word.lower(), [], 0
    while i < len(word):
        if word[i] == "y":
            # y: й after a vowel or at the end after one, ы otherwise.
            out.append("й" if i and word[i - 1] in _VOWELS_LATIN else "ы")
            i += 1
            continue
        for latin, cyrillic in _TO_CYRILLIC:
            if word.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def fold_ukrainian(word: str) -> str:
    return word.lower().translate(_UKRAINIAN_FOLD)


@dataclass(frozen=True)
class Form:
    """A lexeme a query word is looked for as: a whole word or stem, or (`prefix`) the
    beginning of the documents' words."""

    text: str
    prefix: bool


def _is_cyrillic(word: str) -> bool:
    return bool(re.search("[а-яёіїєґ]", word))


def _own_forms(word: str) -> list[Form]:
    """What one spelling of a word is looked for as (see the module docstring)."""
    if word.isdigit() or not re.search("[^\\W\\d_]", word):
        return [Form(word, False)]
    if _is_cyrillic(word):
        forms = [Form(word, len(word) >= MIN_PREFIX_CYRILLIC)]
        stem = _RUSSIAN.stemWord(word)
        if stem != word:
            if word.endswith(("ов", "ев")):
                if len(stem) >= MIN_STEM_BEFORE_OV:
                    forms.append(Form(stem, False))
            else:
                forms.append(Form(stem, len(stem) >= MIN_PREFIX_CYRILLIC))
        return forms
    if word.isascii():
        forms = [Form(_ENGLISH.stemWord(word), False)]
        if len(word) >= MIN_PREFIX_LATIN:
            forms.append(Form(word, True))
        return forms
    return [Form(word, len(word) >= MIN_PREFIX_LATIN)]


# Ukrainian declension: an о or е of a stem is і in a closed last syllable (є after a vowel:
# ї), so a place name's nominative is no beginning of its other cases: Харків, Харкова, у
# Харкові; Київ, Києва; Ірпінь, Ірпеня; Бориспіль, Борисполя. The Russian stemmer knows
# nothing of it.
_CLOSED_LAST_SYLLABLE = re.compile("(.+?)([ії])([бвгґджзйклмнпрстфхцчшщ]+)ь?")
# The shortest such stem looked for (as the beginning of words: the other cases always have
# an ending); shorter ones would begin too many unrelated words.
MIN_OBLIQUE_STEM = 4


def oblique_stems(word: str) -> list[str]:
    """The stems of a Ukrainian word's other cases when its last syllable alternates (see
    above): "харків" → харков, харкев; "київ" → києв; none for other words."""
    match = _CLOSED_LAST_SYLLABLE.fullmatch(word)
    if match is None:
        return []
    head, vowel, tail = match.groups()
    others = ("є",) if vowel == "ї" else ("о", "е")
    stems = [head + other + tail for other in others]
    return [stem for stem in stems if len(stem) >= MIN_OBLIQUE_STEM]


def query_word(word: str) -> str:
    """A word of the query as it is looked up: lowercase, ё written е."""
    return word.lower().replace("ё", "е")


def word_forms(word: str, variants: bool = True, whole: bool = False) -> list[Form]:
    """Every lexeme a query word is looked for as: its own forms and, with `variants`, those
    of its transliteration and of its Ukrainian spelling folded into Russian. None for a
    stop word. `whole`: every form as a whole lexeme, none as a prefix."""
    word = query_word(word)
    if word in STOP_WORDS:
        return []
    spellings = [word]
    if variants:
        folded = fold_ukrainian(word)
        if _is_cyrillic(word):
            spellings += [folded, to_latin(word)]
        elif word.isascii() and not word.isdigit():
            spellings.append(to_cyrillic(word))
    forms = []
    for spelling in spellings:
        if not spelling or spelling in STOP_WORDS:
            continue
        for form in _own_forms(spelling):
            if form not in forms:
                forms.append(form)
    # Not a spelling but the word's other cases (Харків → у Харкові): found either way.
    for stem in oblique_stems(word):
        for text in dict.fromkeys([stem, fold_ukrainian(stem)] if variants else [stem]):
            if Form(text, True) not in forms:
                forms.append(Form(text, True))
    if whole:
        # A word's own text is redundant beside its stem: a document holding the word holds
        # its stem too (the stored document's stemmed part).
        texts = list(dict.fromkeys(form.text for form in forms))
        return [Form(text, False) for text in texts
                if not any(other != text and text.startswith(other) for other in texts)]
    # A form is redundant beside another that is a prefix of its text.
    return [form for form in forms if not any(
        other.prefix and other != form and form.text.startswith(other.text)
        for other in forms)]


def query_words(text: str, variants: bool = True) -> list[str]:
    """The words of a query that are looked for (not stop words), as `query_word()`."""
    if variants:
        text = _WORD_APOSTROPHE.sub("", text)
    words = []
    for word in _WORD.findall(text):
        word = query_word(word)
        if word not in words and word_forms(word, variants):
            words.append(word)
    return words[:20]


_QUERY_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")


def _lexeme(form: Form, weights: str, all_prefixes: bool = False) -> str:
    text = form.text.replace("\\", "\\\\").replace("'", "''")
    if form.prefix or all_prefixes:
        return f"'{text}':*{weights}"
    return f"'{text}'" + (f":{weights}" if weights else "")


# Cached: one search builds the same query for its survey, each kind's candidates, ranks and
# snippets (33 times for two words on the page; about 0.17 ms each, stems and
# transliterations included), and it depends on nothing but its arguments.
@functools.lru_cache(maxsize=512)
def text_search_query(text: str, variants: bool = True, *, for_headline: bool = False,
                      whole_words: frozenset = frozenset()) -> str:
    """The PostgreSQL tsquery (its text) of a search: the websearch syntax that the page's
    help explains ("quotes" for a phrase, `or`, `-word`; anything else is a word), each word
    looked for as `word_forms()`. Without `variants`, every lexeme is restricted to the
    weights of the documents' own words (A–C), so that the folded Ukrainian words (weight D,
    migration 0013) are not found. Empty when only stop words remain. `for_headline`: every
    lexeme a prefix, for highlighting the words of a shown record. `whole_words`: words
    looked for as whole lexemes only (see `_survey`)."""
    weights = "" if variants or for_headline else "ABC"
    if variants:
        text = _WORD_APOSTROPHE.sub("", text)
    clauses: list[list[str]] = []
    either = False
    for match in _QUERY_TOKEN.finditer(text):
        negated, phrase, plain = match.group(1), match.group(2), match.group(3)
        if plain is not None:
            if plain.lower() == "or":
                either = bool(clauses)
                continue
            negated, phrase = ("-" if plain.startswith("-") else ""), plain.lstrip("-")
        operands, gap = [], 0
        for word in _WORD.findall(phrase):
            forms = word_forms(word, variants, whole=query_word(word) in whole_words)
            if not forms:
                gap += 1  # a stop word still takes its place in the documents
                continue
            operand = " | ".join(_lexeme(form, weights, for_headline) for form in forms)
            operand = f"({operand})" if len(forms) > 1 else operand
            if operands:
                operands.append(f"<{gap + 1}>" if gap else "<->")
            operands.append(operand)
            gap = 0
        if not operands:
            continue
        expression = " ".join(operands)
        if len(operands) > 1:
            expression = f"({expression})"
        if negated and not for_headline:
            expression = f"!{expression}"
        elif negated:
            continue
        if either and clauses:
            clauses[-1].append(expression)
        else:
            clauses.append([expression])
        either = False
    return " & ".join(f"({' | '.join(c)})" if len(c) > 1 else c[0] for c in clauses)


def _too_common_message() -> str:
    return gettext("These words are too common to search for on their own; add a more "
                   "specific word.")


def search(user, text: str, filters: Filters = NO_FILTERS, *, per_kind: int = 5,
           offset: int = 0) -> Results:
    """Ranked matches of `text` among the records `user` may see, one group per record kind
    (`per_kind` hits each, from `offset`). A fixed number of queries whatever the number of
    hits: on PostgreSQL the survey (two queries, the second also setting the plans), then
    per kind one query that finds, counts and ranks its candidates, and one that fetches the
    shown rows (none when there are none)."""
    text = clean_query(text)
    results = Results(query=text)
    if not words_of(text):
        results.message = gettext("Type a word, a name or a place to search for.")
        return results
    if uses_full_text():
        kinds = [KINDS[key] for key in filters.kinds()]
        ranked_ids = {}
        with _one_snapshot() as snapshot, connection.cursor() as cursor:
            # and the plan settings
            survey = _survey(cursor, kinds, user, text, filters, one_snapshot=snapshot)
            terms = survey.terms
            for kind in kinds:
                # Only stop words: no full-text match, but names and places may be near.
                if terms or _trigram_applies(kind, text):
                    ranked_ids[kind.key] = _best_candidates(
                        cursor, kind, user, text, filters, per_kind, offset, survey)
        if terms == 0 and not ranked_ids:
            kinds = []  # nothing was left to search for
        # The shown rows, with what they link to and their snippets, under the usual plans.
        for kind in kinds:
            total, ids, ranks = ranked_ids.get(kind.key, (0, [], []))
            results.groups.append(Group(kind=kind, total=total,
                                        hits=_shown(kind, user, text, ids, ranks)))
        if terms == 0 and not results.total:
            results.message = _too_common_message()
    elif not word_patterns(text, filters.variants):
        results.message = _too_common_message()
    else:
        for key in filters.kinds():
            results.groups.append(
                _search_fallback(KINDS[key], user, text, filters, per_kind, offset))
    return results


def matching_records(queryset: QuerySet, text: str, variants: bool = True,
                     fields: tuple[str, ...] = ()) -> QuerySet:
    """`queryset` less the records the search's words do not match: the API's `?q=` on its
    lists, whatever else the list filters and however it orders. A record kind of the search
    (KINDS) is matched by its stored document (and trigram similarity of names and places),
    like the search page; other records (tasks, requests for comment, captures) by the same
    document computed from `fields` (fields of their cases' records, never an identity), on
    the rows the list's other conditions leave. On SQLite, by the patterns of
    `word_patterns()`. Words that are all stop words match nothing."""
    text = clean_query(text)
    kind = next((k for k in KINDS.values() if k.model is queryset.model), None)
    names = fields or tuple(name for name, _ in kind.document)
    if not uses_full_text():
        condition = Q() if word_patterns(text, variants) else Q(pk__in=[])
        for pattern in word_patterns(text, variants):
            any_field = Q()
            for name in names:
                any_field |= Q(**{f"{name}__iregex": pattern})
            condition &= any_field
        return queryset.filter(condition)
    query = _ts_query(text, variants)
    if kind is not None and not fields:
        condition = Q(search_document=query)
        if _trigram_applies(kind, text):
            for name in kind.trigram_fields:
                condition |= Q(TrigramWordSimilar(F(name), text))
        return queryset.alias(search_document=StoredDocument()).filter(condition)
    return queryset.alias(computed_document=_computed_document(names)).filter(
        computed_document=query)


def _computed_document(names: tuple[str, ...]):
    """The stored document of migration 0013, computed from `names` (related fields too),
    with every word's Ukrainian folding under weight D (the stored one folds only the words
    that change, to keep the index small)."""
    document = None
    for name in names:
        value = Coalesce(F(name), Value(""), output_field=TextField())
        yo = Func(value, Value("Ёё"), Value("Ее"), function="translate",
                  output_field=TextField())
        folded = Func(value, Value("ІЇЄҐЁіїєґёЪъ'’ʼ"), Value("ИИЕГЕииеге"),
                      function="translate", output_field=TextField())
        part = (SearchVector(value, config=TEXT_SEARCH_CONFIG, weight="A")
                + SearchVector(yo, config=QUERY_CONFIG, weight="A")
                + SearchVector(folded, config=QUERY_CONFIG, weight="D"))
        document = part if document is None else document + part
    return document


class _EveryCase:
    """The scope of a user who is a member of every case in the search's snapshot (see
    `_one_snapshot`): none of the rows that snapshot holds needs checking against their
    memberships."""

    def __repr__(self) -> str:
        return "EVERY_CASE"


EVERY_CASE = _EveryCase()


def _scoped(kind: RecordKind, user, filters: Filters,
            scope_keys: list | _EveryCase | None = None) -> QuerySet:
    """The records of `kind` the user may see, filtered. `scope_keys`: the keys of the cases
    (or, for citations, the sources) `Case.objects.visible_to(user)` returned earlier in the
    same transaction, as a list (see `_survey`), in place of the membership subquery; or
    EVERY_CASE, when that transaction's snapshot holds no case the user is not a member of."""
    if scope_keys is EVERY_CASE:
        queryset = kind.model.objects.all()
    elif scope_keys is None:
        queryset = kind.model.objects.visible_to(user)
    else:
        queryset = kind.model.objects.filter(_AnyOf(F(_scope_column(kind)), scope_keys))
    return _filtered(kind, _without_withheld(kind, user, queryset), filters)


def _without_withheld(kind: RecordKind, user, queryset: QuerySet) -> QuerySet:
    """Less what the user's cases hold but is kept from them: the files of a protected
    source's capture, outside the cases where they are a source handler (as the evidence
    list does, capture.domain.evidence_visible_to). A condition, no query of its own."""
    if kind.key != "evidence":
        return queryset
    handled = Membership.objects.filter(user=user, can_handle_sources=True).values("case_id")
    return queryset.exclude(Q(capture_file__capture__protected=True)
                            & ~Q(case_id__in=handled))


def _scope_column(kind: RecordKind) -> str:
    """The column `scope_keys` are keys of: the case's, the source's for citations."""
    return {"source__case": "source_id", "pk": "pk"}.get(kind.case_path, "case_id")


def _filtered(kind: RecordKind, queryset: QuerySet, filters: Filters) -> QuerySet:
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


def _ts_query(text: str, variants: bool = True, *, for_headline: bool = False,
              whole_words: frozenset = frozenset()) -> SearchQuery:
    """The search's tsquery: built by `text_search_query()`, read by PostgreSQL's `simple`
    configuration (which only lowercases), so that its lexemes are looked for as built."""
    return SearchQuery(text_search_query(text, variants, for_headline=for_headline,
                                         whole_words=whole_words),
                       search_type="raw", config=QUERY_CONFIG)


def _trigram_applies(kind: RecordKind, text: str) -> bool:
    return bool(kind.trigram_fields) and len(words_of(text)) <= TRIGRAM_MAX_WORDS \
        and len(text) >= 3


def matching(kind: RecordKind, user, text: str, filters: Filters = NO_FILTERS,
             scope_keys: list | _EveryCase | None = None) -> QuerySet:
    """The records of `kind` that match (full text, or trigram for names and places),
    unordered, as found through the text and trigram indexes (and the list of the user's
    cases' keys, see `_scoped`)."""
    condition = Q(search_document=_ts_query(text, filters.variants,
                                            whole_words=filters.whole_words))
    if _trigram_applies(kind, text):
        for name in kind.trigram_fields:
            condition |= Q(TrigramWordSimilar(F(name), text))
    return (_scoped(kind, user, filters, scope_keys).alias(search_document=StoredDocument())
            .filter(condition).order_by())


def _unindexed_match(text: str, variants: bool = True, whole_words: frozenset = frozenset()) -> Q:
    return Q(_UnindexedMatch(StoredDocument(), _ts_query(text, variants,
                                                         whole_words=whole_words)))


@dataclass
class _Survey:
    terms: int  # nodes of the text search query: 0 when it holds only stop words
    # Per kind, the first key of the rows (of the user's) that are worth reading one by one.
    read_from: dict[str, int]
    # Per kind, the keys its rows' cases (or sources) must have, when the user's cases are
    # few among all and the words not rare among their rows: their rows are then found
    # through the index of these keys (alone, or with the text index).
    scope_keys: dict[str, list]
    # Per kind, the words so frequent in its table that they are looked for as whole
    # lexemes (see `_survey`).
    whole_words: dict[str, frozenset] = field(default_factory=dict)
    # The user is a member of every case in the search's snapshot (see `_one_snapshot`).
    every_case: bool = False

    def scope(self, kind: RecordKind) -> list | _EveryCase | None:
        """What `_scoped` checks the rows of `kind` against: the keys of the user's few
        cases (or their sources), nothing when they are a member of every case, otherwise
        their memberships."""
        if kind.key in self.scope_keys:
            return self.scope_keys[kind.key]
        return EVERY_CASE if self.every_case else None


@contextlib.contextmanager
def _one_snapshot() -> Iterator[bool]:
    """A read-only transaction for the survey and the candidate queries; True when all its
    statements see one snapshot (REPEATABLE READ), which only a transaction of its own can
    have: not one opened inside another (a savepoint). There, and only there, what the
    survey reads of the user's memberships holds for every later statement, so that a user
    who is a member of every case needs no membership check on any row (`_survey`): a case
    added meanwhile, which they might not be a member of, is not in the snapshot.

    The isolation level is the driver's (psycopg), given with the BEGIN it sends: no
    statement of its own."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield False
        return
    connection.ensure_connection()
    driver = connection.connection
    own = driver.isolation_level, driver.read_only
    driver.isolation_level, driver.read_only = IsolationLevel.REPEATABLE_READ, True
    try:
        with transaction.atomic():
            yield True
    finally:
        if not driver.closed:
            driver.isolation_level, driver.read_only = own


def _survey(cursor, kinds: list[RecordKind], user, text: str, filters: Filters, *,
            one_snapshot: bool = False) -> _Survey:
    """What the candidate queries need to know (see the module docstring): the size of the
    text search query, whether the user's cases are few among all, and which kinds' newest
    rows hold so many of the user's matches that they are best read one by one (judged on
    each large table's newest SAMPLE_ROWS rows).

    Two queries: the tables' last keys and the user's cases, then the samples between
    known keys (or through the keys of the user's few cases), which also set the candidate
    plan settings for what follows. With `one_snapshot` (see `_one_snapshot`), also whether
    the user is a member of every case (and of at least one): then no row is checked
    against their memberships, here or in the candidate queries (for a chief editor of a
    thousand cases, hashing the 20,000 sources of their cases for the citations cost more
    than finding and ranking them)."""
    quote = connection.ops.quote_name
    visible = Case.objects.visible_to(user)
    if filters.case is not None:
        visible = visible.filter(pk=filters.case.pk)
    try:
        visible_sql, visible_params = visible.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # an inactive user sees nothing
        visible_sql, visible_params = "SELECT NULL::bigint WHERE false", ()
    few = ("(SELECT count(*) FROM visible) * 4 <= "  # nosec B608
           f"(SELECT count(*) FROM {quote(Case._meta.db_table)})")
    every_case = ("(SELECT count(*) FROM visible) = "  # nosec B608
                  f"(SELECT count(*) FROM {quote(Case._meta.db_table)}) "
                  "AND EXISTS (SELECT FROM visible)") if one_snapshot else "false"
    columns = ["numnode(to_tsquery(%s::regconfig, %s))", every_case,
               f"CASE WHEN {few} THEN ARRAY(SELECT * FROM visible) END"]  # nosec B608
    params = [*visible_params, QUERY_CONFIG, text_search_query(text, filters.variants)]
    if any(kind.case_path == "source__case" for kind in kinds):
        sources = Source.objects.filter(case__in=RawSQL("SELECT * FROM visible", ()))
        sources_sql, sources_params = sources.order_by().values("pk").query.sql_with_params()
        columns.append(f"CASE WHEN {few} THEN ARRAY({sources_sql}) END")
        params.extend(sources_params)
    else:
        columns.append("NULL")
    columns += [f"(SELECT max({quote(kind.model._meta.pk.column)}) "  # nosec B608
                f"FROM {quote(kind.model._meta.db_table)})" for kind in kinds]
    # For the samples (planned after this query ran): a sample's rows are checked against
    # the user's cases one by one, through the keys, rather than by hashing every source of
    # the user's cases (a thousand cases: 20,000 sources).
    columns.append("set_config('enable_hashjoin', 'off', true)")
    cursor.execute(f"WITH visible AS ({visible_sql}) SELECT {', '.join(columns)}", params)
    terms, every_case, case_ids, source_ids, *last_keys, _ = cursor.fetchone()
    survey = _Survey(terms=terms, read_from={}, scope_keys={}, every_case=every_case)
    words = query_words(text, filters.variants)
    if case_ids is not None:
        survey.scope_keys = {kind.key: source_ids if kind.case_path == "source__case"
                             else case_ids for kind in kinds}
    counts, params, sampled = [], [], []
    for kind, last_key in zip(kinds, last_keys, strict=True):
        if not terms or last_key is None or last_key <= NEWEST_ROWS:
            continue  # stop words only (no full-text match), or a small table
        keys = survey.scope_keys.get(kind.key)
        if keys == []:
            continue  # no case: nothing to sample
        matches = {"matches": ExpressionWrapper(_unindexed_match(text, filters.variants),
                                                output_field=BooleanField())}
        # and each word's own matches
        for i, word in enumerate(words):
            matches[f"word_{i}"] = ExpressionWrapper(
                _unindexed_match(word, filters.variants), output_field=BooleanField())
        if keys is None:
            # The table's newest rows, of which the user can see many.
            sample = (_scoped(kind, user, filters, survey.scope(kind))
                      .alias(search_document=StoredDocument())
                      .filter(pk__gt=last_key - SAMPLE_ROWS).order_by()
                      .annotate(**matches).values(*matches))
            source = "({}) AS sample"
        else:
            # A user with few cases: a few rows of each of their cases (or sources, spread
            # over at most SAMPLE_ROWS of them), through the keys, so that one case's words
            # do not speak for all.
            keys = keys[::-(-len(keys) // SAMPLE_ROWS)]  # every n-th, at most SAMPLE_ROWS
            sample = (_filtered(kind, kind.model.objects.filter(
                          **{_scope_column(kind): RawSQL("scope.key", ())}), filters)
                      .alias(search_document=StoredDocument()).order_by()
                      .annotate(**matches).values(*matches)
                      [:-(-SAMPLE_ROWS // len(keys))])
            source = "unnest(%s::bigint[]) AS scope (key) CROSS JOIN LATERAL ({}) AS sample"
        try:
            sql, sample_params = sample.query.sql_with_params()
        except EmptyResultSet:
            continue
        counted = ", ".join(f"count(*) FILTER (WHERE {name})" for name in matches)
        counts.append(f"(SELECT ARRAY[count(*), {counted}] "  # nosec B608
                      f"FROM {source.format(sql)})")
        params.extend(sample_params if keys is None else [keys, *sample_params])
        sampled.append((kind, last_key))
    # The candidate plan settings in the same query: they take effect once it has run, so
    # the samples themselves were planned without them.
    cursor.execute(f"SELECT {', '.join([*counts, _CANDIDATE_SETTINGS])}", params)
    samples = cursor.fetchone()[:len(counts)]
    for (kind, last_key), (rows, matches, *word_matches) in zip(sampled, samples, strict=True):
        if rows < MIN_SAMPLED:
            continue  # too few of the user's rows to tell
        # A word that, at the sample's rate, the table holds WHOLE_WORD_MATCHES times or
        # more is looked for as whole lexemes: a prefix makes the text index collect every
        # match of every word it begins, in the whole table, before any other word of the
        # query narrows them ("soldiers военнослужащие": each in 40% of a million claims),
        # while the whole lexemes are read side by side. Such a word's whole forms and
        # stems alone fill the candidates many times over; what only a prefix finds (a
        # derived word: "дезертир" → "дезертировали") is then not missed for want of room.
        survey.whole_words[kind.key] = frozenset(
            word for word, count in zip(words, word_matches, strict=True)
            if count * last_key >= WHOLE_WORD_MATCHES * rows)
        if matches * 100 < rows and kind.key in survey.scope_keys:
            # Rare among the user's rows: the text index finds few rows in the whole
            # table, fewer than the list of their cases' keys would find in its index.
            del survey.scope_keys[kind.key]
        # Read rows one by one when, at the sample's rate of matches, NEWEST_ROWS rows of
        # the user's would hold half as many again as the candidates needed.
        if 2 * matches * NEWEST_ROWS < 3 * CANDIDATE_LIMIT * rows:
            continue
        if kind.key in survey.scope_keys:
            # All the rows of their few cases (a quarter of all cases at most).
            survey.read_from[kind.key] = 0
        elif rows * 4 >= SAMPLE_ROWS:
            # The newest rows that hold NEWEST_ROWS of the user's (at most four times as
            # many): their share of the newest rows is the sample's.
            survey.read_from[kind.key] = last_key - NEWEST_ROWS * SAMPLE_ROWS // rows + 1
    return survey


# For finding candidates, in the search's transaction: tables are read through bitmap scans
# of their indexes and joined by hashing (see the module docstring).
_CANDIDATE_SETTINGS = (
    "set_config('enable_seqscan', 'off', true), "
    "set_config('enable_indexscan', 'off', true), "
    "set_config('enable_hashjoin', 'on', true), "
    "set_config('enable_nestloop', 'off', true), "
    # The priced-out plans inflate the estimated cost past JIT's thresholds: compiling such
    # a query would take longer than running it.
    "set_config('jit', 'off', true), "
    # Room for an exact bitmap of a frequent word's matches (no lossy pages whose every row
    # must be checked again).
    "set_config('work_mem', '32MB', true)"
)


def _candidate_plans(cursor) -> None:
    """The candidate plan settings, for the rest of this transaction."""
    cursor.execute(f"SELECT {_CANDIDATE_SETTINGS}")


class _UnindexedMatch(Func):
    """`document @@ query` written as its function, ts_match_vq(), which no index serves:
    the newest rows are checked one by one instead of asking the text index for every match
    of the table (see the module docstring)."""

    function = "ts_match_vq"
    output_field = BooleanField()


class _AnyOf(Lookup):
    """`column = ANY(%s)` with the list as one array parameter: a thousand keys cost one
    parameter to send and to plan, not a thousand."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        # Typed, so that an empty list is an empty array of keys too.
        array_type = self.lhs.output_field.db_type(connection)
        return f"{lhs} = ANY(%s::{array_type}[])", (*params, list(self.rhs))


def _rank(kind: RecordKind, text: str, variants: bool = True,
          whole_words: frozenset = frozenset()):
    rank = SearchRank(StoredDocument(), _ts_query(text, variants, whole_words=whole_words))
    if _trigram_applies(kind, text):
        rank = Greatest(rank, *[TrigramWordSimilarity(text, name) for name in kind.trigram_fields],
                        output_field=FloatField())
    return rank


def ranking_statement(kind: RecordKind, user, text: str, filters: Filters = NO_FILTERS, *,
                      limit: int, offset: int = 0, read_from: int | None = None,
                      scope_keys: list | _EveryCase | None = None) -> tuple[str, list]:
    """The SQL (and its parameters) that finds at most CANDIDATE_LIMIT matches of `kind`,
    ranks them and returns one row: how many there are, and the ids and ranks of the best
    `limit` from `offset`. With `read_from` (a key), the full-text matches among the rows
    from that key on are looked for first, one row at a time; with `scope_keys` (see
    `_scoped`), the user's rows are found through the list of their cases' keys, or not
    checked at all (EVERY_CASE) (see the module docstring)."""
    rank = _rank(kind, text, filters.variants, filters.whole_words)
    parts = [matching(kind, user, text, filters, scope_keys)]
    if read_from is not None:
        read = Q(pk__gte=read_from) & _unindexed_match(text, filters.variants,
                                                       filters.whole_words)
        parts = [_scoped(kind, user, filters, scope_keys).alias(search_document=StoredDocument())
                 .filter(read).order_by(),
                 parts[0].exclude(read)]
    sql, params = [], []
    for part in parts:
        part_sql, part_params = part.annotate(search_rank=rank).values_list(
            "pk", "search_rank").query.sql_with_params()
        sql.append(f"({part_sql})")
        params.extend(part_params)
    best = "FROM candidates ORDER BY rank DESC, id DESC LIMIT %s OFFSET %s"
    return (
        f"WITH candidates (id, rank) AS ({' UNION ALL '.join(sql)} LIMIT %s) "  # nosec B608
        f"SELECT (SELECT count(*) FROM candidates), ARRAY(SELECT id {best}), "
        f"ARRAY(SELECT rank {best})",
        [*params, CANDIDATE_LIMIT, limit, offset, limit, offset],
    )


def _best_candidates(cursor, kind, user, text, filters, limit, offset, survey):
    try:
        filters = replace(filters, whole_words=survey.whole_words.get(kind.key, frozenset()))
        sql, params = ranking_statement(kind, user, text, filters, limit=limit, offset=offset,
                                        read_from=survey.read_from.get(kind.key),
                                        scope_keys=survey.scope(kind))
    except EmptyResultSet:  # nobody's records (a user who cannot see any case)
        return 0, [], []
    cursor.execute(sql, params)
    return cursor.fetchone()


def _shown(kind: RecordKind, user, text: str, ids: list, ranks: list) -> list[Hit]:
    """The rows `ids` (best first), with their snippets: ts_headline is costly, so it is
    computed for the shown rows only."""
    if not ids:
        return []
    visible = _without_withheld(kind, user, kind.model.objects.visible_to(user))
    # Unordered: the rows are put in the ranking's order below (no sort to plan or run).
    rows = _with_related(kind, visible.filter(pk__in=ids).order_by()).annotate(
        search_headline=SearchHeadline(
            _without_markers(kind.snippet_field), _ts_query(text, for_headline=True),
            config=QUERY_CONFIG,
            start_sel=_START, stop_sel=_STOP, max_words=35, min_words=15,
            max_fragments=2, fragment_delimiter=" … "))
    by_pk = {row.pk: row for row in rows}
    shown = []
    for pk, rank in zip(ids, ranks, strict=True):
        if pk in by_pk:  # unless deleted since it was found
            by_pk[pk].search_rank = rank
            shown.append(by_pk[pk])
    return _hits(kind, shown, lambda row: _marked(row.search_headline or ""))


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


# A Russian ending after a stem matched as a whole stem: "суд" finds "суда", "судом" (not
# "судьба": an ending starts with a vowel or й).
_RUSSIAN_ENDING = "(?:[аеиоуыэюяйё][а-яё]{0,3})?"
# With variants, the Russian letters that Ukrainian spellings fold into (see fold_ukrainian).
_UKRAINIAN_CLASSES = {"и": "[иії]", "е": "[еєё]", "г": "[гґ]"}


def _form_pattern(form: Form, variants: bool) -> str:
    """A regular expression for one form, at the start of a word of the text."""
    letters = []
    for ch in form.text:
        if variants and ch in _UKRAINIAN_CLASSES:
            letters.append(_UKRAINIAN_CLASSES[ch])
        elif ch == "е":
            letters.append("[её]")
        else:
            letters.append(re.escape(ch))
    # With variants, an apostrophe or ъ may stand between any two letters ("об'єкт" and
    # "объект" are both обект).
    between = "['’ʼъ]?" if variants and _is_cyrillic(form.text) else ""
    pattern = r"(?<!\w)" + between.join(letters)
    if form.prefix or not _is_cyrillic(form.text):
        # SQLite has no English stems to compare: a Latin stem begins the words it stems.
        return pattern
    return pattern + _RUSSIAN_ENDING + r"(?!\w)"


def word_patterns(text: str, variants: bool = True) -> list[str]:
    """One regular expression per query word (stop words left out): any of its forms."""
    if variants:
        text = _WORD_APOSTROPHE.sub("", text)
    patterns = []
    for word in words_of(text):
        forms = word_forms(word, variants)
        if forms:
            patterns.append("|".join(_form_pattern(form, variants) for form in forms))
    return patterns


def _search_fallback(kind, user, text, filters, limit, offset) -> Group:
    patterns = word_patterns(text, filters.variants)
    condition = Q() if patterns else Q(pk__in=[])
    for pattern in patterns:
        any_field = Q()
        for name, _ in kind.document:
            any_field |= Q(**{f"{name}__iregex": pattern})
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
        kind, rows, lambda row: highlight(getattr(row, kind.snippet_field) or "", patterns)))


def highlight(text: str, patterns: list[str], width: int = 240) -> SafeString:
    """An escaped excerpt of `text` around the first match of `patterns` (word_patterns()),
    matched words in <mark>."""
    if not patterns:
        return escape(text[:width])
    pattern = re.compile("|".join(f"(?:{p})\\w*" for p in patterns), re.IGNORECASE)
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
