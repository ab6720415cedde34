"""Claims, their citations and their verification history."""

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from capture.tasks import citations_saved

from ..history import citation_relay_history
from ..models import Citation, CitationRelay, Claim, VerificationEvent
from ..models.source import MAX_RELAYS, relay_errors, relays_prefetch
from .changelist import LargeTableAdminMixin
from .need_to_know import (
    citation_address_visible_q,
    citation_address_withheld,
    handler_address_of_citation,
)
from .pagination import VisibleCaseListFilter
from .scoping import (
    CaseScopedAdmin,
    CaseScopedInline,
    ReadOnlyCaseScopedAdmin,
    ReadOnlyInlineMixin,
)
from .versions import VersionedInlineFormSet
from .workflow_actions import change_status, propose_verdict

RECORD_FIELDS = ("created_by", "created_at", "updated_at")
# Shown, never edited: cases.workflow writes them (see the actions).
WORKFLOW_READONLY = ("status", "proposed_verdict", "proposed_by")


class CitationInlineFormSet(VersionedInlineFormSet):
    """The inline's citations: those added or changed have their pages captured once the
    page's save commits (capture.tasks.citations_saved)."""

    #: Who saves: set on the class CitationInline.get_formset makes for each request.
    saved_by = None

    def save(self, commit=True):
        saved = super().save(commit)
        citations_saved(saved, self.saved_by)
        return saved


class CitationInline(CaseScopedInline, admin.TabularInline):
    """Citations on their claim's (or incident's) page: Citation has one FK to each."""

    model = Citation
    formset = CitationInlineFormSet
    case_path = "source__case"
    fields = ("source", "relation", "quote", "url", "published_at", "relay_names")
    readonly_fields = ("relay_names",)
    autocomplete_fields = ("source",)
    extra = 0
    show_change_link = True
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2})}}

    def get_queryset(self, request):
        return (super().get_queryset(request).select_related("source")
                .prefetch_related(relays_prefetch()))

    @admin.display(description=_("via"))
    def relay_names(self, obj):
        # Edited on the citation's own page (its relays inline).
        return relay_names(obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)  # a new class per call
        formset.saved_by = request.user
        return formset

    def withheld_fields(self, request, obj):
        return {"url"} if citation_address_withheld(request, obj) else set()

    def shown_values(self, request, obj):
        return handler_address_of_citation(request, obj)


class VerificationEventInline(ReadOnlyInlineMixin, CaseScopedInline, admin.TabularInline):
    """The claim's verification history, read-only: only the workflow writes it."""

    model = VerificationEvent
    case_path = "claim__case"
    fields = ("created_at", "kind", "from_status", "to_status", "proposed_verdict", "actor",
              "note", "override_reason")
    verbose_name_plural = _("verification history")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Claim)
class ClaimAdmin(LargeTableAdminMixin, CaseScopedAdmin):
    list_display = ("__str__", "case", "incident", "status", "proposed_verdict", "credibility",
                    "figure", "updated_at")
    # A million claims: no filter or count may read them all on each page view (the
    # date hierarchy and RelatedOnlyFieldListFilter each did; see pagination.py).
    list_filter = ("status", "proposed_verdict", "credibility",
                   ("case", VisibleCaseListFilter), ("created_at", admin.DateFieldListFilter))
    search_fields = ("statement", "figure_unit")
    list_select_related = ("case", "incident")
    list_per_page = 50
    autocomplete_fields = ("case", "incident")
    readonly_fields = WORKFLOW_READONLY + RECORD_FIELDS
    fieldsets = (
        (None, {"fields": ("case", "incident", "statement", "credibility")}),
        (_("Figure"), {"fields": ("figure_value", "figure_qualifier", "figure_unit"),
                       "description": _("The number the statement gives, so running tallies "
                                        "can be followed.")}),
        (_("Verification"), {"fields": WORKFLOW_READONLY,
                             "description": _("Changed only through the “Change verification "
                                              "status…” and “Propose a verdict…” actions of "
                                              "the claim list, which apply the verification "
                                              "rules.")}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )
    inlines = (CitationInline, VerificationEventInline)
    actions = (change_status, propose_verdict)

    @admin.display(description=_("figure"))
    def figure(self, obj):
        return str(obj.figure) if obj.figure else "–"


def relay_names(citation) -> str:
    """The citation's relays by name (a protected one's is its codename), from the
    prefetched rows."""
    return ", ".join(link.source.name for link in citation.relay_links.all()) or "–"


class CitationRelayFormSet(VersionedInlineFormSet):
    """The relays the citation keeps once the page is saved, checked as a list with the codes
    every writer gives (relay_errors): each named once, at most MAX_RELAYS. A row's own
    checks (same case, not the citation's source) stay beside it (CitationRelay.clean)."""

    def validate_unique(self):
        # A relay named twice is refused by clean() with its code; Django's check of the
        # unique constraint across rows would add a second error without one.
        pass

    def clean(self):
        super().clean()
        kept = [form.cleaned_data["source"] for form in self.forms
                if form.cleaned_data.get("source") is not None
                and not self._should_delete_form(form)]
        # No case and no source given: only the checks of the list as a whole.
        errors = relay_errors(None, None, kept)
        if errors:
            raise ValidationError(errors)


class CitationRelayInline(CaseScopedInline, admin.TabularInline):
    """The sources a citation came through, in order, on the citation's page. Each row is
    saved on its own, with its history (CitationRelay.save seals the citation's address
    when a relay is protected)."""

    model = CitationRelay
    formset = CitationRelayFormSet
    case_path = "source__case"
    fields = ("source", "position")
    autocomplete_fields = ("source",)
    extra = 0
    max_num = MAX_RELAYS
    verbose_name = _("relay")
    verbose_name_plural = _("relays (the sources the statement came through)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")


@admin.register(Citation)
class CitationAdmin(LargeTableAdminMixin, CaseScopedAdmin):
    case_path = "source__case"
    list_display = ("__str__", "claim", "incident", "relay_names", "published_at",
                    "accessed_at")
    # Two million citations: filters that read none of them (as for claims).
    list_filter = ("relation", ("source__case", VisibleCaseListFilter),
                   ("published_at", admin.DateFieldListFilter))
    search_fields = ("quote", "url", "source__name", "claim__statement", "incident__title")
    guarded_search_fields = ("url",)
    list_select_related = ("source", "claim", "incident")
    list_per_page = 50
    autocomplete_fields = ("claim", "incident", "source")
    readonly_fields = RECORD_FIELDS
    inlines = (CitationRelayInline,)
    fieldsets = (
        (None, {"fields": ("claim", "incident", "source", "relation"),
                "description": _("A citation is about a claim or an incident, not both.")}),
        (_("Statement"), {"fields": ("quote", "url", "language", "published_at",
                                     "accessed_at")}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(relays_prefetch())

    def part_history_context(self, request, object_id) -> dict:
        """Beside the citation's own rows, its relays' changes (cases/history.py,
        templates/simple_history/relay_history.html)."""
        return {"relay_history": citation_relay_history(unquote(object_id))}

    @admin.display(description=_("via"))
    def relay_names(self, obj):
        return relay_names(obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        citations_saved([obj], request.user)  # its page captured once the save commits

    def guarded_search_rows(self, request):
        return citation_address_visible_q(request)

    def withheld_fields(self, request, obj):
        return {"url"} if citation_address_withheld(request, obj) else set()

    def shown_values(self, request, obj):
        return handler_address_of_citation(request, obj)


@admin.register(VerificationEvent)
class VerificationEventAdmin(LargeTableAdminMixin, ReadOnlyCaseScopedAdmin):
    case_path = "claim__case"
    list_display = ("claim", "kind", "from_status", "to_status", "proposed_verdict", "actor",
                    "created_at")
    list_filter = ("kind", "to_status", ("claim__case", VisibleCaseListFilter),
                   ("created_at", admin.DateFieldListFilter))
    search_fields = ("claim__statement", "note", "override_reason", "actor__username")
    list_select_related = ("claim", "actor")
    list_per_page = 50
