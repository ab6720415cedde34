"""The Russian catalogue is complete and sound, and its compiled .mo is up to date.

Every msgid of locale/ru/LC_MESSAGES/django.po has a translation (every plural form), none
is fuzzy (compiling leaves fuzzy ones out, so the page would fall back to English), the
translation keeps the msgid's placeholders (a missing %(name)s loses data, an unknown one is
a KeyError: a 500), and `make` has compiled the .po (a .mo older than its .po serves the old
translations). The checks are functions, tried on small catalogues below, then run on ours.
"""

import gettext
import os
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

from config.catalogues import catalogues, compile_catalogue

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
RUSSIAN = LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.po"

# Python's %-placeholders: %(name)s, %s, %d, %.1f; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[#0 +-]*\d*(?:\.\d+)?[sdifrxXeEgGcou]|%%")
# Templates' {% blocktranslate %} keep their variables as %(name)s; braces of str.format too.
FORMAT_FIELD = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
HTML_TAG = re.compile(r"</?([a-z][a-z0-9]*)\b", re.IGNORECASE)


def placeholders(text):
    found = sorted(PLACEHOLDER.findall(text) + FORMAT_FIELD.findall(text))
    return [item for item in found if item != "%%"]


def plural_forms_of(catalogue):
    match = re.search(r"nplurals\s*=\s*(\d+)", catalogue.metadata.get("Plural-Forms", ""))
    return int(match.group(1)) if match else 2


def problems(po_path):
    """What is wrong with the catalogue at `po_path`, one line each."""
    found = []
    catalogue = polib.pofile(str(po_path), encoding="utf-8")
    plural_forms = plural_forms_of(catalogue)
    for entry in catalogue:
        if entry.obsolete:
            continue
        where = f"msgid {entry.msgid!r}" + (f" (context {entry.msgctxt!r})"
                                             if entry.msgctxt else "")
        if entry.fuzzy:
            found.append(f"{where}: fuzzy")
        if entry.msgid_plural:
            forms = [entry.msgstr_plural.get(index, "") for index in range(plural_forms)]
            if any(not form.strip() for form in forms):
                found.append(f"{where}: plural forms missing ({plural_forms} needed)")
                continue
            translations = forms
        else:
            if not entry.msgstr.strip():
                found.append(f"{where}: not translated")
                continue
            translations = [entry.msgstr]
        expected = set(placeholders(entry.msgid))
        if entry.msgid_plural:
            expected_plural = set(placeholders(entry.msgid_plural))
            for translation in translations:
                got = set(placeholders(translation))
                # A form may leave out the count ("одну минуту"), never add or lose another.
                if not got <= expected | expected_plural or len(expected_plural - got) > 1:
                    found.append(f"{where}: placeholders {sorted(got)} in {translation!r}, "
                                 f"expected {sorted(expected_plural)}")
        elif set(placeholders(entry.msgstr)) != expected:
            found.append(f"{where}: placeholders {sorted(placeholders(entry.msgstr))} in "
                         f"{entry.msgstr!r}, expected {sorted(expected)}")
        tags = sorted(HTML_TAG.findall(entry.msgid))
        for translation in translations:
            if sorted(HTML_TAG.findall(translation)) != tags:
                found.append(f"{where}: HTML tags differ in {translation!r}")
    return found


def stale_compilation(po_path):
    """Why the .mo beside `po_path` is not its compiled form, or None."""
    mo_path = Path(po_path).with_suffix(".mo")
    if not mo_path.exists():
        return f"{mo_path} is missing: run make (it compiles the catalogues)"
    if mo_path.stat().st_mtime < Path(po_path).stat().st_mtime:
        return f"{mo_path} is older than its .po: run make (it compiles the catalogues)"
    return None


# --- the checks, on small catalogues ----------------------------------------------------------

HEADER = '''msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Language: ru\\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && \
(n%100<10 || n%100>=20) ? 1 : 2);\\n"

'''


def write_catalogue(tmp_path, body):
    path = tmp_path / "ru" / "LC_MESSAGES" / "django.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_complete_catalogue_has_no_problems(tmp_path):
    path = write_catalogue(tmp_path, '''
msgid "Cases"
msgstr "Дела"

#, python-format
msgid "Sessions last at most %(hours)s hour."
msgid_plural "Sessions last at most %(hours)s hours."
msgstr[0] "Сеанс длится не дольше %(hours)s часа."
msgstr[1] "Сеанс длится не дольше %(hours)s часов."
msgstr[2] "Сеанс длится не дольше %(hours)s часов."

msgctxt "verification status"
msgid "False"
msgstr "Ложно"

msgid "<strong>Demo mode:</strong> off"
msgstr "<strong>Демо:</strong> выкл."
''')
    assert problems(path) == []


@pytest.mark.parametrize(("body", "problem"), [
    ('msgid "Cases"\nmsgstr ""\n', "msgid 'Cases': not translated"),
    ('#, fuzzy\nmsgid "Cases"\nmsgstr "Дела"\n', "msgid 'Cases': fuzzy"),
    ('msgid "%(n)s case"\nmsgid_plural "%(n)s cases"\nmsgstr[0] "%(n)s дело"\n'
     'msgstr[1] "%(n)s дела"\nmsgstr[2] ""\n', "plural forms missing (3 needed)"),
    ('#, python-format\nmsgid "Case %(title)s"\nmsgstr "Дело %(name)s"\n',
     "placeholders ['%(name)s']"),
    ('#, python-format\nmsgid "Case %(title)s"\nmsgstr "Дело"\n', "placeholders []"),
    ('msgid "<strong>Demo</strong>"\nmsgstr "Демо"\n', "HTML tags differ"),
    ('msgctxt "status"\nmsgid "Open"\nmsgstr ""\n', "(context 'status'): not translated"),
])
def test_each_problem_is_found(tmp_path, body, problem):
    path = write_catalogue(tmp_path, body)

    found = problems(path)

    assert len(found) == 1 and problem in found[0], found


def test_a_mo_older_than_its_po_is_stale(tmp_path):
    path = write_catalogue(tmp_path, 'msgid "Cases"\nmsgstr "Дела"\n')
    assert "missing" in stale_compilation(path)

    mo_path = compile_catalogue(path)
    assert stale_compilation(path) is None
    old = path.stat().st_mtime - 10
    os.utime(mo_path, (old, old))
    assert "older than its .po" in stale_compilation(path)


def test_the_compiled_catalogue_translates_with_gettext(tmp_path):
    path = write_catalogue(tmp_path, '''
msgid "Cases"
msgstr "Дела"

msgid "%(n)s minute"
msgid_plural "%(n)s minutes"
msgstr[0] "%(n)s минуту"
msgstr[1] "%(n)s минуты"
msgstr[2] "%(n)s минут"

msgctxt "verification status"
msgid "False"
msgstr "Ложно"

#, fuzzy
msgid "Claims"
msgstr "Утверждения"
''')
    compile_catalogue(path)
    with path.with_suffix(".mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)

    assert compiled.gettext("Cases") == "Дела"
    assert [compiled.ngettext("%(n)s minute", "%(n)s minutes", n) for n in (1, 3, 5)] == [
        "%(n)s минуту", "%(n)s минуты", "%(n)s минут"]
    assert compiled.pgettext("verification status", "False") == "Ложно"
    assert compiled.gettext("Claims") == "Claims"  # a fuzzy entry is left out


# --- our catalogues ---------------------------------------------------------------------------


def test_the_russian_catalogue_exists():
    assert RUSSIAN in catalogues(LOCALE_DIR), f"{RUSSIAN} is missing: make messages creates it"


@pytest.mark.parametrize("po_path", catalogues(LOCALE_DIR), ids=str)
def test_every_catalogue_is_complete(po_path):
    found = problems(po_path)
    assert not found, f"{len(found)} problems in {po_path}:\n" + "\n".join(found)


@pytest.mark.parametrize("po_path", catalogues(LOCALE_DIR), ids=str)
def test_every_catalogue_is_compiled_and_up_to_date(po_path):
    assert stale_compilation(po_path) is None, stale_compilation(po_path)
