"""Cases and their members."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from ..access import forget_memberships
from ..enums import Role
from ..identities import check_handler_grant
from ..models import Case, Claim, CommentRequest, Evidence, Incident, Membership, Source, Task
from ..opening import may_open_cases
from .scoping import CaseScopedAdmin, CaseScopedInline

RECORD_FIELDS = ("created_by", "created_at", "updated_at")

#: The records a case's page links to, each to its own list filtered by the case. They are
#: not inlines: a case of the size newsrooms keep (hundreds of claims) posted more fields than
#: DATA_UPLOAD_MAX_NUMBER_FIELDS allows, so its page could not be saved at all.
CASE_RECORDS = (Incident, Claim, Source, Evidence, Task, CommentRequest)


def checking_handler_grants(form_class, actor):
    """The admin's membership form, refusing a source-handler grant `actor` may not make
    (cases/identities.py: never to oneself; only an editor or the lead) beside the field,
    with the code the workspace's form and the API give."""

    class HandlerGrantCheckedForm(form_class):
        def clean(self):
            cleaned = super().clean()
            user = cleaned.get("user") or getattr(self.instance, "user", None)
            case = cleaned.get("case") or getattr(self.instance, "case", None)
            if cleaned.get("can_handle_sources") and user is not None and case is not None:
                # clean() runs before the input reaches the instance: it still holds the
                # stored right, so keeping a right is no new grant.
                granted = Membership(pk=self.instance.pk, case=case, user=user,
                                     can_handle_sources=True)
                try:
                    check_handler_grant(granted, actor=actor, was_handler=bool(
                        self.instance.pk and self.instance.can_handle_sources))
                except ValidationError as refusal:
                    self.add_error(None, refusal)
            return cleaned

    return HandlerGrantCheckedForm


class MembershipInline(CaseScopedInline, admin.TabularInline):
    model = Membership
    fields = ("user", "role", "can_handle_sources", "added_by", "added_at")
    readonly_fields = ("added_by", "added_at")
    autocomplete_fields = ("user",)
    # Managing members is an editor's job (DESIGN.md); others see the list read-only.
    edit_role = delete_role = Role.EDITOR
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = checking_handler_grants(formset.form, request.user)
        return formset


@admin.register(Case)
class CaseAdmin(CaseScopedAdmin):
    case_path = "pk"
    delete_role = Role.EDITOR
    add_needs_membership = False
    list_display = ("title", "status", "sensitivity", "lead", "updated_at")
    list_filter = ("status", "sensitivity")
    search_fields = ("title", "slug", "summary")
    date_hierarchy = "created_at"
    list_select_related = ("lead",)
    autocomplete_fields = ("lead",)
    # The address is made when the case is opened (Case._unique_slug), as on the pages: a
    # chosen one refused as taken would tell a staff member about a case they cannot see.
    readonly_fields = ("slug", "records", *RECORD_FIELDS)
    fieldsets = (
        (None, {"fields": ("title", "slug", "summary", "status", "sensitivity", "lead")}),
        (_("Records"), {"fields": ("records",)}),
        (_("Record"), {"fields": RECORD_FIELDS, "classes": ("collapse",)}),
    )
    inlines = (MembershipInline,)

    @admin.display(description=_("records of this case"))
    def records(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = []
        for model in CASE_RECORDS:
            url = reverse(f"admin:cases_{model._meta.model_name}_changelist")
            count = model.objects.filter(case=obj).count()
            links.append((f"{url}?case__id__exact={obj.pk}", model._meta.verbose_name_plural,
                          count))
        return format_html("<ul>{}</ul>", format_html_join(
            "", '<li><a href="{}">{}</a>: {}</li>', links))

    def has_add_permission(self, request):
        # Opening a case is the newsroom's right (cases/opening.py), not a model permission
        # alone; superusers run the back office and become no case's editor by adding one.
        return super().has_add_permission(request) and (
            request.user.is_superuser or may_open_cases(request.user))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            return form
        opener = request.user

        class OpeningForm(form):
            # Known before validation: a new case's lead is chosen among its opener
            # (Case.lead_candidates), as on the pages and the API.
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.instance.created_by = opener

        return OpeningForm

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            # Whoever opens a case becomes its editor; without a membership they could not
            # even see the case they just created (superusers see every case anyway).
            Membership.objects.get_or_create(
                case=form.instance, user=request.user,
                defaults={"role": Role.EDITOR, "added_by": request.user})
            forget_memberships(request)


@admin.register(Membership)
class MembershipAdmin(CaseScopedAdmin):
    edit_role = delete_role = Role.EDITOR
    list_display = ("user", "case", "role", "can_handle_sources", "added_by", "added_at")
    list_filter = ("role", "can_handle_sources", ("case", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__first_name", "user__last_name", "case__title")
    list_select_related = ("user", "case", "added_by")
    autocomplete_fields = ("case", "user")
    readonly_fields = ("added_by", "added_at")
    fields = ("case", "user", "role", "can_handle_sources", "added_by", "added_at")

    def get_form(self, request, obj=None, change=False, **kwargs):
        return checking_handler_grants(super().get_form(request, obj, change, **kwargs),
                                       request.user)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_memberships(request)  # the user's own roles may just have changed

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        forget_memberships(request)
