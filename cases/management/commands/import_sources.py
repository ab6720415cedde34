"""manage.py import_sources CASE FILE --user NAME: sources from CSV or XLSX into a case.

Identity columns (real_name, contact, private_notes) are accepted only when the user is one
of the case's source handlers; they are stored encrypted."""

from .import_incidents import Command as ImportCommand


class Command(ImportCommand):
    help = "Import sources from a CSV or XLSX file (identities only from source handlers)."
    kind = "sources"
