"""Links between cases and between incidents in the back office. They are made and removed
on the pages and through the API (cases.links, which checks both sides); here they are read
only, and shown to a staff member only when both sides are in cases they are a member of
(superusers: all), as everywhere else."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404

from ..models import CaseLink, IncidentLink
from .keys import KeyCheckedHistoryAdmin, history_ids_or_404


class LinkAdmin(KeyCheckedHistoryAdmin):
    list_display_links = None
    search_fields = ()
    show_full_result_count = False

    def get_queryset(self, request):
        links = super().get_queryset(request)
        return links if request.user.is_superuser else links.visible_to(request.user)

    def history_view(self, request, object_id, extra_context=None):
        # The history of a link is read by whoever may see the link now (superusers: any),
        # never from an id alone: a removed link's rows name both sides.
        history_ids_or_404(self.model, object_id)
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists() and not (
                request.user.is_superuser):
            raise Http404
        return super().history_view(request, object_id, extra_context)

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
