"""Several relays per citation (CitationRelay): the model's rules and their codes, their
history, the migration that carried `via` over, independence through relays, the words the
claim page gives for it, and every path that writes or reads relays (the claim form, the API,
the JSON export and import, the claims import)."""

import importlib
import json
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import RestrictedError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import attribution, exports, imports
from cases.access import get_case_for_user
from cases.enums import Role
from cases.models import Citation, CitationRelay, Membership, SourceIdentity
from cases.models.source import MAX_RELAYS

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)
from .test_api import token_client, version
from .test_forms import fill, read_form

pytestmark = pytest.mark.django_db

API = "/api/v1"
MIGRATION = importlib.import_module("cases.migrations.0019_citation_relays")


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


def codes_of(excinfo) -> dict:
    return {field: [e.code for e in errors] for field, errors in
            excinfo.value.error_dict.items()}


@pytest.fixture
def story(case):
    """The Rostov story's chain: anonymous investigators known through 161.ru, an outlet in
    exile citing 161.ru and DonDay, and Fontanka on its own."""
    outlet = SourceFactory(case=case, name="161.ru")
    return SimpleNamespace(
        outlet=outlet,
        insiders=SourceFactory(case=case, name="Investigators-R", protected=True,
                               reached_via=outlet),
        donday=SourceFactory(case=case, name="DonDay"),
        exile=SourceFactory(case=case, name="Meduza"),
        fontanka=SourceFactory(case=case, name="Fontanka"),
    )


# --- the model -------------------------------------------------------------------------------

@pytest.mark.parametrize(("relays", "codes"), [
    (lambda s: [s.exile], ["attribution_self"]),
    (lambda s: [s.outlet, s.outlet], ["relay_repeated"]),
    (lambda s: [SourceFactory(case=CaseFactory())], ["other_case"]),
])
def test_citation_relays_refused_with_their_code(case, story, relays, codes):
    citation = CitationFactory.build(claim=ClaimFactory(case=case), source=story.exile)
    citation.set_relays(relays(story))

    with pytest.raises(ValidationError) as excinfo:
        citation.full_clean()

    assert codes_of(excinfo) == {"relays": codes}


def test_citation_relays_beyond_the_limit_are_refused(case):
    sources = [SourceFactory(case=case) for _ in range(MAX_RELAYS + 2)]
    citation = CitationFactory.build(claim=ClaimFactory(case=case), source=sources[0])
    citation.set_relays(sources[1:])

    with pytest.raises(ValidationError) as excinfo:
        citation.full_clean()

    assert codes_of(excinfo) == {"relays": ["relays_too_many"]}


def test_citation_save_writes_relays_in_order_with_history(case, story, reporter):
    citation = CitationFactory.build(claim=ClaimFactory(case=case), source=story.exile)
    citation.set_relays([story.donday, story.outlet])
    citation._history_user = reporter
    citation.save()

    assert list(citation.relay_links.values_list("source__name", "position")) == [
        ("DonDay", 0), ("161.ru", 1)]
    assert citation.relay_ids == [story.donday.pk, story.outlet.pk]
    added = CitationRelay.history.filter(citation_id=citation.pk)
    assert {(row.source_id, row.history_type, row.history_user) for row in added} == {
        (story.donday.pk, "+", reporter), (story.outlet.pk, "+", reporter)}

    citation.set_relays([story.outlet, story.fontanka])
    citation.save()

    assert citation.relay_ids == [story.outlet.pk, story.fontanka.pk]
    changes = {(row.source_id, row.history_type, row.position) for row in
               CitationRelay.history.filter(citation_id=citation.pk).exclude(
                   history_type="+", source_id__in=[story.donday.pk, story.outlet.pk])}
    assert changes == {(story.donday.pk, "-", 0), (story.outlet.pk, "~", 0),
                       (story.fontanka.pk, "+", 1)}


def test_a_source_that_relays_a_citation_cannot_be_deleted_on_its_own(case, story):
    CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                    relays=[story.donday, story.outlet])

    with pytest.raises(RestrictedError):
        story.donday.delete()


def test_a_protected_relay_seals_the_citations_address(case, story):
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                               url="https://meduza.example/1", relays=[story.insiders])

    citation.refresh_from_db()
    assert (citation.url, citation.protected_url) == ("", "https://meduza.example/1")


def test_a_relay_row_written_on_its_own_seals_the_address_too(case, story, editor):
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                               url="https://meduza.example/2")
    relay = CitationRelay(citation=citation, source=story.insiders, position=0)
    relay.full_clean()
    relay._history_user = editor
    relay.save()

    citation.refresh_from_db()
    assert (citation.url, citation.protected_url) == ("", "https://meduza.example/2")
    assert not Citation.history.filter(id=citation.pk).exclude(url="").exists()


# --- the migration: every via carried over, in one statement --------------------------------

def _with_via_column():
    """The citations table as before 0019 had it: a `via_id` column (the test's transaction
    takes it away again)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cases_citation ADD COLUMN via_id bigint NULL")


def _set_via(citation, source):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_citation SET via_id = %s WHERE id = %s",
                       [source.pk, citation.pk])


@pytest.mark.parametrize("n", [1, 6])
def test_migration_carries_each_via_into_one_relay_with_history(
        case, story, n, django_assert_num_queries):
    _with_via_column()
    claim = ClaimFactory(case=case)
    relayed = [CitationFactory(claim=claim, source=story.insiders) for _ in range(n)]
    direct = CitationFactory(claim=claim, source=story.fontanka)
    for citation in relayed:
        _set_via(citation, story.outlet)
    editor = SimpleNamespace(connection=connection)

    with django_assert_num_queries(2):  # one INSERT … SELECT for relays, one for history
        MIGRATION.carry_via_to_relays(None, editor)

    assert sorted(CitationRelay.objects.values_list("citation_id", "source_id", "position")) == [
        (citation.pk, story.outlet.pk, 0) for citation in relayed]
    assert not CitationRelay.objects.filter(citation=direct).exists()
    history = CitationRelay.history.all()
    assert {(row.citation_id, row.history_type, row.history_user_id,
             row.history_change_reason) for row in history} == {
        (citation.pk, "+", None, MIGRATION.CARRIED_REASON) for citation in relayed}


def test_migration_backwards_keeps_each_citations_first_relay_as_via(case, story):
    _with_via_column()
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                               relays=[story.donday, story.outlet])
    none = CitationFactory(claim=ClaimFactory(case=case), source=story.fontanka)

    MIGRATION.carry_first_relay_to_via(None, SimpleNamespace(connection=connection))

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, via_id FROM cases_citation ORDER BY id")
        assert cursor.fetchall() == [(citation.pk, story.donday.pk), (none.pk, None)]


# --- independence through relays -------------------------------------------------------------

def test_a_shared_relay_makes_two_citations_dependent(case, story):
    claim = ClaimFactory(case=case)
    exile = CitationFactory(claim=claim, source=story.exile,
                            relays=[story.donday, story.outlet])
    insiders = CitationFactory(claim=claim, source=story.insiders, relays=[story.outlet])
    via_map = attribution.via_map_for_case(case.pk)

    assert attribution.lineage(exile, via_map) == {
        story.exile.pk, story.donday.pk, story.outlet.pk}
    assert not attribution.are_independent(exile, insiders, via_map)
    assert attribution.supporting_origins([exile, insiders], via_map).count == 1


def test_disjoint_relays_keep_two_citations_independent(case, story):
    claim = ClaimFactory(case=case)
    exile = CitationFactory(claim=claim, source=story.exile, relays=[story.donday])
    insiders = CitationFactory(claim=claim, source=story.insiders, relays=[story.outlet])
    fontanka = CitationFactory(claim=claim, source=story.fontanka)
    via_map = attribution.via_map_for_case(case.pk)

    assert attribution.are_independent(exile, insiders, via_map)
    assert attribution.are_independent(fontanka, insiders, via_map)
    assert attribution.supporting_origins([exile, insiders, fontanka], via_map).count == 3


def test_explain_names_origins_and_the_sources_pairs_share(case, story):
    claim = ClaimFactory(case=case)
    direct = CitationFactory(claim=claim, source=story.outlet)
    insiders = CitationFactory(claim=claim, source=story.insiders, relays=[story.outlet])
    fontanka = CitationFactory(claim=claim, source=story.fontanka)
    via_map = attribution.via_map_for_case(case.pk)

    explained = attribution.explain([direct, insiders, fontanka], via_map)

    # The investigators are where 161.ru's account comes from: 161.ru relays them.
    assert [(o.roots, o.roots_via) for o in explained.origins] == [
        ((story.insiders.pk,), ((story.outlet.pk,),)), ((story.fontanka.pk,), ((),))]
    verdicts = {(p.first.pk, p.second.pk): p.shared for p in explained.pairs}
    assert verdicts == {(direct.pk, insiders.pk): (story.outlet.pk,),
                        (direct.pk, fontanka.pk): (),
                        (insiders.pk, fontanka.pk): ()}
    assert [c.strands for c in explained.chains][1] == (
        (story.insiders.pk, story.outlet.pk), (story.outlet.pk,))


# --- the claim page --------------------------------------------------------------------------

@pytest.fixture
def drawn_claim(case, story):
    claim = ClaimFactory(case=case, statement="Ten recruits deserted.")
    CitationFactory(claim=claim, source=story.outlet)
    CitationFactory(claim=claim, source=story.exile, relays=[story.donday, story.insiders])
    CitationFactory(claim=claim, source=story.fontanka)
    SourceIdentity.objects.create(source=story.insiders, real_name="Pyotr Secretov")
    return claim


def test_claim_page_draws_each_chain_names_origins_and_says_why(client, case, drawn_claim,
                                                               reporter):
    client.force_login(reporter)
    page = client.get(url("claim_detail", case, drawn_claim.pk)).content.decode()

    # Meduza's citation drawn through both relays, the investigators on to 161.ru.
    assert ('via</span> <span class="chain-strand">'
            '<span class="badge chain-node chain-origin">DonDay</span></span>') in page
    assert ('<span class="badge chain-node chain-origin codename">Investigators-R</span>'
            '<span class="chain-arrow" aria-hidden="true">→</span>'
            '<span class="visually-hidden">reached via</span>'
            '<span class="badge chain-node">161.ru</span>') in page
    assert "2 independent origins:" in page
    # Named by where the words come from: DonDay and the investigators (through 161.ru), not
    # Meduza, which passes them on.
    assert ('<li><span class="chain-origin-name">DonDay</span>; '
            '<span class="chain-origin-name codename">Investigators-R</span> (via 161.ru)</li>'
            ) in page
    assert '<span class="chain-origin-name">Meduza' not in page
    assert "161.ru and Meduza are not independent: both go back to 161.ru." in page
    assert "161.ru and Fontanka are independent: their chains share no source." in page
    assert "Meduza and Fontanka are independent: their chains share no source." in page


@pytest.mark.parametrize("handler", [False, True])
def test_claim_page_shows_a_protected_relay_by_its_codename_only(client, case, drawn_claim,
                                                                reporter, handler):
    Membership.objects.filter(user=reporter).update(can_handle_sources=handler)
    client.force_login(reporter)
    page = client.get(url("claim_detail", case, drawn_claim.pk)).content.decode()

    assert '<span class="codename">Investigators-R</span>' in page  # the citation's relays
    assert "Pyotr Secretov" not in page


def test_claim_page_is_404_to_an_outsider(client, case, drawn_claim, outsider):
    client.force_login(outsider)
    assert client.get(url("claim_detail", case, drawn_claim.pk)).status_code == 404


@pytest.mark.parametrize("relays_each", [1, 3])
def test_claim_page_query_count_stays_fixed_with_relays(client, case, reporter, story,
                                                       relays_each,
                                                       django_assert_num_queries):
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim, source=story.fontanka, relays=[story.outlet])
    client.force_login(reporter)
    client.get(url("claim_detail", case, claim.pk))  # the session settles
    with CaptureQueriesContext(connection) as one:
        client.get(url("claim_detail", case, claim.pk))
    relays = [story.outlet, story.donday, story.insiders][:relays_each]
    for _ in range(5):
        CitationFactory(claim=claim, source=SourceFactory(case=case), relays=relays)
    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get(url("claim_detail", case, claim.pk))
    assert len(response.context["attribution"]["chains"]) == 6


# --- the claim form: several relays in one citation ------------------------------------------

def test_claim_form_saves_several_relays_of_one_citation(client, case, story, reporter):
    client.force_login(reporter)
    page = client.get(url("claim_create", case))
    assert 'name="citations-0-relays"' in page.content.decode()
    response = client.post(url("claim_create", case), fill(
        read_form(page), statement="Ten recruits deserted.",
        citations__0__source=str(story.exile.pk), citations__0__relation="reports",
        citations__0__relays=[str(story.outlet.pk), str(story.donday.pk)],
    ))

    assert response.status_code == 302
    citation = Citation.objects.get()
    # A multiple select sends its choices in the list's order (by name).
    assert citation.relay_ids == [story.outlet.pk, story.donday.pk]
    assert set(CitationRelay.history.values_list("history_user", flat=True)) == {reporter.pk}

    edit = client.get(url("claim_edit", case, citation.claim_id))
    data = read_form(edit)
    assert sorted(data["citations-0-relays"]) == sorted([str(story.outlet.pk),
                                                         str(story.donday.pk)])
    response = client.post(url("claim_edit", case, citation.claim_id), fill(
        data, citations__0__relays=[str(story.donday.pk), str(story.fontanka.pk)]))
    assert response.status_code == 302
    # Kept relays keep their place; new ones come after.
    assert citation.relay_ids == [story.donday.pk, story.fontanka.pk]


def test_claim_form_refuses_a_relay_that_is_the_citations_source(client, case, story,
                                                                 reporter):
    client.force_login(reporter)
    page = client.get(url("claim_create", case))
    response = client.post(url("claim_create", case), fill(
        read_form(page), statement="Ten recruits deserted.",
        citations__0__source=str(story.exile.pk),
        citations__0__relays=[str(story.exile.pk), str(story.outlet.pk)]))

    assert response.status_code == 400
    assert "cannot be relayed through itself" in response.content.decode()
    assert not Citation.objects.exists() and not CitationRelay.objects.exists()


def test_claim_history_shows_relays_added_and_removed(client, case, story, reporter):
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                               relays=[story.donday])
    citation.set_relays([story.outlet])
    citation.save()
    client.force_login(reporter)

    page = client.get(url("claim_history", case, citation.claim_id)).content.decode()

    assert page.count("Citation from Meduza: changed") == 3  # DonDay in, out; 161.ru in
    assert "<td class=\"text-break\">DonDay</td><td class=\"text-break\">empty</td>" in page
    assert "<td class=\"text-break\">empty</td><td class=\"text-break\">161.ru</td>" in page


# --- the API -----------------------------------------------------------------------------------

def test_api_creates_and_replaces_a_citations_relays(case, story, reporter):
    api = token_client(reporter)
    claim = ClaimFactory(case=case)
    created = api.post(f"{API}/citations/", {
        "claim": claim.pk, "source": story.exile.pk,
        "relays": [story.donday.pk, story.outlet.pk]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["relays"], body["relay_names"]) == ([story.donday.pk, story.outlet.pk],
                                                     ["DonDay", "161.ru"])

    address = f"{API}/citations/{body['id']}/"
    changed = api.patch(address, {"relays": [story.insiders.pk]}, format="json",
                        **version(api, address))
    assert changed.status_code == 200, changed.content
    assert changed.json()["relay_names"] == ["Investigators-R"]
    assert Citation.objects.get(pk=body["id"]).relay_ids == [story.insiders.pk]

    # The deprecated single `via` still sets one relay.
    legacy = api.patch(address, {"via": story.outlet.pk}, format="json",
                       **version(api, address))
    assert legacy.json()["relays"] == [story.outlet.pk]


@pytest.mark.parametrize(("relays", "message", "code"), [
    (lambda s: [s.exile.pk], "A source cannot be relayed through itself.", "attribution_self"),
    (lambda s: [s.outlet.pk, s.outlet.pk], "Each relay is named once.", "relay_repeated"),
])
def test_api_refuses_bad_relays_in_the_body(case, story, reporter, relays, message, code):
    response = token_client(reporter).post(f"{API}/citations/", {
        "claim": ClaimFactory(case=case).pk, "source": story.exile.pk,
        "relays": relays(story)}, format="json")

    assert response.status_code == 400
    assert response.json() == {"relays": [message], "codes": {"relays": [code]}}
    assert not Citation.objects.exists()


def test_api_refuses_a_relay_of_another_case(case, story, reporter):
    other = CaseFactory(title="Other")
    MembershipFactory(case=other, user=reporter, role=Role.REPORTER)
    foreign = SourceFactory(case=other, name="Foreign outlet")
    response = token_client(reporter).post(f"{API}/citations/", {
        "claim": ClaimFactory(case=case).pk, "source": story.exile.pk,
        "relays": [foreign.pk], "via": None}, format="json")

    assert response.status_code == 400
    assert response.json() == {"via": ["Give the relays, or the one deprecated via, not both."],
                               "codes": {"via": ["via_with_relays"]}}
    response = token_client(reporter).post(f"{API}/citations/", {
        "claim": ClaimFactory(case=case).pk, "source": story.exile.pk,
        "relays": [foreign.pk]}, format="json")
    assert response.json() == {"relays": ["This record belongs to another case."],
                               "codes": {"relays": ["other_case"]}}


def test_api_claim_detail_says_why_its_citations_are_or_are_not_independent(
        case, drawn_claim, story, reporter, outsider):
    address = f"{API}/claims/{drawn_claim.pk}/"
    assert token_client(outsider).get(address).status_code == 404

    body = token_client(reporter).get(address).json()

    outlet, exile, fontanka = drawn_claim.citations.order_by("published_at", "pk")
    assert body["attribution"]["independent_origins"] == [
        # By id; Meduza passes on what DonDay and the investigators said: not an origin.
        {"sources": [story.insiders.pk, story.donday.pk],
         "via": [[story.outlet.pk], []], "citations": [outlet.pk, exile.pk]},
        {"sources": [story.fontanka.pk], "via": [[]], "citations": [fontanka.pk]},
    ]
    assert body["attribution"]["pairs"] == [
        {"citations": [outlet.pk, exile.pk], "independent": False,
         "shared_sources": [story.outlet.pk]},
        {"citations": [outlet.pk, fontanka.pk], "independent": True, "shared_sources": []},
        {"citations": [exile.pk, fontanka.pk], "independent": True, "shared_sources": []},
    ]
    assert body["attribution"]["pairs_left_out"] == 0
    # A list does not carry it.
    assert "attribution" not in token_client(reporter).get(f"{API}/claims/").json()[
        "results"][0]


# --- export and import -------------------------------------------------------------------------

def test_case_json_round_trip_keeps_relays_in_order(case, story, editor):
    CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                    relays=[story.outlet, story.donday])
    body = "".join(exports.case_json(case)).encode()
    exported = json.loads(body)
    assert [c["relays"] for c in exported["citations"]] == [
        [f"source-{story.outlet.pk}", f"source-{story.donday.pk}"]]

    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)
    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(body)

    assert report.ok, report.error_rows
    copy = Citation.objects.of_case(empty).get()
    assert [link.source.name for link in copy.relay_links.all()] == ["161.ru", "DonDay"]
    assert CitationRelay.history.filter(citation_id=copy.pk, history_user=editor).count() == 2


def test_case_json_import_reads_an_older_files_single_via(case, story, editor):
    CitationFactory(claim=ClaimFactory(case=case), source=story.insiders, relays=[story.outlet])
    document = json.loads("".join(exports.case_json(case)))
    for record in document["citations"]:
        record["via"] = record.pop("relays")[0]
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())

    assert report.ok, report.error_rows
    copy = Citation.objects.of_case(empty).get()
    assert [link.source.name for link in copy.relay_links.all()] == ["161.ru"]


@pytest.mark.parametrize(("relays", "codes"), [
    ("source-1", ["invalid"]),  # not a list
    (["source-999999"], ["unknown_reference"]),
    (["SELF"], ["attribution_self"]),
    (["RELAY", "RELAY"], ["relay_repeated"]),
])
def test_case_json_import_refuses_bad_relays_with_their_code(case, story, editor, relays,
                                                            codes):
    CitationFactory(claim=ClaimFactory(case=case), source=story.exile, relays=[story.donday])
    document = json.loads("".join(exports.case_json(case)))
    record = document["citations"][0]
    own, relay = record["source"], record["relays"][0]
    if isinstance(relays, list):
        relays = [{"SELF": own, "RELAY": relay}.get(ref, ref) for ref in relays]
    record["relays"] = relays
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())

    assert [error.code for row in report.error_rows for error in row.errors] == codes
    assert not Citation.objects.of_case(empty).exists()


def test_case_json_import_counts_a_repeated_relay_towards_the_limit(case, story, editor):
    """As every writer judges a list of relays (relay_errors): ten sources and a repeat are
    too many and a repeat, not ten once."""
    sources = [SourceFactory(case=case, name=f"Channel {n}") for n in range(MAX_RELAYS)]
    CitationFactory(claim=ClaimFactory(case=case), source=story.exile, relays=sources)
    document = json.loads("".join(exports.case_json(case)))
    record = document["citations"][0]
    assert len(record["relays"]) == MAX_RELAYS
    record["relays"] = [*record["relays"], record["relays"][0]]
    empty = CaseFactory(title="Copy")
    MembershipFactory(case=empty, user=editor, role=Role.EDITOR)

    report = imports.CaseJSONImporter(get_case_for_user(editor, empty.slug), editor).run(
        json.dumps(document).encode())

    assert [error.code for row in report.error_rows for error in row.errors] == [
        "relays_too_many", "relay_repeated"]
    assert not Citation.objects.of_case(empty).exists()


def test_claims_import_reads_several_relays_in_one_cell(case, story, reporter):
    text = ("statement,source,via,url\n"
            "Ten fled.,Meduza,161.ru; DonDay,https://meduza.example/3\n"
            "Four caught.,Meduza,Investigators-R,https://meduza.example/4\n")
    report = imports.import_file("claims", get_case_for_user(reporter, case.slug), reporter,
                                 text.encode(), "claims.csv")

    assert report.ok, report.error_rows
    first = Citation.objects.get(claim__statement="Ten fled.")
    assert first.relay_ids == [story.outlet.pk, story.donday.pk]
    assert first.url == "https://meduza.example/3"
    sealed = Citation.objects.get(claim__statement="Four caught.")
    assert (sealed.url, sealed.protected_url) == ("", "https://meduza.example/4")


def test_claims_import_refuses_a_relay_named_twice(case, story, reporter):
    text = "statement,source,via\nTen fled.,Meduza,161.ru;161.ru\n"
    report = imports.import_file("claims", get_case_for_user(reporter, case.slug), reporter,
                                 text.encode(), "claims.csv")

    assert not report.ok
    assert [error.code for row in report.error_rows for error in row.errors] == [
        "relay_repeated"]
    assert not Citation.objects.exists()


# --- the back office: a citation's relays inline -----------------------------------------------

@pytest.fixture
def staff_editor(case, make_member, make_staff):
    return make_staff(make_member(Role.EDITOR, username="desk-editor"))


def _admin_page(client, citation):
    return client.get(reverse("admin:cases_citation_change", args=[citation.pk]))


def _with_relay_row(page, citation, source) -> dict:
    """The citation's admin form as the page would post it with one relay row added (the
    empty row's fields, its version token included, as index 0)."""
    data = read_form(page)
    for key in [k for k in data if k.startswith("relay_links-__prefix__-")]:
        data[key.replace("__prefix__", "0")] = data.pop(key)
    data.update({"relay_links-TOTAL_FORMS": ["1"], "relay_links-0-source": [str(source.pk)],
                 "relay_links-0-position": ["0"], "relay_links-0-citation": [str(citation.pk)]})
    return data


def test_admin_citation_page_adds_a_relay_with_history(client, case, story, staff_editor):
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                               url="https://meduza.example/5")
    client.force_login(staff_editor)
    page = _admin_page(client, citation)
    assert page.status_code == 200
    data = _with_relay_row(page, citation, story.insiders)

    response = client.post(reverse("admin:cases_citation_change", args=[citation.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert citation.relay_ids == [story.insiders.pk]
    row = CitationRelay.history.get(citation_id=citation.pk)
    assert (row.history_type, row.history_user) == ("+", staff_editor)
    citation.refresh_from_db()  # the relay is protected: the address is sealed
    assert (citation.url, citation.protected_url) == ("", "https://meduza.example/5")


def test_admin_citation_page_refuses_the_citations_own_source_as_relay(client, case, story,
                                                                      staff_editor):
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile)
    client.force_login(staff_editor)
    data = _with_relay_row(_admin_page(client, citation), citation, story.exile)

    response = client.post(reverse("admin:cases_citation_change", args=[citation.pk]), data)

    assert response.status_code == 200
    assert "A source cannot be relayed through itself." in response.content.decode()
    assert not CitationRelay.objects.exists()


def test_admin_citation_page_is_not_found_for_a_non_member(client, case, story, make_staff):
    """A back-office editor of another case: as for every record of a case not theirs
    (tests/test_admin.py), the admin says the citation does not exist and goes back to its
    index, with none of its relays."""
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile,
                               relays=[story.donday])
    other_desk = make_staff(UserFactory(username="other-desk"))
    MembershipFactory(case=CaseFactory(), user=other_desk, role=Role.EDITOR)
    client.force_login(other_desk)
    response = client.get(reverse("admin:cases_citation_change", args=[citation.pk]),
                          follow=True)
    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert any("doesn’t exist" in str(m) for m in response.context["messages"])
    assert "DonDay" not in response.content.decode()


def test_a_relay_written_or_removed_moves_the_cases_content_version(case, story):
    """The board's cached columns count origins (cases/fragments.py): a relay changes them."""
    citation = CitationFactory(claim=ClaimFactory(case=case), source=story.exile)
    case.refresh_from_db()
    before = case.content_version

    CitationRelay.objects.create(citation=citation, source=story.donday, position=0)
    case.refresh_from_db()
    added = case.content_version
    CitationRelay.objects.filter(citation=citation).delete()
    case.refresh_from_db()

    assert before < added < case.content_version
