"""Two-factor authentication: who must use it, and the gate that holds them to it.

Sign-in itself is django-allauth's: a user with an authenticator (an authenticator app, a
security key; recovery codes as the fallback) is asked for it between the password and the
session, and allauth records that step in the session ("authentication records"). This module
adds what allauth leaves to the project:

- `requires_second_factor(user)`: editors (in any case) and admins (staff, superusers) must
  use a second factor. They decide verdicts and see every record of their cases; a phished
  password alone must not be enough.
- `RequireSecondFactorMiddleware`: such a user whose session has not passed a second factor
  reaches nothing but the account pages (sign-out, two-factor setup). Without an
  authenticator they are sent to set one up; with one (a session from before they enrolled
  elsewhere) they are asked for it. API requests get a 403 instead of a redirect.
- Enrolling counts as passing: adding an authenticator means proving a code from it, so the
  session that enrolls is let through (`_record_enrolment`).
- `CASEDESK_REQUIRE_2FA=false` switches the gate off for the local demo only; every page
  then says so (`two_factor_context`, templates/includes/two_factor_off_banner.html) and
  `manage.py check --deploy` warns.
"""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.core import checks
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext

from .enums import Role

# URL names a user who still owes a second factor may reach: signing out, and allauth's
# account and two-factor pages (setting one up, using one, recovery codes).
_ALLOWED_URL_NAME_PREFIXES = ("account_", "mfa_")
_ALLOWED_URL_NAMES = frozenset({"healthz"})


def two_factor_enforced() -> bool:
    return settings.CASEDESK_REQUIRE_2FA


def requires_second_factor(user) -> bool:
    """Whether `user` must pass a second factor to use Casedesk (one query for members)."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    from .models import Membership

    return Membership.objects.filter(user=user, role=Role.EDITOR).exists()


def session_passed_second_factor(request, user) -> bool:
    return any(record.get("method") == "mfa"
               for record in get_authentication_records(request, user))


def can_remove_authenticator(authenticator) -> bool:
    """A user who must use a second factor keeps at least one (recovery codes don't count)."""
    if not requires_second_factor(authenticator.user):
        return True
    return (Authenticator.objects.filter(user_id=authenticator.user_id)
            .exclude(type=Authenticator.Type.RECOVERY_CODES)
            .exclude(pk=authenticator.pk).exists())


def _is_account_page(request) -> bool:
    match = request.resolver_match
    name = match.url_name if match else None
    return bool(name) and (name in _ALLOWED_URL_NAMES
                           or name.startswith(_ALLOWED_URL_NAME_PREFIXES))


class RequireSecondFactorMiddleware:
    """After AuthenticationMiddleware and allauth's AccountMiddleware. Works in process_view,
    once the URL is resolved, so that it knows which page is asked for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if (not two_factor_enforced() or not user.is_authenticated
                or _is_account_page(request)
                # Checked first: a session that passed costs no query.
                or session_passed_second_factor(request, user)
                or not requires_second_factor(user)):
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": gettext("Your role requires two-factor authentication. Sign in with "
                                   "your second factor in the browser, or use an API token.")},
                status=403)
        enrolled = Authenticator.objects.filter(user_id=user.pk).exclude(
            type=Authenticator.Type.RECOVERY_CODES).exists()
        if enrolled:
            # Signed in before enrolling elsewhere: prove the second factor now.
            target = reverse("mfa_reauthenticate")
            messages.info(request,
                          gettext("Confirm it's you with your second factor to continue."))
        else:
            target = reverse("mfa_index")
            messages.warning(
                request,
                gettext("Editors and admins must use two-factor authentication. Set up an "
                        "authenticator app or a security key to continue."))
        if request.method == "GET":
            target = f"{target}?{urlencode({'next': request.get_full_path()})}"
        return redirect(target)


@receiver(mfa_signals.authenticator_added)
def _record_enrolment(sender, request, user, authenticator, **kwargs):
    """Adding an authenticator proves a code (or a key) from it: this session has passed a
    second factor. allauth records the same entry when the factor is used at sign-in."""
    if request is None or authenticator.type == Authenticator.Type.RECOVERY_CODES:
        return
    # allauth has no public helper for this yet; the record format is its documented one.
    from allauth.account.internal.flows.login import record_authentication

    record_authentication(request, user, "mfa", id=authenticator.pk,
                          type=authenticator.type, enrolled=True)


def two_factor_context(request):
    """Template context: whether the two-factor requirement is off (the demo banner)."""
    return {"two_factor_off": not two_factor_enforced()}


@checks.register(checks.Tags.security, deploy=True)
def check_two_factor_required(app_configs=None, **kwargs):
    if two_factor_enforced():
        return []
    return [checks.Warning(
        "Two-factor authentication is not required (CASEDESK_REQUIRE_2FA is off).",
        hint="Only the local demo may run without it: unset CASEDESK_REQUIRE_2FA in "
             "production.",
        id="casedesk.W020",
    )]


# Per-process caches: each worker would count wrong two-factor codes on its own.
PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",
                      "django.core.cache.backends.dummy.DummyCache")


@checks.register(checks.Tags.security, deploy=True)
def check_shared_cache(app_configs=None, **kwargs):
    if settings.CACHES["default"]["BACKEND"] not in PER_PROCESS_CACHES:
        return []
    return [checks.Warning(
        "The cache is each process's own memory (CACHE_URL is not set).",
        hint="allauth counts wrong two-factor codes per user in the cache: with several "
             "workers each counts on its own, and an attacker gets that many more tries. Set "
             "CACHE_URL to a Redis every worker shares (redis://host:6379/0).",
        id="casedesk.W021",
    )]
