"""Attribution chains and the independence of citations.

A statement reaches us through a chain: anonymous military investigators → 161.ru → us.
Each citation's *lineage* is the set of sources it passes through: its source, the source it
came `via`, and every source those are themselves `reached_via`, followed to the end.
Two citations are independent only when their lineages share no source: two reports that
both go back to the same insiders, or one of which relays the other, count once.

`supporting_origins()` is the one place that says what a claim's supporting citations go
back to: the workflow decides corroboration and confirmation on it, the claim page and the
claims board count its origins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def lineage(citation, via_map: ViaMap) -> frozenset[int]:
    return frozenset(_follow(citation.source_id, via_map) | _follow(citation.via_id, via_map))


def are_independent(first, second, via_map: ViaMap) -> bool:
    return lineage(first, via_map).isdisjoint(lineage(second, via_map))


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
        """The independent origins the claim page and the claims board show: the groups.
        Citations linked through a chain count once here even when its two ends are
        independent (then `independent` is true while `count` is 1)."""
        return len(self.groups)

    @property
    def source_ids(self) -> frozenset[int]:
        """Every source the supporting citations pass through."""
        return frozenset().union(*self.groups)


def supporting_origins(citations: Iterable, via_map: ViaMap) -> SupportingOrigins:
    """The origins of `citations`' supporting ones, on the case's attribution chains
    (`via_map`, see via_map_for_case)."""
    return SupportingOrigins(citations, via_map)
