"""Links between cases and between incidents in the back office. They are made and removed
on the pages and through the API (cases.links, which checks both sides); here they are read
only, and shown to a staff member only when both sides are in cases they are a member of
(superusers: all), as everywhere else."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ..models import CaseLink, IncidentLink


class LinkAdmin(SimpleHistoryAdmin):
    list_display_links = None
    search_fields = ()
    show_full_result_count = False

    def get_queryset(self, request):
        links = super().get_queryset(request)
        return links if request.user.is_superuser else links.visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaseLink)
class CaseLinkAdmin(LinkAdmin):
    list_display = ("from_case", "to_case", "note", "created_by", "created_at")
    list_select_related = ("from_case", "to_case", "created_by")


@admin.register(IncidentLink)
class IncidentLinkAdmin(LinkAdmin):
    list_display = ("from_incident", "kind", "to_incident", "note", "created_by",
                    "created_at")
    list_select_related = ("from_incident", "to_incident", "created_by")
    list_filter = ("kind",)
