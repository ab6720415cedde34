"""The summary of a `make fuzz` run (fuzz/results/latest.md, also printed): the verdict, the
seed, and per API operation, form and page the requests sent and the answers of 500 or more;
then each distinct server exception with the input that caused it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .api import failure_titles
from .ledger import Ledger, Row
from .server import ServerException


@dataclass
class Run:
    seed: int
    revision: str
    started: str
    seconds: float = 0.0
    command: str = "make fuzz"
    settings: dict = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    exceptions: list[ServerException] = field(default_factory=list)
    timeouts: int = 0
    access: dict = field(default_factory=dict)  # X-Fuzz-Target → Counter of statuses
    schemathesis: list = field(default_factory=list)  # api.RoleRun
    coverage: dict[str, str] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)
    sign_ins: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the run itself failed

    @property
    def logged_server_errors(self) -> int:
        return sum(n for counts in self.access.values() for status, n in counts.items()
                   if status >= 500)

    def failures(self) -> list[str]:
        found = []
        if self.ledger.server_errors:
            found.append(f"{self.ledger.server_errors} answers of 500 or more (or none)")
        if self.exceptions:
            found.append(f"{len(self.exceptions)} unhandled exceptions in the server log")
        if self.timeouts:
            found.append(f"{self.timeouts} worker timeouts")
        if self.logged_server_errors and not self.ledger.server_errors:
            found.append(f"{self.logged_server_errors} answers of 500 or more in the access log")
        check_failures = sum(len(r.failures) for r in self.schemathesis)
        if check_failures:
            found.append(f"{check_failures} schemathesis check failures")
        found.extend(self.errors)
        return found


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _table(rows: list[Row], title: str) -> list[str]:
    lines = [f"| {title} | roles | requests | 5xx | answers |", "|---|---|---:|---:|---|"]
    for row in sorted(rows, key=lambda r: r.label):
        answers = ", ".join(f"{s or 'none'}×{n}" for s, n in sorted(row.statuses.items()))
        if row.skipped:
            answers += f"; {row.skipped} not sent (form no longer offered)"
        lines.append(f"| `{row.label}` | {', '.join(sorted(row.roles))} | {row.requests} | "
                     f"{row.server_errors} | {answers} |")
    total = sum(r.requests for r in rows)
    errors = sum(r.server_errors for r in rows)
    lines.append(f"| **{len(rows)} in all** | | **{total}** | **{errors}** | |")
    return lines


def render(run: Run) -> str:
    ledger = run.ledger
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in ledger.rows.values():
        by_kind[row.kind].append(row)
    failures = run.failures()
    verdict = "FAILED: " + "; ".join(failures) if failures else \
        "PASSED: no answer of 500 or more, no server exception, no check failure"
    lines = [
        f"# make fuzz, {run.started}, commit {run.revision}",
        "",
        f"**{verdict}**",
        "",
        f"- Seed: **{run.seed}** (replay: `FUZZ_SEED={run.seed} make fuzz`)",
        f"- Command: `{run.command}`",
        f"- Duration: {_minutes(run.seconds)}",
        "- Settings: " + ", ".join(f"{k}={v}" for k, v in run.settings.items()),
        f"- Requests: {ledger.requests} in all; API "
        f"{sum(r.requests for r in by_kind['API'])}, forms "
        f"{sum(r.requests for r in by_kind['form'])}, pages "
        f"{sum(r.requests for r in by_kind['page'])}",
        f"- Answers of 500 or more (or none): {ledger.server_errors}; unhandled exceptions in "
        f"the server log: {len(run.exceptions)}; worker timeouts: {run.timeouts}; schemathesis "
        f"check failures: {sum(len(r.failures) for r in run.schemathesis)}",
        f"- The server's access log: {sum(sum(c.values()) for c in run.access.values())} "
        f"requests (the crawl and sign-ins included), {run.logged_server_errors} answers of "
        "500 or more",
    ]
    if any(run.sign_ins.values()):
        lines.append("- Signed in again during the run (a fuzzed form had changed the account): "
                     + ", ".join(f"{k} {v}×" for k, v in sorted(run.sign_ins.items()) if v))
    if run.repaired:
        lines.append(f"- Accounts restored between forms: {len(run.repaired)} repairs (e.g. "
                     + "; ".join(sorted(set(run.repaired))[:5]) + ")")
    lines += [f"- Run error: {e}" for e in run.errors]

    by_id = {f.fuzz_id: f for f in ledger.failures}
    if run.exceptions:
        lines += ["", "## Server exceptions, by cause", ""]
        groups: dict[str, list[ServerException]] = defaultdict(list)
        for exc in run.exceptions:
            groups[exc.signature].append(exc)
        for excs in sorted(groups.values(), key=len, reverse=True):
            first = excs[0]
            lines.append(f"### {len(excs)}× `{first.exception[:200]}`")
            lines.append(f"- {first.summary[:300]}")
            lines += [f"- `{frame[:200]}`" for frame in first.frames]
            for exc in excs[:3]:
                failure = by_id.get(exc.fuzz_id)
                if failure is not None:
                    lines.append(f"- input ({failure.role}, `{failure.label}`, {exc.fuzz_id}): "
                                 f"`{failure.method} {failure.path[:200]}` changed "
                                 f"`{failure.changed[:400]}`")
            lines.append("")
    web_failures = [f for f in ledger.failures if f.kind != "API"]
    if web_failures:
        lines += ["", "## Answers of 500 or more from forms and pages (first of each)", ""]
        seen = set()
        for f in web_failures:
            if (f.label, f.status) in seen:
                continue
            seen.add((f.label, f.status))
            lines.append(f"- `{f.label}` as {f.role}: {f.status or 'no answer'} ({f.fuzz_id}) "
                         f"for `{f.method} {f.path[:200]}` changed `{f.changed[:400]}`")
    if any(r.failures for r in run.schemathesis):
        lines += ["", "## Schemathesis failures", ""]
        for role_run in run.schemathesis:
            for failure in role_run.failures:
                lines.append(f"- {role_run.role}: `{failure['operation']}`: "
                             + "; ".join(failure_titles(failure["message"])))
            if role_run.failures:
                lines.append(f"  (details and curl reproductions: {role_run.output})")
    if run.schemathesis:
        lines += ["", "## Schemathesis runs", ""]
        lines += [f"- {r.role}: exit {r.exit_code}, {_minutes(r.seconds)}, "
                  f"{len(r.failures)} failures" for r in run.schemathesis]
    for kind, title in (("API", "API operation"), ("form", "Form"), ("page", "Page")):
        if by_kind[kind]:
            lines += ["", f"## {title}s", ""] + _table(by_kind[kind], title.lower())
    missed = {k: v for k, v in run.coverage.items() if v not in ("page", "form")
              and not v.startswith("API")}
    if missed:
        lines += ["", "## URL patterns not fuzzed", ""]
        lines += [f"- `{name}`: {why}" for name, why in sorted(missed.items())]
    return "\n".join(lines) + "\n"
