"""The admin site every ModelAdmin of the project is registered on, ours and other apps' alike.

Its one addition: the ids a changelist's action form posts (`_selected_action`) are checked
against the model's primary key before Django filters by them. Django passes them to
`pk__in` as sent, so a non-number (`abc`, `1e`, a NUL) raised a ValueError, a 500, in every
changelist that has actions. Registering through the site puts the check on every admin,
the account, sign-in and token admins of other apps included, without each having to
remember it.
"""

from django.contrib import messages
from django.contrib.admin import ModelAdmin, helpers
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.sites import AdminSite
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class SelectedIdsCheckedMixin:
    """Refuses an action whose selected ids are not ids of this model, as Django refuses an
    action with none: a message and the changelist again, nothing done."""

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                if "\x00" in value:
                    raise ValidationError("NUL", code="null_characters_not_allowed")
                pk.run_validators(pk.to_python(value))
            except ValidationError:
                self.message_user(request, _("The items sent are not items of this list; "
                                             "no action was performed."), messages.WARNING)
                return None
        return super().response_action(request, queryset)


class CasedeskAdminSite(AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or ModelAdmin
        if not issubclass(admin_class, SelectedIdsCheckedMixin):
            admin_class = type(admin_class.__name__, (SelectedIdsCheckedMixin, admin_class),
                               {"__module__": admin_class.__module__})
        super().register(model_or_iterable, admin_class, **options)


class CasedeskAdminConfig(AdminConfig):
    default_site = "config.admin.CasedeskAdminSite"
