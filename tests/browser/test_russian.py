"""Casedesk in Russian, in a real browser: the navbar's switcher on the sign-in page, then
signing in and reading a case (Chromium driven by Playwright against the live server).

The Russian words checked come from locale/ru/LC_MESSAGES/django.po; the page must also say
it is Russian (<html lang="ru">) for screen readers and the browser's spelling and hyphens.
"""

import pytest
from playwright.sync_api import expect

from preferences.models import UserPreferences

from ..factories import PASSWORD
from .test_flows import watch

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reporter_switches_to_russian_signs_in_and_reads_the_case(
        chromium, live_server, case, reporter):
    context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                   base_url=live_server.url, locale="en-GB")
    problems = []
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        watch(page, "reporter", problems)
        page.goto("/accounts/login/")
        expect(page.locator("html")).to_have_attribute("lang", "en-gb")

        # The switcher names each language in itself.
        page.locator("nav").get_by_role("button", name="Русский").click()
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        expect(page.get_by_role("heading", name="Вход")).to_be_visible()

        page.fill("#id_login", "reporter")
        page.fill("#id_password", PASSWORD)
        page.locator("main button[type=submit]").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        expect(page.locator("html")).to_have_attribute("lang", "ru")

        nav = page.locator("nav.navbar")
        for text in ("Сводка", "Дела", "Выйти"):
            expect(nav).to_contain_text(text)

        nav.get_by_role("link", name="Дела", exact=True).click()
        page.get_by_role("link", name=case.title).click()
        expect(page.get_by_role("heading", name=case.title)).to_be_visible()
        for tab in ("Обзор", "Хронология", "Утверждения", "Источники"):
            expect(page.get_by_role("link", name=tab, exact=True)).to_be_visible()

        page.get_by_role("link", name="Хронология", exact=True).click()
        page.wait_for_url(f"**/cases/{case.slug}/timeline/")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        # Chosen before signing in, the language is not stored on the account...
        assert not UserPreferences.objects.filter(user=reporter).exists()

        # ...until the signed-in reporter chooses it in the navbar.
        nav.get_by_role("button", name="Русский").click()
        page.wait_for_url(f"**/cases/{case.slug}/timeline/")
        assert UserPreferences.objects.get(user=reporter).language == "ru"
    finally:
        context.close()
    assert not problems, "\n".join(problems)
