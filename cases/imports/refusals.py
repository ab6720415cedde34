"""How an import says no: a whole file (FileRefused), one cell (CellError) or one problem of
a row as the preview and the commands show it (RowError). Each carries a machine-readable
`code`, for the upload form's error, the commands and tests."""

from __future__ import annotations


class FileRefused(Exception):
    """The file as a whole cannot be imported (not CSV/XLSX, no header, a missing column, over
    a limit). `code` says which refusal it is, for the form's error and for tests."""

    def __init__(self, message, code="file_refused"):
        super().__init__(str(message))
        self.code = code


class CellError(Exception):
    """What is wrong with one cell; `code` says which refusal it is (RowError keeps it)."""

    def __init__(self, message, code="invalid"):
        super().__init__(str(message))
        self.code = code


class RowError(str):
    """One problem of a row as shown ("title: is empty"), with the `code` of the refusal."""

    code: str

    def __new__(cls, text, code="invalid"):
        error = super().__new__(cls, text)
        error.code = code
        return error


def row_error(error, prefix: str = "") -> RowError:
    """`error` (a RowError or any text) under `prefix`, keeping its code."""
    return RowError(prefix + error, getattr(error, "code", "invalid"))
