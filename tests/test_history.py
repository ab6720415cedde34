"""History that tells the truth (cases/history.py): every write path leaves a history row
naming the acting user, bulk writes included; records the audit logs vouch for, and users
named in history, cannot be deleted; and the history tables and audit logs are append-only
in the database itself, on PostgreSQL and on SQLite (TRUNCATE is PostgreSQL's only)."""

import ast
import datetime as dt
import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from simple_history.exceptions import NotHistoricalModelError

from cases import history, workflow
from cases.admin.scoping import save_record
from cases.concurrency import make_token
from cases.enums import Role, TaskState
from cases.enums import VerificationStatus as S
from cases.models import (
    Case,
    Claim,
    CustodyEntry,
    Evidence,
    IdentityReveal,
    Incident,
    Membership,
    RevealChannel,
    SourceIdentity,
    Task,
    VerificationEvent,
)
from cases.models.base import AppendOnlyQuerySet

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)
from .test_forms import open_and_submit, read_form, url

pytestmark = pytest.mark.django_db

User = get_user_model()
CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
POSTGRES_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL's trigger catalogue, TRUNCATE and deferred constraints")
SQLITE_ONLY = pytest.mark.skipif(connection.vendor != "sqlite",
                                 reason="SQLite's triggers (the local demo's database)")


def tracked_models():
    from django.apps import apps

    return [m for m in apps.get_app_config("cases").get_models() if history.is_history_tracked(m)]


def audit_logs():
    from django.apps import apps

    return [m for m in apps.get_app_config("cases").get_models()
            if isinstance(m._default_manager.all(), AppendOnlyQuerySet)]


def latest(obj):
    return obj.history.order_by("-history_date", "-history_id").first()


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def sourced_claim(case, reporter):
    claim = ClaimFactory(case=case, statement="Ten conscripts deserted.", created_by=reporter)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"))
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="Astra"))
    return claim


# --- the rule, in the code --------------------------------------------------------------------

# Calls that write around django-simple-history's signals (or run SQL) and where they may
# stay: (file, receiver, method) -> why. Everything else in cases/ writes through save() and
# delete(), or through the helpers of cases/history.py.
BULK_WRITES = {"update", "bulk_create", "bulk_update", "raw", "execute", "executemany",
               "_raw_delete", "_update", "_insert", "_batched_insert", "update_batch",
               "delete_batch"}
ALLOWED_BULK_WRITES = {
    ("cases/crypto.py", "manager.filter(pk=pk)", "update"):
        "write_raw() stores encryption tokens as they are: key rotation (under "
        "history_maintenance) and migration 0002; a new token for the same value, not an edit",
    ("cases/management/commands/rotate_encryption_keys.py",
     "Authenticator.objects.filter(pk=authenticator.pk)", "update"):
        "allauth's Authenticator (a user's second factor) is not history-tracked; rotation "
        "re-encrypts the same secret",
    ("cases/admin/pagination.py", "cursor", "execute"):
        "EXPLAIN and pg_class.reltuples: PostgreSQL's row estimates for the admin's paginator",
    ("cases/models/reveal.py", "self", "bulk_create"):
        "IdentityReveal is an append-only log, not history-tracked",
    ("cases/models/evidence.py", "digest", "update"): "hashlib",
    ("cases/uploads.py", "digest", "update"): "hashlib",
    ("cases/deletion.py", "held_elsewhere", "update"): "a set",
    ("cases/deletion.py", "CustodyEntry.objects", "bulk_create"):
        "CustodyEntry (a purge's \"purged\" entries) is an append-only log, not "
        "history-tracked",
    ("cases/models/incident.py", "errors", "update"): "a dict",
    ("cases/models/source.py", "errors", "update"): "a dict",
    ("cases/models/source.py", "super()", "bulk_create"):
        "CitationQuerySet.bulk_create seals protected addresses, then bulk_create_with_history "
        "(its only caller) writes the history rows",
    ("cases/views/health.py", "cursor", "execute"): "SELECT 1",
    ("cases/revisions.py", "cursor", "execute"):
        "DDL: the triggers behind Case.content_version, and reading which are installed",
    ("cases/search.py", "cursor", "execute"):
        "read-only: a query's node count, and planner settings (set_config, local to the "
        "search's transaction)",
}
HELPER_MODULE = "cases/history.py"  # the helpers themselves, and the trigger's SQL

# The only code that may let statements past the append-only trigger.
ALLOWED_MAINTENANCE = {"cases/management/commands/rotate_encryption_keys.py",
                       # An address that became part of an identity leaves the history
                       # table's clear column (a citation's moves to its encrypted one).
                       "cases/identities.py"}


def _calls():
    """(file, receiver, method, line) of every method call in cases/ (migrations aside)."""
    for path in sorted(CASES_DIR.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        relative = path.relative_to(CASES_DIR.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute):
                    yield relative, ast.unparse(func.value), func.attr, node.lineno
                elif isinstance(func, ast.Name):
                    yield relative, "", func.id, node.lineno


def test_no_write_bypasses_history_outside_the_helpers():
    found = {(path, receiver, method): line for path, receiver, method, line in _calls()
             if method in BULK_WRITES and path != HELPER_MODULE}
    unexpected = sorted(f"{path}:{line}: {receiver}.{method}(…)"
                        for (path, receiver, method), line in found.items()
                        if (path, receiver, method) not in ALLOWED_BULK_WRITES)
    assert not unexpected, (
        "These calls write without a history row (or run raw SQL). Write history-tracked "
        "records with save()/delete() or with cases.history.bulk_create_with_history / "
        "bulk_update_with_history / update_with_history, which record the acting user; if "
        "the call is not about history-tracked data, add it to ALLOWED_BULK_WRITES with the "
        "reason:\n" + "\n".join(unexpected))
    stale = set(ALLOWED_BULK_WRITES) - set(found)
    assert not stale, f"ALLOWED_BULK_WRITES lists calls that are gone: {sorted(stale)}"


def test_no_copy_into_a_table_outside_the_history_helper():
    """PostgreSQL's COPY (the bulk import's fast path) writes no history row by itself: only
    cases.history.copy_create_with_history, which writes the history rows beside, may use it."""
    offenders = []
    for path in sorted(CASES_DIR.rglob("*.py")):
        relative = path.relative_to(CASES_DIR.parent).as_posix()
        if "migrations" in path.parts or relative == HELPER_MODULE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"[\"']COPY\s", line):  # a COPY statement's SQL starts a string
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
    assert "COPY" in (CASES_DIR / "history.py").read_text()


def test_no_many_to_many_add_bypasses_history():
    # `case.members.add(user)` writes Membership rows with bulk_create (no history row):
    # memberships are saved one by one (MemberAddForm, the admin, seed_demo).
    relations = {f.name for m in tracked_models() for f in m._meta.many_to_many}
    assert relations == {"members"}
    found = [f"{path}:{line}: {receiver}.{method}(…)"
             for path, receiver, method, line in _calls()
             if method in {"add", "set", "create", "get_or_create", "update_or_create"}
             and receiver.rsplit(".", 1)[-1] in relations]
    assert not found


def test_only_key_rotation_uses_history_maintenance():
    users = {path for path, _receiver, method, _line in _calls()
             if method == "history_maintenance" and path != HELPER_MODULE}
    assert users == ALLOWED_MAINTENANCE


def test_every_history_model_protects_the_user_who_acted():
    models_ = tracked_models()
    assert {m.__name__ for m in models_} >= {
        "Case", "Membership", "IncidentType", "Incident", "Source", "SourceIdentity", "Claim",
        "Citation", "Evidence", "Task", "CommentRequest"}
    for model in models_:
        field = model.history.model._meta.get_field("history_user")
        assert field.remote_field.on_delete is models.PROTECT, model


def test_every_audit_log_is_guarded_and_outlives_nothing():
    logs = audit_logs()
    assert set(logs) == {VerificationEvent, CustodyEntry, IdentityReveal}
    assert {m._meta.db_table for m in logs} == set(history.APPEND_ONLY_LOGS)
    for model in logs:
        # The record an entry belongs to cannot be deleted while it has entries; the only
        # links a deletion may rewrite are the ones the trigger lets be cleared.
        cleared = {f.column for f in model._meta.concrete_fields
                   if f.many_to_one and f.remote_field.on_delete is models.SET_NULL}
        assert cleared == set(history.APPEND_ONLY_LOGS[model._meta.db_table]), model
        assert not [f for f in model._meta.concrete_fields
                    if f.many_to_one and f.remote_field.on_delete is models.CASCADE], model
        assert not history.is_history_tracked(model)


# --- the bulk helpers -------------------------------------------------------------------------

def test_bulk_create_with_history_records_the_acting_user(case, editor):
    tasks = history.bulk_create_with_history(
        [Task(case=case, title=f"Archive link {n}", created_by=editor) for n in range(3)],
        user=editor, reason="imported")
    assert Task.objects.count() == 3 and all(t.pk for t in tasks)
    rows = list(Task.history.order_by("history_id"))
    assert [(r.id, r.history_type, r.history_user, r.history_change_reason) for r in rows] == [
        (t.pk, "+", editor, "imported") for t in tasks]


def test_bulk_update_with_history_records_what_is_stored_and_moves_the_version(case, editor):
    tasks = [TaskFactory(case=case) for _ in range(3)]
    before = {t.pk: t.updated_at for t in tasks}
    for task in tasks:
        task.state = TaskState.DONE
        task.notes = "in memory only"  # not among the fields written
    assert history.bulk_update_with_history(tasks, ["state"], user=editor) == 3
    for task in Task.objects.all():
        assert task.state == TaskState.DONE and task.notes == ""
        assert task.updated_at > before[task.pk]
        row = latest(task)
        assert (row.history_type, row.history_user, row.state, row.notes) == (
            "~", editor, TaskState.DONE, "")
        assert row.updated_at == task.updated_at


def test_update_with_history_is_queryset_update_with_a_history_row(case, editor):
    mine = [TaskFactory(case=case) for _ in range(2)]
    other = TaskFactory(case=case, state=TaskState.CANCELLED)
    updated = history.update_with_history(
        Task.objects.filter(pk__in=[t.pk for t in mine]), user=editor, reason="closed",
        state=TaskState.DONE)
    assert updated == 2
    for task in mine:
        row = latest(task)
        assert (row.history_type, row.history_user, row.history_change_reason, row.state) == (
            "~", editor, "closed", TaskState.DONE)
    assert other.history.count() == 1
    assert history.update_with_history(Task.objects.none(), user=editor, state="done") == 0


def test_bulk_helpers_refuse_models_without_history(case, reporter, sourced_claim):
    event = workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Agreed.")
    with pytest.raises(NotHistoricalModelError):
        history.bulk_update_with_history([event], ["note"], user=reporter)
    with pytest.raises(NotHistoricalModelError):
        history.update_with_history(VerificationEvent.objects.all(), user=reporter, note="x")
    with pytest.raises(TypeError):
        history.bulk_create_with_history([Task(case=case), Claim(case=case)], user=reporter)


# --- every write path names the acting user -------------------------------------------------

@pytest.mark.parametrize(("name", "factory"), [
    ("incident_edit", lambda case: IncidentFactory(case=case)),
    ("source_edit", lambda case: SourceFactory(case=case)),
    ("claim_edit", lambda case: ClaimFactory(case=case)),
    ("task_edit", lambda case: TaskFactory(case=case)),
    ("commentrequest_edit", lambda case: CommentRequestFactory(case=case)),
])
def test_workspace_edit_form_records_the_user(client, case, reporter, name, factory):
    record = factory(case)
    client.force_login(reporter)
    response = open_and_submit(client, url(name, case, record.pk))
    assert response.status_code == 302
    row = latest(record)
    assert (row.history_type, row.history_user) == ("~", reporter)


def test_workspace_create_forms_record_the_user(client, case, reporter, editor):
    client.force_login(reporter)
    response = open_and_submit(client, url("task_create", case), title="Geolocate the photo")
    assert response.status_code == 302
    task = Task.objects.get()
    assert [(r.history_type, r.history_user) for r in task.history.all()] == [("+", reporter)]

    client.force_login(editor)
    assert open_and_submit(client, url("case_edit", case), summary="Updated.").status_code == 302
    assert (latest(case).history_type, latest(case).history_user) == ("~", editor)
    # Taking a member off the case is a deletion, in the editor's name.
    membership = Membership.objects.get(user=reporter)
    remove = url("member_remove", case, membership.pk)
    page = client.get(url("member_edit", case, membership.pk))
    assert client.post(remove, read_form(page, action=remove)).status_code == 302
    deletion = Membership.history.get(id=membership.pk, history_type="-")
    assert deletion.history_user == editor


def test_workflow_records_the_actor_and_the_status_as_stored(case, reporter, editor,
                                                            second_editor, sourced_claim):
    workflow.transition(sourced_claim, S.IN_REVIEW, actor=reporter)
    workflow.propose(sourced_claim, S.CONFIRMED, actor=editor, note="Both outlets agree.")
    workflow.transition(sourced_claim, S.CONFIRMED, actor=second_editor, note="Agreed.")
    rows = list(sourced_claim.history.order_by("history_id"))
    assert [(r.history_type, r.history_user, r.status, r.proposed_verdict) for r in rows] == [
        ("+", None, S.UNVERIFIED, ""),  # made by a factory, outside any request
        ("~", reporter, S.IN_REVIEW, ""),
        ("~", editor, S.IN_REVIEW, S.CONFIRMED),
        ("~", second_editor, S.CONFIRMED, ""),
    ]


def test_admin_save_of_a_claim_records_the_status_as_stored(case, reporter, sourced_claim):
    # The admin read the claim before the workflow moved it, and saves after.
    stale = Claim.objects.get(pk=sourced_claim.pk)
    workflow.transition(sourced_claim, S.IN_REVIEW, actor=reporter)
    stale.statement = "Eleven conscripts deserted."
    stale._history_user = reporter
    save_record(stale)
    stored = Claim.objects.get(pk=sourced_claim.pk)
    assert (stored.statement, stored.status) == ("Eleven conscripts deserted.", S.IN_REVIEW)
    row = latest(stored)
    assert (row.statement, row.status, row.history_user) == (
        "Eleven conscripts deserted.", S.IN_REVIEW, reporter)


def test_seed_demo_names_a_user_on_every_history_row(settings):
    settings.DEMO_ALLOWED = True
    call_command("seed_demo", stdout=StringIO())
    written = [m for m in tracked_models() if m.history.exists()]
    assert len(written) >= 8  # the demo has no evidence file
    for model in written:
        assert not model.history.filter(history_user__isnull=True).exists(), model


def admin_change_url(obj):
    return reverse(f"admin:cases_{obj._meta.model_name}_change", args=[obj.pk])


def test_admin_add_change_and_delete_record_the_user(client, case, superuser, reporter):
    client.force_login(superuser)
    due = timezone.localdate() + dt.timedelta(days=2)
    form = {"case": case.pk, "title": "Ask the ministry", "notes": "", "assignee": reporter.pk,
            "due_on": due.isoformat(), "state": TaskState.OPEN, "claim": "", "incident": ""}
    response = client.post(reverse("admin:cases_task_add"), form)
    assert response.status_code == 302
    task = Task.objects.get()
    # The admin's change form carries the record's version token (cases/admin/versions.py).
    response = client.post(admin_change_url(task), {**form, "state": TaskState.DONE,
                                                    "version": make_token(task)})
    assert response.status_code == 302
    response = client.post(reverse("admin:cases_task_delete", args=[task.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Task.objects.exists()
    rows = Task.history.filter(id=task.pk).order_by("history_id")
    assert [(r.history_type, r.history_user, r.state) for r in rows] == [
        ("+", superuser, TaskState.OPEN), ("~", superuser, TaskState.DONE),
        ("-", superuser, TaskState.DONE)]


def test_admin_delete_selected_records_the_user_for_each_record(client, case, make_member,
                                                                make_staff):
    editor = make_staff(make_member(Role.EDITOR, username="desk-editor"))
    tasks = [TaskFactory(case=case) for _ in range(3)]
    client.force_login(editor)
    response = client.post(reverse("admin:cases_task_changelist"), {
        "action": "delete_selected", ACTION_CHECKBOX_NAME: [t.pk for t in tasks[:2]],
        "post": "yes"})
    assert response.status_code == 302
    assert list(Task.objects.all()) == [tasks[2]]
    deletions = Task.history.filter(history_type="-")
    assert {(r.id, r.history_user) for r in deletions} == {(t.pk, editor) for t in tasks[:2]}


def test_deleting_a_record_gives_the_records_it_unlinks_a_history_row(client, case, superuser):
    incident = IncidentFactory(case=case)
    claim = ClaimFactory(case=case, incident=incident)
    task = TaskFactory(case=case, incident=incident)
    comment = CommentRequestFactory(case=case, incident=incident)
    versions = {obj: obj.updated_at for obj in (claim, task, comment)}
    client.force_login(superuser)
    response = client.post(reverse("admin:cases_incident_delete", args=[incident.pk]),
                           {"post": "yes"})
    assert response.status_code == 302
    assert not Incident.objects.exists()
    for obj, version in versions.items():
        obj.refresh_from_db()
        assert obj.incident is None and obj.updated_at > version
        row = latest(obj)
        assert (row.history_type, row.history_user, row.incident_id) == ("~", superuser, None)
        assert row.history_change_reason == "incident cleared: the incident was deleted"
    assert Incident.history.get(history_type="-").history_user == superuser


def test_records_deleted_along_get_no_unlink_row(case, editor):
    claim = ClaimFactory(case=case)
    task = TaskFactory(case=case, claim=claim)
    case._history_user = editor
    case.delete()  # takes the claim and the task; the task's link to the claim goes too
    assert not Task.objects.exists()
    assert [r.history_type for r in Task.history.filter(id=task.pk).order_by("history_id")] \
        == ["+", "-"]


# --- what cannot be deleted ------------------------------------------------------------------

def test_claim_with_verification_history_cannot_be_deleted(case, reporter, sourced_claim):
    workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Both agree.")
    with pytest.raises(ProtectedError):
        sourced_claim.delete()
    with pytest.raises(ProtectedError):
        case.delete()
    assert Claim.objects.filter(pk=sourced_claim.pk).exists()
    assert sourced_claim.events.count() == 1


def test_evidence_with_a_custody_log_and_case_with_reveals_cannot_be_deleted(case, reporter):
    evidence = EvidenceFactory(case=case)
    CustodyEntry.objects.create(evidence=evidence, action=CustodyEntry.Action.COLLECTED,
                                actor=reporter)
    with pytest.raises(ProtectedError):
        evidence.delete()
    other = CaseFactory()
    IdentityReveal.objects.record(reporter, [SourceFactory(case=other, protected=True)],
                                  RevealChannel.SOURCE_PAGE)
    with pytest.raises(ProtectedError):
        other.delete()
    assert Evidence.objects.filter(pk=evidence.pk).exists() and Case.objects.filter(
        pk=other.pk).exists()


def test_admin_refuses_to_delete_a_claim_with_verification_history_clearly(
        client, case, superuser, reporter, sourced_claim):
    workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Both agree.")
    client.force_login(superuser)
    for path, data in [
        (reverse("admin:cases_claim_delete", args=[sourced_claim.pk]), {"post": "yes"}),
        (reverse("admin:cases_claim_changelist"),
         {"action": "delete_selected", ACTION_CHECKBOX_NAME: [sourced_claim.pk],
          "post": "yes"}),
        (reverse("admin:cases_case_delete", args=[case.pk]), {"post": "yes"}),
    ]:
        response = client.post(path, data)
        assert response.status_code == 200, path  # the page again, not a 500
        assert "would require deleting the following protected related objects" in \
            response.content.decode()
    assert Claim.objects.filter(pk=sourced_claim.pk).exists()
    assert sourced_claim.events.count() == 1


def test_a_user_named_in_history_cannot_be_deleted(client, case, superuser, reporter):
    incident = IncidentFactory(case=case)
    incident._history_user = reporter
    incident.title = "Renamed"
    incident.save()
    with pytest.raises(ProtectedError):
        reporter.delete()
    client.force_login(superuser)
    response = client.post(reverse("admin:auth_user_delete", args=[reporter.pk]),
                           {"post": "yes"})
    assert response.status_code == 200
    assert "protected related objects" in response.content.decode()
    assert User.objects.filter(pk=reporter.pk).exists()
    assert latest(incident).history_user == reporter


# --- the tables refuse rewrites (PostgreSQL and SQLite) ----------------------------------------

def execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def refused(sql, params=()):
    """Run `sql` expecting the trigger's refusal; the statement's savepoint is rolled back."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        execute(sql, params)
    if connection.vendor == "postgresql":
        import psycopg

        assert isinstance(caught.value.__cause__, psycopg.errors.RestrictViolation)
    else:
        assert caught.value.__cause__.sqlite_errorname == "SQLITE_CONSTRAINT_TRIGGER"
    assert "append-only" in str(caught.value)


def table_rows(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")
        return cursor.fetchall()


@pytest.fixture
def logged(case, reporter, sourced_claim):
    """A claim with history and a verification event, evidence with a custody entry, and an
    identity reveal."""
    workflow.propose(sourced_claim, S.CONFIRMED, actor=reporter, note="Both agree.")
    CustodyEntry.objects.create(evidence=EvidenceFactory(case=case),
                                action=CustodyEntry.Action.COLLECTED, actor=reporter)
    source = SourceFactory(case=case, name="Insider-7", protected=True)
    SourceIdentity.objects.create(source=source, real_name="Real Person")
    IdentityReveal.objects.record(reporter, [source], RevealChannel.SOURCE_PAGE)
    return sourced_claim


GUARDED_SAMPLES = {
    "cases_historicalclaim": "statement = 'Rewritten'",
    "cases_historicalsourceidentity": "real_name = 'plaintext'",
    "cases_historicalmembership": "role = 'editor'",
    "cases_verificationevent": "note = 'Rewritten'",
    "cases_custodyentry": "note = 'Rewritten'",
    "cases_identityreveal": "source_name = 'Someone else'",
}


@pytest.mark.parametrize(("table", "change"), GUARDED_SAMPLES.items())
def test_update_delete_and_truncate_are_refused_by_the_database(logged, table, change):
    before = table_rows(table)
    assert before
    refused(f"UPDATE {table} SET {change}")
    refused(f"DELETE FROM {table}")
    if connection.vendor == "postgresql":
        # Django's foreign keys are checked at commit; PostgreSQL will not even consider a
        # TRUNCATE while checks are pending in the transaction (the test's), so run them now.
        execute("SET CONSTRAINTS ALL IMMEDIATE")
        refused(f"TRUNCATE {table}")
        refused(f"TRUNCATE {table} CASCADE")
    assert table_rows(table) == before


def test_the_orm_meets_the_same_refusal(logged):
    row = latest(logged)
    reason = row.history_change_reason
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.history.filter(pk=row.pk).update(statement="Rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        row.history_change_reason = "edited later"
        row.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.history.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        execute("DELETE FROM cases_verificationevent WHERE claim_id = %s", [logged.pk])
    assert latest(logged).history_change_reason == reason
    assert Claim.history.filter(id=logged.pk).count() == 2 and logged.events.count() == 1


def test_a_deleted_source_clears_its_reveals_link_and_nothing_else(logged, reporter):
    reveal = IdentityReveal.objects.get()
    refused("UPDATE cases_identityreveal SET source_id = NULL, source_name = 'x'")
    refused("UPDATE cases_identityreveal SET source_id = %s",
            [SourceFactory(case=logged.case).pk])
    source = reveal.source
    source.identity.delete()
    source.delete()  # the collector sets source_id to NULL: let through
    reveal.refresh_from_db()
    assert (reveal.source_id, reveal.source_name) == (None, "Insider-7")
    refused("UPDATE cases_identityreveal SET source_id = NULL, channel = 'admin_list'")


@POSTGRES_ONLY
def test_every_history_table_and_audit_log_has_the_triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, t.tgtype FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT t.tgisinternal")
        triggers = {}
        for table, name, tgtype in cursor.fetchall():
            triggers.setdefault(table, {})[name] = tgtype
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name LIKE 'cases\\_historical%%'")
        history_tables = {row[0] for row in cursor.fetchall()}
    assert history_tables == {m.history.model._meta.db_table for m in tracked_models()}
    # pg_trigger.tgtype bits: 1 row, 2 before, 8 delete, 16 update, 32 truncate.
    for table in history_tables | set(history.APPEND_ONLY_LOGS):
        assert triggers[table][history.ROW_TRIGGER] == 1 | 2 | 8 | 16, table
        assert triggers[table][history.TRUNCATE_TRIGGER] == 2 | 32, table
    unguarded = {t for t, names in triggers.items() if history.ROW_TRIGGER in names} - (
        history_tables | set(history.APPEND_ONLY_LOGS))
    assert not unguarded  # no live table of case data is append-only by mistake


@SQLITE_ONLY
def test_every_history_table_and_audit_log_has_the_sqlite_triggers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND name LIKE 'cases\\_historical%' ESCAPE '\\'")
        history_tables = {row[0] for row in cursor.fetchall()}
    assert history_tables == {m.history.model._meta.db_table for m in tracked_models()}
    expected = {table: {f"{history.SQLITE_TRIGGER_PREFIX}{table}__update",
                        f"{history.SQLITE_TRIGGER_PREFIX}{table}__delete"}
                for table in history_tables | set(history.APPEND_ONLY_LOGS)}
    assert history.sqlite_triggers(connection) == expected


@SQLITE_ONLY
def test_sqlite_triggers_follow_the_columns_a_migration_adds_and_drops(logged):
    """The reveal log's trigger names the columns it compares: migrate drops it first (SQLite
    refuses to drop a column a trigger names) and makes it again after, with a new column."""
    from django.apps import apps

    cases_app = apps.get_app_config("cases")
    execute("ALTER TABLE cases_identityreveal ADD COLUMN added_later text DEFAULT 'kept'")
    history._guard_new_tables(cases_app, using="default")
    refused("UPDATE cases_identityreveal SET added_later = 'changed'")
    refused("UPDATE cases_identityreveal SET source_id = NULL, added_later = 'changed'")

    history._drop_column_naming_triggers(cases_app, using="default")
    execute("ALTER TABLE cases_identityreveal DROP COLUMN added_later")
    history._guard_new_tables(cases_app, using="default")
    refused("UPDATE cases_identityreveal SET source_name = 'Someone else'")
    assert IdentityReveal.objects.get().source_name == "Insider-7"


def test_a_history_table_created_later_gets_the_guard_after_migrate(db):
    from django.apps import apps

    key = "serial" if connection.vendor == "postgresql" else "integer"
    execute(f"CREATE TABLE cases_historicalnewthing (history_id {key} PRIMARY KEY, x text)")
    execute("INSERT INTO cases_historicalnewthing (x) VALUES ('kept')")
    history._guard_new_tables(apps.get_app_config("cases"), using="default")
    refused("UPDATE cases_historicalnewthing SET x = 'changed'")
    refused("DELETE FROM cases_historicalnewthing")
    if connection.vendor == "postgresql":
        execute("SET CONSTRAINTS ALL IMMEDIATE")
        refused("TRUNCATE cases_historicalnewthing")
    assert table_rows("cases_historicalnewthing") == [(1, "kept")]


# --- the maintenance mechanism ---------------------------------------------------------------

def test_maintenance_needs_a_reason(db):
    with pytest.raises(ValueError), history.history_maintenance(reason=" "):
        pass


def test_maintenance_lets_an_update_through_inside_the_block_only(logged):
    row = latest(logged)
    sql = "UPDATE cases_historicalclaim SET history_change_reason = %s WHERE history_id = %s"
    with transaction.atomic():  # the outer transaction goes on after the block
        with history.history_maintenance(reason="test"):
            assert execute(sql, ["re-keyed", row.pk]) == 1
        refused(sql, ["after the block", row.pk])
    row.refresh_from_db()
    assert row.history_change_reason == "re-keyed"


def test_maintenance_ends_with_the_block_when_it_fails(logged):
    row = latest(logged)
    reason = row.history_change_reason
    sql = "UPDATE cases_historicalclaim SET history_change_reason = %s WHERE history_id = %s"
    with pytest.raises(RuntimeError), history.history_maintenance(reason="test"):
        execute(sql, ["rolled back", row.pk])
        raise RuntimeError
    refused(sql, ["after the failure", row.pk])
    row.refresh_from_db()
    assert row.history_change_reason == reason


@pytest.mark.django_db(transaction=True)
def test_maintenance_is_transaction_local():
    case = CaseFactory(title="Committed")
    row = latest(case)
    sql = "UPDATE cases_historicalcase SET history_change_reason = %s WHERE history_id = %s"
    with history.history_maintenance(reason="test"):
        execute(sql, ["committed under maintenance", row.pk])
    # Committed; the next transaction (and the next statement in autocommit) is refused.
    row.refresh_from_db()
    assert row.history_change_reason == "committed under maintenance"
    refused(sql, ["next transaction", row.pk])
    with pytest.raises(IntegrityError):
        execute(sql, ["autocommit", row.pk])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT coalesce(current_setting(%s, true), '')",
                           [history.MAINTENANCE_SETTING])
            assert cursor.fetchone()[0] in ("", "off")
        else:
            cursor.execute(f"SELECT count(*) FROM {history.SQLITE_FLAG_TABLE}")
            assert cursor.fetchone()[0] == 0
    row.refresh_from_db()
    assert row.history_change_reason == "committed under maintenance"


def test_key_rotation_rewrites_history_under_maintenance_only(case, settings):
    from cryptography.fernet import Fernet

    identity = SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="A B")
    before = table_rows("cases_historicalsourceidentity")
    settings.CASEDESK_ENCRYPTION_KEYS = [Fernet.generate_key().decode(),
                                         *settings.CASEDESK_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys", stdout=StringIO())
    after = table_rows("cases_historicalsourceidentity")
    assert len(after) == len(before) and after != before  # rewritten in place, not appended
    assert SourceIdentity.history.get(id=identity.pk).real_name == "A B"
    refused("UPDATE cases_historicalsourceidentity SET real_name = NULL")
