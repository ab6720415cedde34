"""The claim page's word on its figure: consistent reports and disagreements
(cases/tallies.py: figure_check), rendered by includes/figure_contradictions.html."""

from django import template

from ..tallies import figure_check as check

register = template.Library()


@register.inclusion_tag("cases/includes/figure_contradictions.html", takes_context=True)
def figure_check(context, claim):
    case = context["case"]
    return {"case": case, **check(case, claim)}
