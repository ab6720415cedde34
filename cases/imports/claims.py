"""The importer of claims with their citations from a CSV or XLSX file
(docs/import-format.md, *Claims*).

The file has the shape a newsroom's spreadsheet of claims has: **one row per citation**, the
claim's cells repeated (or left empty) on each of its rows. The rows of one claim are
grouped by the `claim` column, a key of the file's own ("C1", "12"), or, in a file without
one, by the same statement. A row without any citation cell is a claim without a citation.

What the record forms allow, the import allows, and no more:

- Claims start **unverified**: a status is decided only through the verification workflow
  (cases/workflow.py). A `status` column is read only to say, in the preview, that it is not
  imported.
- A citation's source (and each of its relays in `via`, several separated by ";", in order)
  names a source **already in the case**, by name or codename. An unknown name is an error,
  never a new source: a source carries a grade, a kind and its protection, none of which a
  claims sheet says, and a misspelt codename of a protected source must not become a new
  public source holding that person's words and address. Sources come in first, through the
  source import or the source form (as the source import's `reached_via` names sources of
  the case or of its own file).
- A citation's address follows cases/identities.py as in the claim form: anyone who may
  write claims may give it, and when the citation's lineage holds a protected source it is
  stored encrypted for the case's source handlers only (`Citation.objects.bulk_create` seals
  it, history included); the preview never shows such an address.
- An incident is named by its id (`12` or `incident-12`) or its title; a title that several
  incidents of the case share is an error that lists their ids.

Everything is checked before anything is written; the write is a fixed number of bulk
statements per batch of claims (no query per row), and the saved citations' pages are
queued for capture once the import commits (capture.tasks.citations_saved)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from capture.tasks import citations_saved

from ..enums import CitationRelation, Credibility, FigureQualifier, VerificationStatus
from ..history import bulk_create_with_history, imported_claims_reason
from ..identities import Lineages
from ..models import Citation, Claim, Incident, Source
from ..models.source import MAX_RELAYS, bulk_create_relays
from ..text import one_line
from .cells import (
    cell_text,
    choice_lookup,
    parse_choice,
    parse_figure,
    parse_language,
    parse_moment,
    parse_text,
    parse_url,
    read_cell,
)
from .limits import grouped
from .refusals import RowError, cell_problem, relay_problems
from .report import MAX_ERROR_ROWS_SHOWN, PREVIEW_ROWS, ImportReport, Progress, RowReport
from .tables import Table
from .tabular import Column, TabularImporter, described

# Claims written per round of bulk statements (claims, their history, citations, theirs).
BATCH_SIZE = 2000

# The cells of a claim, given on any of its rows; where several rows give one, they agree.
CLAIM_CELLS = ("statement", "incident", "figure_value", "figure_unit", "figure_qualifier",
               "credibility")
# The cells of a citation, one per row.
CITATION_CELLS = ("source", "via", "relation", "quote", "url", "published_at", "accessed_at",
                  "language")


def _lookup(choices, *, without_number: bool = False) -> dict[str, str]:
    """A choice by its value or its label, in English and in the reader's language; with
    `without_number`, also by the label's words after its number ("probably true")."""
    lookup = choice_lookup(choices)
    with translation.override("en"):
        lookup |= choice_lookup(choices)
    if without_number:
        lookup |= {label.split("–", 1)[1].strip(): value for label, value in list(lookup.items())
                   if "–" in label}
    return lookup


@dataclass
class _Row:
    number: int
    values: dict  # the cells as read, for the preview
    cells: dict  # the cells parsed
    errors: list[RowError] = field(default_factory=list)
    # Resolved against the case.
    source_id: int | None = None
    relay_ids: list[int] = field(default_factory=list)
    protected_address: bool = False

    @property
    def cites(self) -> bool:
        """Whether the row gives a citation (any of its cells)."""
        return any(self.cells.get(name) not in (None, "") for name in CITATION_CELLS)


class ClaimImporter(TabularImporter):
    kind = "claims"
    noun = "claim"
    columns = (
        Column("statement", required=True, aliases=("claim_statement",), help=gettext_lazy(
            "The checkable statement, in the newsroom's words: on at least one row of each "
            "claim.")),
        Column("claim", aliases=("claim_id", "claim_key", "claim_ref"), help=gettext_lazy(
            "A key of the file's own grouping the rows (citations) of one claim.")),
        Column("incident", aliases=("incident_id", "incident_title"), help=gettext_lazy(
            "The incident the claim is about: its id or its title.")),
        Column("figure_value", aliases=("figure",), help=gettext_lazy(
            "The number the statement gives: 0 or more, at most two decimal places.")),
        Column("figure_unit", aliases=("counted", "unit"), help=gettext_lazy(
            "What the figure counts (deserters); needed with a figure.")),
        Column("figure_qualifier", aliases=("qualifier",), help=described(gettext_lazy(
            "How the figure reads: %(allowed)s (default %(default)s)."),
            allowed=FigureQualifier.values, default=FigureQualifier.EXACTLY.value)),
        Column("credibility", help=gettext_lazy(
            "Admiralty credibility 1–6 (default 6, cannot be judged), or its words.")),
        # Read only to tell the reader it is not imported: the workflow decides statuses.
        Column("status", aliases=("verification_status",), help=gettext_lazy(
            "Not imported: claims start unverified, and only the verification workflow sets "
            "a status.")),
        Column("source", aliases=("source_name",), help=gettext_lazy(
            "A source already in the case, by name or codename; needed with any citation "
            "cell.")),
        Column("via", aliases=("relays", "relayed_by"), help=gettext_lazy(
            "The sources the statement came through, in order: names or codenames of sources "
            "of the case, separated by “;”.")),
        Column("relation", help=described(gettext_lazy("One of: %(allowed)s (default "
                                                       "%(default)s)."),
                                          allowed=CitationRelation.values,
                                          default=CitationRelation.REPORTS.value)),
        Column("quote", help=gettext_lazy("The source's words; line breaks are kept.")),
        Column("url", aliases=("address", "link"), help=described(gettext_lazy(
            "%(scheme)s address of the statement, at most 500 characters."),
            scheme="http(s)://")),
        Column("published_at", aliases=("published", "report_date"), help=gettext_lazy(
            "A day (2024-05-09) or a day and time (2024-05-09 14:30); without a UTC offset, in "
            "the site's time zone.")),
        Column("accessed_at", aliases=("accessed",), help=gettext_lazy(
            "When the statement was read: a day, or a day and time, as for published_at.")),
        Column("language", help=gettext_lazy("Language code: ru, en, uk…")),
    )

    def counted(self, count):
        return ngettext("%(count)s claim", "%(count)s claims", count) % {
            "count": grouped(count)}

    def counted_citations(self, count):
        return ngettext("%(count)s citation", "%(count)s citations", count) % {
            "count": grouped(count)}

    def prepare(self):
        self.qualifiers = _lookup(FigureQualifier)
        self.credibilities = _lookup(Credibility, without_number=True)
        self.relations = _lookup(CitationRelation)
        # What a `status` cell may say without being a status the import leaves out.
        self.unverified = {"", *(key for key, value in _lookup(VerificationStatus).items()
                                 if value == VerificationStatus.UNVERIFIED)}
        # The case's sources, once: names for the lookup, lineages for the addresses.
        rows = list(Source.objects.of_case(self.case)
                    .values_list("pk", "name", "reached_via_id", "protected"))
        self.lineages = Lineages([(pk, via, protected) for pk, _name, via, protected in rows])
        self.source_names: dict[str, int] = {}
        self.folded_names: dict[str, list[int]] = {}
        for pk, name, _via, _protected in rows:
            self.source_names[name] = pk
            self.folded_names.setdefault(name.casefold(), []).append(pk)

    def check(self, table: Table, *, progress: Progress | None = None) -> ImportReport:
        report = ImportReport(kind=self.kind)
        positions = self.map_header(table.header, report)
        self.prepare()
        rows = []
        for number, values in self.data_rows(table, positions, report.columns, progress):
            row = _Row(number, values, {})
            row.cells = self.clean_row(values, row.errors)
            rows.append(row)
        report.total_rows = len(rows)
        claims = self._claims(rows)
        self._resolve_incidents(claims)
        self._resolve_sources(rows)
        for row in rows:
            if row.errors:
                report.error_row_count += 1
                if len(report.error_rows) < MAX_ERROR_ROWS_SHOWN:
                    report.error_rows.append(RowReport(row.number, self._shown(row), row.errors))
            elif len(report.sample_rows) < PREVIEW_ROWS:
                report.sample_rows.append(RowReport(row.number, self._shown(row)))
        if report.error_row_count == 0:
            report.records = [self._record(claim) for claim in claims]
        report.counts = {"claims": len(claims),
                         "citations": sum(1 for row in rows if row.cites)}
        stated = sum(1 for claim in claims if any(
            row.cells["stated_status"] not in self.unverified for row in claim))
        if stated:
            report.notes.append(ngettext(
                "%(count)s claim of the file has a verification status. Imported claims "
                "start unverified, whatever the file says: this case's editors decide "
                "verdicts through the verification workflow.",
                "%(count)s claims of the file have a verification status. Imported claims "
                "start unverified, whatever the file says: this case's editors decide "
                "verdicts through the verification workflow.", stated)
                % {"count": grouped(stated)})
        if report.total_rows == 0:
            report.notes.append(_("The file has a header but no rows."))
        return report

    def clean_row(self, values, errors):
        cell = read_cell
        cells = {
            "key": cell(values, "claim", parse_text, errors, max_length=200),
            "statement": cell(values, "statement", parse_text, errors),
            "incident": one_line(cell_text(values.get("incident")))[:200],
            "figure_value": cell(values, "figure_value", parse_figure, errors),
            "figure_unit": cell(values, "figure_unit", parse_text, errors, max_length=100),
            "figure_qualifier": cell(values, "figure_qualifier", parse_choice, errors,
                                     self.qualifiers, ", ".join(FigureQualifier.values)),
            "credibility": cell(values, "credibility", parse_choice, errors,
                                self.credibilities, _("1 to 6")),
            "stated_status": one_line(cell_text(values.get("status"))).lower(),
            "source": cell(values, "source", parse_text, errors, max_length=200),
            "via": cell(values, "via", parse_text, errors,
                        max_length=(200 + 2) * MAX_RELAYS),
            "relation": cell(values, "relation", parse_choice, errors, self.relations,
                             ", ".join(CitationRelation.values)),
            "quote": cell(values, "quote", parse_text, errors, multiline=True),
            "url": cell(values, "url", parse_url, errors),
            "published_at": cell(values, "published_at", parse_moment, errors),
            "accessed_at": cell(values, "accessed_at", parse_moment, errors),
            "language": cell(values, "language", parse_language, errors),
        }
        if cells["language"] and len(cells["language"]) > 16:
            errors.append(cell_problem(
                "language", _("use a short language code such as ru, en or uk"), "max_length"))
        if cells["statement"] == "" and not cells["key"]:
            errors.append(cell_problem("statement", _("is empty"), "required"))
        return cells

    # --- across rows: the claims, and what they name in the case

    def _claims(self, rows: list[_Row]) -> list[list[_Row]]:
        """The rows of each claim, in the order the claims first appear; a claim's cells
        given on several of its rows must agree."""
        groups: dict[tuple[str, str], list[_Row]] = {}
        for row in rows:
            key, statement = row.cells["key"], row.cells["statement"]
            if key:
                groups.setdefault(("key", key), []).append(row)
            elif statement:
                groups.setdefault(("statement", statement), []).append(row)
        for (by, key), group in groups.items():
            given: dict[str, tuple] = {}
            for row in group:
                for name in CLAIM_CELLS:
                    value = row.cells[name]
                    if value in (None, ""):
                        continue
                    compared = value.casefold() if name == "incident" else value
                    if name not in given:
                        given[name] = (compared, row.number, value)
                    elif given[name][0] != compared:
                        row.errors.append(cell_problem(
                            name, _("“%(value)s” differs from “%(first)s” given in row "
                                    "%(row)d for the same claim")
                            % {"value": cell_text(value)[:60],
                               "first": cell_text(given[name][2])[:60],
                               "row": given[name][1]}, "claim_differs"))
            if by == "key" and "statement" not in given and not any(
                    row.errors for row in group):
                group[0].errors.append(cell_problem(
                    "statement", _("no row of claim “%(claim)s” gives its statement")
                    % {"claim": key[:60]}, "required"))
            if "figure_value" in given and "figure_unit" not in given:
                row = next(r for r in group if r.number == given["figure_value"][1])
                row.errors.append(cell_problem("figure_unit", _("say what the figure counts"),
                                               "required"))
        return list(groups.values())

    def _resolve_incidents(self, claims: list[list[_Row]]) -> None:
        """Each claim's incident, by id or title, among the case's incidents (read once, and
        only when the file names any)."""
        named = [(group, row) for group in claims for row in group if row.cells["incident"]]
        if not named:
            for group in claims:
                group[0].cells["incident_id"] = None
            return
        ids, titles = set(), {}
        for pk, title in Incident.objects.of_case(self.case).values_list("pk", "title"):
            ids.add(pk)
            titles.setdefault(title.casefold(), []).append(pk)
        for group in claims:
            group[0].cells["incident_id"] = None
        for group, row in named:
            text = row.cells["incident"]
            match = re.fullmatch(r"(?:incident-)?(\d{1,18})", text.lower())
            if match and int(match.group(1)) in ids:
                group[0].cells["incident_id"] = int(match.group(1))
                continue
            found = titles.get(text.casefold(), [])
            if len(found) == 1:
                group[0].cells["incident_id"] = found[0]
            elif found:
                row.errors.append(cell_problem(
                    "incident", _("several incidents of the case are called “%(title)s”: give "
                                  "the id of the one meant (%(ids)s)")
                    % {"title": text[:60], "ids": ", ".join(str(pk) for pk in sorted(found)[:10])},
                    "ambiguous_incident"))
            else:
                row.errors.append(cell_problem(
                    "incident", _("the case has no incident with the id or title “%(value)s”")
                    % {"value": text[:60]}, "unknown_incident"))

    def _source(self, row: _Row, name: str, text: str | None = None) -> int | None:
        """The source of the case `row`'s cell `name` names (or `text`, one name of it)."""
        text = row.cells[name] if text is None else text
        if not text:
            return None
        pk = self.source_names.get(text)
        if pk is not None:
            return pk
        found = self.folded_names.get(text.casefold(), [])
        if len(found) == 1:
            return found[0]
        if found:
            row.errors.append(cell_problem(
                name, _("several sources of the case are called “%(name)s”, in different "
                        "capitals: write the name exactly") % {"name": text[:60]},
                "ambiguous_source"))
        else:
            row.errors.append(cell_problem(
                name, _("the case has no source called “%(name)s”: add it first (the source "
                        "form, or a sources import)") % {"name": text[:60]}, "unknown_source"))
        return None

    def _resolve_sources(self, rows: list[_Row]) -> None:
        for row in rows:
            if not row.cites:
                continue
            if not row.cells["source"]:
                if row.cells["source"] == "":
                    row.errors.append(cell_problem(
                        "source", _("say which source of the case said it"), "required"))
                continue
            row.source_id = self._source(row, "source")
            self._resolve_relays(row)
            if row.source_id is not None:
                lineage = self.lineages.lineage(row.source_id, row.relay_ids)
                row.protected_address = not self.lineages.protected_ids.isdisjoint(lineage)

    def _resolve_relays(self, row: _Row) -> None:
        """The `via` cell: the names of the relays, in order, separated by ";". The list is
        judged as written, by the rule every writer applies (relay_errors): a relay named
        twice is refused, never merged, and counted with the others against MAX_RELAYS."""
        names = [one_line(name) for name in (row.cells["via"] or "").split(";")]
        names = [name for name in names if name]
        ids = [self._source(row, "via", name) for name in names]
        if None in ids:
            # Refused already, as a form refuses an unknown id before judging the list.
            return
        problems = relay_problems("via", ids, row.source_id)
        row.errors.extend(problems)
        if not problems:
            row.relay_ids = ids

    def _shown(self, row: _Row) -> dict[str, str]:
        cells = self.display_cells(row.values)
        # The preview never shows an address that is for the case's source handlers only.
        if cells.get("url") and row.protected_address:
            cells["url"] = _("(for source handlers only)")
        return cells

    def _record(self, group: list[_Row]) -> dict:
        """What is written for one claim and its citations."""
        first = {}
        for name in CLAIM_CELLS:
            first[name] = next((row.cells[name] for row in group
                                if row.cells[name] not in (None, "")), None)
        return {
            "rows": len(group),
            "claim": {
                "incident_id": group[0].cells["incident_id"],
                "statement": first["statement"],
                "figure_value": first["figure_value"],
                "figure_unit": first["figure_unit"] or "",
                "figure_qualifier": first["figure_qualifier"] or FigureQualifier.EXACTLY,
                "credibility": first["credibility"] or Credibility.CANNOT_BE_JUDGED,
            },
            "citations": [{
                "source_id": row.source_id, "relay_ids": list(row.relay_ids),
                "relation": row.cells["relation"] or CitationRelation.REPORTS,
                "quote": row.cells["quote"], "url": row.cells["url"],
                "published_at": row.cells["published_at"],
                "accessed_at": row.cells["accessed_at"], "language": row.cells["language"],
            } for row in group if row.cites],
        }

    # --- writing

    def write(self, report, *, progress=None):
        counts = report.counts
        reason = imported_claims_reason(counts["claims"], counts["citations"])
        saved = []
        for start in range(0, len(report.records), BATCH_SIZE):
            batch = report.records[start:start + BATCH_SIZE]
            claims = bulk_create_with_history(
                [Claim(case=self.case, created_by=self.user, **record["claim"])
                 for record in batch], user=self.user, reason=reason)
            given = []
            for claim, record in zip(claims, batch, strict=True):
                for values in record["citations"]:
                    values = dict(values)
                    relays = values.pop("relay_ids")
                    citation = Citation(created_by=self.user, claim_id=claim.pk, **values)
                    citation.set_relays(relays)
                    given.append(citation)
            # Sealed on the way in (CitationQuerySet.bulk_create): a protected lineage's
            # address is stored encrypted, and so is its history row.
            created = bulk_create_with_history(given, user=self.user, reason=reason)
            bulk_create_relays(given, created, user=self.user, reason=reason)
            saved += created
            if progress is not None:
                progress(sum(record["rows"] for record in batch))
        citations_saved(saved, self.user)  # their pages captured once the import commits
        return len(report.records)
