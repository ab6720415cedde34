"""The importers of spreadsheet and CSV files: incidents (IncidentImporter) and sources
(SourceImporter), one row a record (docs/import-format.md). Claims, a claim over several rows
of citations, build on TabularImporter in claims.py.

An importer maps the file's header to its columns, checks every row, collecting every error
of every row (ImportReport), without writing anything; `write()` runs only when no row has an
error, in one transaction: all rows or none. It writes in bulk (incidents on PostgreSQL with
COPY, `copy_create_with_history`; otherwise `bulk_create_with_history`, batches of
BATCH_SIZE) with what `save()` would have derived (an incident's earliest and latest day) and
a "created" history row per record in the importing user's name.

A protected source's identity (real name, contact, notes) is accepted only from the case's
source handlers, and is encrypted like any identity (cases/crypto.py); anyone else's file
with an identity cell is refused, and the preview never shows identity values."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import conditional_escape, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..enums import FigureQualifier, GeoPrecision, Reliability, SourceKind
from ..history import (
    bulk_create_with_history,
    copy_create_with_history,
    imported_records_reason,
)
from ..identities import PROTECTED_ADDRESS
from ..models import Incident, IncidentType, Source, SourceIdentity
from ..models.incident import COUNT_FIELDS, count_balance_error, count_reading_errors
from ..text import one_line
from .base import Importer
from .cells import (
    cell_text,
    choice_lookup,
    normalise_header,
    parse_bool,
    parse_choice,
    parse_coordinate,
    parse_count,
    parse_country_cell,
    parse_language,
    parse_occurred,
    parse_text,
    parse_url,
    read_cell,
    shown_text,
)
from .limits import grouped
from .refusals import CellError, FileRefused, RowError, cell_problem
from .report import MAX_ERROR_ROWS_SHOWN, PREVIEW_ROWS, ImportReport, Progress, RowReport
from .tables import Table, read_table

BATCH_SIZE = 2000


def described(text, words: dict | None = None, **typed) -> SafeString:
    """A lazy translation whose %(name)s placeholders are filled, when it is read (in the
    reader's language, not that of the process that imported the importer): `words` with
    words of the interface (lazy translations too), `typed` with what is typed in a file, a
    column name or value or a list of them (", "-separated), each shown as code. Escaped,
    then marked safe: the page shows the codes as such."""

    def filled() -> SafeString:
        codes = {name: format_html_join(", ", "<code>{}</code>", (
            (value,) for value in ([values] if isinstance(values, str) else values)))
            for name, values in typed.items()}
        parts = {**{name: conditional_escape(str(word)) for name, word in (words or {}).items()},
                 **codes}
        return mark_safe(conditional_escape(str(text)) % parts)  # every part escaped above

    return lazy(filled, SafeString)()


@dataclass(frozen=True)
class Column:
    """A column an importer reads: the import page's help lists these, names, aliases,
    whether required and `help`, so that the page says what the importer reads."""

    name: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help: str = ""  # a lazy translation: the page shows it in the reader's language
    # When the file has several of the column's names, the first of `names` present is read.
    prefer_alias: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.aliases, self.name) if self.prefer_alias else (self.name, *self.aliases)


class TabularImporter(Importer):
    """Checks a table's rows for one case and writes them. Subclasses list their columns and
    check one row (`clean_row`), returning the values to write or raising CellErrors."""

    columns: tuple[Column, ...] = ()
    # Columns that our own exports write and an import does not read (not reported as unknown).
    export_only: tuple[str, ...] = ()
    # Blank rows between blocks of rows are common in spreadsheets: they are passed over.
    skip_blank_rows = True

    def read(self, data: bytes, name: str = "") -> Table:
        return read_table(data, name)

    # The header: which file column is which of ours.
    def map_header(self, header: list[str], report: ImportReport) -> dict[str, int]:
        """{column: position in the row}. A column may be found under several names (our
        exports' ACLED names among them); the first of its names present wins, and the
        others are quietly not read."""
        found: dict[str, int] = {}
        for index, raw in enumerate(header):
            name = normalise_header(raw)
            if not name:
                continue
            if name in found:
                raise FileRefused(_("The column “%(column)s” appears twice.")
                                  % {"column": cell_text(raw).strip()}, code="duplicate_column")
            found[name] = index
        positions: dict[str, int] = {}
        known = set(self.export_only)
        for column in self.columns:
            names = column.names
            known |= set(names)
            present = [n for n in names if n in found]
            if present:
                positions[column.name] = found[present[0]]
        report.ignored_columns = [cell_text(header[i]).strip() for name, i in found.items()
                                  if name not in known]
        missing = [c.name for c in self.columns if c.required and c.name not in positions]
        if missing:
            raise FileRefused(ngettext(
                "The file has no %(columns)s column. The first row must name the columns: see "
                "the import format (docs/import-format.md).",
                "The file has no %(columns)s column. The first row must name the columns: see "
                "the import format (docs/import-format.md).", len(missing))
                % {"columns": ", ".join(f"“{m}”" for m in missing)}, code="missing_column")
        report.columns = sorted(positions, key=positions.get)
        return positions

    def prepare(self) -> None:
        """Load what every row is checked against (once per import)."""

    def data_rows(self, table: Table, positions: dict[str, int], columns: list[str],
                  progress: Progress | None = None) -> Iterator[tuple[int, dict]]:
        """(the file's row number, {column: cell}) of each row that is not blank, with
        `progress` told every 1000 rows read."""
        width = len(table.header)
        step = 0
        for offset, raw in enumerate(table.rows):
            if progress is not None:
                step += 1
                if step == 1000:
                    progress(step)
                    step = 0
            if self.skip_blank_rows and not any(shown_text(c).strip() for c in raw):
                continue
            if len(raw) < width:
                raw = list(raw) + [None] * (width - len(raw))
            yield table.first_row + offset, {name: raw[positions[name]] for name in columns}
        if progress is not None and step:
            progress(step)

    def check(self, table: Table, *, progress: Progress | None = None) -> ImportReport:
        report = ImportReport(kind=self.kind)
        positions = self.map_header(table.header, report)
        self.prepare()
        for number, values in self.data_rows(table, positions, report.columns, progress):
            self.row_number = number
            errors: list[RowError] = []
            record = self.clean_row(values, errors)
            report.total_rows += 1
            if errors:
                report.error_row_count += 1
                if len(report.error_rows) < MAX_ERROR_ROWS_SHOWN:
                    report.error_rows.append(RowReport(number, self.display_cells(values), errors))
            else:
                report.records.append(record)
                if len(report.sample_rows) < PREVIEW_ROWS:
                    report.sample_rows.append(RowReport(number, self.display_cells(values)))
        self.check_file(report)
        if report.total_rows == 0:
            report.notes.append(_("The file has a header but no rows."))
        return report

    def display_cells(self, values: dict) -> dict[str, str]:
        return {name: shown_text(value)[:200] for name, value in values.items()}

    def check_file(self, report: ImportReport) -> None:
        """Checks across rows, after every row has been checked on its own."""

    def clean_row(self, values: dict, errors: list[RowError]):
        raise NotImplementedError


def _batches(items: list, size: int = BATCH_SIZE) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ACLED's geo_precision codes: 1 the town itself, 2 near it or a part of a region, 3 only a
# larger region. Read as our nearest precision (our exports write both columns).
_GEO_PRECISIONS = {**choice_lookup(GeoPrecision), "1": GeoPrecision.TOWN,
                   "2": GeoPrecision.DISTRICT, "3": GeoPrecision.REGION}
_GEO_ALLOWED = ", ".join(GeoPrecision.values)
_QUALIFIERS = choice_lookup(FigureQualifier)
_QUALIFIERS_ALLOWED = ", ".join(FigureQualifier.values)


# The country columns of incidents and sources read the same way.
_COUNTRY_HELP = described(gettext_lazy("ISO 3166 code (%(code)s) or English name (%(name)s)."),
                          code="RU", name="Russia")


def _model_problem(name: str, error: ValidationError) -> RowError:
    """A refusal of the model's, as the row's problem in column `name`."""
    return cell_problem(name, " ".join(error.messages), error.code)


def _parse_in_counts(value) -> bool:
    """Whether an incident is part of the case's people counts: yes unless the file says no."""
    return True if cell_text(value).strip() == "" else parse_bool(value)


class IncidentImporter(TabularImporter):
    kind = "incidents"
    noun = "incident"
    columns = (
        Column("title", required=True, help=gettext_lazy(
            "What happened, in a few words (at most 200 characters).")),
        Column("occurred", required=True, aliases=("date", "event_date", "when"),
               help=gettext_lazy(
                   "The date as precisely as it is known: 2024-05-09, 2024-05, 2024, "
                   "~2024-05-09 (about), 2024-05-09? (uncertain), 05-09 (9 May, year unknown), "
                   "2024-05-08/2024-05-09 (a range), or any EDTF form Casedesk accepts.")),
        Column("type", aliases=("event_type", "incident_type"), help=gettext_lazy(
            "An incident type of the newsroom's list, by name or slug.")),
        Column("description", aliases=("notes",), help=gettext_lazy(
            "Free text; line breaks are kept.")),
        Column("place_name", aliases=("location", "place"), help=gettext_lazy(
            "Town, village or site.")),
        Column("admin_region", aliases=("admin1", "region"), help=gettext_lazy(
            "First-level region (oblast, province, state), as ACLED's admin1.")),
        Column("country", help=_COUNTRY_HELP),
        Column("latitude", help=gettext_lazy(
            "Decimal degrees (47.2357); with longitude, or neither.")),
        Column("longitude", help=gettext_lazy(
            "Decimal degrees (39.7015); with latitude, or neither.")),
        Column("geo_precision", aliases=("place_precision",), prefer_alias=True,
               help=described(gettext_lazy("One of: %(allowed)s (or ACLED's 1, 2, 3); needed "
                                           "with coordinates."), allowed=GeoPrecision.values)),
        *(Column(name, help=described(gettext_lazy(
            "Number of people (%(counted)s): 0 or more; empty when unknown."),
            words={"counted": Incident._meta.get_field(name).verbose_name}))
          for name in COUNT_FIELDS),
        *(Column(f"{name}_qualifier", help=described(gettext_lazy(
            "How the count in %(column)s reads: %(allowed)s (default %(default)s)."),
            column=name, allowed=FigureQualifier.values, default=FigureQualifier.EXACTLY.value))
          for name in COUNT_FIELDS),
        Column("count_group", help=gettext_lazy(
            "Incidents of one event share a group name: the case's people counts add them up "
            "on one line.")),
        Column("in_case_counts", help=described(gettext_lazy(
            "%(yes)s or %(no)s (default %(yes)s): %(no)s leaves the incident out of the case's "
            "people counts."), yes="yes", no="no")),
    )
    export_only = ("incident_id", "year", "time_precision", "date_in_words", "source",
                   "source_scale")

    def counted(self, count):
        return ngettext("%(count)s incident", "%(count)s incidents", count) % {
            "count": grouped(count)}

    def prepare(self):
        self.types = {}
        for incident_type in IncidentType.objects.all():
            self.types[incident_type.slug.lower()] = incident_type.pk
            self.types[incident_type.name.lower()] = incident_type.pk
        self.type_names = ", ".join(IncidentType.objects.values_list("name", flat=True)[:30])

    def parse_type(self, value):
        text = one_line(cell_text(value)).lower()
        if not text:
            return None
        try:
            return self.types[text]
        except KeyError:
            known = self.type_names or _("none yet (editors add them in the admin)")
            raise CellError(_("“%(value)s” is not an incident type of this newsroom; known "
                              "types: %(known)s") % {"value": text[:40], "known": known},
                            code="invalid_choice") from None

    def clean_row(self, values, errors):
        cell = read_cell
        title = cell(values, "title", parse_text, errors, max_length=200)
        if title == "":
            errors.append(cell_problem("title", _("is empty"), "required"))
        when = cell(values, "occurred", parse_occurred, errors)
        row = {
            "title": title,
            "when": when,
            "type_id": cell(values, "type", self.parse_type, errors),
            "description": cell(values, "description", parse_text, errors, multiline=True),
            "place_name": cell(values, "place_name", parse_text, errors, max_length=200),
            "admin_region": cell(values, "admin_region", parse_text, errors, max_length=200),
            "country": cell(values, "country", parse_country_cell, errors),
            "latitude": cell(values, "latitude", parse_coordinate, errors, 90),
            "longitude": cell(values, "longitude", parse_coordinate, errors, 180),
            "geo_precision": cell(values, "geo_precision", parse_choice, errors,
                                  _GEO_PRECISIONS, _GEO_ALLOWED),
        }
        for name in COUNT_FIELDS:
            row[name] = cell(values, name, parse_count, errors)
            row[f"{name}_qualifier"] = cell(values, f"{name}_qualifier", parse_choice, errors,
                                            _QUALIFIERS, _QUALIFIERS_ALLOWED,
                                            default=FigureQualifier.EXACTLY)
        row["count_group"] = cell(values, "count_group", parse_text, errors, max_length=100)
        row["in_case_counts"] = cell(values, "in_case_counts", _parse_in_counts, errors)
        if errors:
            return None
        # The same rules as Incident.clean(), which a form runs on every save.
        if (row["latitude"] is None) != (row["longitude"] is None):
            errors.append(cell_problem("latitude, longitude", _("give both, or neither"),
                                       "coordinates_incomplete"))
        if row["latitude"] is not None and not row["geo_precision"]:
            errors.append(cell_problem(
                "geo_precision", _("say how precise the coordinates are (%(allowed)s)")
                % {"allowed": _GEO_ALLOWED}, "geo_precision_missing"))
        count_errors = count_reading_errors(row)
        for name, error in count_errors.items():
            errors.append(_model_problem(name, error))
        # The balance reads every count as given: with one unreadable, its error says so.
        if not count_errors and (exceeded := count_balance_error(row)):
            errors.append(_model_problem("involved", exceeded))
        return None if errors else row

    def build(self, row) -> Incident:
        when = row.pop("when")
        # What Incident.save() derives, since bulk writes call no save().
        return Incident(case=self.case, created_by=self.user, occurred=when.edtf,
                        occurred_earliest=when.earliest, occurred_latest=when.latest, **row)

    def write(self, report, *, progress=None):
        written = 0
        reason = imported_records_reason(report.total_rows, "incidents")
        if connection.vendor == "postgresql":
            now = timezone.now()
            rows = []
            for row in report.records:
                when = row.pop("when")
                # What Incident.save() derives, since a bulk write calls no save().
                row |= {"occurred": when.edtf, "occurred_earliest": when.earliest,
                        "occurred_latest": when.latest, "case_id": self.case.pk,
                        "created_by_id": self.user.pk, "created_at": now, "updated_at": now}
                rows.append(row)
            return len(copy_create_with_history(
                Incident, rows, user=self.user, reason=reason, progress=progress,
                mine={"case_id": self.case.pk, "created_at": now,
                      "created_by_id": self.user.pk}))
        for batch in _batches(report.records):
            objs = [self.build(row) for row in batch]
            bulk_create_with_history(objs, user=self.user, reason=reason)
            written += len(objs)
            if progress is not None:
                progress(len(objs))
        return written


_SOURCE_KINDS = choice_lookup(SourceKind)
_RELIABILITY = {**choice_lookup(Reliability), **{v.lower(): v for v in Reliability.values}}
IDENTITY_COLUMNS = ("real_name", "contact", "private_notes")


class SourceImporter(TabularImporter):
    kind = "sources"
    noun = "source"
    columns = (
        Column("name", required=True, aliases=("codename",), help=gettext_lazy(
            "The public name, or for a protected source a codename; unique in the case and "
            "in the file.")),
        Column("kind", help=described(gettext_lazy("One of: %(allowed)s (default %(default)s)."),
                                      allowed=SourceKind.values,
                                      default=SourceKind.OUTLET.value)),
        Column("url", aliases=("address",), help=described(gettext_lazy(
            "%(scheme)s address, at most 500 characters; a protected source's only from the "
            "case's source handlers."), scheme="http(s)://")),
        Column("language", help=gettext_lazy("Language code: ru, en, uk…")),
        Column("country", help=_COUNTRY_HELP),
        Column("reliability", help=gettext_lazy(
            "Admiralty grade A–F (default F, cannot be judged).")),
        Column("reliability_note", help=gettext_lazy("Why this grade.")),
        Column("protected", help=described(gettext_lazy("%(yes)s or %(no)s (default %(no)s)."),
                                           yes="yes", no="no")),
        Column("reached_via", help=gettext_lazy(
            "The name of the source this one is known through: one of the case's sources or "
            "another row of the file.")),
        Column("real_name", help=gettext_lazy(
            "A protected source's real name: only from the case's source handlers.")),
        Column("contact", help=gettext_lazy(
            "A protected source's contact: only from the case's source handlers.")),
        Column("private_notes", help=gettext_lazy(
            "Notes on a protected source's identity: only from the case's source handlers.")),
    )
    export_only = ("source_id",)

    def counted(self, count):
        return ngettext("%(count)s source", "%(count)s sources", count) % {
            "count": grouped(count)}

    def prepare(self):
        self.existing = dict(Source.objects.of_case(self.case).values_list("name", "pk"))
        self.existing_lower = {name.lower() for name in self.existing}
        self.names_in_file: dict[str, int] = {}

    def clean_row(self, values, errors):
        cell = read_cell
        row = {
            "name": cell(values, "name", parse_text, errors, max_length=200),
            "kind": cell(values, "kind", parse_choice, errors, _SOURCE_KINDS,
                         ", ".join(SourceKind.values), default=SourceKind.OUTLET),
            "url": cell(values, "url", parse_url, errors),
            "language": cell(values, "language", parse_language, errors),
            "country": cell(values, "country", parse_country_cell, errors),
            "reliability": cell(values, "reliability", parse_choice, errors, _RELIABILITY,
                                "A, B, C, D, E or F", default=Reliability.F),
            "reliability_note": cell(values, "reliability_note", parse_text, errors,
                                     multiline=True),
            "protected": cell(values, "protected", parse_bool, errors),
            "reached_via": cell(values, "reached_via", parse_text, errors, max_length=200),
        }
        identity = {
            "real_name": cell(values, "real_name", parse_text, errors, max_length=200),
            "contact": cell(values, "contact", parse_text, errors, multiline=True),
            "private_notes": cell(values, "private_notes", parse_text, errors, multiline=True),
        }
        name = row["name"]
        if name == "":
            errors.append(cell_problem("name", _("is empty"), "required"))
        elif name:
            if name.lower() in self.existing_lower:
                errors.append(cell_problem(
                    "name", _("the case already has a source called “%(name)s”")
                    % {"name": name}, "name_taken"))
            elif name.lower() in self.names_in_file:
                errors.append(cell_problem(
                    "name", _("“%(name)s” is also the name in row %(row)d")
                    % {"name": name, "row": self.names_in_file[name.lower()]},
                    "name_repeated"))
        if row["language"] and len(row["language"]) > 16:
            errors.append(cell_problem(
                "language", _("use a short language code such as ru, en or uk"), "max_length"))
        has_identity = any(identity.values())
        if has_identity and not self.access.can_handle_sources:
            errors.append(cell_problem(
                "real_name, contact, private_notes",
                _("only the case's source handlers may import a protected source's identity; "
                  "leave these cells empty"), "identity_handlers_only"))
        elif has_identity and row["protected"] is False:
            errors.append(cell_problem(
                "protected", _("a source with an identity (real name, contact, notes) must be "
                               "protected: put yes"), "identity_not_protected"))
        if row["protected"] and row["url"] and not self.access.can_handle_sources:
            errors.append(cell_problem(
                "url", _("a protected source's address may point at who they are; only source "
                         "handlers may give it"), PROTECTED_ADDRESS))
        row["identity"] = identity if has_identity else None
        if name and not errors:
            self.names_in_file[name.lower()] = self.row_number
        return None if errors else row

    def check_file(self, report):
        """`reached_via` names a source of the case or of the file, without a cycle."""
        if report.error_row_count:
            return
        in_file = {row["name"].lower(): row for row in report.records}
        existing = {name.lower(): pk for name, pk in self.existing.items()}
        for row in report.records:
            via = (row["reached_via"] or "").lower()
            if via and via not in in_file and via not in existing:
                report.error_row_count += 1
                report.error_rows.append(RowReport(
                    0, {"name": row["name"], "reached_via": row["reached_via"]},
                    [cell_problem("reached_via",
                                  _("there is no source called “%(name)s” in the case or the "
                                    "file") % {"name": row["reached_via"]},
                                  "unknown_reached_via")]))
            elif via == row["name"].lower():
                report.error_row_count += 1
                report.error_rows.append(RowReport(
                    0, {"name": row["name"]},
                    [cell_problem("reached_via",
                                  _("a source cannot be reached through itself"),
                                  "reached_via_itself")]))
        if report.error_row_count:
            return
        try:
            self.layers = _layers(report.records, in_file)
        except CellError as exc:
            report.error_row_count += 1
            report.error_rows.append(RowReport(0, {}, [RowError(str(exc), exc.code)]))

    def display_cells(self, values):
        # The preview never shows an identity: only that one was given.
        cells = super().display_cells(values)
        for name in IDENTITY_COLUMNS:
            if cells.get(name):
                cells[name] = _("(given)")
        return cells

    def write(self, report, *, progress=None):
        names_to_pk = {name.lower(): pk for name, pk in self.existing.items()}
        reason = imported_records_reason(report.total_rows, "sources")
        identities = []
        for layer in self.layers:
            sources = []
            for row in layer:
                via = (row["reached_via"] or "").lower()
                protected = bool(row["protected"] or row["identity"])
                sources.append(Source(
                    case=self.case, created_by=self.user, name=row["name"], kind=row["kind"],
                    # A protected source's address is part of its identity (below).
                    url="" if protected else row["url"], language=row["language"],
                    country=row["country"], reliability=row["reliability"],
                    reliability_note=row["reliability_note"], protected=protected,
                    reached_via_id=names_to_pk[via] if via else None))
            created = bulk_create_with_history(sources, user=self.user, reason=reason)
            for row, source in zip(layer, created, strict=True):
                names_to_pk[source.name.lower()] = source.pk
                identity = {**(row["identity"] or {}),
                            "address": (row["url"] or "") if source.protected else ""}
                if any(identity.values()):
                    identities.append(SourceIdentity(source_id=source.pk, **identity))
            if progress is not None:
                progress(len(created))
        if identities:
            bulk_create_with_history(identities, user=self.user, reason=reason)
        return sum(len(layer) for layer in self.layers)


def _layers(rows: list[dict], in_file: dict[str, dict]) -> list[list[dict]]:
    """Rows in the order they can be created: a source reached via another row of the file
    comes after it. A cycle is an error."""
    placed: set[str] = set()
    remaining = list(rows)
    layers = []
    while remaining:
        layer = [row for row in remaining
                 if not row["reached_via"] or row["reached_via"].lower() not in in_file
                 or row["reached_via"].lower() in placed]
        if not layer:
            names = ", ".join(sorted(row["name"] for row in remaining)[:10])
            raise CellError("reached_via: " + _("these sources are reached through one "
                                                "another in a circle: %(names)s")
                            % {"names": names}, code="reached_via_cycle")
        placed |= {row["name"].lower() for row in layer}
        layer_ids = {id(row) for row in layer}
        remaining = [row for row in remaining if id(row) not in layer_ids]
        layers.append(layer)
    return layers
