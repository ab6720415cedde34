"""Deleting a record from the workspace, and bringing it back within 30 days.

Incidents, claims, sources, tasks and requests for comment are deleted for real: Django's
deletion collector takes what cascades with them (a claim's citations, a source's identity)
and django-simple-history writes a "-" row for each, in the editor's name. Every row of one
deletion carries the same change reason, `deletion:<token>`, so a restore brings back exactly
what went together. A restore re-creates each record from its last history row, with the same
id and the same values (`created_at` included: the rows are written as stored, not as new
records), and writes a "+" row for each, reason "restored", in the restoring editor's name.
Records the deletion only unlinked (a claim of a deleted incident keeps its place, without
the incident) are linked again, unless someone linked them elsewhere since.

Evidence is never deleted from the database: its custody log vouches for it and is
append-only (`CustodyEntry.evidence` is PROTECT), and a verification desk must be able to
show where a file was at every moment, deletion included. So deleting evidence appends a
custody entry "deleted" (who, when) and keeps the file; restoring appends "restored". The
file is the desk's until an operator purges it: `manage.py purge_deleted_evidence` removes
from storage the files deleted longer ago than the restore window (`purgeable_evidence`,
`purge_evidence`), keeps the row with its SHA-256 and size, and appends "purged" to the
custody log. A purged file cannot be restored (`evidence_purged`).

What stands in the way of a deletion is refused with a code: a source still cited or asked for
comment (`record_in_use`), a claim with verification history (`record_audited`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Exists, FileField, OuterRef
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from .enums import EvidenceState
from .history import RESTORED_REASON, is_history_tracked
from .models import (
    Case,
    Claim,
    CommentRequest,
    CustodyEntry,
    Evidence,
    Incident,
    Source,
    SourceIdentity,
    Task,
)

RESTORE_DAYS = 30

#: The kinds a page may delete, by the name its URLs use.
DELETABLE = {"incident": Incident, "claim": Claim, "source": Source, "task": Task,
             "commentrequest": CommentRequest, "evidence": Evidence}
#: Kinds deleted from the database (evidence is marked deleted in its custody log).
HARD_DELETED = {kind: model for kind, model in DELETABLE.items() if model is not Evidence}

REASON_PREFIX = "deletion:"

# Custody actions of an evidence file's deletion and restore.
CUSTODY_DELETED = CustodyEntry.Action.DELETED
CUSTODY_RESTORED = CustodyEntry.Action.RESTORED
# The custody action of an evidence file's purge: its stored file is gone for good.
CUSTODY_PURGED = CustodyEntry.Action.PURGED

RECORD_IN_USE = "record_in_use"
RECORD_AUDITED = "record_audited"
ALREADY_DELETED = "already_deleted"
RESTORE_EXPIRED = "restore_expired"
NOT_DELETED = "not_deleted"
RESTORE_BLOCKED = "restore_blocked"
EVIDENCE_PURGED = "evidence_purged"


class DeletionRefused(ValidationError):
    """Why a record cannot be deleted or restored; `code` says it for machines."""


@dataclass
class Consequences:
    """What a deletion takes with it and what it leaves without a link, in words."""

    removed: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)
    refusal: DeletionRefused | None = None


def _count_words(model, count: int) -> str:
    # "Citations: 2": the noun stays in its plural form whatever the number, which a
    # language with several plural forms could not do beside a model's one plural name.
    return gettext("%(records)s: %(count)d") % {
        "count": count, "records": str(model._meta.verbose_name_plural).capitalize()}


def _collector(record) -> Collector:
    collector = Collector(using=router.db_for_write(type(record)), origin=record)
    try:
        collector.collect([record])
    except ProtectedError as error:
        raise DeletionRefused(
            gettext("This %(record)s has an audit log (%(what)s) and is kept with it.") % {
                "record": record._meta.verbose_name,
                "what": ", ".join(sorted({str(o._meta.verbose_name_plural)
                                          for o in error.protected_objects}))},
            code=RECORD_AUDITED) from None
    except RestrictedError as error:
        raise DeletionRefused(
            gettext("This %(record)s is still in use (%(what)s): remove those first.") % {
                "record": record._meta.verbose_name,
                "what": ", ".join(sorted({str(o._meta.verbose_name_plural)
                                          for o in error.restricted_objects}))},
            code=RECORD_IN_USE) from None
    return collector


def consequences(record) -> Consequences:
    """What deleting `record` would do, for the confirmation page. Deletes nothing."""
    if isinstance(record, Evidence):
        return Consequences(removed=[], unlinked=[])
    try:
        collector = _collector(record)
    except DeletionRefused as refusal:
        return Consequences(refusal=refusal)
    result = Consequences()
    for model, instances in collector.data.items():
        others = [obj for obj in instances
                  if not (type(obj) is type(record) and obj.pk == record.pk)]
        # A source's identity goes with it unnamed: whether a protected source has one
        # recorded is for its handlers to know.
        if others and is_history_tracked(model) and model is not SourceIdentity:
            result.removed.append(_count_words(model, len(others)))
    for (fld, _value), batches in collector.field_updates.items():
        count = sum(batch.count() if isinstance(batch, models.QuerySet) else len(batch)
                    for batch in batches)
        if count and is_history_tracked(fld.model):
            result.unlinked.append(_count_words(fld.model, count))
    return result


def _custody(evidence_ref: str, *actions):
    return CustodyEntry.objects.filter(evidence=OuterRef(evidence_ref), action__in=actions)


def evidence_state(evidence_ref: str = "pk") -> dict:
    """Annotations of an evidence file's state in the workspace, read in the query of rows
    that are evidence (`evidence_ref` "pk") or point at it (e.g. "evidence_id"): its last
    deletion or restore (`evidence_last_action`, None when neither, and
    `evidence_last_at`) and when it was purged (`evidence_purged_at`, None when it was
    not). `state_of` reads them."""
    last = _custody(evidence_ref, CUSTODY_DELETED, CUSTODY_RESTORED).order_by("-at", "-pk")
    purge = _custody(evidence_ref, CUSTODY_PURGED).order_by("at", "pk")
    return {"evidence_last_action": models.Subquery(last.values("action")[:1]),
            "evidence_last_at": models.Subquery(last.values("at")[:1]),
            "evidence_purged_at": models.Subquery(purge.values("at")[:1])}


def state_of(row) -> EvidenceState:
    """The state in the workspace of the file `row` is or points at, from the annotations
    `evidence_state` gave it: purged, else deleted when its last deletion was not undone by
    a restore, else kept."""
    if row.evidence_purged_at is not None:
        return EvidenceState.PURGED
    if row.evidence_last_action == CUSTODY_DELETED:
        return EvidenceState.DELETED
    return EvidenceState.KEPT


def without_deleted_evidence(evidence):
    """`evidence` (a queryset) without the files deleted in the workspace and not restored
    since: for the evidence lists and counts, which keep to the case's evidence in force."""
    last_action = evidence_state()["evidence_last_action"]
    return (evidence.annotate(evidence_last_action=last_action)
            .filter(models.Q(evidence_last_action__isnull=True)
                    | models.Q(evidence_last_action=CUSTODY_RESTORED)))


def evidence_is_deleted(evidence) -> bool:
    last = (CustodyEntry.objects.filter(evidence=evidence,
                                        action__in=[CUSTODY_DELETED, CUSTODY_RESTORED])
            .order_by("-at", "-pk").values_list("action", flat=True).first())
    return last == CUSTODY_DELETED


def evidence_is_purged(evidence) -> bool:
    """Whether `evidence`'s stored file was purged (manage.py purge_deleted_evidence)."""
    return CustodyEntry.objects.filter(evidence=evidence, action=CUSTODY_PURGED).exists()


def purgeable_evidence(older_than: dt.datetime):
    """Evidence deleted in the workspace before `older_than`, not restored since and not
    purged yet, by id: what `manage.py purge_deleted_evidence` removes from storage."""
    return (Evidence.objects.annotate(**evidence_state())
            .filter(evidence_last_action=CUSTODY_DELETED, evidence_last_at__lt=older_than,
                    evidence_purged_at__isnull=True)
            .order_by("pk"))


def stored_names(evidence) -> list[tuple[object, str]]:
    """Every file `evidence` holds in storage, as (storage, name): each of its file fields."""
    return [(getattr(evidence, fld.attname).storage, getattr(evidence, fld.attname).name)
            for fld in Evidence._meta.concrete_fields
            if isinstance(fld, FileField) and getattr(evidence, fld.attname)]


@dataclass
class PurgeOutcome:
    purged: list = field(default_factory=list)
    #: (evidence, why): the files that stay, and no "purged" entry is written for them.
    failed: list = field(default_factory=list)


def purge_evidence(candidates, actor, note: str) -> PurgeOutcome:
    """Remove the stored files of `candidates` (rows of `purgeable_evidence`, read under a
    lock by the caller) through the storage API, and append a "purged" custody entry in
    `actor`'s name for each whose files all went. A file storage fails to delete is
    reported in `failed` and does not stop the others. The rows, their hashes and sizes
    stay: the custody log vouches for them."""
    outcome = PurgeOutcome()
    if not candidates:
        return outcome
    ids = [evidence.pk for evidence in candidates]
    names = {name for evidence in candidates for _storage, name in stored_names(evidence)}
    # A stored name another evidence row still holds (never by an upload, whose names are
    # random) is not deleted from under it.
    file_fields = [fld.attname for fld in Evidence._meta.concrete_fields
                   if isinstance(fld, FileField)]
    held = models.Q()
    for attname in file_fields:
        held |= models.Q(**{f"{attname}__in": names})
    held_elsewhere = set()
    for values in (Evidence.objects.filter(held).exclude(pk__in=ids)
                   .exclude(Exists(_custody("pk", CUSTODY_PURGED)))
                   .values_list(*file_fields)):
        held_elsewhere.update(values)
    for evidence in candidates:
        files = stored_names(evidence)
        shared = [name for _storage, name in files if name in held_elsewhere]
        if shared:
            outcome.failed.append((evidence, gettext("its file is also another evidence's")))
            continue
        try:
            for storage, name in files:
                storage.delete(name)
        except Exception as error:  # any storage backend's failure: report, go on
            outcome.failed.append((evidence, f"{type(error).__name__}: {error}"))
            continue
        outcome.purged.append(evidence)
    CustodyEntry.objects.bulk_create([
        CustodyEntry(evidence=evidence, action=CUSTODY_PURGED, actor=actor, note=note)
        for evidence in outcome.purged])
    return outcome


def delete_record(record, actor) -> str:
    """Delete `record` (read under a lock by the caller) in `actor`'s name. Returns the
    deletion's reason token. Raises DeletionRefused."""
    if isinstance(record, Evidence):
        if evidence_is_deleted(record):
            raise DeletionRefused(gettext("This evidence is already deleted."),
                                  code=ALREADY_DELETED)
        CustodyEntry.objects.create(
            evidence=record, action=CUSTODY_DELETED, actor=actor,
            note=gettext("Deleted in the workspace; the file is kept."))
        return ""
    reason = f"{REASON_PREFIX}{uuid.uuid4().hex}"
    with transaction.atomic():
        collector = _collector(record)
        for instances in collector.data.values():
            for obj in instances:
                obj._history_user = actor
                obj._change_reason = reason
        collector.delete()
    return reason


@dataclass(frozen=True)
class DeletedRecord:
    """One entry of the "Recently deleted" page."""

    kind: str
    pk: int
    label: str
    verbose_name: str
    deleted_at: dt.datetime
    deleted_by: object  # a user or None


def _cutoff(now=None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=RESTORE_DAYS)


def _label(kind: str, row) -> str:
    if kind == "incident":
        return row.title
    if kind == "claim":
        return row.statement[:80]
    if kind == "source":
        # `name` is the codename of a protected source: the identity is never read here.
        return row.name
    if kind == "task":
        return row.title
    return row.party_name or gettext("request for comment %(id)s") % {"id": row.id}


def _deleted_rows(model, case, cutoff):
    history = model.history.model
    restored_since = history.objects.filter(
        id=OuterRef("id"), history_type="+", history_date__gt=OuterRef("history_date"))
    return (history.objects.filter(case_id=case.pk, history_type="-",
                                   history_date__gte=cutoff,
                                   history_change_reason__startswith=REASON_PREFIX)
            .exclude(Exists(restored_since)).select_related("history_user"))


def recently_deleted(case, now=None) -> list[DeletedRecord]:
    """The case's records deleted in the last RESTORE_DAYS days and not restored since,
    newest first: one query per kind."""
    cutoff = _cutoff(now)
    found = []
    for kind, model in HARD_DELETED.items():
        for row in _deleted_rows(model, case, cutoff):
            found.append(DeletedRecord(kind, row.id, _label(kind, row),
                                       str(model._meta.verbose_name), row.history_date,
                                       row.history_user))
    restored_since = CustodyEntry.objects.filter(
        evidence=OuterRef("evidence"), action=CUSTODY_RESTORED, at__gt=OuterRef("at"))
    purged = CustodyEntry.objects.filter(evidence=OuterRef("evidence"), action=CUSTODY_PURGED)
    for entry in (CustodyEntry.objects.filter(evidence__case=case, action=CUSTODY_DELETED,
                                              at__gte=cutoff)
                  .exclude(Exists(restored_since)).exclude(Exists(purged))
                  .select_related("evidence", "actor")):
        found.append(DeletedRecord("evidence", entry.evidence_id, str(entry.evidence),
                                   str(Evidence._meta.verbose_name), entry.at, entry.actor))
    found.sort(key=lambda item: item.deleted_at, reverse=True)
    return found


def _tracked_models():
    from django.apps import apps

    return [model for model in apps.get_app_config("cases").get_models()
            if is_history_tracked(model)]


def _restore_expired() -> DeletionRefused:
    return DeletionRefused(
        ngettext("Deleted records can be restored for %(days)d day only.",
                 "Deleted records can be restored for %(days)d days only.",
                 RESTORE_DAYS) % {"days": RESTORE_DAYS},
        code=RESTORE_EXPIRED)


def restore_record(case, kind: str, pk: int, actor, now=None):
    """Bring back the record of `kind` and id `pk` deleted from `case`, with what was deleted
    with it, in `actor`'s name. Returns the restored record. Raises DeletionRefused."""
    cutoff = _cutoff(now)
    model = DELETABLE[kind]
    if model is Evidence:
        return _restore_evidence(case, pk, actor, cutoff)
    with transaction.atomic():
        # Two editors restoring at once: the second waits here, then finds the record back
        # (NOT_DELETED) instead of writing the same keys again (a 500).
        Case.objects.select_for_update().filter(pk=case.pk).first()
        row = (model.history.model.objects
               .filter(id=pk, case_id=case.pk, history_type="-",
                       history_change_reason__startswith=REASON_PREFIX)
               .order_by("-history_date", "-history_id").first())
        if row is None or model._base_manager.filter(pk=pk).exists():
            raise DeletionRefused(gettext("This record is not deleted."), code=NOT_DELETED)
        if row.history_date < cutoff:
            raise _restore_expired()
        reason = row.history_change_reason
        restored, tables, written = None, set(), []
        for tracked in _tracked_models():
            for historical in tracked.history.model.objects.filter(
                    history_type="-", history_change_reason=reason):
                obj = historical.instance
                if tracked._base_manager.filter(pk=obj.pk).exists():
                    continue
                _write_as_stored(obj, actor)
                tables.add(tracked._meta.db_table)
                written.append((obj, historical.history_date))
                if tracked is model and obj.pk == pk:
                    restored = obj
        _check_references(model, tables)
        for obj, deleted_at in written:
            _link_again(obj, deleted_at, actor)
    return restored


def _links_cleared_by_deleting(model):
    """(tracked model, foreign key) pairs that a deletion of a `model` record sets to NULL."""
    return [(tracked, fld) for tracked in _tracked_models()
            for fld in tracked._meta.concrete_fields
            if fld.many_to_one and fld.remote_field.model is model
            and fld.remote_field.on_delete is models.SET_NULL]


def _link_again(obj, deleted_at, actor) -> None:
    """Give back `obj` to the records whose link to it its deletion cleared (a claim's
    incident, a task's claim), unless they have been linked to something else since."""
    for tracked, fld in _links_cleared_by_deleting(type(obj)):
        history = tracked.history.model.objects
        once_linked = history.filter(**{fld.attname: obj.pk}).values("id")
        for survivor in tracked._base_manager.filter(pk__in=once_linked,
                                                     **{f"{fld.attname}__isnull": True}):
            latest, before = (list(history.filter(id=survivor.pk)
                                   .order_by("-history_date", "-history_id")[:2]) + [None])[:2]
            cleared_by_the_deletion = (
                latest is not None and before is not None
                and getattr(latest, fld.attname) is None
                and getattr(before, fld.attname) == obj.pk
                and latest.history_date >= deleted_at)
            if not cleared_by_the_deletion:
                continue
            setattr(survivor, fld.attname, obj.pk)
            survivor._history_user = actor
            survivor._change_reason = RESTORED_REASON
            survivor.save()


def _blocked(model) -> DeletionRefused:
    return DeletionRefused(
        gettext("This %(record)s cannot be restored as it was: the case has changed since "
                "(a record it refers to is gone, or another one has taken its name).") % {
            "record": model._meta.verbose_name},
        code=RESTORE_BLOCKED)


def _write_as_stored(obj, actor) -> None:
    """Insert `obj` with its values as they were stored (no `auto_now_add`, no save()
    derivations, which the values already hold) and give it a "+" history row."""
    try:
        with transaction.atomic():
            obj.save_base(raw=True, force_insert=True)
    except IntegrityError:
        raise _blocked(type(obj)) from None
    type(obj).history.bulk_history_create([obj], default_user=actor,
                                           default_change_reason=RESTORED_REASON)


def _check_references(model, tables) -> None:
    """Foreign keys are checked when the transaction commits: check the restored rows now,
    so a reference to a record deleted since is a refusal, not a failed commit."""
    connection = connections[router.db_for_write(model)]
    try:
        with transaction.atomic(using=connection.alias):
            connection.check_constraints(table_names=sorted(tables))
    except IntegrityError:
        raise _blocked(model) from None


def _restore_evidence(case, pk, actor, cutoff):
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().filter(case=case, pk=pk).first()
        if evidence is None or not evidence_is_deleted(evidence):
            raise DeletionRefused(gettext("This record is not deleted."), code=NOT_DELETED)
        if evidence_is_purged(evidence):
            raise DeletionRefused(
                gettext("This evidence file was purged from storage and cannot be restored."),
                code=EVIDENCE_PURGED)
        deleted = (CustodyEntry.objects.filter(evidence=evidence, action=CUSTODY_DELETED)
                   .order_by("-at", "-pk").first())
        if deleted.at < cutoff:
            raise _restore_expired()
        CustodyEntry.objects.create(evidence=evidence, action=CUSTODY_RESTORED, actor=actor,
                                    note=gettext("Restored in the workspace."))
    return evidence
