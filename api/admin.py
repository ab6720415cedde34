"""API tokens in the back office, the one place they are made (api/tokens.py says by whom): an
admin makes a person's token and revokes it by deleting it. Scoped like the rest of the admin
(cases/admin/scoping.py): superusers, who run the accounts, see every token; other staff see,
make and revoke only their own, and only with the token model permissions. The key is shown
once, when the token is made; the list shows its first characters, who made it and when it
expires, so an open admin page hands out no working key."""

from django import forms
from django.contrib import admin, messages
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import tokens
from .models import ApiToken


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ("user", "key_start", "created_by", "created_at", "expires_at", "expired")
    list_select_related = ("user", "created_by")
    readonly_fields = ("key_start", "created_by", "created_at", "expires_at")
    search_fields = ("user__username",)

    @admin.display(description=gettext_lazy("key"))
    def key_start(self, token):
        return f"{token.prefix}…"

    @admin.display(boolean=True, description=gettext_lazy("expired"))
    def expired(self, token):
        return token.expired

    def get_queryset(self, request):
        found = super().get_queryset(request)
        if request.user.is_superuser:
            return found
        return found.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(
                pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class MadeInThisSession(form):
            def clean(self):
                cleaned = super().clean()
                tokens.check_may_issue(request)  # the refusal shows above the form
                return cleaned

        return MadeInThisSession

    def has_change_permission(self, request, obj=None):
        return False  # a token is made or revoked, never edited

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        key = obj.assign_key()
        obj.save()
        expires = formats.date_format(timezone.localtime(obj.expires_at), "DATETIME_FORMAT")
        messages.warning(request, _(
            "API token for %(user)s: %(key)s — copy it now and hand it over safely; it is not "
            "shown again. It expires on %(expires)s.") % {
            "user": obj.user.get_username(), "key": key, "expires": expires})
