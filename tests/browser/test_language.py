"""The words of the browser tests (tests/browser/language.py): a msgid in the test's language,
read from the catalogue the pages read, and a typo or a lost translation refused."""

import pytest

from .language import BROWSER_LOCALE, DJANGO_LANGUAGE, LANGUAGES, Words


def test_words_in_each_language_are_the_catalogues():
    english, russian = Words("en"), Words("ru")
    assert (english("Sources"), russian("Sources")) == ("Sources", "Источники")
    assert (english("Confirmed", "verification status"),
            russian("Confirmed", "verification status")) == ("Confirmed", "Подтверждено")
    assert russian("Source “%(name)s” added.", name="Meduza") == "Источник «Meduza» добавлен."
    assert (english.label("name or codename"), russian.label("name or codename")) == (
        "Name or codename", "Имя или кодовое имя")
    assert [russian.n("%(count)s citation", "%(count)s citations", n) for n in (1, 3, 5)] == [
        "1 ссылка на источник", "3 ссылки на источники", "5 ссылок на источники"]
    assert english.pick(en="9 May", ru="9 мая") == "9 May"
    assert russian.pick(en="9 May", ru="9 мая") == "9 мая"


def test_words_in_russian_refuse_a_msgid_the_catalogue_does_not_hold():
    russian = Words("ru")
    with pytest.raises(LookupError, match="not in the Russian catalogue"):
        russian("Sourcse")
    with pytest.raises(LookupError):  # the right words under the wrong context
        russian("Confirmed", "source kind")
    with pytest.raises(LookupError):
        russian.n("%(count)s citatoin", "%(count)s citatoins", 2)
    # English is the msgids' own language: a msgid not translated yet is its own text there.
    assert Words("en")("A page string not merged yet") == "A page string not merged yet"


def test_each_language_has_a_browser_locale_that_selects_it():
    assert LANGUAGES == ["en", "ru"]
    assert BROWSER_LOCALE == {"en": "en-GB", "ru": "ru-RU"}
    assert [Words(language).html_lang for language in LANGUAGES] == ["en-gb", "ru"]
    assert DJANGO_LANGUAGE == {"en": "en-gb", "ru": "ru"}
