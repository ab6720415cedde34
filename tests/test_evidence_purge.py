"""Purging deleted evidence files from storage (manage.py purge_deleted_evidence,
cases/deletion.py): only files deleted longer ago than the restore window and not restored
since; the row, its hashes and its custody log stay, with a "purged" entry in an operator's
name; a purged file cannot be restored, and its page says it is gone."""

import datetime as dt
import io
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from capture.models import Capture, CaptureFile
from cases.deletion import (
    CUSTODY_DELETED,
    CUSTODY_PURGED,
    CUSTODY_RESTORED,
    EVIDENCE_PURGED,
    RESTORE_DAYS,
    DeletionRefused,
    recently_deleted,
    restore_record,
)
from cases.evidence_files import thumbnail_cache_key
from cases.models import CustodyEntry, Evidence

from .factories import EvidenceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", is_staff=True)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "PNG")
    return out.getvalue()


def _evidence(case, editor, *, name="leaked-order.pdf", content=b"%PDF-1.4 leaked order",
              deleted_days_ago=None):
    """An evidence file stored for real, collected 60 days ago, deleted `deleted_days_ago`
    days ago when given."""
    evidence = EvidenceFactory(case=case, file=ContentFile(content, name=name))
    now = timezone.now()
    CustodyEntry.objects.create(evidence=evidence, action=CustodyEntry.Action.COLLECTED,
                                actor=editor, at=now - dt.timedelta(days=60))
    if deleted_days_ago is not None:
        _custody(evidence, CUSTODY_DELETED, editor, deleted_days_ago)
    return evidence


def _custody(evidence, action, actor, days_ago):
    CustodyEntry.objects.create(evidence=evidence, action=action, actor=actor,
                                at=timezone.now() - dt.timedelta(days=days_ago))


def _purge(*args, actor="operator"):
    out, err = io.StringIO(), io.StringIO()
    call_command("purge_deleted_evidence", f"--actor={actor}", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _stored(evidence) -> bool:
    return evidence.file.storage.exists(evidence.file.name)


def _actions(evidence) -> list:
    return list(CustodyEntry.objects.filter(evidence=evidence).order_by("at", "pk")
                .values_list("action", "actor__username"))


# --- what is purged ---------------------------------------------------------------------------

def test_purge_removes_a_file_deleted_31_days_ago_and_keeps_its_row(case, editor, operator):
    evidence = _evidence(case, editor, deleted_days_ago=31)
    sha256, size, name = evidence.sha256, evidence.size, evidence.file.name
    cache.set(thumbnail_cache_key(sha256), b"a picture of it")
    assert _stored(evidence)

    out, err = _purge()

    assert not evidence.file.storage.exists(name)
    kept = Evidence.objects.get(pk=evidence.pk)
    assert (kept.sha256, kept.size, kept.file.name) == (sha256, size, name)
    assert _actions(evidence)[-2:] == [(CUSTODY_DELETED, "editor"), (CUSTODY_PURGED, "operator")]
    assert CustodyEntry.objects.get(evidence=evidence, action=CUSTODY_PURGED).note.startswith(
        "Purged from storage by an operator, 30 days or more after its deletion")
    assert cache.get(thumbnail_cache_key(sha256)) is None
    assert f"Purged evidence {evidence.pk} (case {case.slug}): leaked-order.pdf" in out
    assert "1 evidence file purged." in out and err == ""


def test_purge_leaves_files_in_force_recently_deleted_or_restored(case, editor, operator):
    in_force = _evidence(case, editor, name="in-force.pdf")
    recent = _evidence(case, editor, name="recent.pdf", deleted_days_ago=29)
    restored = _evidence(case, editor, name="restored.pdf", deleted_days_ago=40)
    _custody(restored, CUSTODY_RESTORED, editor, 35)
    deleted_again = _evidence(case, editor, name="again.pdf", deleted_days_ago=50)
    _custody(deleted_again, CUSTODY_RESTORED, editor, 45)
    _custody(deleted_again, CUSTODY_DELETED, editor, 10)
    before = {e.pk: _actions(e) for e in (in_force, recent, restored, deleted_again)}

    out, _err = _purge()

    assert "0 evidence files purged." in out
    for evidence in (in_force, recent, restored, deleted_again):
        assert _stored(evidence)
        assert _actions(evidence) == before[evidence.pk]


def test_purge_dry_run_lists_and_changes_nothing(case, editor, operator):
    evidence = _evidence(case, editor, deleted_days_ago=31)
    before = _actions(evidence)

    out, _err = _purge("--dry-run")

    assert f"Would purge evidence {evidence.pk} (case {case.slug}): leaked-order.pdf" in out
    assert "1 evidence file would be purged (dry run)." in out
    assert _stored(evidence) and _actions(evidence) == before


def test_purge_second_run_purges_nothing_more(case, editor, operator):
    evidence = _evidence(case, editor, deleted_days_ago=31)
    _purge()
    out, _err = _purge()
    assert "0 evidence files purged." in out
    assert [a for a, _u in _actions(evidence)].count(CUSTODY_PURGED) == 1


def test_purge_older_than_a_longer_time_leaves_younger_deletions(case, editor, operator):
    younger = _evidence(case, editor, name="younger.pdf", deleted_days_ago=31)
    older = _evidence(case, editor, name="older.pdf", deleted_days_ago=91)
    _purge("--older-than", "90")
    assert _stored(younger) and not _stored(older)
    assert _actions(younger)[-1][0] == CUSTODY_DELETED
    assert _actions(older)[-1] == (CUSTODY_PURGED, "operator")


def test_purge_one_file_storage_fails_to_delete_does_not_stop_the_others(case, editor,
                                                                         operator):
    failing = _evidence(case, editor, name="failing.pdf", deleted_days_ago=40)
    other = _evidence(case, editor, name="other.pdf", deleted_days_ago=40)
    real_delete = FileSystemStorage.delete

    def delete(storage, name):
        if name == failing.file.name:
            raise PermissionError("read-only volume")
        return real_delete(storage, name)

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.object(FileSystemStorage, "delete", delete), \
            pytest.raises(CommandError, match="could not be deleted from storage"):
        call_command("purge_deleted_evidence", "--actor=operator", stdout=out, stderr=err)

    assert _stored(failing) and not _stored(other)
    assert _actions(failing)[-1][0] == CUSTODY_DELETED
    assert _actions(other)[-1] == (CUSTODY_PURGED, "operator")
    assert (f"Not purged evidence {failing.pk} (case {case.slug}): failing.pdf: "
            "PermissionError: read-only volume") in err.getvalue()
    # The next run tries again.
    _purge()
    assert not _stored(failing) and _actions(failing)[-1][0] == CUSTODY_PURGED


def test_purge_keeps_a_stored_file_another_evidence_row_still_holds(case, editor, operator):
    deleted = _evidence(case, editor, name="shared.pdf", deleted_days_ago=40)
    in_force = _evidence(case, editor, name="copy.pdf")
    Evidence.objects.filter(pk=in_force.pk).update(file=deleted.file.name)
    with pytest.raises(CommandError):
        _purge()
    assert _stored(deleted)
    assert _actions(deleted)[-1][0] == CUSTODY_DELETED


def test_purge_output_names_a_protected_capture_file_by_its_role_only(case, editor, operator):
    evidence = _evidence(case, editor, name="capture-20260101T000000Z-canary-source-site.pdf",
                         deleted_days_ago=31)
    capture = Capture.objects.create(case=case, requested_by=editor, protected=True)
    CaptureFile.objects.create(capture=capture, evidence=evidence, role=CaptureFile.Role.FILE)
    for args in (("--dry-run",), ()):
        out, err = _purge(*args)
        assert f"evidence {evidence.pk} (case {case.slug}): File served of a protected capture" \
            in out
        assert "canary" not in out + err
    assert not _stored(evidence)


# --- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("days", [0, RESTORE_DAYS - 1])
def test_purge_older_than_less_than_the_restore_window_is_refused(case, editor, operator, days):
    evidence = _evidence(case, editor, deleted_days_ago=RESTORE_DAYS - 1)
    with pytest.raises(CommandError, match=f"at least {RESTORE_DAYS} days"):
        _purge("--older-than", str(days))
    assert _stored(evidence) and _actions(evidence)[-1][0] == CUSTODY_DELETED


@pytest.mark.parametrize("actor", ["nobody", "inactive_staff", "editor"])
def test_purge_actor_not_an_active_staff_account_is_refused(case, editor, operator, actor):
    UserFactory(username="inactive_staff", is_staff=True, is_active=False)
    evidence = _evidence(case, editor, deleted_days_ago=31)
    with pytest.raises(CommandError, match="active staff account"):
        _purge(actor=actor)
    assert _stored(evidence) and _actions(evidence)[-1][0] == CUSTODY_DELETED


def test_purge_without_an_actor_is_refused(case, editor, operator):
    evidence = _evidence(case, editor, deleted_days_ago=31)
    with pytest.raises(CommandError, match="--actor"):
        call_command("purge_deleted_evidence", stdout=io.StringIO())
    assert _stored(evidence)


# --- a purged file afterwards -----------------------------------------------------------------

def test_restore_of_a_purged_file_is_refused_with_a_code(case, editor, operator):
    evidence = _evidence(case, editor, deleted_days_ago=31)
    _purge()
    before = _actions(evidence)
    # Even from a moment inside the restore window, a purged file does not come back.
    deleted_at = CustodyEntry.objects.get(evidence=evidence, action=CUSTODY_DELETED).at
    inside = deleted_at + dt.timedelta(days=1)
    with pytest.raises(DeletionRefused) as refused:
        restore_record(case, "evidence", evidence.pk, editor, now=inside)
    assert refused.value.code == EVIDENCE_PURGED
    assert _actions(evidence) == before
    assert recently_deleted(case, now=inside) == []


def test_recently_deleted_still_offers_a_file_not_purged(case, editor, operator):
    """The counterpart of the test above: without the purge the same moment offers it."""
    evidence = _evidence(case, editor, deleted_days_ago=31)
    deleted_at = CustodyEntry.objects.get(evidence=evidence, action=CUSTODY_DELETED).at
    inside = deleted_at + dt.timedelta(days=1)
    assert [item.pk for item in recently_deleted(case, now=inside)] == [evidence.pk]


def test_evidence_page_of_a_purged_file_says_so(client, case, editor, viewer, operator):
    evidence = _evidence(case, editor, name="source-photo.png", content=_png(),
                         deleted_days_ago=31)
    assert evidence.content_type == "image/png"
    _purge()
    client.force_login(viewer)
    download = reverse("cases:evidence_download", args=[case.slug, evidence.pk])

    page = client.get(reverse("cases:evidence_detail", args=[case.slug, evidence.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "This file was purged from storage" in body
    assert download not in body  # no download link, no thumbnail
    assert 'data-action="purged"' in body and evidence.sha256 in body

    response = client.get(download)
    assert response.status_code == 410
    assert "This file was purged from storage" in response.content.decode()
    assert client.get(download, {"thumbnail": 1}).status_code == 404
    assert not CustodyEntry.objects.filter(evidence=evidence,
                                           action=CustodyEntry.Action.DOWNLOADED).exists()


# --- cost -------------------------------------------------------------------------------------

@pytest.mark.parametrize("files", [1, 6])
def test_purge_query_count_does_not_grow_with_files(case, editor, operator, files,
                                                    django_assert_num_queries):
    evidence = [_evidence(case, editor, name=f"file-{n}.pdf", deleted_days_ago=31)
                for n in range(files)]
    # The actor, a savepoint, the files to purge (locked), the names other rows still hold,
    # the custody entries (one insert), the savepoint's release.
    with django_assert_num_queries(6):
        out, _err = _purge()
    assert f"{files} evidence file" in out
    assert not any(_stored(e) for e in evidence)


@pytest.mark.parametrize("files", [1, 6])
def test_purge_dry_run_query_count_does_not_grow_with_files(case, editor, operator, files,
                                                            django_assert_num_queries):
    for n in range(files):
        _evidence(case, editor, name=f"file-{n}.pdf", deleted_days_ago=31)
    with django_assert_num_queries(2):  # the actor, the files
        _purge("--dry-run")
