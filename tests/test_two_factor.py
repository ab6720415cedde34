"""Two-factor authentication (cases/two_factor.py, django-allauth's MFA): editors and admins
pass a second factor before any page but their account settings; the second factor's
secrets are encrypted like source identities; the local demo may switch the rule off and
then says so on every page.

These tests sign in through the real sign-in form with `django.test.Client`, not the
conftest's `client`, whose sign-ins already count as two-factor (tests/clients.py)."""

import json

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cases import crypto
from cases.crypto import IdentityDecryptionError
from cases.enums import Role
from cases.models import Claim, Membership, VerificationEvent
from cases.two_factor import check_shared_cache, check_two_factor_required

from .factories import PASSWORD, UserFactory
from .mfa import enrol_recovery_codes, enrol_totp, totp_authenticator, totp_code
from .test_access import NOT_CASE_SCOPED, _case_patterns, _kwargs_for, demo_case  # noqa: F401

pytestmark = pytest.mark.django_db

SETUP = reverse("mfa_index")
AUTHENTICATE = reverse("mfa_authenticate")
BANNER = "two-factor authentication is switched off"


@pytest.fixture
def browser():
    """A client with no shortcut: it signs in through the forms, like a person."""
    return Client()


def sign_in(client, username, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": username, "password": password})


def enter_code(client, code):
    return client.post(AUTHENTICATE, {"code": code})


def reauthenticate(client, password=PASSWORD):
    """allauth asks for the password again before any change to a user's second factors."""
    response = client.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == 302, response.content.decode()[:500]


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def assert_sent_to_set_up(response, path):
    assert response.status_code == 302, (path, response.status_code)
    assert response["Location"].startswith(SETUP), (path, response["Location"])


# --- who must use a second factor -------------------------------------------------------------

def test_every_case_url_sends_an_editor_without_a_second_factor_to_set_one_up(
        browser, demo_case, settings):  # noqa: F811 (the fixture imported above)
    editor = Membership.objects.filter(case=demo_case, role=Role.EDITOR).first().user
    assert sign_in(browser, editor.username, settings.DEMO_PASSWORD).status_code == 302
    events_before = VerificationEvent.objects.count()
    statuses_before = list(Claim.objects.order_by("pk").values_list("status", flat=True))
    checked = []
    for pattern in _case_patterns():
        if pattern.name == "healthz":
            continue
        path = reverse(f"cases:{pattern.name}", kwargs=_kwargs_for(pattern, demo_case))
        response = browser.get(path)
        assert_sent_to_set_up(response, path)
        assert response["Location"].endswith("?next=" + path.replace("/", "%2F"))
        assert_sent_to_set_up(browser.post(path, {"to_status": "confirmed", "note": "x"}), path)
        checked.append(pattern.name)
    assert_sent_to_set_up(browser.get(reverse("admin:index")), "admin")
    # Nothing a POST asked for happened.
    assert VerificationEvent.objects.count() == events_before
    assert list(Claim.objects.order_by("pk").values_list("status", flat=True)) == statuses_before
    assert {"dashboard", "case_overview", "claim_detail", "claim_transition"} <= set(checked)
    assert len(checked) > len(NOT_CASE_SCOPED)


def test_a_case_page_without_a_second_factor_outsider_reporter_editor(
        browser, case, outsider, reporter, editor):
    overview = reverse("cases:case_overview", kwargs={"slug": case.slug})

    sign_in(browser, outsider.username)
    assert browser.get(overview).status_code == 404
    browser.post(reverse("account_logout"))

    sign_in(browser, reporter.username)
    page = browser.get(overview)
    assert page.status_code == 200 and case.title in page.content.decode()
    browser.post(reverse("account_logout"))

    sign_in(browser, editor.username)
    assert_sent_to_set_up(browser.get(overview), overview)


def test_an_editor_of_another_case_is_held_everywhere(browser, case, make_member, db):
    """Editing one case is enough: the rule is about the person, not the page."""
    from .factories import CaseFactory

    other_case = CaseFactory(title="Another story")
    reporter_here_editor_there = make_member(Role.REPORTER, username="both")
    Membership.objects.create(case=other_case, user=reporter_here_editor_there,
                              role=Role.EDITOR)
    sign_in(browser, "both")
    path = reverse("cases:case_overview", kwargs={"slug": case.slug})
    assert_sent_to_set_up(browser.get(path), path)


def test_an_admin_without_a_second_factor_is_sent_to_set_one_up(browser, db):
    UserFactory(username="chief", is_staff=True, is_superuser=True)
    sign_in(browser, "chief")
    for path in (reverse("admin:index"), reverse("admin:cases_claim_changelist"),
                 reverse("cases:dashboard")):
        assert_sent_to_set_up(browser.get(path), path)


def test_the_api_answers_403_rather_than_a_redirect(browser, editor):
    sign_in(browser, editor.username)
    response = browser.get("/api/v1/cases/")
    assert response.status_code == 403
    assert "two-factor" in json.loads(response.content)["detail"]


def test_the_account_pages_stay_open_to_set_up_a_second_factor(browser, editor):
    sign_in(browser, editor.username)
    index = browser.get(SETUP)
    assert index.status_code == 200
    text = index.content.decode()
    assert "Authenticator App" in text and "Security Keys" in text
    asked = browser.get(reverse("mfa_activate_totp"))
    assert asked["Location"].startswith(reverse("account_reauthenticate"))
    reauthenticate(browser)
    activate = browser.get(reverse("mfa_activate_totp"))
    assert activate.status_code == 200
    assert "data:image/svg+xml" in activate.content.decode()  # the QR code, no inline SVG
    assert browser.get(reverse("account_change_password")).status_code == 200
    browser.post(reverse("account_logout"))
    assert not signed_in(browser)


# --- setting one up -----------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # allauth acts on commit, as in production
def test_enrolling_an_authenticator_app_lets_the_editor_in(browser, case, editor, mailoutbox):
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    sign_in(browser, editor.username)
    reauthenticate(browser)
    browser.get(reverse("mfa_activate_totp"))
    secret = browser.session[SECRET_SESSION_KEY]

    wrong = browser.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert "Incorrect code" in wrong.content.decode()
    assert not Authenticator.objects.filter(user=editor).exists()

    response = browser.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert [message.to for message in mailoutbox] == [[editor.email]]  # "was it you?"
    authenticator = totp_authenticator(editor)
    assert TOTP(authenticator).instance.data["secret"] != secret
    # Recovery codes come with the first authenticator.
    assert Authenticator.objects.filter(
        user=editor, type=Authenticator.Type.RECOVERY_CODES).exists()
    overview = browser.get(reverse("cases:case_overview", kwargs={"slug": case.slug}))
    assert overview.status_code == 200 and case.title in overview.content.decode()


def test_an_editor_cannot_remove_their_last_second_factor(client, editor, reporter):
    enrol_totp(editor)
    client.force_login(editor)
    reauthenticate(client)
    response = client.post(reverse("mfa_deactivate_totp"))
    assert "cannot deactivate" in response.content.decode()
    assert Authenticator.objects.filter(user=editor, type="totp").exists()

    enrol_totp(reporter)
    client.force_login(reporter)
    reauthenticate(client)
    client.post(reverse("mfa_deactivate_totp"))
    assert not Authenticator.objects.filter(user=reporter, type="totp").exists()


# --- signing in with one ------------------------------------------------------------------------

def test_sign_in_asks_for_the_code_and_refuses_a_wrong_one(browser, case, editor):
    secret = enrol_totp(editor)
    response = sign_in(browser, editor.username)
    assert response["Location"] == AUTHENTICATE
    assert not signed_in(browser)  # the password alone signs no one in

    refused = enter_code(browser, "123456" if totp_code(secret) != "123456" else "654321")
    assert "Incorrect code" in refused.content.decode()
    assert not signed_in(browser)

    accepted = enter_code(browser, totp_code(secret))
    assert accepted.status_code == 302
    assert signed_in(browser)
    page = browser.get(reverse("cases:case_overview", kwargs={"slug": case.slug}))
    assert page.status_code == 200 and case.title in page.content.decode()


def test_a_used_code_is_not_accepted_twice(browser, editor):
    secret = enrol_totp(editor)
    code = totp_code(secret)
    sign_in(browser, editor.username)
    enter_code(browser, code)
    assert signed_in(browser)
    browser.post(reverse("account_logout"))

    sign_in(browser, editor.username)
    assert "Incorrect code" in enter_code(browser, code).content.decode()
    assert not signed_in(browser)


def test_a_recovery_code_signs_in_once(browser, editor):
    enrol_totp(editor)
    codes = enrol_recovery_codes(editor)
    sign_in(browser, editor.username)
    enter_code(browser, codes[0])
    assert signed_in(browser)
    browser.post(reverse("account_logout"))

    sign_in(browser, editor.username)
    assert "Incorrect code" in enter_code(browser, codes[0]).content.decode()
    assert not signed_in(browser)
    enter_code(browser, codes[1])
    assert signed_in(browser)


def test_repeated_wrong_codes_are_throttled(browser, editor):
    secret = enrol_totp(editor)
    sign_in(browser, editor.username)
    right = totp_code(secret)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert "Incorrect code" in enter_code(browser, wrong).content.decode()
    throttled = enter_code(browser, right)
    assert "Too many failed" in throttled.content.decode()
    assert not signed_in(browser)


def test_a_session_from_before_enrolment_must_prove_the_second_factor(browser, case, editor):
    """Signed in with a password only, then enrolled on another device: this session is
    asked for the code before it goes on."""
    browser.force_login(editor)  # a session that never saw a second factor
    secret = enrol_totp(editor)
    path = reverse("cases:case_overview", kwargs={"slug": case.slug})
    response = browser.get(path)
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    browser.post(reverse("mfa_reauthenticate"), {"code": totp_code(secret)})
    assert browser.get(path).status_code == 200


# --- the secrets are encrypted ------------------------------------------------------------------

def test_the_totp_secret_and_recovery_seed_are_stored_encrypted(editor):
    secret = enrol_totp(editor)
    enrol_recovery_codes(editor)
    stored = {a.type: a.data for a in Authenticator.objects.filter(user=editor)}
    assert secret not in json.dumps(stored)
    assert crypto.decrypt(stored["totp"]["secret"]) == secret
    seed_token = stored["recovery_codes"]["seed"]
    assert crypto.opens(seed_token) and len(crypto.decrypt(seed_token)) == 80


def test_a_wrong_key_makes_the_second_factor_fail_loudly(editor, settings):
    secret = enrol_totp(editor)
    settings.CASEDESK_ENCRYPTION_KEYS = [crypto.generate_key()]
    with pytest.raises(IdentityDecryptionError, match="two-factor secret"):
        TOTP(totp_authenticator(editor)).validate_code(totp_code(secret))


def test_rotation_re_encrypts_the_second_factor_secrets(editor, settings):
    secret = enrol_totp(editor)
    codes = enrol_recovery_codes(editor)
    old_key = settings.CASEDESK_ENCRYPTION_KEYS[0]
    new_key = crypto.generate_key()
    settings.CASEDESK_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))

    settings.CASEDESK_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    assert TOTP(totp_authenticator(editor)).validate_code(totp_code(secret))
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    recovery = Authenticator.objects.get(user=editor, type=Authenticator.Type.RECOVERY_CODES)
    assert RecoveryCodes(recovery).get_unused_codes() == codes


# --- the demo switch ----------------------------------------------------------------------------

def test_with_the_requirement_off_editors_pass_and_every_page_says_so(
        browser, case, editor, settings):
    settings.CASEDESK_REQUIRE_2FA = False
    login_page = browser.get(reverse("account_login")).content.decode()
    assert BANNER in login_page
    sign_in(browser, editor.username)
    for path in (reverse("cases:dashboard"),
                 reverse("cases:case_overview", kwargs={"slug": case.slug}),
                 reverse("cases:claims_board", kwargs={"slug": case.slug}),
                 SETUP):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert BANNER in response.content.decode(), path


def test_the_admin_says_so_too_when_the_requirement_is_off(browser, settings, db):
    settings.CASEDESK_REQUIRE_2FA = False
    UserFactory(username="chief", is_staff=True, is_superuser=True)
    sign_in(browser, "chief")
    page = browser.get(reverse("admin:index"))
    assert page.status_code == 200
    assert BANNER in page.content.decode()


def test_with_the_requirement_on_no_page_carries_the_banner(client, case, editor):
    client.force_login(editor)
    page = client.get(reverse("cases:case_overview", kwargs={"slug": case.slug}))
    assert case.title in page.content.decode()
    assert BANNER not in page.content.decode()


def test_check_deploy_warns_when_the_requirement_is_off(settings):
    assert check_two_factor_required() == []
    settings.CASEDESK_REQUIRE_2FA = False
    (warning,) = check_two_factor_required()
    assert warning.id == "casedesk.W020"


def test_check_deploy_warns_when_the_cache_is_per_process(settings):
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/0"}}
    assert check_shared_cache() == []
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    (warning,) = check_shared_cache()
    assert warning.id == "casedesk.W021" and "CACHE_URL" in warning.msg


def test_make_run_switches_the_requirement_off_for_the_demo_only():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    run_recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "CASEDESK_REQUIRE_2FA=false" in run_recipe
    assert makefile.count("CASEDESK_REQUIRE_2FA") == 1


# --- the pages live with the strict CSP ---------------------------------------------------------

def test_the_sign_in_and_two_factor_pages_have_no_inline_code(browser, editor):
    from .test_http_security import assert_no_inline_code, assert_security_headers

    secret = enrol_totp(editor)
    enrol_recovery_codes(editor)
    pages = {"sign-in": browser.get(reverse("account_login"))}
    sign_in(browser, editor.username)
    pages["two-factor step"] = browser.get(AUTHENTICATE)
    enter_code(browser, totp_code(secret))
    pages["reauthenticate"] = browser.get(reverse("account_reauthenticate"))
    reauthenticate(browser)
    for name in ("mfa_index", "mfa_view_recovery_codes", "mfa_generate_recovery_codes",
                 "mfa_add_webauthn", "mfa_list_webauthn", "mfa_deactivate_totp",
                 "account_change_password", "account_logout"):
        pages[name] = browser.get(reverse(name))
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.status_code)
        assert_security_headers(response)
        assert_no_inline_code(response.content.decode(), name)
    # The security-key page runs allauth's own script files, from our origin.
    assert '/static/mfa/js/webauthn.js' in pages["mfa_add_webauthn"].content.decode()
