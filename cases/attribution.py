"""Attribution chains and the independence of citations.

A statement reaches us through a chain: anonymous military investigators → 161.ru → us.
Each citation's *lineage* is the set of sources it passes through: its source, each of its
relays (the sources it came through, CitationRelay), and every source those are themselves
`reached_via`, followed to the end. Two citations are independent only when their lineages
share no source: two reports that both go back to the same insiders, or one of which relays
the other, count once.

`explain()` says it in words a page or the API can give: each supporting citation's chain
(`CitationChain`: the source and each relay, each followed along `reached_via`), the
independent origins by name, and for each pair of citations whether they are independent and
which sources they share.

`supporting_origins()` is the one place that says what a claim's supporting citations go
back to: the workflow decides corroboration and confirmation on it, the claims board counts
its origins. The claim page counts the same groups from `explain()`, which it draws anyway
(both are `origins()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

from .enums import CitationRelation
from .models import Source

ViaMap = Mapping[int, int | None]


def via_map_for_case(case_id) -> dict[int, int | None]:
    """{source id: id of the source it is reached via} for every source of a case (one query)."""
    return dict(Source.objects.filter(case_id=case_id).values_list("pk", "reached_via_id"))


def chain(start: int | None, via_map: ViaMap) -> list[int]:
    """[start, the source it is reached via, …] up to the origin; a cycle stops the walk."""
    walked: list[int] = []
    current = start
    while current is not None and current not in walked:
        walked.append(current)
        current = via_map.get(current)
    return walked


def _follow(start: int | None, via_map: ViaMap) -> set[int]:
    return set(chain(start, via_map))


def reached_via_chain(source) -> set[int]:
    """Ids of `source` and of every source it is (transitively) reached via."""
    return _follow(source.pk, via_map_for_case(source.case_id))


def relay_ids(citation) -> list[int]:
    """The citation's relays' source ids, in order (`Citation.relay_ids`: prefetch
    `relay_links` to read them without a query)."""
    return list(getattr(citation, "relay_ids", None) or ())


def lineage(citation, via_map: ViaMap) -> frozenset[int]:
    """Every source the citation passes through: its source's chain and each relay's."""
    walked = _follow(citation.source_id, via_map)
    for relay in relay_ids(citation):
        walked |= _follow(relay, via_map)
    return frozenset(walked)


def are_independent(first, second, via_map: ViaMap) -> bool:
    return lineage(first, via_map).isdisjoint(lineage(second, via_map))


def combined_lineage(citations: Iterable, via_map: ViaMap) -> frozenset[int]:
    """Every source any of `citations` passes through. Two groups of citations are
    independent of each other (every citation of one independent of every citation of the
    other, by `are_independent`) exactly when their combined lineages are disjoint, so a
    group's lineage can be worked out once and compared with many others."""
    return frozenset().union(*(lineage(citation, via_map) for citation in citations))


def independent_pair(citations: Iterable, via_map: ViaMap):
    """Two citations whose chains share no source, or None if there is no such pair."""
    for first, second in combinations(list(citations), 2):
        if are_independent(first, second, via_map):
            return first, second
    return None


def origins(citations: Iterable, via_map: ViaMap) -> list[frozenset[int]]:
    """Lineages merged into groups of mutually dependent citations: the number of groups is
    the number of independent origins among the citations."""
    groups: list[set[int]] = []
    for citation in citations:
        merged = set(lineage(citation, via_map))
        for group in [g for g in groups if not g.isdisjoint(merged)]:
            merged |= group
            groups.remove(group)
        groups.append(merged)
    return [frozenset(g) for g in groups]


def supporting(citations: Iterable) -> list:
    """The citations that report or confirm the claim: denials and refusals to comment
    support nothing."""
    return [c for c in citations if c.relation in CitationRelation.supporting()]


class SupportingOrigins:
    """What a claim's supporting citations go back to (computed when first asked)."""

    def __init__(self, citations: Iterable, via_map: ViaMap):
        self.citations = supporting(citations)
        self._via_map = via_map

    @cached_property
    def independent(self) -> bool:
        """Two supporting citations share no source: what corroboration needs, and a
        confirmation without an override."""
        return independent_pair(self.citations, self._via_map) is not None

    @cached_property
    def groups(self) -> list[frozenset[int]]:
        """The supporting citations' lineages, merged wherever they share a source."""
        return origins(self.citations, self._via_map)

    @property
    def count(self) -> int:
        """The independent origins the claims board shows: the groups (the claim page shows
        the same groups, from explain()). Citations linked through a chain count once here
        even when its two ends are independent (then `independent` is true while `count`
        is 1)."""
        return len(self.groups)

    @property
    def source_ids(self) -> frozenset[int]:
        """Every source the supporting citations pass through."""
        return frozenset().union(*self.groups)


def supporting_origins(citations: Iterable, via_map: ViaMap) -> SupportingOrigins:
    """The origins of `citations`' supporting ones, on the case's attribution chains
    (`via_map`, see via_map_for_case)."""
    return SupportingOrigins(citations, via_map)


# --- in words -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CitationChain:
    """One citation's way back, for drawing: `strands` holds its source's chain first, then
    each relay's, each a list of source ids from the source or relay to the end of its
    `reached_via` chain."""

    citation: object
    strands: tuple[tuple[int, ...], ...]

    @property
    def source_strand(self) -> tuple[int, ...]:
        return self.strands[0]

    @property
    def relay_strands(self) -> tuple[tuple[int, ...], ...]:
        return self.strands[1:]


@dataclass(frozen=True)
class Origin:
    """An independent origin: the supporting citations whose lineages are merged (they share
    sources), their sources, and the sources it comes down to (`roots`: no other source of
    the group is reached via them), each with the rest of its own chain (`roots_via`)."""

    citations: tuple
    source_ids: frozenset[int]
    roots: tuple[int, ...]
    roots_via: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class PairVerdict:
    """Whether two supporting citations are independent, and the sources their lineages
    share (none when they are)."""

    first: object
    second: object
    shared: tuple[int, ...]

    @property
    def independent(self) -> bool:
        return not self.shared


@dataclass(frozen=True)
class Explanation:
    chains: tuple[CitationChain, ...]
    origins: tuple[Origin, ...]
    pairs: tuple[PairVerdict, ...]
    #: Pairs left out past `max_pairs` (the page says how many).
    pairs_left_out: int


#: Pairs explain() words at most: 10 citations make 45 pairs.
MAX_PAIRS = 45


def citation_chain(citation, via_map: ViaMap) -> CitationChain:
    starts = [citation.source_id, *relay_ids(citation)]
    return CitationChain(citation, tuple(tuple(chain(start, via_map)) for start in starts))


def _passers(citations, via_map: ViaMap) -> set[int]:
    """Sources that pass on what others said: the source of a citation whose relays are not
    (all) on the source's own reached-via chain (Meduza citing DonDay and 161.ru), as
    opposed to a source that reached us through its relay (investigators via 161.ru)."""
    return {c.source_id for c in citations
            if not set(relay_ids(c)) <= set(chain(c.source_id, via_map))}


def _roots(source_ids: frozenset[int], via_map: ViaMap, passers: set[int]) -> list[int]:
    """The group's sources no other source of the group is reached via, and that do not
    pass on others' words: where what the group says comes from (anonymous investigators,
    not 161.ru that relays them, nor the outlet citing 161.ru). Should that leave nothing,
    the first rule alone; a group that is all one cycle keeps every source."""
    relaying = {via_map.get(pk) for pk in source_ids}
    roots = [pk for pk in source_ids if pk not in relaying]
    return [pk for pk in roots if pk not in passers] or roots or list(source_ids)


def explain(citations: Iterable, via_map: ViaMap, *, order=None,
            max_pairs: int = MAX_PAIRS) -> Explanation:
    """Why the supporting ones of `citations` are, or are not, independent: the data a page
    words (and the API gives as ids). `order` sorts source ids for display (by name, say);
    by id otherwise. No query: the citations' relays are read from their prefetched rows."""
    key = order or (lambda pk: pk)
    cited = supporting(citations)
    lineages = {id(c): lineage(c, via_map) for c in cited}
    groups = origins(cited, via_map)
    passers = _passers(cited, via_map)
    found = []
    for group in groups:
        members = tuple(c for c in cited if lineages[id(c)] <= group)
        roots = sorted(_roots(group, via_map, passers), key=key)
        found.append(Origin(members, group, tuple(roots),
                            tuple(tuple(chain(root, via_map)[1:]) for root in roots)))
    pairs = []
    every_pair = list(combinations(cited, 2))
    for first, second in every_pair[:max_pairs]:
        shared = lineages[id(first)] & lineages[id(second)]
        pairs.append(PairVerdict(first, second, tuple(sorted(shared, key=key))))
    return Explanation(tuple(citation_chain(c, via_map) for c in cited), tuple(found),
                       tuple(pairs), max(0, len(every_pair) - max_pairs))
