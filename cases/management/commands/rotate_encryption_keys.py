"""Re-encrypt every encrypted value under the newest key of CASEDESK_ENCRYPTION_KEYS.

Rotation, step by step:
  1. put a new key first in CASEDESK_ENCRYPTION_KEYS, keep the old ones after it, restart;
  2. `manage.py rotate_encryption_keys` (safe to run again: values already under the newest
     key are left alone; it works in batches, each in its own transaction);
  3. `manage.py rotate_encryption_keys --check` reports 0, then drop the old keys.

Every model with an encrypted field is covered, history tables included (the source
identities, a protected source's address among them, the protected addresses of citations,
and their django-simple-history copies), and so are the two-factor secrets that
allauth keeps inside its authenticators' JSON (config/auth.py, MFAAdapter). The command
reads and writes the stored tokens only: no plaintext passes through it, and re-encrypting
is not an edit, so it writes no history row and leaves the records' versions alone.
"""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import router, transaction
from django.db.models import Q

from ... import crypto
from ...history import history_maintenance


def encrypted_models():
    """(model, [encrypted field names]) for every installed model that has any."""
    for model in apps.get_models():
        names = [f.name for f in crypto.encrypted_fields(model)]
        if names and not model._meta.proxy:
            yield model, names


class Command(BaseCommand):
    help = ("Re-encrypt every protected value (source identities and their history) under the "
            "newest key of CASEDESK_ENCRYPTION_KEYS. With --check, only report how many rows "
            "are not under it yet (and exit 1 if any are).")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="Change nothing: count the rows not under the newest key.")
        parser.add_argument("--batch-size", type=int, default=500,
                            help="Rows re-encrypted per transaction (default 500).")

    def handle(self, *args, check=False, batch_size=500, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        keys = crypto.configured_keys()
        crypto.multi_fernet()  # refuse bad keys before touching anything
        self.stdout.write(f"{len(keys)} key{'s' if len(keys) != 1 else ''} configured; "
                          "the first is the newest.")
        totals = {"rows": 0, "stale": 0, "rotated": 0, "unreadable": 0}
        for model, fields in encrypted_models():
            counts = (self.check_model(model, fields, batch_size) if check
                      else self.rotate_model(model, fields, batch_size))
            for name, value in counts.items():
                totals[name] += value
            self.stdout.write(self.describe(model._meta.label, counts, check))
        counts = self.rotate_authenticators(batch_size, check=check)
        for name, value in counts.items():
            totals[name] += value
        self.stdout.write(self.describe("mfa.Authenticator (two-factor secrets)", counts, check))
        self.stdout.write(self.describe("total", totals, check))
        if totals["unreadable"]:
            raise CommandError(
                f"{totals['unreadable']} row(s) hold values that no configured key opens: "
                "add the key they were written with to CASEDESK_ENCRYPTION_KEYS.")
        if check and totals["stale"]:
            raise CommandError(f"{totals['stale']} row(s) are not under the newest key: run "
                               "`manage.py rotate_encryption_keys`.")

    @staticmethod
    def describe(label, counts, check) -> str:
        if check:
            text = (f"{label}: {counts['rows']} rows, {counts['stale']} not under the newest "
                    "key")
        else:
            text = (f"{label}: {counts['rows']} rows, {counts['rotated']} re-encrypted, "
                    f"{counts['rows'] - counts['rotated'] - counts['unreadable']} already "
                    "under the newest key")
        if counts["unreadable"]:
            text += f", {counts['unreadable']} unreadable with the configured keys"
        return text

    @staticmethod
    def _batches(model, fields, batch_size):
        """Batches of (pk, {field: stored token}), by primary key, read as stored: the rows
        that hold a token (most citations hold none, and are neither read nor locked)."""
        manager = model._base_manager
        holding = Q()
        for name in fields:
            holding |= Q(**{f"{name}__isnull": False})
        last_pk = None
        while True:
            queryset = manager.filter(holding)
            if last_pk is not None:
                queryset = queryset.filter(pk__gt=last_pk)
            batch = list(crypto.raw_rows(queryset, fields, limit=batch_size))
            if not batch:
                return
            yield batch
            last_pk = batch[-1][0]

    @staticmethod
    def _classify(values):
        """(stale fields, unreadable fields) of one row."""
        stale, unreadable = [], []
        for name, token in values.items():
            if token is None or crypto.is_under_newest_key(token):
                continue
            (stale if crypto.opens(token) else unreadable).append(name)
        return stale, unreadable

    def check_model(self, model, fields, batch_size):
        counts = {"rows": 0, "stale": 0, "rotated": 0, "unreadable": 0}
        for batch in self._batches(model, fields, batch_size):
            for _pk, values in batch:
                counts["rows"] += 1
                stale, unreadable = self._classify(values)
                if unreadable:
                    counts["unreadable"] += 1
                elif stale:
                    counts["stale"] += 1
        return counts

    def rotate_model(self, model, fields, batch_size):
        counts = {"rows": 0, "stale": 0, "rotated": 0, "unreadable": 0}
        manager = model._base_manager
        db = router.db_for_write(model)
        for batch in self._batches(model, fields, batch_size):
            # History rows are append-only (on PostgreSQL a trigger refuses UPDATE): a new
            # token for the same value is the one rewrite let through, and only here.
            with transaction.atomic(using=db), history_maintenance(
                    db, reason=f"rotate_encryption_keys: {model._meta.label}"):
                # Read the batch again under a lock: a save since it was read wins.
                locked = list(crypto.raw_rows(
                    manager.filter(pk__in=[pk for pk, _ in batch]).select_for_update(), fields))
                for pk, values in locked:
                    counts["rows"] += 1
                    stale, unreadable = self._classify(values)
                    if unreadable:
                        counts["unreadable"] += 1
                    elif stale:
                        crypto.write_raw(manager, pk, {
                            name: crypto.rotate(values[name]) for name in stale})
                        counts["rotated"] += 1
        return counts

    def rotate_authenticators(self, batch_size, *, check):
        """The TOTP secrets and recovery-code seeds: tokens inside a JSON column."""
        from allauth.mfa.models import Authenticator

        from config.auth import AUTHENTICATOR_SECRET_KEYS

        counts = {"rows": 0, "stale": 0, "rotated": 0, "unreadable": 0}
        queryset = Authenticator.objects.filter(type__in=list(AUTHENTICATOR_SECRET_KEYS))
        pks = list(queryset.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch_size):
            with transaction.atomic(using=router.db_for_write(Authenticator)):
                for authenticator in queryset.filter(
                        pk__in=pks[start:start + batch_size]).select_for_update():
                    counts["rows"] += 1
                    data = dict(authenticator.data)
                    keys = [key for key in AUTHENTICATOR_SECRET_KEYS[authenticator.type]
                            if data.get(key) is not None]
                    tokens = [token for key in keys for token in (
                        data[key] if isinstance(data[key], list) else [data[key]])]
                    stale, unreadable = self._classify(dict(enumerate(tokens)))
                    if unreadable:
                        counts["unreadable"] += 1
                    elif stale:
                        counts["stale"] += 1
                        if not check:
                            for key in keys:
                                value = data[key]
                                data[key] = ([crypto.rotate(token) for token in value]
                                             if isinstance(value, list)
                                             else crypto.rotate(value))
                            Authenticator.objects.filter(pk=authenticator.pk).update(data=data)
                            counts["rotated"] += 1
        return counts
