"""manage.py export_case CASE --user NAME --format csv|xlsx|json|geojson|claimreview [-o FILE]

The same exports as the case's Export page, for a member of the case. Written to FILE, or to
standard output for the text formats. No export carries a protected identity."""

import shutil
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ... import exports
from ...enums import Role
from ._transfer import access_for


class Command(BaseCommand):
    help = "Export a case: incidents (CSV, XLSX, GeoJSON), the whole case (JSON), ClaimReview."

    def add_arguments(self, parser):
        parser.add_argument("case", help="The case's slug.")
        parser.add_argument("--user", required=True, help="A member of the case.")
        parser.add_argument("--format", dest="export_format", required=True,
                            choices=sorted(exports.EXPORTS))
        parser.add_argument("-o", "--output", type=Path,
                            help="File to write (default: standard output; required for xlsx).")

    def handle(self, *args, case, user, export_format, output, **options):
        access, actor = access_for(case, user, min_role=Role.VIEWER)
        if export_format == "xlsx":
            if output is None:
                raise CommandError("An XLSX export needs --output FILE.")
            with exports.incidents_xlsx(access.case) as workbook, output.open("wb") as target:
                shutil.copyfileobj(workbook, target)
        else:
            chunks = exports.export_chunks(access.case, export_format, user=actor)
            if output is None:
                for chunk in chunks:
                    self.stdout.write(chunk, ending="")
            else:
                with output.open("w", encoding="utf-8", newline="") as target:
                    for chunk in chunks:
                        target.write(chunk)
        if output is not None:
            sys.stderr.write(f"Wrote {output}\n")
