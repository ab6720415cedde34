"""Sources and, apart from them, the identities of protected sources.

A protected source's real identity is the most sensitive record in Casedesk: in the admin
it exists only for superusers and for the source handlers of the source's case. It is never
part of the Source changelist, its search or its filters.
"""

from django.contrib import admin

from ..enums import Role
from ..models import Source, SourceIdentity
from .scoping import (
    ANY_CASE,
    CaseScopedAdmin,
    CaseScopedInline,
    ScopedCountryFilter,
    handles_sources,
    memberships_of,
)

RECORD_FIELDS = ("created_by", "created_at", "updated_at")


def _handled_case_ids(request, role: Role) -> list[int]:
    return [case_id for case_id, (r, handler) in memberships_of(request).items()
            if handler and r.at_least(role)]


class _HandlersOnly:
    """Identity records: readable by the case's source handlers, writable by handlers who
    are also reporters or editors. Mixed in before the scoping mixins."""

    case_path = "source__case"

    def in_cases_where(self, request, queryset, role):
        if request.user.is_superuser:
            return queryset
        return queryset.filter(source__case__in=_handled_case_ids(request, role))

    def get_queryset(self, request):
        return self.in_cases_where(request, super().get_queryset(request), Role.VIEWER)


class SourceIdentityInline(_HandlersOnly, CaseScopedInline, admin.StackedInline):
    model = SourceIdentity
    fields = ("real_name", "contact", "private_notes")
    max_num = 1
    verbose_name_plural = "identity (source handlers only)"

    def _may(self, request, parent, role):
        if parent is None:
            return handles_sources(request, ANY_CASE, role)
        return handles_sources(request, parent.case_id, role)


@admin.register(Source)
class SourceAdmin(CaseScopedAdmin):
    # No identity field here, on purpose: not in the list, the search or the filters.
    list_display = ("name", "case", "kind", "reliability", "protected", "reached_via",
                    "country", "language")
    list_filter = ("kind", "reliability", "protected", ("case", admin.RelatedOnlyFieldListFilter),
                   ("country", ScopedCountryFilter))
    search_fields = ("name", "url")
    list_select_related = ("case", "reached_via")
    autocomplete_fields = ("case", "reached_via")
    readonly_fields = RECORD_FIELDS
    fieldsets = (
        (None, {"fields": ("case", "name", "kind", "protected", "reached_via")}),
        ("Where from", {"fields": ("url", "language", "country")}),
        ("Reliability", {"fields": ("reliability", "reliability_note")}),
        ("Record", {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )

    def get_inlines(self, request, obj):
        # The identity inline exists only on an existing source, for its case's handlers:
        # everyone else's page does not even hint at a form for it.
        if obj is not None and handles_sources(request, obj.case_id):
            return [SourceIdentityInline]
        return []


@admin.register(SourceIdentity)
class SourceIdentityAdmin(_HandlersOnly, CaseScopedAdmin):
    list_display = ("source", "case", "real_name")
    search_fields = ("source__name", "real_name")
    list_select_related = ("source__case",)
    autocomplete_fields = ("source",)

    @admin.display(description="case", ordering="source__case__title")
    def case(self, obj):
        return obj.source.case

    def _may(self, request, obj, role):
        return handles_sources(request, ANY_CASE if obj is None else self.case_id_of(obj), role)

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if db_field.name == "source" and not request.user.is_superuser:
            queryset = queryset.filter(case__in=_handled_case_ids(request, self.edit_role))
        return queryset
