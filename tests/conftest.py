import os
from unittest import mock

import pytest
from django.core.cache import cache
from django.db.backends.base.operations import BaseDatabaseOperations
from django.utils import translation
from hypothesis import settings as hypothesis_settings

from cases.enums import Role
from cases.history import history_maintenance

from .clients import TwoFactorClient
from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    DeskEditorFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)

# The suite's property tests are derandomized: CI must fail every time or never on one tree.
# `make fuzz` explores with a new seed each run; HYPOTHESIS_PROFILE=explore does so here.
hypothesis_settings.register_profile("suite", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture
def client():
    """pytest-django's `client`, whose sign-ins include the second factor (tests/clients.py)."""
    return TwoFactorClient()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is deliberately slow; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth's rate limits live in the cache: one test's failed sign-ins must not count
    against the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request through LocaleMiddleware leaves
    the language it chose active in the thread, which would otherwise carry a Russian page's
    language into the next test's refusals and mail."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _evidence_in_tmp(settings, tmp_path):
    """Uploaded files go to a throwaway folder, never the developer's var/evidence."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": tmp_path / "evidence", "base_url": None}},
    }


_execute_sql_flush = BaseDatabaseOperations.execute_sql_flush


def _flush_as_history_maintenance(ops, sql_list):
    with history_maintenance(ops.connection.alias, reason="test database flush"):
        return _execute_sql_flush(ops, sql_list)


@pytest.fixture(scope="session", autouse=True)
def _test_flush_may_truncate_history():
    """A transactional test (live_server, transaction=True) ends with Django's flush, one
    TRUNCATE of every table, which PostgreSQL's append-only guard on history tables refuses
    (cases/history.py). In the tests, and for that flush only, it runs as history
    maintenance; every other statement of every test meets the guard."""
    with mock.patch.object(BaseDatabaseOperations, "execute_sql_flush",
                           _flush_as_history_maintenance):
        yield


@pytest.fixture
def case(db):
    return CaseFactory(title="Rostov training-ground desertion")


@pytest.fixture
def make_member(case):
    """make_member(role, **kwargs) -> a user who holds `role` in `case`."""

    def make(role=Role.REPORTER, *, on_case=None, **user_kwargs):
        user = UserFactory(**user_kwargs)
        MembershipFactory(case=on_case or case, user=user, role=role)
        return user

    return make


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def viewer(make_member):
    return make_member(Role.VIEWER, username="viewer")


@pytest.fixture
def reporter(make_member):
    return make_member(Role.REPORTER, username="reporter")


@pytest.fixture
def editor(make_member):
    return make_member(Role.EDITOR, username="editor")


@pytest.fixture
def second_editor(make_member):
    return make_member(Role.EDITOR, username="second_editor")


@pytest.fixture
def desk_editor(db):
    """A user who may open cases (the group Desk editors), member of no case."""
    return DeskEditorFactory(username="desk_editor")


@pytest.fixture
def make_staff(db):
    """make_staff(user) -> the user, now staff with what a newsroom gives its back office:
    every permission on the cases app, and reading users (for the user pickers). Which cases
    and records they reach still comes from their memberships."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    group, _ = Group.objects.get_or_create(name="Back office")
    group.permissions.set(Permission.objects.filter(
        Q(content_type__app_label="cases") | Q(codename="view_user")))

    def make(user):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(group)
        return user

    return make


@pytest.fixture
def world(case, reporter):
    """One record of every kind in `case`, written by the reporter (the API's tests)."""
    incident = IncidentFactory(case=case, title="Ten men fled the training ground")
    source = SourceFactory(case=case, name="161.ru", url="https://161.ru/")
    claim = ClaimFactory(case=case, incident=incident, created_by=reporter,
                         statement="Ten men fled.")
    citation = CitationFactory(claim=claim, source=source)
    task = TaskFactory(case=case, title="Archive the original")
    request_ = CommentRequestFactory(case=case, incident=incident)
    return {"cases": case, "incidents": incident, "sources": source, "claims": claim,
            "citations": citation, "tasks": task, "comment-requests": request_}
