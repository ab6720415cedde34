"""The text normalisers shared by the forms, the API and the imports (cases/text.py)."""

import pytest

from cases.text import language_code, one_line, tidy_text


@pytest.mark.parametrize(("typed", "stored"), [
    ("  Rostov   Oblast \t", "Rostov Oblast"),
    ("two\nlines", "two lines"),
    ("", ""),
    (None, ""),
])
def test_one_line_collapses_whitespace(typed, stored):
    assert one_line(typed) == stored


def test_tidy_text_keeps_paragraphs_and_drops_blank_runs_and_trailing_spaces():
    typed = "  First line.  \r\nSecond line.\r\r\n\n\n\nNext paragraph.\t\n\n"

    assert tidy_text(typed) == "First line.\nSecond line.\n\nNext paragraph."


def test_tidy_text_of_nothing_is_empty():
    assert tidy_text(None) == tidy_text("") == ""


@pytest.mark.parametrize(("typed", "stored"), [(" RU ", "ru"), ("pt BR", "pt br"), (None, "")])
def test_language_code_is_trimmed_and_lowercase(typed, stored):
    assert language_code(typed) == stored
