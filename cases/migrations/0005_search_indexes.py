"""Search (cases/search.py). On PostgreSQL only (on SQLite every step is a no-op;
TrigramExtension is one there by itself):

- the pg_trgm extension;
- on each searchable table a stored generated column `search_document` (tsvector): the
  record's weighted full-text document, kept current by PostgreSQL on every write path
  (forms, admin, bulk writes, COPY), and a GIN index on it. The models do not declare the
  column: Django never writes it, and cases.search reads it by name. Stored rather than
  computed in the query because to_tsvector costs tens of microseconds a row: ranking a
  thousand candidates, or checking rows a plan visits, must not re-parse their text;
- trigram GIN indexes on names and places (sources, incidents' place and region).

The text search configuration is `russian`: its parser sends ASCII words to the English
Snowball stemmer and Cyrillic words to the Russian one, so one document and one query serve
both languages ("deserters" → desert, "дезертиры" → дезертир).
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

CONFIG = "russian"

# table → weighted text columns of its document (cases.search.KINDS names the same fields).
DOCUMENTS = {
    "cases_case": [("title", "A"), ("summary", "B")],
    "cases_incident": [("title", "A"), ("description", "B"), ("place_name", "C"),
                       ("admin_region", "C")],
    "cases_claim": [("statement", "A")],
    # Name or codename only: a protected identity lives in SourceIdentity, encrypted, and is
    # never part of any search document.
    "cases_source": [("name", "A")],
    "cases_citation": [("quote", "A")],
    "cases_evidence": [("original_name", "A"), ("description", "B")],
}
TRIGRAM_INDEXES = {
    "incident_place_trgm": ("cases_incident", "place_name"),
    "incident_region_trgm": ("cases_incident", "admin_region"),
    "source_name_trgm": ("cases_source", "name"),
}


def _document_sql(fields) -> str:
    return " || ".join(
        f"setweight(to_tsvector('{CONFIG}'::regconfig, coalesce({column}, '')), '{weight}')"
        for column, weight in fields)


def _index_name(table: str) -> str:
    return table.removeprefix("cases_") + "_search_gin"


def add_search_documents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, fields in DOCUMENTS.items():
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN search_document tsvector "
            f"GENERATED ALWAYS AS ({_document_sql(fields)}) STORED")
        schema_editor.execute(
            f"CREATE INDEX {_index_name(table)} ON {table} USING gin (search_document)")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def remove_search_documents(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for table in DOCUMENTS:
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_document")


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0004_history_append_only"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(add_search_documents, remove_search_documents, elidable=False),
    ]
