"""The refusal of outcomes that add up to more than the people involved reads as a sentence
whatever the qualifiers (cases/models/incident.py: count_balance_error), and the back
office's incident list shows each count with its qualifier."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models.incident import count_balance_error

from .factories import IncidentFactory
from .query_counts import measured_get, text

pytestmark = pytest.mark.django_db

PREFIX = "Detained, killed, missing and at large add up to "


def _counts(**given):
    """Count values as the model and the importers pass them: every qualifier "exactly"
    unless given."""
    values = {}
    for name in ("involved", "detained", "killed", "injured", "missing", "at_large"):
        values[name] = given.get(name)
        values[f"{name}_qualifier"] = given.get(f"{name}_qualifier", "exactly")
    return values


def test_count_balance_error_exact_involved_keeps_the_plural():
    many = count_balance_error(_counts(involved=10, detained=8, at_large=4))
    one = count_balance_error(_counts(involved=1, detained=2))
    assert (many.code, one.code) == ("counts_exceed_involved", "counts_exceed_involved")
    assert many.messages == [PREFIX + "12, more than the 10 people involved."]
    assert one.messages == [PREFIX + "2, more than the 1 person involved."]


def test_count_balance_error_exact_involved_with_qualified_outcomes_names_their_range():
    error = count_balance_error(_counts(involved=10, detained=8, at_large=4,
                                        at_large_qualifier="at_least"))
    assert error.code == "counts_exceed_involved"
    assert error.messages == [PREFIX + "at least 12, more than the 10 people involved."]


def test_count_balance_error_exact_involved_groups_digits_as_other_figures():
    error = count_balance_error(_counts(involved=1000, detained=1200))
    assert error.messages == [PREFIX + "1,200, more than the 1,000 people involved."]


@pytest.mark.parametrize(("qualifier", "involved_words"), [
    ("fewer_than", "fewer than 10"),
    ("at_most", "at most 10"),
    ("about", "about 10"),
    ("nearly", "nearly 10"),
])
def test_count_balance_error_qualified_involved_follows_the_people(qualifier, involved_words):
    error = count_balance_error(_counts(involved=10, involved_qualifier=qualifier,
                                        detained=8, at_large=4,
                                        at_large_qualifier="at_least"))
    assert error.code == "counts_exceed_involved"
    assert error.messages == [
        PREFIX + f"at least 12, more than the people involved ({involved_words})."]


@pytest.mark.parametrize("qualifier", ["at_least", "more_than"])
def test_count_balance_error_open_ended_involved_is_never_exceeded(qualifier):
    assert count_balance_error(_counts(involved=10, involved_qualifier=qualifier,
                                       detained=500)) is None


def test_count_balance_error_qualified_involved_with_exact_outcomes(case):
    incident = IncidentFactory.build(case=case, involved=1000, involved_qualifier="about",
                                     detained=1200)
    with pytest.raises(ValidationError) as excinfo:
        incident.full_clean(exclude=["created_by"])
    error = excinfo.value.error_dict["involved"][0]
    assert error.code == "counts_exceed_involved"
    assert error.messages == [PREFIX + "1,200, more than the people involved (about 1,000)."]


# --- the back office's incident list ------------------------------------------------------


@pytest.fixture
def staff_editor(client, editor, make_staff, settings):
    settings.SESSION_REFRESH_SECONDS = 24 * 60 * 60  # no session save after the warm-up
    make_staff(editor)
    client.force_login(editor)
    return editor


def test_admin_incident_list_shows_counts_with_their_qualifiers(client, case, staff_editor):
    IncidentFactory(case=case, title="Siege", involved=10, involved_qualifier="fewer_than",
                    detained=3, killed=None, at_large=2, at_large_qualifier="more_than")
    page = client.get(reverse("admin:cases_incident_changelist")).content.decode()
    assert '<td class="field-involved_display">fewer than 10</td>' in page
    assert '<td class="field-detained_display">3</td>' in page
    assert '<td class="field-at_large_display">more than 2</td>' in page
    assert '<td class="field-killed_display">-</td>' in page


def test_admin_incident_list_counts_add_no_query_per_incident(client, case, staff_editor,
                                                              django_assert_num_queries):
    url = reverse("admin:cases_incident_changelist")
    IncidentFactory(case=case, involved=10, involved_qualifier="fewer_than", detained=3)
    client.get(url)  # the warm-up and cleared cache, as measured_get makes them
    cache.clear()
    with CaptureQueriesContext(connection) as for_one:
        client.get(url)
    for number in range(5):
        IncidentFactory(case=case, involved=100 + number, involved_qualifier="about",
                        detained=number, killed=1, at_large=2, at_large_qualifier="at_least")

    response = measured_get(client, url, django_assert_num_queries, len(for_one))

    assert text(response).count("about 10") == 5
