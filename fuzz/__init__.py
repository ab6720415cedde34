"""`make fuzz`: Casedesk attacked with hostile input on every path, on PostgreSQL, against
gunicorn with production settings. It fails on any answer of 500 or more, any unhandled
exception or worker timeout in the server's log, and any schemathesis check failure.

What it does

1. A server of its own (fuzz/server.py): the database FUZZ_DATABASE_URL (default
   postgres://postgres@127.0.0.1:5432/casedesk_fuzz, dropped and made anew; its name must
   contain "fuzz"), migrated and seeded with the demo case and the fuzzer's records
   (fuzz/fixtures.py: an authenticator app and an API token per role, lists long enough to
   have a second page, scratch records to edit and delete). gunicorn with DEBUG off, a new
   SECRET_KEY and encryption key, HTTPS with a certificate made for the run, a free port on
   127.0.0.1, its log kept (fuzz/settings.py tags each traceback with the request's id).
2. The API (fuzz/api.py): schemathesis over every operation of the served schema, as the
   viewer, the reporter, the editor, a source handler and an outsider, each with their API
   token: every phase (examples, coverage, FUZZ_EXAMPLES fuzzed cases per operation,
   stateful sequences through inferred links), with schemathesis' own checks (no server
   error; status code, content type, headers and body as the schema says).
3. The web pages (fuzz/web.py): signed in through the sign-in form and the two-factor step
   (a TOTP code) as each role, plus signed out, the fuzzer opens every page of the URL conf
   and of the admin registry, follows what those pages link to, and reads every form and
   query parameter they show (fuzz/discovery.py). Then hypothesis sends each form and each
   page hostile values for its kind of field (fuzz/values.py: NUL bytes, lone surrogates,
   100,000-character strings, numbers past every integer width, dates and offsets past what
   the database can read back, malformed files), one to three fields at a time on top of a
   valid submission, after a few examples every run sends first (every field a NUL byte;
   each date field at year 10000 in UTC; `page` as NUL and -1) (fuzz/targets.py). Accounts
   a fuzzed form changed are put back between forms (fuzz/fixtures.py), and the fuzzer signs
   in again when its session ended.
4. The summary (fuzz/report.py), printed and written to fuzz/results/latest.md: requests and
   answers of 500 or more per API operation, form and page; each server exception with the
   input that caused it; the seed.

Knobs (environment)

FUZZ_SEED            the seed (random and printed by default, so each run tries new inputs;
                     the same seed replays a run on the same code)
FUZZ_EXAMPLES        schemathesis examples per operation and role (default 500)
FUZZ_FORM_EXAMPLES   hypothesis examples per form and role (default 100)
FUZZ_PAGE_EXAMPLES   hypothesis examples per page's query and role (default 25)
FUZZ_PARTS           api,web (default both)
FUZZ_API_ROLES       default viewer,reporter,editor,handler,outsider
FUZZ_WEB_ROLES       default anonymous,outsider,viewer,reporter,editor,handler,admin
FUZZ_ONLY            a regular expression: fuzz only the forms and pages whose label matches
                     ("POST cases:incident_edit", "GET admin:cases_claim_changelist")
FUZZ_DATABASE_URL, FUZZ_CACHE_URL (default redis://127.0.0.1:6379/12), FUZZ_PORT,
FUZZ_WORKERS (gunicorn workers, default 2), FUZZ_KEEP=1 (keep the logs of a passing run)

Reproducing a failure: the summary names the role, the form or operation, the fields that
were changed and their values, and the fuzz id, which the kept server.log prints beside the
traceback. `FUZZ_SEED=<seed> FUZZ_ONLY='<label>' FUZZ_PARTS=web make fuzz` replays one form.

The CI subset runs inside `make test`, in-process and derandomized, a few examples per
operation and form: tests/test_api_schemathesis.py and tests/test_form_fuzz.py.
"""
