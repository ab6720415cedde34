"""Exact query counts of the capture pages and of saving a citation with capture on and off.

- A citation's captures page (cases/views/captures.py) and an evidence file's page with its
  chain of custody: the same count with one capture (one custody entry) and with five, so
  that neither reads a row per capture, file or entry.
- Saving a citation as the forms, the admin and the API save one (the model's checks, the
  save, capture.tasks.citations_saved in the same transaction; the hook runs once it
  commits): with capture on the hook reads the saver's membership once per case, the
  citation's captures once, and writes the capture, its task and the task's id; with it
  off, nothing. bench/captures.py measures the same path's time.

Counted as in tests/test_query_counts.py: a warm-up request first (it saves the session),
then the request. Inside a test, each transaction.atomic is a savepoint, so a save counts
SAVEPOINT and RELEASE where production counts BEGIN and COMMIT."""

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse

from capture.models import Capture
from capture.tasks import citations_saved
from cases.models import Citation, CustodyEntry

from .capture_helpers import CAPTURED_AT, files_of, stored_capture
from .factories import CitationFactory, ClaimFactory, SourceFactory
from .query_counts import measured_get, text

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("stored_capture_settings")


@pytest.fixture(autouse=True)
def _session_saved_by_the_warm_up_only(settings):
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60


@pytest.fixture
def citation(case):
    return CitationFactory(claim=ClaimFactory(case=case),
                           source=SourceFactory(case=case, name="161.ru"),
                           url="https://161.ru/text/incidents/2025/05/13/deserters.html")


def _captures(citation, user, tmp_path, count, tsa):
    return [stored_capture(citation, user, tmp_path, tsa=tsa,
                           captured_at=CAPTURED_AT + dt.timedelta(minutes=n))
            for n in range(count)]


# --- the pages ---------------------------------------------------------------------------------

#: The session, the user, the membership (with its case), the citation (with its source,
#: claim, incident), its relays (with their sources), the captures (with their requesters),
#: their files with their evidence, the watch state of its page.
CITATION_CAPTURES_QUERIES = 8


@pytest.mark.parametrize("count", [1, 5])
def test_citation_captures_page_queries_do_not_grow_with_captures(
        client, citation, reporter, tmp_path, tsa, count, django_assert_num_queries):
    _captures(citation, reporter, tmp_path, count, tsa)
    client.force_login(reporter)
    url = reverse("cases:citation_captures", args=[citation.claim.case.slug, citation.pk])
    body = text(measured_get(client, url, django_assert_num_queries, CITATION_CAPTURES_QUERIES))
    assert body.count('class="capture d-flex') == count


#: The session, the user, the membership, the evidence (with its claim, incident, creator,
#: collector and capture), the capture's files with their evidence, the custody log.
EVIDENCE_DETAIL_QUERIES = 6


@pytest.mark.parametrize("count", [1, 5])
def test_evidence_page_queries_do_not_grow_with_custody_entries(
        client, citation, reporter, tmp_path, tsa, count, django_assert_num_queries):
    [capture] = _captures(citation, reporter, tmp_path, 1, tsa)
    screenshot = files_of(capture)["screenshot"]
    for n in range(count - 1):
        CustodyEntry.objects.create(evidence=screenshot, action=CustodyEntry.Action.TRANSFERRED,
                                    actor=reporter, note=f"Handed over to the lawyers ({n})")
    client.force_login(reporter)
    url = reverse("cases:evidence_detail", args=[capture.case.slug, screenshot.pk])
    body = text(measured_get(client, url, django_assert_num_queries, EVIDENCE_DETAIL_QUERIES))
    assert body.count("Handed over to the lawyers") == count - 1


# --- saving a citation -------------------------------------------------------------------------

def _save(citations, user):
    """As the forms, the admin and the API save citations (bench/captures.py save_citation)."""
    with transaction.atomic():
        for citation in citations:
            citation.full_clean()
            citation.save()
        citations_saved(citations, user)


def _new_citations(citation, count):
    return [Citation(claim=citation.claim, source=citation.source, quote="Десять срочников.",
                     url=f"https://161.ru/text/incidents/2025/05/13/{n}.html", language="ru")
            for n in range(count)]


#: One citation: the save's own queries (its savepoint, the checks, the insert, its history
#: row).
SAVE_OFF_QUERIES = 12
#: ... and the hook's 7: SAVEPOINT, the saver's membership, the citation's captures, the
#: capture, the task, the task's id on the capture, RELEASE.
SAVE_ON_QUERIES = SAVE_OFF_QUERIES + 7
#: Each further citation of the same save: its own queries, and with capture on the hook's
#: less the membership, read once per user and case.
SAVE_OFF_PER_CITATION = 10
SAVE_ON_PER_CITATION = SAVE_OFF_PER_CITATION + 6


@pytest.mark.parametrize("on", [False, True], ids=["capture_off", "capture_on"])
@pytest.mark.parametrize("count", [1, 3])
def test_citation_save_queries_with_capture_on_and_off(citation, reporter, settings, on,
                                                       count, django_assert_num_queries,
                                                       django_capture_on_commit_callbacks):
    settings.CAPTURE_ON_SAVE = on
    citation.claim.case  # noqa: B018 - the claim's case, as a form holds it
    new = _new_citations(citation, count)
    for made in new:
        made.claim = citation.claim
        made.created_by = reporter
    first = SAVE_ON_QUERIES if on else SAVE_OFF_QUERIES
    each = SAVE_ON_PER_CITATION if on else SAVE_OFF_PER_CITATION
    with django_assert_num_queries(first + each * (count - 1)), \
            django_capture_on_commit_callbacks(execute=True):
        _save(new, reporter)
    queued = Capture.objects.filter(citation__in=new)
    assert queued.count() == (count if on else 0)
    assert all(capture.task_id for capture in queued)
