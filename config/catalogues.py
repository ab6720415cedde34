"""Compiles the translation catalogues, locale/<language>/LC_MESSAGES/*.po, into the .mo
files Django reads, with polib (pure Python): a machine needs only Python and make, not GNU
gettext. The .mo files are built, never committed (.gitignore); `make` calls this for each
catalogue newer than its .mo, or run it by hand:

    python -m config.catalogues                 # every catalogue under locale/
    python -m config.catalogues locale/ru/LC_MESSAGES/django.po

A catalogue polib cannot read stops the build with its error, and fuzzy entries are left out
of the .mo (as msgfmt does), so a doubtful translation never reaches a page.
tests/test_i18n_catalogue.py fails on any untranslated or fuzzy entry, or a stale .mo.
"""

import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def catalogues(locale_dir=LOCALE_DIR):
    return sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po"))


def compile_catalogue(po_path) -> Path:
    po_path = Path(po_path)
    # polib writes translated entries only: untranslated and fuzzy ones are left out.
    catalogue = polib.pofile(str(po_path), encoding="utf-8")
    mo_path = po_path.with_suffix(".mo")
    # Written beside and then moved, so a running server never reads half a file.
    partial = mo_path.with_suffix(".mo.partial")
    catalogue.save_as_mofile(str(partial))
    partial.replace(mo_path)
    return mo_path


def main(arguments):
    paths = arguments or catalogues()
    for path in paths:
        print(f"compiled {compile_catalogue(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
