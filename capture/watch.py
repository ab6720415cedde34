"""Watching captured pages: is the page a citation rests on still there, and still the same?

Every citation with a capture is re-checked at its case's interval (CaseWatch; a case without
one every CAPTURE_WATCH_DEFAULT_HOURS). A check is cheap: one GET of the captured address
through capture/network.py, under the same address rules, limits and proxy as a capture, but
without the browser. It records a PageCheck, one of:

- **unchanged**: the page's main text (capture/pagetext.py) is the capture's, or differs by
  fewer than CAPTURE_WATCH_MIN_CHANGED_WORDS words (a counter, a clock);
- **changed**: more words differ: the check keeps a unified diff of the text (encrypted,
  truncated) and a new capture is requested (trigger `page_changed`; capture/tasks.py queues
  it), so the page is kept as it is now too;
- **gone**: the server answers 4xx or 5xx (451 included, code
  `unavailable_for_legal_reasons`), the name no longer resolves, the connection is refused,
  or the answer is a block page (below);
- **failed** (could not check): a timeout, a refused address, a connection that broke, an
  archive that cannot be read. It changes no state.

What is compared is what the server answered then (the page's response in the capture's
WARC) with what it answers now: both before any script runs.

**Block pages.** A censor's block usually answers 200 with its own page, or redirects to it.
The check says gone (`block_page`) when a redirect leads to a host of BLOCK_HOSTS (it is not
followed there), or when the page's text is short (at most BLOCK_PAGE_MAX_CHARS characters)
and holds one of BLOCK_MARKERS that the captured text did not hold (an article about
blocking keeps its quotes). Both lists are small on purpose: Roskomnadzor's registry and the
block pages of the largest Russian operators. CAPTURE_WATCH_BLOCK_HOSTS adds hosts.

**State.** WatchedCitation keeps each citation's latest state: *live*, *changed since* the
first check that found it changed, *gone since* the first check of the current run of gone
answers, with `original_capture`, the capture that still shows the page as it was. A page
that comes back is changed again (or live when it never changed). `citation_watch_state`,
`attach_watch_states` and `watch_flags` are what pages read.

**Protected sources' addresses** (cases/identities.py) are not re-checked: every visit tells
whoever runs that server that the newsroom is still interested. A case's editors may opt in
(CaseWatch.watch_protected); then only addresses a source handler had captured are checked,
with that handler's rights (a handler right withdrawn stops the checks, code
`capture_protected_address`), and a change is captured again at that handler's request.

Scheduling is capture/tasks.py's (the watch tick queues the checks that are due; this module
says which are due and what a check finds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case as Conditional
from django.db.models import F, IntegerField, Max, OuterRef, Q, Subquery, Sum, When, Window
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from background import worker_id
from cases.enums import Role
from cases.identities import is_handler
from cases.models import Citation, Membership

from . import errors
from .domain import request_capture
from .engine import normalize_url
from .errors import CaptureError
from .models import Capture, CaptureFile, CaseWatch, PageCheck, WatchedCitation
from .network import MAX_REDIRECTS, AddressPolicy, Budget, Limits, Outgoing, Proxy, fetch_once
from .pagetext import ArchiveUnreadable, archived_answer, compare, page_text, text_digest

logger = logging.getLogger("casedesk.capture.watch")

Outcome = PageCheck.Outcome

# --- reason codes (PageCheck.reason_code) -----------------------------------------------------

SAME_TEXT = "same_text"
#: Fewer words changed than CAPTURE_WATCH_MIN_CHANGED_WORDS: not counted as a change.
MINOR_CHANGE = "minor_change"
TEXT_CHANGED = "text_changed"
#: An answer without text (a PDF, an image): its bytes are compared.
SAME_CONTENT = "same_content"
CONTENT_CHANGED = "content_changed"
HTTP_ERROR = "http_error"
UNAVAILABLE_FOR_LEGAL_REASONS = "unavailable_for_legal_reasons"
BLOCK_PAGE = "block_page"
CONNECTION_REFUSED = "connection_refused"
#: No capture of the citation is left to compare with.
NO_CAPTURE = "watch_no_capture"
ARCHIVE_UNREADABLE = "watch_archive_unreadable"
#: A protected source's address, and the case has not opted in.
PROTECTED_NOT_WATCHED = "watch_protected_not_watched"
INTERNAL_ERROR = "internal_error"

#: Hosts a censor's block redirects to (the host itself or any name under it).
BLOCK_HOSTS = (
    "warning.rt.ru",  # Rostelecom's block page
    "blackhole.beeline.ru",  # Beeline's block page
    "rkn.gov.ru",  # Roskomnadzor (eais.rkn.gov.ru, blocklist.rkn.gov.ru: its registry)
    "zapret-info.gov.ru",  # the registry's former address
)
#: Phrases of a block page's text, compared in lower case.
BLOCK_MARKERS = (
    "доступ к информационному ресурсу ограничен",
    "доступ к запрашиваемому ресурсу ограничен",
    "доступ к ресурсу ограничен",
    "единый реестр доменных имен, указателей страниц сайтов",
    "access to the information resource is restricted",
    "access to this resource has been restricted",
    "access to the requested resource is restricted",
)
BLOCK_PAGE_MAX_CHARS = 5000

#: How the check introduces itself: as the capturing browser does, since some sites answer
#: tools with another page.
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
_HEADERS = (("User-Agent", USER_AGENT),
            ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))
_REDIRECT_STATUSES = {"301", "302", "303", "307", "308"}


# --- settings of a case ------------------------------------------------------------------------

def interval_of(case_watch: CaseWatch | None) -> timedelta | None:
    """The case's interval between checks; None when its pages are not re-checked."""
    hours = (case_watch.interval_hours if case_watch is not None
             else settings.CAPTURE_WATCH_DEFAULT_HOURS)
    return timedelta(hours=hours) if hours else None


def _interval_or_default(case_watch: CaseWatch | None) -> timedelta:
    """The interval to schedule with: the case's, or (for a case that does not re-check its
    pages, which due_for_check leaves out anyway) the default."""
    return interval_of(case_watch) or timedelta(
        hours=settings.CAPTURE_WATCH_DEFAULT_HOURS or 24)


def _case_watch_loaded(obj) -> CaseWatch | None:
    """The CaseWatch of `obj`'s case, read with select_related("case__page_watch")."""
    return getattr(obj.case, "page_watch", None)


def case_watch_of(case_id: int) -> CaseWatch | None:
    return CaseWatch.objects.filter(case_id=case_id).first()


def reschedule_case(case_id: int) -> int:
    """After a case's interval changed: each of its watched pages is next checked one new
    interval after its last check (now, for those never checked). Returns how many."""
    interval = interval_of(case_watch_of(case_id))
    if interval is None:
        return 0
    now = timezone.now()
    rows = WatchedCitation.objects.filter(case_id=case_id)
    count = rows.filter(last_checked_at__isnull=True).update(next_check_at=now)
    count += rows.filter(last_checked_at__isnull=False).update(
        next_check_at=F("last_checked_at") + interval)
    return count


# --- which citations are due ---------------------------------------------------------------------

def start_watching(now: datetime | None = None) -> int:
    """A WatchedCitation for every citation with a capture done and none yet, first due one
    interval after its latest capture. Returns how many were added."""
    now = now or timezone.now()
    latest = (Capture.objects.filter(status=Capture.Status.DONE, citation__isnull=False,
                                     citation__page_watch__isnull=True)
              .values("citation_id", "case_id")
              .annotate(last=Max("captured_at")))
    rows = list(latest[:5000])
    if not rows:
        return 0
    protected = set(Capture.objects.filter(
        status=Capture.Status.DONE, protected=True,
        citation_id__in=[row["citation_id"] for row in rows]).values_list("citation_id",
                                                                          flat=True))
    case_watches = {w.case_id: w for w in CaseWatch.objects.filter(
        case_id__in={row["case_id"] for row in rows})}
    new = []
    for row in rows:
        interval = _interval_or_default(case_watches.get(row["case_id"]))
        new.append(WatchedCitation(citation_id=row["citation_id"], case_id=row["case_id"],
                                   protected=row["citation_id"] in protected,
                                   next_check_at=(row["last"] or now) + interval))
    WatchedCitation.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def due_for_check(now: datetime | None = None, *, limit: int | None = None):
    """The watched citations due for a check, oldest due first: their case re-checks its
    pages, and a protected address only where the case opted in."""
    now = now or timezone.now()
    limit = limit or settings.CAPTURE_WATCH_CHECKS_PER_TICK
    off = Q(case__page_watch__interval_hours=0)
    if not settings.CAPTURE_WATCH_DEFAULT_HOURS:
        off |= Q(case__page_watch__isnull=True)
    return list(WatchedCitation.objects.select_related("case", "case__page_watch")
                .filter(next_check_at__lte=now)
                .exclude(off)
                .filter(Q(protected=False) | Q(case__page_watch__watch_protected=True))
                .order_by("next_check_at", "pk")[:limit])


def claim_due(watched: WatchedCitation, now: datetime | None = None) -> bool:
    """Moves `watched`'s next check one interval on, if no one else did since it was read:
    whoever gets True queues its check (two ticks never queue the same check twice).
    `watched` is one of due_for_check()'s."""
    now = now or timezone.now()
    interval = _interval_or_default(_case_watch_loaded(watched))
    return bool(WatchedCitation.objects.filter(
        pk=watched.pk, next_check_at=watched.next_check_at).update(
        next_check_at=now + interval))


# --- fetching the page now ----------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    blocked_by: str = ""
    """The blocking host a redirect led to (not followed)."""


def is_block_host(host: str | None) -> bool:
    host = (host or "").lower().rstrip(".")
    hosts = (*BLOCK_HOSTS, *(h.strip().lower() for h in settings.CAPTURE_WATCH_BLOCK_HOSTS
                             if h.strip()))
    return any(host == blocked or host.endswith("." + blocked) for blocked in hosts)


def fetch_answer(url: str) -> Answer:
    """GET `url` as a capture would reach it (capture/network.py: each address checked, each
    redirect checked before it is followed, the proxy, the limits), following redirects
    except to a blocking host. A CaptureError when no answer came."""
    proxy = Proxy.parse(settings.CAPTURE_PROXY or None)
    policy = AddressPolicy.from_setting(settings.CAPTURE_ALLOWED_HOSTS,
                                        resolve=proxy is None)
    budget = Budget(Limits(total_seconds=float(settings.CAPTURE_WATCH_TIMEOUT_SECONDS),
                           max_bytes=settings.CAPTURE_WATCH_MAX_BYTES,
                           max_resources=MAX_REDIRECTS + 1,
                           request_seconds=float(settings.CAPTURE_WATCH_TIMEOUT_SECONDS)))
    current = normalize_url(url)
    for _hop in range(MAX_REDIRECTS + 1):
        exchange = fetch_once(Outgoing(current, "GET", _HEADERS), policy, budget, proxy)
        location = exchange.location
        if location is None or is_block_host(urlsplit(location).hostname):
            blocked_by = urlsplit(location).hostname if location else ""
            return Answer(status=exchange.status,
                          content_type=exchange.header("content-type"),
                          body=exchange.decoded_body(budget), blocked_by=blocked_by or "")
        current = location
    raise CaptureError(errors.TOO_MANY_REDIRECTS,
                       _("The address redirects more than %(count)d times.")
                       % {"count": MAX_REDIRECTS})


def _error_outcome(exc: CaptureError) -> tuple[str, str, str]:
    """(outcome, reason code, reason) for a check that got no answer."""
    if exc.code == errors.DNS_FAILURE:
        return Outcome.GONE, exc.code, _("The host name no longer resolves.")
    if exc.code == errors.CONNECTION_FAILED and isinstance(exc.__cause__, ConnectionRefusedError):
        return Outcome.GONE, CONNECTION_REFUSED, _("The server refuses connections.")
    return Outcome.FAILED, exc.code, exc.message


def _is_block_page(new_lines: list[str], old_lines: list[str] | None) -> bool:
    text = " ".join(new_lines).lower()
    if len(text) > BLOCK_PAGE_MAX_CHARS:
        return False
    before = " ".join(old_lines or ()).lower()
    return any(marker in text and marker not in before for marker in BLOCK_MARKERS)


# --- one check ------------------------------------------------------------------------------------

@dataclass
class _Finding:
    outcome: str
    reason_code: str
    reason: str = ""
    http_status: int | None = None
    changed_words: int | None = None
    text_sha256: str = ""
    diff: str = ""


def latest_capture(citation_id: int) -> Capture | None:
    return (Capture.objects.filter(citation_id=citation_id, status=Capture.Status.DONE)
            .select_related("requested_by").order_by("-captured_at", "-pk").first())


def _archived_lines(capture: Capture) -> tuple[list[str] | None, bytes]:
    archive = (CaptureFile.objects.filter(capture=capture, role=CaptureFile.Role.ARCHIVE)
               .select_related("evidence").first())
    if archive is None:
        raise ArchiveUnreadable(_("The capture has no archive."))
    details = capture.details
    try:
        with archive.evidence.file.open("rb") as handle:
            content_type, body = archived_answer(handle, details["final_url"] or details["url"])
    except OSError as exc:
        raise ArchiveUnreadable(_("The capture's archive cannot be opened.")) from exc
    return page_text(body, content_type), body


def _compare(baseline: Capture, answer: Answer, previous: PageCheck | None) -> _Finding:
    new_lines = page_text(answer.body, answer.content_type)
    digest = text_digest(new_lines, answer.body)
    if (previous is not None and previous.capture_id == baseline.pk
            and previous.outcome == Outcome.UNCHANGED and previous.text_sha256 == digest):
        # The same text as last time, which was the capture's: the archive need not be read.
        return _Finding(Outcome.UNCHANGED, previous.reason_code, previous.reason,
                        answer.status, previous.changed_words, digest)
    old_lines, old_body = _archived_lines(baseline)
    if new_lines is not None and _is_block_page(new_lines, old_lines):
        return _Finding(Outcome.GONE, BLOCK_PAGE,
                        _("The answer is a block page (access to the resource is restricted)."),
                        answer.status, text_sha256=digest)
    if new_lines is None or old_lines is None:
        if text_digest(old_lines, old_body) == digest:
            return _Finding(Outcome.UNCHANGED, SAME_CONTENT, _("The same content."), answer.status,
                            0, digest)
        return _Finding(Outcome.CHANGED, CONTENT_CHANGED,
                        _("The content differs from the capture's (not a page of text)."),
                        answer.status, None, digest)
    captured = f"captured {baseline.captured_at:%Y-%m-%d %H:%M} UTC"
    comparison = compare(old_lines, new_lines, diff_chars=settings.CAPTURE_WATCH_DIFF_CHARS,
                         old_label=captured, new_label="now")
    words = comparison.changed_words
    if words == 0:
        return _Finding(Outcome.UNCHANGED, SAME_TEXT, _("The same text."), answer.status, 0,
                        digest)
    if words < settings.CAPTURE_WATCH_MIN_CHANGED_WORDS:
        return _Finding(Outcome.UNCHANGED, MINOR_CHANGE,
                        f"{words} word{'s' if words != 1 else ''} changed, below the "
                        "threshold.", answer.status, words, digest, comparison.diff)
    return _Finding(Outcome.CHANGED, TEXT_CHANGED,
                    f"{words} word{'s' if words != 1 else ''} of the text changed.",
                    answer.status, words, digest, comparison.diff)


def _examine(baseline: Capture, previous: PageCheck | None) -> _Finding:
    details = baseline.details
    try:
        answer = fetch_answer(details["url"] or details["final_url"])
    except CaptureError as exc:
        outcome, code, reason = _error_outcome(exc)
        return _Finding(outcome, code, reason)
    if answer.blocked_by:
        return _Finding(Outcome.GONE, BLOCK_PAGE,
                        _("The address redirects to %(host)s, a block page.")
                        % {"host": answer.blocked_by},
                        answer.status)
    if answer.status == 451:
        return _Finding(Outcome.GONE, UNAVAILABLE_FOR_LEGAL_REASONS,
                        _("The server answers 451: unavailable for legal reasons."), 451)
    if answer.status >= 400:
        return _Finding(Outcome.GONE, HTTP_ERROR,
                        _("The server answers %(status)s.") % {"status": answer.status},
                        answer.status)
    try:
        return _compare(baseline, answer, previous)
    except ArchiveUnreadable as exc:
        return _Finding(Outcome.FAILED, ARCHIVE_UNREADABLE, str(exc), answer.status)


def _requesters(citation: Citation, baseline: Capture, protected: bool):
    """Who may ask for the new capture of a changed page, in order: whoever asked for the
    capture it was compared with; for a public address, failing them (no longer a writer of
    the case), the case's lead, then its editors."""
    yield baseline.requested_by
    if protected:
        return
    memberships = (Membership.objects.filter(case_id=citation.source.case_id,
                                             user__is_active=True)
                   .exclude(user_id=baseline.requested_by_id).select_related("user"))
    lead_id = citation.source.case.lead_id
    for membership in sorted(memberships.filter(Q(user_id=lead_id) | Q(role=Role.EDITOR)),
                             key=lambda m: (m.user_id != lead_id, m.pk)):
        yield membership.user


def _new_capture(citation: Citation, baseline: Capture, protected: bool) -> tuple[
        Capture | None, str]:
    trigger = Capture.Trigger.REQUESTED if protected else Capture.Trigger.PAGE_CHANGED
    refusal = None
    for user in _requesters(citation, baseline, protected):
        try:
            return request_capture(citation, user, trigger=trigger), ""
        except CaptureError as exc:
            refusal = exc
            if exc.code != errors.NOT_ALLOWED:
                break
    if refusal is None:
        return None, _("No member of the case could ask for a new capture.")
    return None, _("No new capture: %(reason)s") % {"reason": refusal.message}


def run_check(watched_id: int) -> PageCheck:
    """Check the page of WatchedCitation `watched_id` now and record it: the PageCheck, and
    the citation's state. A changed page gets a new capture requested (queued by the
    caller: capture/tasks.py). Running it again records another observation; it never
    requests a second capture while one is queued or running (request_capture)."""
    watched = WatchedCitation.objects.select_related(
        "citation", "citation__source", "citation__source__case", "last_check").get(
        pk=watched_id)
    citation = watched.citation
    case_id = citation.source.case_id
    baseline = latest_capture(citation.pk)
    protected = bool(baseline.protected if baseline is not None else watched.protected) or (
        not citation.url and bool(citation.protected_url))
    case_watch = case_watch_of(case_id)
    if baseline is None:
        finding = _Finding(Outcome.FAILED, NO_CAPTURE,
                           _("No capture of this citation is left to compare with."))
    elif protected and not (case_watch is not None and case_watch.watch_protected):
        finding = _Finding(Outcome.FAILED, PROTECTED_NOT_WATCHED,
                           _("A protected source's address: the case does not re-check those."))
    elif protected and not is_handler(baseline.requested_by, case_id):
        finding = _Finding(Outcome.FAILED, errors.PROTECTED_ADDRESS,
                           _("Whoever had this protected address captured is no longer one "
                             "of the case's source handlers: it is not re-checked."))
    else:
        finding = _examine(baseline, watched.last_check)
    new_capture, capture_note = None, ""
    if finding.outcome == Outcome.CHANGED:
        new_capture, capture_note = _new_capture(citation, baseline, protected)
    return _record(watched, baseline, protected, finding, new_capture, capture_note)


def _record(watched, baseline, protected, finding: _Finding, new_capture, capture_note):
    now = timezone.now()
    with transaction.atomic():
        watched = WatchedCitation.objects.select_for_update().get(pk=watched.pk)
        check = PageCheck.objects.create(
            citation_id=watched.citation_id, case_id=watched.case_id, capture=baseline,
            checked_at=now, outcome=finding.outcome, http_status=finding.http_status,
            reason_code=finding.reason_code,
            reason=" ".join(filter(None, [finding.reason, capture_note])),
            changed_words=finding.changed_words, text_sha256=finding.text_sha256,
            diff=finding.diff or None, new_capture=new_capture, worker=worker_id())
        if finding.outcome == Outcome.GONE:
            watched.gone_since = watched.gone_since or now
        elif finding.outcome in (Outcome.UNCHANGED, Outcome.CHANGED):
            watched.gone_since = None
            if finding.outcome == Outcome.CHANGED:
                watched.changed_since = watched.changed_since or now
        flagged = watched.gone_since is not None or watched.changed_since is not None
        if not flagged:
            watched.original_capture = None
        elif watched.original_capture_id is None:
            # The capture compared with is the last that showed the page as it was.
            watched.original_capture = baseline
        interval = interval_of(case_watch_of(watched.case_id))
        if interval is not None:
            watched.next_check_at = now + interval
        watched.protected = protected
        watched.last_check = check
        watched.last_checked_at = now
        watched.save()
    logger.info("Checked citation %s: %s (%s)", watched.citation_id, finding.outcome,
                finding.reason_code)
    return check


def record_failure(watched_id: int, code: str, reason: str) -> PageCheck | None:
    """A check that broke unexpectedly, recorded as could-not-check (the task's reason
    names only the exception's class)."""
    try:
        watched = WatchedCitation.objects.get(pk=watched_id)
    except WatchedCitation.DoesNotExist:
        return None
    return _record(watched, latest_capture(watched.citation_id), watched.protected,
                   _Finding(Outcome.FAILED, code, reason), None, "")


# --- what pages show ------------------------------------------------------------------------------

LIVE, CHANGED, GONE, UNCHECKED, NOT_WATCHED = "live", "changed", "gone", "unchecked", \
    "not_watched"


@dataclass(frozen=True)
class WatchState:
    """A citation's page as the desk sees it (the partial
    templates/capture/includes/watch_status.html shows one)."""

    citation_id: int
    state: str
    """live, changed, gone, unchecked (watched, not checked yet) or not_watched."""
    since: datetime | None
    changed_since: datetime | None
    gone_since: datetime | None
    checked_at: datetime | None
    next_check_at: datetime | None
    http_status: int | None
    reason_code: str
    reason: str
    original_capture_id: int | None
    original_captured_at: datetime | None
    original_evidence_id: int | None
    """The original capture's screenshot (its evidence), to link to."""
    diff: str
    """What changed, for whoever may read the page's words ("" otherwise)."""
    protected: bool = False
    claim_id: int | None = None
    incident_id: int | None = None
    target_text: str = ""

    @property
    def flagged(self) -> bool:
        return self.state in (CHANGED, GONE)

    @property
    def label(self) -> str:
        if self.state == GONE:
            if self.http_status:
                return _("gone since %(day)s (HTTP %(status)s)") % {
                    "day": _day(self.gone_since), "status": self.http_status}
            return _("gone since %(day)s") % {"day": _day(self.gone_since)}
        if self.state == CHANGED:
            return _("changed since %(day)s") % {"day": _day(self.changed_since)}
        return {LIVE: pgettext("cited page", "live"), UNCHECKED: _("not checked yet"),
                NOT_WATCHED: _("not re-checked")}[self.state]


def _day(moment: datetime) -> str:
    utc = moment.astimezone(UTC)  # as the pages show capture times
    return date_format(utc, _("j M Y"))


def _with_original_evidence(queryset):
    # A page's screenshot, or the file an address served (a capture holds one or the other).
    screenshot = CaptureFile.objects.filter(
        capture=OuterRef("original_capture"),
        role__in=[CaptureFile.Role.SCREENSHOT, CaptureFile.Role.FILE])
    return queryset.annotate(original_evidence_id=Subquery(screenshot.values("evidence")[:1]))


def _state_of(watched: WatchedCitation, *, may_read: bool) -> WatchState:
    """`may_read`: whether the reader may see the page's words and its capture (a protected
    source's page: its case's source handlers only)."""
    case_watch = _case_watch_loaded(watched)
    check = watched.last_check
    watching = interval_of(case_watch) is not None and (
        not watched.protected or (case_watch is not None and case_watch.watch_protected))
    if watched.gone_since is not None:
        state, since = GONE, watched.gone_since
    elif watched.changed_since is not None:
        state, since = CHANGED, watched.changed_since
    elif not watching:
        state, since = NOT_WATCHED, None
    elif check is None:
        state, since = UNCHECKED, None
    else:
        state, since = LIVE, None
    # The diff to show is that of the check that found the change (later checks compare
    # with the newer capture).
    diff = ""
    if may_read and check is not None and state == CHANGED:
        diff = getattr(watched, "change_diff", None) or check.diff or ""
    original = watched.original_capture
    return WatchState(
        citation_id=watched.citation_id, state=state, since=since,
        changed_since=watched.changed_since, gone_since=watched.gone_since,
        checked_at=watched.last_checked_at, next_check_at=watched.next_check_at,
        http_status=check.http_status if check is not None else None,
        reason_code=check.reason_code if check is not None else "",
        reason=check.reason if check is not None else "",
        original_capture_id=watched.original_capture_id,
        original_captured_at=original.captured_at if original is not None else None,
        original_evidence_id=(getattr(watched, "original_evidence_id", None)
                              if may_read else None),
        diff=diff, protected=watched.protected,
        claim_id=watched.citation.claim_id, incident_id=watched.citation.incident_id,
        target_text=_target_text(watched.citation))


def _target_text(citation) -> str:
    target = citation.claim if citation.claim_id else citation.incident
    if target is None:
        return ""
    text = getattr(target, "statement", None) or getattr(target, "title", "")
    return text if len(text) <= 120 else text[:119] + "…"


def _states_query():
    change_diff = (PageCheck.objects.filter(citation=OuterRef("citation"),
                                            outcome=Outcome.CHANGED,
                                            checked_at__gte=OuterRef("changed_since"))
                   .order_by("checked_at", "pk").values("diff")[:1])
    return _with_original_evidence(
        WatchedCitation.objects.select_related(
            "citation", "citation__claim", "citation__incident", "last_check",
            "original_capture", "case", "case__page_watch")
        .annotate(change_diff=Subquery(change_diff)))


def attach_watch_states(citations, user=None, *, handler: bool | None = None) -> dict[
        int, WatchState]:
    """Each citation's WatchState as `citation.watch_state` (None for a citation whose page
    is not watched: no capture yet), in one query. A protected source's page shows its diff
    and links its capture to the case's source handlers only: say whether the reader is one
    (`handler`, e.g. CaseAccess.can_handle_sources), or give `user` and it is read (one
    more query, when a protected page is among them). Returns them by citation id too."""
    citations = list(citations)
    rows = list(_states_query().filter(citation__in=[c.pk for c in citations]))
    handles = {}
    states = {}
    for row in rows:
        may_read = True
        if row.protected:
            if handler is not None:
                may_read = handler
            else:
                if row.case_id not in handles:
                    handles[row.case_id] = is_handler(user, row.case_id)
                may_read = handles[row.case_id]
        states[row.citation_id] = _state_of(row, may_read=may_read)
    for citation in citations:
        citation.watch_state = states.get(citation.pk)
    return states


def citation_watch_state(citation, user=None, *, handler: bool | None = None) -> (
        WatchState | None):
    """One citation's WatchState (see attach_watch_states for a page of many)."""
    return attach_watch_states([citation], user, handler=handler).get(citation.pk)


@dataclass(frozen=True)
class WatchFlags:
    """What the case overview says: how many cited pages are gone or changed, and the
    first of them (gone first, newest first)."""

    gone: int
    changed: int
    items: list[WatchState]

    @property
    def total(self) -> int:
        return self.gone + self.changed

    @property
    def more(self) -> int:
        """How many are counted but not listed."""
        return self.total - len(self.items)


def watch_flags(case, *, limit: int = 20) -> WatchFlags:
    """The case's gone and changed pages, in one query. No diffs: the overview links to the
    claims, whose pages show them to those who may read them."""
    flagged = (_states_query().filter(case=case)
               .filter(Q(gone_since__isnull=False) | Q(changed_since__isnull=False))
               .annotate(
                   total_gone=Window(Sum(Conditional(
                       When(gone_since__isnull=False, then=1), default=0,
                       output_field=IntegerField()))),
                   total_changed=Window(Sum(Conditional(
                       When(gone_since__isnull=True, then=1), default=0,
                       output_field=IntegerField()))))
               .order_by(Coalesce("gone_since", "changed_since").desc(), "pk"))
    rows = list(flagged[:limit])
    if not rows:
        return WatchFlags(0, 0, [])
    return WatchFlags(rows[0].total_gone, rows[0].total_changed,
                      [_state_of(row, may_read=False) for row in rows])


def ensure_watched(capture: Capture) -> WatchedCitation | None:
    """The WatchedCitation of a done capture's citation (the tick adds them in bulk; this is
    for a command or a test that wants one now)."""
    if capture.citation_id is None or capture.status != Capture.Status.DONE:
        return None
    interval = _interval_or_default(case_watch_of(capture.case_id))
    try:
        with transaction.atomic():
            watched, _created = WatchedCitation.objects.get_or_create(
                citation_id=capture.citation_id,
                defaults={"case_id": capture.case_id, "protected": capture.protected,
                          "next_check_at": (capture.captured_at or timezone.now())
                          + interval})
    except IntegrityError:
        watched = WatchedCitation.objects.get(citation_id=capture.citation_id)
    return watched
