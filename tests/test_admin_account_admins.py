"""The back office's account pages that other apps provide (Django's users, allauth's second
factors, django-axes' sign-in attempts): what the fuzzer found answering 500 there."""

import datetime as dt

import pytest
from allauth.mfa.models import Authenticator
from axes.models import AccessAttempt
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from cases.enums import Role
from cases.models import Case, Membership

from .clients import TwoFactorClient
from .factories import CaseFactory, UserFactory
from .mfa import enrol_totp

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(superuser):
    client = TwoFactorClient()
    client.force_login(superuser)
    return client


def test_user_deletion_page_names_history_of_a_deleted_case(admin_client):
    editor = UserFactory(username="former_editor")
    case = CaseFactory(title="Closed case")
    membership = Membership(case=case, user=UserFactory(), role=Role.REPORTER)
    membership._history_user = editor  # the editor added this member; history says so
    membership.save()
    case.delete()

    page = admin_client.post(reverse("admin:auth_user_changelist"), {
        "action": "delete_selected", "index": "0", ACTION_CHECKBOX_NAME: [editor.pk]})

    text = page.content.decode()
    assert page.status_code == 200
    # The history the editor wrote protects the account; its copy of the membership outlived
    # the case and is named by its id.
    assert f"membership {membership.pk} as of" in text
    assert Case.objects.count() == 0 and editor.__class__.objects.filter(pk=editor.pk).exists()


def test_signin_attempt_cleanup_deletes_only_expired_attempts(admin_client, settings):
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=30)
    now = timezone.now()
    for username, age in [("old", dt.timedelta(hours=2)), ("recent", dt.timedelta(minutes=5))]:
        attempt = AccessAttempt.objects.create(
            username=username, ip_address="203.0.113.9", user_agent="", http_accept="",
            path_info="/accounts/login/", failures_since_start=5)
        # attempt_time is set on creation (auto_now_add): age it afterwards.
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=now - age)

    page = admin_client.post(reverse("admin:axes_accessattempt_changelist"), {
        "action": "cleanup_expired_attempts", "index": "0",
        ACTION_CHECKBOX_NAME: list(AccessAttempt.objects.values_list("pk", flat=True))},
        follow=True)

    assert "Deleted 1 expired sign-in attempt." in page.content.decode()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["recent"]


def test_signin_attempt_cleanup_without_cool_off_deletes_nothing(admin_client, settings):
    settings.AXES_COOLOFF_TIME = None
    AccessAttempt.objects.create(username="old", ip_address="203.0.113.9", user_agent="",
                                 http_accept="", path_info="/", failures_since_start=5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(days=30))

    page = admin_client.post(reverse("admin:axes_accessattempt_changelist"), {
        "action": "cleanup_expired_attempts", "index": "0",
        ACTION_CHECKBOX_NAME: list(AccessAttempt.objects.values_list("pk", flat=True))},
        follow=True)

    assert "never expire" in page.content.decode()
    assert AccessAttempt.objects.count() == 1


def test_second_factor_change_page_cannot_edit_type_or_data(admin_client, superuser):
    enrol_totp(superuser)
    authenticator = Authenticator.objects.get(user=superuser, type=Authenticator.Type.TOTP)
    before = (authenticator.type, authenticator.data)
    url = reverse("admin:mfa_authenticator_change", args=[authenticator.pk])

    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"type": "webauthn", "data": '{"credential": {}}',
                            "user": superuser.pk})

    authenticator.refresh_from_db()
    assert (authenticator.type, authenticator.data) == before
    assert 'name="data"' not in page and 'name="type"' not in page
    assert admin_client.get(reverse("admin:mfa_authenticator_add")).status_code == 403
