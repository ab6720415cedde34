"""API tokens (api/models.py, api/authentication.py, api/tokens.py): they expire, they record
who made them, only a session that passed a second factor can make one, and the database
keeps no working key."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.authentication import TOKEN_EXPIRED
from api.models import ApiToken, digest_of
from api.tokens import SECOND_FACTOR_REQUIRED

from .factories import UserFactory, api_key_for

pytestmark = pytest.mark.django_db

ADD = "admin:api_apitoken_add"


def api_with(key) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def make_token_in_admin(client, user):
    response = client.post(reverse(ADD), {"user": user.pk}, follow=True)
    found = re.search(r"API token for \S+: ([0-9a-f]{64})", response.content.decode())
    return response, found[1] if found else None


def test_a_token_made_in_the_admin_records_its_maker_and_expires_in_90_days(client, superuser,
                                                                            editor):
    client.force_login(superuser)  # a session that passed the second factor
    before = timezone.now()

    response, key = make_token_in_admin(client, editor)

    token = ApiToken.objects.get()
    assert (token.user, token.created_by) == (editor, superuser)
    assert before <= token.created_at <= timezone.now()
    assert token.expires_at - token.created_at == dt.timedelta(days=90)
    assert "It expires on" in response.content.decode()
    # Only the key's hash is stored: the database hands over no working key.
    assert token.digest == digest_of(key) and token.prefix == key[:8]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        assert not any(key in str(value) for row in cursor.fetchall() for value in row)
    assert api_with(key).get("/api/v1/cases/").status_code == 200


def test_the_token_lifetime_comes_from_the_settings(settings, editor):
    settings.API_TOKEN_LIFETIME_DAYS = 7
    token, _key = ApiToken.objects.issue(editor, created_by=editor)
    assert token.expires_at - token.created_at == dt.timedelta(days=7)


def test_an_expired_token_answers_401_saying_so(case, editor):
    key = api_key_for(editor)
    api = api_with(key)
    assert api.get("/api/v1/cases/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = api.get("/api/v1/cases/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["code"] == TOKEN_EXPIRED
    assert body["detail"].startswith("This token expired on ")
    assert "Ask an administrator for a new one." in body["detail"]
    # Still listed (who made it, when it ran out) until an admin deletes it.
    assert ApiToken.objects.filter(user=editor).exists()


def test_an_unknown_token_is_invalid_not_expired(db):
    response = api_with("f" * 64).get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_a_token_of_a_disabled_account_answers_401(editor):
    key = api_key_for(editor)
    editor.is_active = False
    editor.save()
    response = api_with(key).get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}


def test_token_authentication_is_one_query(case, editor):
    api = api_with(api_key_for(editor))
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/incident-types/").status_code == 200
    token_queries = [q["sql"] for q in queries.captured_queries if "api_apitoken" in q["sql"]]
    assert len(token_queries) == 1 and "auth_user" in token_queries[0]


@pytest.mark.parametrize("gate_on", [True, False])
def test_only_a_session_that_passed_a_second_factor_makes_a_token(superuser, editor, settings,
                                                                  gate_on):
    # Without a second factor in the session the gate keeps staff out of the admin; with the
    # gate off (the demo), the admin opens, and a token made then would still be valid after
    # the gate is back on: refused too.
    settings.CASEDESK_REQUIRE_2FA = gate_on
    plain = Client()  # signs in without the second-factor step
    plain.force_login(superuser)

    response = plain.post(reverse(ADD), {"user": editor.pk})

    assert not ApiToken.objects.exists()
    if gate_on:
        assert response.status_code == 302 and "/accounts/2fa/" in response["Location"]
    else:
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors.as_data()["__all__"]
        assert [e.code for e in errors] == [SECOND_FACTOR_REQUIRED]
        assert "passed a second factor" in response.content.decode()


def test_staff_make_tokens_for_themselves_only(client, editor):
    from django.contrib.auth.models import Permission

    staff = UserFactory(username="deskstaff", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="api"))
    client.force_login(staff)
    response, key = make_token_in_admin(client, editor)
    assert key is None and not ApiToken.objects.exists()
    response, key = make_token_in_admin(client, staff)
    assert ApiToken.objects.get().created_by == staff and key


def test_a_token_stands_in_for_the_second_factor(case, editor):
    """An editor's token reaches the API without the session's second-factor step: the token
    was made in a session that passed one, and that is the factor. A session without it is
    refused, as before."""
    key = api_key_for(editor)
    assert api_with(key).get(f"/api/v1/cases/{case.pk}/").status_code == 200
    session = APIClient()
    session.force_login(editor)
    response = session.get(f"/api/v1/cases/{case.pk}/")
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]
