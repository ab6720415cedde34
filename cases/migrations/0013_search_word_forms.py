"""Search documents that find Russian and Ukrainian word forms (cases/search.py, "Words and
their forms"). On PostgreSQL only; nothing outside PostgreSQL's own configurations.

Each table's stored `search_document` (migration 0005) becomes, per field and with the
field's weight:

- the `russian` configuration's stems, as before (English stems for ASCII words, Russian
  for Cyrillic): ranking, and the English forms a prefix cannot reach ("country" and
  "countries" stem to "countri");
- the `simple` configuration's words, lowercased, unstemmed, ё written е: the query looks
  for its words and stems as their beginnings ('ростов':* finds "Ростовом", "Ростовской",
  never "рост");

and, for the record's words written in Ukrainian (with і ї є ґ, an apostrophe or ъ), the
same words folded into Russian spelling (і ї → и, є → е, ґ → г, apostrophes and ъ left out)
under weight D, which no field uses: "полігон" is found as полигон, and a search with the
option off restricts its lexemes to weights A–C, so that it does not find them.

The column stays generated and stored, so PostgreSQL keeps it on every write path, and its
GIN index serves prefix lexemes as well (a range of the index's keys).
"""

import importlib

from django.db import migrations

search_indexes = importlib.import_module("cases.migrations.0005_search_indexes")
DOCUMENTS = search_indexes.DOCUMENTS

# Tokens holding none of these letters are dropped before the folded part is made.
_UKRAINIAN = "ІЇЄҐЁіїєґёЪъ'’ʼ"
_FOLDED = "ИИЕГЕииеге"  # by position; the rest of _UKRAINIAN (Ъ ъ, apostrophes) is left out
# A whitespace-separated token without any of them, with the space before it.
_OTHER_TOKEN = r"(^|\s)[^\s" + _UKRAINIAN + r"]+(?=\s|$)"
_THE_SPACE = r"\1"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _field_sql(column: str, weight: str) -> str:
    value = f"coalesce({column}, '')"
    return (f"setweight(to_tsvector('russian'::regconfig, {value}) || "
            f"to_tsvector('simple'::regconfig, translate({value}, 'Ёё', 'Ее')), '{weight}')")


def _folded_sql(fields) -> str:
    text = " || ' ' || ".join(f"coalesce({column}, '')" for column, _ in fields)
    ukrainian_words = (f"regexp_replace({text}, {_literal(_OTHER_TOKEN)}, "
                       f"{_literal(_THE_SPACE)}, 'g')")
    return (f"setweight(to_tsvector('simple'::regconfig, translate({ukrainian_words}, "
            f"{_literal(_UKRAINIAN)}, {_literal(_FOLDED)})), 'D')")


def document_sql(fields) -> str:
    return " || ".join([*(_field_sql(column, weight) for column, weight in fields),
                        _folded_sql(fields)])


def _replace_documents(schema_editor, expression) -> None:
    for table, fields in DOCUMENTS.items():
        index = search_indexes._index_name(table)
        schema_editor.execute(f"DROP INDEX IF EXISTS {index}")
        schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN search_document")
        schema_editor.execute(
            f"ALTER TABLE {table} ADD COLUMN search_document tsvector "
            f"GENERATED ALWAYS AS ({expression(fields)}) STORED")
        schema_editor.execute(f"CREATE INDEX {index} ON {table} USING gin (search_document)")


def word_forms_documents(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _replace_documents(schema_editor, document_sql)


def stemmed_documents(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _replace_documents(schema_editor, search_indexes._document_sql)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0012_admin_reveal_reason"),
    ]

    operations = [
        migrations.RunPython(word_forms_documents, stemmed_documents, elidable=False),
    ]
