import pytest

from cases.enums import Role

from .factories import CaseFactory, MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is deliberately slow; tests create hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _evidence_in_tmp(settings, tmp_path):
    """Uploaded files go to a throwaway folder, never the developer's var/evidence."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": tmp_path / "evidence", "base_url": None}},
    }


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
