"""Sign-in hooks named in config/settings.py: django-axes throttling, django-allauth adapters.

- `axes_username` is `AXES_USERNAME_CALLABLE`: the name a failed sign-in is counted under.
  django-axes stores it in a 255-character column; a longer name, which anyone can post,
  would make PostgreSQL refuse the row and the sign-in answer 500. It is cut to the column's
  length, so an over-long name is counted (under its first 255 characters) instead of
  crashing the page or escaping the count.
- `client_ip` is `AXES_CLIENT_IP_CALLABLE` (and allauth's, through `AccountAdapter`): the
  address a sign-in is counted under. Behind a reverse proxy every connection comes from the
  proxy, so the client is read from `X-Forwarded-For`, but only when the connection comes
  from a proxy we trust (FORWARDED_ALLOW_IPS, the list gunicorn trusts too): anyone else
  could write any address there and so escape the count. The proxy nearest us appends the
  address it was connected from, so with TRUSTED_PROXY_COUNT proxies the client is the
  header's entry that many places from the end; entries further left are the client's own
  words. django-ipware, which axes would use, reads the header whoever sent it.
- `lockout_response` is `AXES_LOCKOUT_CALLABLE`: our own page (AXES_LOCKOUT_TEMPLATE, with the
  site's layout and its strict CSP) with status AXES_HTTP_RESPONSE_CODE, saying for how long
  sign-in is paused and who can lift it.
- `AccountAdapter` is `ACCOUNT_ADAPTER`: accounts are created by admins, never by sign-up.
- `MFAAdapter` is `MFA_ADAPTER`: the TOTP secret and the recovery-code seed are encrypted with
  CASEDESK_ENCRYPTION_KEYS, like source identities (cases/crypto.py). A leaked database
  must not hand over anyone's second factor; a wrong key makes the two-factor step fail loudly.
"""

import ipaddress
from functools import lru_cache

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from axes.helpers import get_cool_off
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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


def trusted_proxy_networks(entries) -> tuple | None:
    """FORWARDED_ALLOW_IPS as networks, or None for `*` (every peer is a proxy, as for
    gunicorn: only where nothing but the proxy can reach us). Raises ImproperlyConfigured on
    an entry that is neither an address nor a network."""
    if "*" in entries:
        return None
    try:
        return tuple(ipaddress.ip_network(entry.strip()) for entry in entries if entry.strip())
    except ValueError as error:
        raise ImproperlyConfigured(
            f"FORWARDED_ALLOW_IPS: {error}. List the reverse proxy's addresses or networks, "
            "comma-separated (e.g. 127.0.0.1,::1 or 10.0.0.0/24).") from None


@lru_cache(maxsize=8)
def _proxy_networks(entries: tuple[str, ...]):
    return trusted_proxy_networks(entries)


def _from_trusted_proxy(peer: str) -> bool:
    networks = _proxy_networks(tuple(settings.CASEDESK_TRUSTED_PROXIES))
    if networks is None or not peer:
        return True  # `*`, or a UNIX socket (no address), which gunicorn trusts too
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or, when that is a trusted proxy, the address the
    outermost of TRUSTED_PROXY_COUNT proxies was connected from. A header that is missing,
    too short or not an address there leaves the proxy's own address (counted, never a way
    out of the count)."""
    peer = request.META.get("REMOTE_ADDR")
    count = settings.CASEDESK_TRUSTED_PROXY_COUNT
    if count < 1 or not _from_trusted_proxy(peer or ""):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(hops) < count:
        return peer
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        return peer


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

    def get_client_ip(self, request):
        # allauth's per-address limits count the same address as django-axes.
        return client_ip(request) or super().get_client_ip(request)

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
