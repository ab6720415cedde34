"""Key figures of a case: the latest value of each tracked figure, and whether the people
counts of its incidents add up (10 deserted = 6 caught + 4 at large)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch

from .enums import CitationRelation
from .figures import Figure
from .models import Citation, Claim, Incident
from .models.incident import OUTCOME_COUNT_FIELDS, CountBalance


@dataclass(frozen=True)
class TrackedFigure:
    unit: str
    figure: Figure
    claim: Claim
    reported_at: datetime | None
    source_name: str
    earlier: tuple[Figure, ...]


def tracked_figures(case) -> list[TrackedFigure]:
    """For each thing counted (figure_unit), its latest reported value and what came before.

    A claim's report date is the publication time of its first supporting citation; claims
    without one fall back to when they were recorded. Two queries whatever the case size."""
    supporting = Citation.objects.filter(
        relation__in=CitationRelation.supporting()).select_related("source").order_by(
        "published_at", "pk")
    claims = (Claim.objects.of_case(case).with_figures()
              .prefetch_related(Prefetch("citations", queryset=supporting)))
    by_unit: dict[str, list[tuple]] = {}
    for claim in claims:
        first = claim.citations.all()[0] if claim.citations.all() else None
        reported = first.published_at if first and first.published_at else claim.created_at
        source = first.source.name if first else ""
        by_unit.setdefault(claim.figure_unit.strip().lower(), []).append((reported, claim, source))
    result = []
    for _unit, reports in sorted(by_unit.items()):
        reports.sort(key=lambda r: (r[0], r[1].pk))
        reported, claim, source = reports[-1]
        result.append(TrackedFigure(claim.figure_unit, claim.figure, claim, reported, source,
                                    tuple(r[1].figure for r in reports[:-1])))
    return result


@dataclass(frozen=True)
class CaseCounts:
    """People counts over all incidents: `involved` is the largest group any incident names
    (the ten who deserted); the outcomes are added up across incidents, since each incident
    records what happened to some of them (4 caught, later 2 more, 4 still at large)."""

    totals: dict[str, int]
    balance: CountBalance


def case_counts(case) -> CaseCounts | None:
    fields = ("involved", *OUTCOME_COUNT_FIELDS, "injured")
    rows = list(Incident.objects.of_case(case).values_list(*fields))
    if not rows:
        return None
    involved_values = [r[0] for r in rows if r[0] is not None]
    involved = max(involved_values) if involved_values else None
    totals = {name: sum(r[i] or 0 for r in rows) for i, name in enumerate(fields) if i}
    accounted = sum(totals[f] for f in OUTCOME_COUNT_FIELDS)
    return CaseCounts({"involved": involved or 0, **totals}, CountBalance(involved, accounted))
