"""The account admins of Django and allauth, with version tokens.

Users, groups, e-mail addresses and second factors are edited in the back office like any
record, and a stale form would undo a newer change just the same: a user an administrator
has just deactivated made active again by a colleague's older page, a group's permissions put
back. These are Django's and allauth's own admins, re-registered with the token of
versions.py (a digest of what is stored: these records keep no history of their own).
"""

from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.admin import AuthenticatorAdmin
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group

from .versions import FingerprintVersionedFormMixin, VersionedAdminMixin

# Renders the token (and each inline row's) inside the form.
CHANGE_FORM_TEMPLATE = "admin/cases/change_form.html"


class VersionedUserChangeForm(FingerprintVersionedFormMixin, UserChangeForm):
    pass


class VersionedModelForm(FingerprintVersionedFormMixin, forms.ModelForm):
    pass


def _reregister(model, admin_class, **attrs):
    admin.site.unregister(model)
    versioned = type(admin_class.__name__, (VersionedAdminMixin, admin_class),
                     {"change_form_template": CHANGE_FORM_TEMPLATE,
                      "__module__": __name__, **attrs})
    admin.site.register(model, versioned)
    return versioned


VersionedUserAdmin = _reregister(get_user_model(), UserAdmin, form=VersionedUserChangeForm)
VersionedGroupAdmin = _reregister(Group, GroupAdmin, form=VersionedModelForm)
VersionedEmailAddressAdmin = _reregister(EmailAddress, EmailAddressAdmin,
                                         form=VersionedModelForm)


class SecondFactorAdmin(AuthenticatorAdmin):
    """A second factor is enrolled by its owner, on their own device: the back office shows
    whose it is and when it was used, and deletes it (a lost phone), but does not edit its
    type or data. Editing them could only break it (allauth reads `data` by `type`: a TOTP
    turned into a security key had no name, and its change page answered 500)."""

    fields = readonly_fields = ("user", "type", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False


VersionedAuthenticatorAdmin = _reregister(Authenticator, SecondFactorAdmin,
                                          form=VersionedModelForm)
