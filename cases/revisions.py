"""A case's content version: a number that changes whenever a record the case's pages show
changes, so that a page part rendered at version N may be served again while the case is at N.

`Case.content_version` is written by database triggers only, never by Python: every INSERT,
UPDATE and DELETE on the tables in VERSIONED_TABLES adds one to the version of the case (or
cases) of the rows it touched, in the same transaction. That covers what signals would miss:
`QuerySet.update()`, `bulk_create`, the importers' COPY, cascades, the admin, the API and an
operator in psql. On PostgreSQL the triggers are statement-level (a COPY of 100,000 rows bumps
the case once); on SQLite row-level. A guard keeps the number from going down when Django
saves a Case instance read before the bump (Case.save() writes every column).

Changing an incident type (a newsroom-wide list) bumps every case. What the triggers do not
see (a user renamed, whose name a page shows) is bounded by the cache timeout of
cases/fragments.py.

The triggers are (re)installed after every `migrate` (post_migrate, like the history guards
of cases/history.py): SQLite rebuilds a table to alter it, which drops its triggers.
tests/test_fragments.py checks that every table has them and that each kind of write bumps.
"""

from __future__ import annotations

from django.db.models.signals import post_migrate

# table → how its rows name their case: a column of their own, or through their source
VERSIONED_TABLES = {
    "cases_incident": "case_id",
    "cases_claim": "case_id",
    "cases_source": "case_id",
    "cases_commentrequest": "case_id",
    "cases_citation": "source_id",
    # A relay is a source of the citation's case.
    "cases_citationrelay": "source_id",
}
EVERY_CASE_TABLES = ("cases_incidenttype",)
TRIGGER_PREFIX = "casedesk_version"
EVENTS = ("insert", "update", "delete")


def _cases_of(rows: str, via: str) -> str:
    """SQL for the ids of the cases of `rows` (a transition table, or NEW/OLD in SQLite)."""
    if via == "case_id":
        return f"SELECT case_id FROM {rows}"  # nosec B608
    return f"SELECT case_id FROM cases_source WHERE id IN (SELECT source_id FROM {rows})"  # nosec B608


# --- PostgreSQL -------------------------------------------------------------------------------

_PG_GUARD = """
CREATE OR REPLACE FUNCTION casedesk_version_never_goes_back() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- Case.save() writes every column, this one too, from an instance that may have been
    -- read before the last bump: keep the higher number.
    IF NEW.content_version < OLD.content_version THEN
        NEW.content_version := OLD.content_version;
    END IF;
    RETURN NEW;
END
$fn$;
DROP TRIGGER IF EXISTS casedesk_version_guard ON cases_case;
CREATE TRIGGER casedesk_version_guard BEFORE UPDATE ON cases_case
    FOR EACH ROW EXECUTE FUNCTION casedesk_version_never_goes_back();
"""


def _pg_function(via: str) -> str:
    name = f"casedesk_bump_case_version_by_{via}"
    # nosec B608: every name below is one of this module's constants (no input reaches it).
    sql = f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    -- Statements are planned when first run: a DELETE never plans the new_rows branch.
    IF TG_OP = 'INSERT' THEN
        UPDATE cases_case SET content_version = content_version + 1
        WHERE id IN ({_cases_of("new_rows", via)});
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE cases_case SET content_version = content_version + 1
        WHERE id IN ({_cases_of("new_rows", via)} UNION {_cases_of("old_rows", via)});
    ELSE
        UPDATE cases_case SET content_version = content_version + 1
        WHERE id IN ({_cases_of("old_rows", via)});
    END IF;
    RETURN NULL;
END
$fn$;
"""  # nosec B608
    return sql


def _pg_triggers(table: str, via: str) -> str:
    function = f"casedesk_bump_case_version_by_{via}"
    referencing = {"insert": "NEW TABLE AS new_rows",
                   "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "delete": "OLD TABLE AS old_rows"}
    sql = []
    for event in EVENTS:
        trigger = f"{TRIGGER_PREFIX}_{event}"
        sql.append(f"DROP TRIGGER IF EXISTS {trigger} ON {table};")
        sql.append(f"CREATE TRIGGER {trigger} AFTER {event.upper()} ON {table} "
                   f"REFERENCING {referencing[event]} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION {function}();")
    return "\n".join(sql)


_PG_EVERY_CASE = """
CREATE OR REPLACE FUNCTION casedesk_bump_every_case_version() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE cases_case SET content_version = content_version + 1;
    RETURN NULL;
END
$fn$;
"""


def _postgresql_sql(tables=VERSIONED_TABLES) -> list[str]:
    sql = [_PG_GUARD, *(_pg_function(via) for via in set(VERSIONED_TABLES.values())),
           _PG_EVERY_CASE]
    sql += [_pg_triggers(table, via) for table, via in tables.items()]
    for table in EVERY_CASE_TABLES:
        sql.append(f"DROP TRIGGER IF EXISTS {TRIGGER_PREFIX}_any ON {table};"
                   f"CREATE TRIGGER {TRIGGER_PREFIX}_any AFTER UPDATE OR DELETE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION casedesk_bump_every_case_version();")
    return sql


# --- SQLite -----------------------------------------------------------------------------------

def _sqlite_case_of(row: str, via: str) -> str:
    if via == "case_id":
        return f"{row}.case_id"
    return f"(SELECT case_id FROM cases_source WHERE id = {row}.source_id)"  # nosec B608


def _sqlite_sql(tables=VERSIONED_TABLES) -> list[str]:
    sql = [
        "CREATE TRIGGER IF NOT EXISTS casedesk_version_guard AFTER UPDATE OF content_version "
        "ON cases_case WHEN NEW.content_version < OLD.content_version BEGIN "
        "UPDATE cases_case SET content_version = OLD.content_version WHERE id = NEW.id; END;"
    ]
    for table, via in tables.items():
        cases = {"insert": _sqlite_case_of("NEW", via),
                 "update": f"{_sqlite_case_of('NEW', via)}, {_sqlite_case_of('OLD', via)}",
                 "delete": _sqlite_case_of("OLD", via)}
        for event in EVENTS:
            # SQLite names triggers per database, not per table.
            sql.append(
                f"CREATE TRIGGER IF NOT EXISTS {TRIGGER_PREFIX}_{table}_{event} AFTER "  # nosec B608
                f"{event.upper()} ON {table} BEGIN UPDATE cases_case SET content_version = "
                f"content_version + 1 WHERE id IN ({cases[event]}); END;")
    for table in EVERY_CASE_TABLES:
        for event in ("update", "delete"):
            sql.append(
                f"CREATE TRIGGER IF NOT EXISTS {TRIGGER_PREFIX}_{table}_{event} AFTER "  # nosec B608
                f"{event.upper()} ON {table} BEGIN UPDATE cases_case SET content_version = "
                f"content_version + 1; END;")
    return sql


def install_triggers(connection) -> None:
    """Create (or refresh) the version triggers of the tables there are (a migration before
    a table's own installs the others'). Idempotent."""
    present = set(connection.introspection.table_names())
    tables = {table: via for table, via in VERSIONED_TABLES.items() if table in present}
    if connection.vendor == "postgresql":
        statements = _postgresql_sql(tables)
    elif connection.vendor == "sqlite":
        statements = _sqlite_sql(tables)
    else:  # pragma: no cover - Casedesk runs on PostgreSQL, and SQLite for development
        raise NotImplementedError(f"No content version triggers for {connection.vendor}")
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def remove_triggers(connection) -> None:
    """Drop every version trigger (reversing migration 0007, which drops the column)."""
    with connection.cursor() as cursor:
        for table, trigger in installed_triggers(connection):
            if connection.vendor == "postgresql":
                cursor.execute(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"')
            else:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{trigger}"')


def installed_triggers(connection) -> set[tuple[str, str]]:
    """(table, trigger) pairs of the version triggers present in the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT DISTINCT event_object_table, trigger_name "
                           "FROM information_schema.triggers WHERE trigger_name LIKE %s",
                           [f"{TRIGGER_PREFIX}%"])
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' "
                           "AND name LIKE %s", [f"{TRIGGER_PREFIX}%"])
        return {(table, name) for table, name in cursor.fetchall()}


def _install_after_migrate(sender, using, **kwargs):
    from django.db import connections

    connection = connections[using]
    if "cases_case" in connection.introspection.table_names():
        install_triggers(connection)


def connect_signals(app_config) -> None:
    """Called from CasesConfig.ready(): after each `migrate`, once (for this app)."""
    post_migrate.connect(_install_after_migrate, sender=app_config,
                         dispatch_uid="casedesk.revisions.triggers")
