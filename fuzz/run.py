"""`make fuzz` (`python -m fuzz`): set up the server, fuzz the API and the web pages, write
the summary, and fail on any answer of 500 or more, server exception or check failure.
The knobs are the environment variables listed in fuzz/__init__.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "fuzz" / "results" / "latest.md"
API_ROLES = ["viewer", "reporter", "editor", "handler", "outsider"]
WEB_ROLES = ["anonymous", "outsider", "viewer", "reporter", "editor", "handler", "admin"]
STAFF_ROLES = {"editor", "handler", "admin"}


def say(message: str) -> None:
    print(f"[fuzz] {message}", flush=True)


def _env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    return [v.strip() for v in value.split(",") if v.strip()] or default


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from scan.run import free_port, git_revision, make_certificate

    from . import report, server

    seed = int(os.environ["FUZZ_SEED"]) if os.environ.get("FUZZ_SEED") else \
        secrets.randbelow(2**31)
    api_examples = int(os.environ.get("FUZZ_EXAMPLES", "500"))
    form_examples = int(os.environ.get("FUZZ_FORM_EXAMPLES", "100"))
    page_examples = int(os.environ.get("FUZZ_PAGE_EXAMPLES", "25"))
    parts = _env_list("FUZZ_PARTS", ["api", "web"])
    api_roles = _env_list("FUZZ_API_ROLES", API_ROLES)
    web_roles = _env_list("FUZZ_WEB_ROLES", WEB_ROLES)
    only = re.compile(os.environ.get("FUZZ_ONLY", ""))
    database_url = os.environ.get("FUZZ_DATABASE_URL",
                                  "postgres://postgres@127.0.0.1:5432/casedesk_fuzz")
    cache_url = os.environ.get("FUZZ_CACHE_URL", "redis://127.0.0.1:6379/12")
    password = os.environ.get("DEMO_PASSWORD", "casedesk-demo")
    say(f"seed {seed} (replay with FUZZ_SEED={seed})")

    started = time.monotonic()
    run = report.Run(seed=seed, revision=git_revision(),
                     started=f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    run.command = " ".join(f"{k}={os.environ[k]}" for k in (
        "FUZZ_EXAMPLES", "FUZZ_FORM_EXAMPLES", "FUZZ_PAGE_EXAMPLES", "FUZZ_PARTS",
        "FUZZ_API_ROLES", "FUZZ_WEB_ROLES", "FUZZ_ONLY") if os.environ.get(k)) + \
        f" FUZZ_SEED={seed} make fuzz"
    run.settings = dict(api_examples=api_examples, form_examples=form_examples,
                        page_examples=page_examples, parts="+".join(parts),
                        database=database_url.rsplit("/", 1)[-1])
    tmp = Path(tempfile.mkdtemp(prefix="casedesk-fuzz-"))
    say(f"work dir {tmp}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = free_port(int(os.environ.get("FUZZ_PORT", "8798")))
    cert, _key = make_certificate(tmp)
    env = server.production_env(tmp, port=port, database_url=database_url,
                                cache_url=cache_url, password=password)
    the_server = server.Server(tmp, port, env, cert)
    try:
        world = _prepare(env, database_url)
        the_server.start()
        say(f"gunicorn up at {the_server.base} (DEBUG off, production settings, "
            f"{env['WEB_CONCURRENCY']} workers)")
        if "api" in parts:
            _fuzz_api(run, world, the_server, tmp, roles=api_roles, examples=api_examples,
                      seed=seed)
        if "web" in parts:
            _fuzz_web(run, world, the_server, roles=web_roles, form_examples=form_examples,
                      page_examples=page_examples, seed=seed, password=password,
                      only=lambda label: bool(only.search(label)))
    except Exception as exc:  # noqa: BLE001 (a run that could not finish is a failed run)
        import traceback

        traceback.print_exc()
        run.errors.append(f"the run did not complete: {exc!r}")
    finally:
        the_server.stop()
    run.exceptions, run.timeouts = server.server_exceptions(tmp / "server.log")
    run.access = server.access_counts(tmp / "access.log")
    run.seconds = time.monotonic() - started
    text = report.render(run)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print("\n" + text, flush=True)
    failed = bool(run.failures())
    if failed or os.environ.get("FUZZ_KEEP"):
        say(f"logs kept in {tmp} (server.log: tracebacks by fuzz id; access.log)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"summary written to {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


def _prepare(env: dict[str, str], database_url: str):
    """A fresh database, migrated and seeded; this process uses it too (for the records the
    fuzzer copies, and the guard), with the server's settings."""
    from . import server

    os.environ.update(env)
    server.recreate_database(database_url)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    from . import fixtures

    call_command("migrate", "--noinput", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    cache.clear()
    call_command("collectstatic", "--noinput", verbosity=0)
    world = fixtures.prepare()
    say("database made anew, migrated, seeded (demo case and the fuzzer's records); cache "
        "emptied; static files collected")
    return world


def _fuzz_api(run, world, the_server, tmp: Path, *, roles, examples: int, seed: int) -> None:
    from . import api

    ids_file = tmp / "api-ids.json"
    ids_file.write_text(json.dumps(api.api_ids(world)))
    for role in roles:
        say(f"schemathesis as {role}: {examples} examples per operation, every phase")
        role_run = api.run_role(role, world.tokens[role], base=the_server.base,
                                cert=the_server.cert, tmp=tmp, examples=examples, seed=seed,
                                ids_file=ids_file, ledger=run.ledger)
        run.schemathesis.append(role_run)
        say(f"schemathesis as {role}: exit {role_run.exit_code}, "
            f"{len(role_run.failures)} failures, {role_run.seconds:.0f} s")
        run.repaired += _restore(world)


def _restore(world) -> list[str]:
    from . import fixtures

    repaired = fixtures.restore(world)
    for item in repaired:
        say(f"restored {item}")
    return repaired


def _fuzz_web(run, world, the_server, *, roles, form_examples: int, page_examples: int,
              seed: int, password: str, only) -> None:
    from . import fixtures, web
    from .browser import Browser, sign_in, totp_code
    from .discovery import coverage, label_forms
    from .transport import HttpsTransport

    last_codes: dict[str, int] = {}
    browsers, found = {}, []
    for role in roles:
        transport = HttpsTransport("127.0.0.1", the_server.port, str(the_server.cert))
        signer = None
        if role != "anonymous":
            username, secret = fixtures.ROLES[role], world.secrets[role]

            def signer(browser, username=username, secret=secret):
                sign_in(browser, username, password,
                        lambda: totp_code(secret, last_codes, username))
        browser = Browser(role, transport, run_id=f"r{run.seed}", sign_in=signer)
        if signer is not None:
            signer(browser)
        browsers[role] = browser
        discovered = web.discover(
            browser, world, admin=(lambda model: True) if role in STAFF_ROLES else None,
            anonymous=role == "anonymous")
        found.append(discovered)
        for path, status, _body in discovered.errors:
            run.ledger.record("page", "crawl", role, method="GET", path=path, status=status,
                              fuzz_id="crawl")
        say(f"{role}: {sum(discovered.visited.values())} pages opened, "
            f"{len(discovered.pages)} pages and {len(discovered.forms)} forms to fuzz")
    label_forms(found)
    run.coverage = coverage(found)
    for discovered in found:
        role = discovered.role
        browser = browsers[role]
        for kind, examples in (("page", page_examples), ("form", form_examples)):
            say(f"{role}: fuzzing {kind}s, {examples} examples each")
            web.fuzz_discovered(
                discovered, browser, web.Budget(examples, seed), run.ledger,
                between=lambda: run.repaired.extend(_restore(world)),
                only=lambda label, kind=kind: label.startswith(
                    "GET" if kind == "page" else "POST") and only(label))
        run.sign_ins[role] = browser.sign_ins
        browser.transport.close()
