"""What every page costs as the newsroom's data grows (issues 6, 12 and 15). Run by `make bench`.

    python bench/pages.py [--scale 1.0] [--database-url postgres://…/casedesk_pagebench]

1. Data (bench/pagedata.py): two PostgreSQL databases filled by bench/generate.py, one at
   `--scale` and one at a tenth of it (`<name>_tenth`), each with one more case holding
   exactly 1,000 claims (`bench-thousand-claims`) and, in it, the records the newer pages
   show (history, links, captures, recently deleted records).
2. Pages (`PAGES`), in-process with Django's test client, signed in as the chief editor (an
   editor of every case, second factor recorded in the session as allauth does): SQL
   queries per request and p50/p95 server time over `--requests` requests, taken
   round-robin across the pages so that a noisy neighbour hits them all alike. The same
   pages on the tenth-scale database must issue the same number of queries, and no more
   than in the previous run (`results/latest.json`, read before it is overwritten). A page
   whose URL name does not resolve yet is reported as not built, never measured.
3. Beside them, in the same run: the floor of the timeline and the claims board (one raw SQL
   query and a minimal template, bench/urls.py) and Django's stock admin changelist of
   claims (default settings).
4. Throughput: gunicorn (2 workers, DEBUG off, production settings) and wrk (20 s, 32
   connections) against the timeline and against a trivial view of the same app.
5. bench/results/latest.md (bench/pagereport.py): machine, versions, scale, every figure,
   the targets met or not; latest.json: the raw figures.

Production settings everywhere (config/production_env.py): DEBUG off, a random SECRET_KEY,
a freshly generated Fernet key, static files collected to a temporary folder. The generated
identities stay encrypted under the development key bench/generate.py wrote them with: no
measured page reads one. Plain HTTP on 127.0.0.1, so SECURE_SSL_REDIRECT is off for the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for p in (str(ROOT), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

from pagedata import CHIEF, dbname, prepare, with_dbname  # noqa: E402 (the path above)
from pagereport import redact, write_report  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/casedesk_pagebench"


# --------------------------------------------------------------------------------------------
# The pages measured


@dataclass(frozen=True)
class Page:
    """A page of the app measured in the case `bench-thousand-claims` (or across cases)."""

    name: str
    url_name: str
    #: the records (bench/pagedata.py `measured_records`) its URL names after the case's slug
    records: tuple[str, ...] = ()
    in_case: bool = True
    query: str = ""
    #: what the page must show of those records (see `_expected`): a page that does not is
    #: not measured on the data it was meant for, and the run stops
    shows: str = ""


PAGES = [
    Page("dashboard", "cases:dashboard", in_case=False),
    Page("case list", "cases:case_list", in_case=False),
    Page("case timeline", "cases:timeline"),
    Page("claims board", "cases:claims_board"),
    Page("claim page", "cases:claim_detail", ("claim",)),
    Page("search", "cases:search", in_case=False, query="q=military+court"),
    # Pages added since issue 6 (issue 12): what a record's page links to.
    Page("linked cases", "cases:case_links", shows="linked case"),
    Page("incident links", "cases:incident_links", ("incident",), shows="linked incident"),
    Page("claim history", "cases:claim_history", ("claim",), shows="claim edit"),
    Page("incident history", "cases:incident_history", ("incident",), shows="incident edit"),
    Page("source history", "cases:source_history", ("source",), shows="source edit"),
    Page("recently deleted", "cases:recently_deleted", shows="deleted"),
    Page("citation captures", "cases:citation_captures", ("citation",), shows="capture"),
    Page("incident captures", "cases:incident_captures", ("incident",), shows="capture"),
    Page("evidence detail", "cases:evidence_detail", ("evidence",), shows="custody"),
    # Issue 15: measured once their URL names resolve.
    Page("map", "cases:incident_map"),
    Page("map data", "cases:incident_map_data"),
    Page("visual timeline", "cases:visual_timeline"),
    Page("timeline data", "cases:timeline_data"),
    Page("figures", "cases:figure_list"),
    Page("figure data", "cases:figure_data"),
]
# The timeline and the board again, as the first view after a change to the case (see
# `measure`), and the pages they are measured against (bench/urls.py).
AFTER_A_CHANGE = {"case timeline, after a change": "case timeline",
                  "claims board, after a change": "claims board",
                  # cached per content version too (cases/fragments.py): judged by p95
                  "figures, after a change": "figures",
                  "figure data, after a change": "figure data"}
REFERENCE_PAGES = {
    "admin claim changelist": ("admin:cases_claim_changelist", ()),
    "stock admin claim changelist": ("stock_admin:cases_claim_changelist", ()),
    "floor: timeline": ("bench_floor_timeline", ("slug",)),
    "floor: claims board": ("bench_floor_claims", ("slug",)),
    "trivial view": ("bench_trivial", ()),
}


def _expected(records) -> dict[str, list[str]]:
    """Per `Page.shows`, texts the page must hold (escaped as a template writes them)."""
    from django.utils.html import escape
    from pagedata import EDITS, LINKED_CASES

    from cases.models import Case, IncidentLink

    link = IncidentLink.objects.filter(from_incident=records["incident"]).order_by("pk").first()
    return {
        "linked case": [escape(Case.objects.get(slug=LINKED_CASES[0]).title)],
        "linked incident": [escape(link.to_incident.title)] if link else ["(no link)"],
        "claim edit": [f"(update {EDITS['claim'] - 1})"],
        # an earlier value of each record: only its history still shows it
        "incident edit": [escape(records["incident"].place_name.rsplit(" (", 1)[0]
                                 + f" ({EDITS['incident'] - 1})")],
        "source edit": [f"Reassessed after report {EDITS['source'] - 1}."],
        "deleted": ["photo.jpg", "Unverified channel (duplicate)"],
        "capture": ["tsa.example"],
        "custody": ["Download 3."],
    }


def page_urls(records) -> tuple[dict[str, str], list[str]]:
    """{page name: URL} of the pages whose URL names resolve, and the names of those that do
    not resolve yet (NoReverseMatch: not built yet; reported as such, never measured)."""
    from django.urls import NoReverseMatch, reverse

    slug = records["case"].slug
    urls, missing = {}, []
    for page in PAGES:
        args = ([slug] if page.in_case else []) + [records[r].pk for r in page.records]
        try:
            urls[page.name] = reverse(page.url_name, args=args) + (
                f"?{page.query}" if page.query else "")
        except NoReverseMatch:
            missing.append(page.name)
    for name, (url_name, args) in REFERENCE_PAGES.items():
        urls[name] = reverse(url_name, args=[slug for _ in args])
    # The same pages as the first view after a change to the case (see `measure`).
    for name, page in AFTER_A_CHANGE.items():
        urls[name] = urls[page]
    return urls, missing


# --------------------------------------------------------------------------------------------
# In-process measurement (a subprocess per database: Django is set up once per process)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def measure(requests_per_page: int, out: Path) -> None:
    """Runs inside a process whose environment selects the database and the settings."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from pagedata import measured_records

    from bench import urls as bench_urls  # ROOT_URLCONF of this process
    from cases.models import Case, Citation, Claim, Incident
    from tests.clients import TwoFactorClient

    chief = get_user_model().objects.get(username=CHIEF)
    client = TwoFactorClient()
    client.force_login(chief)
    records = measured_records()
    # As a gunicorn worker does once it has loaded the app (gunicorn.conf.py).
    from config.gc_policy import settle_after_startup

    settle_after_startup()
    slug = records["case"].slug
    pages, not_built = page_urls(records)
    expected = _expected(records)
    shows = {page.name: page.shows for page in PAGES}

    # The timeline and the board as the first view after a change to the case: the case's
    # content version is raised before each request, as any edit does (cases/revisions.py),
    # so their cached parts are rendered afresh (cases/fragments.py).
    def case_changed():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE cases_case SET content_version = content_version + 1 "
                           "WHERE slug = %s", [slug])

    def get(name, url):
        if name in AFTER_A_CHANGE:
            case_changed()
        started = time.perf_counter()
        response = client.get(url)
        return response, (time.perf_counter() - started) * 1000

    results: dict[str, dict] = {}
    for name, url in pages.items():
        get(name, url)  # warm caches (templates, connections, PostgreSQL buffers)
        if name in AFTER_A_CHANGE:
            case_changed()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        body = response.content
        if response.status_code != 200:
            raise SystemExit(f"{name} ({url}) answered {response.status_code}")
        text = body.decode(errors="replace")
        absent = [t for t in expected.get(shows.get(name, ""), []) if t not in text]
        if absent:
            raise SystemExit(f"{name} ({url}) does not show {absent}: its records are "
                             "missing (bench/pagedata.py)")
        results[name] = {
            "url": url, "queries": len(captured), "bytes": len(body),
            "links_to_claims": len(re.findall(rb'href="/cases/[^"]+/claims/\d+/"', body)),
            "sql": [q["sql"][:300] for q in captured.captured_queries],
            "times_ms": [],
        }
    # The pages as served first, then the pages after a change (whose changes would make every
    # page of the first group a first view after a change too).
    served = {name: url for name, url in pages.items() if name not in AFTER_A_CHANGE}
    changed = {name: url for name, url in pages.items() if name in AFTER_A_CHANGE}
    for group in (served, changed):
        for _ in range(2):  # second warm-up round
            for name, url in group.items():
                get(name, url)
        for _ in range(requests_per_page):
            for name, url in group.items():
                results[name]["times_ms"].append(get(name, url)[1])

    # The floor outside any request: the raw query and the minimal template alone.
    for kind, name in (("timeline", "bare floor: timeline"),
                       ("claims", "bare floor: claims board")):
        times = []
        for _ in range(requests_per_page):
            started = time.perf_counter()
            bench_urls.render_floor(kind, bench_urls.floor_rows(kind, chief.pk, slug), slug)
            times.append((time.perf_counter() - started) * 1000)
        results[name] = {"url": "(no request)", "queries": 1, "bytes": 0, "links_to_claims": 0,
                         "sql": [], "times_ms": times}

    for r in results.values():
        r["p50"] = percentile(r["times_ms"], 0.5)
        r["p95"] = percentile(r["times_ms"], 0.95)

    case = records["case"]
    sizes = {
        "cases": Case.objects.count(),
        "incidents": Incident.objects.count(),
        "claims": Claim.objects.count(),
        "citations": Citation.objects.count(),
        "case_claims": Claim.objects.filter(case=case).count(),
        "case_incidents": Incident.objects.filter(case=case).count(),
        "case_located": Incident.objects.filter(case=case, latitude__isnull=False).count(),
        "case_figures": Claim.objects.filter(case=case, figure_value__isnull=False).count(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    # A session for wrk: the chief, signed in with the second factor recorded.
    wrk_client = TwoFactorClient()
    wrk_client.force_login(chief)
    from django.conf import settings

    out.write_text(json.dumps({
        "pages": results, "not_built": not_built, "sizes": sizes, "pg_version": pg_version,
        "django": django.get_version(),
        "records": {kind: record.pk for kind, record in records.items() if record is not None},
        "session_cookie": f"{settings.SESSION_COOKIE_NAME}="
                          f"{wrk_client.cookies[settings.SESSION_COOKIE_NAME].value}",
    }, indent=1))


# --------------------------------------------------------------------------------------------
# Orchestration


def production_env(tmp: Path, database_url: str) -> dict[str, str]:
    from config.production_env import throwaway_production_env

    settings_module = tmp / "bench_settings.py"
    settings_module.write_text(
        "from config.settings import *  # noqa: F401,F403\n"
        "ROOT_URLCONF = 'bench.urls'  # bench/urls.py: the app plus the benchmark's views\n"
        "LOGGING = {'version': 1, 'disable_existing_loggers': False,\n"
        "           'root': {'handlers': [], 'level': 'WARNING'}}\n")
    return throwaway_production_env(
        database_url=database_url,
        static_root=tmp / "static",
        settings_module="bench_settings",
        hosts=("127.0.0.1", "localhost", "testserver"),  # testserver: Django's test client
        # Production keeps the cache in Redis (config/settings.py, CACHE_URL), shared by the
        # workers; the benchmark does too when a Redis answers, with a database of its own.
        cache_url=BENCH_CACHE_URL if _emptied_redis(BENCH_CACHE_URL) else None,
        PYTHONPATH=os.pathsep.join([str(tmp), str(BENCH), str(ROOT)]),
        # Plain HTTP on 127.0.0.1: gunicorn serves no TLS here (a reverse proxy's job).
        SECURE_SSL_REDIRECT="false",
        ACCOUNT_EMAIL_NOTIFICATIONS="false",
    )


BENCH_CACHE_URL = os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/9")


def _emptied_redis(url: str) -> bool:
    """Empties the Redis database at `url` for the run; False when no Redis answers there."""
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.flushdb()
        return True
    except Exception:  # no Redis here: the cache is each process's memory
        return False


def run_measure(env, requests_per_page: int, out: Path) -> dict:
    subprocess.run([sys.executable, str(Path(__file__)), "--measure", str(out),
                    "--requests", str(requests_per_page)], check=True, cwd=ROOT, env=env)
    return json.loads(out.read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WRK_SCRIPT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) responses = 0; non2xx = 0 end
function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local n, bad = 0, 0
  for _, t in ipairs(threads) do n = n + t:get("responses"); bad = bad + t:get("non2xx") end
  io.write(string.format("BENCH responses=%d non2xx=%d errors=%d\n", n, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
  io.write(string.format("BENCH rps=%.1f\n", summary.requests / (summary.duration / 1e6)))
  for _, p in ipairs({50, 90, 99}) do
    io.write(string.format("BENCH p%d=%.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("BENCH max=%.2f\n", latency.max / 1000))
end
"""


def run_wrk(env, tmp: Path, cookie: str, targets: dict[str, str], seconds: int,
            connections: int, log=print) -> dict:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    script = tmp / "count.lua"
    script.write_text(WRK_SCRIPT)
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
         "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, env={**env, "WEB_CONCURRENCY": "2"}, start_new_session=True)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        results = {}
        for name, path in targets.items():
            url = f"http://127.0.0.1:{port}{path}"
            # warm both workers (connections, templates) before counting
            subprocess.run([wrk, "-t2", "-c4", "-d2s", "-H", f"Cookie: {cookie}", url],
                           check=True, capture_output=True)
            log(f"wrk {name}: {seconds} s, {connections} connections…")
            done = subprocess.run(
                # a 10 s timeout (wrk's default is 2 s): a slow answer is a latency, not lost
                [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                 "--latency", "-s",
                 str(script), "-H", f"Cookie: {cookie}", url],
                check=True, capture_output=True, text=True)
            figures = {}
            for line in done.stdout.splitlines():
                if line.startswith("BENCH "):
                    figures.update(re.findall(r"(\w+)=([\d.]+)", line))
            results[name] = {k: float(v) for k, v in figures.items()}
            results[name]["path"] = path
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    load = os.getloadavg()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(
        "\n")[0] if shutil.which("wrk") else "missing"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "python": platform.python_version(),
            "load": f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}", "wrk": wrk_version,
            "kernel": platform.release()}


def previous_run(path: Path) -> dict[str, dict]:
    """{page: {queries, p50}} of the run whose raw figures are at `path` (empty when none
    is)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: {"queries": page["queries"], "p50": page["p50"]}
            for name, page in raw["big"]["pages"].items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_PAGES_DATABASE_URL",
                                                                 DEFAULT_DATABASE_URL))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--small-requests", type=int, default=10,
                        help="timed requests per page at a tenth of the scale")
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--skip-wrk", action="store_true")
    parser.add_argument("--output", default=str(BENCH / "results" / "latest.md"))
    parser.add_argument("--report-only", metavar="JSON",
                        help="write the report again from a run's raw figures (latest.json)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one database
    args = parser.parse_args(argv)

    if args.measure:
        measure(args.requests, Path(args.measure))
        return 0
    if args.report_only:
        raw = json.loads(Path(args.report_only).read_text())
        for key in ("scale", "seed", "requests", "wrk_seconds", "wrk_connections"):
            setattr(args, key, raw[key])
        # None for a run recorded before its figures kept its time.
        finished_at = (dt.datetime.fromisoformat(raw["finished_at"]) if "finished_at" in raw
                       else None)
        report, ok = write_report(args, raw["big"], raw["small"], raw["wrk"], raw["machine"],
                                  raw["seconds"], raw.get("previous"), finished_at=finished_at)
        Path(args.output).write_text(report)
        print(report)
        return 0 if ok else 1

    started = time.perf_counter()
    load_at_start = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    big_url = args.database_url
    small_url = with_dbname(big_url, dbname(big_url) + "_tenth")
    prepare(big_url, args.scale, args.seed)
    prepare(small_url, args.scale / 10, args.seed)

    with tempfile.TemporaryDirectory(prefix="casedesk-bench-") as tmpdir:
        tmp = Path(tmpdir)
        env = production_env(tmp, big_url)
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput",
                        "-v0"], check=True, cwd=ROOT, env=env)
        print(f"measuring pages at scale {args.scale:g} ({args.requests} requests each)…")
        big = run_measure(env, args.requests, tmp / "big.json")
        print(f"measuring pages at scale {args.scale / 10:g}…")
        if "CACHE_URL" in env:
            _emptied_redis(BENCH_CACHE_URL)  # nothing rendered from the other database
        small = run_measure({**env, "DATABASE_URL": small_url}, args.small_requests,
                            tmp / "small.json")
        wrk = None
        if not args.skip_wrk:
            wrk = run_wrk(env, tmp, big["session_cookie"], {
                "case timeline": big["pages"]["case timeline"]["url"],
                "trivial view": big["pages"]["trivial view"]["url"],
            }, args.wrk_seconds, args.wrk_connections)

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    previous = previous_run(output.with_suffix(".json"))
    # The raw figures, so that the report can be written again without measuring again.
    host = {**machine(), "load_start": load_at_start,
            "cache": f"Redis ({BENCH_CACHE_URL})" if "CACHE_URL" in env
            else "each process's local memory (no Redis answered)"}
    raw = {"big": big, "small": small, "wrk": wrk, "machine": host,
           "seconds": time.perf_counter() - started,
           "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
           "scale": args.scale, "seed": args.seed,
           "requests": args.requests, "wrk_seconds": args.wrk_seconds,
           "wrk_connections": args.wrk_connections, "previous": previous}
    for run in (big, small):
        run.pop("session_cookie", None)  # a live session: never written down
        for page in run["pages"].values():
            page["sql"] = [redact(sql) for sql in page["sql"]]
    output.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    report, ok = write_report(args, big, small, wrk, raw["machine"], raw["seconds"], previous,
                              finished_at=dt.datetime.fromisoformat(raw["finished_at"]))
    output.write_text(report)
    print(report)
    print(f"written to {output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
