"""The count of what was sent: requests and answers per API operation, form and page, and
every answer of 500 or more (or no answer at all) with what had been changed to get it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

KEEP_FAILURES_PER_TARGET = 20


def short(value: object, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}…({len(text)} chars)"


@dataclass
class Row:
    kind: str  # "API", "form", "page"
    label: str
    roles: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    skipped: int = 0  # examples not sent: the form was no longer offered

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 or status == 0)


@dataclass
class Failure:
    kind: str
    label: str
    role: str
    method: str
    path: str
    status: int
    fuzz_id: str
    changed: str


class Ledger:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.failures: list[Failure] = []

    def row(self, kind: str, label: str) -> Row:
        return self.rows.setdefault((kind, label), Row(kind, label))

    def record(self, kind: str, label: str, role: str, *, method: str = "", path: str = "",
               status: int | None = None, fuzz_id: str = "", changed: object = None) -> None:
        row = self.row(kind, label)
        row.roles.add(role)
        if status is None:
            row.skipped += 1
            return
        row.requests += 1
        row.statuses[status] += 1
        if (status >= 500 or status == 0) and sum(
                1 for f in self.failures if f.label == label) < KEEP_FAILURES_PER_TARGET:
            self.failures.append(Failure(kind, label, role, method, short(path, 300), status,
                                         fuzz_id, short(changed, 600)))

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.rows.values())

    @property
    def server_errors(self) -> int:
        return sum(r.server_errors for r in self.rows.values())
