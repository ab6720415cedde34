"""One rule for a citation's relays on every writer (relay_errors): the claim page's form,
the back office's relays inline, the API and the claims import each refuse a relay named
twice (`relay_repeated`) rather than merge it, judge the count on the list as given
(`relays_too_many` past MAX_RELAYS, a repeated relay counted) and write nothing when they
refuse; MAX_RELAYS distinct relays are accepted. The API reads a written citation's relays
back in a fixed number of queries, however many it has."""

import pytest
from django.urls import reverse
from rest_framework.test import APIRequestFactory

from api.serializers import CitationSerializer
from cases import imports
from cases.access import get_case_for_user, memberships_of
from cases.enums import Role
from cases.models import Citation, CitationRelay, Claim
from cases.models.source import MAX_RELAYS

from .factories import CitationFactory, ClaimFactory, SourceFactory
from .test_api import token_client, version
from .test_forms import field_block, fill, read_form
from .test_relay_write_paths import _admin_path, _with_relay_rows

pytestmark = pytest.mark.django_db

API = "/api/v1"


def stored():
    """Every citation, relay row and their history: 'nothing was written' is this unchanged."""
    return (sorted(Citation.objects.values_list("pk", "claim_id", "source_id")),
            sorted(CitationRelay.objects.values_list("citation_id", "source_id", "position")),
            Claim.objects.count(), CitationRelay.history.count(), Citation.history.count())


@pytest.fixture
def outlet(case):
    return SourceFactory(case=case, name="Meduza")


@pytest.fixture
def relays(case):
    """MAX_RELAYS + 1 sources of the case that may relay the outlet's statements."""
    return [SourceFactory(case=case, name=f"Relay-{n:02d}") for n in range(MAX_RELAYS + 1)]


@pytest.fixture
def citation(case, outlet, relays):
    return CitationFactory(claim=ClaimFactory(case=case, statement="Ten recruits deserted."),
                           source=outlet, relays=[relays[0]])


# The lists every writer is given, by position in `relays`, and the codes each is refused with
# (in relay_errors' order); None: accepted.
LISTS = {
    "repeat": ([1, 2, 1], ["relay_repeated"]),
    "too_many": (list(range(MAX_RELAYS + 1)), ["relays_too_many"]),
    "limit_with_a_repeat": ([*range(MAX_RELAYS), 3], ["relays_too_many", "relay_repeated"]),
    "limit": (list(range(MAX_RELAYS)), None),
}


def picked(relays, positions):
    return [relays[n] for n in positions]


# --- the claim page's form ------------------------------------------------------------------

@pytest.mark.parametrize("given", LISTS)
def test_claim_form_judges_relays_as_posted_beside_the_field(client, case, citation, relays,
                                                             reporter, given):
    positions, codes = LISTS[given]
    path = reverse("cases:claim_edit", args=[case.slug, citation.claim_id])
    client.force_login(reporter)
    before = stored()

    response = client.post(path, fill(read_form(client.get(path)), citations__0__relays=[
        str(source.pk) for source in picked(relays, positions)]))

    if codes is None:
        assert response.status_code == 302
        citation.refresh_from_db()
        assert citation.relay_ids == [relays[n].pk for n in positions]
        return
    assert response.status_code == 400
    form = response.context["citations"].forms[0]
    assert [e.code for e in form.errors.as_data()["relays"]] == codes
    block = field_block(response.content.decode(), "citations-0-relays")
    if "relay_repeated" in codes:
        assert "Each relay is named once." in block
    assert stored() == before


def test_claim_form_refuses_a_relay_posted_twice_for_a_new_citation(client, case, outlet,
                                                                    relays, reporter):
    client.force_login(reporter)
    path = reverse("cases:claim_create", args=[case.slug])
    before = stored()

    response = client.post(path, fill(
        read_form(client.get(path)), statement="Ten recruits deserted.",
        citations__0__source=str(outlet.pk),
        citations__0__relays=[str(relays[1].pk), str(relays[1].pk)]))

    assert response.status_code == 400
    form = response.context["citations"].forms[0]
    assert [e.code for e in form.errors.as_data()["relays"]] == ["relay_repeated"]
    assert "Each relay is named once." in field_block(response.content.decode(),
                                                      "citations-0-relays")
    assert stored() == before


def test_claim_form_refuses_a_stored_relay_posted_again(client, case, citation, relays,
                                                        reporter):
    """The citation's one relay posted twice: as a set nothing changed, yet it is refused."""
    path = reverse("cases:claim_edit", args=[case.slug, citation.claim_id])
    client.force_login(reporter)
    before = stored()

    response = client.post(path, fill(read_form(client.get(path)), citations__0__relays=[
        str(relays[0].pk), str(relays[0].pk)]))

    assert response.status_code == 400
    form = response.context["citations"].forms[0]
    assert [e.code for e in form.errors.as_data()["relays"]] == ["relay_repeated"]
    assert stored() == before


def test_claim_form_keeps_stored_relays_first_and_adds_new_ones_in_posted_order(
        client, case, citation, relays, reporter):
    path = reverse("cases:claim_edit", args=[case.slug, citation.claim_id])
    client.force_login(reporter)

    response = client.post(path, fill(read_form(client.get(path)), citations__0__relays=[
        str(relays[2].pk), str(relays[0].pk), str(relays[3].pk)]))

    assert response.status_code == 302
    assert citation.relay_ids == [relays[0].pk, relays[2].pk, relays[3].pk]


# --- the back office's relays inline (its other refusals: tests/test_relay_write_paths.py) ---

@pytest.mark.parametrize("given", LISTS)
def test_admin_relays_inline_judges_the_rows_as_a_list(client, case, outlet, relays,
                                                       make_member, make_staff, given):
    positions, codes = LISTS[given]
    citation = CitationFactory(claim=ClaimFactory(case=case), source=outlet)
    client.force_login(make_staff(make_member(Role.EDITOR, username="desk-editor")))
    before = stored()

    response = client.post(_admin_path(citation), _with_relay_rows(
        client.get(_admin_path(citation)), citation, picked(relays, positions)))

    if codes is None:
        assert response.status_code == 302
        assert citation.relay_ids == [relays[n].pk for n in positions]
        return
    assert response.status_code == 200
    formset = next(f.formset for f in response.context["inline_admin_formsets"]
                   if f.formset.model is CitationRelay)
    assert [e.code for e in formset.non_form_errors().as_data()] == codes
    assert stored() == before


# --- the API --------------------------------------------------------------------------------

@pytest.mark.parametrize("given", LISTS)
def test_api_judges_relays_as_sent(citation, relays, reporter, given):
    positions, codes = LISTS[given]
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    before = stored()

    response = api.patch(address, {"relays": [s.pk for s in picked(relays, positions)]},
                         format="json", **version(api, address))

    if codes is None:
        assert response.status_code == 200, response.content
        assert response.json()["relays"] == [relays[n].pk for n in positions]
        assert citation.relay_ids == [relays[n].pk for n in positions]
        return
    assert response.status_code == 400
    assert response.json()["codes"]["relays"] == codes
    assert stored() == before


def test_api_refuses_a_relay_sent_twice_for_a_new_citation(case, outlet, relays, reporter):
    claim = ClaimFactory(case=case)
    before = stored()

    response = token_client(reporter).post(f"{API}/citations/", {
        "claim": claim.pk, "source": outlet.pk, "relays": [relays[1].pk, relays[1].pk]},
        format="json")

    assert response.status_code == 400
    assert response.json()["codes"]["relays"] == ["relay_repeated"]
    assert stored() == before


@pytest.mark.parametrize("relay_count", [1, 6])
def test_api_change_reads_the_relays_back_in_fixed_queries(case, outlet, relays, reporter,
                                                           relay_count,
                                                           django_assert_num_queries):
    """A change of another field costs the same at one relay and at six: the answer's relays
    and their names are read back in one query with their sources, not one per relay."""
    given = relays[:relay_count]
    citation = CitationFactory(claim=ClaimFactory(case=case), source=outlet, relays=given)
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    header = version(api, address)

    with django_assert_num_queries(16):
        response = api.patch(address, {"quote": "“Ten of us left.”"}, format="json",
                             **header)

    assert response.status_code == 200, response.content
    assert response.json()["relays"] == [s.pk for s in given]
    assert response.json()["relay_names"] == [s.name for s in given]


@pytest.mark.parametrize("relay_count", [1, 6])
@pytest.mark.parametrize("write", ["create", "update"])
def test_api_answer_to_a_relays_write_reads_them_in_one_query(case, outlet, relays, reporter,
                                                              relay_count, write,
                                                              django_assert_num_queries):
    """Writing relays costs a lookup and a row (with its history) per relay; the answer then
    reads them back, sources included, in one query (the serializer's read-back)."""
    given = relays[:relay_count]
    request = APIRequestFactory().get("/")
    request.user = reporter
    memberships_of(request)  # read once per request, before the write
    if write == "create":
        serializer = CitationSerializer(data={"claim": ClaimFactory(case=case).pk,
                                              "source": outlet.pk,
                                              "relays": [s.pk for s in given]},
                                        context={"request": request})
    else:
        stored_citation = CitationFactory(claim=ClaimFactory(case=case), source=outlet)
        # As the writing view reads it: its source joined, no relays.
        serializer = CitationSerializer(
            Citation.objects.select_related("source").get(pk=stored_citation.pk),
            data={"relays": [s.pk for s in given]}, partial=True,
            context={"request": request})
    assert serializer.is_valid(), serializer.errors
    serializer.save()

    with django_assert_num_queries(1):
        data = serializer.data

    assert data["relays"] == [s.pk for s in given]
    assert data["relay_names"] == [s.name for s in given]


# --- the claims import ------------------------------------------------------------------------

@pytest.mark.parametrize("given", LISTS)
def test_claims_import_judges_the_via_cell_as_written(case, outlet, relays, reporter, given):
    positions, codes = LISTS[given]
    before = stored()
    cell = "; ".join(source.name for source in picked(relays, positions))
    text = f"statement,source,via\nTen fled.,Meduza,{cell}\n"

    report = imports.import_file("claims", get_case_for_user(reporter, case.slug), reporter,
                                 text.encode(), "claims.csv")

    if codes is None:
        assert report.error_row_count == 0
        citation = Citation.objects.get(claim__statement="Ten fled.")
        assert citation.relay_ids == [relays[n].pk for n in positions]
        return
    assert [error.code for row in report.error_rows for error in row.errors] == codes
    assert all(str(error).startswith("via: ") for row in report.error_rows
               for error in row.errors)
    assert stored() == before


def test_claims_import_refuses_a_relay_named_twice_in_other_capitals(case, outlet, relays,
                                                                     reporter):
    """One source named twice, once in other capitals: a repeat, not two relays. The file's
    other, good rows are not written either."""
    before = stored()
    text = ("statement,source,via\n"
            "Four were caught.,Meduza,Relay-01\n"
            f"Ten fled.,Meduza,Relay-01; {relays[2].name}; relay-01\n")

    report = imports.import_file("claims", get_case_for_user(reporter, case.slug), reporter,
                                 text.encode(), "claims.csv")

    assert [(row.number, [e.code for e in row.errors]) for row in report.error_rows] == [
        (3, ["relay_repeated"])]
    assert stored() == before


# --- the API's lookup of the relays sent: one query for the whole list ---------------------------

def _relays_serializer(case, outlet, reporter, given):
    """A change of a citation's relays to `given` (ids as sent), as the writing view makes it."""
    request = APIRequestFactory().get("/")
    request.user = reporter
    memberships_of(request)  # read once per request, before the write
    stored_citation = CitationFactory(claim=ClaimFactory(case=case), source=outlet)
    return CitationSerializer(
        Citation.objects.select_related("source").get(pk=stored_citation.pk),
        data={"relays": given}, partial=True, context={"request": request})


@pytest.mark.parametrize("relay_count", [1, 6])
def test_api_relays_write_looks_the_sources_up_in_one_query(case, outlet, relays, reporter,
                                                            relay_count,
                                                            django_assert_num_queries):
    """Validating a citation's new relays costs the same at one relay and at six: the sources
    sent are looked up in one query for the list, not one query per relay."""
    given = relays[:relay_count]
    serializer = _relays_serializer(case, outlet, reporter, [s.pk for s in given])

    # the sources sent (one query); then the model's checks of the citation as it would be
    # saved: the case's reached-via links (attribution), its stored relays, its claim, that
    # its claim and source exist, and its check constraints (in a savepoint: three)
    with django_assert_num_queries(9):
        assert serializer.is_valid(), serializer.errors

    assert serializer.validated_data["relay_sources"] == given


@pytest.mark.parametrize("relay_count", [1, 6])
def test_api_relays_write_costs_one_lookup_and_only_the_rows_per_relay(
        case, outlet, relays, reporter, relay_count, django_assert_num_queries):
    """The whole PATCH that sets a citation's relays: what it reads and writes once (the sources
    sent among them: one query, whatever their number), then only each relay's row, written
    with its history row in a savepoint of its own (four queries; Citation.save's
    write_relays)."""
    given = relays[:relay_count]
    citation = CitationFactory(claim=ClaimFactory(case=case), source=outlet)
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    header = version(api, address)

    with django_assert_num_queries(PATCH_RELAYS_BASE + 4 * relay_count):
        response = api.patch(address, {"relays": [s.pk for s in given]}, format="json",
                             **header)

    assert response.status_code == 200, response.content
    assert response.json()["relays"] == [s.pk for s in given]
    assert citation.relay_ids == [s.pk for s in given]
    assert CitationRelay.history.filter(citation_id=citation.pk).count() == relay_count


# The queries of a PATCH setting relays that do not grow with them: the token, a savepoint,
# the citation (locked), the memberships, the sources sent, the validation's reads (as in the
# test above), the citation's update with its history row, its stored relays, the answer's
# read-back of the relays, the savepoints' releases.
PATCH_RELAYS_BASE = 20


def _refusal(response):
    body = response.json()
    return body["relays"], body["codes"]["relays"]


@pytest.mark.parametrize(("sent", "message", "code"), [
    # The first id that fails is refused, as DRF's field refuses them one by one.
    (lambda r, f: [r[1].pk, 999999, "x"], 'Invalid pk "999999" - object does not exist.',
     "does_not_exist"),
    (lambda r, f: [r[1].pk, "x", 999999], "Incorrect type. Expected pk value, received str.",
     "incorrect_type"),
    (lambda r, f: [True], "Incorrect type. Expected pk value, received bool.",
     "incorrect_type"),
    (lambda r, f: [r[1].pk + 0.5], "Incorrect type. Expected pk value, received float.",
     "incorrect_type"),
    (lambda r, f: [[r[1].pk]], "Incorrect type. Expected pk value, received list.",
     "incorrect_type"),
    (lambda r, f: [None], 'Invalid pk "None" - object does not exist.', "does_not_exist"),
    (lambda r, f: [2**70], f'Invalid pk "{2**70}" - object does not exist.', "does_not_exist"),
    # A source of a case the writer is no member of does not exist for them.
    (lambda r, f: [r[1].pk, f.pk], 'Invalid pk "{foreign}" - object does not exist.',
     "does_not_exist"),
])
def test_api_refuses_each_relay_id_as_sent(case, citation, relays, reporter, sent, message,
                                           code):
    foreign = SourceFactory(name="Someone else's")
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"
    before = stored()

    response = api.patch(address, {"relays": sent(relays, foreign)}, format="json",
                         **version(api, address))

    assert response.status_code == 400, response.content
    assert _refusal(response) == ([message.replace("{foreign}", str(foreign.pk))], [code])
    assert stored() == before


def test_api_takes_relay_ids_sent_as_text_or_whole_floats(citation, relays, reporter):
    """What the lookup by id took one by one, the one query takes too: "7" and 7.0 name 7."""
    api = token_client(reporter)
    address = f"{API}/citations/{citation.pk}/"

    response = api.patch(address, {"relays": [str(relays[2].pk), float(relays[3].pk)]},
                         format="json", **version(api, address))

    assert response.status_code == 200, response.content
    assert citation.relay_ids == [relays[2].pk, relays[3].pk]
