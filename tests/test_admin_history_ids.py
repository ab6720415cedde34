"""History and revert pages of the back office with ids that cannot be keys: 404, as the
change page answers, never a 500 (django-simple-history filtered by them as sent)."""

import pytest
from django.contrib import admin
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from cases.admin.keys import KeyCheckedHistoryAdmin

from .clients import TwoFactorClient
from .factories import IncidentFactory, IncidentTypeFactory, UserFactory

pytestmark = pytest.mark.django_db

NOT_IDS = ["abc", "1.0", "-4.4047E-8", "\ufeff", "99999999999999999999999"]


@pytest.fixture
def signed_in_superuser():
    client = TwoFactorClient()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("bad", NOT_IDS)
def test_admin_history_page_with_an_id_that_is_no_key_is_404(signed_in_superuser, bad):
    response = signed_in_superuser.get(reverse("admin:cases_incident_history", args=[bad]))
    assert response.status_code == 404


@pytest.mark.parametrize("bad", NOT_IDS)
def test_admin_revert_page_with_a_history_id_that_is_no_key_is_404(signed_in_superuser, bad):
    incident = IncidentFactory()
    response = signed_in_superuser.get(reverse("admin:cases_incident_simple_history",
                                               args=[incident.pk, bad]))
    assert response.status_code == 404


def test_admin_revert_page_with_real_ids_still_renders(signed_in_superuser):
    incident = IncidentFactory(title="Night of desertion")
    version = incident.history.get().history_id
    response = signed_in_superuser.get(reverse("admin:cases_incident_simple_history",
                                               args=[incident.pk, version]))
    assert response.status_code == 200
    assert "Night of desertion" in response.content.decode()


def test_every_history_admin_checks_its_ids():
    history_admins = [type(model_admin) for model_admin in admin.site._registry.values()
                      if isinstance(model_admin, SimpleHistoryAdmin)]
    assert len(history_admins) > 5
    assert [cls.__name__ for cls in history_admins
            if not issubclass(cls, KeyCheckedHistoryAdmin)] == []


@pytest.mark.parametrize("bad", NOT_IDS)
def test_admin_history_of_a_newsroom_wide_model_with_an_id_that_is_no_key_is_404(
        signed_in_superuser, bad):
    incident_type = IncidentTypeFactory()
    history = signed_in_superuser.get(reverse("admin:cases_incidenttype_history", args=[bad]))
    revert = signed_in_superuser.get(reverse("admin:cases_incidenttype_simple_history",
                                             args=[incident_type.pk, bad]))
    assert (history.status_code, revert.status_code) == (404, 404)
