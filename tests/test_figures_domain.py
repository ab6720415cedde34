"""Figures that reconcile (cases/tallies.py, cases/figures.py): qualifiers as ranges, the
series of a tracked figure, its current value and why, reports that disagree only across
independent origins, and people counts per incident group with qualifiers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from cases import tallies, workflow
from cases.enums import CitationRelation, Credibility, FigureQualifier, Reliability
from cases.enums import VerificationStatus as S
from cases.figures import Figure, Span, describe_span
from cases.models.incident import count_balance

from .factories import CitationFactory, ClaimFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _day(day, hour=12):
    return dt.datetime(2025, 5, day, hour, tzinfo=UTC)


def _report(case, value, *, unit="fled", qualifier=FigureQualifier.EXACTLY, source=None,
            published=None, credibility=Credibility.PROBABLY_TRUE, created_by=None, **claim):
    """A claim with a figure and, when `source` is given, one supporting citation."""
    made = ClaimFactory(case=case, figure_value=Decimal(value), figure_unit=unit,
                        figure_qualifier=qualifier, credibility=credibility,
                        statement=f"{value} {unit} ({source or 'no source'}).",
                        created_by=created_by, **claim)
    if source is not None:
        CitationFactory(claim=made, source=source, published_at=published)
    return made


def _figure(case, unit="fled"):
    return next(t for t in tallies.figure_report(case) if t.key == unit)


@pytest.fixture
def outlets(case):
    """Three outlets of independent origin, graded B, C and E."""
    return {
        "161": SourceFactory(case=case, name="161.ru", reliability=Reliability.B),
        "don": SourceFactory(case=case, name="Don24", reliability=Reliability.C),
        "chan": SourceFactory(case=case, name="Rumour channel", reliability=Reliability.E),
    }


# --- qualifiers as ranges ------------------------------------------------------------------


@pytest.mark.parametrize("first, second, consistent", [
    (Figure(10, "at_least"), Figure(10), True),
    (Figure(10, "at_most"), Figure(10), True),
    (Figure(10, "more_than"), Figure(10), False),
    (Figure(10, "more_than"), Figure(11), True),
    (Figure(10, "fewer_than"), Figure(10), False),
    (Figure(10, "fewer_than"), Figure(9), True),
    (Figure(10), Figure(12), False),
    (Figure(300, "nearly"), Figure(300), False),
    (Figure(300, "about"), Figure(320), True),
    (Figure(10, "more_than"), Figure(10, "at_most"), False),
    (Figure(10, "at_least"), Figure(10, "at_most"), True),
])
def test_figure_consistency_reads_qualifiers_as_ranges(first, second, consistent):
    assert first.consistent_with(second) is consistent
    assert second.consistent_with(first) is consistent


def test_figure_more_than_and_fewer_than_exclude_their_number():
    assert not Figure(100, "more_than").admits(100) and Figure(100, "more_than").admits(101)
    assert not Figure(100, "fewer_than").admits(100) and Figure(100, "fewer_than").admits(99)
    assert Figure(100, "more_than").bounds() == (Decimal(100), None)


def test_figure_new_qualifiers_in_words():
    # Their Russian ("более 100", "менее 5") comes with the catalogue's merge.
    assert str(Figure(100, "more_than", "people")) == "more than 100 people"
    assert str(Figure(5, "fewer_than")) == "fewer than 5"


def test_span_in_words():
    assert describe_span(Span(Decimal(4), Decimal(4))) == "4"
    assert describe_span(Span(Decimal(0), Decimal(4))) == "at most 4"
    assert describe_span(Span(Decimal(6), None, low_open=True)) == "more than 6"
    assert describe_span(Span(Decimal(2), Decimal(5))) == "between 2 and 5"


# --- the series --------------------------------------------------------------------------


def test_series_report_date_is_first_supporting_publication_not_creation(case, outlets):
    dated = _report(case, 10, source=outlets["161"], published=_day(9))
    CitationFactory(claim=dated, source=outlets["don"], published_at=_day(8))
    CitationFactory(claim=dated, source=outlets["chan"], published_at=_day(7),
                    relation=CitationRelation.DENIES)
    undated = _report(case, 10, source=outlets["chan"], published=None)
    no_citation = _report(case, 10)

    tracked = _figure(case)

    by_claim = {r.claim.pk: r for r in tracked.reports}
    assert by_claim[dated.pk].reported_at == _day(8)  # Don24's, the denial supports nothing
    assert by_claim[dated.pk].source.name == "Don24"
    assert by_claim[undated.pk].reported_at is None
    assert by_claim[no_citation.pk].reported_at is None and by_claim[no_citation.pk].source is None
    assert [r.claim.pk for r in tracked.dated] == [dated.pk]
    assert {r.claim.pk for r in tracked.undated} == {undated.pk, no_citation.pk}


def test_series_groups_units_without_case_or_spaces(case, outlets):
    _report(case, 4, unit="Caught ", source=outlets["161"], published=_day(9))
    _report(case, 6, unit="caught", source=outlets["don"], published=_day(10))

    report = tallies.figure_report(case)

    assert [(t.key, len(t.reports)) for t in report] == [("caught", 2)]


def test_series_bounded_per_figure_keeps_the_most_recently_recorded(case, outlets, monkeypatch):
    monkeypatch.setattr(tallies, "MAX_REPORTS_PER_FIGURE", 2)
    claims = [_report(case, 4 + day, unit="caught", source=outlets["161"], published=_day(day))
              for day in (9, 10, 11)]

    tracked = _figure(case, "caught")

    assert [r.claim.pk for r in tracked.reports] == [c.pk for c in claims[1:]]
    assert (tracked.total, tracked.left_out) == (3, 1)


# --- the current value -------------------------------------------------------------------


def test_current_prefers_latest_dated_report_and_says_why(case, outlets):
    _report(case, 4, unit="caught", source=outlets["161"], published=_day(9))
    later = _report(case, 6, unit="caught", source=outlets["don"], published=_day(10))
    _report(case, 3, unit="caught")  # undated: recorded today, never "reported today"

    tracked = _figure(case, "caught")

    assert tracked.current.claim == later
    assert tracked.reason.startswith("Unverified; reported 10 May 2025 by Don24 (C).")
    assert "Chosen over 2 other reports" in tracked.reason


def test_current_prefers_verified_over_later_unverified(case, outlets, reporter, editor):
    confirmed = _report(case, 10, source=outlets["161"], published=_day(9), created_by=reporter)
    CitationFactory(claim=confirmed, source=outlets["don"], published_at=_day(9))
    workflow.transition(confirmed, S.CONFIRMED, actor=editor, note="Two outlets agree.")
    _report(case, 10, qualifier=FigureQualifier.AT_LEAST, source=outlets["don"],
            published=_day(11))

    tracked = _figure(case)

    assert tracked.current.claim == confirmed
    assert tracked.reason.startswith("Confirmed; reported 9 May 2025 by 161.ru (B).")


def test_current_never_a_refuted_claim(case, outlets, reporter, editor):
    refuted = _report(case, 12, source=outlets["161"], published=_day(11), created_by=reporter)
    workflow.transition(refuted, S.FALSE, actor=editor, note="The outlet retracted it.")
    kept = _report(case, 10, source=outlets["don"], published=_day(9))

    tracked = _figure(case)

    assert tracked.current.claim == kept
    assert refuted.pk in [r.claim.pk for r in tracked.reports]  # still in the series


def test_current_none_when_every_report_is_refuted(case, outlets, reporter, editor):
    refuted = _report(case, 12, source=outlets["161"], published=_day(11), created_by=reporter)
    workflow.transition(refuted, S.FALSE, actor=editor, note="The outlet retracted it.")

    tracked = _figure(case)

    assert tracked.current is None
    assert tracked.reason == "Every report of this figure was found false: none is current."


def test_current_prefers_well_graded_over_later_poorly_graded(case, outlets):
    good = _report(case, 10, source=outlets["161"], published=_day(9))
    _report(case, 12, source=outlets["chan"], published=_day(10))

    assert _figure(case).current.claim == good


# --- reports that disagree ---------------------------------------------------------------


def test_flag_same_day_independent_reports_as_contradiction(case, outlets):
    ten = _report(case, 10, source=outlets["161"], published=_day(9, 8))
    twelve = _report(case, 12, source=outlets["don"], published=_day(9, 20))

    tracked = _figure(case)

    assert [(f.earlier.claim, f.later.claim, f.kind) for f in tracked.flags] == [
        (ten, twelve, tallies.CONTRADICTION)]
    assert tracked.flags[0].poorly_graded is None


def test_flag_days_apart_is_a_change_between_reports(case, outlets):
    _report(case, 4, unit="caught", source=outlets["161"], published=_day(9))
    _report(case, 6, unit="caught", source=outlets["don"], published=_day(10))

    tracked = _figure(case, "caught")

    assert [f.kind for f in tracked.flags] == [tallies.CHANGED]
    assert tracked.contradictions == [] and len(tracked.changes) == 1


def test_flag_undated_disagreement_is_a_contradiction(case, outlets):
    _report(case, 10, source=outlets["161"], published=_day(9))
    _report(case, 12, source=outlets["don"], published=None)

    assert [f.kind for f in _figure(case).flags] == [tallies.CONTRADICTION]


def test_no_flag_for_consistent_qualified_reports(case, outlets):
    _report(case, 10, source=outlets["161"], published=_day(9))
    _report(case, 10, qualifier=FigureQualifier.AT_LEAST, source=outlets["don"],
            published=_day(9))

    assert _figure(case).flags == []


def test_no_flag_for_disagreement_within_one_origin(case, outlets):
    relay = SourceFactory(case=case, name="Relay of 161", reached_via=outlets["161"])
    _report(case, 10, source=outlets["161"], published=_day(9))
    _report(case, 12, source=relay, published=_day(9))

    assert _figure(case).flags == []


def test_no_flag_for_report_without_supporting_citation(case, outlets):
    _report(case, 10, source=outlets["161"], published=_day(9))
    _report(case, 12)

    assert _figure(case).flags == []


def test_no_flag_against_refuted_claim(case, outlets, reporter, editor):
    _report(case, 10, source=outlets["161"], published=_day(9))
    refuted = _report(case, 12, source=outlets["don"], published=_day(9), created_by=reporter)
    workflow.transition(refuted, S.FALSE, actor=editor, note="Don24 retracted it.")

    assert _figure(case).flags == []


def test_poorly_graded_report_against_better_one_is_warned(case, outlets):
    _report(case, 10, source=outlets["161"], published=_day(9))
    twelve = _report(case, 12, source=outlets["chan"], published=_day(9))

    tracked = _figure(case)

    assert tracked.flags[0].poorly_graded.claim == twelve
    assert [r.claim for r in tracked.warned] == [twelve]


def test_low_credibility_counts_as_poorly_graded(case, outlets):
    _report(case, 10, source=outlets["161"], published=_day(9))
    doubtful = _report(case, 12, source=outlets["don"], published=_day(9),
                       credibility=Credibility.IMPROBABLE)

    assert [r.claim for r in _figure(case).warned] == [doubtful]


def test_figure_check_of_a_claim_names_consistent_reports_and_its_flags(case, outlets):
    ten = _report(case, 10, source=outlets["161"], published=_day(9))
    at_least = _report(case, 10, qualifier=FigureQualifier.AT_LEAST, source=outlets["don"],
                       published=_day(9))
    twelve = _report(case, 12, source=outlets["chan"], published=_day(9))

    check = tallies.figure_check(case, ten)

    assert [r.claim for r in check["consistent"]] == [at_least]
    assert [(f.earlier.claim, f.later.claim) for f in check["flags"]] == [(ten, twelve)]
    assert tallies.figure_check(case, ClaimFactory(case=case)) == {}


# --- people counts -----------------------------------------------------------------------


def test_incident_balance_compares_ranges_with_qualifiers(case):
    more = IncidentFactory.build(case=case, involved=100, involved_qualifier="more_than",
                                 detained=60, at_large=40)
    more.full_clean(exclude=["created_by"])  # 100 accounted for, more than 100 involved: fine
    balance = more.count_balance()
    assert (balance.exact, balance.may_reconcile, balance.reconciles) == (False, False, False)
    assert balance.unaccounted is None and balance.unaccounted_display == "at least 1"


def test_incident_balance_refuses_outcomes_above_every_possible_involved(case):
    incident = IncidentFactory.build(case=case, involved=10, involved_qualifier="fewer_than",
                                     detained=6, at_large=4)
    with pytest.raises(ValidationError) as excinfo:
        incident.full_clean(exclude=["created_by"])
    error = excinfo.value.error_dict["involved"][0]
    assert error.code == "counts_exceed_involved"
    assert error.messages[0] == ("Detained, killed, missing and at large add up to 10, more "
                                 "than the people involved (fewer than 10).")


def test_incident_balance_allows_at_least_outcomes_that_may_fit(case):
    incident = IncidentFactory.build(case=case, involved=10, detained=6,
                                     detained_qualifier="at_least", at_large=40,
                                     at_large_qualifier="at_most")
    incident.full_clean(exclude=["created_by"])
    assert incident.count_balance().may_reconcile


def test_incident_counts_in_words_carry_qualifiers(case):
    incident = IncidentFactory(case=case, involved=300, involved_qualifier="about",
                               detained=100, detained_qualifier="more_than")
    assert incident.counts_in_words == {"involved": "about 300", "detained": "more than 100"}


def test_count_balance_exact_keeps_old_numbers():
    balance = count_balance({"involved": 10, "detained": 6, "at_large": 4})
    assert (balance.involved, balance.accounted, balance.unaccounted, balance.reconciles) == (
        10, 10, 0, True)


def test_case_counts_one_line_per_group_never_summing_unrelated(case):
    IncidentFactory(case=case, title="Ten fled", involved=10, count_group="Kadamovsky desertion")
    IncidentFactory(case=case, title="Six caught", involved=10, detained=6,
                    count_group="Kadamovsky desertion")
    IncidentFactory(case=case, title="Four wanted", at_large=4,
                    count_group=" kadamovsky desertion ")
    IncidentFactory(case=case, title="Krasnodar desertion", involved=1, detained=11,
                    detained_qualifier="at_most", count_group="")
    IncidentFactory(case=case, title="Background: 2023 desertion", involved=7, detained=7,
                    in_case_counts=False)

    counts = tallies.case_counts(case)

    assert [(line.label, line.incidents) for line in counts.lines] == [
        ("Kadamovsky desertion", 3), ("Krasnodar desertion", 1)]
    group = counts.lines[0]
    assert group.totals == {"involved": "10", "detained": "6", "at_large": "4"}
    assert group.balance.reconciles
    krasnodar = counts.lines[1]
    assert krasnodar.totals == {"involved": "1", "detained": "at most 11"}
    assert krasnodar.balance.may_reconcile
    assert counts.excluded == 1


def test_case_counts_group_with_mixed_qualifiers_reads_a_range(case):
    IncidentFactory(case=case, involved=10, involved_qualifier="at_least", detained=4,
                    count_group="Rostov")
    IncidentFactory(case=case, detained=20, detained_qualifier="about", count_group="Rostov")

    line = tallies.case_counts(case).lines[0]

    assert line.totals["involved"] == "at least 10"
    assert line.totals["detained"] == "between 22 and 26"  # 4, and 18 to 22 people
    assert line.balance.may_reconcile and not line.balance.exceeds


def test_case_counts_none_without_counts(case):
    IncidentFactory(case=case)
    assert tallies.case_counts(case) is None


# --- spans: whether two reports can both be true -------------------------------------------

_ends = st.one_of(st.none(), st.integers(-3, 3).map(Decimal))
_spans = st.builds(Span, _ends, _ends, st.booleans(), st.booleans())


def _shared_value(first: Span, second: Span) -> bool:
    """Whether a value both spans admit exists, by trying every value that could be one:
    every end, the points between them, and beyond them."""
    ends = sorted({end for span in (first, second) for end in (span.low, span.high)
                   if end is not None})
    candidates = set(ends) | {Decimal(-10), Decimal(10)}
    candidates |= {(a + b) / 2 for a, b in zip(ends, ends[1:], strict=False)}
    return any(first.admits(value) and second.admits(value) for value in candidates)


@given(_spans, _spans)
def test_span_overlaps_exactly_when_some_value_is_in_both(first, second):
    assert first.overlaps(second) == second.overlaps(first) == _shared_value(first, second)


def test_span_overlaps_at_one_shared_end_only_when_both_include_it():
    assert Span(Decimal(1), Decimal(2)).overlaps(Span(Decimal(2), None))
    assert not Span(Decimal(1), Decimal(2), high_open=True).overlaps(Span(Decimal(2), None))
    assert not Span(None, Decimal(2)).overlaps(Span(Decimal(2), None, low_open=True))
