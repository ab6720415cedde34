"""Confirming a claim on one source, through each path that can (the claim page, the admin's
status action, the API): the override needs a reason of substance, a source graded E or F
needs the editor's explicit acknowledgement, and each refusal carries the workflow's code."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from cases import workflow
from cases.enums import VerificationStatus as S
from cases.models import Claim, VerificationEvent

from .factories import CitationFactory, ClaimFactory, SourceFactory
from .test_api import API, token_client

pytestmark = pytest.mark.django_db

R = workflow.Refusal
NOTE = "Checked against the court's own register."
REASON = "The court register is itself the primary record of the arrests."
LOW_GRADE_CODES = {R.OVERRIDE_REASON_TOO_SHORT, R.LOW_GRADE_NOT_ACKNOWLEDGED}


@pytest.fixture
def claim(case, reporter):
    """A claim by the reporter, on one source graded E (unreliable)."""
    claim = ClaimFactory(case=case, created_by=reporter, statement="Two men were arrested.")
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="Border Telegram",
                                                      reliability="E"))
    return claim


def unchanged(claim):
    claim.refresh_from_db()
    return claim.status == S.UNVERIFIED and not VerificationEvent.objects.filter(
        claim=claim).exists()


# --- the claim page ---------------------------------------------------------------------------

def transition_url(claim):
    return reverse("cases:claim_transition", args=[claim.case.slug, claim.pk])


def test_page_move_form_shows_the_grade_and_asks_for_the_acknowledgement(client, claim,
                                                                         editor):
    client.force_login(editor)
    response = client.get(reverse("cases:claim_detail", args=[claim.case.slug, claim.pk]))
    form = response.context["transition_form"]
    assert "Border Telegram (E – Unreliable)" in form.fields["override_reason"].help_text
    assert "acknowledge_low_grade" in form.fields
    page = response.content.decode()
    assert "Border Telegram (E – Unreliable)" in page
    assert 'name="acknowledge_low_grade"' in page


def test_page_move_form_asks_nothing_of_a_source_graded_c(client, case, reporter, editor):
    claim = ClaimFactory(case=case, created_by=reporter)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru",
                                                      reliability="C"))
    client.force_login(editor)
    response = client.get(reverse("cases:claim_detail", args=[case.slug, claim.pk]))
    form = response.context["transition_form"]
    assert "161.ru (C – Fairly reliable)" in form.fields["override_reason"].help_text
    assert "acknowledge_low_grade" not in form.fields


def test_page_one_character_override_on_grade_e_is_refused_with_codes(client, claim, editor):
    client.force_login(editor)
    response = client.post(transition_url(claim), {
        "to_status": S.CONFIRMED, "note": NOTE, "override_reason": "x"})
    assert response.status_code == 400
    errors = response.context["transition_form"].non_field_errors().as_data()
    assert {error.code for error in errors} == LOW_GRADE_CODES
    assert unchanged(claim)


def test_page_override_with_a_reason_and_the_acknowledgement_confirms(client, claim, editor):
    client.force_login(editor)
    response = client.post(transition_url(claim), {
        "to_status": S.CONFIRMED, "note": NOTE, "override_reason": REASON,
        "acknowledge_low_grade": "on"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == S.CONFIRMED
    event = claim.events.get()
    assert (event.actor, event.override_reason) == (editor, REASON)


def test_page_single_citation_is_said_to_have_one_source(client, claim, editor):
    client.force_login(editor)
    response = client.post(transition_url(claim), {"to_status": S.CONFIRMED, "note": NOTE})
    (error,) = response.context["transition_form"].non_field_errors().as_data()
    assert error.code == R.INDEPENDENT_SOURCES_REQUIRED
    assert "only one source" in error.message and "same origin" not in error.message
    assert "only one source" in response.content.decode()
    assert unchanged(claim)


# --- the admin's status action ----------------------------------------------------------------

@pytest.fixture
def staff_editor(editor):
    group = Group.objects.create(name="Back office (test)")
    group.permissions.set(Permission.objects.filter(content_type__app_label="cases",
                                                    codename__in=["view_claim", "change_claim"]))
    editor.is_staff = True
    editor.save(update_fields=["is_staff"])
    editor.groups.add(group)
    return editor


def run_status_action(client, claim, **form):
    url = reverse("admin:cases_claim_changelist")
    selected = {"action": "change_status", "_selected_action": [claim.pk]}
    page = client.post(url, {**selected, "index": 0})
    fields = {f"workflow-{key}": value for key, value in form.items()}
    return page, client.post(url, {**selected, **fields, "apply": "Go"}, follow=True)


def test_admin_status_action_shows_the_grade(client, claim, staff_editor):
    client.force_login(staff_editor)
    page, _ = run_status_action(client, claim, to_status=S.IN_REVIEW, note="")
    content = page.content.decode()
    assert "Border Telegram (E – Unreliable)" in content
    assert 'name="workflow-acknowledge_low_grade"' in content


def test_admin_one_character_override_on_grade_e_is_refused_with_codes(client, claim,
                                                                       staff_editor):
    client.force_login(staff_editor)
    _, response = run_status_action(client, claim, to_status=S.CONFIRMED, note=NOTE,
                                    override_reason="x")
    (message,) = response.context["messages"]
    assert set(message.extra_tags.split()) == LOW_GRADE_CODES
    assert f'class="{message.tags}"' in response.content.decode()
    assert unchanged(claim)


def test_admin_override_with_a_reason_and_the_acknowledgement_confirms(client, claim,
                                                                       staff_editor):
    client.force_login(staff_editor)
    run_status_action(client, claim, to_status=S.CONFIRMED, note=NOTE, override_reason=REASON,
                      acknowledge_low_grade="on")
    claim.refresh_from_db()
    assert claim.status == S.CONFIRMED
    assert claim.events.get().override_reason == REASON


# --- the API ----------------------------------------------------------------------------------

def api_transition(user, claim, data):
    """POST /transition/ with If-Match naming the version read just before."""
    api, url = token_client(user), f"{API}/claims/{claim.pk}/"
    etag = api.get(url)["ETag"]
    return api.post(f"{url}transition/", data, format="json", HTTP_IF_MATCH=etag)


def test_api_one_character_override_on_grade_e_is_refused_with_codes(claim, editor):
    response = api_transition(editor, claim, {"to_status": "confirmed", "note": NOTE,
                                              "override_reason": "x"})
    assert response.status_code == 400
    body = response.json()
    assert set(body["codes"]) == LOW_GRADE_CODES
    assert len(body["codes"]) == len(body["non_field_errors"])
    assert unchanged(claim)


def test_api_override_with_a_reason_and_the_acknowledgement_confirms(claim, editor):
    data = {"to_status": "confirmed", "note": NOTE, "override_reason": REASON}
    refused = api_transition(editor, claim, data)
    assert refused.json()["codes"] == [R.LOW_GRADE_NOT_ACKNOWLEDGED]
    assert unchanged(claim)

    response = api_transition(editor, claim, {**data, "acknowledge_low_grade": True})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "confirmed"
    assert Claim.objects.get(pk=claim.pk).events.get().override_reason == REASON


def test_api_viewer_refusal_carries_its_code(claim, viewer):
    response = api_transition(viewer, claim, {"to_status": "in_review"})
    assert response.json()["codes"] == [R.ROLE_TOO_LOW]
    assert unchanged(claim)


def test_every_path_refuses_with_the_same_codes(client, claim, staff_editor):
    """One rule, three doors: the same input gets the same codes from each."""
    client.force_login(staff_editor)
    data = {"to_status": S.CONFIRMED, "note": NOTE, "override_reason": "too short"}
    page = client.post(transition_url(claim), data)
    page_codes = {e.code for e in page.context["transition_form"].non_field_errors().as_data()}
    _, admin = run_status_action(client, claim, **data)
    (message,) = admin.context["messages"]
    api_codes = set(api_transition(staff_editor, claim, data).json()["codes"])
    assert page_codes == set(message.extra_tags.split()) == api_codes == LOW_GRADE_CODES
    assert unchanged(claim)
