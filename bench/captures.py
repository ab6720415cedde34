"""What capturing cited pages costs (issue 13). Run by `make bench`, after bench/pages.py.

    python bench/captures.py [--database-url postgres://…/casedesk_capturebench]
                            [--saves 300] [--latency 10] [--throughput 16]

1. A PostgreSQL database made anew and migrated (BENCH_CAPTURE_DATABASE_URL, default
   `casedesk_capturebench`: dropped first), holding one case with a reporter, a claim and a
   source. Production settings (config/production_env.py), evidence stored in a temporary
   folder.
2. A news article served from 127.0.0.1 by this process (HTML, a stylesheet, a script and
   four JPEG photos, about 300 KB), which CAPTURE_ALLOWED_HOSTS lets the capture reach; every
   citation cites its own address on it. The timestamps come from the test Time-Stamp
   Authority (tests/tsa.py: OpenSSL's `ts -reply` on 127.0.0.1), or none when no `openssl`
   command is found (the report says which).
3. Measured:
   - the citation save's own time with CAPTURE_ON_SAVE on and off, alternating in one run,
     no worker running: the model's checks (full_clean), the save, and the capture hook
     (capture.tasks.capture_saved_citation) when the save commits, as the forms, the admin
     and the API save a citation (`save_citation` below). With capture on it only queues;
   - with one worker (`manage.py worker`, a separate process, as production runs it): the
     time from a citation's save to its capture done, one citation at a time;
   - throughput: captures queued together, the time until all are done, with one worker and
     with two, in captures per minute.
4. bench/results/captures.md: machine, load average, versions, every figure, targets met or
   not. Exits 1 when a target is missed (the save with capture on more than twice the save
   without, or not under 50 ms at the median; a capture that failed).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import http.server
import io
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# bench/ modules are imported as `bench.…`, as the tests import this one: the project's root
# goes on the path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/casedesk_capturebench"
REPORTER = "bench_capture_reporter"

# Targets (issue 13): the save never waits for the capture.
TARGET_SAVE_RATIO = 2.0
TARGET_SAVE_ON_P50_MS = 50.0


# --------------------------------------------------------------------------------------------
# The cited page


def article_site(seed: int = 13) -> dict[str, tuple[bytes, str]]:
    """A news article as a regional outlet serves it, by path: the page (navigation, the
    article, related links, comments, footer), its stylesheet and script, and four photos.
    Deterministic: the same bytes for the same seed."""
    from bench.generate import TOWNS, TextMaker

    rng = random.Random(seed)
    text = TextMaker(random.Random(seed + 1))
    photos = {f"/media/photo-{n}.jpg": (_photo(rng, n), "image/jpeg") for n in range(1, 5)}
    nav = "\n".join(f'<li><a href="/news/{slug}/">{name}</a></li>' for slug, name in (
        ("city", "Город"), ("incidents", "Происшествия"), ("army", "Армия"),
        ("courts", "Суды"), ("economy", "Экономика"), ("sport", "Спорт"),
        ("culture", "Культура"), ("opinions", "Мнения"), ("photo", "Фото"),
        ("video", "Видео"), ("archive", "Архив")))
    paragraphs = []
    for n in range(60):
        paragraphs.append(f"<p>{text.sentence(True, '161.ru')} {text.sentence(True, 'ТАСС')} "
                          f"{text.sentence(True, 'Медиазона')}</p>")
        if n in (8, 22, 38, 50):
            k = (8, 22, 38, 50).index(n) + 1
            paragraphs.append(
                f'<figure><img src="/media/photo-{k}.jpg" width="960" height="540" '
                f'alt="{text.title(True)}" loading="eager"><figcaption>'
                f"{text.sentence(True, '161.ru')}</figcaption></figure>")
        if n in (15, 44):
            paragraphs.append(f"<blockquote>{text.sentence(True, 'Telegram')}</blockquote>")
    related = "\n".join(
        f'<li><a href="/news/{70000 + n}/"><span class="tag">{rng.choice(TOWNS)}</span>'
        f"{text.title(True)}</a><time>{rng.randint(1, 28)}.0{rng.randint(1, 9)}.2025</time>"
        f"</li>" for n in range(40))
    comments = "\n".join(
        f'<article class="comment"><header><b>user{rng.randint(1000, 99999)}</b> '
        f"<time>{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}</time></header>"
        f"<p>{text.sentence(True, 'читатель')}</p></article>" for _ in range(50))
    page = f"""<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Побег из воинской части под Ростовом: что известно к утру</title>
<meta name="description" content="{text.sentence(True, '161.ru')}">
<meta property="og:image" content="/media/photo-1.jpg">
<link rel="stylesheet" href="/static/site.css">
<script src="/static/site.js" defer></script>
</head>
<body>
<header class="masthead"><a class="logo" href="/">161.ru</a><nav><ul>{nav}</ul></nav>
<form class="search" action="/search"><input name="q" placeholder="Поиск"></form></header>
<main>
<article class="story">
<p class="kicker">Происшествия</p>
<h1>Побег из воинской части под Ростовом: что известно к утру</h1>
<p class="lede">{text.sentence(True, '161.ru')}</p>
<p class="byline">Текст: <a href="/authors/12/">Анна Кравцова</a> ·
<time datetime="2025-05-13T06:40:00+03:00">13 мая 2025, 06:40</time> ·
<span id="reading-time"></span></p>
{chr(10).join(paragraphs)}
</article>
<aside class="related"><h2>Читайте также</h2><ol>{related}</ol></aside>
<section class="comments"><h2>Комментарии</h2>{comments}</section>
</main>
<footer class="site-footer"><p>© 2025 161.ru. Сетевое издание. 18+</p>
<p>{text.sentence(True, 'редакция')}</p></footer>
</body>
</html>
""".encode()
    return {"/article.html": (page, "text/html; charset=utf-8"),
            "/static/site.css": (_stylesheet(rng), "text/css; charset=utf-8"),
            "/static/site.js": (_script(rng), "text/javascript; charset=utf-8"),
            **photos}


def _photo(rng: random.Random, n: int) -> bytes:
    """A 960×540 JPEG of about 50 KB: a landscape-like gradient with grain, so that it
    compresses as a photograph does rather than as a flat colour."""
    from PIL import Image, ImageDraw, ImageFilter

    image = Image.new("RGB", (960, 540))
    draw = ImageDraw.Draw(image)
    sky, ground = rng.randint(90, 200), rng.randint(40, 120)
    for y in range(540):
        t = y / 540
        draw.line([(0, y), (960, y)], fill=(int(sky * (1 - t) + ground * t),
                                            int(150 * (1 - t) + 90 * t), int(220 * (1 - t))))
    for _ in range(40):
        x, y, r = rng.randint(0, 960), rng.randint(200, 540), rng.randint(10, 90)
        draw.ellipse([x - r, y - r // 2, x + r, y + r // 2],
                     fill=(rng.randint(20, 90), rng.randint(40, 110), rng.randint(10, 60)))
    grain = Image.frombytes("L", (960, 540), rng.randbytes(960 * 540)).convert("RGB")
    image = Image.blend(image.filter(ImageFilter.GaussianBlur(2)), grain, 0.06)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=68 + n)
    return out.getvalue()


def _stylesheet(rng: random.Random) -> bytes:
    rules = [
        "*,*::before,*::after{box-sizing:border-box}",
        "body{margin:0;font:17px/1.6 Georgia,serif;color:#1b1b1b;background:#fff}",
        ".masthead{display:flex;gap:24px;align-items:center;padding:12px 32px;"
        "background:#0b3d91;color:#fff}",
        ".masthead a{color:#fff;text-decoration:none}.logo{font:700 28px/1 sans-serif}",
        "nav ul{display:flex;gap:16px;list-style:none;margin:0;padding:0}",
        "main{display:grid;grid-template-columns:minmax(0,720px) 300px;gap:48px;"
        "max-width:1100px;margin:32px auto;padding:0 16px}",
        ".story h1{font:700 40px/1.15 sans-serif;margin:8px 0 16px}",
        ".kicker{text-transform:uppercase;color:#c00;font:700 13px sans-serif}",
        ".lede{font-size:21px;color:#333}.byline{color:#666;font:14px sans-serif}",
        "figure{margin:24px 0}figure img{width:100%;height:auto;display:block}",
        "figcaption{color:#666;font:13px/1.4 sans-serif;margin-top:6px}",
        "blockquote{border-left:4px solid #0b3d91;margin:24px 0;padding:4px 20px;"
        "font-style:italic}",
        ".related ol{padding-left:18px;font:15px/1.4 sans-serif}.related li{margin:10px 0}",
        ".tag{display:inline-block;background:#eef;color:#0b3d91;padding:0 6px;"
        "margin-right:6px;border-radius:3px;font-size:12px}",
        ".comments{grid-column:1;border-top:1px solid #ddd}.comment{margin:16px 0}",
        ".site-footer{background:#222;color:#bbb;padding:24px 32px;font:13px sans-serif}",
        "@media (max-width:900px){main{grid-template-columns:1fr}.related{order:2}}",
    ]
    # A theme's worth of utility classes, as a site's build produces.
    for n in range(260):
        rules.append(f".u-{n:03d}{{margin:{rng.randint(0, 48)}px {rng.randint(0, 48)}px;"
                     f"color:#{rng.randrange(0x1000000):06x};"
                     f"border-radius:{rng.randint(0, 12)}px}}")
    return "\n".join(rules).encode()


def _script(rng: random.Random) -> bytes:
    """The page's script: it runs at load (reading time, a counter of comments, the related
    list made interactive), and carries a bundle's worth of data and code."""
    lines = [
        "(function () {",
        "  'use strict';",
        "  function words(node) { return (node.textContent || '').split(/\\s+/).length; }",
        "  document.addEventListener('DOMContentLoaded', function () {",
        "    var story = document.querySelector('.story');",
        "    var minutes = Math.max(1, Math.round(words(story) / 180));",
        "    document.getElementById('reading-time').textContent = minutes + ' мин. чтения';",
        "    var heading = document.querySelector('.comments h2');",
        "    heading.textContent += ' (' + document.querySelectorAll('.comment').length + ')';",
        "    document.querySelectorAll('.related li').forEach(function (item, n) {",
        "      item.dataset.position = String(n + 1);",
        "    });",
        "  });",
    ]
    # A bundled dictionary and helpers, as a site's analytics and widgets bring.
    for n in range(340):
        key = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
        lines.append(f"  var w{n} = {{id: {rng.randint(1, 10**6)}, key: '{key}', "
                     f"weight: {rng.random():.6f}, f: function (x) {{ return x * {n} + "
                     f"{rng.randint(1, 99)}; }}}};")
    lines.append("})();")
    return "\n".join(lines).encode()


class ArticleServer:
    """Serves `article_site()` from a thread on 127.0.0.1: /news/<n>/article.html is the
    article for citation n (so each citation cites its own address), the rest as named."""

    def __init__(self, site: dict[str, tuple[bytes, str]]):
        handler = functools.partial(_ArticleHandler, site)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.served = 0
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def served(self) -> int:
        return self._server.served

    def url(self, n: int) -> str:
        return f"{self.origin}/news/{n}/article.html"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ArticleHandler(http.server.BaseHTTPRequestHandler):
    server_version = "nginx"
    protocol_version = "HTTP/1.1"

    def __init__(self, site, *args, **kwargs):
        self.site = site
        super().__init__(*args, **kwargs)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if re.fullmatch(r"/news/\d+/article\.html", path):
            path = "/article.html"
        if path not in self.site:
            body, content_type, status = b"Not found", "text/plain", 404
        else:
            (body, content_type), status = self.site[path], 200
        self.server.served += 1
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "public, max-age=300")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# --------------------------------------------------------------------------------------------
# Measurement (inside Django, on the database the settings name)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "min": min(values), "max": max(values)}


def save_citation(citation, user, hook_ms: list[float] | None = None):
    """Save `citation` as the forms, the admin and the API do: the model's checks and the
    save, and capture.tasks.citations_saved in the same transaction, which queues the
    capture once the save commits. `hook_ms` collects the hook's own time after the commit
    (between two markers queued to run just before and just after it)."""
    from django.db import transaction

    from capture.tasks import citations_saved

    marks = []
    with transaction.atomic():
        citation.full_clean()
        citation.save()
        transaction.on_commit(lambda: marks.append(time.perf_counter()))
        citations_saved([citation], user)
        transaction.on_commit(lambda: marks.append(time.perf_counter()))
    if hook_ms is not None:
        hook_ms.append((marks[1] - marks[0]) * 1000)
    return citation


class World:
    """The case, its reporter, a claim and a source; new citations of the served article."""

    def __init__(self, url_of):
        from django.contrib.auth import get_user_model

        from cases.enums import Role
        from cases.models import Case, Claim, Membership, Source

        self.url_of = url_of
        self.reporter = get_user_model().objects.create_user(
            REPORTER, f"{REPORTER}@newsroom.example", password=None)
        self.case = Case.objects.create(title="Desertions from the Rostov training ground",
                                        created_by=self.reporter)
        Membership.objects.create(case=self.case, user=self.reporter, role=Role.REPORTER)
        self.claim = Claim.objects.create(
            case=self.case, created_by=self.reporter,
            statement="Eleven conscripts left the training ground on the night of 12 May.")
        self.source = Source.objects.create(case=self.case, name="161.ru", kind="outlet",
                                            created_by=self.reporter)
        self.made = 0

    def citation(self):
        """A new, unsaved citation of the claim, citing its own address."""
        from cases.models import Citation

        self.made += 1
        return Citation(claim=self.claim, source=self.source, created_by=self.reporter,
                        quote="Одиннадцать срочников покинули полигон в ночь на 12 мая.",
                        url=self.url_of(self.made), language="ru")

    def save(self, hook_ms=None):
        return save_citation(self.citation(), self.reporter, hook_ms)


def time_saves(world: World, iterations: int, warmup: int = 20) -> dict:
    """The save with CAPTURE_ON_SAVE on and off, alternating (which goes first alternates
    too), so that the machine's load falls on both alike."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from capture.models import Capture

    times = {True: [], False: []}
    hook_ms = {True: [], False: []}
    queries = {}
    saved = {True: [], False: []}
    try:
        for n in range(warmup + iterations):
            for on in ((True, False) if n % 2 else (False, True)):
                settings.CAPTURE_ON_SAVE = on
                started = time.perf_counter()
                citation = world.save(hook_ms[on] if n >= warmup else None)
                elapsed = (time.perf_counter() - started) * 1000
                saved[on].append(citation.pk)
                if n >= warmup:
                    times[on].append(elapsed)
        for on in (True, False):
            settings.CAPTURE_ON_SAVE = on
            with CaptureQueriesContext(connection) as captured:
                citation = world.save()
            queries[on] = [q["sql"] for q in captured.captured_queries]
            saved[on].append(citation.pk)
    finally:
        settings.CAPTURE_ON_SAVE = True
    queued = Capture.objects.filter(citation_id__in=saved[True])
    return {
        "on": summary(times[True]), "off": summary(times[False]),
        "hook_on": summary(hook_ms[True]), "hook_off": summary(hook_ms[False]),
        "queries_on": len(queries[True]), "queries_off": len(queries[False]),
        "sql_on": queries[True],
        "saves_on": len(saved[True]),
        "queued_on": queued.filter(status=Capture.Status.QUEUED).exclude(task_id="").count(),
        "captures_after_off": Capture.objects.filter(citation_id__in=saved[False]).count(),
        "done_by_save": queued.exclude(status=Capture.Status.QUEUED).count(),
    }


def discard_queued() -> int:
    """Remove the captures queued by the save timing, and their tasks: no worker ran them,
    and the next measurements start from an empty queue. The captures in plain SQL: nothing
    refers to a capture that never ran, and the ORM's cascade would visit every table that
    may."""
    from django.db import connection, transaction
    from django_tasks_db.models import DBTaskResult

    from capture.models import Capture

    queued = Capture.objects.filter(status=Capture.Status.QUEUED)
    with transaction.atomic():
        DBTaskResult.objects.filter(
            pk__in=list(queued.exclude(task_id="").values_list("task_id", flat=True))).delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Capture._meta.db_table} WHERE status = %s",
                           [Capture.Status.QUEUED])
            return cursor.rowcount


class Workers:
    """`manage.py worker` processes, as production starts them (no option), each in its own
    process group, logging to a file."""

    def __init__(self, count: int, log_dir: Path):
        self.processes = []
        self.logs = []
        for n in range(count):
            log = log_dir / f"worker-{count}-{n + 1}.log"
            self.logs.append(log)
            with log.open("a") as output:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "manage.py", "worker"], cwd=ROOT, env=dict(os.environ),
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                    start_new_session=True))

    def check(self) -> None:
        if any(p.poll() is not None for p in self.processes):
            self.stop()
            raise SystemExit(f"A worker stopped during the run.\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:])
                         for log in self.logs)

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def wait_done(capture_ids: list[int], workers: Workers, timeout: float,
              every: float = 0.1) -> dict:
    """Waits until every capture is done or has failed (a failure is not waited on for its
    retry); returns {pk: (status, finished_at, started_at, worker, failure)}. Stops the run
    when a worker has stopped."""
    from capture.models import Capture

    deadline = time.monotonic() + timeout
    while True:
        workers.check()
        rows = {pk: (status, finished, started, worker, f"{code}: {reason}" if code else "")
                for pk, status, finished, started, worker, code, reason in
                Capture.objects.filter(pk__in=capture_ids).values_list(
                    "pk", "status", "finished_at", "started_at", "worker", "failure_code",
                    "failure_reason")}
        if all(row[0] in ("done", "failed") for row in rows.values()):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(every)


def _capture_of(citation):
    from capture.models import Capture

    return Capture.objects.filter(citation=citation).values_list("pk", flat=True).first()


def warm_up(world: World, workers: Workers, timeout: float) -> list:
    """One capture per worker, waited for: each worker has started, and Chromium's files are
    in the page cache, before anything is timed."""
    ids = [_capture_of(world.save()) for _ in workers.processes]
    rows = wait_done(ids, workers, timeout)
    return [row[4] for row in rows.values() if row[0] != "done"]


def time_latency(world: World, count: int, workers: Workers, timeout: float) -> dict:
    """One citation at a time: from the start of its save to its capture seen done."""
    latencies, queue_waits, runs, failures = [], [], [], []
    for _ in range(count):
        started = time.perf_counter()
        citation = world.save()
        capture_id = _capture_of(citation)
        saved_wall = time.time()
        [(status, finished, began, _worker, failure)] = wait_done(
            [capture_id], workers, timeout, every=0.02).values()
        seen = time.perf_counter()
        if status != "done":
            failures.append(failure or status)
            continue
        latencies.append(seen - started)
        queue_waits.append(began.timestamp() - saved_wall)
        runs.append((finished - began).total_seconds())
    result = {"failures": failures}
    if latencies:
        result.update({"latency": summary(latencies), "queue_wait": summary(queue_waits),
                       "run": summary(runs)})
    return result


def time_throughput(world: World, count: int, workers: Workers, timeout: float) -> dict:
    """`count` captures queued together (citations saved one after another, as a desk
    saving a claim's citations does): the time from the first save to the last capture
    done."""
    started_wall = time.time()
    ids = [_capture_of(world.save()) for _ in range(count)]
    queued_seconds = time.time() - started_wall
    rows = wait_done(ids, workers, timeout)
    done = [row for row in rows.values() if row[0] == "done"]
    failures = [row[4] or row[0] for row in rows.values() if row[0] != "done"]
    result = {"count": count, "workers": len(workers.processes), "failures": failures,
              "queued_seconds": queued_seconds}
    if done:
        last = max(row[1] for row in done).timestamp()
        elapsed = last - started_wall
        per_worker = {}
        for row in done:
            per_worker[row[3]] = per_worker.get(row[3], 0) + 1
        result.update({"seconds": elapsed, "per_minute": len(done) / elapsed * 60,
                       "per_worker": sorted(per_worker.values(), reverse=True),
                       "run": summary([(r[1] - r[2]).total_seconds() for r in done])})
    return result


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def measure(args, server: ArticleServer, log_dir: Path, log=print) -> dict:
    import django

    django.setup()
    from django.db import connection

    world = World(server.url)
    figures = {"loads": {"start": load()}}
    log(f"saves: {args.saves} with capture on and {args.saves} off, alternating…")
    figures["saves"] = time_saves(world, args.saves)
    figures["discarded"] = discard_queued()
    timeout = args.capture_timeout

    figures["loads"]["one worker"] = load()
    log("one worker: warming up…")
    workers = Workers(1, log_dir)
    try:
        figures["warmup_failures"] = warm_up(world, workers, timeout)
        log(f"one worker: {args.latency} citations, save to capture done, one at a time…")
        figures["latency"] = time_latency(world, args.latency, workers, timeout)
        log(f"one worker: {args.throughput} captures queued together…")
        figures["throughput_1"] = time_throughput(world, args.throughput, workers,
                                                  timeout * args.throughput)
    finally:
        workers.stop()
    tails = [workers.tail()]
    figures["loads"]["two workers"] = load()
    log("two workers: warming up…")
    workers = Workers(2, log_dir)
    try:
        figures["warmup_failures"] += warm_up(world, workers, timeout)
        log(f"two workers: {args.throughput} captures queued together…")
        figures["throughput_2"] = time_throughput(world, args.throughput, workers,
                                                  timeout * args.throughput)
    finally:
        workers.stop()
    figures["loads"]["end"] = load()
    figures["worker_log_tail"] = "\n".join(tails + [workers.tail()])

    from capture.models import Capture

    done = Capture.objects.filter(status=Capture.Status.DONE)
    figures["captures_done"] = done.count()
    figures["captures_timestamped"] = done.exclude(verified_at=None).count()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        figures["pg_version"] = cursor.fetchone()[0]
    figures["django"] = django.get_version()
    figures["requests_served"] = server.served
    return figures


# --------------------------------------------------------------------------------------------
# Orchestration


def fresh_database(database_url: str) -> None:
    """Drop the database named in the URL if it exists, and create it empty."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(database_url)
    name = params.get("dbname")
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}),
                         autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def production_env(tmp: Path, database_url: str, tsa) -> dict[str, str]:
    from config.production_env import throwaway_production_env

    settings_module = tmp / "bench_capture_settings.py"
    settings_module.write_text(
        "from config.settings import *  # noqa: F401,F403\n"
        "LOGGING = {'version': 1, 'disable_existing_loggers': False,\n"
        "           'handlers': {'console': {'class': 'logging.StreamHandler'}},\n"
        "           'root': {'handlers': ['console'], 'level': 'WARNING'}}\n")
    capture = {"CAPTURE_ALLOWED_HOSTS": "127.0.0.1", "CAPTURE_ON_SAVE": "true"}
    if tsa is not None:
        capture.update(CAPTURE_TSA_URL=tsa.url, CAPTURE_TSA_CA_FILE=tsa.ca_file)
    else:
        capture.update(CAPTURE_TSA_URL="")
    return throwaway_production_env(
        database_url=database_url,
        static_root=tmp / "static",
        evidence_root=tmp / "evidence",
        settings_module="bench_capture_settings",
        PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT)]),
        SECURE_SSL_REDIRECT="false",
        **capture,
    )


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "missing"


def machine(chromium: str) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    ram = "unknown"
    with contextlib.suppress(OSError, AttributeError):
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kb / 1024 / 1024:.0f} GiB"
    host = {"cpu": cpu, "cores": os.cpu_count(), "ram": ram, "kernel": platform.release()}
    versions = {name: metadata.version(name) for name in (
        "playwright", "django-tasks", "django-tasks-db", "warcio", "wacz", "rfc3161-client")}
    host.update(chromium=_version([chromium, "--version"]),
                openssl=_version(["openssl", "version"]), packages=versions,
                python=platform.python_version())
    return host


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_CAPTURE_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--saves", type=int, default=300,
                        help="timed saves with capture on, and as many off")
    parser.add_argument("--latency", type=int, default=10,
                        help="citations whose save-to-capture time is measured")
    parser.add_argument("--throughput", type=int, default=16,
                        help="captures queued together, for one worker and for two")
    parser.add_argument("--capture-timeout", type=float, default=180,
                        help="seconds to wait for one capture before calling it lost")
    parser.add_argument("--no-tsa", action="store_true", help="capture without a timestamp")
    parser.add_argument("--output", default=str(BENCH / "results" / "captures.md"))
    args = parser.parse_args(argv)

    chromium = os.environ.get("CAPTURE_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        print(f"No Chromium at {chromium}: install Debian's chromium package (a worker "
              "captures with it).", file=sys.stderr)
        return 1
    started = time.perf_counter()
    print(f"{args.database_url.rsplit('/', 1)[-1]}: made anew and migrated…")
    fresh_database(args.database_url)
    site = article_site()
    tsa = None
    if not args.no_tsa and shutil.which("openssl"):
        from tests.tsa import TestTSA

        tsa = TestTSA("Casedesk bench TSA")
    server = ArticleServer(site)
    try:
        with tempfile.TemporaryDirectory(prefix="casedesk-capturebench-") as tmpdir:
            tmp = Path(tmpdir)
            env = production_env(tmp, args.database_url, tsa)
            subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput",
                            "-v0"], check=True, cwd=ROOT, env=env)
            os.environ.clear()
            os.environ.update(env)
            sys.path.insert(0, str(tmp))
            (tmp / "logs").mkdir()
            figures = measure(args, server, tmp / "logs")
    finally:
        server.close()
        if tsa is not None:
            tsa.close()
    host = machine(chromium)
    host["tsa"] = ("the test Time-Stamp Authority of tests/tsa.py (OpenSSL `ts -reply` on "
                   "127.0.0.1; every capture's manifest timestamped and verified)"
                   if tsa is not None else
                   "none (no `openssl` command, or --no-tsa): captures are not timestamped")
    host["page"] = {path: len(body) for path, (body, _) in site.items()}
    report, ok = write_report(args, figures, host, time.perf_counter() - started)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    print(report)
    print(f"written to {output}")
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------
# Report


def checks(figures: dict) -> list[tuple[str, str, bool]]:
    saves = figures["saves"]
    on, off = saves["on"]["p50"], saves["off"]["p50"]
    failures = (figures.get("warmup_failures", []) + figures["latency"]["failures"]
                + figures["throughput_1"]["failures"] + figures["throughput_2"]["failures"])
    return [
        (f"save with capture on: p50 ≤ {TARGET_SAVE_RATIO:g}× the save with capture off",
         f"{on / off:.2f}×", on <= TARGET_SAVE_RATIO * off),
        (f"save with capture on: p50 < {TARGET_SAVE_ON_P50_MS:g} ms", f"{on:.1f} ms",
         on < TARGET_SAVE_ON_P50_MS),
        ("the save only queues: every save with capture on left a queued capture, none done",
         f"{saves['queued_on']} of {saves['saves_on']} queued, {saves['done_by_save']} done",
         saves["queued_on"] == saves["saves_on"] and saves["done_by_save"] == 0),
        ("every capture done (none failed or lost)", f"{len(failures)} failed",
         not failures),
    ]


def _shorten(sql: str, limit: int = 220) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= limit else sql[:limit - 1] + "…"


def write_report(args, figures: dict, host: dict, seconds: float) -> tuple[str, bool]:
    saves, latency = figures["saves"], figures["latency"]
    one, two = figures["throughput_1"], figures["throughput_2"]
    page = host["page"]
    loads = figures["loads"]

    def row(name, s, unit="ms", scale=1.0):
        return (f"| {name} | {s['n']} | {s['p50'] * scale:.1f} | {s['p95'] * scale:.1f} | "
                f"{s['min'] * scale:.1f} | {s['max'] * scale:.1f} |")

    lines = [
        "# Capture benchmark",
        "",
        f"Generated by `make bench` (bench/captures.py) on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min.",
        "",
        "## Machine",
        "",
        f"- CPU: {host['cpu']}, {host['cores']} cores; RAM {host['ram']}; Linux {host['kernel']}",
        "- load average (1/5/15 min): at the start " + loads["start"]
        + f"; before one worker {loads['one worker']}; before two workers "
        f"{loads['two workers']}; at the end {loads['end']}. The machine is shared with "
        "other work: the captures compete with it for the 2 cores.",
        f"- Python {host['python']}, Django {figures['django']}, PostgreSQL "
        f"{figures['pg_version']}, {host['chromium']}, {host['openssl']}",
        "- " + ", ".join(f"{name} {version}" for name, version in host["packages"].items()),
        "",
        "## Set-up",
        "",
        f"- Database `{args.database_url.rsplit('/', 1)[-1]}`, made anew and migrated; one "
        "case with a reporter, a claim and a source. Production settings "
        "(config/production_env.py: DEBUG off, fresh keys), evidence in a temporary folder.",
        f"- The cited page: a news article served from 127.0.0.1 by the benchmark "
        f"(CAPTURE_ALLOWED_HOSTS=127.0.0.1), {sum(page.values()) / 1024:.0f} KB in "
        f"{len(page)} files: HTML {page['/article.html'] / 1024:.0f} KB, stylesheet "
        f"{page['/static/site.css'] / 1024:.0f} KB, script "
        f"{page['/static/site.js'] / 1024:.0f} KB, four JPEG photos "
        f"{sum(v for k, v in page.items() if k.endswith('.jpg')) / 1024:.0f} KB. Each "
        "citation cites its own address on it (/news/N/article.html). "
        f"{figures['requests_served']} requests served in the run.",
        f"- Timestamps: {host['tsa']}; {figures['captures_timestamped']} of "
        f"{figures['captures_done']} captures done carry a verified timestamp.",
        "- Each capture: headless Chromium loads the page (every request made by "
        "capture/network.py), then the WACZ, the full-page PNG, the PDF and the manifest, the "
        "timestamp, and the four files stored as evidence with their custody entries "
        "(capture.domain.run_capture, run by the task capture.tasks.capture_citation).",
        "- Workers: `python manage.py worker` processes, started as production starts them "
        "(default options: the queue is polled every second when it is empty).",
        "",
        "## The citation save, capture on and off",
        "",
        "The save as the forms, the admin and the API make it (`save_citation` in "
        "bench/captures.py): in one transaction the model's checks (`full_clean`), `save()` "
        "and the capture hook `capture.tasks.citations_saved`, which queues the capture "
        "(`capture_saved_citation`, in a transaction of its own) once the save commits. The "
        "benchmark calls this domain path directly, without an HTTP request. "
        f"{saves['on']['n']} saves each way after 20 warm-up pairs, alternating on and off "
        "(which goes first alternates too), no worker running.",
        "",
        "| save | saves | p50 ms | p95 ms | min ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        row("capture on", saves["on"]),
        row("capture off", saves["off"]),
        row("the hook alone, capture on", saves["hook_on"]),
        row("the hook alone, capture off", saves["hook_off"]),
        "",
        f"Capture on / off at the median: {saves['on']['p50'] / saves['off']['p50']:.2f}×. "
        f"SQL queries per save: {saves['queries_on']} with capture on, "
        f"{saves['queries_off']} off. With capture on the hook reads the saver's membership "
        "of the case (once per user and case), reads the citation's pending or done "
        "captures, inserts the queued Capture and the task's row and keeps the task's id on "
        "the capture, nothing more (the statements below; tests/test_capture_query_counts.py "
        "pins their number): after the "
        f"{saves['saves_on']} saves with capture on (warm-up included), {saves['queued_on']} "
        f"captures were queued and {saves['done_by_save']} done; the saves with capture off "
        f"queued {saves['captures_after_off']}. (The {figures['discarded']} queued captures "
        "were removed, with their tasks, before the workers started.)",
        "",
        f"<details><summary>The {saves['queries_on']} statements of a save with capture "
        "on</summary>", "", "```",
        *(_shorten(sql) for sql in saves["sql_on"]),
        "```", "", "</details>",
        "",
        "## From the save to the capture done (one worker)",
        "",
    ]
    if "latency" in latency:
        lines += [
            f"{latency['latency']['n']} citations, one at a time: each saved, then its capture "
            "waited for (polled every 20 ms) before the next is saved.",
            "",
            "| | captures | p50 s | p95 s | min s | max s |",
            "|---|---:|---:|---:|---:|---:|",
            row("save to capture done", latency["latency"]),
            row("  of which waiting in the queue", latency["queue_wait"]),
            row("  of which capturing and storing", latency["run"]),
            "",
            "*Waiting in the queue*: from the save's commit to the worker starting the "
            "capture (the worker polls an empty queue every second). *Capturing and "
            "storing*: from the start to the capture stored, timestamped and verified.",
            "",
        ]
    else:
        lines += ["No capture was done.", ""]
    lines += ["## Throughput", "",
              f"{one['count']} citations saved one after another (each queueing its capture), "
              "workers already running and warm; time from the first save to the last capture "
              "done.", "",
              "| workers | captures | seconds | captures / minute | per worker | capture p50 s "
              "| capture p95 s |",
              "|---:|---:|---:|---:|---|---:|---:|"]
    for r in (one, two):
        if "seconds" in r:
            lines.append(f"| {r['workers']} | {r['count'] - len(r['failures'])} | "
                         f"{r['seconds']:.1f} | {r['per_minute']:.1f} | "
                         f"{' + '.join(str(n) for n in r['per_worker'])} | "
                         f"{r['run']['p50']:.1f} | {r['run']['p95']:.1f} |")
        else:
            lines.append(f"| {r['workers']} | 0 | – | – | – | – | – |")
    if "per_minute" in one and "per_minute" in two:
        lines += ["", f"Two workers / one: {two['per_minute'] / one['per_minute']:.2f}× the "
                      "rate. Each capture runs a Chromium; on 2 shared cores two captures at "
                      "once take longer each (the capture p50 above), so the gain is below 2×."]
    failures = (figures.get("warmup_failures", []) + latency["failures"] + one["failures"]
                + two["failures"])
    if failures:
        lines += ["", "### Failed captures", ""] + [f"- {f}" for f in failures]
        lines += ["", "Worker logs (last lines):", "", "```", figures["worker_log_tail"], "```"]
    results = checks(figures)
    lines += ["", "## Targets", "", "The save must not wait for the capture. Latency and "
              "throughput are reported, not judged: they depend on the pages cited and the "
              "machine.", "",
              "| target | figure | met |", "|---|---:|---|"]
    for what, figure, ok in results:
        lines.append(f"| {what} | {figure} | {'pass' if ok else '**FAIL**'} |")
    return "\n".join(lines) + "\n", all(ok for _, _, ok in results)


if __name__ == "__main__":
    sys.exit(main())
