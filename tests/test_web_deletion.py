"""Deleting records in the workspace and restoring them (cases/deletion.py,
cases/views/deletion.py): editors only, with a confirmation carrying the record's version,
history rows for both, 30 days to restore, protected identities never shown."""

import datetime as dt
import re
import threading
import time

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from cases.deletion import (
    CUSTODY_DELETED,
    CUSTODY_RESTORED,
    NOT_DELETED,
    RECORD_AUDITED,
    RECORD_IN_USE,
    RESTORE_BLOCKED,
    RESTORE_EXPIRED,
    DeletionRefused,
    delete_record,
    recently_deleted,
    restore_record,
    without_deleted_evidence,
)
from cases.enums import Role
from cases.models import (
    Citation,
    Claim,
    CommentRequest,
    CustodyEntry,
    Evidence,
    Incident,
    Source,
    SourceIdentity,
    Task,
)

from .factories import (
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REAL_NAME = "Ivan Canaryname"
MODELS = {"incident": Incident, "claim": Claim, "source": Source, "task": Task,
          "commentrequest": CommentRequest, "evidence": Evidence}


def _records(case, editor):
    evidence = EvidenceFactory(case=case)
    evidence.start_custody(editor, "Uploaded.")
    return {
        "incident": IncidentFactory(case=case),
        "claim": ClaimFactory(case=case),
        "source": SourceFactory(case=case),
        "task": TaskFactory(case=case),
        "commentrequest": CommentRequestFactory(case=case),
        "evidence": evidence,
    }


def _delete(record, actor):
    """delete_record, keeping the id on the Python object (Django clears it) for the checks."""
    pk = record.pk
    delete_record(record, actor)
    record.pk = pk
    return record


def _delete_url(case, kind, record):
    return reverse(f"cases:{kind}_delete", args=[case.slug, record.pk])


def _restore_url(case, kind, pk):
    return reverse(f"cases:deleted_{kind}_restore", args=[case.slug, pk])


def _version(page) -> str:
    return re.search(r'name="version" value="([^"]*)"', page.content.decode()).group(1)


def _confirm_and_delete(client, case, kind, record):
    url = _delete_url(case, kind, record)
    return client.post(url, {"version": _version(client.get(url))})


def _is_deleted(kind, record) -> bool:
    if kind == "evidence":
        return (CustodyEntry.objects.filter(evidence=record).order_by("-at", "-pk")
                .values_list("action", flat=True).first() == CUSTODY_DELETED)
    return not MODELS[kind].objects.filter(pk=record.pk).exists()


# --- who may delete and restore --------------------------------------------------------------

@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("who", ["outsider", "viewer", "reporter"])
def test_delete_is_404_for_anyone_but_an_editor(client, case, editor, kind, who, request):
    record = _records(case, editor)[kind]
    client.force_login(request.getfixturevalue(who))
    url = _delete_url(case, kind, record)
    assert client.get(url).status_code == 404
    assert client.post(url, {"version": ""}).status_code == 404
    assert not _is_deleted(kind, record)


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("who", ["outsider", "viewer", "reporter"])
def test_restore_and_recently_deleted_are_404_for_anyone_but_an_editor(
        client, case, editor, kind, who, request):
    record = _records(case, editor)[kind]
    _delete(record, editor)
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("cases:recently_deleted", args=[case.slug])).status_code == 404
    assert client.post(_restore_url(case, kind, record.pk)).status_code == 404
    assert _is_deleted(kind, record)


def test_delete_link_and_recently_deleted_link_shown_to_editors_only(client, case, editor,
                                                                    reporter):
    task = TaskFactory(case=case)
    delete_url = _delete_url(case, "task", task)
    deleted_url = reverse("cases:recently_deleted", args=[case.slug])
    client.force_login(reporter)
    assert delete_url not in client.get(
        reverse("cases:task_edit", args=[case.slug, task.pk])).content.decode()
    assert deleted_url not in client.get(
        reverse("cases:activity", args=[case.slug])).content.decode()
    client.force_login(editor)
    assert delete_url in client.get(
        reverse("cases:task_edit", args=[case.slug, task.pk])).content.decode()
    assert deleted_url in client.get(
        reverse("cases:activity", args=[case.slug])).content.decode()


# --- deleting ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(MODELS))
def test_editor_deletes_each_kind_after_confirming(client, case, editor, kind):
    record = _records(case, editor)[kind]
    client.force_login(editor)
    response = _confirm_and_delete(client, case, kind, record)
    assert response.status_code == 302
    assert _is_deleted(kind, record)
    if kind != "evidence":
        row = MODELS[kind].history.filter(id=record.pk).latest("history_date")
        assert row.history_type == "-" and row.history_user == editor


def test_confirmation_names_the_citations_that_go_with_a_claim(client, case, editor):
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim)
    CitationFactory(claim=claim)
    client.force_login(editor)
    page = client.get(_delete_url(case, "claim", claim)).content.decode()
    assert "Citations: 2" in page
    assert Citation.objects.filter(claim=claim).count() == 2  # the page deletes nothing


def test_claim_deleted_and_restored_with_its_citations_same_ids_and_values(
        client, case, editor, second_editor):
    incident = IncidentFactory(case=case)
    claim = ClaimFactory(case=case, incident=incident, statement="Ten soldiers fled.")
    claim_pk = claim.pk
    citations = [CitationFactory(claim=claim, quote=f"quote {n}") for n in range(2)]
    before = Claim.objects.values().get(pk=claim.pk)
    citations_before = list(Citation.objects.filter(claim=claim).order_by("pk").values())
    client.force_login(editor)
    _confirm_and_delete(client, case, "claim", claim)
    claim.pk = claim_pk
    assert not Claim.objects.filter(pk=claim.pk).exists()
    assert not Citation.objects.filter(pk__in=[c.pk for c in citations]).exists()
    # The citations' rows name the same deletion as the claim's.
    reasons = {row.history_change_reason for row in Citation.history.filter(history_type="-")}
    assert reasons == {Claim.history.get(id=claim.pk, history_type="-").history_change_reason}

    client.force_login(second_editor)
    response = client.post(_restore_url(case, "claim", claim.pk))
    assert response.status_code == 302
    after = Claim.objects.values().get(pk=claim.pk)
    assert after == before
    assert list(Citation.objects.filter(claim=claim).order_by("pk").values()) == citations_before
    restored = Claim.history.filter(id=claim.pk).latest("history_date")
    assert restored.history_type == "+" and restored.history_user == second_editor
    assert restored.history_change_reason == "restored"
    assert recently_deleted(case) == []


def test_source_in_use_is_refused_with_a_code_and_kept(client, case, editor):
    source = SourceFactory(case=case)
    CitationFactory(claim=ClaimFactory(case=case), source=source)
    client.force_login(editor)
    page = client.get(_delete_url(case, "source", source))
    assert f'data-code="{RECORD_IN_USE}"' in page.content.decode()
    response = client.post(_delete_url(case, "source", source), {"version": _version(page)})
    assert response.status_code == 400
    assert f'data-code="{RECORD_IN_USE}"' in response.content.decode()
    assert Source.objects.filter(pk=source.pk).exists()


def test_claim_with_verification_history_is_refused_with_a_code(case, editor):
    from cases.models import VerificationEvent

    claim = ClaimFactory(case=case)
    VerificationEvent.objects.create(claim=claim, from_status="unverified",
                                     to_status="in_review", actor=editor)
    with pytest.raises(DeletionRefused) as refused:
        _delete(claim, editor)
    assert refused.value.code == RECORD_AUDITED
    assert Claim.objects.filter(pk=claim.pk).exists()


def test_stale_version_is_409_and_nothing_is_deleted(client, case, editor, second_editor):
    task = TaskFactory(case=case, title="Call the press office")
    client.force_login(editor)
    url = _delete_url(case, "task", task)
    version = _version(client.get(url))
    task.title = "Call the press office again"
    task._history_user = second_editor
    task.save()
    response = client.post(url, {"version": version})
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-code="version_changed"' in page and "second_editor" in page
    assert Task.objects.filter(pk=task.pk).exists()
    # The refused page carries the new version: confirming again deletes.
    assert client.post(url, {"version": _version(response)}).status_code == 302
    assert not Task.objects.filter(pk=task.pk).exists()


def test_missing_version_is_409_and_nothing_is_deleted(client, case, editor):
    task = TaskFactory(case=case)
    client.force_login(editor)
    response = client.post(_delete_url(case, "task", task), {})
    assert response.status_code == 409
    assert 'data-code="version_unknown"' in response.content.decode()
    assert Task.objects.filter(pk=task.pk).exists()


# --- evidence: the custody log is kept ------------------------------------------------------

def test_evidence_deletion_and_restore_are_custody_entries_and_keep_the_file(
        client, case, editor, second_editor):
    evidence = _records(case, editor)["evidence"]
    client.force_login(editor)
    _confirm_and_delete(client, case, "evidence", evidence)
    assert Evidence.objects.filter(pk=evidence.pk).exists()
    assert evidence.file.storage.exists(evidence.file.name)
    client.force_login(second_editor)
    client.post(_restore_url(case, "evidence", evidence.pk))
    entries = list(CustodyEntry.objects.filter(evidence=evidence).order_by("at", "pk")
                   .values_list("action", "actor__username"))
    assert entries[-2:] == [(CUSTODY_DELETED, "editor"), (CUSTODY_RESTORED, "second_editor")]
    assert recently_deleted(case) == []


# --- restoring -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(MODELS))
def test_restore_refused_after_thirty_days_with_a_code(case, editor, kind):
    record = _records(case, editor)[kind]
    _delete(record, editor)
    later = timezone.now() + dt.timedelta(days=31)
    assert recently_deleted(case, now=later) == []
    with pytest.raises(DeletionRefused) as refused:
        restore_record(case, kind, record.pk, editor, now=later)
    assert refused.value.code == RESTORE_EXPIRED
    assert _is_deleted(kind, record)


@pytest.mark.parametrize("kind", list(MODELS))
def test_each_kind_restored_from_the_page(client, case, editor, kind):
    record = _records(case, editor)[kind]
    _delete(record, editor)
    client.force_login(editor)
    page = client.get(reverse("cases:recently_deleted", args=[case.slug])).content.decode()
    assert _restore_url(case, kind, record.pk) in page
    client.post(_restore_url(case, kind, record.pk))
    assert not _is_deleted(kind, record)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
@pytest.mark.django_db(transaction=True)
def test_restores_at_the_same_time_restore_once_and_refuse_the_other(case, editor,
                                                                   second_editor):
    """A real race: B restores while A's restore arrives. Without the case's lock A would find
    the record still deleted (B has not committed) and write the same key: a 500."""
    task = TaskFactory(case=case)
    _delete(task, editor)
    b_restored, release_b, outcome = threading.Event(), threading.Event(), {}

    def b_restores():
        try:
            with transaction.atomic():
                restore_record(case, "task", task.pk, second_editor)
                b_restored.set()
                release_b.wait(timeout=10)
        finally:
            connection.close()

    def a_restores():
        b_restored.wait(timeout=10)
        try:
            restore_record(case, "task", task.pk, editor)
        except DeletionRefused as refused:
            outcome["code"] = refused.code
        finally:
            connection.close()

    threads = [threading.Thread(target=b_restores), threading.Thread(target=a_restores)]
    for thread in threads:
        thread.start()
    b_restored.wait(timeout=10)
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:  # wait until A is blocked on B's lock
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
    release_b.set()
    for thread in threads:
        thread.join(timeout=20)

    assert outcome == {"code": NOT_DELETED}
    assert Task.history.filter(id=task.pk, history_type="+").count() == 2  # made, restored


def test_restoring_twice_is_refused_with_a_code(client, case, editor):
    task = TaskFactory(case=case)
    _delete(task, editor)
    restore_record(case, "task", task.pk, editor)
    client.force_login(editor)
    response = client.post(_restore_url(case, "task", task.pk), follow=True)
    assert "not_deleted" in response.content.decode()
    assert Task.history.filter(id=task.pk, history_type="+").count() == 2


def test_restore_links_again_what_the_deletion_unlinked(case, editor, second_editor):
    incident = IncidentFactory(case=case)
    claim = ClaimFactory(case=case, incident=incident)
    moved = TaskFactory(case=case, incident=incident)
    _delete(incident, editor)
    claim.refresh_from_db()
    assert claim.incident_id is None
    elsewhere = IncidentFactory(case=case)
    moved.refresh_from_db()
    moved.incident = elsewhere
    moved.save()
    restore_record(case, "incident", incident.pk, second_editor)
    claim.refresh_from_db()
    moved.refresh_from_db()
    assert claim.incident_id == incident.pk
    # Linked to another incident since: left where it was put.
    assert moved.incident_id == elsewhere.pk
    row = Claim.history.filter(id=claim.pk).latest("history_date")
    assert row.history_user == second_editor and row.history_change_reason == "restored"


def test_restore_refused_with_a_code_while_a_record_it_cites_is_deleted(case, editor):
    source = SourceFactory(case=case)
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim, source=source)
    claim_pk = claim.pk
    _delete(claim, editor)
    _delete(source, editor)
    with pytest.raises(DeletionRefused) as refused:
        restore_record(case, "claim", claim_pk, editor)
    assert refused.value.code == RESTORE_BLOCKED
    assert not Claim.objects.filter(pk=claim_pk).exists()
    # Once the source is back, so is the claim with its citation.
    restore_record(case, "source", source.pk, editor)
    restore_record(case, "claim", claim_pk, editor)
    assert Citation.objects.get(claim_id=claim_pk).source_id == source.pk


def test_restore_refused_with_a_code_when_the_name_is_taken_again(case, editor):
    source = _delete(SourceFactory(case=case, name="161.ru"), editor)
    SourceFactory(case=case, name="161.ru")
    with pytest.raises(DeletionRefused) as refused:
        restore_record(case, "source", source.pk, editor)
    assert refused.value.code == RESTORE_BLOCKED


# --- protected sources -----------------------------------------------------------------------

def test_protected_source_identity_never_on_the_recently_deleted_page(client, case, editor):
    handler = UserFactory(username="handler")
    MembershipFactory(case=case, user=handler, role=Role.EDITOR, can_handle_sources=True)
    source = SourceFactory(case=case, name="Insider A", protected=True)
    SourceIdentity.objects.create(source=source, real_name=REAL_NAME)
    _delete(source, handler)
    assert not SourceIdentity.objects.filter(source_id=source.pk).exists()
    for reader in (editor, handler):
        client.force_login(reader)
        page = client.get(reverse("cases:recently_deleted", args=[case.slug])).content.decode()
        assert "Insider A" in page and REAL_NAME not in page
    restore_record(case, "source", source.pk, editor)
    assert SourceIdentity.objects.get(source_id=source.pk).real_name == REAL_NAME


# --- cost ------------------------------------------------------------------------------------

@pytest.mark.parametrize("deleted", [1, 6])
def test_recently_deleted_query_count_does_not_grow_with_items(client, case, editor, deleted,
                                                                django_assert_num_queries):
    for n in range(deleted):
        _delete(TaskFactory(case=case, title=f"Deleted task {n}"), editor)
        _delete(ClaimFactory(case=case, statement=f"Deleted claim {n}"), editor)
    url = reverse("cases:recently_deleted", args=[case.slug])
    client.force_login(editor)
    client.get(url)  # the warm-up: the session and Django's caches
    # session, user, case and membership, one query per kind (five) and the evidence's
    # custody entries.
    with django_assert_num_queries(9):
        response = client.get(url)
    page = response.content.decode()
    assert page.count("Deleted task") == deleted and page.count("Deleted claim") == deleted


def test_without_deleted_evidence_leaves_out_deleted_files_until_restored(case, editor):
    kept, deleted = (_records(case, editor)["evidence"], _records(case, editor)["evidence"])
    delete_record(deleted, editor)
    evidence = Evidence.objects.of_case(case)
    assert list(without_deleted_evidence(evidence)) == [kept]
    restore_record(case, "evidence", deleted.pk, editor)
    assert set(without_deleted_evidence(evidence)) == {kept, deleted}


def test_confirmation_of_a_protected_source_does_not_say_it_has_an_identity(
        client, case, editor):
    source = SourceFactory(case=case, name="Insider A", protected=True)
    SourceIdentity.objects.create(source=source, real_name=REAL_NAME)
    client.force_login(editor)
    page = client.get(_delete_url(case, "source", source)).content.decode()
    assert "Nothing else is deleted with it." in page
    assert "identit" not in page.lower() and REAL_NAME not in page


def test_another_cases_record_is_neither_deleted_nor_restored_through_this_case(
        client, case, editor):
    other = MembershipFactory(user=editor, role=Role.EDITOR).case
    task = TaskFactory(case=other)
    client.force_login(editor)
    assert client.get(_delete_url(case, "task", task)).status_code == 404
    assert client.post(_delete_url(case, "task", task), {"version": ""}).status_code == 404
    assert Task.objects.filter(pk=task.pk).exists()
    _delete(task, editor)
    response = client.post(_restore_url(case, "task", task.pk), follow=True)
    assert "not_deleted" in response.content.decode()
    assert not Task.objects.filter(pk=task.pk).exists()
