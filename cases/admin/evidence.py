"""Evidence files and their chain of custody."""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..forms.uploads import EvidenceUploadFormMixin
from ..models import CustodyEntry, Evidence
from .forms import AdminRecordForm
from .scoping import (
    CaseScopedAdmin,
    CaseScopedInline,
    ReadOnlyCaseScopedAdmin,
    ReadOnlyInlineMixin,
)

RECORD_FIELDS = ("created_by", "created_at", "updated_at")
INTEGRITY_FIELDS = ("sha256", "original_sha256", "size", "content_type", "original_name")


class EvidenceAdminForm(EvidenceUploadFormMixin, AdminRecordForm):
    """The admin's upload goes through the same check as the workspace's (cases.uploads)."""

    class Meta:
        model = Evidence
        # The admin lays out its own fieldsets; these are the editable fields it may show.
        fields = ["case", "claim", "incident", "description", "file", "origin_url",
                  "captured_by", "captured_at"]


class CustodyEntryInline(ReadOnlyInlineMixin, CaseScopedInline, admin.TabularInline):
    model = CustodyEntry
    case_path = "evidence__case"
    fields = ("at", "action", "actor", "note")
    verbose_name_plural = _("chain of custody")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Evidence)
class EvidenceAdmin(CaseScopedAdmin):
    list_display = ("__str__", "case", "claim", "incident", "content_type", "file_size",
                    "short_sha256", "captured_by", "captured_at")
    list_filter = (("case", admin.RelatedOnlyFieldListFilter), "content_type",
                   ("captured_by", admin.RelatedOnlyFieldListFilter))
    search_fields = ("original_name", "description", "sha256", "origin_url")
    date_hierarchy = "captured_at"
    list_select_related = ("case", "claim", "incident", "captured_by")
    show_full_result_count = False
    autocomplete_fields = ("case", "claim", "incident", "captured_by")
    default_to_user = ("captured_by",)
    inlines = (CustodyEntryInline,)
    form = EvidenceAdminForm

    def get_fieldsets(self, request, obj=None):
        # A stored file is never replaced: its hash and custody log vouch for that very file.
        # Nor is it linked: evidence is only served by the permission-checked download view.
        file_fields = ("file",) if obj is None else ("stored_file",) + INTEGRITY_FIELDS
        return (
            (None, {"fields": ("case", "claim", "incident", "description")}),
            (_("File"), {"fields": file_fields}),
            (_("Collection"), {"fields": ("origin_url", "captured_by", "captured_at")}),
            (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return RECORD_FIELDS
        return ("stored_file",) + INTEGRITY_FIELDS + RECORD_FIELDS

    def get_changeform_initial_data(self, request):
        return {"captured_by": request.user.pk, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            # The custody log starts when the file enters Casedesk.
            obj.start_custody(request.user, "Uploaded in the admin.")
            if obj.metadata_removed:
                self.message_user(request, gettext("Metadata removed before storing: "
                                                   "%(removed)s.") % {
                    "removed": ", ".join(obj.metadata_removed)}, messages.INFO)

    @admin.display(description=_("stored file"))
    def stored_file(self, obj):
        return f"{obj.original_name or gettext('unnamed file')} ({filesizeformat(obj.size)})"

    @admin.display(description=_("size"), ordering="size")
    def file_size(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description=_("SHA-256"))
    def short_sha256(self, obj):
        return f"{obj.sha256[:12]}…" if obj.sha256 else "–"


@admin.register(CustodyEntry)
class CustodyEntryAdmin(ReadOnlyCaseScopedAdmin):
    case_path = "evidence__case"
    list_display = ("evidence", "action", "actor", "at", "note")
    list_filter = ("action", ("evidence__case", admin.RelatedOnlyFieldListFilter))
    search_fields = ("evidence__original_name", "evidence__sha256", "note", "actor__username")
    date_hierarchy = "at"
    list_select_related = ("evidence", "actor")
    show_full_result_count = False
