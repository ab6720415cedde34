"""A workflow move's input is defined once (cases.forms.verification) and taken alike by its
three doors: the claim page, the admin's actions and the API. The same input is refused with
the same codes by each, and changes nothing."""

import pytest
from django.urls import reverse

from cases import workflow
from cases.enums import VerificationStatus as S
from cases.forms.verification import NOTE_MAX_LENGTH
from cases.models import VerificationEvent

from .factories import CitationFactory, ClaimFactory, SourceFactory
from .test_api import API, token_client, version

pytestmark = pytest.mark.django_db

R = workflow.Refusal
NOTE = "Checked against the court's own register."
TOO_LONG = "x" * (NOTE_MAX_LENGTH + 1)


@pytest.fixture
def claim(case, reporter):
    """A reporter's claim on two independent outlets: every move is open to an editor."""
    claim = ClaimFactory(case=case, created_by=reporter, statement="Two men were arrested.")
    for name in ("161.ru", "Astra"):
        CitationFactory(claim=claim, source=SourceFactory(case=case, name=name,
                                                          reliability="C"))
    return claim


@pytest.fixture
def staff_editor(editor, make_staff):
    return make_staff(editor)


def unchanged(claim) -> bool:
    claim.refresh_from_db()
    return ((claim.status, claim.proposed_verdict) == (S.UNVERIFIED, "")
            and not VerificationEvent.objects.filter(claim=claim).exists())


def _form_codes(form) -> set[str]:
    return {error.code for errors in form.errors.as_data().values() for error in errors}


def page_codes(client, claim, move, data) -> set[str]:
    """The codes of the claim page's refusal (its form's errors)."""
    if move == "transition":
        url, form_name, prefix = "cases:claim_transition", "transition_form", ""
    else:
        url, form_name, prefix = "cases:claim_propose", "propose_form", "propose-"
    response = client.post(reverse(url, args=[claim.case.slug, claim.pk]),
                           {f"{prefix}{key}": value for key, value in data.items()})
    assert response.status_code == 400
    return _form_codes(response.context[form_name])


def admin_codes(client, claim, move, data) -> set[str]:
    """The codes of the admin action's refusal: its form's errors when the input is refused
    (the confirmation page again), the message's tags when the workflow refuses."""
    action = {"transition": "change_status", "propose": "propose_verdict"}[move]
    response = client.post(reverse("admin:cases_claim_changelist"), {
        "action": action, "_selected_action": [claim.pk], "apply": "Go",
        **{f"workflow-{key}": value for key, value in data.items()}}, follow=True)
    if response.templates[0].name == "admin/cases/claim/transition.html":
        return _form_codes(response.context["form"])
    (message,) = response.context["messages"]
    assert message.level_tag == "error"
    return set(message.extra_tags.split())


def api_codes(user, claim, move, data) -> set[str]:
    """The codes of the API's 400: one for each reason it names."""
    api, url = token_client(user), f"{API}/claims/{claim.pk}/"
    response = api.post(f"{url}{move}/", data, format="json", **version(api, url))
    assert response.status_code == 400
    body = response.json()
    reasons = [reason for key, value in body.items() if key != "codes" for reason in value]
    assert len(reasons) == len(body["codes"])
    return set(body["codes"])


REFUSED = {
    "no move leads back to unverified": (
        "transition", {"to_status": S.UNVERIFIED, "note": NOTE}, {"invalid_choice"}),
    "not a status": ("transition", {"to_status": "published", "note": NOTE},
                     {"invalid_choice"}),
    "no status": ("transition", {"note": NOTE}, {"required"}),
    "a note over the limit": ("transition", {"to_status": S.FALSE, "note": TOO_LONG},
                              {"max_length"}),
    "an override's reason over the limit": (
        "transition", {"to_status": S.CONFIRMED, "note": NOTE, "override_reason": TOO_LONG},
        {"max_length"}),
    "a verdict without its rationale": ("transition", {"to_status": S.FALSE},
                                        {R.RATIONALE_REQUIRED}),
    "an override on another move": (
        "transition", {"to_status": S.FALSE, "note": NOTE, "override_reason": "Because."},
        {R.OVERRIDE_NOT_FOR_THIS_MOVE}),
    "a proposal that is no verdict": ("propose", {"verdict": S.IN_REVIEW, "note": NOTE},
                                      {"invalid_choice"}),
    "a proposal's note over the limit": ("propose", {"verdict": S.FALSE, "note": TOO_LONG},
                                         {"max_length"}),
}


@pytest.mark.parametrize("case_name", list(REFUSED))
def test_every_door_refuses_the_same_input_with_the_same_codes(client, claim, staff_editor,
                                                               case_name):
    move, data, codes = REFUSED[case_name]
    client.force_login(staff_editor)

    assert page_codes(client, claim, move, data) == codes
    assert admin_codes(client, claim, move, data) == codes
    assert api_codes(staff_editor, claim, move, data) == codes
    assert unchanged(claim)


def test_admin_and_api_refuse_a_proposal_without_its_note_with_the_workflows_code(
        client, claim, staff_editor):
    client.force_login(staff_editor)
    data = {"verdict": S.FALSE, "note": "  "}

    assert admin_codes(client, claim, "propose", data) == {R.RATIONALE_REQUIRED}
    assert api_codes(staff_editor, claim, "propose", data) == {R.RATIONALE_REQUIRED}
    assert unchanged(claim)


def test_page_refuses_a_proposal_without_its_note_with_the_workflows_code(client, claim,
                                                                          staff_editor):
    client.force_login(staff_editor)

    assert page_codes(client, claim, "propose", {"verdict": S.FALSE, "note": ""}) == {
        R.RATIONALE_REQUIRED}
    assert unchanged(claim)


def test_every_door_takes_a_note_at_the_limit(client, case, reporter, staff_editor):
    """The limit is the same everywhere: NOTE_MAX_LENGTH characters are accepted."""
    client.force_login(staff_editor)
    note = "x" * NOTE_MAX_LENGTH
    claims = [ClaimFactory(case=case, created_by=reporter) for _ in range(3)]
    for claim in claims:
        CitationFactory(claim=claim, source=SourceFactory(case=case))

    page = client.post(reverse("cases:claim_transition", args=[case.slug, claims[0].pk]),
                       {"to_status": S.FALSE, "note": note})
    assert page.status_code == 302
    client.post(reverse("admin:cases_claim_changelist"), {
        "action": "change_status", "_selected_action": [claims[1].pk], "apply": "Go",
        "workflow-to_status": S.FALSE, "workflow-note": note})
    api, url = token_client(staff_editor), f"{API}/claims/{claims[2].pk}/"
    response = api.post(f"{url}transition/", {"to_status": S.FALSE, "note": note},
                        format="json", **version(api, url))
    assert response.status_code == 200, response.content

    events = VerificationEvent.objects.filter(claim__in=claims)
    assert sorted(events.values_list("claim_id", "to_status")) == [
        (claim.pk, S.FALSE) for claim in claims]
    assert {len(event.note) for event in events} == {NOTE_MAX_LENGTH}


def test_the_schema_describes_the_moves_input_and_refusal_codes(reporter):
    schema = token_client(reporter).get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    transition = components["TransitionRequest"]["properties"]
    statuses = {ref["$ref"].rsplit("/", 1)[-1]
                for ref in [transition["to_status"]] if "$ref" in ref}
    to_status = components[statuses.pop()] if statuses else transition["to_status"]
    assert to_status["enum"] == [s.value for s in workflow.MOVE_TARGETS]
    assert transition["note"]["maxLength"] == NOTE_MAX_LENGTH
    assert transition["override_reason"]["maxLength"] == NOTE_MAX_LENGTH
    assert components["ProposeRequest"]["properties"]["note"]["maxLength"] == NOTE_MAX_LENGTH
    for move in ("transition", "propose"):
        refusal = schema["paths"][f"/api/v1/claims/{{id}}/{move}/"]["post"]["responses"]["400"]
        body = refusal["content"]["application/json"]["schema"]
        assert body["properties"]["codes"]["items"] == {"type": "string"}
        assert all(f"`{code}`" in refusal["description"] for code in R.codes())
