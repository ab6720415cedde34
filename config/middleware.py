"""HTTP hardening that Django's own SecurityMiddleware and django-csp do not cover.

- `SecurityHeadersMiddleware` refuses TRACE and TRACK on every URL (405), static files
  included, and adds the cross-origin headers Django has no setting for.
- `NoStoreForSignedInMiddleware` marks every response to a signed-in user as not to be stored
  by the browser or any cache: a shared or seized computer must not keep case pages on disk.
- `SessionRefreshMiddleware` has a signed-in user's unchanged session saved (its idle expiry
  pushed back) once per SESSION_REFRESH_SECONDS instead of on every request.
- `SessionLifetimeMiddleware` ends a session SESSION_ABSOLUTE_LIFETIME_SECONDS after sign-in,
  however active it is; `record_sign_in` (user_logged_in) notes when that was.
- `RefuseNulBytesMiddleware` answers 400 to any request whose path or query string holds a
  NUL byte, before any view or lookup sees it.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.defaults import bad_request

REFUSED_METHODS = frozenset({"TRACE", "TRACK"})
ALLOWED_METHODS = ["GET", "HEAD", "POST", "OPTIONS"]

# The app uses none of these browser features; no page or injected script may.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in ("camera", "microphone", "geolocation", "payment", "usb")
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in REFUSED_METHODS:
            response = HttpResponseNotAllowed(ALLOWED_METHODS, content_type="text/plain")
        else:
            response = self.get_response(request)
        # Our pages and files are for our own pages only.
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class NoStoreForSignedInMiddleware:
    """Sits after AuthenticationMiddleware. Static files never reach it (whitenoise answers
    them earlier) and stay cacheable; they are the same for everyone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private
            add_never_cache_headers(response)
        return response


class SessionRefreshMiddleware:
    """Sessions end SESSION_COOKIE_AGE after the last request: saving a session moves its
    expiry (in the database) that far ahead. Saving it on every request
    (SESSION_SAVE_EVERY_REQUEST) costs a write and a commit per page view; saving a signed-in
    user's session once it is SESSION_REFRESH_SECONDS old is enough, and the idle timeout is
    then kept to within that many seconds. Sits after AuthenticationMiddleware; Django's
    SessionMiddleware, further out, saves what this marks (and any session that changed)."""

    REFRESHED_AT = "_casedesk_refreshed_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session, user = request.session, getattr(request, "user", None)
        # Only a session the request came with: a token-authenticated API call has none, and
        # must not be given one.
        if (session.session_key is not None and not session.modified and user is not None
                and user.is_authenticated):
            now = int(time.time())
            refreshed_at = session.get(self.REFRESHED_AT)
            if not isinstance(refreshed_at, int) or (
                    now - refreshed_at >= settings.SESSION_REFRESH_SECONDS):
                session[self.REFRESHED_AT] = now  # modified: SessionMiddleware saves it
        return response


SIGNED_IN_AT = "_casedesk_signed_in_at"


def record_sign_in(sender, request, user, **kwargs):
    """user_logged_in (connected in CasesConfig.ready): the session's lifetime starts now.
    Django keeps a session's data when the same user signs in again, so it is set, not kept."""
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = int(time.time())


class SessionLifetimeMiddleware:
    """Signs the user out once SESSION_ABSOLUTE_LIFETIME_SECONDS have passed since sign-in,
    however busy the session (the idle timeout never ends a session in use). Sits after
    AuthenticationMiddleware and before LoginRequiredMiddleware, which then sends the page to
    the sign-in form; an API call on that session gets the API's 401/403. Works in
    process_view, so that the message middleware can carry the reason to the sign-in page. A
    session from before this rule (no sign-in time) starts counting at its next request; a
    token-authenticated API call has no session and is not concerned."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        session, user = request.session, getattr(request, "user", None)
        if session.session_key is None or user is None or not user.is_authenticated:
            return None
        now = int(time.time())
        signed_in_at = session.get(SIGNED_IN_AT)
        if not isinstance(signed_in_at, int):
            session[SIGNED_IN_AT] = now
        elif now - signed_in_at >= settings.SESSION_ABSOLUTE_LIFETIME_SECONDS:
            logout(request)  # flushes the session; request.user is anonymous from here on
            if not request.path_info.startswith("/api/"):
                hours = settings.SESSION_ABSOLUTE_LIFETIME_SECONDS / 3600
                # A fraction of an hour takes the plural in English and Russian's "few" form.
                count = int(hours) if hours.is_integer() else 2
                messages.info(request, ngettext(
                    "Sessions last at most %(hours)s hour: please sign in again.",
                    "Sessions last at most %(hours)s hours: please sign in again.",
                    count) % {"hours": f"{hours:g}"})
        return None


NUL_BYTE_CODE = "nul_byte"
NUL_BYTE_MESSAGE = gettext_noop(
    "The address holds a NUL byte (%00), which no address of Casedesk has.")


class RefuseNulBytesMiddleware:
    """No text Casedesk stores or looks up may hold U+0000: PostgreSQL refuses it in any
    text value (a DataError, so a 500, from whichever lookup meets it first: a slug in the
    path, a username in `?lead=`). One refusal here covers every URL, so no view or filter
    needs its own. The API answers JSON like its other errors, pages Django's 400 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": _(NUL_BYTE_MESSAGE), "code": NUL_BYTE_CODE},
                                    status=400)
            return bad_request(request, ValueError(NUL_BYTE_MESSAGE))
        return self.get_response(request)
