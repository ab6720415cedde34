"""A record brought back from "Recently deleted" reads as restored wherever people read history
(cases/history.py's HistoryEntry, templates/cases/record_history.html, cases/activity.py):
its restore writes a "+" row like a creation's, and a reader who saw "Created" twice could not
tell that the record had been deleted and brought back.

The Russian checks read this change's strings from the Russian catalogue (locale/ru)."""

import re

import pytest
from django.urls import reverse

from cases.deletion import restore_record
from cases.history import RESTORED_REASON, HistoryEntry
from cases.models import Claim, Source

from .factories import CitationFactory, ClaimFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db


def _version(page) -> str:
    return re.search(r'name="version" value="([^"]*)"', page.content.decode()).group(1)


def _delete_and_restore(client, case, kind, record, editor, restorer):
    """Delete `record` from its delete page as `editor`, then restore it from "Recently
    deleted" as `restorer`, as people do."""
    pk = record.pk
    client.force_login(editor)
    delete_url = reverse(f"cases:{kind}_delete", args=[case.slug, pk])
    deleted = client.post(delete_url, {"version": _version(client.get(delete_url))})
    assert deleted.status_code == 302
    assert not type(record).objects.filter(pk=pk).exists()
    client.force_login(restorer)
    restored = client.post(reverse(f"cases:deleted_{kind}_restore", args=[case.slug, pk]))
    assert restored.status_code == 302
    assert type(record).objects.filter(pk=pk).exists()
    return pk


def _entries(client, case, kind, pk, **headers) -> list[tuple[str, bool]]:
    """The history page's entries, newest first: (heading, whether it shows a "before" column
    as a change does)."""
    page = client.get(reverse(f"cases:{kind}_history", args=[case.slug, pk]), **headers)
    assert page.status_code == 200
    content = page.content.decode()
    listing = re.search(r'<ol class="list-unstyled record-history">(.*?)</ol>', content, re.S)
    cards = re.findall(r'<li class="card mb-2">(.*?)</li>', listing.group(1), re.S)
    return [(re.search(r"<strong>(.*?)</strong>", card, re.S).group(1).strip(),
             '<col class="w-auto"><col class="w-auto">' in card)
            for card in cards]


def _activity(client, case, **headers) -> list[str]:
    page = client.get(reverse("cases:activity", args=[case.slug]), **headers)
    assert page.status_code == 200
    return [item.text for item in page.context["items"]]


def test_history_entry_restored_for_a_restores_creation_row_only():
    def entry(kind, reason):
        return HistoryEntry(None, "editor", kind, "", (), reason)

    restore = entry("+", RESTORED_REASON)
    assert restore.restored and not restore.created and restore.lists_values
    creation = entry("+", "")
    assert creation.created and not creation.restored and creation.lists_values
    # A link given back by a restore is a change of the record that had it, not a restore.
    relinked = entry("~", RESTORED_REASON)
    assert not relinked.restored and not relinked.created and not relinked.lists_values
    assert relinked.relinked and not restore.relinked and not creation.relinked


def test_claim_history_shows_a_restore_as_restored_and_the_creation_once(
        client, case, editor, second_editor, viewer):
    claim = ClaimFactory(case=case, statement="Ten soldiers fled the training ground.")
    source = SourceFactory(case=case, name="Local channel")
    CitationFactory(claim=claim, source=source)
    pk = _delete_and_restore(client, case, "claim", claim, editor, second_editor)

    client.force_login(viewer)
    entries = _entries(client, case, "claim", pk)
    record_headings = [heading for heading, _before in entries
                       if not heading.startswith("Citation")]
    assert record_headings == ["Restored", "Deleted", "Created"]
    citation_headings = {heading for heading, _before in entries
                         if heading.startswith("Citation")}
    assert citation_headings == {"Citation from Local channel: added",
                                 "Citation from Local channel: removed",
                                 "Citation from Local channel: restored"}
    # The restore lists the values it brought back, as the creation does: nothing before them.
    shows_before = dict(entries)
    assert shows_before["Restored"] is False and shows_before["Created"] is False
    page = client.get(reverse("cases:claim_history", args=[case.slug, pk])).content.decode()
    assert "Ten soldiers fled the training ground." in page
    assert second_editor.get_username() in page


def test_source_history_shows_a_restore_as_restored_in_russian(client, case, editor,
                                                               second_editor, viewer):
    source = SourceFactory(case=case, name="Border guard")
    pk = _delete_and_restore(client, case, "source", source, editor, second_editor)

    client.force_login(viewer)
    assert [heading for heading, _b in _entries(client, case, "source", pk)] == [
        "Restored", "Deleted", "Created"]
    assert [heading for heading, _b in _entries(client, case, "source", pk,
                                                HTTP_ACCEPT_LANGUAGE="ru")] == [
        "Восстановлено", "Удалено", "Создано"]


def test_claim_history_in_russian_names_the_restored_citation(client, case, editor,
                                                              second_editor, viewer):
    claim = ClaimFactory(case=case)
    CitationFactory(claim=claim, source=SourceFactory(case=case, name="Local channel"))
    pk = _delete_and_restore(client, case, "claim", claim, editor, second_editor)

    client.force_login(viewer)
    headings = [heading for heading, _b in _entries(client, case, "claim", pk,
                                                    HTTP_ACCEPT_LANGUAGE="ru")]
    assert headings.count("Восстановлено") == 1
    assert headings.count("Создано") == 1
    assert sum(heading.endswith(": восстановлено") for heading in headings) == 1


def test_relinked_claim_reads_as_linked_again_when_its_incident_is_restored(
        client, case, editor, second_editor, viewer):
    """The claim lost its incident when the incident was deleted; the restore gives it back
    with a "~" row of reason "restored": a change of the claim, which was never deleted, and
    it says which (tests/test_history_reasons.py reads it in Russian and in the admin)."""
    incident = IncidentFactory(case=case, title="Desertion at the ground")
    claim = ClaimFactory(case=case, incident=incident)
    _delete_and_restore(client, case, "incident", incident, editor, second_editor)
    assert Claim.objects.get(pk=claim.pk).incident_id == incident.pk
    assert Claim.history.filter(id=claim.pk).latest("history_date").history_change_reason == (
        RESTORED_REASON)

    client.force_login(viewer)
    headings = [heading for heading, _b in _entries(client, case, "claim", claim.pk)]
    assert headings == ["Linked again on restore", "Changed", "Created"]
    assert [heading for heading, _b in _entries(client, case, "incident", incident.pk)] == [
        "Restored", "Deleted", "Created"]


def test_activity_says_restored_not_added_again(client, case, editor, second_editor, viewer):
    claim = ClaimFactory(case=case, statement="Ten soldiers fled.")
    source = SourceFactory(case=case, name="Border guard")
    _delete_and_restore(client, case, "claim", claim, editor, second_editor)
    _delete_and_restore(client, case, "source", source, editor, second_editor)

    client.force_login(viewer)
    texts = _activity(client, case)
    assert texts.count("restored claim “Ten soldiers fled.”") == 1
    assert texts.count("added claim “Ten soldiers fled.”") == 1
    assert texts.count("deleted claim “Ten soldiers fled.”") == 1
    assert texts.count("restored source “Border guard”") == 1
    assert texts.count("added source “Border guard”") == 1
    assert texts[0] == "restored source “Border guard”"

    texts = _activity(client, case, HTTP_ACCEPT_LANGUAGE="ru")
    assert texts.count("восстановлено утверждение «Ten soldiers fled.»") == 1
    assert texts.count("добавлено утверждение «Ten soldiers fled.»") == 1
    assert texts.count("восстановлен источник «Border guard»") == 1
    assert texts.count("добавлен источник «Border guard»") == 1


def test_restore_in_the_domain_reads_as_restored_too(client, case, editor, second_editor,
                                                     viewer):
    """restore_record called directly (not from the page) writes the same rows, read the same."""
    from cases.deletion import delete_record

    source = SourceFactory(case=case, name="Border guard")
    pk = source.pk
    delete_record(source, editor)
    restore_record(case, "source", pk, second_editor)
    assert Source.objects.filter(pk=pk).exists()
    client.force_login(viewer)
    assert [heading for heading, _b in _entries(client, case, "source", pk)] == [
        "Restored", "Deleted", "Created"]
