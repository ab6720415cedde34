"""manage.py import_incidents CASE FILE --user NAME: incidents from CSV or XLSX into a case.

Every row is checked first (with a progress bar); a file with any invalid row writes nothing
and the command lists the rows and their problems. Otherwise every row is written in one
transaction, in bulk, with a history row per incident in the user's name."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ... import imports
from ...enums import Role
from ._transfer import access_for, read_file


class Command(BaseCommand):
    help = "Import incidents (or, with import_sources, sources) from a CSV or XLSX file."
    kind = "incidents"

    def add_arguments(self, parser):
        parser.add_argument("case", help="The case's slug.")
        parser.add_argument("file", type=Path, help="A .csv (UTF-8) or .xlsx file.")
        parser.add_argument("--user", required=True,
                            help="Username of the reporter or editor importing (the history "
                                 "names them).")
        parser.add_argument("--check", action="store_true",
                            help="Check every row and report, without writing anything.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, case, file, user, check, no_progress, **options):
        access, actor = access_for(case, user, min_role=Role.REPORTER)
        data = read_file(file)
        try:
            table = imports.read_table(data, file.name)
        except imports.FileRefused as exc:
            raise CommandError(str(exc)) from None
        importer = imports.importer_for(self.kind, access, actor)
        bar_options = {"disable": no_progress, "file": self.stderr._out, "unit": " rows"}
        with tqdm(total=len(table.rows), desc="Checking", **bar_options) as checking:
            if check:
                report = importer.check(table, progress=checking.update)
                writing = None
            else:
                writing = tqdm(total=len(table.rows), desc="Writing", **bar_options)
                try:
                    report = importer.run(table, progress=checking.update,
                                          write_progress=writing.update)
                finally:
                    writing.close()
        self.print_report(report)
        if not report.ok:
            raise CommandError(f"Nothing was imported: {report.error_row_count} of "
                               f"{report.total_rows} rows have problems.")
        noun = importer.noun if report.total_rows == 1 else f"{importer.noun}s"
        if check:
            self.stdout.write(f"All {report.total_rows} {noun} can be imported (nothing written).")
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Imported {report.written} {noun} into “{access.case.title}”."))

    def print_report(self, report):
        if report.ignored_columns:
            self.stdout.write("Ignored columns: " + ", ".join(report.ignored_columns))
        for note in report.notes:
            self.stdout.write(note)
        for row in report.error_rows:
            where = f"Row {row.number}" if row.number else "File"
            for error in row.errors:
                self.stdout.write(f"{where}: {error}")
        if report.hidden_error_rows:
            self.stdout.write(f"…and {report.hidden_error_rows} more rows with problems.")
