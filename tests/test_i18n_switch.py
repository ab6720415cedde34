"""The interface language: the navbar's switcher, the preference stored on the account and
applied at sign-in, the browser's Accept-Language as the fallback, <html lang>, and
`in_language_of` for what is sent to a user (preferences/).

Strings checked in Russian are Django's own ("Yes" → "Да"), so these tests do not depend on
Casedesk's catalogue; tests/test_i18n_pages.py reads our pages."""

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from cases.enums import Role
from preferences.language import (
    SESSION_KEY,
    in_language_of,
    preferred_language,
    store_language,
)
from preferences.models import UserPreferences

from .factories import CaseFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough test password"
COOKIE = django_settings.LANGUAGE_COOKIE_NAME
SWITCH = "/accounts/language/"


@pytest.fixture
def reporter(db):
    user = UserFactory(username="rita")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(user=user, case=CaseFactory(), role=Role.REPORTER)
    return user


def page_language(response):
    html = response.content.decode()
    start = html.index("<html lang=\"") + len("<html lang=\"")
    return html[start:html.index("\"", start)]


def switch(client, language, next_url="/accounts/login/"):
    return client.post(SWITCH, {"language": language, "next": next_url})


# --- the switcher -----------------------------------------------------------------------------


def test_switch_url_is_the_named_account_page():
    # Named account_*: the two-factor gate lets it through (cases/two_factor.py).
    assert reverse("account_language") == SWITCH


def test_switcher_for_an_anonymous_visitor_sets_the_cookie_only(client):
    response = switch(client, "ru")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    cookie = response.cookies[COOKIE]
    assert cookie.value == "ru"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 365 * 24 * 60 * 60
    assert UserPreferences.objects.count() == 0
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert page_language(page) == "ru"
    assert page["Content-Language"] == "ru"


def test_switcher_for_a_signed_in_user_stores_the_preference(client, reporter):
    client.force_login(reporter)

    response = switch(client, "ru", next_url=reverse("cases:case_list"))

    assert response["Location"] == reverse("cases:case_list")
    assert UserPreferences.objects.get(user=reporter).language == "ru"
    assert client.session[SESSION_KEY] == "ru"
    assert response.cookies[COOKIE].value == "ru"
    assert page_language(client.get(reverse("cases:case_list"))) == "ru"


def test_switching_back_changes_the_one_stored_preference(client, reporter):
    client.force_login(reporter)
    switch(client, "ru")

    switch(client, "en-gb")

    assert list(UserPreferences.objects.values_list("user__username", "language")) == [
        ("rita", "en-gb")]
    assert client.session[SESSION_KEY] == "en-gb"
    assert page_language(client.get(reverse("cases:dashboard"),
                                     HTTP_ACCEPT_LANGUAGE="ru")) == "en-gb"


def test_switcher_refuses_a_language_not_offered_with_a_message(client, reporter):
    client.force_login(reporter)

    response = switch(client, "xx", next_url=reverse("cases:dashboard"))

    assert response.status_code == 302
    assert COOKIE not in response.cookies
    assert not UserPreferences.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert "That language is not offered; the page stays as it was." in page


# "abc\udcff…" was found by tests/test_form_fuzz.py: a bare word was read as a view's name (500).
@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "",
                                      "abc\x85\x00", "dashboard", "cases:dashboard"])
def test_switcher_never_redirects_off_the_site(client, next_url):
    response = switch(client, "ru", next_url=next_url)

    assert response["Location"] == reverse("cases:dashboard")
    assert response.cookies[COOKIE].value == "ru"


def test_an_editor_waiting_for_the_second_factor_can_switch(db):
    editor = UserFactory(username="edna")
    MembershipFactory(user=editor, case=CaseFactory(), role=Role.EDITOR)
    client = Client()  # signed in with the password only: the two-factor gate is closed
    client.force_login(editor)
    assert reverse("mfa_index") in client.get(reverse("cases:dashboard"))["Location"]

    response = switch(client, "ru", next_url=reverse("mfa_index"))

    assert response["Location"] == reverse("mfa_index")
    assert UserPreferences.objects.get(user=editor).language == "ru"
    assert page_language(client.get(reverse("mfa_index"))) == "ru"


def test_switcher_answers_only_posts(client):
    response = client.get(SWITCH, {"language": "ru"})

    assert response.status_code == 405
    assert COOKIE not in response.cookies


def test_switcher_needs_the_csrf_token(reporter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)

    response = switch(client, "ru")

    assert response.status_code == 403
    assert not UserPreferences.objects.exists()


def test_the_navbar_offers_each_language_named_in_itself(client, reporter):
    client.force_login(reporter)

    html = client.get(reverse("cases:dashboard")).content.decode()

    assert f'action="{SWITCH}"' in html
    assert ('<button type="submit" name="language" value="ru" lang="ru"' in html
            and ">Русский</button>" in html)
    assert 'value="en-gb" lang="en-gb"' in html and ">English</button>" in html
    assert 'name="next" value="/"' in html
    # The sign-in page has it too, for visitors who are not signed in.
    client.logout()
    assert f'action="{SWITCH}"' in client.get(reverse("account_login")).content.decode()


# --- sign-in and the fallbacks ----------------------------------------------------------------


def test_signing_in_applies_the_stored_preference(reporter):
    store_language(reporter, "ru")
    client = Client()

    response = client.post(reverse("account_login"), {"login": "rita", "password": PASSWORD},
                           HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == "ru"
    page = client.get(reverse("cases:dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert page_language(page) == "ru"
    # ...and into the cookie, so the sign-in page after signing out stays in it.
    assert client.cookies[COOKIE].value == "ru"
    client.post(reverse("account_logout"))
    assert page_language(client.get(reverse("account_login"),
                                     HTTP_ACCEPT_LANGUAGE="en")) == "ru"


def test_signing_in_without_a_preference_keeps_the_browser_language(reporter):
    client = Client()

    client.post(reverse("account_login"), {"login": "rita", "password": PASSWORD})

    assert SESSION_KEY not in client.session
    assert page_language(client.get(reverse("cases:dashboard"),
                                     HTTP_ACCEPT_LANGUAGE="ru,en;q=0.8")) == "ru"
    assert page_language(client.get(reverse("cases:dashboard"),
                                     HTTP_ACCEPT_LANGUAGE="de")) == "en-gb"


@pytest.mark.parametrize(("accept_language", "expected"), [
    ("ru", "ru"),
    ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
    ("en-US,en;q=0.9", "en-gb"),
    ("de-DE,fr;q=0.5", "en-gb"),
    ("", "en-gb"),
])
def test_the_browser_language_is_the_fallback(client, accept_language, expected):
    response = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE=accept_language)

    assert page_language(response) == expected
    assert "Accept-Language" in response["Vary"]


def test_the_cookie_comes_before_the_browser_language(client):
    client.cookies[COOKIE] = "ru"

    assert page_language(client.get(reverse("account_login"),
                                    HTTP_ACCEPT_LANGUAGE="en")) == "ru"


def test_a_stored_preference_no_longer_offered_falls_back(client, reporter, settings):
    UserPreferences.objects.create(user=reporter, language="uk")
    client.force_login(reporter)

    assert preferred_language(reporter) == "en-gb"
    assert SESSION_KEY not in client.session
    assert page_language(client.get(reverse("cases:dashboard"),
                                    HTTP_ACCEPT_LANGUAGE="ru")) == "ru"


# --- in_language_of --------------------------------------------------------------------------


def test_in_language_of_a_russian_user_translates_into_russian(reporter):
    store_language(reporter, "ru")
    other = UserFactory()

    with translation.override("en-gb"):
        with in_language_of(reporter):
            assert gettext("Yes") == "Да"
            assert translation.get_language() == "ru"
        with in_language_of(other):
            assert gettext("Yes") == "Yes"
        assert gettext("Yes") == "Yes"  # the language before the block is back
    assert preferred_language(reporter) == "ru"
    assert preferred_language(other) == "en-gb"


def test_store_language_refuses_a_language_not_offered(reporter):
    with pytest.raises(ValueError):
        store_language(reporter, "xx")
    assert not UserPreferences.objects.exists()


# --- what it costs ----------------------------------------------------------------------------


def dashboard_queries(client, user):
    """The dashboard's queries for `user` after a warm-up (as tests/test_query_counts.py)."""
    client.force_login(user)
    client.get(reverse("cases:dashboard"))
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("cases:dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    client.logout()
    return len(queries), page_language(response)


# The dashboard of a reporter with one case, all a request does (session and user included);
# the same with and without a stored language: the language is read from the session.
DASHBOARD_QUERIES = 15


def test_the_stored_language_costs_no_query_per_page(client, reporter, settings):
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60  # no session save after the warm-up
    without = dashboard_queries(client, reporter)
    store_language(reporter, "ru")
    with_preference = dashboard_queries(client, reporter)

    assert without == (DASHBOARD_QUERIES, "en-gb")
    assert with_preference == (DASHBOARD_QUERIES, "ru")
