"""Sources and, apart from them, the identities of protected sources.

A protected source's real identity is the most sensitive record in Casedesk: in the admin
it exists only for superusers and for the source handlers of the source's case. It is never
part of the Source changelist, its search or its filters, and its fields are encrypted, so
they cannot be searched at all. Every page here that shows an identity (the source page's
inline, the identity's own page, the identity list, its history) logs an IdentityReveal.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from ..enums import Role
from ..models import Case, IdentityReveal, RevealChannel, Source, SourceIdentity
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


def _record_reveal(request, source_id, channel) -> None:
    """Log that the requesting user is being shown the identity of source `source_id`. A
    superuser may read the history of an identity whose source is gone: the entry then goes
    to the case the source last belonged to, under the codename it last had."""
    source = Source.objects.filter(pk=source_id).first()
    if source is not None:
        IdentityReveal.objects.record(request.user, [source], channel)
        return
    last = Source.history.filter(id=source_id).order_by("-history_date", "-history_id").first()
    if last is not None and Case.objects.filter(pk=last.case_id).exists():
        IdentityReveal.objects.create(case_id=last.case_id, source=None, source_name=last.name,
                                      user=request.user, channel=channel)


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

    @method_decorator(sensitive_post_parameters())  # the identity inline's fields
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        # The page shows a saved identity in its inline (on a refused save too).
        for inline_formset in context.get("inline_admin_formsets", ()):
            if (isinstance(inline_formset.opts, SourceIdentityInline)
                    and inline_formset.formset.initial_form_count()):
                IdentityReveal.objects.record(request.user, [obj], RevealChannel.ADMIN_SOURCE)
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(SourceIdentity)
class SourceIdentityAdmin(_HandlersOnly, CaseScopedAdmin):
    list_display = ("source", "case", "real_name_shown")
    # The identity fields are encrypted: only the codename can be searched.
    search_fields = ("source__name",)
    list_select_related = ("source__case",)
    autocomplete_fields = ("source",)

    @admin.display(description="case", ordering="source__case__title")
    def case(self, obj):
        return obj.source.case

    @admin.display(description="real name")  # not sortable: the column holds ciphertext
    def real_name_shown(self, obj):
        return obj.real_name

    def _may(self, request, obj, role):
        return handles_sources(request, ANY_CASE if obj is None else self.case_id_of(obj), role)

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if db_field.name == "source" and not request.user.is_superuser:
            queryset = queryset.filter(case__in=_handled_case_ids(request, self.edit_role))
        return queryset

    # An error report (the admins' error email) lists a request's POST data: not here.
    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- every page that shows identities logs the reveal

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        if obj is not None and obj.pk is not None:
            _record_reveal(request, obj.source_id, RevealChannel.ADMIN_IDENTITY)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            IdentityReveal.objects.record(
                request.user, [identity.source for identity in changelist.result_list],
                RevealChannel.ADMIN_LIST)
        return response

    def history_view(self, request, object_id, extra_context=None):
        # The history lists each change with its old and new values.
        response = super().history_view(request, object_id, extra_context)
        self._history_reveal(request, response, object_id)
        return response

    @method_decorator(sensitive_post_parameters())  # a revert posts the identity
    def history_form_view(self, request, object_id, version_id, extra_context=None):
        response = super().history_form_view(request, object_id, version_id, extra_context)
        self._history_reveal(request, response, object_id)
        return response

    def _history_reveal(self, request, response, object_id):
        if response.status_code != 200:
            return
        object_id = unquote(object_id)
        source_id = (SourceIdentity.objects.filter(pk=object_id)
                     .values_list("source_id", flat=True).first())
        if source_id is None:  # a deleted identity (superusers only)
            source_id = (SourceIdentity.history.filter(id=object_id)
                         .order_by("-history_date", "-history_id")
                         .values_list("source_id", flat=True).first())
        if source_id is not None:
            _record_reveal(request, source_id, RevealChannel.ADMIN_HISTORY)
