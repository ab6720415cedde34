"""The back office's case page: it can be saved whatever the size of the case, and it leads to
the case's records instead of posting them all back."""

import pytest
from django.urls import reverse

from cases.enums import Role
from cases.models import Case

from .clients import TwoFactorClient
from .factories import (
    CaseFactory,
    ClaimFactory,
    IncidentFactory,
    MembershipFactory,
    TaskFactory,
    UserFactory,
)
from .test_forms import fill, read_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_editor(make_staff):
    return make_staff(UserFactory(username="anna"))


@pytest.fixture
def staff_client(staff_editor):
    client = TwoFactorClient()
    client.force_login(staff_editor)
    return client


def test_case_page_of_a_large_case_saves(settings, staff_client, staff_editor):
    case = CaseFactory(title="Rostov desk")
    MembershipFactory(case=case, user=staff_editor, role=Role.EDITOR)
    ClaimFactory.create_batch(300, case=case)
    IncidentFactory.create_batch(50, case=case)
    url = reverse("admin:cases_case_change", args=[case.pk])

    data = fill(read_form(staff_client.get(url)), title="Rostov desk, updated")
    response = staff_client.post(url, data)

    assert sum(len(values) if isinstance(values, list) else 1 for values in data.values()) \
        < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).title == "Rostov desk, updated"


def test_case_page_links_to_each_kind_of_record_with_its_count(staff_client, staff_editor):
    case = CaseFactory(title="Rostov desk")
    other = CaseFactory(title="Other desk")
    for each in (case, other):
        MembershipFactory(case=each, user=staff_editor, role=Role.EDITOR)
    ClaimFactory.create_batch(3, case=case, statement="Ten deserted.")
    ClaimFactory(case=other, statement="Not this case's claim.")
    TaskFactory(case=case)

    page = staff_client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()
    claims_url = f"{reverse('admin:cases_claim_changelist')}?case__id__exact={case.pk}"
    listed = staff_client.get(claims_url)

    assert f'<a href="{claims_url}">claims</a>: 3' in page
    assert f"case__id__exact={case.pk}\">tasks</a>: 1" in page
    assert [claim.statement for claim in listed.context["cl"].result_list] == \
        ["Ten deserted."] * 3
