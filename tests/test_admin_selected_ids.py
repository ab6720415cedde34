"""The ids an admin changelist's action form posts are checked before Django filters by them
(config/admin.py): a non-number once answered 500 in every changelist with actions."""

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.messages import get_messages
from django.urls import reverse

from cases.models import Incident

from .factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

NOT_IDS = ["abc", "1e", "Infinity", "90.0000001", "\x00\x00", "-2.2e+16",
           "99999999999999999999999"]
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_admin_action_with_ids_not_of_the_model_is_refused_with_a_message(client, superuser,
                                                                           model):
    client.force_login(superuser)
    opts = model._meta
    path = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = client.post(path, {"action": "delete_selected", "index": 0,
                                  helpers.ACTION_CHECKBOX_NAME: NOT_IDS})
    if not admin.site._registry[model].get_actions(response.wsgi_request):
        # No actions (the append-only logs): the changelist, as for any POST; identities
        # are no list of a superuser who is not a handler.
        assert response.status_code == (403 if model._meta.model_name == "sourceidentity"
                                         else 200)
        return
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The items sent are not items of this list; no action was performed."]


def test_admin_action_with_one_bad_id_among_good_ones_does_nothing(client, superuser):
    incident = IncidentFactory()
    client.force_login(superuser)
    response = client.post(reverse("admin:cases_incident_changelist"), {
        "action": "delete_selected", "index": 0, "post": "yes",
        helpers.ACTION_CHECKBOX_NAME: [str(incident.pk), "abc"]})
    assert response.status_code == 302
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_admin_action_with_good_ids_still_runs(client, superuser):
    incident = IncidentFactory()
    client.force_login(superuser)
    response = client.post(reverse("admin:cases_incident_changelist"), {
        "action": "delete_selected", "index": 0, helpers.ACTION_CHECKBOX_NAME: [incident.pk]})
    # Django's confirmation page for the deletion, naming the incident.
    assert response.status_code == 200
    assert str(incident) in response.content.decode()
