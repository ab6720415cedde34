"""Two-factor sign-in in a real browser: an editor is sent to set up an authenticator app on
first sign-in and gets in with its code; a security key (WebAuthn, Chromium's virtual
authenticator) is added and then used to sign in. In English and in Russian (conftest's
`interface_language`): the buttons are allauth's, in its own catalogue's words."""

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from cases.models import Case

from ..factories import PASSWORD, CaseFactory, MembershipFactory, UserFactory
from ..mfa import enrol_totp, totp_code

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(db):
    case = CaseFactory(title="Training-ground desertion")
    editor = UserFactory(username="editor")
    MembershipFactory(case=case, user=editor, role="editor")
    return case, editor


@pytest.fixture
def new_page(new_context):
    def make():
        page = new_context().new_page()
        page.set_default_timeout(10_000)
        return page

    return make


def password_step(page, username):
    page.goto("/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_an_editor_sets_up_an_authenticator_app_at_first_sign_in(new_page, world, t):
    case, editor = world
    page = new_page()
    password_step(page, "editor")
    # Every page sends them to the two-factor page until they have a second factor.
    page.goto(reverse("cases:case_overview", kwargs={"slug": case.slug}))
    assert "/accounts/2fa/" in page.url
    assert t("Editors and admins must use two-factor authentication. Set up an authenticator "
             "app or a security key to continue.") in page.content()

    page.get_by_role("link", name=t("Activate")).click()
    page.fill("#id_password", PASSWORD)  # changing second factors asks for the password
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/2fa/totp/activate/" in url)
    assert page.locator("img[src^='data:image/svg+xml']").count() == 1  # the QR code
    secret = page.input_value("#authenticator_secret")
    page.fill("#id_code", totp_code(secret))
    page.get_by_role("button", name=t("Activate")).click()
    page.wait_for_url(lambda url: "/recovery-codes/" in url)
    assert t("Recovery Codes") in page.content()

    page.goto(reverse("cases:case_overview", kwargs={"slug": case.slug}))
    assert page.locator("h1").first.inner_text().startswith(case.title)
    assert Authenticator.objects.filter(user=editor, type="totp").exists()


def test_an_editor_adds_a_security_key_and_signs_in_with_it(new_page, world, t):
    case, editor = world
    secret = enrol_totp(editor)
    page = new_page()
    # Chromium's virtual authenticator stands in for a USB key with a PIN.
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})

    password_step(page, "editor")
    page.fill("#id_code", totp_code(secret))
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/2fa/authenticate/" not in url)

    page.goto(reverse("mfa_add_webauthn"))
    if "/reauthenticate/" in page.url:
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/webauthn/add/" in url)
    page.get_by_role("button", name=t("Add")).click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)
    assert Authenticator.objects.filter(user=editor, type="webauthn").count() == 1

    page.get_by_role("button", name=t("Sign out")).click()
    password_step(page, "editor")
    assert "/accounts/2fa/authenticate/" in page.url
    page.get_by_role("button", name=t("Use a security key")).click()
    page.wait_for_url(lambda url: "/accounts/2fa/" not in url)
    page.goto(reverse("cases:claims_board", kwargs={"slug": case.slug}))
    assert "/cases/" in page.url and Case.objects.get().title in page.content()
