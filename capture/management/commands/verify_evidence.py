"""manage.py verify_evidence [CASE_SLUG]: re-hash every evidence file and capture, verify
every timestamp token, report each mismatch; exit status 1 on any (capture/verification.py).
"""

from django.core.management.base import BaseCommand, CommandError

from cases.models import Case

from ...verification import verify


class Command(BaseCommand):
    help = ("Re-hash every evidence file (of one case, or of all) and every capture, verify "
            "every RFC 3161 timestamp, and report each mismatch. Exit status 1 on any.")

    def add_arguments(self, parser):
        parser.add_argument("case_slug", nargs="?", help="Only this case's evidence.")

    def handle(self, *args, case_slug=None, **options):
        case = None
        if case_slug:
            case = Case.objects.filter(slug=case_slug).first()
            if case is None:
                raise CommandError(f"No case “{case_slug}”.")
        report = verify(case)
        for finding in report.findings:
            stream = self.stderr if finding.fatal else self.stdout
            stream.write(str(finding))
        mismatches = sum(1 for finding in report.findings if finding.fatal)
        summary = (f"Checked {report.evidence_checked} evidence files and "
                   f"{report.captures_checked} captures; {report.timestamps_verified} "
                   f"timestamps verified; {mismatches} mismatches.")
        if report.failed:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
