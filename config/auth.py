"""Sign-in hooks named in config/settings.py: django-axes throttling, django-allauth adapters.

- `axes_username` is `AXES_USERNAME_CALLABLE`: the name a failed sign-in is counted under.
  django-axes stores it in a 255-character column; a longer name, which anyone can post,
  would make PostgreSQL refuse the row and the sign-in answer 500. It is cut to the column's
  length, so an over-long name is counted (under its first 255 characters) instead of
  crashing the page or escaping the count.
- `lockout_response` is `AXES_LOCKOUT_CALLABLE`: our own page (AXES_LOCKOUT_TEMPLATE, with the
  site's layout and its strict CSP) with status AXES_HTTP_RESPONSE_CODE, saying for how long
  sign-in is paused and who can lift it.
- `AccountAdapter` is `ACCOUNT_ADAPTER`: accounts are created by admins, never by sign-up.
- `MFAAdapter` is `MFA_ADAPTER`: the TOTP secret and the recovery-code seed are encrypted with
  CASEDESK_ENCRYPTION_KEYS, like source identities (cases/crypto.py). A leaked database
  must not hand over anyone's second factor; a wrong key makes the two-factor step fail loudly.
"""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from axes.helpers import get_cool_off
from django.conf import settings
from django.shortcuts import render

from cases import crypto

# The length of axes' AccessAttempt.username (and AccessLog / AccessFailureLog.username).
AXES_USERNAME_MAX_LENGTH = 255


def axes_username(request, credentials=None):
    """The username of a sign-in attempt as django-axes records it: from the credentials
    given to authenticate(), else from the posted form (axes' own order), cut to 255
    characters. None when there is none."""
    if credentials:
        # allauth's sign-in form posts `login` and authenticates with `username`.
        username = credentials.get("username", credentials.get(settings.AXES_USERNAME_FORM_FIELD))
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        username = data.get(settings.AXES_USERNAME_FORM_FIELD, data.get("username"))
    if username is None:
        return None
    return str(username)[:AXES_USERNAME_MAX_LENGTH]


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets instead of the sign-in form."""
    cool_off = get_cool_off(request)
    minutes = None
    if cool_off is not None:
        minutes = max(1, -(-int(cool_off.total_seconds()) // 60))  # rounded up
    context = {"cooloff_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context,
                  status=settings.AXES_HTTP_RESPONSE_CODE)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return False

    def pre_authenticate(self, request, **credentials):
        # Password attempts are throttled by django-axes alone (per username *and* address,
        # with our lockout page and a documented way back in). allauth's own limit counts per
        # username only, so anyone anywhere could lock a colleague out by failing five times.
        # allauth still limits wrong second-factor codes (ACCOUNT_RATE_LIMITS, settings.py).
        return None


# Where allauth keeps a secret in an Authenticator's `data`: type -> keys holding a token
# (a string) or a list of tokens. `manage.py rotate_encryption_keys` re-encrypts these.
AUTHENTICATOR_SECRET_KEYS = {
    "totp": ("secret",),
    "recovery_codes": ("seed", "migrated_codes"),
}


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text, label="a two-factor secret")

    def can_delete_authenticator(self, authenticator) -> bool:
        # Editors and admins keep at least one second factor (cases/two_factor.py).
        from cases.two_factor import can_remove_authenticator

        return can_remove_authenticator(authenticator)
