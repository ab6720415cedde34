"""The test client most tests use: its sign-ins count as complete, second factor included.

`Client.force_login` and `Client.login` skip the sign-in form, and with it allauth's
two-factor step; an editor signed in that way would be sent to set up a second factor from
every page (cases/two_factor.py). `TwoFactorClient` records in the session what allauth
records when someone passes that step, through allauth's own function, so tests of pages
run as a fully signed-in user. The tests of the two-factor gate itself use
`django.test.Client` (tests/test_two_factor.py) and sign in through the real form.
"""

from allauth.account.internal.flows.login import record_authentication
from django.contrib.auth import SESSION_KEY, get_user_model
from django.http import HttpRequest
from django.test import Client


class TwoFactorClient(Client):
    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        self.pass_second_factor(user)

    def login(self, **credentials):
        signed_in = super().login(**credentials)
        if signed_in:
            self.pass_second_factor(get_user_model().objects.get(pk=self.session[SESSION_KEY]))
        return signed_in

    def pass_second_factor(self, user):
        request = HttpRequest()
        request.session = self.session
        record_authentication(request, user, "password", username=user.get_username())
        record_authentication(request, user, "mfa", type="totp")
        request.session.save()
