"""The shape every importer has, whatever it reads: made for one case and the user importing,
it reads a file's bytes (`read`), checks what it read without writing anything (`check`),
writes what a check accepted (`write`), and `run`s the check and the write in one
transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import ngettext

from ..access import CaseAccess
from .limits import grouped
from .report import ImportReport, Progress


class Importer:
    kind = ""  # what the upload form and the commands call this import
    noun = "record"  # one of what it writes, for messages

    def counted(self, count: int) -> str:
        """`count` of what this import writes, in the reader's language: "12 incidents"."""
        return ngettext("%(count)s record", "%(count)s records", count) % {
            "count": grouped(count)}

    def __init__(self, access: CaseAccess, user):
        self.access, self.case, self.user = access, access.case, user

    def read(self, data: bytes, name: str = "") -> Any:
        """What `check` takes, from the file's bytes and name, or FileRefused."""
        raise NotImplementedError

    def check(self, source, *, progress: Progress | None = None) -> ImportReport:
        """Every problem of every row of what `read` returned, and the values to write."""
        raise NotImplementedError

    def write(self, report: ImportReport, *, progress: Progress | None = None) -> int:
        """Write what `check` accepted (`report.records`); the number of records written."""
        raise NotImplementedError

    def run(self, source, *, progress: Progress | None = None,
            write_progress: Progress | None = None) -> ImportReport:
        """Check every row; when none has an error, write them all (or, on a database
        refusal, none)."""
        with transaction.atomic():
            report = self.check(source, progress=progress)
            if report.ok:
                report.written = self.write(report, progress=write_progress)
        return report
