from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from preferences.language import SESSION_KEY, store_language, supported_language
from preferences.middleware import set_language_cookie


def _safe_next(request):
    """Where to go back to: a path of this site, or the dashboard. Only a path: `redirect()`
    would read any other text as the name of a view, and a bare word is no page of ours."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("cases:dashboard")


@require_POST
@login_not_required
def switch_language(request):
    """The navbar's language switcher. Everyone gets a cookie (so the sign-in page and a
    signed-out browser keep the language); a signed-in user's choice is also stored on the
    account, which sign-in on any device then applies, and in this session."""
    target = _safe_next(request)
    language = supported_language(request.POST.get("language", ""))
    if language is None:
        messages.error(request, _("That language is not offered; the page stays as it was."))
        return HttpResponseRedirect(target)
    if request.user.is_authenticated:
        store_language(request.user, language)
        request.session[SESSION_KEY] = language
    response = HttpResponseRedirect(target)
    set_language_cookie(response, language)
    return response
