"""`Authorization: Token <key>` against api.models.ApiToken: one indexed query by the key's
SHA-256, the user joined. An unknown key is refused as DRF refuses one; an expired key says
so, with the date and the code `token_expired`, so that a script's owner knows to ask for a
new one rather than look for a typo."""

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .models import ApiToken, digest_of

TOKEN_EXPIRED = "token_expired"


class ExpiringTokenAuthentication(TokenAuthentication):
    keyword = "Token"
    model = ApiToken

    def authenticate_credentials(self, key):
        try:
            token = ApiToken.objects.select_related("user").get(digest=digest_of(key))
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if token.expired:
            when = formats.date_format(timezone.localtime(token.expires_at), "DATETIME_FORMAT")
            raise exceptions.AuthenticationFailed({
                "detail": _("This token expired on %(when)s. Ask an administrator for a new "
                            "one.") % {"when": when},
                "code": TOKEN_EXPIRED,
            })
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
