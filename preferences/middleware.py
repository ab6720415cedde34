from django.conf import settings
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

    def process_response(self, request, response):
        response = super().process_response(request, response)
        # The account's language also goes into the switcher's cookie, so that the pages
        # after signing out (the sign-in page first) stay in it.
        session = getattr(request, "session", None)
        language = session.get(SESSION_KEY) if session is not None else None
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            set_language_cookie(response, language)
        return response


def set_language_cookie(response, language):
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
