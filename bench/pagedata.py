"""The data of the page benchmark (bench/pages.py): what `make bench` measures its pages on.

1. Two PostgreSQL databases filled by bench/generate.py, one at the run's scale and one at a
   tenth of it. A database is (re)filled only when it is missing or holds another scale,
   seed or version of this data (recorded as the database's comment, `_marker`).
2. In each, one more case holding exactly 1,000 claims (`bench-thousand-claims`,
   `add_thousand_claim_case`): the generator spreads claims unevenly over cases, so none of
   its cases is guaranteed to hold that many. Its pages are the ones measured.
3. In that case, the records the newer pages show (`write_page_records`, run in a Django
   process of its own at every run: it adds only what is missing), written through the
   app's own code so that they are what the app would have written, history rows included:

   - the history of its records: a "created" row for every claim, incident, source and
     citation (simple-history's bulk_history_create, dated at the generator's "now"), and
     for the measured claim, incident and source a series of edits (cases.history's
     update_with_history), so that their history pages have changes to show;
   - links: the case linked to five generated cases, and the measured incident to three
     incidents of the case and two of other cases (cases.links);
   - captures: two done captures of each of the measured incident's own citations (its
     citations not made for one of its claims), each with its four files (WACZ, screenshot,
     PDF, manifest) as evidence with their custody log; the files' rows only, not the files
     (no measured page reads one);
   - recently deleted records: whenever fewer than DELETED_BATCH were deleted in the last
     FRESH_DAYS days (the page lists what can be restored, for 30 days), an incident, two
     claims, a source, a task and an evidence file are created and deleted through
     cases.deletion, as an editor deletes them from the workspace.

   `measured_records()` names the records the pages show, by the same rules everywhere.

Everything is deterministic but the dates of what `write_page_records` writes (the time of the
run that wrote it) and the ids of the deleted records.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for p in (str(ROOT), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

THOUSAND_SLUG = "bench-thousand-claims"
THOUSAND = {"claims": 1_000, "incidents": 200, "citations": 2_000, "sources": 20}
CHIEF = "bench_chief"
# Records deleted at a time, and how recent the newest deletions must be to be kept (the
# page lists 30 days of deletions: a database reused for weeks gets fresh ones).
DELETED_BATCH = 6
FRESH_DAYS = 20
# The generated cases the big case is linked to, and the incidents of other cases its
# measured incident is linked to (by their cases' slugs).
LINKED_CASES = [f"bench-case-{n}" for n in range(1, 6)]
EDITS = {"claim": 8, "incident": 6, "source": 4}


def _marker(scale: float, seed: int) -> str:
    # v2: claims have the verification events their statuses imply.
    # v3: incidents are placed (latitude, longitude, precision), the 1,000-claim case's
    # incidents have dates of every precision, figures count three things, citations have
    # relays (cases_citationrelay) in place of `via`.
    return f"casedesk pages bench: scale={scale:g} seed={seed} v3"


def _current_marker(database_url: str) -> str | None:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT shobj_description(d.oid, 'pg_database') FROM pg_database d "
                           "WHERE d.datname = current_database()").fetchone()
        return row[0] if row else None


def _set_marker(database_url: str, marker: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url, autocommit=True) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(marker)))


def dbname(database_url: str) -> str:
    return database_url.rsplit("/", 1)[-1].split("?")[0]


def with_dbname(database_url: str, name: str) -> str:
    head, tail = database_url.rsplit("/", 1)
    query = tail.split("?", 1)[1] if "?" in tail else ""
    return f"{head}/{name}" + (f"?{query}" if query else "")


def _django_env(database_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": "config.settings"}


def prepare(database_url: str, scale: float, seed: int, log=print) -> None:
    """The database at this scale and seed, generated if it is missing or different, with the
    page records of this run (see the module docstring)."""
    from generate import ensure_database, generate

    ensure_database(database_url)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                   check=True, cwd=ROOT, env=_django_env(database_url))
    marker = _marker(scale, seed)
    if _current_marker(database_url) == marker:
        log(f"{dbname(database_url)}: already at scale {scale:g} (seed {seed})")
    else:
        log(f"{dbname(database_url)}: generating scale {scale:g} (seed {seed})…")
        _set_marker(database_url, "casedesk pages bench: incomplete")
        summary = generate(database_url, scale=scale, seed=seed, reset_first=True, log=log)
        add_thousand_claim_case(database_url, seed)
        _set_marker(database_url, marker)
        log(f"{dbname(database_url)}: generated in {summary.seconds:.0f} s")
    subprocess.run([sys.executable, str(Path(__file__)), "--records"], check=True, cwd=ROOT,
                   env=_django_env(database_url))


def add_thousand_claim_case(database_url: str, seed: int) -> None:
    """One more case with exactly 1,000 claims, 200 incidents, 2,000 citations and 20
    sources, written like bench/generate.py writes its cases (COPY, same text maker, places
    and dates), with the chief editor and three members."""
    import psycopg
    from generate import (
        CITATION_COLUMNS,
        CITATION_RELATIONS,
        CLAIM_COLUMNS,
        INCIDENT_COLUMNS,
        OUTLETS,
        TextMaker,
        _copy,
        claim_row,
        incident_row,
        write_status_events,
    )

    rng = random.Random(seed + 1000)
    text = TextMaker(random.Random(seed + 1001))
    now = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        def next_id(table):
            cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
            return cur.fetchone()[0]

        cur.execute("SELECT id FROM auth_user WHERE username LIKE 'bench\\_%%' ORDER BY username")
        user_ids = [r[0] for r in cur.fetchall()]
        chief = user_ids[0]  # bench_chief sorts first
        cur.execute("SELECT id FROM cases_incidenttype WHERE slug LIKE 'bench-%%' ORDER BY id")
        type_ids = [r[0] for r in cur.fetchall()]
        case_id = next_id("cases_case")
        cur.execute(
            "INSERT INTO cases_case (id, created_at, updated_at, title, slug, summary, status, "
            "sensitivity, created_by_id, lead_id) VALUES (%s, %s, %s, %s, %s, %s, 'active', "
            "'normal', %s, %s)",
            [case_id, now, now, "Desertions from the Kadamovsky training ground (1,000 claims)",
             THOUSAND_SLUG, text.sentence(False, "Mediazona"), chief, chief])
        members = [chief] + rng.sample(user_ids[1:], k=min(3, len(user_ids) - 1))
        mid = next_id("cases_membership")
        for n, uid in enumerate(members):
            cur.execute(
                "INSERT INTO cases_membership (id, role, can_handle_sources, added_at, "
                "added_by_id, case_id, user_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [mid + n, "editor" if uid == chief else "reporter", uid == chief, now, chief,
                 case_id, uid])

        slo = next_id("cases_source")
        source_ids = list(range(slo, slo + THOUSAND["sources"]))
        _copy(cur, "cases_source", ["id", "created_at", "updated_at", "name", "kind", "url",
                                    "language", "country", "reliability", "reliability_note",
                                    "protected", "case_id", "created_by_id", "reached_via_id"],
              ((sid, now, now, OUTLETS[n % len(OUTLETS)], "outlet",
                f"https://{OUTLETS[n % len(OUTLETS)].lower().replace(' ', '')}.example/",
                "ru", "RU", rng.choice("ABCDEF"), "", False, case_id, chief,
                # a few relayed sources, so that independence has chains to follow
                source_ids[0] if n % 5 == 4 else None)
               for n, sid in enumerate(source_ids)))

        ilo = next_id("cases_incident")
        incident_ids = list(range(ilo, ilo + THOUSAND["incidents"]))

        def incidents():
            for iid in incident_ids:
                yield incident_row(rng, text, now, seed, iid, case_id, members, type_ids)
        _copy(cur, "cases_incident", INCIDENT_COLUMNS, incidents())

        klo = next_id("cases_claim")
        claim_ids = list(range(klo, klo + THOUSAND["claims"]))
        def incident():
            return rng.choice(incident_ids) if rng.random() < 0.8 else None

        _copy(cur, "cases_claim", CLAIM_COLUMNS,
              (claim_row(rng, text, now, kid, case_id, members, incident) for kid in claim_ids))
        write_status_events(cur, range(claim_ids[0], claim_ids[-1] + 1), chief)

        clo = next_id("cases_citation")
        relations = CITATION_RELATIONS

        def citations():
            for cit_id in range(clo, clo + THOUSAND["citations"]):
                russian = rng.random() < 0.5
                on_claim = rng.random() < 0.9
                published = now - dt.timedelta(minutes=rng.randint(0, 900 * 24 * 60))
                row = {"id": cit_id, "created_at": published, "updated_at": published,
                       "relation": rng.choice(relations),
                       "quote": text.sentence(russian, OUTLETS[cit_id % len(OUTLETS)]),
                       "url": f"https://news.example/t{cit_id}", "published_at": published,
                       "accessed_at": published, "language": "ru" if russian else "en",
                       "claim_id": rng.choice(claim_ids) if on_claim else None}
                row["incident_id"] = None if on_claim else rng.choice(incident_ids)
                row["source_id"] = rng.choice(source_ids)
                # By name: whatever else the generator's citation columns hold (relays, a
                # creator) is left empty here.
                yield tuple(row.get(column) for column in CITATION_COLUMNS)
        _copy(cur, "cases_citation", CITATION_COLUMNS, citations())

        for table in ("cases_case", "cases_membership", "cases_source", "cases_incident",
                      "cases_claim", "cases_citation"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        # The admin needs a staff user: the chief, with the model permissions to read and
        # change claims (the admin then scopes to their cases: all of them).
        cur.execute("UPDATE auth_user SET is_staff = true WHERE id = %s", [chief])
        cur.execute(
            "INSERT INTO auth_user_user_permissions (user_id, permission_id) "
            "SELECT %s, p.id FROM auth_permission p JOIN django_content_type ct "
            "ON ct.id = p.content_type_id WHERE ct.app_label = 'cases' AND ct.model = 'claim' "
            "AND p.codename IN ('view_claim', 'change_claim') ON CONFLICT DO NOTHING", [chief])
        conn.commit()
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in ("cases_case", "cases_membership", "cases_source", "cases_incident",
                      "cases_claim", "cases_citation", "cases_verificationevent"):
            conn.execute(f"ANALYZE {table}")


# --------------------------------------------------------------------------------------------
# The records the newer pages show (in a Django process)


def measured_records(slug: str = THOUSAND_SLUG) -> dict:
    """The records of the case whose pages are measured, by fixed rules: the claim page's
    claim is the newest claim; the incident is the one with the most citations of its own
    (the first of them by id); the source is the first; the citation is the incident's
    first own citation; the evidence is the screenshot of its newest capture (None until
    `write_page_records` made it)."""
    from django.db.models import Count, Q

    from capture.models import CaptureFile
    from cases.models import Case, Citation, Claim, Incident, Source

    case = Case.objects.get(slug=slug)
    incident = (Incident.objects.filter(case=case)
                .annotate(own=Count("citations", filter=Q(citations__claim__isnull=True)))
                .order_by("-own", "pk").first())
    citation = (Citation.objects.filter(incident=incident, claim__isnull=True)
                .order_by("pk").first())
    screenshot = (CaptureFile.objects.filter(capture__citation=citation,
                                             role=CaptureFile.Role.SCREENSHOT)
                  .order_by("-capture__requested_at", "-capture__pk").first())
    return {
        "case": case,
        "claim": Claim.objects.filter(case=case).order_by("-pk").first(),
        "incident": incident,
        "source": Source.objects.filter(case=case).order_by("pk").first(),
        "citation": citation,
        "evidence": screenshot.evidence if screenshot else None,
    }


def write_page_records(log=print) -> None:
    """What the newer pages show, in the case whose pages are measured (see the module
    docstring). Adds only what is missing; needs Django set up."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    chief = get_user_model().objects.get(username=CHIEF)
    records = measured_records()
    with transaction.atomic():
        _history(records, chief, log)
        _links(records, chief, log)
        _captures(records, chief, log)
        _deletions(records, chief, log)


def _history(records, chief, log) -> None:
    from django.db.models import Exists, OuterRef

    from cases.history import update_with_history
    from cases.models import Citation, Claim, Incident, Source

    case = records["case"]
    claim = records["claim"]
    if claim.history.filter(history_change_reason__startswith="bench edit").exists():
        return
    # A "created" row for each record without history (the generator writes none).
    created = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)  # the generator's "now"
    for model, in_case in ((Source, "case"), (Incident, "case"), (Claim, "case"),
                           (Citation, "source__case")):
        rows = list(model.objects.filter(**{in_case: case})
                    .exclude(Exists(model.history.filter(id=OuterRef("pk")))).order_by("pk"))
        model.history.bulk_history_create(rows, default_user=chief, default_date=created)
    one = {model: model.objects.filter(pk=records[kind].pk)
           for kind, model in (("claim", Claim), ("incident", Incident), ("source", Source))}
    rng = random.Random(7)
    for n in range(EDITS["claim"]):
        update_with_history(one[Claim], user=chief, reason=f"bench edit {n + 1}",
                            statement=f"{claim.statement} (update {n + 1})",
                            figure_value=rng.randint(10, 400), figure_unit="deserters")
    incident = records["incident"]
    for n in range(EDITS["incident"]):
        update_with_history(one[Incident], user=chief, reason=f"bench edit {n + 1}",
                            place_name=f"{incident.place_name} ({n + 1})",
                            description=f"{incident.description} Update {n + 1}.")
    for n in range(EDITS["source"]):
        update_with_history(one[Source], user=chief, reason=f"bench edit {n + 1}",
                            reliability="ABCD"[n % 4],
                            reliability_note=f"Reassessed after report {n + 1}.")
    log(f"history: created rows for the case's records, {sum(EDITS.values())} edits")


def _links(records, chief, log) -> None:
    from cases import links
    from cases.models import Case, CaseLink, Incident

    case, incident = records["case"], records["incident"]
    if CaseLink.objects.filter(from_case=case).exists():
        return
    others = list(Case.objects.filter(slug__in=LINKED_CASES).order_by("pk"))
    for other in others:
        links.link_cases(case, other, actor=chief, note="The same training ground.")
    near = list(Incident.objects.filter(case=case).exclude(pk=incident.pk).order_by("pk")[:3])
    far = [Incident.objects.filter(case=other).order_by("pk").first() for other in others[:2]]
    for n, other in enumerate(near + far):
        links.link_incidents(incident, other, actor=chief,
                             kind="follow_up" if n == 0 else "related",
                             note="Same unit, same week.")
    log(f"links: {len(others)} cases, {len(near + far)} incidents")


def _captures(records, chief, log) -> None:
    import hashlib

    from django.utils import timezone

    from capture.models import Capture, CaptureFile
    from cases.models import Citation, CustodyEntry, Evidence

    incident = records["incident"]
    citations = list(Citation.objects.filter(incident=incident, claim__isnull=True)
                     .order_by("pk"))
    if not citations or Capture.objects.filter(citation__in=citations).exists():
        return
    files = [(CaptureFile.Role.ARCHIVE, "page.wacz", "application/wacz+zip"),
             (CaptureFile.Role.SCREENSHOT, "page.png", "image/png"),
             (CaptureFile.Role.PDF, "page.pdf", "application/pdf"),
             (CaptureFile.Role.MANIFEST, "manifest.json", "application/json")]
    now = timezone.now()
    made = 0
    for citation in citations:
        for age in (2, 1):  # an older capture and a newer one, days ago
            at = now - dt.timedelta(days=age)
            made += 1
            digest = hashlib.sha256(f"bench capture {citation.pk} {age}".encode()).hexdigest()
            capture = Capture.objects.create(
                case=incident.case, citation=citation, requested_by=chief, requested_at=at,
                status=Capture.Status.DONE, url=citation.url, final_url=citation.url,
                http_status=200, title=f"News page {citation.pk}", captured_at=at,
                manifest_sha256=digest, tsa_url="https://tsa.example/", timestamped_at=at,
                timestamp_token=b"bench token", verified_at=at)
            for role, name, content_type in files:
                sha = hashlib.sha256(f"{digest} {name}".encode()).hexdigest()
                # The file's row, not the file: no measured page reads it.
                evidence = Evidence.objects.create(
                    case=incident.case, incident=incident, file=f"bench/{sha}/{name}",
                    original_name=name, sha256=sha, original_sha256=sha, size=150_000,
                    content_type=content_type, origin_url=citation.url, captured_by=chief,
                    captured_at=at, description=f"Capture of {citation.url}: {name}",
                    created_by=chief)
                evidence.start_custody(chief, "Captured.")
                CaptureFile.objects.create(capture=capture, evidence=evidence, role=role)
    shown = measured_records()["evidence"]
    for n in range(3):
        CustodyEntry.objects.create(evidence=shown, action=CustodyEntry.Action.DOWNLOADED,
                                    actor=chief, note=f"Download {n + 1}.")
    log(f"captures: {made} of {len(citations)} citations, with {made * len(files)} files")


def _deletions(records, chief, log) -> None:
    from django.utils import timezone

    from cases import deletion
    from cases.models import Claim, Evidence, Incident, Source, Task

    case = records["case"]
    fresh = [r for r in deletion.recently_deleted(case)
             if r.deleted_at >= timezone.now() - dt.timedelta(days=FRESH_DAYS)]
    if len(fresh) >= DELETED_BATCH:
        return
    incident = records["incident"]

    def made(model, **values):
        record = model(case=case, created_by=chief, **values)
        record._history_user = chief
        record.save()
        return record

    doomed = [
        made(Incident, type=incident.type, title="Desertion reported twice (duplicate)",
             occurred="2025-05", place_name=incident.place_name,
             admin_region=incident.admin_region, country="RU"),
        made(Claim, statement="Twelve soldiers fled (entered twice)."),
        made(Claim, statement="A court hearing was postponed (wrong case)."),
        made(Source, name="Unverified channel (duplicate)", kind="outlet"),
        made(Task, title="Call the unit's press office (done elsewhere)"),
        made(Evidence, file="bench/deleted/photo.jpg", original_name="photo.jpg",
             sha256="0" * 64, original_sha256="0" * 64, size=1_000, content_type="image/jpeg",
             captured_by=chief, description="A photo filed in the wrong case."),
    ]
    for record in doomed:
        deletion.delete_record(record, chief)
    log(f"recently deleted: {len(doomed)} records")


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", action="store_true",
                        help="write the page records into $DATABASE_URL (Django process)")
    args = parser.parse_args(argv)
    if args.records:
        import django

        django.setup()
        write_page_records()
    return 0


if __name__ == "__main__":
    sys.exit(main())
