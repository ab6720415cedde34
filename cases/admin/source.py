"""Sources and, apart from them, the identities of protected sources.

A protected source's real identity is the most sensitive record in Casedesk: in the admin
it exists only for the source handlers of the source's case, superusers included (an
administrator who is not a handler asks for it on the audited reveal page: reveal.py). It is
never part of the Source changelist, its search or its filters, and its fields are
encrypted, so they cannot be searched at all. A protected source's address is the handlers'
too (need_to_know.py). Every page here that shows an identity (the source page's inline, the
identity's own page, the identity list, its history) logs an IdentityReveal.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from ..access import ANY_CASE, handled_case_ids, handles_sources
from ..enums import Role
from ..models import IdentityReveal, RevealChannel, Source, SourceIdentity
from .keys import history_ids_or_404
from .need_to_know import address_visible_q, handler_address_of_source, may_see_address
from .reveal import may_ask_to_reveal, reveal_view
from .scoping import CaseScopedAdmin, CaseScopedInline, ScopedCountryFilter

RECORD_FIELDS = ("created_by", "created_at", "updated_at")


class _HandlersOnly:
    """Identity records: readable by the case's source handlers, writable by handlers who
    are also reporters or editors, superusers included. Mixed in before the scoping
    mixins."""

    case_path = "source__case"

    def in_cases_where(self, request, queryset, role):
        return queryset.filter(source__case__in=handled_case_ids(request, role))

    def get_queryset(self, request):
        return self.in_cases_where(request, super().get_queryset(request), Role.VIEWER)


class SourceIdentityInline(_HandlersOnly, CaseScopedInline, admin.StackedInline):
    model = SourceIdentity
    fields = ("real_name", "contact", "private_notes")
    max_num = 1
    verbose_name_plural = _("identity (source handlers only)")

    def _may(self, request, parent, role):
        if parent is None:
            return handles_sources(request, ANY_CASE, role)
        return handles_sources(request, parent.case_id, role)


def _record_reveal(request, source_id, channel) -> None:
    """Log that the requesting user is being shown the identity of source `source_id`."""
    source = Source.objects.filter(pk=source_id).first()
    if source is not None:
        IdentityReveal.objects.record(request.user, [source], channel)


@admin.register(Source)
class SourceAdmin(CaseScopedAdmin):
    # No identity field here, on purpose: not in the list, the search or the filters; the
    # address is searched only where the user may see it.
    list_display = ("name", "case", "kind", "reliability", "protected", "reached_via",
                    "country", "language")
    list_filter = ("kind", "reliability", "protected", ("case", admin.RelatedOnlyFieldListFilter),
                   ("country", ScopedCountryFilter))
    search_fields = ("name", "url")
    guarded_search_fields = ("url",)
    list_select_related = ("case", "reached_via")
    autocomplete_fields = ("case", "reached_via")
    readonly_fields = RECORD_FIELDS
    fieldsets = (
        (None, {"fields": ("case", "name", "kind", "protected", "reached_via")}),
        (_("Where from"), {"fields": ("url", "language", "country")}),
        (_("Reliability"), {"fields": ("reliability", "reliability_note")}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )

    def guarded_search_rows(self, request):
        return address_visible_q(request)

    def withheld_fields(self, request, obj):
        return set() if may_see_address(request, obj) else {"url"}

    def locked_fields(self, request, obj):
        # Lifting the protection would show the address: the handlers' decision.
        return set() if may_see_address(request, obj) else {"protected"}

    def shown_values(self, request, obj):
        return handler_address_of_source(request, obj)

    # --- history: a source protected now may have been entered under a person's real name,
    # which its older rows still hold. Non-handlers read only the rows since it was protected
    # (as on the case's own history page, cases/views/record_history.py).

    def _hides_unprotected_past(self, request, source) -> bool:
        return source is not None and source.protected and not handles_sources(
            request, source.case_id)

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        rows = super().get_history_queryset(request, history_manager, pk_name, object_id)
        if self._hides_unprotected_past(request, self.get_object(request, unquote(object_id))):
            rows = rows.filter(protected=True)
        return rows

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        history_ids_or_404(Source, object_id, version_id)
        source = self.get_object(request, unquote(object_id))
        if self._hides_unprotected_past(request, source) and not source.history.filter(
                history_id=version_id, protected=True).exists():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_inlines(self, request, obj):
        # The identity inline exists only on an existing source, for its case's handlers:
        # everyone else's page does not even hint at a form for it.
        if obj is not None and handles_sources(request, obj.case_id):
            return [SourceIdentityInline]
        return []

    def get_urls(self):
        return [path("<path:object_id>/reveal/", self.admin_site.admin_view(self.reveal_view),
                     name="cases_source_reveal"), *super().get_urls()]

    def reveal_view(self, request, object_id):
        return reveal_view(self, request, object_id)

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
        if obj is not None and may_ask_to_reveal(request, obj):
            context["reveal_url"] = reverse("admin:cases_source_reveal", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)


@admin.register(SourceIdentity)
class SourceIdentityAdmin(_HandlersOnly, CaseScopedAdmin):
    deleted_history_for_superusers = False  # handlers only, of a live source's case
    list_display = ("source", "case", "real_name_shown")
    # The identity fields are encrypted: only the codename can be searched.
    search_fields = ("source__name",)
    list_select_related = ("source__case",)
    autocomplete_fields = ("source",)

    @admin.display(description=_("case"), ordering="source__case__title")
    def case(self, obj):
        return obj.source.case

    @admin.display(description=_("real name"))  # not sortable: the column holds ciphertext
    def real_name_shown(self, obj):
        return obj.real_name

    def _may(self, request, obj, role):
        return handles_sources(request, ANY_CASE if obj is None else self.case_id_of(obj), role)

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if db_field.name == "source":
            queryset = queryset.filter(case__in=handled_case_ids(request, self.edit_role))
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
        if response.status_code not in (200, 409):  # a refused revert shows the values too
            return
        source_id = (SourceIdentity.objects.filter(pk=unquote(object_id))
                     .values_list("source_id", flat=True).first())
        if source_id is not None:
            _record_reveal(request, source_id, RevealChannel.ADMIN_HISTORY)
