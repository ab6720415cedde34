"""The language a browser test runs in, and its words.

Every browser test that opens a page runs twice, in English and in Russian (conftest's
`interface_language`, ids [en] and [ru]): the browser asks for the language the way a reader's
does (Accept-Language, from the context's locale), and the test finds buttons, labels and
messages by the words of that language. `t("Sources")` is the msgid's translation in the test's
language, read from the project's catalogue (locale/ru/LC_MESSAGES/django.po) the way the
pages read it; `t.pick(en=…, ru=…)` is for content a test states itself (dates in words,
numbers in their grammatical form), written out in each language, not derived from the code
under test.

In the Russian run, a msgid the Russian catalogue does not hold is an error: a typo in a test,
or a page string without its translation (a new page whose Russian is not merged into locale/
yet), must not pass as English there. The English run takes the msgid as it is (a typo then
finds nothing on the page).
"""

from django.utils import translation
from django.utils.text import capfirst

# The test's language → the browser's locale (which makes its Accept-Language) and the
# Django language code it selects.
BROWSER_LOCALE = {"en": "en-GB", "ru": "ru-RU"}
DJANGO_LANGUAGE = {"en": "en-gb", "ru": "ru"}
LANGUAGES = list(BROWSER_LOCALE)


def _catalogue_keys():
    """The Russian catalogue as the pages read it (ours, Django's, allauth's merged)."""
    return translation.trans_real.translation("ru")._catalog


class Words:
    """`t(msgid, context=None, **values)`: the msgid in the test's language, %-formatted
    with `values`; `t.n(singular, plural, number, **values)` for plurals."""

    def __init__(self, language):
        self.language = language
        self.code = DJANGO_LANGUAGE[language]

    def _known(self, key, msgid):
        if self.language != "en" and key not in _catalogue_keys():
            raise LookupError(f"{msgid!r} is not in the Russian catalogue: check the msgid "
                              "(with its context) in locale/ru/LC_MESSAGES/django.po")

    def __call__(self, msgid, context=None, **values):
        self._known(f"{context}\x04{msgid}" if context else msgid, msgid)
        with translation.override(self.code):
            text = (translation.pgettext(context, msgid) if context
                    else translation.gettext(msgid))
        return text % values if values else text

    def label(self, msgid, context=None, **values):
        """A form field's label: the field's verbose name, capitalised as Django shows it."""
        return capfirst(self(msgid, context, **values))

    def n(self, singular, plural, number, context=None, **values):
        key = f"{context}\x04{singular}" if context else singular
        self._known((key, 0), singular)
        with translation.override(self.code):
            text = (translation.npgettext(context, singular, plural, number) if context
                    else translation.ngettext(singular, plural, number))
        return text % {"count": number, **values} if "%" in text else text

    def pick(self, *, en, ru):
        """What a test states itself, written in each language."""
        return {"en": en, "ru": ru}[self.language]

    @property
    def html_lang(self):
        """<html lang> of a page in this language."""
        return self.code
