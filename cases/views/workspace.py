"""The case workspace: read views of one case (timeline, claims board, sources, evidence,
tasks, activity). Each is entered through case_view (404 for non-members) and issues a fixed
number of queries however much the case holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from capture.domain import PROTECTED_CAPTURE_FILES

from .. import attribution
from ..activity import activity_for
from ..deletion import without_deleted_evidence
from ..enums import VerificationStatus
from ..fragments import case_fragment
from ..models import Citation, Claim, CommentRequest, Evidence, Incident, Source, Task
from ..timebounds import parse_datetime_param
from .case_page import case_view

TIMELINE_PAGE_SIZE = 15
# Claims shown under each incident of the timeline; the rest are counted, not rendered.
TIMELINE_CLAIMS_PER_INCIDENT = 5
BOARD_COLUMN_SIZE = 20
LIST_PAGE_SIZE = 50


@dataclass(frozen=True)
class TimelineEntry:
    sort_date: date | None
    incident: Incident | None = None
    comment_request: CommentRequest | None = None


@case_view(tab="timeline")
def timeline(request, case_page):
    access = case_page.access
    entries_html = case_fragment(request, access, "timeline",
                                 lambda: _timeline_entries(request, access), params=["page"])
    return case_page.render("cases/incident_list.html", {"entries_html": entries_html})


def _timeline_entries(request, access) -> SafeString:
    case = access.case
    # Each incident shows its first few claims and how many more there are (an incident
    # can gather hundreds): one query for the page's claims, however many they are.
    claims = (Claim.objects
              .annotate(citation_count=Count("citations"),
                        incident_claim_total=Window(Count("pk"), partition_by=F("incident_id")))
              .order_by("pk"))
    incidents = (
        Incident.objects.of_case(case).chronological()
        .select_related("type")
        .prefetch_related(Prefetch("claims", queryset=claims[:TIMELINE_CLAIMS_PER_INCIDENT],
                                   to_attr="shown_claims"))
    )
    page = Paginator(incidents, TIMELINE_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [TimelineEntry(i.sort_date, incident=i) for i in page.object_list]

    # Requests for comment stand at the date they were made, within this page's span.
    requests = CommentRequest.objects.of_case(case).select_related("party_source", "incident")
    dated = [e.sort_date for e in entries if e.sort_date]
    if page.has_previous() and dated:
        requests = requests.filter(asked_at__date__gte=dated[0])
    if page.has_next() and dated:
        requests = requests.filter(asked_at__date__lte=dated[-1])
    return render_to_string("cases/includes/timeline_entries.html", {
        "request": request, "access": access, "case": case, "page": page,
        "entries": _place_requests(entries, requests)})


def _place_requests(incident_entries, requests) -> list[TimelineEntry]:
    """Put each request for comment in its place among the (already ordered) incidents: right
    after the incident it is about, when that is on the page; otherwise by the date it was
    sent, before the first incident that is later (undated incidents count as latest)."""
    after_incident: dict[int, list[TimelineEntry]] = {}
    by_date: list[TimelineEntry] = []
    on_page = {e.incident.pk for e in incident_entries}
    for request_ in requests:
        entry = TimelineEntry(timezone.localdate(request_.asked_at), comment_request=request_)
        if request_.incident_id in on_page:
            after_incident.setdefault(request_.incident_id, []).append(entry)
        else:
            by_date.append(entry)
    by_date.sort(key=lambda e: e.sort_date)
    placed: list[TimelineEntry] = []
    for entry in incident_entries:
        incident_date = entry.sort_date or date.max
        while by_date and by_date[0].sort_date < incident_date:
            placed.append(by_date.pop(0))
        placed.append(entry)
        placed.extend(sorted(after_incident.get(entry.incident.pk, []),
                             key=lambda e: e.sort_date))
    return placed + by_date


@dataclass(frozen=True)
class BoardCard:
    claim: Claim
    citation_count: int
    independent_origins: int


def _cards(claims, via_map) -> list[BoardCard]:
    return [BoardCard(claim, len(claim.citations.all()),
                      attribution.supporting_origins(claim.citations.all(), via_map).count)
            for claim in claims]


@case_view(tab="claims")
def claims_board(request, case_page):
    """Claims grouped by verification status. The board shows the most recent claims of each
    status; `?status=` lists one status in full, page by page."""
    access = case_page.access
    columns_html = case_fragment(request, access, "claims-board",
                                 lambda: _board_columns(request, access),
                                 params=["status", "page"])
    return case_page.render("cases/claim_list.html", {
        "columns_html": columns_html,
        "one_status": request.GET.get("status") in VerificationStatus.values,
    })


def _board_columns(request, access) -> SafeString:
    case = access.case
    citations = (Citation.objects.only("claim_id", "source_id", "relation")
                 .prefetch_related("relay_links"))
    claims = (Claim.objects.of_case(case).select_related("proposed_by")
              .prefetch_related(Prefetch("citations", queryset=citations)))
    via_map = attribution.via_map_for_case(case.pk)
    status = request.GET.get("status")
    if status in VerificationStatus.values:
        page = Paginator(claims.filter(status=status).order_by("-updated_at", "pk"),
                         LIST_PAGE_SIZE).get_page(request.GET.get("page"))
        columns = [(VerificationStatus(status), page.paginator.count,
                    _cards(page.object_list, via_map))]
    else:
        page = None
        # One query for every column: the newest claims of each status, ranked within their
        # status, with each status' total counted in the same pass.
        newest_first = [F("updated_at").desc(), F("pk").asc()]
        ranked = list(
            claims.annotate(
                column_rank=Window(RowNumber(), partition_by=F("status"), order_by=newest_first),
                column_total=Window(Count("pk"), partition_by=F("status")))
            .filter(column_rank__lte=BOARD_COLUMN_SIZE).order_by("status", "column_rank"))
        by_status: dict[str, list[Claim]] = {}
        for claim in ranked:
            by_status.setdefault(claim.status, []).append(claim)
        columns = [
            (s, by_status[s.value][0].column_total if s.value in by_status else 0,
             _cards(by_status.get(s.value, []), via_map))
            for s in VerificationStatus
        ]
    return render_to_string("cases/includes/claim_columns.html", {
        "request": request, "access": access, "case": case, "columns": columns, "page": page,
        "board_column_size": BOARD_COLUMN_SIZE})


@case_view(tab="sources")
def source_list(request, case_page):
    case = case_page.case
    sources = (Source.objects.of_case(case).select_related("reached_via")
               .annotate(claim_count=Count("citations__claim", distinct=True),
                         incident_count=Count("citations__incident", distinct=True),
                         relayed_count=Count("relay_links", distinct=True))
               .order_by("name"))
    names = dict(Source.objects.of_case(case).values_list("pk", "name"))
    via_map = attribution.via_map_for_case(case.pk)
    page = Paginator(sources, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    # Each source with its chain as a statement travels: origin → … → this source.
    rows = [(s, [names[i] for i in reversed(attribution.chain(s.pk, via_map))])
            for s in page.object_list]
    return case_page.render("cases/source_list.html", {"page": page, "rows": rows})


@case_view(tab="evidence")
def evidence_list(request, case_page):
    # Files deleted in the workspace stay stored (their custody log vouches for them) and
    # come back from "Recently deleted"; the list keeps to the evidence in force.
    items = (without_deleted_evidence(Evidence.objects.of_case(case_page.case))
             .select_related("captured_by", "claim", "incident").order_by("-captured_at", "pk"))
    if not case_page.access.can_handle_sources:
        # A protected source's captured page is for the case's handlers only (capture.domain).
        items = items.exclude(PROTECTED_CAPTURE_FILES)
    page = Paginator(items, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return case_page.render("cases/evidence_list.html", {"page": page})


@case_view(tab="tasks")
def task_list(request, case_page):
    tasks = (Task.objects.of_case(case_page.case)
             .select_related("assignee", "claim", "incident").order_by("state", "due_on", "pk"))
    page = Paginator(tasks, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return case_page.render("cases/task_list.html", {"page": page,
                                                     "today": timezone.localdate()})


@case_view(tab="activity")
def activity(request, case_page):
    # The `before` cursor: anything unreadable or out of range (an offset past ±15:59, the
    # year 10000, which the database would refuse) means "the newest".
    before = parse_datetime_param(request.GET.get("before", ""))
    items = activity_for([case_page.case.pk], limit=LIST_PAGE_SIZE, before=before)
    older = items[-1].at if len(items) == LIST_PAGE_SIZE else None
    return case_page.render("cases/activity_list.html", {"items": items, "older": older})

