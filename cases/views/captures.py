"""The captures of a case's citations as its pages show them (capture/ makes and stores them).

- `attach_captures(citations, access)`: each citation's captures, newest first, for the
  claim page and the citation's page: read for all the citations at once (the captures, their
  files, the state of the tasks still at work), with what the reader may see of each.
- `citation_captures`: a citation's page (GET: the citation and its captures in full) and
  "Capture now" (POST: a reporter or an editor asks for a capture; a handler for a protected
  source's address), through capture.tasks.ask_for_capture, which refuses with the codes of
  capture.errors. It serves the citations of claims and of incidents alike.
- `incident_captures`: an incident's own citations (those cited for the incident, not for
  one of its claims) with their captures and "Capture now", linked from the timeline: the
  claim page shows a claim's.

A capture of a protected source's address is for the case's source handlers only
(capture.domain.withheld_from): anyone else is told that a capture exists and when it was
made, never its address, title, screenshot or files.

A capture's file deleted from the workspace, or purged from storage since (cases/deletion.py,
manage.py purge_deleted_evidence), is shown as such, without a thumbnail or a download: its
state is read with the files, in the same query (`_files_with_state`), not one per file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from background import Status, TaskState, states
from capture.domain import ASKER_REFUSALS, withheld_from
from capture.errors import CaptureError
from capture.models import Capture, CaptureFile
from capture.tasks import ask_for_capture
from capture.watch import attach_watch_states

from ..deletion import RESTORE_DAYS, evidence_state, state_of
from ..enums import EvidenceState
from ..identities import citation_address
from ..models import Citation, Incident
from ..models.source import relays_prefetch
from .case_page import case_view


@dataclass(frozen=True)
class ShownCapture:
    """One capture as a reader sees it."""

    capture: Capture
    #: role → Evidence (archive, screenshot, pdf, manifest); empty when withheld.
    files: dict
    #: The task making it, while it is at work (queued, running, failing and retried).
    task: TaskState | None
    #: capture.details (address, final address, title, headers, manifest), None when
    #: withheld from this reader.
    details: dict | None
    #: role → RemovedFile, for the files of `files` deleted from the workspace or purged.
    removed: dict = field(default_factory=dict)

    @property
    def withheld(self) -> bool:
        return self.details is None

    @property
    def will_retry(self) -> bool:
        return self.task is not None and self.task.status == Status.RETRYING

    @property
    def is_retrying_failure(self) -> bool:
        """Failed so far, and its task will try again: not a final failure."""
        return self.capture.status == Capture.Status.FAILED and self.will_retry

    @property
    def short_sha256(self) -> str:
        digest = self.capture.manifest_sha256
        return f"{digest[:2]}…{digest[-2:]}" if digest else ""

    @property
    def tsa_host(self) -> str:
        return urlsplit(self.capture.tsa_url).hostname or self.capture.tsa_url

    @property
    def screenshot(self):
        """The screenshot for the thumbnail: none when it was deleted or purged."""
        if CaptureFile.Role.SCREENSHOT in self.removed:
            return None
        return self.files.get(CaptureFile.Role.SCREENSHOT)

    def _labelled(self) -> list:
        labels = [(CaptureFile.Role.FILE, _("file as served")), (CaptureFile.Role.ARCHIVE, "WACZ"),
                  (CaptureFile.Role.PDF, "PDF"), (CaptureFile.Role.SCREENSHOT, "PNG"),
                  (CaptureFile.Role.MANIFEST, _("manifest"))]
        return [(role, label) for role, label in labels if role in self.files]

    @property
    def downloads(self) -> list:
        """(label, evidence) of each file in force, in the order a reader wants them."""
        return [(label, self.files[role]) for role, label in self._labelled()
                if role not in self.removed]

    @property
    def removed_files(self) -> list:
        """(label, evidence, RemovedFile) of each file deleted or purged, in the same order."""
        return [(label, self.files[role], self.removed[role]) for role, label in self._labelled()
                if role in self.removed]


@dataclass(frozen=True)
class RemovedFile:
    """A capture's file no longer in force: deleted from the workspace, or purged."""

    purged: bool
    #: Deleted (not purged) within the restore window: "Recently deleted" offers it.
    restorable: bool


def _files_with_state():
    """A capture's files with their evidence and, in the same query, each file's state in
    the workspace (cases/deletion.py's `evidence_state`)."""
    return CaptureFile.objects.select_related("evidence").annotate(
        **evidence_state("evidence_id"))


def _removed(files, now) -> dict:
    """role → RemovedFile for `files` (read by `_files_with_state`) deleted or purged."""
    cutoff = now - dt.timedelta(days=RESTORE_DAYS)
    removed = {}
    for f in files:
        state = state_of(f)
        if state != EvidenceState.KEPT:
            removed[f.role] = RemovedFile(
                purged=state == EvidenceState.PURGED,
                restorable=state == EvidenceState.DELETED and f.evidence_last_at >= cutoff)
    return removed


def shown_captures(citations, access) -> dict[int, list[ShownCapture]]:
    """{citation id: its captures, newest first}, in two queries (three while a task is at
    work), whatever the number of citations and captures."""
    ids = [citation.pk for citation in citations]
    if not ids:
        return {}
    captures = list(
        Capture.objects.filter(citation_id__in=ids).select_related("requested_by")
        .prefetch_related(Prefetch("files", queryset=_files_with_state()))
        .order_by("-requested_at", "-pk"))
    at_work = [c.task_id for c in captures if c.task_id and c.status != Capture.Status.DONE]
    tasks = states(at_work) if at_work else {}
    handler = access.can_handle_sources
    now = timezone.now()
    shown: dict[int, list[ShownCapture]] = {pk: [] for pk in ids}
    for capture in captures:
        if withheld_from(capture, handler=handler):
            item = ShownCapture(capture, {}, tasks.get(capture.task_id), None)
        else:
            files = capture.files.all()
            item = ShownCapture(capture, {f.role: f.evidence for f in files},
                                tasks.get(capture.task_id), capture.details,
                                _removed(files, now))
        shown[capture.citation_id].append(item)
    return shown


def may_ask_for_capture(citation, access) -> bool:
    """Whether the page offers "Capture now" for `citation`: to its case's writers when it
    has a public address, and to its handlers for a protected source's address."""
    if not access.can_edit:
        return False
    return bool(citation.url or (citation.protected_url and access.can_handle_sources))


def attach_captures(citations, access) -> None:
    """Give each citation `captures_shown`, `capturable` and `watch_state` (what the last
    re-check of its page found) for the page's template."""
    shown = shown_captures(citations, access)
    attach_watch_states(citations, handler=access.can_handle_sources)
    for citation in citations:
        citation.captures_shown = shown.get(citation.pk, [])
        citation.capturable = may_ask_for_capture(citation, access)


def _citation_for(case_page, pk) -> Citation:
    return get_object_or_404(
        Citation.objects.of_case(case_page.case).select_related("source", "claim", "incident")
        .prefetch_related(relays_prefetch()),
        pk=pk)


def _render_citation(case_page, citation, *, refusal: CaptureError | None = None,
                     status: int = 200):
    access = case_page.access
    citation.shown_url = citation_address(citation, handler=access.can_handle_sources)
    attach_captures([citation], access)
    tab = "claims" if citation.claim_id else "timeline"
    return case_page.render("capture/citation_captures.html", {
        "citation": citation, "refusal": refusal, "tab": tab,
    }, status=status)


@case_view(tab="claims", methods=["GET", "POST"])
def citation_captures(request, case_page, pk):
    citation = _citation_for(case_page, pk)
    if request.method != "POST":
        return _render_citation(case_page, citation)
    try:
        capture = ask_for_capture(citation, request.user)
    except CaptureError as refusal:
        status = 403 if refusal.code in ASKER_REFUSALS else 400
        return _render_citation(case_page, citation, refusal=refusal, status=status)
    # A capture already queued or running is the one asked for (request_capture).
    messages.success(request, _("Capture %(number)s of this page is %(status)s: this page "
                                "shows when it is done.") % {
        "number": capture.pk, "status": capture.get_status_display().lower()})
    return redirect("cases:citation_captures", slug=case_page.case.slug, pk=citation.pk)


@case_view(tab="timeline")
def incident_captures(request, case_page, pk):
    """An incident's citations and their captures, with "Capture now" for each the reader
    may have captured (it posts to citation_captures). Read in a fixed number of queries,
    whatever the number of citations and captures."""
    incident = get_object_or_404(Incident.objects.of_case(case_page.case), pk=pk)
    citations = list(
        Citation.objects.filter(incident=incident).select_related("source")
        .prefetch_related(relays_prefetch()).order_by("pk"))
    access = case_page.access
    for citation in citations:
        citation.incident = incident
        citation.shown_url = citation_address(citation, handler=access.can_handle_sources)
    attach_captures(citations, access)
    return case_page.render("capture/incident_captures.html", {
        "incident": incident, "citations": citations,
    })
