"""The importer of a whole case from our JSON export (cases.exports.case_json), into an empty
case: its incidents and sources are checked by the tabular importers, its claims, citations,
tasks and requests for comment here, with the links between them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from capture.tasks import citations_saved

from .. import safejson
from ..enums import (
    CitationRelation,
    CommentChannel,
    CommentOutcome,
    Credibility,
    FigureQualifier,
    IncidentLinkKind,
    TaskState,
)
from ..exports import FORMAT_NAME, FORMAT_VERSION
from ..history import IMPORTED_CASE_EXPORT, bulk_create_with_history
from ..links import NOTE_MAX_LENGTH
from ..models import Citation, Claim, CommentRequest, Incident, IncidentLink, Source, Task
from ..models.source import bulk_create_relays
from .base import Importer
from .cells import (
    cell_text,
    choice_lookup,
    parse_choice,
    parse_datetime,
    parse_day,
    parse_language,
    parse_text,
    parse_url,
    read_cell,
    shown_text,
)
from .limits import grouped, max_rows
from .refusals import CellError, FileRefused, RowError, cell_problem, relay_problems
from .report import MAX_ERROR_ROWS_SHOWN, ImportReport, Progress, RowReport
from .tables import Table
from .tabular import IncidentImporter, SourceImporter, TabularImporter


def _ref_key(value):
    """A reference as the file gives it (`incident-12`), or None for a value that cannot be one
    (a list or an object, which could not even be looked up)."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


class CaseJSONImporter(Importer):
    """Brings a case exported as JSON into an empty case: incidents, sources, claims,
    citations, tasks and requests for comment, with their links. Everything is checked before
    anything is written, and written in one transaction.

    Claims start unverified: a status changes only through the verification workflow
    (cases/workflow.py), by this case's editors; the exported verification history stays in
    the file for the reader. Assignees and askers are kept when they are members of this case.
    Identities are never in the file; protected sources come in under their codename.

    Its shape is every importer's (base.py): `read` gives the document, `check` and `run` take
    it; `run` also takes the file's bytes, which manage.py import_case passes."""

    kind = "case"
    noun = "record"

    # The file's lists of records, and how a record of each is named in errors.
    RECORD_LISTS = {"incidents": "incident", "sources": "source", "claims": "claim",
                    "citations": "citation", "tasks": "task",
                    "comment_requests": "request for comment",
                    "incident_links": "incident link"}
    # Those names in the reader's language.
    RECORD_NAMES = {
        "incident": pgettext_lazy("an imported record", "incident"),
        "source": pgettext_lazy("an imported record", "source"),
        "claim": pgettext_lazy("an imported record", "claim"),
        "citation": pgettext_lazy("an imported record", "citation"),
        "task": pgettext_lazy("an imported record", "task"),
        "request for comment": pgettext_lazy("an imported record", "request for comment"),
        "incident link": pgettext_lazy("an imported record", "incident link"),
    }

    @classmethod
    def _record(cls, noun: str, number: int | None = None) -> str:
        """How errors name a record of the file: "claim #4", or "claim" for the whole list."""
        name = cls.RECORD_NAMES[noun]
        if number is None:
            return str(name)
        return _("%(record)s #%(number)d") % {"record": name, "number": number}

    @classmethod
    def load(cls, data: bytes) -> dict:
        """The export's document, read strictly (cases/safejson.py), or FileRefused."""
        try:
            document = safejson.loads(data)
        except safejson.UnsafeJSON as exc:
            raise FileRefused(_("The file cannot be read: %(where)s%(problem)s")
                              % {"where": cls._where(exc.path), "problem": exc.message},
                              code=exc.code) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise FileRefused(_("This JSON file is not a Casedesk case export."),
                              code="not_case_export")
        if document.get("version") != FORMAT_VERSION:
            raise FileRefused(_("This case export has version %(version)s; this Casedesk "
                                "reads version %(readable)s.")
                              % {"version": str(document.get("version"))[:20],
                                 "readable": FORMAT_VERSION}, code="version")
        for name in cls.RECORD_LISTS:
            value = document.setdefault(name, [])
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise FileRefused(_("“%(name)s” in the file is not a list of records.")
                                  % {"name": name}, code="not_a_list")
        limit = max_rows()
        if sum(len(document[name]) for name in cls.RECORD_LISTS) > limit:
            raise FileRefused(
                ngettext("The file has more than %(limit)s record: it cannot be imported at "
                         "once.",
                         "The file has more than %(limit)s records: it cannot be imported at "
                         "once.", limit)
                % {"limit": grouped(limit)}, code="too_many_rows")
        return document

    def read(self, data: bytes, name: str = "") -> dict:
        return self.load(data)

    @classmethod
    def _where(cls, path: str) -> str:
        """Where in the file a JSON path points, as the errors name records: `claims[3].title`
        is "claim #4, title: "."""
        match = re.fullmatch(r"(\w+)\[(\d+)\]\.?(.*)", path)
        if match and match.group(1) in cls.RECORD_LISTS:
            noun, number, rest = cls.RECORD_LISTS[match.group(1)], int(match.group(2)) + 1, \
                match.group(3)
            record = cls._record(noun, number)
            return f"{record}, {rest}: " if rest else f"{record}: "
        return f"{path}: " if path else ""

    def _table(self, importer_class, records, refs_to_names=None) -> Table:
        names = [column.name for column in importer_class.columns]
        rows = []
        for record in records:
            row = [record.get(name) for name in names]
            if refs_to_names is not None:  # sources: reached_via names the other source
                index = names.index("reached_via")
                row[index] = refs_to_names.get(_ref_key(record.get("reached_via")), record.get(
                    "reached_via"))
            rows.append(row)
        return Table(names, rows, first_row=1)

    def _importer(self, importer_class) -> TabularImporter:
        importer = importer_class(self.access, self.user)
        # Every record of the file becomes a record or an error: a record without a value is
        # refused (its required fields are empty), not skipped as a blank spreadsheet row.
        importer.skip_blank_rows = False
        return importer

    def check(self, document: dict, *, progress: Progress | None = None) -> ImportReport:
        report = ImportReport(kind=self.kind)
        if (Incident.objects.of_case(self.case).exists()
                or Source.objects.of_case(self.case).exists()
                or Claim.objects.of_case(self.case).exists()
                or Task.objects.of_case(self.case).exists()
                or CommentRequest.objects.of_case(self.case).exists()):
            raise FileRefused(_("A whole case is imported into an empty case only: create a "
                                "new case and import the file there."), code="case_not_empty")
        self.document = document
        self.summary = self._case_summary(report, document.get("case"))

        incidents = self._importer(IncidentImporter)
        self.incident_report = incidents.check(
            self._table(IncidentImporter, document["incidents"]), progress=progress)
        self._merge(report, "incident", self.incident_report)
        sources = self._importer(SourceImporter)
        source_refs = {_ref_key(r.get("ref")): r.get("name") for r in document["sources"]}
        self.source_report = sources.check(
            self._table(SourceImporter, document["sources"], source_refs), progress=progress)
        self.source_importer = sources
        self._merge(report, "source", self.source_report)

        self.incident_refs = [_ref_key(r.get("ref")) for r in document["incidents"]]
        self.source_refs = [_ref_key(r.get("ref")) for r in document["sources"]]
        known_incidents, known_sources = set(self.incident_refs), set(self.source_refs)
        self.claims = self._check_records(report, "claim", document["claims"],
                                          self._clean_claim, progress,
                                          incidents=known_incidents)
        known_claims = {_ref_key(r.get("ref")) for r in document["claims"]}
        members = dict(self.case.memberships.values_list("user__username", "user_id"))
        context = {"incidents": known_incidents, "sources": known_sources,
                   "claims": known_claims, "members": members}
        self.citations = self._check_records(report, "citation", document["citations"],
                                             self._clean_citation, progress, **context)
        self.tasks = self._check_records(report, "task", document["tasks"], self._clean_task,
                                         progress, **context)
        self.requests = self._check_records(report, "request for comment",
                                            document["comment_requests"],
                                            self._clean_request, progress, **context)
        self.incident_links = self._check_records(
            report, "incident link", document["incident_links"], self._clean_incident_link,
            progress, incidents=known_incidents, pairs=set())
        report.total_rows = sum(len(document[name]) for name in (
            "incidents", "sources", "claims", "citations", "tasks", "comment_requests",
            "incident_links"))
        elsewhere = document.get("links_to_other_cases")
        if isinstance(elsewhere, list) and elsewhere:
            # Another case is not part of the import, and the one the file names may not
            # exist here or be one the importing user is a member of: not recreated.
            report.notes.append(ngettext(
                "%(count)d link to another case or to an incident of another case is not "
                "imported: link them again from this case's pages.",
                "%(count)d links to other cases or to incidents of other cases are not "
                "imported: link them again from this case's pages.",
                len(elsewhere)) % {"count": len(elsewhere)})
        verified = sum(1 for claim in document["claims"]
                       if claim.get("status") not in (None, "unverified"))
        if verified:
            report.notes.append(ngettext(
                "%(count)d claim(s) had a verification status in the exported case. Imported "
                "claims start unverified: this case's editors decide verdicts through the "
                "verification workflow (the exported history stays in the file).",
                "%(count)d claim(s) had a verification status in the exported case. Imported "
                "claims start unverified: this case's editors decide verdicts through the "
                "verification workflow (the exported history stays in the file).",
                verified) % {"count": verified})
        report.columns = ["incidents", "sources", "claims", "citations", "tasks",
                          "comment_requests", "incident_links"]
        return report

    def _case_summary(self, report, exported) -> str:
        """The exported case's summary, to become this case's: kept only when this case has
        none yet (it was opened for the import), or the reader's own would be overwritten."""
        summary = exported.get("summary") if isinstance(exported, dict) else None
        if summary is None:
            return ""
        if not isinstance(summary, str):
            raise FileRefused(_("The case's summary in the file is not a text."),
                              code="summary_not_text")
        try:
            summary = parse_text(summary, multiline=True)
        except CellError as exc:
            raise FileRefused(_("The case's summary in the file %(problem)s.")
                              % {"problem": exc}, code=exc.code) from None
        if summary and self.case.summary.strip() and self.case.summary.strip() != summary:
            report.notes.append(_("This case has a summary of its own: it is kept, and the "
                                  "summary in the file is not imported."))
            return ""
        return summary

    @staticmethod
    def _merge(report, noun, part):
        report.error_row_count += part.error_row_count
        for row in part.error_rows:
            prefix = f"{CaseJSONImporter._record(noun, row.number or None)}: "
            row.errors = [error.under(prefix) for error in row.errors]
            report.error_rows.append(row)

    def _check_records(self, report, noun, records, clean, progress, **context) -> list:
        cleaned = []
        for number, record in enumerate(records, start=1):
            errors: list[RowError] = []
            try:
                values = clean(record, errors, **context)
            except CellError as exc:
                errors.append(RowError(str(exc), exc.code))
            if errors:
                report.error_row_count += 1
                if len(report.error_rows) < MAX_ERROR_ROWS_SHOWN:
                    shown = [(k, v) for k, v in record.items() if not isinstance(v, list | dict)]
                    report.error_rows.append(RowReport(
                        number, {k[:40]: cell_text(v)[:200] for k, v in shown[:20]},
                        [error.under(f"{self._record(noun, number)}: ") for error in errors]))
            else:
                cleaned.append(values)
        if progress is not None and records:
            progress(len(records))
        return cleaned

    # Each _clean_* returns the model's field values, with references still as refs.

    @staticmethod
    def _ref(record, key, known, errors, *, required=False):
        ref = record.get(key)
        if ref in (None, ""):
            if required:
                errors.append(cell_problem(key, _("is missing"), "required"))
            return None
        if _ref_key(ref) is None:
            errors.append(cell_problem(key, _("is not a reference to a record of the file"),
                                       "invalid_reference"))
            return None
        if ref not in known:
            errors.append(cell_problem(
                key, _("“%(reference)s” is not a record of the file")
                % {"reference": cell_text(ref)[:40]}, "unknown_reference"))
            return None
        return ref

    def _relays(self, record, source, sources, errors) -> list:
        """A citation's `relays` (a list of source refs, in order), or the one `via` of a
        file exported before citations had several."""
        if "relays" in record:
            given, key = record["relays"], "relays"
            if given is None:
                given = []
            if not isinstance(given, list):
                errors.append(cell_problem(key, _("is not a list of sources"), "invalid"))
                return []
        else:
            given, key = ([record["via"]] if record.get("via") not in (None, "") else []), "via"
        refs = [self._ref({key: ref}, key, sources, errors, required=True) for ref in given]
        refs = [ref for ref in refs if ref is not None]  # the others are refused already
        problems = relay_problems(key, refs, source)
        errors.extend(problems)
        return [] if problems else refs

    def _clean_incident_link(self, record, errors, *, incidents, pairs):
        start = self._ref(record, "from", incidents, errors, required=True)
        end = self._ref(record, "to", incidents, errors, required=True)
        if start is not None and start == end:
            errors.append(cell_problem("to", _("is the incident the link is from"),
                                       "link_to_itself"))
        elif start is not None and end is not None:
            pair = frozenset((start, end))
            if pair in pairs:
                errors.append(cell_problem("to", _("these incidents are linked already"),
                                           "link_exists"))
            pairs.add(pair)
        return {
            "from": start, "to": end,
            "kind": read_cell(record, "kind", parse_choice, errors,
                              choice_lookup(IncidentLinkKind), ", ".join(IncidentLinkKind.values),
                              default=IncidentLinkKind.RELATED),
            "note": read_cell(record, "note", parse_text, errors, multiline=True,
                              max_length=NOTE_MAX_LENGTH) or "",
        }

    def _clean_claim(self, record, errors, *, incidents):
        cell = read_cell
        statement = cell(record, "statement", parse_text, errors, multiline=True)
        if statement == "":
            errors.append(cell_problem("statement", _("is empty"), "required"))
        figure = record.get("figure_value")
        figure_value = None
        if figure not in (None, ""):
            try:
                figure_value = Decimal(str(figure))
                if not figure_value.is_finite() or figure_value < 0 or abs(
                        figure_value) >= Decimal("1e12"):
                    raise InvalidOperation
            except InvalidOperation:
                errors.append(cell_problem(
                    "figure_value", _("“%(value)s” is not a figure")
                    % {"value": shown_text(figure)[:40]}, "invalid"))
                figure_value = None
        unit = cell(record, "figure_unit", parse_text, errors, max_length=100)
        if figure_value is not None and not unit:
            errors.append(cell_problem("figure_unit", _("say what the figure counts"),
                                       "required"))
        return {
            "ref": _ref_key(record.get("ref")),
            "incident": self._ref(record, "incident", incidents, errors),
            "statement": statement,
            "figure_value": figure_value,
            "figure_unit": unit or "",
            "figure_qualifier": cell(record, "figure_qualifier", parse_choice, errors,
                                     choice_lookup(FigureQualifier),
                                     ", ".join(FigureQualifier.values),
                                     default=FigureQualifier.EXACTLY),
            "credibility": cell(record, "credibility", parse_choice, errors,
                                choice_lookup(Credibility), _("1 to 6"),
                                default=Credibility.CANNOT_BE_JUDGED),
        }

    def _clean_citation(self, record, errors, *, incidents, sources, claims, members):
        cell = read_cell
        claim = self._ref(record, "claim", claims, errors)
        incident = self._ref(record, "incident", incidents, errors)
        if (claim is None) == (incident is None) and not errors:
            errors.append(RowError(_("a citation is about one claim or one incident"),
                                   "claim_or_incident"))
        source = self._ref(record, "source", sources, errors, required=True)
        relays = self._relays(record, source, sources, errors)
        return {
            "claim": claim, "incident": incident, "source": source, "relays": relays,
            "relation": cell(record, "relation", parse_choice, errors,
                             choice_lookup(CitationRelation), ", ".join(CitationRelation.values),
                             default=CitationRelation.REPORTS),
            "quote": cell(record, "quote", parse_text, errors, multiline=True),
            "url": cell(record, "url", parse_url, errors),
            "published_at": cell(record, "published_at", parse_datetime, errors),
            "accessed_at": cell(record, "accessed_at", parse_datetime, errors),
            "language": cell(record, "language", lambda v: parse_language(v)[:16], errors),
        }

    def _clean_task(self, record, errors, *, incidents, sources, claims, members):
        cell = read_cell
        title = cell(record, "title", parse_text, errors, max_length=200)
        if title == "":
            errors.append(cell_problem("title", _("is empty"), "required"))
        return {
            "title": title, "notes": cell(record, "notes", parse_text, errors, multiline=True),
            "state": cell(record, "state", parse_choice, errors, choice_lookup(TaskState),
                          ", ".join(TaskState.values), default=TaskState.OPEN),
            "claim": self._ref(record, "claim", claims, errors),
            "incident": self._ref(record, "incident", incidents, errors),
            "assignee_id": members.get(_ref_key(record.get("assignee"))),
            "due_on": cell(record, "due_on", parse_day, errors),
        }

    def _clean_request(self, record, errors, *, incidents, sources, claims, members):
        cell = read_cell
        party_source = self._ref(record, "party_source", sources, errors)
        party_name = cell(record, "party_name", parse_text, errors, max_length=200)
        if party_source is None and not party_name and not errors:
            errors.append(cell_problem("party_name", _("say who was asked"), "required"))
        asked_at = cell(record, "asked_at", parse_datetime, errors)
        if asked_at is None and not errors:
            errors.append(cell_problem("asked_at", _("is missing"), "required"))
        deadline = cell(record, "deadline", parse_datetime, errors)
        if asked_at and deadline and deadline < asked_at:
            errors.append(cell_problem("deadline", _("is before the request was made"),
                                       "deadline_before_asked"))
        outcome = cell(record, "outcome", parse_choice, errors, choice_lookup(CommentOutcome),
                       ", ".join(CommentOutcome.values), default=CommentOutcome.PENDING)
        reply = cell(record, "reply_summary", parse_text, errors, multiline=True)
        if outcome == CommentOutcome.REPLIED and not reply:
            errors.append(cell_problem("reply_summary", _("summarise the reply"), "required"))
        return {
            "incident": self._ref(record, "incident", incidents, errors),
            "party_source": party_source, "party_name": party_name or "",
            "asked_by_id": members.get(_ref_key(record.get("asked_by"))),
            "asked_at": asked_at, "deadline": deadline,
            "channel": cell(record, "channel", parse_choice, errors,
                            choice_lookup(CommentChannel), ", ".join(CommentChannel.values),
                            default=CommentChannel.EMAIL),
            "outcome": outcome, "reply_summary": reply or "",
        }

    def write(self, report, *, progress: Progress | None = None) -> int:
        user, case = self.user, self.case
        done = progress or (lambda count: None)
        reason = IMPORTED_CASE_EXPORT
        if self.summary and not case.summary.strip():
            case.summary = self.summary
            case._history_user = user
            case.save(update_fields=["summary", "updated_at"])
        incident_importer = IncidentImporter(self.access, user)
        incidents = [incident_importer.build(row) for row in self.incident_report.records]
        created = bulk_create_with_history(incidents, user=user, reason=reason)
        done(len(created))
        incident_pk = dict(zip(self.incident_refs, (i.pk for i in created), strict=True))
        done(len(bulk_create_with_history([
            IncidentLink(from_incident_id=incident_pk[link["from"]],
                         to_incident_id=incident_pk[link["to"]], kind=link["kind"],
                         note=link["note"], created_by=user)
            for link in self.incident_links], user=user, reason=reason)))
        self.source_importer.write(self.source_report, progress=progress)
        names_to_pk = dict(Source.objects.of_case(case).values_list("name", "pk"))
        # Each source record became one checked row, in file order, under its cleaned name.
        source_pk = {ref: names_to_pk[row["name"]] for ref, row in
                     zip(self.source_refs, self.source_report.records, strict=True)}

        claims = []
        for values in self.claims:
            values = dict(values)
            values.pop("ref")  # matched to its new id below, in file order
            incident = values.pop("incident")
            claims.append(Claim(case=case, created_by=user, incident_id=incident_pk.get(incident),
                                **values))
        created = bulk_create_with_history(claims, user=user, reason=reason)
        done(len(created))
        claim_pk = dict(zip((c["ref"] for c in self.claims), (c.pk for c in created),
                            strict=True))
        given = []
        for c in self.citations:
            citation = Citation(
                created_by=user, claim_id=claim_pk.get(c["claim"]),
                incident_id=incident_pk.get(c["incident"]), source_id=source_pk[c["source"]],
                relation=c["relation"], quote=c["quote"], url=c["url"],
                published_at=c["published_at"], accessed_at=c["accessed_at"],
                language=c["language"])
            # Before the bulk insert: an address relayed by a protected source is sealed.
            citation.set_relays([source_pk[ref] for ref in c["relays"]])
            given.append(citation)
        citations = bulk_create_with_history(given, user=user, reason=reason)
        bulk_create_relays(given, citations, user=user, reason=reason)
        citations_saved(citations, user)  # their pages captured once the import commits
        done(len(citations))
        done(len(bulk_create_with_history([
            Task(case=case, created_by=user, claim_id=claim_pk.get(t["claim"]),
                 incident_id=incident_pk.get(t["incident"]),
                 **{k: v for k, v in t.items() if k not in ("claim", "incident")})
            for t in self.tasks], user=user, reason=reason)))
        done(len(bulk_create_with_history([
            CommentRequest(case=case, created_by=user, incident_id=incident_pk.get(r["incident"]),
                           party_source_id=source_pk.get(r["party_source"]),
                           **{k: v for k, v in r.items() if k not in ("incident", "party_source")})
            for r in self.requests], user=user, reason=reason)))
        return report.total_rows

    def run(self, source: dict | bytes, *, progress: Progress | None = None,
            write_progress: Progress | None = None) -> ImportReport:
        """`source`: the document `read` returned, or the file's bytes."""
        document = self.read(source) if isinstance(source, bytes | bytearray) else source
        return super().run(document, progress=progress, write_progress=write_progress)

