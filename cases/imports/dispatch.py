"""Which importer takes a file of each kind, and the two ways in: `check_file` (the preview)
and `import_file` (the confirmation, the commands)."""

from __future__ import annotations

from ..access import CaseAccess
from .case_json import CaseJSONImporter
from .report import ImportReport, Progress
from .tables import read_table
from .tabular import IMPORTERS


def importer_for(kind: str, access: CaseAccess, user):
    if kind == CaseJSONImporter.kind:
        return CaseJSONImporter(access, user)
    return IMPORTERS[kind](access, user)


def check_file(kind: str, access: CaseAccess, user, data: bytes, name: str) -> ImportReport:
    """Check a file without writing anything (the preview)."""
    importer = importer_for(kind, access, user)
    if kind == CaseJSONImporter.kind:
        return importer.check(importer.load(data))
    return importer.check(read_table(data, name))


def import_file(kind: str, access: CaseAccess, user, data: bytes, name: str, *,
                progress: Progress | None = None,
                write_progress: Progress | None = None) -> ImportReport:
    """Check the file again and, when every row is valid, write it all in one transaction."""
    importer = importer_for(kind, access, user)
    if kind == CaseJSONImporter.kind:
        return importer.run(data)
    return importer.run(read_table(data, name), progress=progress, write_progress=write_progress)
