"""Which importer takes a file of each kind, and the two ways in: `check_file` (the preview)
and `import_file` (the confirmation, the commands)."""

from __future__ import annotations

from ..access import CaseAccess
from .base import Importer
from .case_json import CaseJSONImporter
from .claims import ClaimImporter
from .report import ImportReport, Progress
from .tabular import IncidentImporter, SourceImporter

IMPORTERS: dict[str, type[Importer]] = {
    importer.kind: importer
    for importer in (IncidentImporter, SourceImporter, ClaimImporter, CaseJSONImporter)
}


def importer_for(kind: str, access: CaseAccess, user) -> Importer:
    return IMPORTERS[kind](access, user)


def check_file(kind: str, access: CaseAccess, user, data: bytes, name: str) -> ImportReport:
    """Check a file without writing anything (the preview)."""
    importer = importer_for(kind, access, user)
    return importer.check(importer.read(data, name))


def import_file(kind: str, access: CaseAccess, user, data: bytes, name: str, *,
                progress: Progress | None = None,
                write_progress: Progress | None = None) -> ImportReport:
    """Check the file again and, when every row is valid, write it all in one transaction."""
    importer = importer_for(kind, access, user)
    return importer.run(importer.read(data, name), progress=progress,
                        write_progress=write_progress)
