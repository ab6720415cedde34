"""Granting the source-handler right in the back office follows the workspace's rule
(cases/identities.py): never to oneself, only by an editor of the case or its lead."""

import pytest
from django.core import mail

from cases.enums import Role
from cases.identities import HANDLER_GRANT_NOT_ALLOWED, HANDLER_SELF_GRANT
from cases.models import Membership

from .clients import TwoFactorClient
from .factories import CaseFactory, MembershipFactory, UserFactory
from .test_admin_concurrency import change_url, error_codes, open_form
from .test_forms import fill

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db, make_staff):
    case = CaseFactory(title="Rostov desk")
    people = {name: make_staff(UserFactory(username=name))
              for name in ("editor", "second_editor", "reporter")}
    memberships = {
        "editor": MembershipFactory(case=case, user=people["editor"], role=Role.EDITOR),
        "second_editor": MembershipFactory(case=case, user=people["second_editor"],
                                           role=Role.EDITOR, can_handle_sources=True),
        "reporter": MembershipFactory(case=case, user=people["reporter"], role=Role.REPORTER),
    }
    return {"case": case, "people": people, "memberships": memberships}


def _client(user):
    client = TwoFactorClient()
    client.force_login(user)
    return client


def test_admin_membership_self_grant_is_refused_with_its_code(desk):
    own = desk["memberships"]["editor"]
    client = _client(desk["people"]["editor"])
    response = client.post(change_url(own), fill(open_form(client, own),
                                                 can_handle_sources="on"))
    assert response.status_code == 200
    assert error_codes(response.context["adminform"].form,
                       "can_handle_sources") == [HANDLER_SELF_GRANT]
    own.refresh_from_db()
    assert own.can_handle_sources is False


def test_admin_membership_grant_by_another_editor_is_saved_and_handlers_told(
        desk, django_capture_on_commit_callbacks):
    reporter = desk["memberships"]["reporter"]
    client = _client(desk["people"]["editor"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(reporter), fill(open_form(client, reporter),
                                                          can_handle_sources="on"))
    assert response.status_code == 302
    reporter.refresh_from_db()
    assert reporter.can_handle_sources is True
    assert [message.to for message in mail.outbox] == [[desk["people"]["second_editor"].email]]


def test_admin_case_page_self_grant_in_the_members_row_is_refused(desk):
    case, own = desk["case"], desk["memberships"]["editor"]
    client = _client(desk["people"]["editor"])
    data = open_form(client, case)
    row = next(key.rsplit("-", 1)[0] for key, value in data.items()
               if key.endswith("-id") and value == [str(own.pk)])
    response = client.post(change_url(case), fill(data, **{f"{row}-can_handle_sources": "on"}))
    assert response.status_code == 200
    inline = next(formset for formset in response.context["inline_admin_formsets"]
                  if formset.formset.model is Membership).formset
    codes = [error.code for form in inline.forms
             for error in form.errors.as_data().get("can_handle_sources", [])]
    assert codes == [HANDLER_SELF_GRANT]
    own.refresh_from_db()
    assert own.can_handle_sources is False


def test_admin_membership_grant_by_a_superuser_who_is_no_editor_is_refused(desk):
    reporter = desk["memberships"]["reporter"]
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = _client(root)
    response = client.post(change_url(reporter), fill(open_form(client, reporter),
                                                      can_handle_sources="on"))
    assert error_codes(response.context["adminform"].form,
                       "can_handle_sources") == [HANDLER_GRANT_NOT_ALLOWED]
    reporter.refresh_from_db()
    assert reporter.can_handle_sources is False
