"""Key figures of a case: each tracked figure's reports, its current value and why, the
reports that cannot both be true, and the people counts reconciled per incident group.

**A tracked figure** is what the claims' figures count, named the same way each time
(`figure_unit`, compared without case or surrounding spaces): "deserters", "caught". Each
claim with a figure is one *report* of it: the figure as a range (`Figure.span`: "at least
10" is 10 or more), its *report date* (the publication time of its first supporting citation,
the one that source and grade are read from; *undated* when no supporting citation has one,
never the day the claim was recorded), the source and its reliability grade (A–F), the
claim's credibility (1–6) and verification status.

**The current value** is one report, chosen in this order: the strongest verification
(confirmed, then corroborated, then in review, then unverified or unverifiable, disputed
last; a claim found false never counts), then a well-graded report over a poorly graded one
(below), then dated over undated, then the latest report day, then the better source grade
and credibility. The page says why in words ("Confirmed; reported 9 May 2025 by 161.ru
(B)").

**Reports that disagree.** Two reports of one figure are flagged when

1. their ranges cannot both be true (`Figure.consistent_with`: "at least 10" and "10" can,
   "10" and "12" cannot),
2. neither is a claim found false (that disagreement is settled), and
3. they come from independent origins: every supporting citation of one is independent of
   every supporting citation of the other (`attribution.are_independent` on the case's
   attribution chains). A report without a supporting citation has no known origin and is
   never independent of anything; two reports of one origin that differ are that origin
   updating itself, which is not flagged.

Counts grow and shrink over time (more people caught, fewer at large), so a flag is labelled
by the report dates: reports of the **same day**, or with either undated, are a
*contradiction* (both cannot be true); reports of **different days** are a *change between
reports*: the figure may have moved in between, and an editor decides whether the later one
updates or contradicts the earlier. Both kinds are shown; neither is dropped.

A report is **poorly graded** when its source is graded E or F or its credibility is 5 or 6.
A poorly graded report flagged against a well-graded one (source A–D and credibility 1–4)
carries a warning: "12 fled" from an unreliable outlet is not just another value.

**Bounds.** Only claims with a figure are read (a partial index serves them), at most
`MAX_REPORTS_PER_FIGURE` per figure, the most recently recorded, for at most `MAX_FIGURES`
figures in alphabetical order; the current value and the flags are chosen among the reports
read, and the page says how many were left out. Five
queries in all (the ranking, the claims, their supporting citations with sources, their
relays, the attribution chains).

**People counts** (`case_counts`): an editor groups the incidents of one event under a count
group name (Kadamovsky desertion) or leaves an incident out of the case's counts (a separate
event, for context). Each group is reconciled on its own line, by the rule of follow-ups:
the people involved are the largest number any incident of the group gives (a follow-up
restates the same ten), the outcomes are added up (each incident records what became of some
of them), qualifiers as ranges. An incident in no group is its own line: incidents are never
added up unless an editor said they belong together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from itertools import combinations

from django.db.models import Count, F, Prefetch, Q, Subquery, Window
from django.db.models.functions import DenseRank, Lower, RowNumber, Trim
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext, pgettext

from . import attribution
from .enums import CitationRelation, Credibility, Reliability, VerificationStatus
from .figures import Figure, Span, describe_span
from .models import Citation, Claim, Incident
from .models.incident import (
    COUNT_FIELDS,
    CountBalance,
    count_balance,
    count_span,
    qualifier_field,
)

MAX_REPORTS_PER_FIGURE = 50
MAX_FIGURES = 30
#: People-count lines of incidents in no group shown on the overview.
MAX_UNGROUPED_LINES = 10

# Verification strength, strongest first (the enum's order, with the verdicts that weaken a
# report after the open statuses); a claim found false is never current.
STATUS_STRENGTH = {
    VerificationStatus.CONFIRMED: 4,
    VerificationStatus.CORROBORATED: 3,
    VerificationStatus.IN_REVIEW: 2,
    VerificationStatus.UNVERIFIED: 1,
    VerificationStatus.UNVERIFIABLE: 1,
    VerificationStatus.DISPUTED: 0,
}
POOR_RELIABILITY = frozenset({Reliability.E, Reliability.F})
POOR_CREDIBILITY = frozenset({Credibility.IMPROBABLE, Credibility.CANNOT_BE_JUDGED})
RELIABILITY_ORDER = {grade: rank for rank, grade in enumerate(Reliability.values)}
CREDIBILITY_ORDER = {grade: rank for rank, grade in enumerate(Credibility.values)}


def figure_key(unit: str) -> str:
    return unit.strip().lower()


@dataclass(eq=False)
class Report:
    """One claim's figure as reported. Its span, day and grade are read once: the flags
    compare every pair of a figure's reports."""

    claim: Claim
    figure: Figure
    reported_at: datetime | None
    citation: Citation | None  # the first supporting citation: source and grade
    supporting: list[Citation]
    # Set once the figure's flags are known (figure_report).
    contradicted: bool = False
    changed: bool = False
    warned: bool = False

    @cached_property
    def span(self) -> Span:
        return self.figure.span()

    @property
    def source(self):
        return self.citation.source if self.citation else None

    @cached_property
    def refuted(self) -> bool:
        return self.claim.status == VerificationStatus.FALSE

    @property
    def reliability(self) -> str:
        return self.source.reliability if self.source else ""

    @cached_property
    def poorly_graded(self) -> bool:
        return (self.reliability in POOR_RELIABILITY or not self.source
                or self.claim.credibility in POOR_CREDIBILITY)

    @property
    def grade(self) -> str:
        return grade_label(self)

    @property
    def grade_meaning(self) -> str:
        """The grade in words: the source's reliability (when there is a source) and the
        claim's credibility, from their enums (get_FOO_display translates every choice to
        look one up)."""
        credibility = Credibility(self.claim.credibility).label
        if not self.source:
            return str(credibility)
        return f"{Reliability(self.reliability).label} · {credibility}"

    @property
    def range_display(self) -> str:
        return describe_span(self.span)

    @cached_property
    def reported_day(self):
        return timezone.localdate(self.reported_at) if self.reported_at else None

    def rank(self) -> tuple:
        """Larger is a better candidate for the current value (see the module docstring)."""
        return (STATUS_STRENGTH.get(self.claim.status, -1), not self.poorly_graded,
                self.reported_at is not None, self.reported_day or datetime.min.date(),
                -RELIABILITY_ORDER.get(self.reliability, len(RELIABILITY_ORDER)),
                -CREDIBILITY_ORDER.get(self.claim.credibility, len(CREDIBILITY_ORDER)),
                self.reported_at or timezone.now().replace(year=1), self.claim.pk)


CONTRADICTION = "contradiction"
CHANGED = "changed"


@dataclass(frozen=True, eq=False)
class Flag:
    """Two reports from independent origins that cannot both be true (as of one date)."""

    earlier: Report
    later: Report
    kind: str  # CONTRADICTION or CHANGED
    #: The poorly graded one of the two, when the other is well graded.
    poorly_graded: Report | None

    @property
    def reports(self) -> tuple[Report, Report]:
        return self.earlier, self.later

    @property
    def is_contradiction(self) -> bool:
        return self.kind == CONTRADICTION

    def other(self, report: Report) -> Report:
        return self.later if report is self.earlier else self.earlier

    def involves(self, claim_id) -> bool:
        return claim_id in (self.earlier.claim.pk, self.later.claim.pk)


@dataclass(eq=False)
class TrackedFigure:
    unit: str
    reports: list[Report]  # oldest report first, undated ones last
    current: Report | None
    flags: list[Flag]
    total: int  # the reports of this figure in the case, read or not
    reason: str = ""
    index: int = 0

    @property
    def key(self) -> str:
        return figure_key(self.unit)

    @property
    def dom_id(self) -> str:
        return f"figure-{self.index}"

    @property
    def dated(self) -> list[Report]:
        return [r for r in self.reports if r.reported_at is not None]

    @property
    def undated(self) -> list[Report]:
        return [r for r in self.reports if r.reported_at is None]

    @property
    def left_out(self) -> int:
        return self.total - len(self.reports)

    @property
    def contradictions(self) -> list[Flag]:
        return [f for f in self.flags if f.is_contradiction]

    @property
    def changes(self) -> list[Flag]:
        return [f for f in self.flags if not f.is_contradiction]

    @property
    def warned(self) -> list[Report]:
        """Poorly graded reports flagged against well-graded ones."""
        return [r for r in self.reports if r.warned]

    def flags_of(self, report: Report) -> list[Flag]:
        return [f for f in self.flags if report is f.earlier or report is f.later]


@dataclass(eq=False)
class FigureReport:
    figures: list[TrackedFigure] = field(default_factory=list)
    more_figures: bool = False

    def __iter__(self):
        return iter(self.figures)

    def __len__(self):
        return len(self.figures)

    def __bool__(self):
        return bool(self.figures)


def _supporting_citations(case):
    # The sources are those of the case (a citation's source is always its claim's case's):
    # saying so lets PostgreSQL join the case's few sources rather than hash every source.
    return (Citation.objects.filter(relation__in=CitationRelation.supporting(),
                                    source__case=case)
            # The relays attribution.lineage reads, in one query for all the citations.
            .select_related("source").prefetch_related("relay_links")
            # What a report shows and its lineage follows: no quote, address or dates kept.
            .only("pk", "claim_id", "source_id", "relation", "published_at",
                  "source__case_id", "source__name", "source__reliability",
                  "source__protected", "source__reached_via_id")
            .order_by(F("published_at").asc(nulls_last=True), "pk"))


def _ranked(case, claim_ids: Sequence[int] | None = None) -> list[tuple]:
    """(claim id, figure key, figure's rank among the figures, its number of reports) of the
    claims kept: at most MAX_REPORTS_PER_FIGURE per figure, the most recently recorded, for
    at most MAX_FIGURES figures (+1, to tell that there are more). Narrow rows, ranked by
    window functions over the claims with a figure (the partial index claim_case_figures):
    no per-claim subquery, which priced the plan of a large case past PostgreSQL's JIT
    threshold (compiling it cost more than running it), and no claim text carried through
    the sorts."""
    claims = (Claim.objects.of_case(case).with_figures()
              .annotate(unit_key=Lower(Trim("figure_unit")))
              .annotate(
                  report_rank=Window(RowNumber(), partition_by=[F("unit_key")],
                                     order_by=[F("pk").desc()]),
                  figure_rank=Window(DenseRank(), order_by=[F("unit_key").asc()]),
                  figure_total=Window(Count("pk"), partition_by=[F("unit_key")]))
              .filter(report_rank__lte=MAX_REPORTS_PER_FIGURE, figure_rank__lte=MAX_FIGURES + 1))
    if claim_ids is not None:
        claims = claims.filter(unit_key__in=Subquery(
            Claim.objects.filter(pk__in=claim_ids, figure_value__isnull=False)
            .annotate(k=Lower(Trim("figure_unit"))).values("k")))
    return list(claims.values_list("pk", "unit_key", "figure_rank", "figure_total"))


def _figure_claims(case, pks):
    """The claims kept, with their supporting citations (sources, relays) in publication
    order, undated last."""
    return (Claim.objects.filter(pk__in=pks).only(
        "pk", "case_id", "statement", "figure_value", "figure_unit", "figure_qualifier",
        "credibility", "status")
        .prefetch_related(Prefetch("citations", queryset=_supporting_citations(case),
                                   to_attr="supporting_citations")))


def _flags(reports: list[Report], via_map) -> list[Flag]:
    # Each report's lineage once (a report without a supporting citation has none and is
    # never independent), instead of walking both chains again for every pair of reports.
    lineages = {id(report): attribution.combined_lineage(report.supporting, via_map)
                for report in reports}
    flags = []
    for first, second in combinations(reports, 2):
        if first.refuted or second.refuted or first.figure.consistent_with(second.figure):
            continue
        first_lineage, second_lineage = lineages[id(first)], lineages[id(second)]
        if not first_lineage or not second_lineage or not first_lineage.isdisjoint(
                second_lineage):
            continue
        earlier, later = sorted((first, second), key=_chronological)
        same_day = earlier.reported_day is None or later.reported_day is None or (
            earlier.reported_day == later.reported_day)
        poor = [r for r in (earlier, later) if r.poorly_graded]
        flags.append(Flag(earlier, later, CONTRADICTION if same_day else CHANGED,
                          poor[0] if len(poor) == 1 else None))
    return flags


def _chronological(report: Report) -> tuple:
    return (report.reported_at is None, report.reported_at or timezone.now(), report.claim.pk)


def grade_label(report: Report) -> str:
    """The report's Admiralty grade as newsrooms write it: the source's letter and the
    claim's credibility digit (B2)."""
    return f"{report.reliability}{report.claim.credibility}" if report.source else (
        report.claim.credibility)


def reported_on(report: Report) -> str:
    if report.reported_at is None:
        return ""
    return formats.date_format(timezone.localtime(report.reported_at), gettext("j F Y"))


def why_current(tracked: TrackedFigure) -> str:
    """Why the current value is the one shown, in words of the active language."""
    current = tracked.current
    if current is None:
        return gettext("Every report of this figure was found false: none is current.")
    status = current.claim.get_status_display()
    if current.source is None:
        first = (gettext("%(status)s; reported %(date)s, no supporting citation")
                 % {"status": status, "date": reported_on(current)} if current.reported_at
                 else gettext("%(status)s; undated, no supporting citation")
                 % {"status": status})
    elif current.reported_at:
        first = gettext("%(status)s; reported %(date)s by %(source)s (%(grade)s)") % {
            "status": status, "date": reported_on(current), "source": current.source.name,
            "grade": current.reliability}
    else:
        first = gettext("%(status)s; undated, from %(source)s (%(grade)s)") % {
            "status": status, "source": current.source.name, "grade": current.reliability}
    others = len([r for r in tracked.reports if r is not current])
    if not others:
        return pgettext("current figure", "%(report)s. The only report.") % {"report": first}
    return ngettext(
        "%(report)s. Chosen over %(count)s other report: the strongest verification first, "
        "then a well-graded source, then the latest report date.",
        "%(report)s. Chosen over %(count)s other reports: the strongest verification first, "
        "then a well-graded source, then the latest report date.", others) % {
        "report": first, "count": formats.number_format(others, force_grouping=True)}


def figure_report(case, *, claim_ids: Sequence[int] | None = None) -> FigureReport:
    """Every tracked figure of `case` (or only those `claim_ids` report), bounded as the
    module docstring says. Five queries: the ranking, the claims, their supporting citations,
    their relays, the attribution chains (one when the case has no figure)."""
    ranked = {pk: (key, rank, total) for pk, key, rank, total in _ranked(case, claim_ids)}
    if not ranked:
        return FigureReport()
    claims = list(_figure_claims(case, list(ranked)))
    via_map = attribution.via_map_for_case(case.pk)
    by_key: dict[str, list[Report]] = {}
    ranks: dict[str, int] = {}
    totals: dict[str, int] = {}
    for claim in claims:
        key, rank, total = ranked[claim.pk]
        ranks[key], totals[key] = rank, total
        # Ordered by publication, undated last: the first dated one gives the report date.
        supporting = claim.supporting_citations
        citation = supporting[0] if supporting else None
        reported_at = citation.published_at if citation else None
        by_key.setdefault(key, []).append(
            Report(claim, claim.figure, reported_at, citation, supporting))
    result = FigureReport()
    for index, key in enumerate(sorted(by_key, key=lambda k: ranks[k]), start=1):
        if ranks[key] > MAX_FIGURES:
            result.more_figures = True
            continue
        reports = sorted(by_key[key], key=_chronological)
        candidates = [r for r in reports if not r.refuted]
        current = max(candidates, key=Report.rank) if candidates else None
        unit = (current or reports[-1]).claim.figure_unit.strip()
        flags = _flags(reports, via_map)
        for flag in flags:
            for report in (flag.earlier, flag.later):
                report.contradicted |= flag.is_contradiction
                report.changed |= not flag.is_contradiction
            if flag.poorly_graded is not None:
                flag.poorly_graded.warned = True
        tracked = TrackedFigure(unit, reports, current, flags, totals[key], index=index)
        tracked.reason = why_current(tracked)
        result.figures.append(tracked)
    return result


def tracked_figures(case) -> FigureReport:
    """The key figures of the case overview (the same as the figures page's)."""
    return figure_report(case)


#: Reports named as consistent with a claim's on its page.
MAX_CONSISTENT_SHOWN = 10


def figure_check(case, claim) -> dict:
    """What the claim page says about the claim's figure: the other reports it can be true
    with ("at least 10" and "10") and the flags that concern it. Five queries (none for a
    claim without a figure)."""
    if claim.figure_value is None:
        return {}
    # Only the claim's figure is read (SQLite lowers ASCII letters only: the figure is found
    # by the claim in it, not by comparing names here).
    found = [(tracked, report) for tracked in figure_report(case, claim_ids=[claim.pk])
             for report in tracked.reports if report.claim.pk == claim.pk]
    if not found:  # beyond the bounds of what is read
        return {}
    tracked, this = found[0]
    consistent = [r for r in tracked.reports if r is not this and not r.refuted
                  and r.figure.consistent_with(this.figure)]
    return {"tracked": tracked, "report": this,
            "flags": [f for f in tracked.flags if this in f.reports],
            "consistent": consistent[-MAX_CONSISTENT_SHOWN:]}


# --- people counts ------------------------------------------------------------------------


@dataclass(frozen=True)
class CountLine:
    """One line of the case's people counts: a group of incidents or one incident."""

    label: str
    group: str  # the count group's name, "" for one incident
    incidents: int
    totals: dict[str, str]  # each count known, in words with its qualifier
    balance: CountBalance

    @property
    def involved_known(self) -> bool:
        return self.balance.involved is not None


@dataclass(frozen=True)
class CaseCounts:
    lines: list[CountLine]
    ungrouped_left_out: int  # incidents in no group beyond MAX_UNGROUPED_LINES
    excluded: int  # incidents an editor left out of the case's counts


def _count_words(rows: list[dict], name: str) -> str:
    """A count added up over `rows` in words: a qualifier every incident shares stays ("at
    least 6"); mixed ones read as the range they add up to ("between 6 and 8")."""
    qualifiers = {row[qualifier_field(name)] for row in rows}
    total = sum(row[name] for row in rows)
    if len(qualifiers) == 1:
        return str(Figure(total, qualifiers.pop()))
    span = Span(Decimal(0), Decimal(0))
    for row in rows:
        span = span + count_span(row[name], row[qualifier_field(name)])
    return describe_span(span)


def _count_line(label: str, group: str, rows: list[dict]) -> CountLine:
    """The line of a group of incidents, by the rule of follow-ups: the people involved are
    the largest number given (with its qualifier), the outcomes and the injured are added up,
    each as a range."""
    totals: dict[str, str] = {}
    involved = [r for r in rows if r["involved"] is not None]
    biggest = max(involved, key=lambda r: (count_span(r["involved"], r["involved_qualifier"])
                                           .low, r["involved"])) if involved else None
    if biggest is not None:
        totals["involved"] = str(Figure(biggest["involved"], biggest["involved_qualifier"]))
    for name in COUNT_FIELDS[1:]:
        given = [r for r in rows if r[name] is not None]
        if given:
            totals[name] = _count_words(given, name)
    # Each incident's outcomes as the incident's own balance adds them up, then the group's.
    accounted = 0
    accounted_span = Span(Decimal(0), Decimal(0))
    for row in rows:
        own = count_balance(row)
        accounted += own.accounted
        accounted_span = accounted_span + own.accounted_span
    balance = CountBalance(
        biggest["involved"] if biggest else None, accounted,
        count_span(biggest["involved"], biggest["involved_qualifier"]) if biggest else None,
        accounted_span)
    return CountLine(label, group, len(rows), totals, balance)


def case_counts(case) -> CaseCounts | None:
    """The case's people counts: a line per count group, then a line per incident in no
    group (at most MAX_UNGROUPED_LINES, the earliest first), leaving out the incidents an
    editor excluded. One query: the counts of the incidents that have any."""
    fields = [name for f in COUNT_FIELDS for name in (f, qualifier_field(f))]
    any_count = Q()
    for name in COUNT_FIELDS:
        any_count |= Q(**{f"{name}__isnull": False})
    rows = list(Incident.objects.of_case(case).filter(any_count)
                .order_by(F("occurred_earliest").asc(nulls_last=True), "pk")
                .values("pk", "title", "count_group", "in_case_counts", *fields))
    if not rows:
        return None
    excluded = sum(1 for row in rows if not row["in_case_counts"])
    groups: dict[str, list[dict]] = {}
    ungrouped: list[dict] = []
    for row in rows:
        if not row["in_case_counts"]:
            continue
        group = row["count_group"].strip()
        (groups.setdefault(group.casefold(), []) if group else ungrouped).append(row)
    lines = [_count_line(members[0]["count_group"].strip(), members[0]["count_group"].strip(),
                         members)
             for members in sorted(groups.values(),
                                   key=lambda m: m[0]["count_group"].strip().casefold())]
    lines += [_count_line(row["title"], "", [row]) for row in ungrouped[:MAX_UNGROUPED_LINES]]
    return CaseCounts(lines, max(0, len(ungrouped) - MAX_UNGROUPED_LINES), excluded)
