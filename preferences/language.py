"""The language a user reads Casedesk in, for pages and for what is sent to them.

Pages get it from the session (set at sign-in from the stored preference, see
preferences.signals) or the browser; mails, notifications and background tasks have no
request, so they ask here with the recipient in hand::

    from preferences.language import in_language_of

    with in_language_of(recipient):
        send_mail(gettext("..."), ...)
"""

from contextlib import contextmanager

from django.conf import settings
from django.utils import translation

# The session key holding the signed-in user's language (read by
# preferences.middleware.PreferredLanguageMiddleware before the cookie and the browser's).
SESSION_KEY = "casedesk_language"


def supported_language(code):
    """`code` as one of settings.LANGUAGES, or None when Casedesk does not offer it."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code, strict=True)
    except LookupError:
        return None


def stored_language(user):
    """The language `user` chose and Casedesk still offers, or None (one query)."""
    if user is None or not getattr(user, "pk", None):
        return None
    from preferences.models import UserPreferences

    code = (
        UserPreferences.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    )
    return supported_language(code)


def preferred_language(user) -> str:
    """The language to write to `user` in: their stored choice, else the site's default."""
    return stored_language(user) or settings.LANGUAGE_CODE


def store_language(user, code):
    """Keep `code` as `user`'s language; `code` must be one of settings.LANGUAGES."""
    from preferences.models import UserPreferences

    code = supported_language(code)
    if code is None:
        raise ValueError("not a language Casedesk offers")
    UserPreferences.objects.update_or_create(user=user, defaults={"language": code})
    return code


@contextmanager
def in_language_of(user):
    """Translate everything inside the block into `user`'s preferred language."""
    with translation.override(preferred_language(user)):
        yield
