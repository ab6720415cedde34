"""Template tags of the case pages. A tag where an {% include %} would be called once per row:
an include costs a template context push and a render per call, which the timeline and the
claims board pay dozens of times a page."""

from django import template
from django.utils.html import format_html

from ..enums import Role, VerificationStatus
from ..opening import may_open_cases as _may_open_cases

register = template.Library()


@register.filter
def may_open_cases(user) -> bool:
    """Whether to offer this user "New case" (cases/opening.py)."""
    return _may_open_cases(user)


@register.filter
def role_label(role) -> str:
    """A stored role ("editor", as a query annotates it) as the reader reads it: its label,
    in the reader's language. Empty for no role."""
    return Role(role).label if role else ""


@register.simple_tag
def status_badge(status) -> str:
    """A verification status as a coloured badge (the colours: static/css/casedesk.css). The
    label is the enum's, translated where the enum declares it."""
    status = VerificationStatus(status)
    return format_html('<span class="badge status-badge status-{}">{}</span>',
                       status.value, status.label)
