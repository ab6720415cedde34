"""Who may make an API token, and how a token relates to the second factor.

A token is a bearer key that reaches the API without the sign-in form, so without the
second-factor step that editors and staff must pass (cases/two_factor.py). It stands in for
that step only because of how it was made: only someone whose session has passed a second
factor may make one (in the back office, the only place tokens are made), and the maker is
recorded. So a phished password alone can neither use the API of an editor who has a token
nor make a token. This holds whether or not `CASEDESK_REQUIRE_2FA` is on: a token outlives the
demo setting it was made under. Tokens expire (`API_TOKEN_LIFETIME_DAYS`) and are revoked by
deleting them.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cases.two_factor import session_passed_second_factor

SECOND_FACTOR_REQUIRED = "second_factor_required"


def check_may_issue(request) -> None:
    """Raises ValidationError (code `second_factor_required`) unless the requesting session
    has passed a second factor."""
    user = request.user
    if not user.is_authenticated or not session_passed_second_factor(request, user):
        raise ValidationError(
            _("API tokens are made only in a session that has passed a second factor: a token "
              "reaches the API without one. Set up two-factor authentication (or confirm it), "
              "then make the token again."), code=SECOND_FACTOR_REQUIRED)
