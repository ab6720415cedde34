"""A citation's relays on every write path (the claim page's form, the back office's relays
inline, the API, the imports): a stale save is refused with the shared conflict code, bad
input is refused beside the field or row with its code and writes nothing, and a protected
relay's identity reaches no one but the case's source handlers."""

import json
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import exports, imports
from cases.access import get_case_for_user
from cases.concurrency import VERSION_CHANGED
from cases.enums import Role
from cases.models import Citation, CitationRelay, Membership, SourceIdentity
from cases.models.source import MAX_RELAYS

from .clients import TwoFactorClient
from .factories import CaseFactory, CitationFactory, ClaimFactory, MembershipFactory, SourceFactory
from .test_api import token_client, version
from .test_forms import fill, read_form

pytestmark = pytest.mark.django_db

API = "/api/v1"
REAL_NAME = "Pyotr Secretov"
IDENTITY_ADDRESS = "https://t.me/pyotr-secretov"
SEALED_URL = "https://meduza.example/insiders-post"


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


def stored():
    """Every relay row and the history of relays and citations: 'nothing was written' is
    this unchanged."""
    return (sorted(CitationRelay.objects.values_list("citation_id", "source_id", "position")),
            CitationRelay.history.count(), Citation.history.count())


@pytest.fixture
def story(case):
    outlet = SourceFactory(case=case, name="161.ru")
    insiders = SourceFactory(case=case, name="Investigators-R", protected=True,
                             reached_via=outlet)
    SourceIdentity.objects.create(source=insiders, real_name=REAL_NAME,
                                  address=IDENTITY_ADDRESS)
    return SimpleNamespace(outlet=outlet, insiders=insiders,
                           donday=SourceFactory(case=case, name="DonDay"),
                           exile=SourceFactory(case=case, name="Meduza"),
                           fontanka=SourceFactory(case=case, name="Fontanka"))


@pytest.fixture
def citation(case, story):
    return CitationFactory(claim=ClaimFactory(case=case, statement="Ten recruits deserted."),
                           source=story.exile, relays=[story.donday])


@pytest.fixture
def client_b():
    return TwoFactorClient()


@pytest.fixture
def staff(case, make_member, make_staff):
    return make_staff(make_member(Role.EDITOR, username="desk-editor"))


@pytest.fixture
def staff_b(case, make_member, make_staff):
    return make_staff(make_member(Role.EDITOR, username="night-editor"))


# --- the claim page's form ------------------------------------------------------------------

def test_claim_form_refuses_stale_relays_with_the_conflict_code(client, client_b, case, story,
                                                                citation, reporter,
                                                                make_member):
    path = url("claim_edit", case, citation.claim_id)
    client.force_login(reporter)
    client_b.force_login(make_member(Role.REPORTER, username="second_reporter"))
    a_form = read_form(client.get(path))
    b_form = read_form(client_b.get(path))
    saved = client_b.post(path, fill(b_form, citations__0__relays=[str(story.outlet.pk)]))
    assert saved.status_code == 302
    before = stored()

    response = client.post(path, fill(a_form, citations__0__relays=[str(story.fontanka.pk)]))

    assert response.status_code == 409
    # The claim and its citation both moved on: each form is refused with the same code.
    assert {c.code for c in response.context["conflicts"]} == {VERSION_CHANGED}
    assert citation.relay_ids == [story.outlet.pk]
    assert stored() == before


@pytest.mark.parametrize(("relays", "code"), [
    (lambda s, other: ["999999"], "invalid_choice"),
    (lambda s, other: ["not-a-number"], "invalid_pk_value"),
    (lambda s, other: [str(other.pk)], "invalid_choice"),
    (lambda s, other: [str(s.exile.pk)], "attribution_self"),
])
def test_claim_form_refuses_bad_relays_beside_the_field(client, case, story, citation,
                                                        reporter, relays, code):
    other = SourceFactory(case=CaseFactory(title="Other"))
    MembershipFactory(case=other.case, user=reporter, role=Role.REPORTER)
    path = url("claim_edit", case, citation.claim_id)
    client.force_login(reporter)
    before = stored()

    response = client.post(path, fill(read_form(client.get(path)),
                                      citations__0__relays=relays(story, other)))

    assert response.status_code == 400
    form = response.context["citations"].forms[0]
    assert [e.code for e in form.errors.as_data()["relays"]] == [code]
    assert stored() == before


def test_claim_form_refuses_more_relays_than_the_limit_beside_the_field(client, case, story,
                                                                        citation, reporter):
    many = [SourceFactory(case=case) for _ in range(MAX_RELAYS + 1)]
    path = url("claim_edit", case, citation.claim_id)
    client.force_login(reporter)
    before = stored()

    response = client.post(path, fill(read_form(client.get(path)),
                                      citations__0__relays=[str(s.pk) for s in many]))

    assert response.status_code == 400
    form = response.context["citations"].forms[0]
    assert [e.code for e in form.errors.as_data()["relays"]] == ["relays_too_many"]
    assert stored() == before


# --- the back office's relays inline ----------------------------------------------------------

def _admin_path(citation):
    return reverse("admin:cases_citation_change", args=[citation.pk])


def _with_relay_rows(page, citation, sources) -> dict:
    """The citation's admin form as the page would post it with new relay rows after the
    stored ones (each a copy of the empty row, its version token included)."""
    data = read_form(page)
    empty = {k: data.pop(k) for k in [k for k in data if k.startswith("relay_links-__prefix__-")]}
    start = int(data["relay_links-TOTAL_FORMS"][0])
    for offset, source in enumerate(sources):
        index = start + offset
        for key, value in empty.items():
            data[key.replace("__prefix__", str(index))] = list(value)
        data.update({f"relay_links-{index}-source": [str(getattr(source, "pk", source))],
                     f"relay_links-{index}-position": [str(index)],
                     f"relay_links-{index}-citation": [str(citation.pk)]})
    data["relay_links-TOTAL_FORMS"] = [str(start + len(sources))]
    return data


def test_admin_relays_inline_refuses_a_stale_save_with_the_conflict_code(
        client, client_b, citation, story, staff, staff_b):
    client.force_login(staff)
    client_b.force_login(staff_b)
    a_page = client.get(_admin_path(citation))
    b_page = client_b.get(_admin_path(citation))
    saved = client_b.post(_admin_path(citation), _with_relay_rows(b_page, citation,
                                                                  [story.outlet]))
    assert saved.status_code == 302
    before = stored()

    response = client.post(_admin_path(citation), _with_relay_rows(a_page, citation,
                                                                   [story.fontanka]))

    assert response.status_code == 409
    form = response.context["adminform"].form
    assert form.conflict.code == VERSION_CHANGED
    assert "version_changed" in [e.code for e in form.non_field_errors().as_data()]
    assert citation.relay_ids == [story.donday.pk, story.outlet.pk]
    assert stored() == before


@pytest.mark.parametrize(("rows", "code"), [
    (lambda s, other: [s.exile], "attribution_self"),
    (lambda s, other: [other], "other_case"),
    (lambda s, other: [s.donday], "relay_repeated"),
    (lambda s, other: [s.outlet, s.outlet], "relay_repeated"),
    (lambda s, other: [999999], "invalid_choice"),
    (lambda s, other: ["not-a-number"], "invalid_choice"),
])
def test_admin_relays_inline_refuses_bad_rows_with_their_code(client, case, citation, story,
                                                              staff, rows, code):
    other = SourceFactory(case=CaseFactory(title="Other"))
    MembershipFactory(case=other.case, user=staff, role=Role.EDITOR)
    client.force_login(staff)
    before = stored()

    response = client.post(_admin_path(citation), _with_relay_rows(
        client.get(_admin_path(citation)), citation, rows(story, other)))

    assert response.status_code == 200
    formset = next(f.formset for f in response.context["inline_admin_formsets"]
                   if f.formset.model is CitationRelay)
    codes = [e.code for form in formset.forms for errors in form.errors.as_data().values()
             for e in errors]
    codes += [e.code for e in formset.non_form_errors().as_data()]
    assert code in codes
    assert stored() == before


def test_admin_relays_inline_refuses_more_rows_than_the_limit(client, case, citation, story,
                                                              staff):
    many = [SourceFactory(case=case) for _ in range(MAX_RELAYS)]
    client.force_login(staff)
    before = stored()

    response = client.post(_admin_path(citation), _with_relay_rows(
        client.get(_admin_path(citation)), citation, many))

    assert response.status_code == 200
    formset = next(f.formset for f in response.context["inline_admin_formsets"]
                   if f.formset.model is CitationRelay)
    assert [e.code for e in formset.non_form_errors().as_data()] == ["relays_too_many"]
    assert stored() == before


# --- the API --------------------------------------------------------------------------------

def test_api_refuses_a_stale_relays_change_with_the_conflict_code(case, story, citation,
                                                                  reporter, editor):
    address = f"{API}/citations/{citation.pk}/"
    first, second = token_client(editor), token_client(reporter)
    read = version(second, address)
    assert first.patch(address, {"relays": [story.outlet.pk]}, format="json",
                       **version(first, address)).status_code == 200
    before = stored()

    response = second.patch(address, {"relays": [story.fontanka.pk]}, format="json", **read)

    assert response.status_code == 412
    assert response.json()["code"] == VERSION_CHANGED
    assert citation.relay_ids == [story.outlet.pk]
    assert stored() == before


@pytest.mark.parametrize(("relays", "code"), [
    (lambda s, other: [999999], "does_not_exist"),
    (lambda s, other: ["not-a-number"], "incorrect_type"),
    (lambda s, other: [{"id": s.outlet.pk}], "incorrect_type"),
    (lambda s, other: s.outlet.pk, "not_a_list"),
    (lambda s, other: [other.pk], "other_case"),
    (lambda s, other: [s.exile.pk], "attribution_self"),
    (lambda s, other: [s.outlet.pk, s.outlet.pk], "relay_repeated"),
])
def test_api_refuses_bad_relays_in_the_body_and_writes_nothing(case, story, citation, reporter,
                                                               relays, code):
    other = SourceFactory(case=CaseFactory(title="Other"))
    MembershipFactory(case=other.case, user=reporter, role=Role.REPORTER)
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    before = stored()

    response = api.patch(address, {"relays": relays(story, other)}, format="json",
                         **version(api, address))

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["relays", "codes"] and body["relays"]
    assert body["codes"]["relays"][0] == code
    assert stored() == before


def test_api_refuses_more_relays_than_the_limit(case, story, citation, reporter):
    many = [SourceFactory(case=case).pk for _ in range(MAX_RELAYS + 1)]
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    before = stored()

    response = api.patch(address, {"relays": many}, format="json", **version(api, address))

    assert response.status_code == 400
    assert response.data["relays"][0].code == "relays_too_many"
    assert stored() == before


@pytest.mark.parametrize("sent", [MAX_RELAYS + 1, 40 * MAX_RELAYS])
def test_api_refuses_too_many_relays_before_looking_each_up(case, story, citation, reporter,
                                                            sent, django_assert_num_queries):
    """However many ids a body lists, the refusal costs the same queries: they are counted
    before any is looked up."""
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    header = version(api, address)
    few = api.patch(address, {"relays": list(range(1, MAX_RELAYS + 2))}, format="json",
                    **header)
    assert few.data["relays"][0].code == "relays_too_many"
    with CaptureQueriesContext(connection) as baseline:
        api.patch(address, {"relays": list(range(1, MAX_RELAYS + 2))}, format="json", **header)

    with django_assert_num_queries(len(baseline.captured_queries)):
        response = api.patch(address, {"relays": list(range(1, sent + 1))}, format="json",
                             **header)

    assert response.status_code == 400
    assert response.data["relays"][0].code == "relays_too_many"


# --- the imports --------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "code"), [
    ("161.ru; Nobody-Known", "unknown_source"),
    ("Meduza", "attribution_self"),
    ("161.ru;161.ru", "relay_repeated"),
    (";".join(f"Extra-{n}" for n in range(MAX_RELAYS + 1)), "relays_too_many"),
])
def test_claims_import_refuses_bad_relays_and_writes_nothing(case, story, reporter, cell,
                                                             code):
    for n in range(MAX_RELAYS + 1):
        SourceFactory(case=case, name=f"Extra-{n}")
    before = stored()
    text = f"statement,source,via\nTen fled.,Meduza,{cell}\n"

    report = imports.import_file("claims", get_case_for_user(reporter, case.slug), reporter,
                                 text.encode(), "claims.csv")

    assert [error.code for row in report.error_rows for error in row.errors] == [code]
    assert stored() == before


@pytest.mark.parametrize(("relays", "code"), [
    (lambda refs: [{"source": refs[0]}], "invalid_reference"),
    (lambda refs: [True], "invalid_reference"),
    (lambda refs: refs[:MAX_RELAYS + 1], "relays_too_many"),
])
def test_case_json_import_refuses_wrong_types_and_too_many_relays(case, story, editor, relays,
                                                                  code):
    extra = [SourceFactory(case=case, name=f"Extra-{n}") for n in range(MAX_RELAYS + 1)]
    CitationFactory(claim=ClaimFactory(case=case), source=story.exile, relays=[story.donday])
    document = json.loads("".join(exports.case_json(case)))
    document["citations"][0]["relays"] = relays([f"source-{s.pk}" for s in extra])
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    before = stored()

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())

    assert [error.code for row in report.error_rows for error in row.errors] == [code]
    assert stored() == before


# --- a protected relay's identity ------------------------------------------------------------

@pytest.fixture
def sealed(case, story):
    """A citation whose address is sealed because a protected source relayed it."""
    return CitationFactory(claim=ClaimFactory(case=case, statement="Four were caught."),
                           source=story.exile, relays=[story.donday, story.insiders],
                           url=SEALED_URL)


def _assert_no_identity(text: str):
    assert "Investigators-R" in text  # the codename is shown: the test reads the right page
    for secret in (REAL_NAME, IDENTITY_ADDRESS, SEALED_URL):
        assert secret not in text


def test_admin_pages_show_a_protected_relay_by_codename_only(client, sealed, staff):
    client.force_login(staff)

    for path in (_admin_path(sealed), reverse("admin:cases_citation_changelist"),
                 reverse("admin:cases_claim_change", args=[sealed.claim_id])):
        response = client.get(path)
        assert response.status_code == 200
        _assert_no_identity(response.content.decode())
    history = client.get(reverse("admin:cases_citation_history", args=[sealed.pk]))
    assert history.status_code == 200
    for secret in (REAL_NAME, IDENTITY_ADDRESS, SEALED_URL):
        assert secret not in history.content.decode()


def test_api_shows_a_protected_relay_by_codename_only(sealed, reporter):
    api = token_client(reporter)

    for address in (f"{API}/citations/{sealed.pk}/", f"{API}/citations/",
                    f"{API}/claims/{sealed.claim_id}/"):
        response = api.get(address)
        assert response.status_code == 200
        text = response.content.decode()
        for secret in (REAL_NAME, IDENTITY_ADDRESS, SEALED_URL):
            assert secret not in text
    assert api.get(f"{API}/citations/{sealed.pk}/").json()["relay_names"] == [
        "DonDay", "Investigators-R"]


def test_exports_and_claim_page_show_a_protected_relay_by_codename_only(client, case, sealed,
                                                                         reporter):
    _assert_no_identity("".join(exports.case_json(case, reporter)))
    client.force_login(reporter)
    _assert_no_identity(client.get(url("claim_detail", case, sealed.claim_id)).content.decode())
    _assert_no_identity(client.get(url("claim_edit", case, sealed.claim_id)).content.decode())


def test_a_handler_reads_the_sealed_address_on_the_claim_page(client, case, sealed, reporter):
    Membership.objects.filter(user=reporter).update(can_handle_sources=True)
    client.force_login(reporter)

    assert SEALED_URL in client.get(url("claim_detail", case, sealed.claim_id)).content.decode()


@pytest.mark.parametrize("path", ["page", "api"])
def test_a_protected_relay_added_later_takes_the_address_out_of_history(
        client, case, story, reporter, path):
    """The address was public until the relay came: its clear copies in the citation's
    history are a protected lineage's address now, and leave it, as for a relay row written
    on its own."""
    public = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                             url=SEALED_URL)
    if path == "api":
        api = token_client(reporter)
        address = f"{API}/citations/{public.pk}/"
        response = api.patch(address, {"relays": [story.insiders.pk]}, format="json",
                             **version(api, address))
        assert response.status_code == 200, response.content
    else:
        client.force_login(reporter)
        edit = url("claim_edit", case, public.claim_id)
        response = client.post(edit, fill(read_form(client.get(edit)),
                                          citations__0__relays=[str(story.insiders.pk)]))
        assert response.status_code == 302

    public.refresh_from_db()
    assert (public.url, public.protected_url) == ("", SEALED_URL)
    client.force_login(reporter)
    page = client.get(url("claim_history", case, public.claim_id)).content.decode()
    assert SEALED_URL not in page
    assert not Citation.history.filter(id=public.pk).exclude(url="").exists()
