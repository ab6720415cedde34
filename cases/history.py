"""History that tells the truth: every write leaves a history row naming who made it, and on
PostgreSQL nothing can rewrite or remove those rows afterwards.

django-simple-history writes a historical row from `post_save` / `post_delete`, with the user
of the request (`HistoryRequestMiddleware`) or `instance._history_user` (the workflow, the
admin, seed_demo). Writes that send no signals leave no row: `QuerySet.update()`,
`bulk_create()`, `bulk_update()`, raw SQL, and the `UPDATE … SET x = NULL` Django's deletion
collector issues for `on_delete=SET_NULL`. So:

- **Bulk writes** of history-tracked models go through `bulk_create_with_history`,
  `bulk_update_with_history` and `update_with_history` below (they take the acting user,
  explicitly). tests/test_history.py fails when a new `.update(` / `bulk_create(` /
  `bulk_update(` / raw SQL call appears in `cases/` outside its allow-list.
- **Links cleared by a deletion** (a claim's incident when the incident is deleted…) get a
  history row too: see `_record_cleared_links`.
- **Who acted** is part of the record: a user named in history cannot be deleted
  (`history_user` is PROTECT, see `HistoricalRecords`); deactivate the account instead.

**Append-only on PostgreSQL.** Migration 0004 installs `casedesk_append_only()` and, on every
`cases_historical*` table and on the audit logs (`APPEND_ONLY_LOGS`), a row trigger refusing
UPDATE and DELETE and a statement trigger refusing TRUNCATE (SQLSTATE 23001,
restrict_violation: Django raises `IntegrityError`). After every `migrate`, `install_guards`
runs again (post_migrate), so a history table created by a later migration is guarded too.
The one exception in normal operation is `IdentityReveal.source_id`, which a source's deletion
sets to NULL (the entry keeps the codename): the trigger lets an UPDATE through that clears
that column and changes nothing else.

**Append-only on SQLite** (the local demo's database) too: the same tables get a BEFORE
UPDATE and a BEFORE DELETE trigger each that `RAISE(ABORT)` (Django raises `IntegrityError`),
with the same exception for `IdentityReveal.source_id`. They are (re)created after every
`migrate` once 0004 is applied (post_migrate): a migration that remakes a table drops its
triggers, and the reveal log's trigger lists the columns it compares, so a new column must
join the list. That one trigger is dropped before `migrate` (pre_migrate), since SQLite
refuses to drop a column a trigger names. SQLite has no TRUNCATE; DROP TABLE fires no trigger.

**Maintenance.** The single, explicit way past the trigger is `history_maintenance()`: a
transaction-local `casedesk.history_maintenance = 'on'` on PostgreSQL; on SQLite, whose
triggers cannot read a setting or a TEMP table, a row in `casedesk_history_maintenance`
inserted and deleted again inside the block's transaction (the one writer holds the database
meanwhile, so no other connection ever sees it). It is for `manage.py
rotate_encryption_keys` (which rewrites the ciphertext in HistoricalSourceIdentity: a new
token for the same value, not an edit) and for a future data migration that must touch
history; nothing else in `cases/` may use it (tests/test_history.py holds the list). A
database operator can do the same by hand in psql (`BEGIN; SET LOCAL
casedesk.history_maintenance = 'on'; …; COMMIT;`), which is the only way to erase an audit log.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import re
from dataclasses import dataclass, replace

from django.core.exceptions import ObjectDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.models.signals import post_delete, post_migrate, pre_delete, pre_migrate
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext, npgettext, pgettext, pgettext_lazy
from simple_history import models as simple_history_models
from simple_history.utils import bulk_create_with_history as _bulk_create_with_history
from simple_history.utils import get_history_manager_for_model

logger = logging.getLogger("casedesk.history")

MAINTENANCE_SETTING = "casedesk.history_maintenance"
GUARD_FUNCTION = "casedesk_append_only"
ROW_TRIGGER = "casedesk_append_only"
TRUNCATE_TRIGGER = "casedesk_append_only_truncate"
HISTORY_TABLE_PATTERN = r"cases\_historical%"

#: The change reason of the rows a restore from "Recently deleted" writes (cases/deletion.py):
#: the record's "+" row, and the "~" rows of the records whose link to it comes back. Kept
#: here, not in deletion.py (which imports this module), so history's readers can tell a
#: restore from a creation.
RESTORED_REASON = "restored"

#: The audit logs (AppendOnlyQuerySet models) that carry no simple-history of their own,
#: with the columns a deletion elsewhere may set to NULL (on_delete=SET_NULL).
APPEND_ONLY_LOGS = {
    "cases_verificationevent": (),
    "cases_custodyentry": (),
    "cases_identityreveal": ("source_id",),
}


# --- who acted: a user named in history cannot be deleted -------------------------------------

class HistoricalRecords(simple_history_models.HistoricalRecords):
    """simple-history's HistoricalRecords, except that `history_user` is PROTECT.

    simple-history sets it to NULL when the user is deleted: an UPDATE of every history row
    they wrote, which forgets who made the change (and which the append-only trigger refuses,
    so on PostgreSQL the deletion would fail with a database error). With PROTECT the
    deletion is refused up front, as for the audit logs' `actor`: the admin says which
    records stand in the way, and the account is deactivated instead."""

    def get_meta_options(self, model):
        meta = super().get_meta_options(model)
        # simple-history names the history "historical <name>" in English, from the name as it
        # reads when the model is loaded: these follow the reader's language.
        if not self.user_set_verbose_name:
            meta["verbose_name"] = _historical_name(model._meta.verbose_name)
        if not self.user_set_verbose_name_plural:
            meta["verbose_name_plural"] = _historical_name(model._meta.verbose_name_plural)
        return meta

    def get_extra_fields(self, model, fields):
        extra = super().get_extra_fields(model, fields)
        extra["__str__"] = _historical_str
        return extra

    def _get_history_user_fields(self):
        fields = super()._get_history_user_fields()
        user_field = fields.get("history_user")
        if isinstance(user_field, models.ForeignKey):
            user_field.remote_field.on_delete = models.PROTECT
        return fields


def _name_of_history(name) -> str:
    return gettext("historical %(name)s") % {"name": name}


# Lazy whatever `name` is: models load before translations can be read.
_historical_name = lazy(_name_of_history, str)


def _historical_str(historical) -> str:
    """"<record> as of <date>", as simple-history says it, or "<model> <id> as of <date>" when
    the record's own text names a record deleted since: history keeps the ids of what it
    pointed to without a constraint, so a membership's copy can outlive its case and its
    `__str__` (the admin's deletion page lists such copies) raised DoesNotExist."""
    try:
        described = str(historical.history_object)
    except ObjectDoesNotExist:
        model = historical.instance_type
        described = pgettext("a record named by its kind and id", "%(model)s %(id)s") % {
            "model": model._meta.verbose_name,
            "id": getattr(historical, model._meta.pk.attname)}
    # The moment as stored, to the microsecond: two rows of one second stay apart.
    return gettext("%(record)s as of %(date)s") % {"record": described,
                                                     "date": historical.history_date}


def is_history_tracked(model) -> bool:
    return hasattr(model._meta, "simple_history_manager_attribute")


# --- bulk writes that leave history ---------------------------------------------------------

def _model_of(objs):
    kinds = {type(obj) for obj in objs}
    if len(kinds) != 1:
        raise TypeError(f"Bulk writes take records of one model, not {sorted(map(str, kinds))}.")
    (model,) = kinds
    get_history_manager_for_model(model)  # NotHistoricalModelError for untracked models
    return model


def _auto_now_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]


def _record_changes(model, pks, *, user, reason, using) -> list:
    """A "changed" history row for each record in `pks`, from what is stored now."""
    rows = list(model._base_manager.using(using).filter(pk__in=pks).order_by("pk"))
    get_history_manager_for_model(model).bulk_history_create(
        rows, update=True, default_user=user, default_change_reason=reason)
    return rows


def bulk_create_with_history(objs, *, user, reason: str = "", batch_size=None) -> list:
    """`Model.objects.bulk_create(objs)` plus a "created" history row for each record,
    written by `user` (see update_with_history for `user=None`).

    Like bulk_create, it calls no `save()`: do not use it for models whose save() derives
    fields (Incident's dates, Evidence's hash, Case's slug) unless `objs` carry them."""
    objs = list(objs)
    if not objs:
        return []
    model = _model_of(objs)
    with transaction.atomic(using=router.db_for_write(model)):
        return _bulk_create_with_history(objs, model, batch_size=batch_size,
                                         default_user=user, default_change_reason=reason)


def bulk_update_with_history(objs, fields, *, user, reason: str = "", batch_size=None) -> int:
    """`Model.objects.bulk_update(objs, fields)` plus a "changed" history row for each record,
    written by `user`. `updated_at` moves too (a record's version: see cases.concurrency).

    The history rows are read back from the database after the update, so they show what is
    stored, whatever else the objects held in memory."""
    objs = list(objs)
    if not objs:
        return 0
    model = _model_of(objs)
    fields = list(fields)
    now = timezone.now()
    for field in _auto_now_fields(model):
        for obj in objs:
            setattr(obj, field.attname, now)
        if field.name not in fields:
            fields.append(field.name)
    using = router.db_for_write(model)
    with transaction.atomic(using=using):
        updated = model._base_manager.using(using).bulk_update(objs, fields,
                                                                batch_size=batch_size)
        _record_changes(model, [obj.pk for obj in objs], user=user, reason=reason,
                        using=using)
    return updated


def copy_create_with_history(model, rows: list[dict], *, user, reason: str, mine: dict,
                             progress=None, batch_size: int = 2000) -> list[int]:
    """PostgreSQL only: insert `rows` ({attname: value} holding every concrete field but the
    primary key, values ready for the database) with COPY, then a "created" history row for
    each, by `user`, also with COPY, in the caller's transaction. Returns the new ids in the
    order of `rows`.

    Why not bulk_create_with_history: for 100,000 rows Django's bulk insert spends most of its
    time preparing each value in Python (about 0.3 ms a row here, twice: records and history),
    where COPY streams the rows to PostgreSQL's bulk loader. The history rows hold what
    simple-history's bulk_history_create would write (every tracked field, history_date,
    history_type "+", history_user, history_change_reason), read from the same values.

    `mine` picks this import's rows back (their ids, in insertion order: one COPY assigns
    identity values row by row): a filter on values this import alone has, such as its case,
    its user and its timestamp. Other transactions' uncommitted rows are invisible here."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    attnames = [f.attname for f in fields]
    step = batch_size
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for index, row in enumerate(rows, start=1):
                copy.write_row([row[name] for name in attnames])
                if progress is not None and index % step == 0:
                    progress(step)
        pks = list(model._base_manager.filter(**mine).order_by("pk")
                   .values_list("pk", flat=True))
        if len(pks) != len(rows):
            raise RuntimeError(f"{len(pks)} rows read back after inserting {len(rows)}: "
                               "the `mine` filter does not single out this import.")
        history_model = model.history.model
        tracked = history_model.tracked_fields
        history_columns = [f.column for f in tracked] + [
            "history_date", "history_change_reason", "history_type", "history_user_id"]
        extra = [timezone.now(), reason[:100], "+", getattr(user, "pk", None)]
        pk_name = model._meta.pk.attname
        with cursor.copy(f"COPY {quote(history_model._meta.db_table)} "
                         f"({', '.join(quote(c) for c in history_columns)}) FROM STDIN") as copy:
            for pk, row in zip(pks, rows, strict=True):
                copy.write_row([pk if f.attname == pk_name else row[f.attname]
                                for f in tracked] + extra)
    if progress is not None and len(rows) % step:
        progress(len(rows) % step)
    return pks


def update_with_history(queryset, *, user, reason: str = "", **values) -> int:
    """`queryset.update(**values)` plus a "changed" history row for each record, written by
    `user`; `updated_at` moves too. The rows are locked first (`select_for_update`), so the
    history rows show exactly what the update left. Like QuerySet.update(), it calls no
    `save()` (so no field a save() derives is recomputed).

    For all three helpers, `user=None` means the request's user when there is a request
    (HistoryRequestMiddleware) and nobody otherwise (a system job: the history says so)."""
    model = queryset.model
    get_history_manager_for_model(model)
    using = queryset.db
    now = timezone.now()
    for field in _auto_now_fields(model):
        values.setdefault(field.name, now)
    with transaction.atomic(using=using):
        pks = list(queryset.order_by().values_list("pk", flat=True))
        records = model._base_manager.using(using).filter(pk__in=pks)
        pks = list(records.select_for_update().values_list("pk", flat=True))
        if not pks:
            return 0
        updated = len(pks)
        if values:
            # The one sanctioned QuerySet.update() of a history-tracked model.
            updated = records.filter(pk__in=pks).update(**values)
        _record_changes(model, pks, user=user, reason=reason, using=using)
    return updated


# --- links cleared by a deletion (on_delete=SET_NULL) ---------------------------------------

_CLEARED = "_casedesk_history_cleared_links"
_DELETING = "_casedesk_history_deleting"


def _clearing_relations():
    """{target model: [(history-tracked model, foreign key)]} for every foreign key of a
    tracked model that a deletion of its target rewrites instead of deleting (SET_NULL,
    SET_DEFAULT, SET(...))."""
    from django.apps import apps

    keep = (models.CASCADE, models.PROTECT, models.RESTRICT, models.DO_NOTHING)
    relations: dict = {}
    for model in apps.get_models():
        if not is_history_tracked(model):
            continue
        for field in model._meta.concrete_fields:
            if field.many_to_one and field.remote_field.on_delete not in keep:
                target = field.remote_field.model
                relations.setdefault(target, []).append((model, field))
    return relations


def _note_deletion(sender, instance, origin=None, **kwargs):
    """pre_delete of a record that may lose a link: Django sends every pre_delete of one
    deletion before it clears any link, so `_record_cleared_links` knows which records go
    anyway (they get their "deleted" row, not a "changed" one first). Kept on `origin`, the
    instance or queryset the deletion started from, so it lasts as long as that deletion."""
    if origin is not None:
        origin.__dict__.setdefault(_DELETING, set()).add((sender._meta.concrete_model,
                                                           instance.pk))


def _remember_links_to_clear(sender, instance, using, relations, **kwargs):
    pending = []
    for model, field in relations:
        pks = list(model._base_manager.using(using).filter(**{field.name: instance})
                   .values_list("pk", flat=True))
        if pks:
            pending.append((model, field, pks))
    if pending:
        instance.__dict__[_CLEARED] = pending


def _record_cleared_links(sender, instance, using, origin=None, **kwargs):
    """After the collector has cleared the links, give every record whose link was cleared
    and that this deletion does not take along a history row and a new version, in the
    deleting user's name."""
    pending = instance.__dict__.pop(_CLEARED, None)
    if not pending:
        return
    deleting = getattr(origin, "__dict__", {}).get(_DELETING, set())
    # Whoever deleted: `_history_user` when the code set one, else (None) the request's user
    # (HistoryRequestMiddleware), as for the deleted record's own history row.
    user = getattr(instance, "_history_user", None)
    noun = sender._meta.verbose_name
    for model, field, pks in pending:
        pks = [pk for pk in pks if (model._meta.concrete_model, pk) not in deleting]
        survivors = model._base_manager.using(using).filter(pk__in=pks)
        if not survivors.exists():
            continue
        # Stored with the row, in the language of whoever deleted: it reads as they did it.
        reason = gettext("%(field)s cleared: the %(record)s was deleted") % {
            "field": field.verbose_name, "record": noun}
        reason = reason[:100]
        update_with_history(survivors, user=user, reason=reason)


def connect_signals() -> None:
    """Called from CasesConfig.ready(), once every model (and history model) is loaded."""
    clearing = _clearing_relations()
    for model in {model for relations in clearing.values() for model, _field in relations}:
        pre_delete.connect(_note_deletion, sender=model, weak=False,
                           dispatch_uid=f"casedesk.history.deleting.{model._meta.label_lower}")
    for target, relations in clearing.items():
        def remember(sender, instance, using, _relations=relations, **kwargs):
            _remember_links_to_clear(sender, instance, using, _relations, **kwargs)

        uid = f"casedesk.history.{target._meta.label_lower}"
        pre_delete.connect(remember, sender=target, weak=False, dispatch_uid=f"{uid}.pre")
        post_delete.connect(_record_cleared_links, sender=target, weak=False,
                            dispatch_uid=f"{uid}.post")
    post_migrate.connect(_guard_new_tables, dispatch_uid="casedesk.history.guards")
    pre_migrate.connect(_drop_column_naming_triggers,
                        dispatch_uid="casedesk.history.sqlite_column_triggers")


# --- PostgreSQL: the append-only guard --------------------------------------------------------

# Plain SQL, no interpolation: the names are GUARD_FUNCTION and MAINTENANCE_SETTING.
GUARD_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION casedesk_append_only() RETURNS trigger
LANGUAGE plpgsql AS $guard$
DECLARE
    new_row jsonb;
    old_row jsonb;
BEGIN
    IF coalesce(current_setting('casedesk.history_maintenance', true), '') = 'on' THEN
        -- cases.history.history_maintenance(): a documented maintenance transaction.
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND TG_NARGS > 0 THEN
        -- The trigger's arguments name links that a deletion elsewhere may clear
        -- (on_delete=SET_NULL): let an UPDATE through that clears them and nothing else.
        new_row := to_jsonb(NEW);
        old_row := to_jsonb(OLD);
        IF (new_row - TG_ARGV) = (old_row - TG_ARGV) AND NOT EXISTS (
            SELECT 1 FROM unnest(TG_ARGV) AS link(name)
            WHERE new_row -> link.name <> 'null'::jsonb
              AND (new_row -> link.name) IS DISTINCT FROM (old_row -> link.name))
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% on %.% refused: the table is append-only', TG_OP, TG_TABLE_SCHEMA,
        TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'History rows and audit logs are never changed or removed. Documented '
                     'maintenance (such as encryption key rotation) runs inside '
                     'cases.history.history_maintenance().';
END;
$guard$;
"""


def _quote(connection, name: str) -> str:
    return connection.ops.quote_name(name)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def guarded_tables(connection) -> dict[str, tuple[str, ...]]:
    """{table: columns a deletion may clear} for every table that must be append-only and
    exists in the connected database (history tables found by name, so new ones count)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "AND (table_name LIKE %s OR table_name = ANY(%s)) ORDER BY table_name",
            [HISTORY_TABLE_PATTERN, list(APPEND_ONLY_LOGS)])
        names = [row[0] for row in cursor.fetchall()]
    return {name: APPEND_ONLY_LOGS.get(name, ()) for name in names}


def _existing_triggers(connection) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND t.tgname IN (%s, %s) "
            "AND NOT t.tgisinternal",
            [ROW_TRIGGER, TRUNCATE_TRIGGER])
        return set(cursor.fetchall())


def _guard_function_exists(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = %s AND n.nspname = current_schema()", [GUARD_FUNCTION])
        return cursor.fetchone() is not None


def install_guards(connection) -> list[str]:
    """Create (or refresh) the guard function and add the triggers to every guarded table
    that lacks them (on SQLite: recreate every table's triggers). Returns the tables that got
    a trigger. PostgreSQL and SQLite; elsewhere a no-op."""
    if connection.vendor == "sqlite":
        return _install_sqlite_guards(connection)
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(GUARD_FUNCTION_SQL)
    existing = _existing_triggers(connection)
    added = []
    for table, clearable in guarded_tables(connection).items():
        quoted = _quote(connection, table)
        statements = []
        if (table, ROW_TRIGGER) not in existing:
            args = ", ".join(_literal(column) for column in clearable)
            statements.append(
                f"CREATE TRIGGER {ROW_TRIGGER} BEFORE UPDATE OR DELETE ON {quoted} "
                f"FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}({args})")
        if (table, TRUNCATE_TRIGGER) not in existing:
            statements.append(
                f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {quoted} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()")
        if statements:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
            added.append(table)
    return added


def remove_guards(connection) -> None:
    """Undo install_guards (migrating back before 0004)."""
    if connection.vendor == "sqlite":
        _remove_sqlite_guards(connection)
        return
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table, _trigger in sorted(_existing_triggers(connection)):
            quoted = _quote(connection, table)
            cursor.execute(f"DROP TRIGGER IF EXISTS {ROW_TRIGGER} ON {quoted}")
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRUNCATE_TRIGGER} ON {quoted}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {GUARD_FUNCTION}()")


def _guards_in_effect(connection) -> bool:
    """Whether migration 0004 is in effect, so that the guard belongs on every table: on
    PostgreSQL its function exists; on SQLite, which gets the triggers after migrate, 0004
    is recorded as applied."""
    if connection.vendor == "postgresql":
        return _guard_function_exists(connection)
    if connection.vendor == "sqlite":
        from django.db.migrations.recorder import MigrationRecorder

        return MigrationRecorder(connection).migration_qs.filter(
            app="cases", name=GUARD_MIGRATION).exists()
    return False


def _guard_new_tables(sender, using=DEFAULT_DB_ALIAS, **kwargs):
    """post_migrate: a history table created by a migration after 0004 gets the triggers
    (on SQLite every table's are recreated, see the module's docstring). Only where 0004 is
    in effect: migrating back stays migrated back."""
    if sender.name != "cases":
        return
    connection = connections[using]
    if not _guards_in_effect(connection):
        return
    with transaction.atomic(using=using):
        added = install_guards(connection)
    if added and connection.vendor == "postgresql":
        logger.info("Append-only guard added to %s", ", ".join(added))


# --- SQLite: the same guard, as plain triggers ------------------------------------------------

SQLITE_FLAG_TABLE = "casedesk_history_maintenance"
SQLITE_TRIGGER_PREFIX = "casedesk_append_only__"
GUARD_MIGRATION = "0004_history_append_only"


def _sqlite_flag_table_exists(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
                       [SQLITE_FLAG_TABLE])
        return cursor.fetchone() is not None


def sqlite_guarded_tables(connection) -> dict[str, tuple[str, ...]]:
    """guarded_tables() for SQLite: {table: columns a deletion may clear}."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND name LIKE %s ESCAPE '\\' ORDER BY name", [HISTORY_TABLE_PATTERN])
        names = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        names += sorted({row[0] for row in cursor.fetchall()} & set(APPEND_ONLY_LOGS))
    return {name: APPEND_ONLY_LOGS.get(name, ()) for name in names}


def sqlite_triggers(connection) -> dict[str, set[str]]:
    """{table: names of its append-only triggers} as they are in the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' "
                       "AND name LIKE %s", [SQLITE_TRIGGER_PREFIX + "%"])
        triggers: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            triggers.setdefault(table, set()).add(name)
        return triggers


def _sqlite_refusal(operation: str, table: str) -> str:
    message = (f"{operation} on main.{table} refused: the table is append-only. History rows "
               "and audit logs are never changed or removed; documented maintenance runs "
               "inside cases.history.history_maintenance().")
    return f"SELECT RAISE(ABORT, {_literal(message)});"


def _install_sqlite_guards(connection) -> list[str]:
    # nosec B608: every name in this DDL is a constant or a table name from sqlite_master.
    not_in_maintenance = f"NOT EXISTS (SELECT 1 FROM {SQLITE_FLAG_TABLE})"  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {SQLITE_FLAG_TABLE} "
                       "(id INTEGER PRIMARY KEY, reason TEXT NOT NULL)")
    installed = []
    for table, clearable in sqlite_guarded_tables(connection).items():
        quoted = _quote(connection, table)
        when_update = not_in_maintenance
        if clearable:
            # Let through an UPDATE that clears these links (on_delete=SET_NULL) and changes
            # nothing else; every other column is compared, so the list is read now.
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA table_info({quoted})")
                columns = [row[1] for row in cursor.fetchall()]
            unchanged = [f"NEW.{_quote(connection, c)} IS OLD.{_quote(connection, c)}"
                         for c in columns if c not in clearable]
            cleared = [f"(NEW.{_quote(connection, c)} IS NULL OR "
                       f"NEW.{_quote(connection, c)} IS OLD.{_quote(connection, c)})"
                       for c in clearable]
            when_update += f" AND NOT ({' AND '.join(unchanged + cleared)})"
        update_trigger = _quote(connection, _sqlite_update_trigger(table))
        delete_trigger = _quote(connection, _sqlite_delete_trigger(table))
        with connection.cursor() as cursor:
            for trigger in (update_trigger, delete_trigger):
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            cursor.execute(
                f"CREATE TRIGGER {update_trigger} BEFORE UPDATE ON {quoted} "  # nosec B608
                f"FOR EACH ROW WHEN {when_update} "
                f"BEGIN {_sqlite_refusal('UPDATE', table)} END")
            cursor.execute(
                f"CREATE TRIGGER {delete_trigger} BEFORE DELETE ON {quoted} "  # nosec B608
                f"FOR EACH ROW WHEN {not_in_maintenance} "
                f"BEGIN {_sqlite_refusal('DELETE', table)} END")
        installed.append(table)
    return installed


def _sqlite_update_trigger(table: str) -> str:
    return f"{SQLITE_TRIGGER_PREFIX}{table}__update"


def _sqlite_delete_trigger(table: str) -> str:
    return f"{SQLITE_TRIGGER_PREFIX}{table}__delete"


def _drop_column_naming_triggers(sender, using=DEFAULT_DB_ALIAS, **kwargs):
    """pre_migrate, SQLite: drop the triggers that name columns (the reveal log's UPDATE
    trigger), which would make SQLite refuse a migration that drops such a column; the
    post_migrate hook makes them again with the columns as they are then."""
    connection = connections[using]
    if sender.name != "cases" or connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table, clearable in APPEND_ONLY_LOGS.items():
            if clearable:
                name = _quote(connection, _sqlite_update_trigger(table))
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def _remove_sqlite_guards(connection) -> None:
    with connection.cursor() as cursor:
        for names in sqlite_triggers(connection).values():
            for name in sorted(names):
                cursor.execute(f"DROP TRIGGER IF EXISTS {_quote(connection, name)}")
        cursor.execute(f"DROP TABLE IF EXISTS {SQLITE_FLAG_TABLE}")


# --- maintenance: the one documented way past the guard ---------------------------------------

@contextlib.contextmanager
def history_maintenance(using=None, *, reason: str):
    """Let the statements run inside this block update or delete history rows and audit
    log entries (PostgreSQL and SQLite; elsewhere there is nothing to let through).

    Opens a transaction (a savepoint when already in one). On PostgreSQL it sets
    `casedesk.history_maintenance = 'on'` for it with `set_config(..., is_local => true)`
    (`SET LOCAL`): the setting dies with the transaction, and is put back as it was when the
    block ends, so nothing after the block, and no other connection, is let through. On
    SQLite it inserts a row in the flag table the triggers look for and deletes that row
    when the block ends (a failed block's savepoint rollback takes it away). The `reason` is
    logged. Only `manage.py rotate_encryption_keys` uses it."""
    if not reason or not reason.strip():
        raise ValueError("history_maintenance() needs a reason: it is logged.")
    alias = using or DEFAULT_DB_ALIAS
    connection = connections[alias]
    with transaction.atomic(using=alias):
        previous = flag_row = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting(%s, true), set_config(%s, 'on', true)",
                               [MAINTENANCE_SETTING, MAINTENANCE_SETTING])
                previous = cursor.fetchone()[0]
        elif connection.vendor == "sqlite" and _sqlite_flag_table_exists(connection):
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {SQLITE_FLAG_TABLE} (reason) "  # nosec B608
                               "VALUES (%s)", [reason])
                flag_row = cursor.lastrowid
        logger.info("History maintenance on database %r: %s", alias, reason)
        yield
        # Reached only when the block succeeded: on an error the savepoint or transaction
        # is rolled back, which undoes SET LOCAL (and the SQLite flag row) by itself.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, %s, true)",
                               [MAINTENANCE_SETTING, previous if previous == "on" else "off"])
        elif flag_row is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {SQLITE_FLAG_TABLE} WHERE id = %s",  # nosec B608
                               [flag_row])


# --- reading history: what a change reason and a row's kind say --------------------------------
#
# A history row's change reason is stored as its writer wrote it: a code for machines (a
# deletion's `deletion:<token>`, RESTORED_REASON), or English words with counts (an import).
# Readers get them in their own language through `change_reason_display`, and a row's kind
# ("Created", "Restored", "Linked again on restore"…) through `history_action`: the members'
# history pages (HistoryEntry) and the back office's (templates/simple_history/, through
# cases/templatetags/history_display.py) both read them here.

# The reasons their writers store (cases/identities.py, cases/imports/): written from here, read
# back below. The migrations' own, which cannot import app code, are copied
# (tests/test_history_reasons.py checks that the migrations still write them).
IDENTITY_ADDRESSES_MOVED = "Protection of a source changed: addresses moved"
RELAY_ADDRESS_MOVED = "A protected relay was added: address moved"
MIGRATION_0010_REASON = ("migration 0010: a protected source's address is part of its "
                         "identity")
MIGRATION_0019_REASON = "Carried over from the citation's via"
IMPORTED_CASE_EXPORT = "Imported from a case export (JSON)"


def imported_records_reason(count: int, records: str) -> str:
    """The reason of a tabular import's rows: `records` is "incidents" or "sources"."""
    return f"Imported from a file ({count} {records})"


def imported_claims_reason(claims: int, citations: int) -> str:
    return f"Imported from a file ({claims} claims, {citations} citations)"


_IMPORTED_RECORDS = re.compile(r"Imported from a file \((\d+) (incidents|sources)\)")
_IMPORTED_CLAIMS = re.compile(r"Imported from a file \((\d+) claims, (\d+) citations\)")


def _fixed_reasons() -> dict:
    from .demo import CHANGE_REASON as DEMO_REASON
    from .workflow import HISTORY_CHANGE_REASON

    return {
        RESTORED_REASON: pgettext("change reason", "Restored from “Recently deleted”"),
        HISTORY_CHANGE_REASON: pgettext("change reason", "A move of the verification "
                                                         "workflow"),
        DEMO_REASON: pgettext("change reason", "Demo data"),
        IDENTITY_ADDRESSES_MOVED: pgettext(
            "change reason", "A source's protection changed: the addresses citing it moved "
                             "to where only source handlers read them"),
        RELAY_ADDRESS_MOVED: pgettext(
            "change reason", "A protected source was added as a relay: the citation's "
                             "address moved to where only source handlers read it"),
        MIGRATION_0010_REASON: pgettext(
            "change reason", "Upgrade: a protected source's address became part of its "
                             "identity"),
        MIGRATION_0019_REASON: pgettext(
            "change reason", "Upgrade: a citation's “via” became its first relay"),
        IMPORTED_CASE_EXPORT: pgettext("change reason", "Imported from a case export (JSON)"),
    }


@functools.cache
def _cleared_link_reasons() -> dict:
    """{reason as stored: (foreign key, deleted model)} for the reasons
    `_record_cleared_links` writes, in each of the site's languages (it stores them in the
    language of whoever deleted)."""
    from django.conf import settings
    from django.utils import translation

    known = {}
    relations = _clearing_relations()
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for target, pairs in relations.items():
                for _model, field in pairs:
                    known[_cleared_reason(field, target)] = (field, target)
    return known


def _cleared_reason(field, target) -> str:
    return (gettext("%(field)s cleared: the %(record)s was deleted") % {
        "field": field.verbose_name, "record": target._meta.verbose_name})[:100]


def change_reason_display(reason) -> str:
    """A history row's stored change reason as the reader says it, in their language; a
    reason this code does not know (written by hand, or by code since removed) as stored."""
    from .deletion import REASON_PREFIX

    if not reason:
        return ""
    if reason.startswith(REASON_PREFIX):
        # The token ties together what one deletion took; it means nothing to a reader.
        return pgettext("change reason", "Deleted from the workspace")
    fixed = _fixed_reasons().get(reason)
    if fixed is not None:
        return fixed
    if match := _IMPORTED_RECORDS.fullmatch(reason):
        count = int(match.group(1))
        if match.group(2) == "incidents":
            return npgettext("change reason", "Imported from a file (%(count)d incident)",
                             "Imported from a file (%(count)d incidents)", count) % {
                "count": count}
        return npgettext("change reason", "Imported from a file (%(count)d source)",
                         "Imported from a file (%(count)d sources)", count) % {"count": count}
    if match := _IMPORTED_CLAIMS.fullmatch(reason):
        claims, citations = int(match.group(1)), int(match.group(2))
        return pgettext("change reason", "Imported from a file (%(claims)s, %(citations)s)") % {
            "claims": npgettext("change reason", "%(count)d claim", "%(count)d claims",
                                claims) % {"count": claims},
            "citations": npgettext("change reason", "%(count)d citation",
                                   "%(count)d citations", citations) % {"count": citations}}
    cleared = _cleared_link_reasons().get(reason)
    if cleared is not None:
        return _cleared_reason(*cleared)
    return reason


def history_action(kind: str, reason) -> str:
    """What a history row of `kind` ("+", "~", "-") with this change reason did to its
    record, in a word or three: a restore's "+" row is no creation, and a "~" row a restore
    wrote gave a link back."""
    if kind == "+":
        if reason == RESTORED_REASON:
            return pgettext("record history", "Restored")
        return pgettext("record history", "Created")
    if kind == "-":
        return pgettext("record history", "Deleted")
    if reason == RESTORED_REASON:
        return pgettext("record history", "Linked again on restore")
    return pgettext("record history", "Changed")


# --- reading history: a record's changes, field by field --------------------------------------
#
# For the members' history pages (cases/views/record_history.py): who changed what, each field
# by its label with its old and new value as people read it (a choice's label, a related
# record's name, a fuzzy date in words). The history rows of a page are read in one query per
# table, and the records they point to in one query per model, however many rows there are.

#: Columns nobody edits that still say what happened to a record (the verification workflow
#: writes them; everything else that is not editable is bookkeeping).
_SHOWN_THOUGH_NOT_EDITABLE = frozenset({"status", "proposed_verdict", "proposed_by"})
#: Columns derived from another one shown beside them (an incident's dates from `occurred`), or
#: a stored file's server-made name.
_DERIVED = frozenset({"occurred_earliest", "occurred_latest", "file"})


@dataclass(frozen=True)
class FieldChange:
    """One field of one change: its label, and its values before and after as words."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    """One history row as a reader sees it. `kind` is simple-history's "+", "~" or "-";
    `part` names the part of the record it is about (a citation of a claim, a source's
    identity), empty for the record itself; `reason` is the row's change reason, which tells
    a restore (RESTORED_REASON) from a creation: both are "+" rows."""

    at: object  # datetime
    actor: str
    kind: str
    part: str
    changes: tuple[FieldChange, ...]
    reason: str = ""

    @property
    def restored(self) -> bool:
        """Brought back from "Recently deleted": the same record, not a new one."""
        return self.kind == "+" and self.reason == RESTORED_REASON

    @property
    def created(self) -> bool:
        return self.kind == "+" and not self.restored

    @property
    def relinked(self) -> bool:
        """A link a restore gave back: the record it points to was deleted and restored, and
        this record, which only lost the link, has it again."""
        return self.kind == "~" and self.reason == RESTORED_REASON

    @property
    def action(self) -> str:
        """The entry's heading for the record itself (a part's reads "<part>: added"…)."""
        return history_action(self.kind, self.reason)

    @property
    def reason_display(self) -> str:
        """The change reason in the reader's words, unless the heading already says it (a
        restore, a link given back)."""
        if self.restored or self.relinked:
            return ""
        return change_reason_display(self.reason)

    @property
    def lists_values(self) -> bool:
        """A creation or a restore: the record's values, with nothing before them."""
        return self.kind == "+"

    @property
    def deleted(self) -> bool:
        return self.kind == "-"


def shown_fields(model, *, hidden=frozenset(), also=frozenset()) -> list[models.Field]:
    """The tracked fields of `model` a history page shows, in the model's order: those
    people edit, and `also` (columns a form writes through another field, such as a
    citation's sealed address)."""
    tracked = {f.name for f in model.history.model.tracked_fields}
    return [f for f in model._meta.concrete_fields
            if f.name in tracked and f.name not in hidden and f.name not in _DERIVED
            and not f.primary_key and not getattr(f, "auto_now", False)
            and not getattr(f, "auto_now_add", False)
            and (f.editable or f.name in _SHOWN_THOUGH_NOT_EDITABLE or f.name in also)]


def related_names(fields_and_rows) -> dict:
    """{(model, pk): name} for every record the foreign keys of these history rows point to:
    one query per related model. `fields_and_rows` is [(fields, rows)]."""
    from django.contrib.auth import get_user_model

    wanted: dict = {}
    for fields, rows in fields_and_rows:
        for field in fields:
            if field.is_relation:
                ids = wanted.setdefault(field.related_model, set())
                ids.update(getattr(row, field.attname) for row in rows)
    names = {}
    user_model = get_user_model()
    for model, ids in wanted.items():
        ids.discard(None)
        if not ids:
            continue
        for obj in model._base_manager.filter(pk__in=ids):
            if model is user_model:
                name = obj.get_full_name() or obj.get_username()
            else:
                name = str(obj)
            names[(model, obj.pk)] = name
    return names


def _empty() -> str:
    return pgettext("a field's value in a record's history", "empty")


def display_value(field, value, names: dict) -> str:
    """`value` of `field` as a reader says it."""
    from django.utils import formats

    from . import fuzzydate

    if field.is_relation:
        if value is None:
            return _empty()
        return names.get((field.related_model, value)) or pgettext(
            "a field's value in a record's history", "a deleted record")
    if value is None or value == "":
        return _empty()
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return gettext("yes") if value else gettext("no")
    if isinstance(field, models.DateTimeField):
        # In UTC, as every page of a case gives times.
        return gettext("%(when)s UTC") % {"when": formats.date_format(
            value.astimezone(datetime.UTC), gettext("j M Y H:i"))}
    if isinstance(field, models.DateField):
        return formats.date_format(value, gettext("j M Y"))
    if field.name == "occurred":
        return str(fuzzydate.describe_or_as_written(value))
    name = getattr(value, "name", None)  # a country
    if name is not None and not isinstance(value, str):
        return str(name) if str(value) else _empty()
    return str(value)


def _value(row, field):
    value = getattr(row, field.attname)
    if not field.is_relation and not isinstance(value, str | int | float | bool | type(None)):
        code = getattr(value, "code", None)  # a country compares by its code
        if code is not None:
            return code
    return value


def history_entries(rows, fields, names: dict, *, part: str = "",
                    withheld=frozenset()) -> list[HistoryEntry]:
    """The changes these history rows of one record make, oldest first: per row, each shown
    field whose value differs from the row before (for a creation, each field given a value).

    `withheld` fields (values the reader may not learn) are never compared or shown: a row
    that changed only those is left out, so nothing tells that it happened."""
    entries, previous = [], None
    fields = [f for f in fields if f.name not in withheld]
    for row in rows:
        changes = []
        if row.history_type != "-":
            for field in fields:
                new = _value(row, field)
                old = _value(previous, field) if previous is not None else None
                if previous is None and new in (None, ""):
                    continue
                if previous is not None and new == old:
                    continue
                changes.append(FieldChange(
                    str(field.verbose_name),
                    display_value(field, old, names) if previous is not None else "",
                    display_value(field, new, names)))
        if changes or row.history_type in ("+", "-"):
            user = row.history_user
            actor = (user.get_full_name() or user.get_username() if user is not None
                     else gettext("system"))
            entries.append(HistoryEntry(row.history_date, actor, row.history_type, part,
                                        tuple(changes), row.history_change_reason or ""))
        previous = row if row.history_type != "-" else None
    return entries


# --- reading history: a citation's relays -----------------------------------------------------
#
# A citation's relays (the sources its statement came through, in order) are CitationRelay rows
# with a history of their own. The members' history page of a claim (cases/views/
# record_history.py) and the back office's history of a citation
# (cases/admin/keys.py, citation_relay_history below) read it here, the same way.

def relay_history_rows(citation_ids, names_wanted) -> list:
    """The history rows of the relays of these citations, oldest first (one query)."""
    from .models import CitationRelay

    rows = list(CitationRelay.history.filter(citation_id__in=list(citation_ids))
                .select_related("history_user").order_by("history_date", "history_id"))
    names_wanted.append((shown_fields(CitationRelay, hidden=frozenset({"citation"})), rows))
    return rows


def relay_entries(rows, names, part_of, removals) -> tuple[list[HistoryEntry], list]:
    """Each relay added to, removed from or moved within a citation, as a change of that
    citation (`part_of`: citation id → the part's name): "via" from empty to a source, or
    back. A relay a restore brought back is no change: it is returned apart, with its place
    among the relays, as the value it was restored with (`with_restored_relays` reads it
    with its citation's restore). A relay deleted with its citation (the same deletion's
    reason, among `removals`: (part, reason) of the citations' "-" entries) is left out: the
    citation's removal says it."""
    from .models import Source

    empty = pgettext_lazy("a field's value in a record's history", "empty")
    label = pgettext_lazy("a citation came through these sources", "via")
    entries, restored, position = [], [], {}
    for row in rows:
        name = names.get((Source, row.source_id)) or gettext("a deleted source")
        user = row.history_user
        actor = (user.get_full_name() or user.get_username() if user is not None
                 else gettext("system"))
        before = position.get(row.id, row.position)  # its place before this row
        position[row.id] = row.position
        if row.history_type == "+" and row.history_change_reason == RESTORED_REASON:
            restored.append((row.position, HistoryEntry(
                row.history_date, actor, "+", part_of(row.citation_id),
                (FieldChange(str(label), "", name),), RESTORED_REASON)))
            continue
        if (row.history_type == "-" and row.history_change_reason
                and (part_of(row.citation_id), row.history_change_reason) in removals):
            continue
        if row.history_type == "+":
            change = FieldChange(str(label), str(empty), name)
        elif row.history_type == "-":
            change = FieldChange(str(label), name, str(empty))
        else:
            change = FieldChange(
                gettext("place of %(source)s among the relays") % {"source": name},
                str(before + 1), str(row.position + 1))
        entries.append(HistoryEntry(row.history_date, actor, "~", part_of(row.citation_id),
                                    (change,), row.history_change_reason or ""))
    return entries, restored


def with_restored_relays(entries, restored_relays) -> list[HistoryEntry]:
    """`entries` with each relay a restore brought back read among the values of its
    citation's restore (the restore nearest in time: one citation may be deleted and
    restored more than once), in the relays' order; a relay whose citation's restore is not
    among `entries` stays an entry of its own, a restore of that citation's part."""
    entries = list(entries)
    extra: dict[int, list] = {}
    alone = []
    for place, relay in restored_relays:
        candidates = [index for index, entry in enumerate(entries)
                      if entry.restored and entry.part == relay.part]
        if not candidates:
            alone.append(relay)
            continue
        nearest = min(candidates, key=lambda index: abs(entries[index].at - relay.at))
        extra.setdefault(nearest, []).append((place, relay.changes))
    for index, relays in extra.items():
        relays.sort(key=lambda relay: relay[0])
        entries[index] = replace(entries[index], changes=entries[index].changes + tuple(
            change for _place, changes in relays for change in changes))
    return entries + alone


def citation_relay_history(citation_id) -> list[HistoryEntry]:
    """The changes to one citation's relays, newest first, as the back office's history of
    the citation lists them beside its own rows: each relay added, removed or moved, by whom,
    when and why, read as the claim's history page reads them (relay_entries). A source is
    named by its name, a protected one's codename: nothing of its identity.

    At most three queries however long the history: the relays' rows, their sources' names,
    and the reasons of the citation's deletions (a relay deleted with its citation is left
    out: the citation's own "Deleted" row says it). The citation's own rows are simple-
    history's, so a relay a restore brought back is an entry of its own."""
    from .models import Citation

    names_wanted: list = []
    rows = relay_history_rows([citation_id], names_wanted)
    if not rows:
        return []
    names = related_names(names_wanted)
    removals = {("", reason) for reason in Citation.history.filter(
        id=citation_id, history_type="-").values_list("history_change_reason", flat=True)
        if reason}
    entries, restored = relay_entries(rows, names, lambda _citation_id: "", removals)
    # The citation's own restores are simple-history's rows: each restored relay stands alone.
    entries = [relay for _place, relay in restored] + entries
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries
