"""The Django admin as the newsroom's back office.

One module per concern, like cases.models. Every admin of case data is scoped to the
requesting user's memberships by the mixins of `scoping`; claim statuses change only
through the workflow actions of `workflow_actions`.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (  # noqa: F401  (registration)
    accounts,
    case,
    claim,
    evidence,
    followup,
    incident,
    links,
    signin_attempts,
    source,
)

admin.site.site_header = _("Casedesk back office")
admin.site.site_title = _("Casedesk back office")
admin.site.index_title = _("Cases and their records")
