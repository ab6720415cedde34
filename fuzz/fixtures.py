"""The records the fuzzer needs beyond the demo case, and the guard that puts the fuzzing
accounts back as they were after each form.

`prepare()` runs once on a freshly seeded database (`seed_demo`): an authenticator app (TOTP)
and an API token for every role; a second source handler who is also staff (editor2, so that
the back office's identity pages are fuzzed by someone who may see them); records enough to
give every list of the demo case a second page; and scratch records the fuzzer may change or
delete without harming the accounts it signs in with (a member to edit and remove, a case
whose memberships the back office may rewrite, a user, a group and an authenticator of
nobody's).

A fuzzed form may succeed: the admin may untick `is_active` on the editor, demote them in a
membership inline, delete their authenticator or drop the staff group's permissions.
`restore()` puts every role back (accounts, memberships, authenticator, token, staff group,
django-axes lock-outs) and says what it had to repair. Run it between forms; the fuzzer then
signs in again when its session has ended."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ObjectDoesNotExist
from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction

# Who the fuzzer signs in as: role → the demo's username. The reporter is the case's lead and
# a source handler; editor2 is made a handler and staff (the back office's identity pages);
# the editor is staff but not a handler; admin is a superuser with no membership.
ROLES = {
    "outsider": "outsider",
    "viewer": "viewer",
    "reporter": "reporter",
    "editor": "editor",
    "handler": "editor2",
    "admin": "admin",
}
FUZZ_MEMBER = "fuzz-member"
SCRATCH_USER = "fuzz-scratch"
SCRATCH_GROUP = "Fuzz scratch"
SCRATCH_CASE_SLUG = "fuzz-scratch-case"
# One more than the longest list page (50 rows) and than the timeline (15 incidents).
LIST_LENGTH = 51


@dataclasses.dataclass
class World:
    """What the fuzzer knows of the database it fuzzes; saved as JSON between processes."""

    case_pk: int
    scratch_case_pk: int
    fuzz_membership_pk: int
    secrets: dict[str, str]  # role → TOTP secret
    tokens: dict[str, str]  # role → API token
    staff_group_permissions: list[int]
    scratch: dict[str, int | str]  # model label → a scratch record's pk
    password_hashes: dict[str, str]  # role → the account's password hash as seeded

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> World:
        return cls(**json.loads(path.read_text()))


def _model(label: str):
    return apps.get_model(label)


def _user(username: str):
    return get_user_model()._default_manager.get(username=username)


def _issue_token(user, key: str | None = None) -> str:
    """A new API token for `user` (with this key, to restore one): its key, which is shown
    once (the database keeps its hash)."""
    return _model("api.ApiToken").objects.issue(user, created_by=user, key=key)[1]


@transaction.atomic
def prepare(*, long_lists: bool = True) -> World:
    """`long_lists`: also give every list a second page (`make fuzz`; the CI subset does
    without, to stay fast)."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from cases import demo
    from cases.enums import Role

    Case, Membership = _model("cases.Case"), _model("cases.Membership")
    case = Case.objects.get(slug=demo.CASE_SLUG)
    Membership.objects.filter(case=case, user__username=ROLES["handler"]).update(
        can_handle_sources=True)
    handler = _user(ROLES["handler"])
    handler.is_staff = True
    handler.save(update_fields=["is_staff"])
    handler.groups.add(Group.objects.get(name=demo.STAFF_GROUP))

    secrets, tokens = {}, {}
    for role, username in ROLES.items():
        user = _user(username)
        secrets[role] = generate_totp_secret()
        TOTP.activate(user, secrets[role])
        tokens[role] = _issue_token(user)

    User = get_user_model()
    member = User.objects.create_user(FUZZ_MEMBER, f"{FUZZ_MEMBER}@newsroom.example")
    fuzz_membership = Membership.objects.create(case=case, user=member, role=Role.REPORTER,
                                                added_by=_user("editor"))
    scratch_case = Case.objects.create(title="Fuzz scratch case", slug=SCRATCH_CASE_SLUG,
                                       summary="The back office's fuzzing may rewrite it.",
                                       lead=_user("reporter"), created_by=_user("editor"))
    for membership in Membership.objects.filter(case=case).exclude(user=member):
        Membership.objects.create(case=scratch_case, user=membership.user, role=membership.role,
                                  can_handle_sources=membership.can_handle_sources,
                                  added_by=membership.added_by)
    # A page-watch setting (capture/admin.py): its back-office pages need one to show.
    _model("capture.CaseWatch").objects.create(case=scratch_case, updated_by=_user("editor"))
    _lengthen_lists(case, LIST_LENGTH if long_lists else 1)
    world = World(
        case_pk=case.pk, scratch_case_pk=scratch_case.pk, fuzz_membership_pk=fuzz_membership.pk,
        secrets=secrets, tokens=tokens,
        staff_group_permissions=sorted(Group.objects.get(name=demo.STAFF_GROUP)
                                       .permissions.values_list("pk", flat=True)),
        scratch=_scratch_records(),
        password_hashes={role: _user(username).password for role, username in ROLES.items()},
    )
    return world


def _lengthen_lists(case, length: int) -> None:
    """`length` more records of each kind (the demo has no evidence): LIST_LENGTH gives every
    list of the case, and its activity, a second page."""
    from cases.models import Claim, Evidence, Incident, Source, Task

    author = _user("reporter")
    for n in range(length):
        Incident.objects.create(case=case, title=f"Fuzz incident {n}", occurred="2024-05-09",
                                created_by=author)
        Source.objects.create(case=case, name=f"Fuzz source {n}", created_by=author)
        Claim.objects.create(case=case, statement=f"Fuzz claim {n}.", created_by=author)
        Task.objects.create(case=case, title=f"Fuzz task {n}",
                            due_on=dt.date(2024, 5, 9), created_by=author)
        Evidence.objects.create(case=case, description=f"Fuzz evidence {n}",
                                file=ContentFile(b"fuzz evidence\n", name="fuzz.txt"),
                                created_by=author)


def _scratch_records() -> dict[str, int | str]:
    """Records of the back office's other apps that belong to nobody the fuzzer signs in as."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    User = get_user_model()
    user = User.objects.create_user(SCRATCH_USER, f"{SCRATCH_USER}@newsroom.example")
    group = Group.objects.create(name=SCRATCH_GROUP)
    email = EmailAddress.objects.create(user=user, email=user.email)
    authenticator = TOTP.activate(user, generate_totp_secret()).instance
    token = _model("api.ApiToken").objects.issue(user, created_by=user)[0]
    axes = dict(username=SCRATCH_USER, ip_address="192.0.2.1", user_agent="fuzz",
                path_info="/accounts/login/")
    attempt = AccessAttempt.objects.create(failures_since_start=1, **axes)
    log = AccessLog.objects.create(**axes)
    failure = AccessFailureLog.objects.create(**axes)
    # A task waiting in the background queue (no worker runs it here): its back-office pages.
    from background import enqueue

    queued_task = enqueue("capture.tasks.capture_citation", 0)
    return {"django_tasks_database.dbtaskresult": queued_task,
            "auth.user": user.pk, "auth.group": group.pk, "account.emailaddress": email.pk,
            "mfa.authenticator": authenticator.pk, "api.apitoken": token.pk,
            "axes.accessattempt": attempt.pk, "axes.accesslog": log.pk,
            "axes.accessfailurelog": failure.pk}


# --- the guard -------------------------------------------------------------------------------

def restore(world: World) -> list[str]:
    """Puts the fuzzing accounts back; returns what had to be repaired (usually nothing)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP
    from allauth.mfa.utils import decrypt
    from axes.utils import reset as axes_reset

    from api.models import digest_of
    from cases import demo
    from cases.enums import Role

    Case, Membership = _model("cases.Case"), _model("cases.Membership")
    ApiToken = _model("api.ApiToken")
    repaired: list[str] = []
    specs = {spec.username: spec for spec in demo.USERS}
    staff_group = Group.objects.get_or_create(name=demo.STAFF_GROUP)[0]
    if sorted(staff_group.permissions.values_list("pk", flat=True)) != \
            world.staff_group_permissions:
        staff_group.permissions.set(world.staff_group_permissions)
        repaired.append("the staff group's permissions")
    for role, username in ROLES.items():
        spec = specs[username]
        user = _user(username)
        staff = spec.is_staff or role == "handler"
        wanted = dict(is_active=True, is_staff=staff, is_superuser=spec.is_superuser)
        changed = [k for k, v in wanted.items() if getattr(user, k) != v]
        if changed or user.password != world.password_hashes[role]:
            for k, v in wanted.items():
                setattr(user, k, v)
            user.password = world.password_hashes[role]
            user.save()
            repaired.append(f"{username}'s account ({', '.join(changed) or 'password'})")
        if (spec.in_staff_group or role == "handler") and \
                not user.groups.filter(pk=staff_group.pk).exists():
            user.groups.add(staff_group)
            repaired.append(f"{username}'s staff group")
        authenticator = Authenticator.objects.filter(user=user,
                                                     type=Authenticator.Type.TOTP).first()
        if authenticator is None or decrypt(authenticator.data["secret"]) != world.secrets[role]:
            if authenticator is not None:
                authenticator.delete()
            TOTP.activate(user, world.secrets[role])
            repaired.append(f"{username}'s authenticator")
        if not ApiToken.objects.filter(digest=digest_of(world.tokens[role]), user=user,
                                       expires_at__gt=dt.datetime.now(dt.UTC)).exists():
            ApiToken.objects.filter(user=user).delete()
            _issue_token(user, world.tokens[role])
            repaired.append(f"{username}'s API token")
        axes_reset(username=username)
        for case_pk in (world.case_pk, world.scratch_case_pk):
            role_in_case = spec.role
            handler = spec.source_handler or role == "handler"
            if role_in_case is None:
                if Membership.objects.filter(case_id=case_pk, user=user).delete()[0]:
                    repaired.append(f"{username}'s membership (an outsider)")
                continue
            membership = Membership.objects.filter(case_id=case_pk, user=user).first()
            if membership is None:
                Membership.objects.create(case_id=case_pk, user=user, role=role_in_case,
                                          can_handle_sources=handler)
                repaired.append(f"{username}'s membership of case {case_pk}")
            elif (membership.role, membership.can_handle_sources) != (role_in_case, handler):
                membership.role, membership.can_handle_sources = role_in_case, handler
                membership.save()
                repaired.append(f"{username}'s role in case {case_pk}")
    if not Case.objects.filter(pk=world.case_pk).exists():
        raise RuntimeError("the demo case was deleted: nothing left to fuzz")
    if not Membership.objects.filter(pk=world.fuzz_membership_pk).exists():
        member = _user(FUZZ_MEMBER)
        world.fuzz_membership_pk = Membership.objects.create(
            case_id=world.case_pk, user=member, role=Role.REPORTER).pk
        repaired.append("the fuzz member's membership")
    return repaired


# --- records to delete -----------------------------------------------------------------------

_counter = iter(range(1, 10**9))


def doomed_copy(label: str, original_pk) -> int | None:
    """A fresh copy of a record, for a delete form to delete; None when the model cannot be
    copied (append-only logs, which nobody may delete anyway)."""
    try:
        with transaction.atomic():
            return _doomed_copy(label, original_pk)
    except (ObjectDoesNotExist, IntegrityError):
        return None


def _doomed_copy(label: str, original_pk) -> int | None:
    model = _model(label)
    n = next(_counter)
    if label in ("cases.verificationevent", "cases.custodyentry", "cases.identityreveal"):
        return None
    User = get_user_model()
    if label == "auth.user":
        return User.objects.create_user(f"fuzz-doomed-{n}").pk
    if label == "auth.group":
        return Group.objects.create(name=f"Fuzz doomed {n}").pk
    if label == "api.apitoken":
        user = User.objects.create_user(f"fuzz-doomed-{n}")
        return model.objects.issue(user, created_by=user)[0].pk
    if label == "account.emailaddress":
        user = User.objects.create_user(f"fuzz-doomed-{n}", f"fuzz-doomed-{n}@newsroom.example")
        return model.objects.create(user=user, email=user.email).pk
    if label == "cases.case":  # with the original's members, who may then delete it
        original = model.objects.get(pk=original_pk)
        copy = _copy(original, n)
        for membership in original.memberships.all():
            membership.pk, membership.case = None, copy
            membership._state.adding = True
            membership.save()
        return copy.pk
    if label == "cases.membership":
        user = User.objects.create_user(f"fuzz-doomed-{n}")
        original = model.objects.get(pk=original_pk)
        return model.objects.create(case=original.case, user=user, role=original.role).pk
    if label == "cases.sourceidentity":
        original = model.objects.get(pk=original_pk)
        source = _copy(original.source, n)
        identity = model.objects.get(pk=original_pk)
        identity.pk, identity.id, identity.source = None, None, source
        identity._state.adding = True
        identity.save()
        return identity.pk
    return _copy(model._default_manager.get(pk=original_pk), n).pk


def _copy(obj, n: int):
    copy = type(obj)._default_manager.get(pk=obj.pk)
    copy.pk = None
    if hasattr(copy, "id"):
        copy.id = None
    copy._state.adding = True
    unique_together = {name for constraint in copy._meta.constraints
                       for name in getattr(constraint, "fields", ())}
    unique_together |= {name for names in copy._meta.unique_together for name in names}
    for field in copy._meta.concrete_fields:
        if field.primary_key or not (field.unique or field.name in unique_together):
            continue
        value = getattr(copy, field.attname)
        if isinstance(field, models.CharField) and isinstance(value, str):
            setattr(copy, field.attname, f"{value[: (field.max_length or 60) - 20]}-doomed-{n}")
    copy.save()
    return copy
