"""Second factors for tests: enrol an authenticator app for a user, and read its code now,
as the user's phone would."""

import time

from allauth.mfa import app_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)


def enrol_totp(user) -> str:
    """Activate an authenticator app for `user` (through allauth, so the secret is stored
    encrypted as in real use); returns the secret the phone would hold."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def enrol_recovery_codes(user) -> list[str]:
    return RecoveryCodes.activate(user).get_unused_codes()


def totp_code(secret: str, *, offset_periods: int = 0) -> str:
    counter = int(time.time()) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter + offset_periods))


def totp_authenticator(user) -> Authenticator:
    return Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
