"""Schemathesis over every operation of the API, as every role, against the fuzz server.

One `schemathesis run` per role, each with that role's API token, reading the schema the
server serves (/api/schema/): every phase (the schema's examples, the coverage phase's
boundary values and unexpected methods, FUZZ_EXAMPLES fuzzed cases per operation, and the
stateful phase, which chains operations through the links schemathesis infers: create, then
read, edit, move or delete what was created). Checks: schemathesis' not_a_server_error and
the conformance of status code, content type, headers and body to the schema. Path ids are
drawn from the demo case half the time (fuzz/schemathesis_hooks.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")
PHASES = "examples,coverage,fuzzing,stateful"


@dataclass
class RoleRun:
    role: str
    exit_code: int
    seconds: float
    failures: list[dict] = field(default_factory=list)  # operation, message (from JUnit)
    output: Path | None = None


def api_ids(world) -> dict[str, list]:
    """Real path parameters by resource: the demo case's records and the scratch case."""
    from cases.models import (
        Citation,
        Claim,
        CommentRequest,
        Incident,
        IncidentType,
        Source,
        Task,
    )

    case = world.case_pk
    return {
        "cases": [case, world.scratch_case_pk],
        "incidents": list(Incident.objects.filter(case_id=case).values_list("pk", flat=True)[:20]),
        "sources": list(Source.objects.filter(case_id=case).values_list("pk", flat=True)[:20]),
        "claims": list(Claim.objects.filter(case_id=case).values_list("pk", flat=True)[:20]),
        "citations": list(Citation.objects.filter(source__case_id=case)
                          .values_list("pk", flat=True)[:20]),
        "tasks": list(Task.objects.filter(case_id=case).values_list("pk", flat=True)[:20]),
        "comment-requests": list(CommentRequest.objects.filter(case_id=case)
                                 .values_list("pk", flat=True)[:20]),
        "incident-types": list(IncidentType.objects.values_list("slug", flat=True)),
    }


def run_role(role: str, token: str, *, base: str, cert: Path, tmp: Path, examples: int,
             seed: int, ids_file: Path, ledger: Ledger, max_time: int | None = None) -> RoleRun:
    import time

    report_dir = tmp / f"schemathesis-{role}"
    api_log = tmp / f"api-{role}.jsonl"
    output = tmp / f"schemathesis-{role}.log"
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"), "run",
        f"{base}api/schema/?format=json", "--url", base.rstrip("/"),
        "-H", f"Authorization: Token {token}",
        "-H", f"X-Fuzz-Id: api-{role}", "-H", f"X-Fuzz-Target: {role} api",
        "--tls-verify", str(cert),
        "--phases", PHASES, "--checks", CHECKS,
        "--max-examples", str(examples), "--seed", str(seed),
        "--workers", "1", "--generation-database", "none",
        "--request-timeout", "60", "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(report_dir),
        "--no-color", "--output-truncate", "true",
    ]
    if max_time:
        cmd += ["--max-time", str(max_time)]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz.schemathesis_hooks",
               FUZZ_API_IDS=str(ids_file), FUZZ_API_LOG=str(api_log),
               PYTHONPATH=str(ROOT))
    started = time.monotonic()
    with open(output, "w") as out:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    run = RoleRun(role, proc.returncode, time.monotonic() - started, output=output)
    for line in api_log.read_text().splitlines() if api_log.exists() else []:
        entry = json.loads(line)
        ledger.record("API", entry["operation"], role, method=entry["operation"].split()[0],
                      path=entry["operation"].split()[1], status=entry["status"],
                      fuzz_id=f"api-{role}")
    run.failures = junit_failures(report_dir)
    return run


def junit_failures(report_dir: Path) -> list[dict]:
    failures = []
    for path in sorted(report_dir.glob("*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            for problem in [*case.iter("failure"), *case.iter("error")]:
                text = (problem.get("message") or "") + "\n" + (problem.text or "")
                failures.append({"operation": case.get("name", "?"),
                                 "kind": problem.tag, "message": text.strip()})
    return failures


def failure_titles(message: str) -> list[str]:
    """The check names a schemathesis failure message lists ("- Server error", ...)."""
    return re.findall(r"^\s*-\s+(.+?)\s*$", message, flags=re.M)[:6] or \
        [message.splitlines()[0][:200] if message else "?"]

