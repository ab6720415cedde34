"""Sign-in throttling (django-axes) hooks named in config/settings.py.

- `axes_username` is `AXES_USERNAME_CALLABLE`: the name a failed sign-in is counted under.
  django-axes stores it in a 255-character column; a longer name, which anyone can post,
  would make PostgreSQL refuse the row and the sign-in answer 500. It is cut to the column's
  length, so an over-long name is counted (under its first 255 characters) instead of
  crashing the page or escaping the count.
- `lockout_response` is `AXES_LOCKOUT_CALLABLE`: our own page (AXES_LOCKOUT_TEMPLATE, with the
  site's layout and its strict CSP) with status AXES_HTTP_RESPONSE_CODE, saying for how long
  sign-in is paused and who can lift it.
"""

from axes.helpers import get_cool_off
from django.conf import settings
from django.shortcuts import render

# The length of axes' AccessAttempt.username (and AccessLog / AccessFailureLog.username).
AXES_USERNAME_MAX_LENGTH = 255


def axes_username(request, credentials=None):
    """The username of a sign-in attempt as django-axes records it: from the credentials
    given to authenticate(), else from the posted form (axes' own order), cut to 255
    characters. None when there is none."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        username = credentials.get(field)
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        username = data.get(field)
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
