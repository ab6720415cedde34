from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from preferences.language import SESSION_KEY, supported_language


class PreferredLanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, with the signed-in user's choice first.

    The choice is copied into the session at sign-in (preferences.signals), so reading it
    costs no query of its own: the session is loaded for request.user on every page anyway.
    Without one, Django's order applies: the switcher's cookie, then Accept-Language.
    URLs carry no language prefix.
    """

    def process_request(self, request):
        session = getattr(request, "session", None)
        language = supported_language(session.get(SESSION_KEY)) if session is not None else None
        if language is None:
            language = translation.get_language_from_request(request, check_path=False)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
