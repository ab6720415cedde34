"""HTTP hardening that Django's own SecurityMiddleware and django-csp do not cover.

- `SecurityHeadersMiddleware` refuses TRACE and TRACK on every URL (405), static files
  included, and adds the cross-origin headers Django has no setting for.
- `NoStoreForSignedInMiddleware` marks every response to a signed-in user as not to be stored
  by the browser or any cache: a shared or seized computer must not keep case pages on disk.
"""

from django.http import HttpResponseNotAllowed
from django.utils.cache import add_never_cache_headers

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
