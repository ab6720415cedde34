"""A history row's kind and change reason read the same, and truthfully, on the members'
history pages and in the back office (cases/history.py: history_action,
change_reason_display): a restore reads "Restored", a link a restore gave back "Linked again
on restore", the relays a restore brought back are among the restored citation's values, and
a change reason is read in words in the reader's language, never as stored ("deletion:<token>",
"verification workflow").

Russian checks compare with what the Russian catalogue (locale/ru) says for the same message;
the strings already in it ("Восстановлено") are spelled out."""

import html
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import npgettext, pgettext

from cases import workflow
from cases.enums import Role
from cases.enums import VerificationStatus as S
from cases.history import (
    IDENTITY_ADDRESSES_MOVED,
    IMPORTED_CASE_EXPORT,
    MIGRATION_0010_REASON,
    MIGRATION_0019_REASON,
    RELAY_ADDRESS_MOVED,
    RESTORED_REASON,
    change_reason_display,
    imported_claims_reason,
    imported_records_reason,
)
from cases.models import Claim, SourceIdentity

from .factories import (
    CitationFactory,
    ClaimFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REAL_NAME = "Ivan Canaryname"


def _version(page) -> str:
    return re.search(r'name="version" value="([^"]*)"', page.content.decode()).group(1)


def _delete(client, case, kind, record, user, **headers):
    client.force_login(user)
    url = reverse(f"cases:{kind}_delete", args=[case.slug, record.pk])
    response = client.post(url, {"version": _version(client.get(url, **headers))}, **headers)
    assert response.status_code == 302
    assert not type(record).objects.filter(pk=record.pk).exists()


def _restore(client, case, kind, pk, user):
    client.force_login(user)
    response = client.post(reverse(f"cases:deleted_{kind}_restore", args=[case.slug, pk]))
    assert response.status_code == 302


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _cards(client, case, kind, pk, **headers) -> list[dict]:
    """The members' history page, newest first: each entry's heading, its "when · who ·
    reason" line, and its table's rows as lists of cell texts."""
    page = client.get(reverse(f"cases:{kind}_history", args=[case.slug, pk]), **headers)
    assert page.status_code == 200
    content = page.content.decode()
    listing = re.search(r'<ol class="list-unstyled record-history">(.*?)</ol>', content, re.S)
    cards = []
    for card in re.findall(r'<li class="card mb-2">(.*?)</li>', listing.group(1), re.S):
        line = re.search(r'<p class="mb-1 small">(.*?)</p>', card, re.S).group(1)
        reason = re.search(r'<span class="record-history-reason">(.*?)</span>', line, re.S)
        cards.append({
            "heading": _text(re.search(r"<strong>(.*?)</strong>", card, re.S).group(1)),
            "reason": _text(reason.group(1)) if reason else "",
            "rows": [[_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row,
                                                        re.S)]
                     for row in re.findall(r"<tr>(.*?)</tr>", card, re.S)],
        })
    return cards


def _admin_rows(client, model_name, pk, **headers) -> list[dict]:
    """The back office's history list of a record, newest first: each row's "Comment" (what
    was done) and "Change reason" cells."""
    page = client.get(reverse(f"admin:cases_{model_name}_history", args=[pk]), **headers)
    assert page.status_code == 200
    content = page.content.decode()
    body = re.search(r'<table id="change-history".*?<tbody>(.*?)</tbody>', content, re.S)
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = [_text(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        # Object, date/time, comment, changed by, change reason, changes.
        rows.append({"action": cells[2], "reason": cells[4]})
    return rows


def _in_russian(function, *args):
    with translation.override("ru"):
        return str(function(*args))


RU = {"HTTP_ACCEPT_LANGUAGE": "ru"}


@pytest.fixture
def staff_editor(case, make_member, make_staff):
    return make_staff(make_member(Role.EDITOR, username="desk"))


@pytest.fixture
def handler(case):
    user = UserFactory(username="handler")
    MembershipFactory(case=case, user=user, role=Role.REPORTER, can_handle_sources=True)
    return user


# --- the members' history page ------------------------------------------------------------

def test_record_history_reads_restored_relays_as_the_restored_citations_values(
        client, case, editor, second_editor, viewer):
    claim = ClaimFactory(case=case, statement="Ten soldiers fled.")
    channel = SourceFactory(case=case, name="Local channel")
    first, second = (SourceFactory(case=case, name="Relay one"),
                     SourceFactory(case=case, name="Relay two"))
    CitationFactory(claim=claim, source=channel, relays=[first, second])
    pk = claim.pk
    _delete(client, case, "claim", claim, editor)
    _restore(client, case, "claim", pk, second_editor)

    client.force_login(viewer)
    cards = _cards(client, case, "claim", pk)
    headings = [card["heading"] for card in cards]
    # The creation added the relays one by one; the deletion took them with the citation and
    # the restore brought them back with it: no change "from empty" or "to empty" says
    # otherwise.
    assert headings == ["Citation from Local channel: restored", "Restored",
                        "Citation from Local channel: removed", "Deleted",
                        "Citation from Local channel: changed",
                        "Citation from Local channel: changed",
                        "Citation from Local channel: added", "Created"]
    restored = [card for card in cards
                if card["heading"] == "Citation from Local channel: restored"]
    assert len(restored) == 1
    rows = restored[0]["rows"]
    assert rows[0] == ["Field", "Value"]  # values, with no "Before" column
    assert [row for row in rows if row[0] == "Via"] == [["Via", "Relay one"],
                                                       ["Via", "Relay two"]]
    newest = cards[:headings.index("Deleted")]
    assert not any("empty" in cell for card in newest for row in card["rows"] for cell in row)


def test_record_history_says_a_link_given_back_by_a_restore_in_english_and_russian(
        client, case, editor, second_editor, viewer):
    incident = IncidentFactory(case=case, title="Desertion at the ground")
    claim = ClaimFactory(case=case, incident=incident)
    _delete(client, case, "incident", incident, editor)
    _restore(client, case, "incident", incident.pk, second_editor)
    assert Claim.objects.get(pk=claim.pk).incident_id == incident.pk

    client.force_login(viewer)
    cards = _cards(client, case, "claim", claim.pk)
    assert [card["heading"] for card in cards] == ["Linked again on restore", "Changed",
                                                   "Created"]
    assert cards[0]["rows"][1] == ["Incident", "empty", "Desertion at the ground"]
    # The heading says it; the link's loss says why in words.
    assert cards[0]["reason"] == ""
    assert cards[1]["reason"] == "incident cleared: the incident was deleted"

    russian = _cards(client, case, "claim", claim.pk, **RU)
    assert [card["heading"] for card in russian][0] == _in_russian(
        pgettext, "record history", "Linked again on restore")
    assert russian[2]["heading"] == "Создано"


@pytest.fixture
def moved_and_restored(client, case, editor, second_editor, reporter):
    """A claim moved by the workflow, and an incident deleted and restored through the
    pages: (claim, incident)."""
    moved = ClaimFactory(case=case, statement="Ten soldiers fled.")
    workflow.transition(moved, S.IN_REVIEW, actor=reporter, note="Checking the video.")
    incident = IncidentFactory(case=case, title="Desertion at the ground")
    _delete(client, case, "incident", incident, editor)
    _restore(client, case, "incident", incident.pk, second_editor)
    return moved, incident


def test_record_history_gives_reasons_in_words_and_no_deletion_token(
        client, case, viewer, moved_and_restored):
    moved, incident = moved_and_restored

    client.force_login(viewer)
    assert [(card["heading"], card["reason"]) for card in _cards(client, case, "claim",
                                                                 moved.pk)] == [
        ("Changed", "A move of the verification workflow"),
        ("Created", ""),
    ]
    assert [(card["heading"], card["reason"]) for card in _cards(client, case, "incident",
                                                                 incident.pk)] == [
        ("Restored", ""),
        ("Deleted", "Deleted from the workspace"),
        ("Created", ""),
    ]
    for kind, pk in (("claim", moved.pk), ("incident", incident.pk)):
        page = client.get(reverse(f"cases:{kind}_history", args=[case.slug, pk]))
        content = page.content.decode()
        assert "deletion:" not in content

    assert [(card["heading"], card["reason"]) for card in _cards(client, case, "claim",
                                                                 moved.pk, **RU)] == [
        (_in_russian(pgettext, "record history", "Changed"),
         _in_russian(pgettext, "change reason", "A move of the verification workflow")),
        ("Создано", ""),
    ]
    assert [(card["heading"], card["reason"]) for card in _cards(client, case, "incident",
                                                                 incident.pk, **RU)] == [
        ("Восстановлено", ""),
        ("Удалено", _in_russian(pgettext, "change reason", "Deleted from the workspace")),
        ("Создано", ""),
    ]


def test_record_history_of_a_restored_protected_relay_names_its_codename_only(
        client, case, editor, second_editor, viewer, handler):
    insider = SourceFactory(case=case, name="Insider A", protected=True)
    SourceIdentity.objects.update_or_create(source=insider, defaults={"real_name": REAL_NAME})
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="Local channel"),
                    relays=[insider])
    pk = claim.pk
    _delete(client, case, "claim", claim, editor)
    _restore(client, case, "claim", pk, second_editor)

    for reader in (viewer, handler):
        client.force_login(reader)
        page = client.get(reverse("cases:claim_history", args=[case.slug, pk]))
        assert REAL_NAME not in page.content.decode()
        restored = [card for card in _cards(client, case, "claim", pk)
                    if card["heading"] == "Citation from Local channel: restored"]
        assert ["Via", "Insider A"] in restored[0]["rows"]


# --- the back office's history ------------------------------------------------------------

def test_admin_history_reads_a_restore_as_restored_and_reasons_in_words(
        client, staff_editor, moved_and_restored):
    moved, incident = moved_and_restored

    client.force_login(staff_editor)
    assert _admin_rows(client, "incident", incident.pk) == [
        {"action": "Restored", "reason": "Restored from “Recently deleted”"},
        {"action": "Deleted", "reason": "Deleted from the workspace"},
        {"action": "Created", "reason": ""},
    ]
    assert _admin_rows(client, "claim", moved.pk) == [
        {"action": "Changed", "reason": "A move of the verification workflow"},
        {"action": "Created", "reason": ""},
    ]
    for model_name, pk in (("claim", moved.pk), ("incident", incident.pk)):
        page = client.get(reverse(f"admin:cases_{model_name}_history", args=[pk]))
        content = page.content.decode()
        assert "deletion:" not in content

    assert _admin_rows(client, "incident", incident.pk, **RU) == [
        {"action": "Восстановлено",
         "reason": _in_russian(pgettext, "change reason", "Restored from “Recently deleted”")},
        {"action": "Удалено",
         "reason": _in_russian(pgettext, "change reason", "Deleted from the workspace")},
        {"action": "Создано", "reason": ""},
    ]
    assert _admin_rows(client, "claim", moved.pk, **RU) == [
        {"action": _in_russian(pgettext, "record history", "Changed"),
         "reason": _in_russian(pgettext, "change reason",
                               "A move of the verification workflow")},
        {"action": "Создано", "reason": ""},
    ]


def test_admin_history_says_a_link_given_back_by_a_restore(
        client, case, editor, second_editor, staff_editor):
    incident = IncidentFactory(case=case, title="Desertion at the ground")
    claim = ClaimFactory(case=case, incident=incident)
    # Deleted by a Russian reader: the reason is stored in Russian, and read in English.
    _delete(client, case, "incident", incident, editor, **RU)
    _restore(client, case, "incident", incident.pk, second_editor)

    client.force_login(staff_editor)
    assert _admin_rows(client, "claim", claim.pk) == [
        {"action": "Linked again on restore", "reason": "Restored from “Recently deleted”"},
        {"action": "Changed", "reason": "incident cleared: the incident was deleted"},
        {"action": "Created", "reason": ""},
    ]
    assert _admin_rows(client, "incident", incident.pk)[0]["action"] == "Restored"


def test_admin_history_of_a_restored_protected_source_names_no_identity(
        client, case, editor, second_editor, staff_editor):
    insider = SourceFactory(case=case, name="Insider A", protected=True)
    SourceIdentity.objects.update_or_create(source=insider, defaults={"real_name": REAL_NAME})
    pk = insider.pk
    _delete(client, case, "source", insider, editor)
    _restore(client, case, "source", pk, second_editor)

    client.force_login(staff_editor)  # not a source handler
    page = client.get(reverse("admin:cases_source_history", args=[pk])).content.decode()
    assert REAL_NAME not in page
    assert "Insider A" in page
    assert [row["action"] for row in _admin_rows(client, "source", pk)] == [
        "Restored", "Deleted", "Created"]


# --- every reason the code writes has words -----------------------------------------------

def _writes(path: str, literal: str) -> bool:
    return literal in (Path(settings.BASE_DIR) / path).read_text()


@pytest.mark.parametrize(("path", "literal"), [
    ("cases/migrations/0010_source_address_in_identity.py", MIGRATION_0010_REASON),
    ("cases/migrations/0019_citation_relays.py", MIGRATION_0019_REASON),
])
def test_the_reasons_read_in_words_are_the_ones_the_migrations_write(path, literal):
    assert _writes(path, literal)


@pytest.mark.parametrize(("stored", "english"), [
    (RESTORED_REASON, "Restored from “Recently deleted”"),
    ("deletion:0f3c9a", "Deleted from the workspace"),
    (workflow.HISTORY_CHANGE_REASON, "A move of the verification workflow"),
    ("Demo data (seed_demo)", "Demo data"),
    (imported_records_reason(1, "incidents"), "Imported from a file (1 incident)"),
    (imported_records_reason(3, "sources"), "Imported from a file (3 sources)"),
    (imported_claims_reason(2, 1), "Imported from a file (2 claims, 1 citation)"),
    (IMPORTED_CASE_EXPORT, "Imported from a case export (JSON)"),
    (IDENTITY_ADDRESSES_MOVED, "A source's protection changed: the addresses citing it moved "
                               "to where only source handlers read them"),
    (RELAY_ADDRESS_MOVED, "A protected source was added as a relay: the citation's address "
                          "moved to where only source handlers read it"),
    ("incident cleared: the incident was deleted",
     "incident cleared: the incident was deleted"),
    ("someone's own words", "someone's own words"),
    ("", ""),
])
def test_change_reason_display_in_english(stored, english):
    assert change_reason_display(stored) == english


def test_change_reason_display_in_russian_follows_the_catalogue():
    with translation.override("ru"):
        assert change_reason_display("Imported from a file (2 claims, 5 citations)") == (
            pgettext("change reason", "Imported from a file (%(claims)s, %(citations)s)") % {
                "claims": npgettext("change reason", "%(count)d claim", "%(count)d claims",
                                    2) % {"count": 2},
                "citations": npgettext("change reason", "%(count)d citation",
                                       "%(count)d citations", 5) % {"count": 5}})
        # A link's loss stored in English reads in Russian, and the reverse.
        stored_in_russian = change_reason_display(
            "incident cleared: the incident was deleted")
    assert change_reason_display(stored_in_russian) == (
        "incident cleared: the incident was deleted")
