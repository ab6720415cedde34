"""bench/pagedata.py and bench/pagereport.py at a tiny size: the records the page benchmark
writes make every page it measures show them (once, however often it runs), and the report
lists the pages not built yet and judges the query counts against the previous run. The
measurement itself (two PostgreSQL databases, a million claims) is left to `make bench`."""

import datetime as dt
import json

import pytest
from django.db.models import Count

from bench import pagedata, pagereport, pages
from capture.models import Capture, CaptureFile
from cases import deletion
from cases.enums import Role
from cases.models import CaseLink, Claim, CustodyEntry, Incident, IncidentLink, Source
from tests.clients import TwoFactorClient

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)


@pytest.fixture
def bench_world(db):
    """A small likeness of the benchmark's databases: the chief editor, the generated cases
    the big case is linked to, and `bench-thousand-claims` with a few of each record (the
    second incident has the most citations of its own)."""
    chief = UserFactory(username=pagedata.CHIEF)
    for slug in pagedata.LINKED_CASES:
        other = CaseFactory(slug=slug, title=f"Generated case {slug}")
        MembershipFactory(case=other, user=chief, role=Role.EDITOR)
        IncidentFactory(case=other, title=f"Incident of {slug}")
    case = CaseFactory(slug=pagedata.THOUSAND_SLUG, title="Desertions (1,000 claims)")
    MembershipFactory(case=case, user=chief, role=Role.EDITOR, can_handle_sources=True)
    incidents = [IncidentFactory(case=case, title=f"Desertion {n}") for n in range(4)]
    sources = [SourceFactory(case=case, name=f"Outlet {n}") for n in range(3)]
    claims = [ClaimFactory(case=case, incident=incidents[n % 4], statement=f"Claim {n}.")
              for n in range(5)]
    for n, claim in enumerate(claims):
        CitationFactory(claim=claim, source=sources[n % 3])
    for n in range(3):
        CitationFactory(claim=None, incident=incidents[1], source=sources[n],
                        url=f"https://news.example/{n}")
    CitationFactory(claim=None, incident=incidents[2], source=sources[0])
    return {"chief": chief, "case": case, "incidents": incidents, "claims": claims}


def _counts(case):
    return {
        "history": sum(m.history.filter(case_id=case.pk).count()
                       for m in (Claim, Incident, Source)),
        "case links": CaseLink.objects.count(),
        "incident links": IncidentLink.objects.count(),
        "captures": Capture.objects.count(),
        "custody": CustodyEntry.objects.count(),
        "deleted": len(deletion.recently_deleted(case)),
    }


@pytest.mark.urls("bench.urls")  # the benchmark's URLconf: the app and its references
def test_page_records_make_every_measured_page_show_them(bench_world):
    case = bench_world["case"]
    pagedata.write_page_records(log=lambda *_: None)
    records = pagedata.measured_records()
    assert records["incident"] == bench_world["incidents"][1]  # the most own citations
    assert records["claim"] == bench_world["claims"][-1]
    assert CaseLink.objects.filter(from_case=case).count() == len(pagedata.LINKED_CASES)
    assert IncidentLink.objects.filter(from_incident=records["incident"]).count() == 5
    # two captures of each of the incident's three own citations, four files each
    assert Capture.objects.filter(case=case, status=Capture.Status.DONE).count() == 6
    assert CaptureFile.objects.filter(capture__case=case).count() == 24
    assert CaptureFile.objects.get(evidence=records["evidence"]).role == "screenshot"
    deleted = deletion.recently_deleted(case)
    assert sorted(d.kind for d in deleted) == ["claim", "claim", "evidence", "incident",
                                               "source", "task"]
    assert Claim.objects.filter(case=case).count() == 5  # the deleted ones are gone
    edits = (Claim.history.filter(id=records["claim"].pk).values("history_type")
             .annotate(n=Count("history_id")).order_by("history_type"))
    assert {row["history_type"]: row["n"] for row in edits} == {
        "+": 1, "~": pagedata.EDITS["claim"]}

    client = TwoFactorClient()
    client.force_login(bench_world["chief"])
    urls, not_built = pages.page_urls(records)
    expected = pages._expected(records)
    shown = 0
    for page in pages.PAGES:
        if page.name in not_built:
            continue
        response = client.get(urls[page.name])
        assert response.status_code == 200, page.name
        for text in expected.get(page.shows, []):
            assert text in response.content.decode(), (page.name, text)
            shown += 1
    assert shown >= 10


def test_page_records_are_written_once(bench_world):
    pagedata.write_page_records(log=lambda *_: None)
    before = _counts(bench_world["case"])
    pagedata.write_page_records(log=lambda *_: None)
    assert _counts(bench_world["case"]) == before


def _run(queries: dict[str, int], not_built=()) -> dict:
    pages_ = {name: {"url": "/", "queries": n, "bytes": 2048, "links_to_claims": 0,
                     "p50": 10.0, "p95": 20.0, "sql": []} for name, n in queries.items()}
    pages_["stock admin claim changelist"]["p50"] = 100.0  # ours 10× faster
    return {"pages": pages_, "not_built": list(not_built), "django": "5.2", "pg_version": "15",
            "sizes": {"cases": 11, "incidents": 20, "claims": 100, "citations": 200,
                      "case_claims": 5, "case_incidents": 4}}


RUN_FINISHED = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)


def _report(big, small, previous):
    class Args:
        scale, seed, requests = 1.0, 1, 5
        wrk_seconds, wrk_connections = 1, 1

    host = {"cpu": "test", "cores": 2, "ram": "1 GiB", "kernel": "6", "load": "0.1",
            "python": "3.11", "wrk": "wrk"}
    return pagereport.write_report(Args, big, small, None, host, 60.0, previous,
                                   finished_at=RUN_FINISHED)


REFERENCE = {"stock admin claim changelist": 7, "floor: timeline": 3,
             "floor: claims board": 3, "bare floor: timeline": 1,
             "bare floor: claims board": 1, "trivial view": 2}
APP = {"case timeline": 3, "case timeline, after a change": 7, "claims board": 3,
       "claims board, after a change": 6, "admin claim changelist": 8, "claim history": 6}


def test_report_lists_pages_not_built_without_figures():
    big = _run({**APP, **REFERENCE}, not_built=["map data", "figures"])
    report, ok = _report(big, _run({**APP, **REFERENCE}), previous={})
    assert ok
    assert "| map data | not built yet | | | | | | |" in report
    assert "| figures: measured | not built yet | not judged |" in report
    assert f"| claim history: p95 ≤ {pagereport.TARGET_P95_MS} ms | 20.0 ms | pass |" in report


def test_report_fails_a_page_with_more_queries_than_the_previous_run():
    big = _run({**APP, **REFERENCE})
    report, ok = _report(big, _run({**APP, **REFERENCE}),
                         previous={"claim history": 5, "claims board": 4})
    assert not ok
    assert ("| claim history: no more queries than in the previous run | 6 vs 5 | **FAIL** |"
            in report)
    assert ("| claims board: no more queries than in the previous run | 3 vs 4 | pass |"
            in report)
    assert "| claim history | 6 | 6 | 5 |" in report


def test_report_fails_a_page_whose_queries_differ_at_a_tenth():
    report, ok = _report(_run({**APP, **REFERENCE}),
                         _run({**APP, **REFERENCE, "claim history": 7}), previous={})
    assert not ok
    assert "claim history issues 6 queries at scale 1 but 7 at 0.1" in report


def test_report_measures_the_machine_against_the_previous_run():
    big = _run({**APP, **REFERENCE})
    big["pages"]["trivial view"]["p50"] = 6.0
    previous = {name: {"queries": n, "p50": 2.0} for name, n in {**APP, **REFERENCE}.items()}
    report, ok = _report(big, _run({**APP, **REFERENCE}), previous=previous)
    assert ok
    assert ("p50 of what did not change: trivial view 6.0 ms against 2.0 (3.0×); stock admin "
            "claim changelist 100.0 ms against 2.0 (50.0×)") in report
    assert "| claim history | 6 | 6 | 6 |" in report


def test_report_judges_the_figures_after_a_change_by_their_p95():
    pages = {**APP, **REFERENCE, "figures": 8, "figures, after a change": 8}
    big = _run(pages)
    big["pages"]["figures, after a change"]["p95"] = 151.0
    report, ok = _report(big, _run(pages), previous={})
    assert not ok
    assert f"| figures: p95 ≤ {pagereport.TARGET_P95_MS} ms | 20.0 ms | pass |" in report
    assert (f"| figures, after a change: p95 ≤ {pagereport.TARGET_P95_MS} ms | 151.0 ms | "
            "**FAIL** |") in report


def test_report_written_again_keeps_the_runs_time(tmp_path):
    """`--report-only` writes the report again from a run's figures: it is dated by the run,
    not by when it was written again."""
    figures = _run({**APP, **REFERENCE})
    raw = {"big": figures, "small": _run({**APP, **REFERENCE}), "wrk": None,
           "machine": {"cpu": "test", "cores": 2, "ram": "1 GiB", "kernel": "6",
                       "load": "0.1", "python": "3.11", "wrk": "wrk"},
           "seconds": 120.0, "finished_at": RUN_FINISHED.isoformat(), "scale": 1.0, "seed": 1,
           "requests": 5, "wrk_seconds": 1, "wrk_connections": 1, "previous": {}}
    figures_file, report_file = tmp_path / "latest.json", tmp_path / "latest.md"
    figures_file.write_text(json.dumps(raw))

    pages.main(["--report-only", str(figures_file), "--output", str(report_file)])

    assert ("Generated by `make bench` (bench/pages.py) on 2026-03-04 05:06 UTC in 2 min."
            in report_file.read_text())
