"""Importing into a case: incidents, sources, and claims with their citations from CSV or XLSX
files (docs/import-format.md), and a whole case from our JSON export.

One path for the browser (upload → preview → confirm, cases/views/transfer.py) and the
management commands (import_incidents, import_sources, import_case; claims: the browser
only, for now):

1. The importer reads the file (tables.py: a header and rows of cells; case_json.py: the
   export's document), or refuses it as a whole with a clear message and a code
   (`FileRefused`, refusals.py). Rows and cells are counted as they are read, and a file is
   refused at the first over the limits (limits.py, `CASEDESK_IMPORT_MAX_*`), never read
   whole first.
2. An importer (tabular.py: `IncidentImporter`, `SourceImporter`; claims.py:
   `ClaimImporter`, a claim and its citations over several rows; case_json.py:
   `CaseJSONImporter`; all of the shape in base.py) checks every row, collecting every error
   of every row with its code (`ImportReport`, report.py; the cell parsers are in cells.py),
   without writing anything.
3. `write()` runs only when no row has an error, in one transaction: all rows or none.
   dispatch.py picks the importer of a kind and runs these steps.

Between the preview and the confirmation the browser's upload waits on the server, encrypted
(staging.py). Who may import: reporters and editors of the case (as for the record forms); a
protected source's identity only from the case's source handlers.
"""

from .base import Importer
from .case_json import CaseJSONImporter
from .claims import ClaimImporter
from .dispatch import IMPORTERS, check_file, import_file, importer_for
from .limits import max_cells, max_compression_ratio, max_rows, max_uncompressed_bytes
from .refusals import CellError, FileRefused, RowError
from .report import ImportReport, Progress, RowReport
from .staging import StagingExpired, discard_staged, read_staged, stage_upload
from .tables import Table, read_table
from .tabular import IncidentImporter, SourceImporter, TabularImporter

__all__ = [
    "IMPORTERS", "CaseJSONImporter", "CellError", "ClaimImporter", "FileRefused",
    "ImportReport", "Importer",
    "IncidentImporter", "Progress", "RowError", "RowReport", "SourceImporter", "StagingExpired",
    "Table", "TabularImporter", "check_file", "discard_staged",
    "import_file", "importer_for", "max_cells", "max_compression_ratio", "max_rows",
    "max_uncompressed_bytes", "read_staged", "read_table", "stage_upload",
]
