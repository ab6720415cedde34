"""At sign-in, the stored language becomes the session's, so no page has to query it."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from preferences.language import SESSION_KEY, stored_language


@receiver(user_logged_in, dispatch_uid="preferences.apply_stored_language")
def apply_stored_language(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    language = stored_language(user)
    if language:
        request.session[SESSION_KEY] = language
