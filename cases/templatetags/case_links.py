"""The case overview's linked cases (cases/views/links.py): read where the overview shows
them, for the reader, since which links one may see depends on one's other memberships."""

from django import template

from ..views.links import visible_case_links

register = template.Library()


@register.simple_tag(takes_context=True)
def linked_cases(context, case):
    """The case's links the signed-in reader may see (one query)."""
    return visible_case_links(case, context["request"].user)
