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


#: A code read this close to the end of its period waits for the next one, as a person does
#: when the app's countdown is about to run out: the server accepts the current period's code
#: only (allauth's MFA_TOTP_TOLERANCE is 0), so a code read just before the boundary and
#: checked just after it would be refused, and the test would fail one run in many.
FRESH_CODE_MARGIN = 2.0


def totp_code(secret: str, *, offset_periods: int = 0) -> str:
    now = time.time()
    left = app_settings.TOTP_PERIOD - now % app_settings.TOTP_PERIOD
    if left < FRESH_CODE_MARGIN:
        time.sleep(left + 0.05)
        now = time.time()
    counter = int(now) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter + offset_periods))


def totp_authenticator(user) -> Authenticator:
    return Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
