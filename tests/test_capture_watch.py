"""Watching captured pages (capture/watch.py, capture/tasks.py): a page served from
127.0.0.1 is captured with Debian's Chromium, then re-checked as its server changes it,
answers 451 or 404, shows a block page, or stops serving; the watch tick queues its
successor once and the checks that are due; a real `manage.py worker` runs a tick.

Tests that capture skip, saying why, only where no Chromium is installed.
"""

import http.server
import json
import threading
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from background import Status, state
from background.framework import TaskResultStatus
from capture import watch
from capture.domain import store_capture
from capture.engine import capture_page
from capture.models import Capture, CaptureFile, CaseWatch, PageCheck, WatchedCitation
from capture.pagetext import compare, page_text
from capture.tasks import check_page, ensure_watch_tick, queue_due_checks, watch_tick
from cases.enums import Role
from cases.models import Evidence, Membership

from .background_worker import database_for_a_second_process, start_worker, stop_worker, wait_for
from .factories import CitationFactory, ClaimFactory, SourceFactory

CHROMIUM = "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"No Chromium at {CHROMIUM}: install Debian's chromium package (apt-get install "
           "chromium) to run the capture tests.")

EVACUATED = "Officials said ten people were evacuated by boat from the lower district."
HELD = ("Officials now say that nobody had to leave, and that the barrier held through the "
        "night.")


def story(*, evacuated: str = EVACUATED, views: int = 1042, extra: str = "") -> bytes:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Flood barrier breached</title></head>
<body>
<header><nav><a href="/">Home</a> · Regions · Views: {views}</nav></header>
<main><article>
<h1>Flood barrier breached at Rostov dam</h1>
<p>Residents of the lower district were told to leave their homes on Tuesday night.</p>
<p>{evacuated}</p>{extra}
</article></main>
<footer>© Rostov Gazette · views today: {views}</footer>
<script>document.body.dataset.loaded = "yes";</script>
</body></html>""".encode()


BLOCK_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Доступ ограничен</title>
</head><body><h1>Доступ к информационному ресурсу ограничен</h1><p>Доступ ограничен на
основании Федерального закона от 27 июля 2006 года № 149-ФЗ «Об информации, информационных
технологиях и о защите информации».</p></body></html>""".encode()


# --- a site whose answers the tests change -----------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        site = self.server.site
        site.requests.append(self.path)
        status, body, headers = site.pages.get(self.path, (404, b"Not found", {}))
        self.send_response(status)
        headers = {"Content-Type": "text/html; charset=utf-8", **headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Site:
    """Serves `pages` ({path: (status, body, headers)}) from 127.0.0.1; stop() closes the
    port (a connection is refused), start() opens it again on the same port."""

    def __init__(self):
        self.pages: dict[str, tuple[int, bytes, dict]] = {}
        self.requests: list[str] = []
        self.port = 0
        self._server = None
        self.start()

    def start(self):
        if self._server is not None:
            return
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.site = self
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve_story(self, body: bytes | None = None, status: int = 200, **headers):
        self.pages["/story.html"] = (status, body if body is not None else story(), headers)


@pytest.fixture(scope="module")
def site():
    served = Site()
    served.serve_story()
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def _site_as_captured(site):
    site.start()
    site.serve_story()
    yield
    site.start()


@pytest.fixture(autouse=True)
def _watch_settings(settings):
    settings.CAPTURE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CAPTURE_PROXY = ""
    settings.CAPTURE_CHROMIUM = CHROMIUM
    settings.CAPTURE_TSA_URL = []
    settings.CAPTURE_WATCH_DEFAULT_HOURS = 24
    settings.CAPTURE_WATCH_TICK_SECONDS = 600
    settings.CAPTURE_WATCH_MIN_CHANGED_WORDS = 3
    settings.CAPTURE_WATCH_BLOCK_HOSTS = []


@pytest.fixture(scope="module")
def captured(site):
    """One capture of the story as first served, stored anew by each test that needs it."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"No Chromium at {CHROMIUM}.")
    site.serve_story()
    result = capture_page(site.url("/story.html"), allowed_hosts=["127.0.0.1"],
                          chromium=CHROMIUM)
    yield result
    result.cleanup()


@pytest.fixture
def citation(case, site):
    claim = ClaimFactory(case=case, statement="Ten people were evacuated by boat.")
    return CitationFactory(claim=claim, source=SourceFactory(case=case, name="Rostov Gazette"),
                           url=site.url("/story.html"))


@pytest.fixture
def stored(citation, reporter, captured):
    return store_capture(citation.pk, reporter.pk, captured)


@pytest.fixture
def watched(stored):
    return watch.ensure_watched(stored)


def _state(citation, **kwargs):
    return watch.citation_watch_state(citation, **kwargs)


def _ready_ticks() -> list[str]:
    return [str(pk) for pk in DBTaskResult.objects.filter(
        task_path="capture.tasks.watch_tick", status=TaskResultStatus.READY)
        .values_list("pk", flat=True)]


# --- the page's text ------------------------------------------------------------------------------

def test_page_text_is_the_main_text_without_navigation_scripts_or_footer():
    lines = page_text(story(), "text/html; charset=utf-8")
    assert lines == ["Flood barrier breached at Rostov dam",
                     "Residents of the lower district were told to leave their homes on "
                     "Tuesday night.", EVACUATED]


def test_page_text_without_main_is_the_body_without_its_surroundings():
    body = (b"<html><body><nav>Menu</nav><div>First  paragraph\n of text</div><p>Second"
            b"</p><footer>Counter 12</footer><style>p{}</style></body></html>")
    assert page_text(body, "text/html") == ["First paragraph of text", "Second"]


def test_page_text_reads_the_charset_the_page_declares():
    body = "<html><body><p>Доступ ограничен</p></body></html>".encode("cp1251")
    assert page_text(body, "text/html; charset=windows-1251") == ["Доступ ограничен"]


def test_page_text_of_a_file_that_is_not_text_is_none():
    assert page_text(b"%PDF-1.7", "application/pdf") is None


def test_compare_counts_changed_words_and_truncates_its_diff():
    old = ["One two three four.", "Five six."]
    comparison = compare(old, ["One two THREE four.", "Five six."])
    assert comparison.changed_words == 1
    assert "-One two three four." in comparison.diff
    assert "+One two THREE four." in comparison.diff
    long = compare(old, [f"Line {n} of a rewritten page" for n in range(200)], diff_chars=300)
    assert long.changed_words >= 1000 - 6
    assert len(long.diff) < 330 and long.diff.endswith("(diff truncated)")


def test_block_page_markers_count_only_when_the_capture_did_not_hold_them():
    marker = ["Доступ к информационному ресурсу ограничен"]
    assert watch._is_block_page(marker, ["An article"])
    assert not watch._is_block_page(marker, ["Quoting: доступ к информационному ресурсу "
                                             "ограничен"])
    assert not watch._is_block_page(marker + ["word " * 2000], ["An article"])


# --- checks ---------------------------------------------------------------------------------------

@needs_chromium
def test_unchanged_page_is_recorded_unchanged_and_live(citation, watched, stored, site):
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code, check.http_status) == (
        PageCheck.Outcome.UNCHANGED, watch.SAME_TEXT, 200)
    assert check.capture == stored and check.changed_words == 0 and check.diff is None
    assert site.requests[-1] == "/story.html"

    # The navigation's counter and the footer are not the page's text.
    site.serve_story(story(views=1187))
    again = watch.run_check(watched.pk)
    assert (again.outcome, again.reason_code) == (PageCheck.Outcome.UNCHANGED,
                                                  watch.SAME_TEXT)
    watched.refresh_from_db()
    assert watched.last_check == again and watched.gone_since is watched.changed_since is None
    assert watched.next_check_at == again.checked_at + timedelta(hours=24)
    shown = _state(citation)
    assert shown.state == watch.LIVE and shown.label == "live"


@needs_chromium
def test_change_below_the_threshold_is_not_a_change(watched, site):
    site.serve_story(story(evacuated=EVACUATED.replace("ten", "eleven")))
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code, check.changed_words) == (
        PageCheck.Outcome.UNCHANGED, watch.MINOR_CHANGE, 1)
    assert check.new_capture is None and not Capture.objects.exclude(pk=check.capture_id)


@needs_chromium
def test_changed_page_is_flagged_with_its_diff_and_captured_again(case, citation, watched,
                                                                   stored, site, reporter):
    site.serve_story(story(evacuated=HELD))
    result = check_page.call(watched.pk)

    check = PageCheck.objects.get()
    assert result == {"check_id": check.pk, "new_capture_id": check.new_capture_id}
    assert (check.outcome, check.reason_code, check.http_status) == (
        PageCheck.Outcome.CHANGED, watch.TEXT_CHANGED, 200)
    assert check.changed_words >= 10
    assert f"-{EVACUATED}" in check.diff and f"+{HELD}" in check.diff
    assert "Views" not in check.diff

    # A new capture of the page as it is now, requested and queued by id.
    new = check.new_capture
    assert (new.status, new.trigger, new.requested_by, new.citation) == (
        Capture.Status.QUEUED, Capture.Trigger.PAGE_CHANGED, reporter, citation)
    task_row = DBTaskResult.objects.get(pk=new.task_id)
    assert task_row.task_path == "capture.tasks.capture_citation"
    assert task_row.args_kwargs == {"args": [new.pk], "kwargs": {}}

    # Checked again before that capture is made: still changed, no second capture.
    watch.run_check(watched.pk)
    assert Capture.objects.filter(trigger=Capture.Trigger.PAGE_CHANGED).count() == 1

    shown = _state(citation)
    assert shown.state == watch.CHANGED and shown.original_capture_id == stored.pk
    assert f"+{HELD}" in shown.diff
    html = render_to_string("capture/includes/watch_status.html",
                            {"watch": shown, "case": case})
    today = check.checked_at.astimezone(UTC)
    assert f"changed since {today.day} {today:%b %Y}" in html
    assert "still shows the original" in html and "What changed in its text" in html


@needs_chromium
def test_page_no_longer_served_is_gone_and_its_capture_remains(case, citation, watched,
                                                                stored, site):
    evidence_before = {e.pk: e.sha256 for e in Evidence.objects.filter(case=case)}
    site.stop()
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code, check.http_status) == (
        PageCheck.Outcome.GONE, watch.CONNECTION_REFUSED, None)

    watched.refresh_from_db()
    assert watched.gone_since == check.checked_at
    assert watched.original_capture == stored
    stored.refresh_from_db()
    assert stored.status == Capture.Status.DONE
    assert {e.pk: e.sha256 for e in Evidence.objects.filter(case=case)} == evidence_before
    for item in Evidence.objects.filter(case=case):
        assert Path(item.file.path).exists()

    # Still gone at the next check: "since" stays the first.
    later = watch.run_check(watched.pk)
    watched.refresh_from_db()
    assert later.outcome == PageCheck.Outcome.GONE and watched.gone_since == check.checked_at

    # Back, unchanged: live again.
    site.start()
    back = watch.run_check(watched.pk)
    watched.refresh_from_db()
    assert back.outcome == PageCheck.Outcome.UNCHANGED
    assert watched.gone_since is None and watched.original_capture is None
    assert _state(citation).state == watch.LIVE


@needs_chromium
@pytest.mark.parametrize(("status", "code"), [
    (451, watch.UNAVAILABLE_FOR_LEGAL_REASONS), (404, watch.HTTP_ERROR),
    (503, watch.HTTP_ERROR)])
def test_error_status_is_gone_with_the_status(case, citation, watched, stored, site, status,
                                              code):
    site.serve_story(b"<html><body><p>Unavailable</p></body></html>", status=status)
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code, check.http_status) == (
        PageCheck.Outcome.GONE, code, status)

    shown = _state(citation)
    screenshot = stored.files.get(role=CaptureFile.Role.SCREENSHOT).evidence
    assert shown.state == watch.GONE and shown.original_evidence_id == screenshot.pk
    html = " ".join(render_to_string("capture/includes/watch_status.html",
                                     {"watch": shown, "case": case}).split())
    day = check.checked_at.astimezone(UTC)
    captured_day = stored.captured_at.astimezone(UTC)
    assert (f"gone since {day.day} {day:%b %Y} (HTTP {status})</strong> — "
            f"<a href=\"/cases/{case.slug}/evidence/{screenshot.pk}/") in html
    assert (f"the capture of {captured_day.day} {captured_day:%b %Y}</a> still shows the "
            "original") in html


@needs_chromium
def test_block_page_is_gone(watched, site):
    site.serve_story(BLOCK_PAGE)
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code, check.http_status) == (
        PageCheck.Outcome.GONE, watch.BLOCK_PAGE, 200)


@needs_chromium
def test_redirect_to_a_blocking_host_is_gone_without_following_it(watched, site):
    site.serve_story(b"", status=302, Location="http://warning.rt.ru/?id=17&st=0")
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code, check.http_status) == (
        PageCheck.Outcome.GONE, watch.BLOCK_PAGE, 302)
    assert "warning.rt.ru" in check.reason


@needs_chromium
def test_host_that_no_longer_resolves_is_gone(watched, stored):
    Capture.objects.filter(pk=stored.pk).update(url="http://rostov-gazette.invalid/story.html")
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code) == (PageCheck.Outcome.GONE, "dns_failure")


@needs_chromium
def test_address_refused_by_the_capture_rules_is_not_checked(watched, site, settings):
    settings.CAPTURE_ALLOWED_HOSTS = []
    before = list(site.requests)
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code) == (PageCheck.Outcome.FAILED,
                                                  "loopback_address")
    assert site.requests == before
    watched.refresh_from_db()
    assert watched.gone_since is None and watched.changed_since is None


# --- protected sources' addresses -----------------------------------------------------------------

@needs_chromium
def test_protected_address_is_rechecked_only_when_the_case_opts_in(case, site, captured,
                                                                   make_member, viewer):
    handler = make_member(Role.REPORTER, username="handler")
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    citation = CitationFactory(claim=ClaimFactory(case=case),
                               source=SourceFactory(case=case, name="Dam engineer",
                                                    protected=True),
                               url=site.url("/story.html"))
    capture = store_capture(citation.pk, handler.pk, captured)
    assert capture.protected
    assert watch.start_watching() == 1
    watched = WatchedCitation.objects.get(citation=citation)
    assert watched.protected
    WatchedCitation.objects.filter(pk=watched.pk).update(
        next_check_at=timezone.now() - timedelta(minutes=1))

    # Not opted in: never due, and a check asked for anyway does not visit the address.
    assert watch.due_for_check() == []
    before = list(site.requests)
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code) == (PageCheck.Outcome.FAILED,
                                                  watch.PROTECTED_NOT_WATCHED)
    assert site.requests == before

    CaseWatch.objects.create(case=case, watch_protected=True)
    watch.reschedule_case(case.pk)
    assert [w.pk for w in watch.due_for_check(timezone.now() + timedelta(hours=25))] == [
        watched.pk]
    site.serve_story(story(evacuated=HELD))
    check = watch.run_check(watched.pk)
    assert check.outcome == PageCheck.Outcome.CHANGED
    assert site.requests[len(before):] == ["/story.html"]
    # Captured again at the handler's request, as a protected address must be.
    assert (check.new_capture.requested_by, check.new_capture.trigger,
            check.new_capture.protected) == (handler, Capture.Trigger.REQUESTED, True)
    # Its words are the handlers'.
    assert HELD in _state(citation, handler=True).diff
    hidden = _state(citation, user=viewer)
    assert hidden.state == watch.CHANGED and hidden.diff == ""
    assert hidden.original_evidence_id is None

    # The handler's right withdrawn: no more visits.
    Membership.objects.filter(user=handler).update(can_handle_sources=False)
    before = list(site.requests)
    check = watch.run_check(watched.pk)
    assert (check.outcome, check.reason_code) == (PageCheck.Outcome.FAILED,
                                                  "capture_protected_address")
    assert site.requests == before


# --- when pages are due ---------------------------------------------------------------------------

@needs_chromium
def test_case_interval_decides_when_pages_are_due(case, stored):
    assert watch.start_watching() == 1
    assert watch.start_watching() == 0
    watched = WatchedCitation.objects.get()
    assert watched.next_check_at == stored.captured_at + timedelta(hours=24)
    now = timezone.now()
    assert watch.due_for_check(now) == []
    assert [w.pk for w in watch.due_for_check(now + timedelta(hours=25))] == [watched.pk]

    case_watch = CaseWatch.objects.create(case=case, interval_hours=0)
    assert watch.due_for_check(now + timedelta(hours=25)) == []

    case_watch.interval_hours = CaseWatch.Interval.WEEKLY
    case_watch.save()
    watch.reschedule_case(case.pk)
    watched.refresh_from_db()
    assert watched.next_check_at <= timezone.now()  # never checked: at once
    check = watch.run_check(watched.pk)
    watched.refresh_from_db()
    assert watched.next_check_at == check.checked_at + timedelta(days=7)


# --- the tick -------------------------------------------------------------------------------------

@needs_chromium
def test_tick_queues_its_successor_once_and_the_due_checks(watched, settings):
    first = ensure_watch_tick()
    assert ensure_watch_tick() == first
    assert _ready_ticks() == [first]
    assert state(first).run_after >= timezone.now() + timedelta(seconds=590)

    # A worker takes the tick; the citation is due.
    DBTaskResult.objects.filter(pk=first).update(status=TaskResultStatus.RUNNING,
                                                 started_at=timezone.now())
    WatchedCitation.objects.filter(pk=watched.pk).update(
        next_check_at=timezone.now() - timedelta(minutes=1))
    assert watch_tick.call() == {"checks_queued": 1}
    [second] = _ready_ticks()
    assert second != first
    checks = DBTaskResult.objects.filter(task_path="capture.tasks.check_page")
    assert [row.args_kwargs for row in checks] == [{"args": [watched.pk], "kwargs": {}}]

    # The same tick run again (tasks run at least once): nothing more is queued.
    assert watch_tick.call() == {"checks_queued": 0}
    assert _ready_ticks() == [second]
    assert queue_due_checks() == []
    assert checks.count() == 1
    watched.refresh_from_db()
    assert watched.check_task_id == str(checks.get().pk)
    assert watched.next_check_at > timezone.now() + timedelta(hours=23)


def test_watch_pages_command_starts_the_tick_once(db, capsys):
    call_command("watch_pages")
    printed = json.loads(capsys.readouterr().out)
    call_command("watch_pages")
    again = json.loads(capsys.readouterr().out)
    assert printed == again == {"tick": _ready_ticks()[0], "checks_queued": 0}
    assert len(_ready_ticks()) == 1


@needs_chromium
def test_watch_pages_now_checks_in_this_process(watched, site, capsys):
    site.serve_story(b"", status=451)
    call_command("watch_pages", "--now", "--all")
    [line] = capsys.readouterr().out.splitlines()
    check = PageCheck.objects.get()
    assert json.loads(line) == {
        "check": check.pk, "citation": watched.citation_id, "outcome": "gone",
        "http_status": 451, "reason_code": watch.UNAVAILABLE_FOR_LEGAL_REASONS,
        "changed_words": None, "new_capture": None}
    assert site.url("/story.html") not in line


# --- a real worker --------------------------------------------------------------------------------

@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_tick_which_queues_and_runs_the_due_check(case, reporter, site,
                                                                captured, settings, tmp_path):
    citation = CitationFactory(claim=ClaimFactory(case=case),
                               source=SourceFactory(case=case, name="Rostov Gazette"),
                               url=site.url("/story.html"))
    watched = watch.ensure_watched(store_capture(citation.pk, reporter.pk, captured))
    WatchedCitation.objects.filter(pk=watched.pk).update(
        next_check_at=timezone.now() - timedelta(minutes=1))
    first = ensure_watch_tick(delay=0)

    logs = tmp_path / "logs"
    logs.mkdir()
    evidence_root = settings.STORAGES["default"]["OPTIONS"]["location"]
    with database_for_a_second_process(tmp_path) as url:
        worker = start_worker(url, logs, environment={
            "CAPTURE_ALLOWED_HOSTS": "127.0.0.1", "EVIDENCE_ROOT": str(evidence_root),
            "CAPTURE_WATCH_TICK_SECONDS": "3600", "CAPTURE_TSA_URL": ""})
        try:
            wait_for(lambda: PageCheck.objects.exists() and state(first).is_finished,
                     timeout=60)
            check = PageCheck.objects.get()
            check_task = wait_for(lambda: (s := state(WatchedCitation.objects.get(
                pk=watched.pk).check_task_id)) and s.is_finished and s, timeout=30)
        finally:
            stop_worker(worker)
        output = (logs / "worker-output.txt").read_text()
        assert state(first).status == Status.SUCCEEDED, output
        assert state(first).return_value == {"checks_queued": 1}
        assert check_task.status == Status.SUCCEEDED, output
        assert check_task.return_value == {"check_id": check.pk, "new_capture_id": None}
        assert (check.outcome, check.http_status) == (PageCheck.Outcome.UNCHANGED, 200)
        assert check.worker == DBTaskResult.objects.get(pk=check_task.id).worker_ids[0]
        # Exactly one tick waits, an hour on.
        [successor] = _ready_ticks()
        assert successor != first
        assert state(successor).run_after > timezone.now() + timedelta(minutes=55)


# --- the setting in the back office ---------------------------------------------------------------

def _staff_with_watch_rights(user, make_staff):
    make_staff(user)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="capture",
                                                         codename__endswith="casewatch"))
    return user


@needs_chromium
def test_editor_sets_the_case_interval_in_the_back_office(client, case, editor, watched,
                                                          make_staff):
    _staff_with_watch_rights(editor, make_staff)
    client.force_login(editor)
    response = client.post(reverse("admin:capture_casewatch_add"), {
        "case": case.pk, "interval_hours": CaseWatch.Interval.WEEKLY, "watch_protected": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    case_watch = CaseWatch.objects.get()
    assert (case_watch.case, case_watch.interval_hours, case_watch.updated_by) == (
        case, 168, editor)
    watched.refresh_from_db()
    assert watched.next_check_at <= timezone.now()  # rescheduled: never checked yet


def test_reporter_may_not_set_the_case_interval(client, case, reporter, make_staff):
    _staff_with_watch_rights(reporter, make_staff)
    client.force_login(reporter)
    response = client.post(reverse("admin:capture_casewatch_add"), {
        "case": case.pk, "interval_hours": 1, "watch_protected": "on"})
    assert response.status_code == 403
    assert not CaseWatch.objects.exists()


# --- the case overview ----------------------------------------------------------------------------

@needs_chromium
def test_case_overview_flags_gone_page_with_a_link_to_its_claim(client, case, citation,
                                                               watched, viewer, site):
    site.serve_story(b"", status=451)
    watch.run_check(watched.pk)
    flags = watch.watch_flags(case)
    assert (flags.gone, flags.changed, [i.citation_id for i in flags.items]) == (
        1, 0, [citation.pk])
    client.force_login(viewer)
    page = " ".join(client.get(reverse("cases:case_overview", args=[case.slug]))
                    .content.decode().split())
    link = reverse("cases:claim_detail", args=[case.slug, citation.claim_id])
    assert "Cited pages: 1 gone since they were captured" in page
    assert f'<a href="{link}#citation-{citation.pk}">Ten people were evacuated by boat.</a>' \
        in page
    assert "(HTTP 451)" in page


def test_case_overview_without_watched_pages_shows_no_flag(client, case, viewer):
    client.force_login(viewer)
    page = client.get(reverse("cases:case_overview", args=[case.slug])).content.decode()
    assert "Cited pages:" not in page
    assert watch.watch_flags(case).total == 0


@pytest.mark.django_db(transaction=True)
def test_starting_a_worker_starts_the_watch_tick(tmp_path):
    """The watch needs no command of its own in production: every worker, as it starts,
    makes sure a tick is queued (settings.BACKGROUND_ON_WORKER_START; that two never are is
    ensure_watch_tick's lock, tested above)."""
    assert _ready_ticks() == []
    logs = tmp_path / "logs"
    logs.mkdir()
    with database_for_a_second_process(tmp_path) as url:
        worker = start_worker(url, logs, environment={"CAPTURE_WATCH_TICK_SECONDS": "3600"})
        try:
            wait_for(lambda: len(_ready_ticks()) == 1, timeout=30)
        finally:
            stop_worker(worker)
        [tick] = _ready_ticks()
        assert state(tick).run_after > timezone.now() + timedelta(minutes=55)
