"""API tokens in the back office: an admin creates a person's token and revokes it by
deleting it. Scoped like the rest of the admin (cases/admin/scoping.py): superusers, who run
the accounts, see every token; other staff see and revoke only their own, and only with the
token model permissions. The key is shown once, when the token is created; the list shows
its first characters only, so an open admin page does not hand out working keys."""

from django.contrib import admin, messages
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class ScopedTokenAdmin(TokenAdmin):
    list_display = ("user", "key_start", "created")

    @admin.display(description="key")
    def key_start(self, token):
        return f"{token.key[:6]}…"

    def get_queryset(self, request):
        tokens = super().get_queryset(request).select_related("user")
        if request.user.is_superuser:
            return tokens
        return tokens.filter(user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.remote_field.model._default_manager.filter(
                pk=request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return False  # a token is created or revoked, never edited

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        messages.warning(request, f"API token for {obj.user.get_username()}: {obj.key} — "
                                  "copy it now and hand it over safely; it is not shown again.")
