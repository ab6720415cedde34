"""The Figures tab: each tracked figure of a case, its current value and why, the series of
its reports, the reports that disagree, and a chart of the reports over time.

The domain is cases/tallies.py (what a report is, the current value, the flags, the bounds).
The page is the accessible text: every report is in its table, dated or not. The charts
(static/js/figure_chart.js, Chart.js) draw the same reports from `figure_data`, each report a
point at its value with a bar over the range its qualifier admits (an arrow to the chart's
edge when the range is open-ended); a click on a point opens its claim. Their words come from
the page (data attributes, translated there); the script holds none.

Both read only the claims with a figure, bounded per figure and in figures (tallies.py), in
a fixed number of queries however large the case, and keep what they computed in the cache
while the case is unchanged (cases/fragments.py): the sections of the page, the charts' data.
"""

from __future__ import annotations

import datetime as dt

from django.http import JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

from .. import tallies
from ..enums import VerificationStatus
from ..figures import describe_span
from ..fragments import cached_case_part, case_fragment
from ..tallies import figure_report, grade_label, reported_on
from .case_page import case_view


@case_view(tab="figures")
def figure_list(request, case_page):
    access = case_page.access
    sections_html = case_fragment(request, access, "figures",
                                  lambda: _figure_sections(request, access))
    return case_page.render("cases/figure_list.html", {
        "sections_html": sections_html,
        "chart_labels": chart_labels(),
    })


def _figure_sections(request, access) -> SafeString:
    return render_to_string("cases/includes/figure_sections.html", {
        "request": request, "access": access, "case": access.case,
        "figures": figure_report(access.case),
        "claim_prefix": claim_link_prefix(access.case),
        "max_reports": tallies.MAX_REPORTS_PER_FIGURE,
        "max_figures": tallies.MAX_FIGURES,
    })


def claim_link_prefix(case) -> str:
    """The address of the case's claims up to the claim's id: reversed once per answer, not
    once per report (a figure's table and chart link every report to its claim)."""
    return reverse("cases:claim_detail", args=[case.slug, 0]).removesuffix("0/")


def chart_labels() -> dict[str, str]:
    """The charts' words, in the page's language (the script has none of its own)."""
    return {
        "axisDate": gettext("Report date"),
        "axisValue": gettext("Value reported"),
        "reports": gettext("Reports"),
        "current": gettext("Current value"),
        "flagged": gettext("Disagrees with an independent report"),
        "loadFailed": gettext("The chart could not be loaded: the table below lists every "
                              "report."),
        "noDated": gettext("No report of this figure has a date: nothing to draw over time."),
    }


def _number(value) -> float | None:
    return None if value is None else float(value)


def _wall_clock_ms(moment) -> int | None:
    """The report time as the page's time zone reads it, in milliseconds as if it were UTC:
    the chart's axis puts its days at the same midnights as the table's dates."""
    if moment is None:
        return None
    wall = timezone.localtime(moment).replace(tzinfo=dt.UTC)
    return int(wall.timestamp() * 1000)


def _point(report, tracked, claim_prefix: str) -> dict:
    """One report for the chart (`tracked`: its figure, for the current value)."""
    span = report.span
    return {
        "claim": report.claim.pk,
        "url": f"{claim_prefix}{report.claim.pk}/",
        "t": _wall_clock_ms(report.reported_at),
        "date": reported_on(report),
        "value": _number(report.figure.value),
        "low": _number(span.low),
        "high": _number(span.high),
        "lowOpen": span.low_open,
        "highOpen": span.high_open,
        "label": str(report.figure),
        "range": describe_span(span),
        "source": (f"{report.source.name} ({grade_label(report)})" if report.source
                   else ""),
        "status": report.claim.status,
        "statusLabel": str(VerificationStatus(report.claim.status).label),
        "current": report is tracked.current,
        "contradiction": report.contradicted,
        "changed": report.changed,
        "warning": report.warned,
    }


@case_view(tab="figures")
def figure_data(request, case_page):
    """The charts' data: per figure its dated reports (`points`) and undated ones apart."""
    access = case_page.access
    return JsonResponse(cached_case_part(request, access, "figure-data",
                                         lambda: _figure_data(access.case), kind=dict))


def _figure_data(case) -> dict:
    report = figure_report(case)
    claim_prefix = claim_link_prefix(case)
    figures = []
    for tracked in report:
        figures.append({
            "id": tracked.dom_id,
            "unit": tracked.unit,
            "current": tracked.current.claim.pk if tracked.current else None,
            "points": [_point(r, tracked, claim_prefix) for r in tracked.dated],
            "undated": [_point(r, tracked, claim_prefix) for r in tracked.undated],
            "leftOut": tracked.left_out,
            "leftOutText": ngettext(
                "%(count)s report recorded earlier is not drawn (the %(max)s most recently "
                "recorded are).",
                "%(count)s reports recorded earlier are not drawn (the %(max)s most recently "
                "recorded are).",
                tracked.left_out) % {
                "count": number_format(tracked.left_out, force_grouping=True),
                "max": number_format(tallies.MAX_REPORTS_PER_FIGURE)}
            if tracked.left_out else "",
        })
    return {"figures": figures, "moreFigures": report.more_figures}
