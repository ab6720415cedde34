"""The incident-type taxonomy and the incidents of a case's timeline."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Incident, IncidentType
from .claim import CitationInline
from .forms import AdminRecordForm
from .keys import KeyCheckedHistoryAdmin
from .scoping import CaseScopedAdmin, ScopedCountryFilter
from .versions import VersionedAdminMixin


def _count_in_words(incident, name):
    """The count with its qualifier ("fewer than 10"), or None (the list's dash) if unknown."""
    figure = incident.count_figure(name)
    return None if figure is None else str(figure)


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
                    "country", "involved_display", "detained_display", "killed_display",
                    "at_large_display")
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

    # Each count with its qualifier ("fewer than 10"), as the pages word it: the bare number
    # would state a range as a fact. Read from the row itself, no query per incident.
    @admin.display(description=Incident._meta.get_field("involved").verbose_name,
                   ordering="involved")
    def involved_display(self, obj):
        return _count_in_words(obj, "involved")

    @admin.display(description=Incident._meta.get_field("detained").verbose_name,
                   ordering="detained")
    def detained_display(self, obj):
        return _count_in_words(obj, "detained")

    @admin.display(description=Incident._meta.get_field("killed").verbose_name,
                   ordering="killed")
    def killed_display(self, obj):
        return _count_in_words(obj, "killed")

    @admin.display(description=Incident._meta.get_field("at_large").verbose_name,
                   ordering="at_large")
    def at_large_display(self, obj):
        return _count_in_words(obj, "at_large")
