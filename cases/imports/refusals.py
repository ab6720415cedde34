"""How an import says no: a whole file (FileRefused), one cell (CellError) or one problem of
a row as the preview and the commands show it (RowError). Each carries a machine-readable
`code`, given where the refusal is made, for the upload form's error, the commands and tests.

Where a form field would refuse the same value, the code is Django's (`required`,
`max_length`, `invalid`, `invalid_choice`, `min_value`, `max_value`, a date's codes from
cases/fuzzydate.py and cases/timebounds.py); the rules of the imports have their own
(`name_taken`, `reached_via_cycle`, `too_many_rows`…). tests/test_import_codes.py pins each."""

from __future__ import annotations

from django.utils.translation import gettext as _

from ..models.source import MAX_RELAYS, relay_errors


class FileRefused(Exception):
    """The file as a whole cannot be imported (not CSV/XLSX, no header, a missing column, over
    a limit). `code` says which refusal it is."""

    def __init__(self, message, *, code: str):
        super().__init__(str(message))
        self.code = code


class CellError(Exception):
    """What is wrong with one cell; `code` says which refusal it is (RowError keeps it)."""

    def __init__(self, message, *, code: str):
        super().__init__(str(message))
        self.code = code


class RowError(str):
    """One problem of a row as shown ("title: is empty"), with the `code` of the refusal."""

    code: str

    def __new__(cls, text, code: str):
        error = super().__new__(cls, text)
        error.code = code
        return error

    def under(self, prefix: str) -> RowError:
        """This problem named under `prefix` ("claim #3: "), with its code."""
        return RowError(prefix + self, self.code)


def cell_problem(column: str, message, code: str) -> RowError:
    """A problem of the cell (or cells) `column` names: "title: is empty". The column's name
    is the file's, never translated; the message is in the reader's language."""
    return RowError(f"{column}: {message}", code)


def relay_problems(column: str, relays, source) -> list[RowError]:
    """What is wrong with a citation's relays (the file's references or ids, in the order
    given) whose source is `source`, as problems of `column`: judged by the rule every writer
    applies (relay_errors: a relay named twice is refused, never merged, and counts towards
    MAX_RELAYS), worded as a cell's problem ("via: names a relay twice")."""
    words = {
        "relays_too_many": _("names more than %(limit)d relays") % {"limit": MAX_RELAYS},
        "relay_repeated": _("names a relay twice"),
        "attribution_self": _("a source cannot be relayed through itself"),
    }
    return [cell_problem(column, words.get(error.code) or " ".join(error.messages), error.code)
            for error in relay_errors(None, source, relays)]
