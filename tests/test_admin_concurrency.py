"""No lost updates in the back office (cases/admin/versions.py): every admin change form, every
inline row and every revert page carries the record's version token, and a form opened on an
older version is refused with 409, the input kept, the change named, nothing written.

Pages are filled as a browser fills them: fetched, read back (hidden tokens included), some
fields changed, posted."""

import re
import threading
import time

import pytest
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import workflow
from cases.admin.versions import AdminVersionedFormMixin, RefusesStaleSaves
from cases.enums import Role
from cases.enums import VerificationStatus as S
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    Incident,
    IncidentType,
    Membership,
    Source,
    SourceIdentity,
    Task,
)

from .clients import TwoFactorClient
from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    IncidentTypeFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)
from .test_forms import fill, read_form

pytestmark = pytest.mark.django_db


def change_url(obj):
    return reverse(f"admin:cases_{obj._meta.model_name}_change", args=[obj.pk])


def open_form(client, obj):
    page = client.get(change_url(obj))
    assert page.status_code == 200
    return read_form(page)


def submit(client, obj, **changes):
    return client.post(change_url(obj), fill(open_form(client, obj), **changes))


def error_codes(form, field=NON_FIELD_ERRORS):
    return [error.code for error in form.errors.as_data().get(field, [])]


@pytest.fixture
def desk(db, make_staff):
    """A case with two staff editors who are both source handlers ("anna" and "boris"), and
    one record of every editable kind."""
    case = CaseFactory(title="Rostov desk", summary="Deserters.")
    anna, boris = (make_staff(UserFactory(username=name)) for name in ("anna", "boris"))
    for user in (anna, boris):
        MembershipFactory(case=case, user=user, role=Role.EDITOR, can_handle_sources=True)
    member = UserFactory(username="carl")
    incident = IncidentFactory(case=case, title="Night of desertion", place_name="Kadamovsky")
    source = SourceFactory(case=case, name="Insider-3", protected=True)
    identity, _ = SourceIdentity.objects.get_or_create(source=source)
    identity.real_name, identity.contact = "Ivan", "Signal"
    identity.save()
    claim = ClaimFactory(case=case, statement="Ten deserted.", incident=incident)
    records = {
        Case: case,
        Membership: MembershipFactory(case=case, user=member, role=Role.REPORTER),
        IncidentType: IncidentTypeFactory(name="Desertion", slug="desertion"),
        Incident: incident,
        Source: source,
        SourceIdentity: identity,
        Claim: claim,
        Citation: CitationFactory(claim=claim, source=SourceFactory(case=case, name="161.ru"),
                                  quote="Ten left the unit."),
        Evidence: EvidenceFactory(case=case, description="Screenshot"),
        Task: TaskFactory(case=case, title="Call the unit", notes=""),
        CommentRequest: CommentRequestFactory(case=case, party_name="Ministry",
                                              reply_summary=""),
    }
    a, b = TwoFactorClient(), TwoFactorClient()
    a.force_login(anna)
    b.force_login(boris)
    return {"records": records, "a": a, "b": b, "anna": anna, "boris": boris}


# (what B changes first, what A then changes on the form A opened before B saved); each
# pair of field names: the form field, and the words that name it in the refusal.
EDITS = {
    Case: ({"summary": "Boris's summary"}, {"title": "Anna's title"}, "summary"),
    Membership: ({"role": Role.VIEWER}, {"role": Role.EDITOR}, "role"),
    IncidentType: ({"description": "Boris's words"}, {"name": "Anna's name"}, "description"),
    Incident: ({"place_name": "Novocherkassk"}, {"title": "Anna's title"}, "place"),
    Source: ({"reliability_note": "Boris's note"}, {"name": "Anna's codename"},
             "why this grade"),
    SourceIdentity: ({"contact": "Boris's contact"}, {"real_name": "Anna's name"},
                     "contact"),
    Claim: ({"statement": "Eleven deserted."}, {"figure_unit": "deserters"}, "statement"),
    Citation: ({"quote": "Boris's quote"}, {"language": "ru"}, "quote"),
    Evidence: ({"description": "Boris's description"},
               {"origin_url": "https://example.org/anna"}, "description"),
    Task: ({"title": "Boris's task"}, {"notes": "Anna's notes"}, "title"),
    CommentRequest: ({"reply_summary": "Boris's summary"}, {"party_name": "Anna's party"},
                     "reply summary"),
}


def stored(obj, names):
    fresh = type(obj).objects.get(pk=obj.pk)
    return {name: getattr(fresh, name) for name in names}


@pytest.mark.parametrize("model", list(EDITS), ids=lambda m: m.__name__)
def test_stale_admin_change_form_is_refused_naming_the_change(desk, model):
    obj = desk["records"][model]
    b_changes, a_changes, named = EDITS[model]
    a_form = open_form(desk["a"], obj)  # Anna opens the page…
    before_a = stored(obj, a_changes)

    response = submit(desk["b"], obj, **b_changes)  # …Boris saves first
    assert response.status_code == 302, response.content.decode()[:2000]
    history_rows = obj.history.count()

    response = desk["a"].post(change_url(obj), fill(a_form, **a_changes))

    assert response.status_code == 409
    form = response.context["adminform"].form
    assert error_codes(form) == ["version_changed"]
    # (The admin's date and time widgets drop microseconds: a factory's datetimes are
    # "changed" by any save, and named too.)
    assert re.search(rf"boris changed (.*, |.* and )?{named} of this",
                     " ".join(form.non_field_errors()))
    # Anna's input is kept, and beside Boris's field is what he saved.
    for name, value in a_changes.items():
        assert str(form[name].value()) == str(value)
    [b_field] = b_changes
    assert error_codes(form, b_field) == ["changed_meanwhile"]
    # Nothing of Anna's was written, Boris's change stands.
    assert stored(obj, b_changes) == b_changes
    assert stored(obj, set(a_changes) - set(b_changes)) == {
        name: value for name, value in before_a.items() if name not in b_changes}
    assert obj.history.count() == history_rows

    # The refused page is stamped with the current version: saving it is a choice.
    again = desk["a"].post(change_url(obj), read_form(response))
    assert again.status_code == 302
    assert stored(obj, a_changes) == a_changes


@pytest.mark.parametrize("token", ["missing", "empty", "forged", "another_record"])
def test_admin_change_form_without_a_valid_token_is_refused(desk, token):
    task = desk["records"][Task]
    other = TaskFactory(case=task.case)
    data = fill(open_form(desk["a"], task), title="Anna's task")
    real = data["version"][0]
    data["version"] = {"missing": None, "empty": "", "forged": real[:-3] + "abc",
                       "another_record": read_form(desk["a"].get(change_url(other)))[
                           "version"][0]}[token]
    if data["version"] is None:
        del data["version"]
    response = desk["a"].post(change_url(task), data)
    assert response.status_code == 409
    assert error_codes(response.context["adminform"].form) == ["version_unknown"]
    assert "version stamp is missing or not valid" in response.content.decode()
    assert Task.objects.get(pk=task.pk).title == "Call the unit"


def test_fresh_admin_forms_save_one_after_the_other(desk):
    task = desk["records"][Task]
    for client, title in ((desk["a"], "First"), (desk["b"], "Second"), (desk["a"], "Third")):
        assert submit(client, task, title=title).status_code == 302
    assert Task.objects.get(pk=task.pk).title == "Third"
    assert task.history.count() == 4


def test_workflow_move_after_the_admin_page_opened_refuses_its_save(desk):
    """A claim's status is the workflow's: a form opened before a move cannot save over it,
    and says the status changed."""
    claim = desk["records"][Claim]
    a_form = open_form(desk["a"], claim)
    workflow.transition(claim, S.IN_REVIEW, actor=desk["boris"])
    response = desk["a"].post(change_url(claim), fill(a_form, statement="Twelve deserted."))
    assert response.status_code == 409
    assert "boris changed status of this claim" in response.content.decode()
    claim.refresh_from_db()
    assert (claim.statement, claim.status) == ("Ten deserted.", S.IN_REVIEW)


# --- inline rows ---------------------------------------------------------------------------

def inline_errors(response, prefix):
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == prefix:
            return [error_codes(form) for form in inline.formset.forms]
    raise AssertionError(f"no inline {prefix}")


def test_stale_citation_row_on_the_claim_page_is_refused(desk):
    claim, citation = desk["records"][Claim], desk["records"][Citation]
    a_form = open_form(desk["a"], claim)
    assert submit(desk["b"], citation, quote="Boris's quote").status_code == 302

    response = desk["a"].post(change_url(claim), fill(
        a_form, statement="Anna's statement", citations__0__quote="Anna's quote"))

    assert response.status_code == 409
    assert inline_errors(response, "citations") == [["version_changed"]]
    assert re.search(r"boris changed (.* and )?quote of this citation",
                     response.content.decode())
    claim.refresh_from_db()
    citation.refresh_from_db()
    assert (claim.statement, citation.quote) == ("Ten deserted.", "Boris's quote")


def test_stale_deletion_of_an_inline_row_is_refused(desk):
    claim, citation = desk["records"][Claim], desk["records"][Citation]
    a_form = open_form(desk["a"], claim)
    assert submit(desk["b"], citation, quote="Boris's quote").status_code == 302

    response = desk["a"].post(change_url(claim), fill(a_form, citations__0__DELETE="on"))

    assert response.status_code == 409
    assert Citation.objects.filter(pk=citation.pk, quote="Boris's quote").exists()


def test_stale_identity_on_the_source_page_is_refused(desk):
    source, identity = desk["records"][Source], desk["records"][SourceIdentity]
    a_form = open_form(desk["a"], source)
    assert submit(desk["b"], identity, real_name="Boris's name").status_code == 302

    response = desk["a"].post(change_url(source), fill(a_form, identity__0__real_name="Anna's"))

    assert response.status_code == 409
    assert inline_errors(response, "identity") == [["version_changed"]]
    assert SourceIdentity.objects.get(pk=identity.pk).real_name == "Boris's name"


def test_stale_membership_row_on_the_case_page_is_refused(desk):
    case, membership = desk["records"][Case], desk["records"][Membership]
    a_form = open_form(desk["a"], case)
    rows = {a_form[f"memberships-{i}-id"][0]: i
            for i in range(int(a_form["memberships-TOTAL_FORMS"][0]))
            if f"memberships-{i}-id" in a_form}
    row = rows[str(membership.pk)]
    assert submit(desk["b"], membership, role=Role.VIEWER).status_code == 302

    response = desk["a"].post(change_url(case), fill(
        a_form, **{f"memberships-{row}-role": Role.EDITOR}))

    assert response.status_code == 409
    assert Membership.objects.get(pk=membership.pk).role == Role.VIEWER


# --- revert pages --------------------------------------------------------------------------

def revert_url(obj, version):
    return reverse(f"admin:cases_{obj._meta.model_name}_simple_history",
                   args=[obj.pk, version.history_id])


def test_stale_revert_is_refused(desk):
    incident = desk["records"][Incident]
    first = incident.history.earliest()
    assert submit(desk["a"], incident, title="Anna's title").status_code == 302
    page = desk["a"].get(revert_url(incident, first))  # Anna opens the revert page…
    assert submit(desk["b"], incident, place_name="Novocherkassk").status_code == 302

    response = desk["a"].post(revert_url(incident, first), read_form(page))

    assert response.status_code == 409
    assert "boris changed place of this incident" in response.content.decode()
    incident.refresh_from_db()
    assert (incident.title, incident.place_name) == ("Anna's title", "Novocherkassk")

    # From a freshly opened revert page, the revert goes through.
    again = desk["a"].post(revert_url(incident, first),
                           read_form(desk["a"].get(revert_url(incident, first))))
    assert again.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.place_name) == ("Night of desertion", "Kadamovsky")


def test_viewer_cannot_revert_through_a_forged_post(desk, make_staff):
    """simple_history only hides the Revert button from someone who may view but not
    change: the POST itself was accepted."""
    incident = desk["records"][Incident]
    first = incident.history.earliest()
    assert submit(desk["a"], incident, title="Anna's title").status_code == 302
    viewer = make_staff(UserFactory(username="vera"))
    MembershipFactory(case=incident.case, user=viewer, role=Role.VIEWER)
    client = TwoFactorClient()
    client.force_login(viewer)
    page = client.get(revert_url(incident, first))
    assert 'value="Revert"' not in page.content.decode()

    response = client.post(revert_url(incident, first), read_form(page))

    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.title == "Anna's title"


# --- the lock ---------------------------------------------------------------------------------

@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks")
def test_admin_save_reads_its_record_and_inline_rows_with_a_row_lock(desk):
    claim = desk["records"][Claim]
    data = fill(open_form(desk["a"], claim), statement="Anna's statement")
    with CaptureQueriesContext(connection) as queries:
        assert desk["a"].post(change_url(claim), data).status_code == 302
    locked = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert any('FROM "cases_claim"' in sql for sql in locked)
    assert any('FROM "cases_citation"' in sql for sql in locked)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
@pytest.mark.django_db(transaction=True)
def test_admin_save_waits_for_the_row_lock_and_is_refused(make_staff):
    """A real race: Boris's save holds the row when Anna's arrives. Without the lock her
    save would read the old version, pass the check and overwrite his change."""
    case = CaseFactory()
    anna = make_staff(UserFactory(username="anna"))
    MembershipFactory(case=case, user=anna, role=Role.EDITOR)
    boris = UserFactory(username="boris")
    task = TaskFactory(case=case, title="Call the unit")
    client = TwoFactorClient()
    client.force_login(anna)
    a_form = fill(open_form(client, task), title="Anna's task")
    b_holds_lock, release_b, outcome = threading.Event(), threading.Event(), {}

    def b_saves():
        try:
            with transaction.atomic():
                row = Task.objects.select_for_update().get(pk=task.pk)
                row.title, row._history_user = "Boris's task", boris
                row.save()
                b_holds_lock.set()
                release_b.wait(timeout=10)
        finally:
            connection.close()

    def a_submits():
        b_holds_lock.wait(timeout=10)
        try:
            outcome["response"] = client.post(change_url(task), a_form)
        finally:
            connection.close()

    threads = [threading.Thread(target=b_saves), threading.Thread(target=a_submits)]
    for thread in threads:
        thread.start()
    b_holds_lock.wait(timeout=10)
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:  # until Anna's request waits for Boris's row lock
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("Anna's save never waited for the row lock")
    release_b.set()
    for thread in threads:
        thread.join(timeout=20)

    assert outcome["response"].status_code == 409
    assert "boris changed title of this task" in outcome["response"].content.decode()
    assert Task.objects.get(pk=task.pk).title == "Boris's task"


# --- every admin form carries a token --------------------------------------------------------

def test_every_editable_admin_form_of_the_back_office_is_versioned(desk):
    """A new admin (or inline) cannot forget the token: its page would not render."""
    for model in admin.site._registry:
        if model not in EDITS:
            continue
        page = desk["a"].get(change_url(desk["records"][model]))
        form = page.context["adminform"].form
        assert isinstance(form, AdminVersionedFormMixin), model
        assert 'name="version"' in page.content.decode(), model
        for inline in page.context["inline_admin_formsets"]:
            if inline.has_change_permission:
                for row in inline.formset.initial_forms:
                    assert isinstance(row, AdminVersionedFormMixin), (model, inline)
                    assert f'name="{row.add_prefix("version")}"' in page.content.decode()


# --- the account admins (no history of their own: a digest of what is stored) -------------

@pytest.fixture
def admins(db):
    a, b = TwoFactorClient(), TwoFactorClient()
    a.force_login(UserFactory(username="root-a", is_staff=True, is_superuser=True))
    b.force_login(UserFactory(username="root-b", is_staff=True, is_superuser=True))
    return a, b


def admin_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def read_user_form(client, user):
    # (read_form picks a select's first option when none is chosen: not for a multiple one)
    data = read_form(client.get(admin_url(user)))
    for name in ("groups", "user_permissions"):
        data.pop(name, None)
    return data


def test_stale_user_form_does_not_make_a_deactivated_account_active_again(admins):
    from django.contrib.auth import get_user_model

    a, b = admins
    user = UserFactory(username="leaver", first_name="Lena")
    a_form = read_user_form(a, user)  # A opens the account…
    b_form = read_user_form(b, user)
    b_form.pop("is_active")  # …B deactivates it
    assert b.post(admin_url(user), b_form).status_code == 302

    response = a.post(admin_url(user), fill(a_form, first_name="Elena"))

    assert response.status_code == 409
    assert error_codes(response.context["adminform"].form) == ["version_changed"]
    stored = get_user_model().objects.get(pk=user.pk)
    assert (stored.is_active, stored.first_name) == (False, "Lena")
    # Saved from the refused page (stamped with what is stored now), it goes through.
    again = read_form(response)
    for name in ("is_active", "groups", "user_permissions"):
        again.pop(name, None)
    assert a.post(admin_url(user), again).status_code == 302
    assert get_user_model().objects.get(pk=user.pk).first_name == "Elena"


def test_stale_group_form_does_not_put_back_a_removed_permission(admins):
    from django.contrib.auth.models import Group, Permission

    a, b = admins
    group = Group.objects.create(name="Desk")
    perms = list(Permission.objects.filter(content_type__app_label="cases")[:2])
    group.permissions.set(perms)
    a_form = read_form(a.get(admin_url(group)))
    b_form = read_form(b.get(admin_url(group)))
    b_form["permissions"] = [str(perms[0].pk)]
    assert b.post(admin_url(group), b_form).status_code == 302

    response = a.post(admin_url(group), fill(a_form, name="Night desk"))

    assert response.status_code == 409
    group.refresh_from_db()
    assert group.name == "Desk"
    assert list(group.permissions.all()) == [perms[0]]


def test_every_account_admin_change_form_carries_a_token(admins):
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from django.contrib.auth.models import Group

    a, _ = admins
    user = UserFactory(username="lena")
    # Each record, and a change someone else makes to it while A's page is open.
    records = [
        (UserFactory(username="mark"), {"last_name": "Changed"}),
        (Group.objects.create(name="Desk"), {"name": "Night desk"}),
        (EmailAddress.objects.create(user=user, email="lena@newsroom.example"),
         {"verified": True}),
        (Authenticator.objects.create(user=user, type=Authenticator.Type.RECOVERY_CODES,
                                      data={}), {"data": {"seed": "changed"}}),
    ]
    for obj, change in records:
        page = a.get(admin_url(obj))
        assert isinstance(page.context["adminform"].form, RefusesStaleSaves), obj
        assert 'name="version"' in page.content.decode(), obj
        type(obj).objects.filter(pk=obj.pk).update(**change)
        data = read_form(page)
        for name in ("groups", "user_permissions", "permissions"):
            data.pop(name, None)
        response = a.post(admin_url(obj), data)
        assert response.status_code == 409, obj
        obj.refresh_from_db()
        assert all(getattr(obj, name) == value for name, value in change.items()), obj
