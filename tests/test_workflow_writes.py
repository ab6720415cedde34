"""Only cases/workflow.py writes a claim's status and proposed verdict (DESIGN.md: the status
is the last verification event's). The project's Python code is read, not run: any
assignment, ORM write or column list that names those fields elsewhere fails here, unless it
is listed below with the reason it may.

`proposed_verdict` and `proposed_by` are the claim's alone. `status` is also a case's, a
task result's…: its write counts as a claim's when the code names a claim (`claim.status`,
`Claim.objects…`, `claims.update(…)`) or writes a verification status (`S.CONFIRMED`,
`VerificationStatus.FALSE`, "in_review")."""

import ast
import re
from pathlib import Path

from cases.enums import VerificationStatus

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = "cases/workflow.py"
# The fields only the workflow writes (proposed_by goes with proposed_verdict).
CLAIM_ONLY_FIELDS = frozenset({"proposed_verdict", "proposed_by", "proposed_by_id"})
WORKFLOW_FIELDS = CLAIM_ONLY_FIELDS | {"status"}
# Not scanned: tests put claims in a starting state on purpose (they test the workflow), and
# migrations and the virtualenv are not the project's running code.
SKIPPED_DIRS = frozenset({".venv", ".git", "tests", "migrations", "node_modules"})
ORM_WRITES = frozenset({"update", "create", "get_or_create", "update_or_create"})
BULK_UPDATES = frozenset({"bulk_update", "bulk_update_with_history"})
SQL_WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE|COPY)\s+\"?cases_claim\b", re.IGNORECASE)

# (file, what) → why it may write the workflow's fields without the workflow.
ALLOWED = {
    ("bench/generate.py", "CLAIM_COLUMNS"):
        "benchmark data, a million claims loaded with COPY around Django (bench/generate.py, "
        "and bench/pages.py with the same rows): statuses drawn at random, each with the "
        "verification event it implies (write_status_events), so the status is still the "
        "last event's. Going through the workflow claim by claim would take hours.",
}


def _python_files():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if not SKIPPED_DIRS.intersection(relative.parts[:-1]):
            yield relative.as_posix(), path


def _names(node) -> set[str]:
    """The string constants of a list, tuple or set literal."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return {e.value for e in node.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def _targets(node):
    for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
        yield from (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target])


def _names_a_claim(code: str) -> bool:
    return "claim" in code.lower()


def _is_verification_status(node) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in VerificationStatus.values
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in ("S", "VerificationStatus"))


def _claims(field: str, receiver: str, value=None) -> bool:
    """Whether writing `field` of `receiver` (with `value`, when known) writes a claim's."""
    if field in CLAIM_ONLY_FIELDS:
        return True
    return field == "status" and (_names_a_claim(receiver)
                                  or (value is not None and _is_verification_status(value)))


def _writes(tree):
    """(what, line) of every write of a workflow field the tree's code makes."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in _targets(node):
                if isinstance(target, ast.Attribute) and target.attr in WORKFLOW_FIELDS \
                        and _claims(target.attr, ast.unparse(target.value), node.value):
                    yield ast.unparse(target), node.lineno
            # A list of the claim table's columns (its foreign keys by column name, as SQL
            # and COPY name them) with a workflow field: raw SQL writes it.
            columns = _names(node.value) if node.value is not None else set()
            if "proposed_by_id" in columns and columns & {"status", "proposed_verdict"}:
                yield ", ".join(ast.unparse(t) for t in _targets(node)), node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            receiver = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            call = f"{receiver}.{method}(…)" if receiver else f"{method}(…)"
            if (method == "setattr" and len(node.args) > 2
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in WORKFLOW_FIELDS
                    and _claims(node.args[1].value, ast.unparse(node.args[0]), node.args[2])):
                yield f"setattr(…, {node.args[1].value!r})", node.lineno
            written = {k.arg: k.value for k in node.keywords if k.arg}
            for k in node.keywords:
                if k.arg in ("defaults", "create_defaults") and isinstance(k.value, ast.Dict):
                    pairs = zip(k.value.keys, k.value.values, strict=True)
                    written |= {key.value: value for key, value in pairs
                                if isinstance(key, ast.Constant)}
            if (method in ORM_WRITES or method in ("Claim", "ClaimFactory")) and any(
                    _claims(field, call, value) for field, value in written.items()
                    if field in WORKFLOW_FIELDS):
                yield call, node.lineno
            fields = set()
            for k in node.keywords:
                if k.arg in ("update_fields", "fields"):
                    fields |= _names(k.value)
            if method in BULK_UPDATES and len(node.args) > 1:
                fields |= _names(node.args[1])
            if (method in BULK_UPDATES or method == "save" or "update_fields" in written) \
                    and any(_claims(field, ast.unparse(node)) for field in fields
                            if field in WORKFLOW_FIELDS):
                yield call, node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SQL_WRITE.search(node.value):
            yield "SQL: " + " ".join(node.value.split())[:60], node.lineno


def _found() -> dict[tuple[str, str], int]:
    found = {}
    for relative, path in _python_files():
        tree = ast.parse(path.read_text(), filename=relative)
        for what, line in _writes(tree):
            found.setdefault((relative, what), line)
    return found


def test_only_the_workflow_writes_a_claims_status_or_proposed_verdict():
    found = _found()
    unexpected = sorted(f"{path}:{line}: {what}" for (path, what), line in found.items()
                        if path != WORKFLOW and (path, what) not in ALLOWED)
    assert not unexpected, (
        "Only cases/workflow.py writes a claim's status and proposed verdict (with the "
        "verification event that records the move): call workflow.transition() or "
        "workflow.propose(). If this is not a claim's field, or writes it for a reason that "
        "holds, add it to ALLOWED with the reason:\n" + "\n".join(unexpected))
    stale = set(ALLOWED) - set(found)
    assert not stale, f"ALLOWED lists writes that are gone: {sorted(stale)}"


def test_the_scan_sees_the_workflows_own_writes():
    """The rule is only as good as what it recognises: the workflow's writes are found."""
    in_workflow = {what for (path, what) in _found() if path == WORKFLOW}

    assert {"locked.proposed_verdict", "locked.proposed_by", "locked.save(…)"} <= in_workflow


def test_the_scan_recognises_each_kind_of_write():
    source = """
claim.status = "confirmed"
claim.proposed_verdict, claim.proposed_by = "false", user
record.status = S.FALSE
setattr(claim, "status", "false")
Claim.objects.filter(pk=1).update(status="confirmed")
Claim.objects.create(case=case, status=to_status)
Claim.objects.update_or_create(pk=1, defaults={"proposed_verdict": "false"})
Claim(statement="x", status="false")
Claim.objects.bulk_update(claims, ["status"])
record.save(update_fields=["proposed_verdict"])
COLUMNS = ["id", "statement", "status", "proposed_by_id"]
cursor.execute("UPDATE cases_claim SET status = 'false'")
render(request, "page.html", status=400)
Case.objects.filter(pk=1).values("status")
case.status = CaseStatus.CLOSED
Case.objects.filter(pk=1).update(status=CaseStatus.CLOSED)
TaskResult.objects.filter(pk=1).update(status=TaskResultStatus.READY)
"""
    found = sorted(what for what, _line in _writes(ast.parse(source)))

    assert found == sorted([
        "claim.status", "claim.proposed_verdict", "claim.proposed_by", "record.status",
        "setattr(…, 'status')", "Claim.objects.filter(pk=1).update(…)",
        "Claim.objects.create(…)", "Claim.objects.update_or_create(…)", "Claim(…)",
        "Claim.objects.bulk_update(…)", "record.save(…)", "COLUMNS",
        "SQL: UPDATE cases_claim SET status = 'false'"])
