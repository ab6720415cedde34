"""The incident-type taxonomy and the incidents of a case's timeline."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Incident, IncidentType
from .claim import CitationInline
from .forms import AdminRecordForm
from .keys import KeyCheckedHistoryAdmin
from .scoping import CaseScopedAdmin, ScopedCountryFilter
from .versions import VersionedAdminMixin


def _count_column(name: str):
    """A list column: the count `name` with its qualifier ("fewer than 10"), as the pages word
    it (the bare number would state a range as a fact), or None (the list's dash) if unknown.
    Read from the row itself, no query per incident; sorted by the count."""

    def column(incident):
        figure = incident.count_figure(name)
        return None if figure is None else str(figure)

    column.__name__ = f"{name}_display"  # the column's CSS class: field-<name>_display
    return admin.display(description=Incident._meta.get_field(name).verbose_name,
                         ordering=name)(column)


RECORD_FIELDS = ("created_by", "created_at", "updated_at")
DERIVED_DATES = ("when_display", "occurred_earliest", "occurred_latest")


@admin.register(IncidentType)
class IncidentTypeAdmin(VersionedAdminMixin, KeyCheckedHistoryAdmin):
    """Newsroom-wide, not case data: Django's model permissions are the whole rule."""

    form = AdminRecordForm
    object_history_form_template = "admin/cases/object_history_form.html"

    list_display = ("name", "slug", "description")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Incident)
class IncidentAdmin(CaseScopedAdmin):
    list_display = ("title", "case", "type", "when_display", "place_name", "admin_region",
                    "country", *(_count_column(name)
                                 for name in ("involved", "detained", "killed", "at_large")))
    list_filter = (("case", admin.RelatedOnlyFieldListFilter),
                   ("type", admin.RelatedOnlyFieldListFilter), "geo_precision",
                   "in_case_counts",
                   ("country", ScopedCountryFilter))
    search_fields = ("title", "description", "place_name", "admin_region", "occurred",
                     "count_group")
    date_hierarchy = "occurred_earliest"
    list_select_related = ("case", "type")
    show_full_result_count = False
    autocomplete_fields = ("case", "type")
    readonly_fields = DERIVED_DATES + RECORD_FIELDS
    fieldsets = (
        (None, {"fields": ("case", "type", "title", "description")}),
        (_("When"), {"fields": ("occurred",) + DERIVED_DATES,
                     "description": _("The earliest and latest possible days follow from the "
                                      "EDTF date when it is saved; a date without a year has "
                                      "none.")}),
        (_("Where"), {"fields": ("place_name", "admin_region", "country", "latitude",
                                 "longitude", "geo_precision")}),
        (_("People"), {"fields": (("involved", "involved_qualifier"),
                                  ("detained", "detained_qualifier"),
                                  ("killed", "killed_qualifier"),
                                  ("injured", "injured_qualifier"),
                                  ("missing", "missing_qualifier"),
                                  ("at_large", "at_large_qualifier"),
                                  "count_group", "in_case_counts"),
                       "description": _("Leave a count empty when it is unknown: 0 means "
                                        "none. A qualifier reads a count as a range (“more "
                                        "than 100”).")}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )
    inlines = (CitationInline,)

    @admin.display(description=_("in plain words"), ordering="occurred_earliest")
    def when_display(self, obj):
        return obj.when_display
