"""manage.py import_case CASE FILE --user NAME: a case exported as JSON into an empty case."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ... import imports
from ...enums import Role
from ._transfer import access_for, read_file
from .import_incidents import Command as ImportCommand


class Command(BaseCommand):
    help = "Import a whole case exported as JSON (export_case --format json) into an empty case."

    def add_arguments(self, parser):
        parser.add_argument("case", help="The slug of the (empty) case to import into.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--user", required=True)

    def handle(self, *args, case, file, user, **options):
        access, actor = access_for(case, user, min_role=Role.REPORTER)
        data = read_file(file)
        try:
            report = imports.CaseJSONImporter(access, actor).run(data)
        except imports.FileRefused as exc:
            raise CommandError(str(exc)) from None
        ImportCommand.print_report(self, report)
        if not report.ok:
            raise CommandError(f"Nothing was imported: {report.error_row_count} records have "
                               "problems.")
        self.stdout.write(self.style.SUCCESS(f"Imported {report.written} records."))
