"""Opening a case is a newsroom right (cases/opening.py): the permission `cases.open_case`,
given through the group Desk editors, asked by the pages, the API and the admin. A new
case's lead is chosen among its own people (at opening, its opener); a refused lead gets one
answer whether the account exists or not; a case's address never depends on other cases'."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from cases import demo, opening
from cases.enums import Role
from cases.models import Case, Membership
from cases.models.case import LEAD_NOT_ELIGIBLE, LEAD_NOT_ELIGIBLE_MESSAGE

from .factories import PASSWORD, CaseFactory, DeskEditorFactory, MembershipFactory, UserFactory
from .test_api import API, token_client

pytestmark = pytest.mark.django_db

NEW_CASE = reverse("cases:case_create")
CASE_DATA = {"title": "Arrests in Bryansk", "summary": "", "status": "active",
             "sensitivity": "normal", "lead": ""}
TRIO = ["outsider", "member", "editor"]


@pytest.fixture
def people(case, outsider):
    """The trio: a user of no case, a reporter of `case`, and an editor of `case` who is a
    desk editor (the only one of the three who may open cases)."""
    member = UserFactory(username="member")
    MembershipFactory(case=case, user=member, role=Role.REPORTER)
    editor = DeskEditorFactory(username="editor")
    MembershipFactory(case=case, user=editor, role=Role.EDITOR)
    return {"outsider": outsider, "member": member, "editor": editor}


# --- who may open a case --------------------------------------------------------------------

def test_desk_editors_group_holds_the_right_after_migrating():
    group = Group.objects.get(name=opening.DESK_EDITORS_GROUP)
    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [
        ("cases", "open_case")]


@pytest.mark.parametrize("who", TRIO)
def test_may_open_cases_only_through_the_right(people, who):
    assert opening.may_open_cases(people[who]) is (who == "editor")


def test_may_open_cases_is_not_implied_by_editing_a_case_or_by_superuser(case, make_member):
    case_editor = make_member(Role.EDITOR, username="case_editor")
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    assert not opening.may_open_cases(case_editor)
    assert not opening.may_open_cases(superuser)
    superuser.user_permissions.add(Permission.objects.get(codename="open_case"))
    assert opening.may_open_cases(get_user_model().objects.get(pk=superuser.pk))


def test_may_open_cases_not_for_a_deactivated_desk_editor(desk_editor):
    desk_editor.is_active = False
    desk_editor.save()
    assert not opening.may_open_cases(get_user_model().objects.get(pk=desk_editor.pk))


# --- the pages ------------------------------------------------------------------------------

@pytest.mark.parametrize("who", TRIO)
def test_new_case_button_shown_to_desk_editors_only(client, people, who):
    client.force_login(people[who])
    page = client.get(reverse("cases:case_list")).content.decode()
    assert (f'href="{NEW_CASE}"' in page) is (who == "editor")


@pytest.mark.parametrize("who", ["outsider", "desk_editor"])
def test_dashboard_offers_opening_a_case_to_desk_editors_only(client, outsider, desk_editor,
                                                              who):
    client.force_login({"outsider": outsider, "desk_editor": desk_editor}[who])
    page = client.get(reverse("cases:dashboard")).content.decode()
    assert (f'href="{NEW_CASE}"' in page) is (who == "desk_editor")
    assert ("Ask an editor to add you to one." in page) is (who == "outsider")


@pytest.mark.parametrize("who", TRIO)
def test_new_case_form_is_403_without_the_right(client, people, who):
    client.force_login(people[who])
    shown = client.get(NEW_CASE)
    posted = client.post(NEW_CASE, CASE_DATA)
    if who == "editor":
        assert shown.status_code == 200
        case = Case.objects.get(title=CASE_DATA["title"])
        assert posted["Location"] == reverse("cases:case_overview", args=[case.slug])
        assert Membership.objects.get(case=case).user == people[who]
    else:
        for response in (shown, posted):
            assert response.status_code == 403
            assert str(opening.OPEN_CASE_DENIED_MESSAGE) in response.content.decode()
            assert 'name="title"' not in response.content.decode()
        assert not Case.objects.filter(title=CASE_DATA["title"]).exists()


def test_new_case_form_is_403_for_a_superuser_without_the_right(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(NEW_CASE).status_code == 403
    assert client.post(NEW_CASE, CASE_DATA).status_code == 403
    assert not Case.objects.exists()


def test_new_case_lead_list_offers_only_the_opener(client, people):
    UserFactory(username="somebody-else")
    client.force_login(people["editor"])
    response = client.get(NEW_CASE)
    field = response.context["form"].fields["lead"]
    assert [user.username for user in field.queryset] == ["editor"]
    page = response.content.decode()
    for username in ("outsider", "member", "somebody-else"):
        assert f">{username}<" not in page


def test_new_case_lead_refused_alike_whether_the_account_exists_or_not(client, people):
    client.force_login(people["editor"])
    answers = []
    for lead in (people["member"].pk, people["outsider"].pk, 987654, "not-a-number"):
        response = client.post(NEW_CASE, {**CASE_DATA, "lead": lead})
        assert response.status_code == 400
        (error,) = response.context["form"].errors.as_data()["lead"]
        answers.append((error.code, error.message))
    assert set(answers) == {(LEAD_NOT_ELIGIBLE, LEAD_NOT_ELIGIBLE_MESSAGE)}
    assert not Case.objects.filter(title=CASE_DATA["title"]).exists()


def test_new_case_address_tells_nothing_of_other_cases(client, people):
    # An older case, not the opener's, whose address is its title's words alone.
    CaseFactory(title="Secret story", slug="secret-story")
    client.force_login(people["editor"])
    slugs = {}
    for title in ("Secret story", "Public story"):
        response = client.post(NEW_CASE, {**CASE_DATA, "title": title, "slug": "secret-story"})
        assert response.status_code == 302
        slugs[title] = Case.objects.get(title=title, created_by=people["editor"]).slug
    assert re.fullmatch(r"secret-story-[2-9a-z]{5}", slugs["Secret story"])
    assert re.fullmatch(r"public-story-[2-9a-z]{5}", slugs["Public story"])


def test_case_edit_keeps_the_address_and_offers_reporters_and_editors_as_lead(
        client, case, people, make_member):
    viewer = make_member(Role.VIEWER, username="viewer")
    client.force_login(people["editor"])
    url = reverse("cases:case_edit", args=[case.slug])
    form = client.get(url).context["form"]
    assert "slug" not in form.fields
    assert {u.username for u in form.fields["lead"].queryset} == {"member", "editor"}
    data = {"title": case.title, "summary": "", "status": "active", "sensitivity": "normal",
            "version": form["version"].value(), "slug": "another-address"}
    for lead in (viewer.pk, people["outsider"].pk, 987654):
        response = client.post(url, {**data, "lead": lead})
        (error,) = response.context["form"].errors.as_data()["lead"]
        assert (error.code, error.message) == (LEAD_NOT_ELIGIBLE, LEAD_NOT_ELIGIBLE_MESSAGE)
    response = client.post(url, {**data, "lead": people["member"].pk})
    assert response.status_code == 302
    saved = Case.objects.get(pk=case.pk)
    assert (saved.lead, saved.slug) == (people["member"], case.slug)


# --- the API --------------------------------------------------------------------------------

@pytest.mark.parametrize("who", TRIO)
def test_api_opening_a_case_needs_the_right(people, who):
    response = token_client(people[who]).post(f"{API}/cases/", {"title": "Arrests"},
                                              format="json")
    if who == "editor":
        assert response.status_code == 201, response.content
        assert response.json()["my_role"] == "editor"
    else:
        assert response.status_code == 403
        assert response.json() == {"detail": str(opening.OPEN_CASE_DENIED_MESSAGE),
                                   "code": opening.OPEN_CASE_DENIED}
        assert not Case.objects.filter(title="Arrests").exists()


def test_api_refusal_without_the_right_comes_before_the_input(people):
    """An outsider's lead is not checked: the answer says nothing of any username."""
    api = token_client(people["outsider"])
    for lead in ("member", "nobody-by-this-name"):
        response = api.post(f"{API}/cases/", {"title": "Arrests", "lead": lead}, format="json")
        assert response.json()["code"] == opening.OPEN_CASE_DENIED


def test_api_lead_refused_alike_whether_the_username_exists_or_not(people):
    inactive = UserFactory(username="gone", is_active=False)
    api = token_client(people["editor"])
    answers = []
    for lead in ("member", "outsider", inactive.username, "nobody-by-this-name"):
        response = api.post(f"{API}/cases/", {"title": "Arrests", "lead": lead},
                            format="json")
        assert response.status_code == 400
        assert [e.code for e in response.data["lead"]] == [LEAD_NOT_ELIGIBLE]
        answers.append(response.content)
    assert len(set(answers)) == 1
    assert response.json() == {"lead": [str(LEAD_NOT_ELIGIBLE_MESSAGE)],
                               "codes": {"lead": [LEAD_NOT_ELIGIBLE]}}
    assert not Case.objects.filter(title="Arrests").exists()

    opened = api.post(f"{API}/cases/", {"title": "Arrests", "lead": "editor"}, format="json")
    assert opened.status_code == 201
    assert Case.objects.get(pk=opened.json()["id"]).lead == people["editor"]


def test_api_changing_the_lead_refused_alike_whether_the_username_exists_or_not(
        case, people, make_member):
    make_member(Role.VIEWER, username="viewer")
    api, url = token_client(people["editor"]), f"{API}/cases/{case.pk}/"

    def patch(lead):
        return api.patch(url, {"lead": lead}, format="json", HTTP_IF_MATCH=api.get(url)["ETag"])

    refusals = {patch(lead).content for lead in ("viewer", "outsider", "nobody-by-this-name")}
    assert len(refusals) == 1
    assert patch("member").status_code == 200
    assert Case.objects.get(pk=case.pk).lead == people["member"]


def test_api_address_is_made_by_the_server(people):
    CaseFactory(title="Secret story", slug="secret-story")
    api = token_client(people["editor"])
    for title in ("Secret story", "Public story"):
        response = api.post(f"{API}/cases/", {"title": title, "slug": "secret-story"},
                            format="json")
        assert response.status_code == 201, response.content
        base = title.lower().replace(" ", "-")
        assert re.fullmatch(rf"{base}-[2-9a-z]{{5}}", response.json()["slug"])


# --- the admin ------------------------------------------------------------------------------

@pytest.fixture
def back_office():
    """Staff with every model permission of the cases app but opening cases, which comes
    from Desk editors only."""
    group = Group.objects.create(name="Back office (opening tests)")
    group.permissions.set(Permission.objects.filter(content_type__app_label="cases")
                          .exclude(codename="open_case"))

    def make(user):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(group)
        return user

    return make


@pytest.mark.parametrize("who", TRIO)
def test_admin_adding_a_case_needs_the_right(client, people, back_office, who):
    client.force_login(back_office(people[who]))
    add = reverse("admin:cases_case_add")
    response = client.get(add)
    changelist = client.get(reverse("admin:cases_case_changelist")).content.decode()
    if who == "editor":
        assert response.status_code == 200
        assert 'name="slug"' not in response.content.decode()  # made when the case is saved
        assert f'href="{add}"' in changelist
    else:
        assert response.status_code == 403
        assert f'href="{add}"' not in changelist
        posted = client.post(add, {"title": "Arrests", "status": "active",
                                   "sensitivity": "normal"})
        assert posted.status_code == 403
        assert not Case.objects.filter(title="Arrests").exists()


def test_admin_new_case_lead_is_its_opener_or_refused(client, people, back_office):
    client.force_login(back_office(people["editor"]))
    add = reverse("admin:cases_case_add")
    form = {"title": "Arrests", "summary": "", "status": "active", "sensitivity": "normal",
            **{f"{prefix}-{key}": value for prefix in ("memberships", "incidents", "claims",
                                                       "tasks")
               for key, value in (("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0))}}
    refused = client.post(add, {**form, "lead": people["member"].pk})
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors.as_data()
    assert [e.code for e in errors["lead"]] == [LEAD_NOT_ELIGIBLE]
    assert not Case.objects.filter(title="Arrests").exists()

    accepted = client.post(add, {**form, "lead": people["editor"].pk})
    assert accepted.status_code == 302, accepted.context["adminform"].form.errors
    case = Case.objects.get(title="Arrests")
    assert (case.lead, case.created_by) == (people["editor"], people["editor"])
    assert re.fullmatch(r"arrests-[2-9a-z]{5}", case.slug)
    assert Membership.objects.get(case=case).role == Role.EDITOR


# --- the demo -------------------------------------------------------------------------------

def test_demo_editors_may_open_cases_and_no_one_else():
    users = demo.seed(PASSWORD).users
    allowed = {name for name, user in users.items() if opening.may_open_cases(user)}
    assert allowed == {"editor", "editor2"}
    staff_group = Group.objects.get(name=demo.STAFF_GROUP)
    assert not staff_group.permissions.filter(codename="open_case").exists()
    assert demo.seed(PASSWORD).case.lead == users["reporter"]
