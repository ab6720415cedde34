"""Follow-up work: tasks and right-of-reply requests."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import CommentRequest, Task
from .scoping import CaseScopedAdmin

RECORD_FIELDS = ("created_by", "created_at", "updated_at")


@admin.register(Task)
class TaskAdmin(CaseScopedAdmin):
    list_display = ("title", "case", "assignee", "due_on", "state", "is_overdue", "claim",
                    "incident")
    list_filter = ("state", ("case", admin.RelatedOnlyFieldListFilter),
                   ("assignee", admin.RelatedOnlyFieldListFilter))
    search_fields = ("title", "notes")
    date_hierarchy = "due_on"
    list_select_related = ("case", "assignee", "claim", "incident")
    show_full_result_count = False
    autocomplete_fields = ("case", "claim", "incident", "assignee")
    readonly_fields = RECORD_FIELDS
    fieldsets = (
        (None, {"fields": ("case", "title", "notes", "assignee", "due_on", "state")}),
        (_("About"), {"fields": ("claim", "incident")}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )

    @admin.display(description=_("overdue"), boolean=True)
    def is_overdue(self, obj):
        return obj.is_overdue


@admin.register(CommentRequest)
class CommentRequestAdmin(CaseScopedAdmin):
    list_display = ("party", "case", "incident", "channel", "asked_by", "asked_at", "deadline",
                    "outcome")
    list_filter = ("outcome", "channel", ("case", admin.RelatedOnlyFieldListFilter))
    search_fields = ("party_name", "party_source__name", "reply_summary")
    date_hierarchy = "asked_at"
    list_select_related = ("case", "incident", "party_source", "asked_by")
    show_full_result_count = False
    autocomplete_fields = ("case", "incident", "party_source", "asked_by")
    readonly_fields = RECORD_FIELDS
    default_to_user = ("asked_by",)
    fieldsets = (
        (None, {"fields": ("case", "incident")}),
        (_("Who was asked"), {"fields": ("party_source", "party_name"),
                              "description": _("A source of the case, or anyone else by "
                                               "name.")}),
        (_("Request"), {"fields": ("asked_by", "asked_at", "channel", "deadline")}),
        (_("Outcome"), {"fields": ("outcome", "reply_summary")}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )

    @admin.display(description=_("party"))
    def party(self, obj):
        return obj.party

    def get_changeform_initial_data(self, request):
        return {"asked_by": request.user.pk, **super().get_changeform_initial_data(request)}
