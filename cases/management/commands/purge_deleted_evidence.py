"""Remove for good, from storage, the evidence files deleted in the workspace longer ago than
the restore window (cases/deletion.py, RESTORE_DAYS).

    manage.py purge_deleted_evidence --actor USERNAME [--older-than DAYS] [--dry-run]

For each file deleted before the window (and not restored since, not purged yet) every file
its row holds is deleted through the storage API, the row is kept with its SHA-256 and size,
and a "purged" custody entry is appended in the actor's name (an active staff account). A
file storage fails to delete is reported and keeps its place: no "purged" entry, and the
next run tries again (exit status 1). A second run purges nothing more. The output names
each file by its id, its case's address and its file name; the files of a protected source's
capture by their role, since their names may come from its address.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from ...deletion import RESTORE_DAYS, purge_evidence, purgeable_evidence
from ...evidence_files import thumbnail_cache_key
from ...models import Evidence


def describe(evidence: Evidence) -> str:
    """`evidence` by id, case address and file name, and nothing a protected source's
    capture shows."""
    try:
        capture_file = evidence.capture_file
    except Evidence.capture_file.RelatedObjectDoesNotExist:
        capture_file = None
    if capture_file is not None and capture_file.capture.protected:
        name = gettext("%(role)s of a protected capture") % {
            "role": capture_file.get_role_display()}
    else:
        name = evidence.original_name or gettext("file without a name")
    return gettext("evidence %(id)s (case %(case)s): %(name)s") % {
        "id": evidence.pk, "case": evidence.case.slug, "name": name}


class Command(BaseCommand):
    help = ("Delete from storage, for good, the evidence files deleted in the workspace more "
            f"than {RESTORE_DAYS} days ago; their rows, hashes and custody logs are kept, "
            "with a 'purged' entry.")

    def add_arguments(self, parser):
        parser.add_argument("--actor", required=True, metavar="USERNAME",
                            help="The active staff account the custody entries name.")
        parser.add_argument("--older-than", type=int, default=RESTORE_DAYS, metavar="DAYS",
                            help=f"Deleted more than DAYS days ago (at least {RESTORE_DAYS}, "
                                 "the restore window; the default).")
        parser.add_argument("--dry-run", action="store_true",
                            help="List what would be purged; change nothing.")

    def handle(self, *args, actor, older_than=RESTORE_DAYS, dry_run=False, **options):
        if older_than < RESTORE_DAYS:
            raise CommandError(ngettext(
                "--older-than must be at least %(days)d day, the restore window.",
                "--older-than must be at least %(days)d days, the restore window.",
                RESTORE_DAYS) % {"days": RESTORE_DAYS})
        user_model = get_user_model()
        user = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: actor}, is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(gettext("--actor must name an active staff account."))
        cutoff = timezone.now() - dt.timedelta(days=older_than)
        candidates = purgeable_evidence(cutoff).select_related("case", "capture_file__capture")
        if dry_run:
            found = list(candidates)
            for evidence in found:
                self.stdout.write(gettext("Would purge %(evidence)s") % {
                    "evidence": describe(evidence)})
            self.stdout.write(ngettext("%(count)d evidence file would be purged (dry run).",
                                       "%(count)d evidence files would be purged (dry run).",
                                       len(found)) % {"count": len(found)})
            return
        note = ngettext(
            "Purged from storage by an operator, %(days)d day or more after its deletion; "
            "its SHA-256 and size are kept.",
            "Purged from storage by an operator, %(days)d days or more after its deletion; "
            "its SHA-256 and size are kept.", older_than) % {"days": older_than}
        with transaction.atomic():
            # Locked against a second run at the same time; downloads (a custody entry's
            # reference to the row) are not blocked.
            found = list(candidates.select_for_update(no_key=True, of=("self",)))
            outcome = purge_evidence(found, user, note)
        cache.delete_many([thumbnail_cache_key(evidence.sha256)
                           for evidence in outcome.purged if evidence.sha256])
        for evidence in outcome.purged:
            self.stdout.write(gettext("Purged %(evidence)s") % {"evidence": describe(evidence)})
        for evidence, why in outcome.failed:
            self.stderr.write(gettext("Not purged %(evidence)s: %(why)s") % {
                "evidence": describe(evidence), "why": why})
        self.stdout.write(ngettext("%(count)d evidence file purged.",
                                   "%(count)d evidence files purged.",
                                   len(outcome.purged)) % {"count": len(outcome.purged)})
        if outcome.failed:
            raise CommandError(ngettext(
                "%(count)d evidence file could not be deleted from storage; it is kept and "
                "the next run tries again.",
                "%(count)d evidence files could not be deleted from storage; they are kept "
                "and the next run tries again.",
                len(outcome.failed)) % {"count": len(outcome.failed)})
