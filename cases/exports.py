"""Exports of a case: incidents as CSV or XLSX with ACLED-style columns, the whole case as
JSON (re-importable with cases.imports.CaseJSONImporter), located incidents as GeoJSON, and
claims with a final verdict as schema.org ClaimReview JSON-LD.

Every export is a generator of text chunks (XLSX: a workbook written row by row to a temporary
file), so memory stays bounded whatever the size of the case. Records are read in chunks of
CHUNK_SIZE with their related rows joined or prefetched: the number of queries depends on the
number of chunks, never on the number of records within one.

Protected identities never appear: no export reads SourceIdentity, and a protected source's
address (which may point at who they are) is left out too; a protected source appears under
its codename only, as on every page.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import GeoPrecision, VerificationStatus
from .identities import citation_address, source_address
from .models import (
    CaseLink,
    Citation,
    Claim,
    CommentRequest,
    Incident,
    IncidentLink,
    Source,
    Task,
    VerificationEvent,
)
from .models.incident import COUNT_FIELDS

CHUNK_SIZE = 2000
FORMAT_NAME = "casedesk-case"
FORMAT_VERSION = 1

# ACLED's geo_precision: 1 the exact town, 2 near a town or a part of a region, 3 a larger
# region only.
ACLED_GEO_PRECISION = {
    GeoPrecision.POINT: 1, GeoPrecision.TOWN: 1, GeoPrecision.DISTRICT: 2,
    GeoPrecision.REGION: 3, GeoPrecision.COUNTRY: 3,
}

INCIDENT_COLUMNS = [
    "incident_id", "event_date", "year", "time_precision", "occurred", "date_in_words",
    "event_type", "title", "country", "admin1", "location", "latitude", "longitude",
    "geo_precision", "place_precision", "source", "source_scale", "notes",
    "involved", "detained", "killed", "injured", "missing", "at_large",
    # How each count reads ("more_than" 100), and how the case's people counts take the
    # incident (cases/tallies.py: case_counts).
    *(f"{name}_qualifier" for name in COUNT_FIELDS), "count_group", "in_case_counts",
]


def _incidents(case):
    """The case's incidents in timeline order, with their type and the sources citing them
    (directly or through a claim about them)."""
    citations = (Citation.objects.select_related("source").defer("protected_url")
                 .order_by("published_at", "pk"))
    return (Incident.objects.of_case(case).select_related("type")
            .prefetch_related(Prefetch("citations", queryset=citations),
                              Prefetch("claims__citations", queryset=citations))
            .order_by("occurred_earliest", "pk"))


def _citing_sources(incident) -> list[Source]:
    seen, sources = set(), []
    citations = list(incident.citations.all())
    for claim in incident.claims.all():
        citations.extend(claim.citations.all())
    for citation in citations:
        if citation.source_id not in seen:
            seen.add(citation.source_id)
            sources.append(citation.source)
    return sources


def incident_row(incident) -> dict:
    when = incident.when
    sources = _citing_sources(incident)
    kinds = []
    for source in sources:
        label = source.get_kind_display()
        if label not in kinds:
            kinds.append(label)
    earliest = incident.occurred_earliest
    return {
        "incident_id": incident.pk,
        # ACLED's event_date is a day: the earliest possible one; empty when the year is
        # unknown. `occurred` carries the date exactly as known (EDTF).
        "event_date": earliest.isoformat() if earliest else "",
        "year": earliest.year if earliest else "",
        "time_precision": when.acled_time_precision if when else "",
        "occurred": incident.occurred,
        "date_in_words": incident.when_display,
        "event_type": incident.type.name if incident.type else "",
        "title": incident.title,
        "country": incident.country.code if incident.country else "",
        "admin1": incident.admin_region,
        "location": incident.place_name,
        "latitude": incident.latitude if incident.latitude is not None else "",
        "longitude": incident.longitude if incident.longitude is not None else "",
        "geo_precision": ACLED_GEO_PRECISION.get(incident.geo_precision, ""),
        "place_precision": incident.geo_precision,
        "source": "; ".join(source.name for source in sources),
        "source_scale": "; ".join(kinds),
        "notes": incident.description,
        **{name: getattr(incident, name) if getattr(incident, name) is not None else ""
           for name in ("involved", "detained", "killed", "injured", "missing", "at_large")},
        **_count_reading(incident),
        "in_case_counts": "yes" if incident.in_case_counts else "no",
    }


def _count_reading(incident) -> dict:
    """The incident's count qualifiers and count group, as both exports give them."""
    return {**{f"{name}_qualifier": getattr(incident, f"{name}_qualifier")
               for name in COUNT_FIELDS},
            "count_group": incident.count_group}


def incident_rows(case) -> Iterator[dict]:
    for incident in _incidents(case).iterator(chunk_size=CHUNK_SIZE):
        yield incident_row(incident)


class _Echo:
    def write(self, value):
        return value


def _safe_cell(value):
    """A text cell that a spreadsheet would run as a formula (=, +, -, @ first) gets a
    leading apostrophe: exported text is data, never a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def incidents_csv(case) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so that Excel opens the file as UTF-8
    yield writer.writerow(INCIDENT_COLUMNS)
    for row in incident_rows(case):
        yield writer.writerow([_safe_cell(row[c]) for c in INCIDENT_COLUMNS])


def incidents_xlsx(case):
    """The workbook in a temporary file (openpyxl's write-only mode keeps one row in memory);
    the caller streams and closes it."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("incidents")
    sheet.append(INCIDENT_COLUMNS)
    for row in incident_rows(case):
        sheet.append([_xlsx_cell(sheet, row[c]) for c in INCIDENT_COLUMNS])
    handle = tempfile.TemporaryFile()
    workbook.save(handle)
    handle.seek(0)
    return handle


def _xlsx_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        # openpyxl refuses control characters in cells, and would write a text starting
        # with "=" as a formula: it is written as text, always.
        cell = WriteOnlyCell(sheet, "".join(ch for ch in value if ch in "\t\n" or ch >= " "))
        cell.data_type = "s"
        return cell
    return value


# --- GeoJSON ---------------------------------------------------------------------------------

def incidents_geojson(case) -> Iterator[str]:
    """Located incidents as a GeoJSON FeatureCollection (RFC 7946: longitude first)."""
    yield '{"type": "FeatureCollection", "features": ['
    first = True
    located = _incidents(case).exclude(latitude=None).exclude(longitude=None)
    for incident in located.iterator(chunk_size=CHUNK_SIZE):
        row = incident_row(incident)
        properties = {k: v for k, v in row.items() if k not in ("latitude", "longitude")}
        feature = {
            "type": "Feature",
            "id": incident.pk,
            "geometry": {"type": "Point",
                         "coordinates": [float(incident.longitude), float(incident.latitude)]},
            "properties": properties,
        }
        yield ("" if first else ",") + "\n" + _dumps(feature)
        first = False
    yield "\n]}\n"


# --- ClaimReview -----------------------------------------------------------------------------

# schema.org Rating for each final verdict: 1 worst … 5 best.
VERDICT_RATING = {
    VerificationStatus.CONFIRMED: (5, "True"),
    VerificationStatus.FALSE: (1, "False"),
    VerificationStatus.UNVERIFIABLE: (3, "Unverifiable"),
}


def claim_reviews(case, *, organisation: str = "Casedesk newsroom") -> Iterator[str]:
    """schema.org ClaimReview JSON-LD (an @graph) for every claim with a final verdict: the
    claim, who made it (the sources that report it, by public name or codename), the verdict
    as a rating, when it was decided and by which organisation."""
    verdicts = VerificationEvent.objects.filter(
        kind="transition", to_status__in=VerificationStatus.finals()).order_by("-created_at",
                                                                               "-pk")
    citations = (Citation.objects.select_related("source").defer("protected_url")
                 .order_by("published_at", "pk"))
    claims = (Claim.objects.of_case(case).final().select_related("incident")
              .prefetch_related(Prefetch("citations", queryset=citations),
                                Prefetch("events", queryset=verdicts, to_attr="verdicts"))
              .order_by("pk"))
    yield '{"@context": "https://schema.org", "@graph": ['
    first = True
    for claim in claims.iterator(chunk_size=CHUNK_SIZE):
        value, name = VERDICT_RATING[VerificationStatus(claim.status)]
        decided = claim.verdicts[0] if claim.verdicts else None
        supporting = [c for c in claim.citations.all() if c.relation in ("reports", "confirms")]
        item = {"@type": "Claim", "text": claim.statement}
        if supporting:
            item["author"] = [{"@type": "Organization", "name": source.name}
                              for source in _unique_sources(supporting)]
            published = [c.published_at for c in supporting if c.published_at]
            if published:
                item["datePublished"] = min(published).date().isoformat()
            urls = [url for url in (citation_address(c, handler=False) for c in supporting)
                    if url]
            if urls:
                item["appearance"] = [{"@type": "CreativeWork", "url": url} for url in urls]
        review = {
            "@type": "ClaimReview",
            "identifier": f"claim-{claim.pk}",
            "claimReviewed": claim.statement,
            "itemReviewed": item,
            "author": {"@type": "Organization", "name": organisation},
            "reviewRating": {"@type": "Rating", "ratingValue": value, "bestRating": 5,
                             "worstRating": 1, "alternateName": name},
        }
        if decided is not None:
            review["datePublished"] = decided.created_at.date().isoformat()
        yield ("" if first else ",") + "\n" + _dumps(review)
        first = False
    yield "\n]}\n"


def _unique_sources(citations) -> list[Source]:
    seen, sources = set(), []
    for citation in citations:
        if citation.source_id not in seen:
            seen.add(citation.source_id)
            sources.append(citation.source)
    return sources


# --- the whole case as JSON -----------------------------------------------------------------

def _ref(kind: str, pk) -> str | None:
    return f"{kind}-{pk}" if pk is not None else None


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def _decimal(value) -> str | None:
    return None if value is None else str(value)


def incident_record(incident) -> dict:
    return {
        "ref": _ref("incident", incident.pk),
        "title": incident.title,
        "type": incident.type.slug if incident.type else None,
        "description": incident.description,
        "occurred": incident.occurred,
        "place_name": incident.place_name,
        "admin_region": incident.admin_region,
        "country": incident.country.code if incident.country else "",
        "latitude": _decimal(incident.latitude),
        "longitude": _decimal(incident.longitude),
        "geo_precision": incident.geo_precision,
        **{name: getattr(incident, name)
           for name in ("involved", "detained", "killed", "injured", "missing", "at_large")},
        **_count_reading(incident),
        "in_case_counts": incident.in_case_counts,
    }


def source_record(source) -> dict:
    return {
        "ref": _ref("source", source.pk),
        "name": source.name,
        "kind": source.kind,
        # A protected source's address is part of its identity: never exported.
        "url": source_address(source, handler=False),
        "language": source.language,
        "country": source.country.code if source.country else "",
        "reliability": source.reliability,
        "reliability_note": source.reliability_note,
        "protected": source.protected,
        "reached_via": _ref("source", source.reached_via_id),
    }


def claim_record(claim) -> dict:
    return {
        "ref": _ref("claim", claim.pk),
        "incident": _ref("incident", claim.incident_id),
        "statement": claim.statement,
        "figure_value": _decimal(claim.figure_value),
        "figure_unit": claim.figure_unit,
        "figure_qualifier": claim.figure_qualifier,
        "credibility": claim.credibility,
        # For the reader: an import starts every claim unverified (statuses change only
        # through the verification workflow, in the case they belong to).
        "status": claim.status,
        "verification": [
            {"kind": e.kind, "from_status": e.from_status, "to_status": e.to_status,
             "proposed_verdict": e.proposed_verdict, "actor": e.actor.get_username(),
             "note": e.note, "override_reason": e.override_reason,
             "created_at": _iso(e.created_at)}
            for e in claim.events.all()
        ],
    }


def citation_record(citation) -> dict:
    return {
        "claim": _ref("claim", citation.claim_id),
        "incident": _ref("incident", citation.incident_id),
        "source": _ref("source", citation.source_id),
        "relation": citation.relation,
        "quote": citation.quote,
        "url": citation_address(citation, handler=False),
        "published_at": _iso(citation.published_at),
        "accessed_at": _iso(citation.accessed_at),
        "language": citation.language,
        # The sources it came through, in order (before relays: "via", one of them or null,
        # which the importer still reads).
        "relays": [_ref("source", pk) for pk in citation.relay_ids],
    }


def task_record(task) -> dict:
    return {
        "title": task.title, "notes": task.notes, "state": task.state,
        "claim": _ref("claim", task.claim_id), "incident": _ref("incident", task.incident_id),
        "assignee": task.assignee.get_username() if task.assignee else None,
        "due_on": _iso(task.due_on),
    }


def comment_request_record(request) -> dict:
    return {
        "incident": _ref("incident", request.incident_id),
        "party_source": _ref("source", request.party_source_id),
        "party_name": request.party_name,
        "asked_by": request.asked_by.get_username() if request.asked_by else None,
        "asked_at": _iso(request.asked_at), "channel": request.channel,
        "deadline": _iso(request.deadline), "outcome": request.outcome,
        "reply_summary": request.reply_summary,
    }


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_list(name: str, records: Iterable[dict], *, first: bool = False) -> Iterator[str]:
    yield ("" if first else ",\n") + f'"{name}": ['
    separator = "\n"
    for record in records:
        yield separator + _dumps(record)
        separator = ",\n"
    yield "\n]"


def case_json(case, user=None) -> Iterator[str]:
    """The whole case (without evidence files or identities) as one JSON document; with the
    exporting `user`, also its links to the other cases of theirs (see below)."""
    header = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION,
        "exported_at": _iso(timezone.now()),
        "case": {"title": case.title, "slug": case.slug, "summary": case.summary,
                 "status": case.status, "sensitivity": case.sensitivity},
    }
    yield "{" + _dumps(header)[1:-1] + ",\n"
    incidents = Incident.objects.of_case(case).select_related("type").order_by("pk")
    yield from _json_list("incidents", (incident_record(i) for i in
                                        incidents.iterator(chunk_size=CHUNK_SIZE)), first=True)
    # Sources an origin comes before those reached through it, so a reader can create them
    # in file order (ids grow with creation, and reached_via is set at creation or later:
    # order by id and let the importer resolve the rest).
    sources = Source.objects.of_case(case).order_by("pk")
    yield from _json_list("sources", (source_record(s) for s in
                                      sources.iterator(chunk_size=CHUNK_SIZE)))
    events = VerificationEvent.objects.select_related("actor").order_by("created_at", "pk")
    claims = (Claim.objects.of_case(case).prefetch_related(Prefetch("events", queryset=events))
              .order_by("pk"))
    yield from _json_list("claims", (claim_record(c) for c in
                                     claims.iterator(chunk_size=CHUNK_SIZE)))
    citations = (Citation.objects.of_case(case).select_related("source")
                 .prefetch_related("relay_links").defer("protected_url").order_by("pk"))
    yield from _json_list("citations", (citation_record(c) for c in
                                        citations.iterator(chunk_size=CHUNK_SIZE)))
    tasks = Task.objects.of_case(case).select_related("assignee").order_by("pk")
    yield from _json_list("tasks", (task_record(t) for t in
                                    tasks.iterator(chunk_size=CHUNK_SIZE)))
    requests = CommentRequest.objects.of_case(case).select_related("asked_by").order_by("pk")
    yield from _json_list("comment_requests", (comment_request_record(r) for r in
                                               requests.iterator(chunk_size=CHUNK_SIZE)))
    yield from _json_list("incident_links", (incident_link_record(link) for link in
                                             _links_within(case).iterator(
                                                 chunk_size=CHUNK_SIZE)))
    yield from _json_list("links_to_other_cases", _links_elsewhere(case, user))
    yield "\n}\n"


# Links (cases/models/links.py). Those between two incidents of the case are part of it and
# re-imported with it (cases/imports/case_json.py). Those to another case, or to an incident
# of another case, are written for the reader only, and only the ones whose other case the
# exporting user is a member of: anyone else must not learn of that case, not even its title.
# Without a user (an export that names nobody) there are none.

def _links_within(case):
    return (IncidentLink.objects.filter(from_incident__case=case, to_incident__case=case)
            .order_by("pk"))


def incident_link_record(link) -> dict:
    return {"from": _ref("incident", link.from_incident_id),
            "to": _ref("incident", link.to_incident_id),
            "kind": link.kind, "note": link.note}


def _other_case_record(other_case) -> dict:
    return {"slug": other_case.slug, "title": other_case.title}


def _links_elsewhere(case, user) -> Iterator[dict]:
    if user is None:
        return
    case_links = (CaseLink.objects.visible_to(user).touching(case)
                  .select_related("from_case", "to_case").order_by("pk"))
    for link in case_links.iterator(chunk_size=CHUNK_SIZE):
        yield {"link": "case", "direction": "from" if link.from_case_id == case.pk else "to",
               "other_case": _other_case_record(link.other_side(case)), "note": link.note}
    incident_links = (IncidentLink.objects.visible_to(user)
                      .filter(Q(from_incident__case=case) | Q(to_incident__case=case))
                      .exclude(from_incident__case=case, to_incident__case=case)
                      .select_related("from_incident__case", "to_incident__case")
                      .order_by("pk"))
    for link in incident_links.iterator(chunk_size=CHUNK_SIZE):
        outgoing = link.from_incident.case_id == case.pk
        mine, other = ((link.from_incident, link.to_incident) if outgoing
                       else (link.to_incident, link.from_incident))
        yield {"link": "incident", "direction": "from" if outgoing else "to",
               "incident": _ref("incident", mine.pk), "kind": link.kind,
               "other_case": _other_case_record(other.case),
               "other_incident": {"title": other.title, "occurred": other.occurred},
               "note": link.note}


# --- the formats, for the views and the command ------------------------------------------

EXPORTS = {
    # name: (label, content type, file extension)
    "csv": (_("Incidents (CSV, ACLED-style columns)"), "text/csv; charset=utf-8", "csv"),
    "xlsx": (_("Incidents (Excel)"),
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "json": (_("The whole case (JSON, re-importable)"), "application/json", "json"),
    "geojson": (_("Located incidents (GeoJSON)"), "application/geo+json", "geojson"),
    "claimreview": (_("Verdicts (schema.org ClaimReview JSON-LD)"), "application/ld+json",
                    "jsonld"),
}


def export_chunks(case, name: str, user=None) -> Iterator[str]:
    """The text formats as chunks (XLSX has its own function: it is binary). `user`, the
    exporting user, adds the case's links to their other cases to the JSON."""
    if name == "csv":
        return incidents_csv(case)
    if name == "json":
        return case_json(case, user)
    if name == "geojson":
        return incidents_geojson(case)
    if name == "claimreview":
        return claim_reviews(case)
    raise KeyError(name)


def filename(case, name: str) -> str:
    suffix = {"csv": "incidents", "xlsx": "incidents", "json": "case", "geojson": "incidents",
              "claimreview": "claimreview"}[name]
    stamp = timezone.localdate().isoformat()
    return f"{case.slug}-{suffix}-{stamp}.{EXPORTS[name][2]}"
