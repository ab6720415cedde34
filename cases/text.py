"""How typed text is tidied before it is stored, the same way by the forms, the API and the
imports: one-line values (names, titles, units) and multi-line texts (notes, quotes), and
language codes."""

import re


def one_line(value) -> str:
    """Trim and collapse runs of whitespace (names, titles, units, short codes)."""
    return " ".join((value or "").split())


def tidy_text(value) -> str:
    """Trim a multi-line text: unify line ends, drop trailing spaces and runs of blank
    lines, keep the paragraphs."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def language_code(value) -> str:
    """A language code as typed: ' RU ' → 'ru'."""
    return one_line(value).lower()
