"""bench/captures.py at a tiny size: the page it serves, the save it times (capture on queues
a capture and nothing more, capture off queues none), and the report's targets. The captures
themselves (Chromium, worker processes, PostgreSQL) are left to `make bench`."""

import re
from urllib.request import urlopen

import pytest
from django_tasks_db.models import DBTaskResult

from bench import captures as bench
from capture.models import Capture
from cases.models import Citation


@pytest.fixture(scope="module")
def site():
    return bench.article_site()


def test_article_site_is_a_full_page_of_about_300_kb(site):
    page = site["/article.html"][0].decode()
    assert 250_000 < sum(len(body) for body, _ in site.values()) < 400_000
    assets = set(re.findall(r'(?:src|href)="(/(?:static|media)/[^"]+)"', page))
    assert assets == {path for path in site if path != "/article.html"}
    assert "<title>Побег из воинской части" in page
    assert bench.article_site() == site  # the same bytes every run


def test_article_server_serves_each_citation_its_own_address(site):
    server = bench.ArticleServer(site)
    try:
        with urlopen(server.url(7)) as response:
            assert response.read() == site["/article.html"][0]
        with urlopen(f"{server.origin}/media/photo-2.jpg") as response:
            assert response.headers["Content-Type"] == "image/jpeg"
        assert server.url(7) != server.url(8) and server.served == 2
    finally:
        server.close()


@pytest.mark.django_db(transaction=True)
def test_save_timing_queues_only_with_capture_on(settings):
    settings.CAPTURE_ALLOWED_HOSTS = ["127.0.0.1"]
    world = bench.World(lambda n: f"http://127.0.0.1:9/news/{n}/article.html")
    saves = bench.time_saves(world, iterations=3, warmup=1)
    assert saves["on"]["n"] == saves["off"]["n"] == saves["hook_on"]["n"] == 3
    # 4 timed-or-warm-up saves each way, and one more each to count its queries.
    assert saves["saves_on"] == saves["queued_on"] == 5
    assert saves["captures_after_off"] == saves["done_by_save"] == 0
    assert saves["queries_on"] > saves["queries_off"]
    assert Citation.objects.filter(claim=world.claim).count() == 10
    assert Capture.objects.count() == DBTaskResult.objects.count() == 5

    assert bench.discard_queued() == 5
    assert not Capture.objects.exists() and not DBTaskResult.objects.exists()


def _figures(on_ms: float, off_ms: float, failures=()) -> dict:
    times = {"n": 10, "p50": on_ms, "p95": on_ms, "min": on_ms, "max": on_ms}
    off = {**times, "p50": off_ms}
    throughput = {"count": 2, "workers": 1, "failures": list(failures), "seconds": 20,
                  "per_minute": 6.0, "per_worker": [2],
                  "run": {"n": 2, "p50": 8, "p95": 9, "min": 8, "max": 9}}
    return {
        "saves": {"on": times, "off": off, "hook_on": times, "hook_off": off,
                  "queries_on": 20, "queries_off": 12, "sql_on": ["SELECT 1"], "saves_on": 11,
                  "queued_on": 11, "captures_after_off": 0, "done_by_save": 0},
        "discarded": 11, "warmup_failures": [],
        "latency": {"failures": [], "latency": times, "queue_wait": times, "run": times},
        "throughput_1": throughput, "throughput_2": {**throughput, "workers": 2},
        "loads": {"start": "1.0", "one worker": "1.0", "two workers": "1.0", "end": "1.0"},
        "worker_log_tail": "", "captures_done": 7, "captures_timestamped": 7,
        "pg_version": "17", "django": "5.2", "requests_served": 49,
    }


@pytest.mark.parametrize(("on_ms", "off_ms", "failures", "met"), [
    (15.0, 10.0, (), True),
    (25.0, 10.0, (), False),  # the save waits for more than queueing
    (60.0, 40.0, (), False),  # within 2×, but not under 50 ms
    (15.0, 10.0, ("browser_failed: Chromium did not start.",), False),
])
def test_report_fails_when_a_target_is_missed(site, on_ms, off_ms, failures, met):
    host = {"cpu": "test", "cores": 2, "ram": "1 GiB", "kernel": "6", "python": "3.11",
            "chromium": "Chromium", "openssl": "OpenSSL", "packages": {"playwright": "1"},
            "tsa": "none", "page": {path: len(body) for path, (body, _) in site.items()}}
    args = type("Args", (), {"database_url": "postgres://x/casedesk_capturebench"})
    report, ok = bench.write_report(args, _figures(on_ms, off_ms, failures), host, 60)
    assert ok is met
    assert ("**FAIL**" in report) is not met
    assert f"| capture on | 10 | {on_ms:.1f} |" in report
