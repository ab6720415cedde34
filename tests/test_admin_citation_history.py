"""The back office's history of a citation (/admin/cases/citation/<id>/history/) lists the
changes to its relays below its own rows: each relay added, moved or removed, by whom, when and
why, read as the claim's history page reads them (cases/history.py citation_relay_history,
cases/admin/keys.py, templates/simple_history/relay_history.html). A protected relay source
reads by its codename only; the admin's scoping still keeps other cases' citations out."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.enums import Role
from cases.models import CitationRelay, SourceIdentity

from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REAL_NAME = "Ivan Canaryname"
IMPORT_REASON = "Imported from a file (1 claims, 1 citations)"  # as an import stores it
IMPORT_REASON_READ = "Imported from a file (1 claim, 1 citation)"  # as readers read it
TYPED_REASON = "The channel only reposted it"


@pytest.fixture
def staff_editor(case, make_staff):
    """An editor of the case in the back office, not a source handler."""
    user = make_staff(UserFactory(username="desk-editor", first_name="Dana", last_name="Editor"))
    MembershipFactory(case=case, user=user, role=Role.EDITOR)
    return user


@pytest.fixture
def citation(case):
    claim = ClaimFactory(case=case, statement="Ten deserted.")
    return CitationFactory(claim=claim, source=SourceFactory(case=case, name="Channel One"))


def _history(client, citation) -> str:
    response = client.get(reverse("admin:cases_citation_history", args=[citation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _relay_rows(content) -> list[list[str]]:
    """The relay table's rows as the reader sees them: [comment, who, reason, changes]."""
    match = re.search(r'<table id="relay-history".*?<tbody>(.*?)</tbody>', content, re.S)
    assert match, "no relay history on the page"
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S):
        cells = [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
                 for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        rows.append(cells[1:])  # the time aside
    return rows


def _set_relays(citation, sources, user):
    citation.refresh_from_db()
    citation._history_user = user
    citation.set_relays(sources)
    citation.save()


def test_relays_added_moved_and_removed_show_who_and_why(client, case, citation, staff_editor,
                                                        make_member):
    first, second = (SourceFactory(case=case, name="Relay one"),
                     SourceFactory(case=case, name="Relay two"))
    adder = make_member(Role.EDITOR, username="adder", first_name="Ada", last_name="Adder")
    mover = make_member(Role.EDITOR, username="mover")
    _set_relays(citation, [first], adder)
    imported = CitationRelay(citation=citation, source=second, position=1)
    imported._history_user = adder
    imported._change_reason = IMPORT_REASON
    imported.save()
    _set_relays(citation, [second, first], mover)  # both move
    removed = CitationRelay.objects.get(citation=citation, source=first)
    removed._history_user = mover
    removed._change_reason = TYPED_REASON
    removed.delete()

    client.force_login(staff_editor)
    rows = _relay_rows(_history(client, citation))

    assert rows == [  # newest first
        ["Changed", "mover", TYPED_REASON, "Via: Relay one → empty"],
        ["Changed", "mover", "", "Place of Relay one among the relays: 1 → 2"],
        ["Changed", "mover", "", "Place of Relay two among the relays: 2 → 1"],
        ["Changed", "Ada Adder", IMPORT_REASON_READ, "Via: empty → Relay two"],
        ["Changed", "Ada Adder", "", "Via: empty → Relay one"],
    ]


def test_a_moved_relay_reads_its_old_and_new_place_on_the_claims_history_page_too(
        client, case, citation, staff_editor):
    """One reading of relay history (cases/history.py relay_entries) for both pages: a move
    says where the relay was before it."""
    first, second = (SourceFactory(case=case, name="Relay one"),
                     SourceFactory(case=case, name="Relay two"))
    _set_relays(citation, [first, second], staff_editor)
    _set_relays(citation, [second, first], staff_editor)
    client.force_login(staff_editor)

    content = client.get(reverse("cases:claim_history",
                                 args=[case.slug, citation.claim_id])).content.decode()

    assert re.search(r"Place of Relay one among the relays</th>\s*<td[^>]*>1</td>\s*"
                     r"<td[^>]*>2</td>", content)
    assert ["Changed", "Dana Editor", "", "Place of Relay one among the relays: 1 → 2"] in (
        _relay_rows(_history(client, citation)))


def test_a_citation_without_relay_changes_lists_none(client, citation, staff_editor):
    client.force_login(staff_editor)
    content = _history(client, citation)
    assert 'id="change-history"' in content  # the citation's own rows are there
    assert "relay-history" not in content


def test_a_protected_relay_reads_by_its_codename_only_for_a_non_handler(
        client, case, citation, staff_editor):
    insider = SourceFactory(case=case, name="Insider-3", protected=True)
    identity, _ = SourceIdentity.objects.get_or_create(source=insider)
    identity.real_name = REAL_NAME
    identity.save()
    _set_relays(citation, [insider], staff_editor)

    client.force_login(staff_editor)
    with CaptureQueriesContext(connection) as queries:
        content = _history(client, citation)

    assert _relay_rows(content) == [["Changed", "Dana Editor", "", "Via: empty → Insider-3"]]
    assert REAL_NAME not in content
    assert not [query for query in queries
                if "cases_sourceidentity" in query["sql"]
                or "cases_historicalsourceidentity" in query["sql"]]


def test_another_cases_staff_editor_gets_no_citation_history(client, case, citation,
                                                              make_staff):
    relay = SourceFactory(case=case, name="Relay of alpha")
    _set_relays(citation, [relay], None)
    other = make_staff(UserFactory(username="bravo-staff"))
    MembershipFactory(case=CaseFactory(title="Bravo"), user=other, role=Role.EDITOR)
    client.force_login(other)

    response = client.get(reverse("admin:cases_citation_history", args=[citation.pk]))

    assert response.status_code == 404
    assert "Relay of alpha" not in response.content.decode()


def test_a_member_without_back_office_permissions_is_refused(client, case, citation):
    relay = SourceFactory(case=case, name="Relay of alpha")
    _set_relays(citation, [relay], None)
    member = UserFactory(username="plain-staff", is_staff=True)
    MembershipFactory(case=case, user=member, role=Role.EDITOR)
    client.force_login(member)

    response = client.get(reverse("admin:cases_citation_history", args=[citation.pk]))

    assert response.status_code == 403
    assert "Relay of alpha" not in response.content.decode()


#: The page's queries with relay changes: sign-in, scoping and the citation's own rows (which
#: simple-history's list reads a few per row), and cases/history.py's three for the relays:
#: their history rows, their sources' names, the reasons of the citation's deletions.
QUERIES = 23


def _relay_saved(relay, user, **changes):
    """A relay row written on its own (as the back office's relay inline does): the
    citation's own history stays as it is, so only the relays' history grows."""
    for name, value in changes.items():
        setattr(relay, name, value)
    relay._history_user = user
    relay.save()
    return relay


def test_relay_history_takes_the_same_queries_however_many_changes(
        client, case, citation, staff_editor, make_member, django_assert_num_queries):
    client.force_login(staff_editor)
    people = [make_member(Role.EDITOR, username=f"editor-{n}") for n in range(3)]
    relays = [SourceFactory(case=case, name=f"Relay {n}") for n in range(4)]
    first = _relay_saved(CitationRelay(citation=citation, source=relays[0], position=0),
                         people[0])
    own_rows = citation.history.count()
    _history(client, citation)  # the session's refresh and the caches filled, once
    with django_assert_num_queries(QUERIES):
        assert len(_relay_rows(_history(client, citation))) == 1

    others = [_relay_saved(CitationRelay(citation=citation, source=source, position=n),
                           people[n % 3]) for n, source in enumerate(relays[1:], start=1)]
    _relay_saved(first, people[1], position=3)
    _relay_saved(others[-1], people[2], position=0)
    others[0]._history_user = people[0]
    others[0].delete()
    assert citation.history.count() == own_rows
    with django_assert_num_queries(QUERIES):
        assert len(_relay_rows(_history(client, citation))) == 7
