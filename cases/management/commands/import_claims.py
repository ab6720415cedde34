"""manage.py import_claims CASE FILE --user NAME: claims with their citations from CSV or XLSX.

One row per citation, grouped into claims (docs/import-format.md). The sources must already be
in the case; every claim starts unverified: only the workflow sets a status."""

from .import_incidents import Command as ImportCommand


class Command(ImportCommand):
    help = ("Import claims with their citations from a CSV or XLSX file (sources must be in "
            "the case; claims start unverified).")
    kind = "claims"
