"""The back office's page for a case's page-watch setting (capture.models.CaseWatch): how
often its captured pages are re-checked, and whether protected sources' addresses are.

It lives in the admin, scoped like every record of a case (cases/admin/scoping.py): the
case's editors change it, its members read it. The setting is rarely changed and opting in
to re-checking protected addresses is an editor's decision that should stand apart from the
everyday case form. CaseWatch keeps no history, so its form carries the digest token of
cases/admin/versions.py (a stale page is refused, without naming who changed what).
"""

from django import forms
from django.contrib import admin

from cases.admin.need_to_know import WithheldFieldsFormMixin
from cases.admin.scoping import CaseScopedMixin
from cases.admin.versions import FingerprintVersionedFormMixin, VersionedAdminMixin
from cases.enums import Role

from .models import CaseWatch
from .watch import reschedule_case


class CaseWatchForm(FingerprintVersionedFormMixin, WithheldFieldsFormMixin, forms.ModelForm):
    class Meta:
        model = CaseWatch
        fields = ["case", "interval_hours", "watch_protected"]


@admin.register(CaseWatch)
class CaseWatchAdmin(CaseScopedMixin, VersionedAdminMixin, admin.ModelAdmin):
    form = CaseWatchForm
    change_form_template = "admin/cases/change_form.html"  # renders the version token
    edit_role = Role.EDITOR
    delete_role = Role.EDITOR
    list_display = ("case", "interval_hours", "watch_protected", "updated_by", "updated_at")
    list_filter = ("interval_hours", "watch_protected")
    list_select_related = ("case", "updated_by")
    show_full_result_count = False
    fields = ("case", "interval_hours", "watch_protected", "updated_by", "updated_at")
    readonly_fields = ("updated_by", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # A setting belongs to its case for good: another case gets its own.
        if obj is not None:
            return (*self.readonly_fields, "case")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        # The case's pages are next checked at the new interval, counted from their last.
        reschedule_case(obj.case_id)
