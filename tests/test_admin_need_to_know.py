"""Need-to-know in the back office (cases/admin/need_to_know.py, cases/admin/reveal.py).

A canary string sits in every identity field of a protected source (real name, contact,
private notes, address), in its address as typed, and in the addresses of citations from it.
Every admin URL is walked (every registered model's changelist searched for the canary and
filtered by each of its filters, lookups on every text field, add, change, history, every
history version, delete confirmation, the autocomplete endpoint) as a staff editor of the
case and as a superuser, neither of them a source handler: the canary must appear in no
response and match nothing. A handler does see it, so the walk can fail.
"""

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from cases import workflow
from cases.enums import Role
from cases.enums import VerificationStatus as S
from cases.models import (
    Citation,
    CustodyEntry,
    IdentityReveal,
    Incident,
    Membership,
    RevealChannel,
    Source,
    SourceIdentity,
)

from .clients import TwoFactorClient
from .factories import (
    CaseFactory,
    CitationFactory,
    ClaimFactory,
    CommentRequestFactory,
    EvidenceFactory,
    IncidentFactory,
    MembershipFactory,
    SourceFactory,
    TaskFactory,
    UserFactory,
)
from .test_forms import read_form

pytestmark = pytest.mark.django_db

CANARY = "qzx7canary"
PART = "x7cana"  # what someone who knows a bit of it would type into a search box

IDENTITY_VALUES = {
    "real_name": f"Ivan {CANARY} Petrov",
    "contact": f"Signal +7 900 {CANARY}",
    "private_notes": f"Met at the {CANARY} checkpoint.",
    "address": f"https://t.me/{CANARY}_identity",
}


@pytest.fixture
def secrets(db, make_staff):
    """A case whose protected source carries the canary everywhere a secret can be."""
    case = CaseFactory(title="Alpha desk")
    people = {
        "editor": make_staff(UserFactory(username="desk-editor")),
        "handler": make_staff(UserFactory(username="desk-handler")),
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    reporter = UserFactory(username="desk-reporter")
    MembershipFactory(case=case, user=people["editor"], role=Role.EDITOR)
    MembershipFactory(case=case, user=people["handler"], role=Role.EDITOR,
                      can_handle_sources=True)
    MembershipFactory(case=case, user=reporter, role=Role.REPORTER)

    insider = SourceFactory(case=case, name="Insider-3", protected=True,
                            url=f"https://t.me/{CANARY}_typed")
    identity, _ = SourceIdentity.objects.get_or_create(source=insider)
    for name, value in IDENTITY_VALUES.items():
        if hasattr(identity, name):
            setattr(identity, name, value)
    identity.save()
    identity.real_name = f"Ivan {CANARY} Sidorov"  # a second version: history has a change
    identity.save()
    insider.refresh_from_db()
    insider.reliability_note = "Knows the unit."
    insider.url = f"https://t.me/{CANARY}_retyped"
    insider.save()

    public = SourceFactory(case=case, name="161.ru", url="https://161.ru/")
    incident = IncidentFactory(case=case, title="Night of desertion")
    claim = ClaimFactory(case=case, statement="Ten deserted.", incident=incident,
                         created_by=reporter)
    told = CitationFactory(claim=claim, source=insider, url=f"https://t.me/{CANARY}_post")
    told.url = f"https://t.me/{CANARY}_post_edited"
    told.quote = "Ten left."
    told.save()
    CitationFactory(claim=None, incident=incident, source=public, relays=[insider],
                    url=f"https://161.ru/{CANARY}_relay")
    CitationFactory(claim=claim, source=public, url="https://161.ru/ten")
    TaskFactory(case=case, title="Call back", claim=claim)
    CommentRequestFactory(case=case, party_source=insider, party_name="")
    evidence = EvidenceFactory(case=case, claim=claim, captured_by=reporter)
    CustodyEntry.objects.create(evidence=evidence, action=CustodyEntry.Action.COLLECTED,
                                actor=reporter)
    workflow.propose(claim, S.CONFIRMED, actor=reporter, note="Two say so.")
    clients = {}
    for role, user in people.items():
        clients[role] = TwoFactorClient()
        clients[role].force_login(user)
    return {"case": case, "insider": insider, "identity": identity, "clients": clients,
            **people}


# --- walking the admin ----------------------------------------------------------------------

def url_of(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}",
                   args=args)


def text_lookups(model):
    """`?<field>__icontains=` for every text field of the model and of the records one
    relation away (a source's identity, a citation's source…)."""
    def text_fields(m):
        return [f.name for f in m._meta.concrete_fields
                if isinstance(f, models.CharField | models.TextField)]

    lookups = [f"{name}__icontains" for name in text_fields(model)]
    for field in model._meta.get_fields():
        if field.is_relation and (field.many_to_one or field.one_to_one) and field.related_model:
            lookups += [f"{field.name}__{name}__icontains"
                        for name in text_fields(field.related_model)]
    return lookups


def autocomplete_queries():
    for model, model_admin in admin.site._registry.items():
        owners = [model_admin, *(inline for inline in model_admin.inlines)]
        for owner in owners:
            source_model = getattr(owner, "model", model)
            for field in owner.autocomplete_fields:
                yield {"app_label": source_model._meta.app_label,
                       "model_name": source_model._meta.model_name, "field_name": field}


class Walk:
    """Every page the admin gives one user, each checked for the canary."""

    def __init__(self, client):
        self.client = client
        self.pages = 0
        self.hits = []

    def get(self, url, data=None):
        response = self.client.get(url, data or {})
        assert response.status_code < 500, (url, data)
        self.pages += 1
        body = response.content.decode()
        assert CANARY not in body, (url, data)
        return response

    def search_hits(self, url, data):
        response = self.get(url, data)
        changelist = (response.context or {}).get("cl") if response.status_code == 200 else None
        if changelist is not None and changelist.result_count:
            self.hits.append((url, data, changelist.result_count))
        return response

    def changelist(self, model):
        url = url_of(model, "changelist")
        response = self.search_hits(url, {"q": PART})
        if response.status_code != 200:
            return
        for spec in response.context["cl"].filter_specs:
            for choice in spec.choices(response.context["cl"]):
                query = choice["query_string"].lstrip("?")
                self.search_hits(f"{url}?{query}", None)
        for lookup in text_lookups(model):
            self.search_hits(url, {lookup: PART})

    def records(self, model):
        self.get(url_of(model, "add"))
        versions = isinstance(admin.site._registry[model], SimpleHistoryAdmin)
        for obj in model._default_manager.all():
            for view in ("change", "delete", "history"):
                self.get(url_of(model, view, obj.pk))
            if versions:  # each version's page, which is also its revert page
                for row in model.history.filter(id=obj.pk):
                    self.get(url_of(model, "simple_history", obj.pk, row.history_id))

    def autocomplete(self):
        for query in autocomplete_queries():
            response = self.get(reverse("admin:autocomplete"), {**query, "term": PART})
            if response.status_code == 200 and response.json()["results"]:
                self.hits.append(("autocomplete", query, response.json()["results"]))

    def everything(self):
        for model in admin.site._registry:
            self.changelist(model)
            self.records(model)
        self.autocomplete()
        return self


@pytest.mark.parametrize("who", ["editor", "superuser"])
def test_no_admin_page_shows_or_finds_a_protected_identity(secrets, who):
    walk = Walk(secrets["clients"][who]).everything()
    assert walk.hits == []
    assert walk.pages > 300  # the walk reached the pages, not only a refusal
    assert not IdentityReveal.objects.exists()  # nothing was shown, so nothing logged


def test_a_handler_sees_the_identity_where_the_walk_looks(secrets):
    """The walk would see the canary if it were there: a handler is shown it."""
    walk = Walk(secrets["clients"]["handler"])
    with pytest.raises(AssertionError):
        walk.get(url_of(Source, "change", secrets["insider"].pk))
    with pytest.raises(AssertionError):
        walk.get(url_of(SourceIdentity, "changelist"))
    page = secrets["clients"]["handler"].get(url_of(Source, "change", secrets["insider"].pk))
    body = page.content.decode()
    for name in ("contact", "private_notes"):
        assert IDENTITY_VALUES[name] in body
    # The address, kept with the identity, is in the source's address field.
    assert page.context["adminform"].form["url"].value() == f"https://t.me/{CANARY}_retyped"
    told = Citation.objects.get(quote="Ten left.")
    page = secrets["clients"]["handler"].get(url_of(Citation, "change", told.pk))
    assert page.context["adminform"].form["url"].value() == f"https://t.me/{CANARY}_post_edited"


def test_handler_edits_a_protected_address_on_the_source_page(secrets):
    client, insider = secrets["clients"]["handler"], secrets["insider"]
    data = read_form(client.get(url_of(Source, "change", insider.pk)))
    data["url"] = "https://t.me/moved_channel"
    assert client.post(url_of(Source, "change", insider.pk), data).status_code == 302
    insider.refresh_from_db()
    assert insider.url == ""  # public column: public addresses only
    assert SourceIdentity.objects.get(source=insider).address == "https://t.me/moved_channel"
    # Saved again unchanged, the address stays.
    data = read_form(client.get(url_of(Source, "change", insider.pk)))
    data["reliability_note"] = "Checked again."
    assert client.post(url_of(Source, "change", insider.pk), data).status_code == 302
    assert SourceIdentity.objects.get(source=insider).address == "https://t.me/moved_channel"


# --- what each path does ---------------------------------------------------------------------

@pytest.mark.parametrize("who", ["editor", "superuser"])
@pytest.mark.parametrize("model, lookup", [(Source, "url__icontains"),
                                           (Citation, "url__icontains"),
                                           (Source, "url__startswith"),
                                           (Source, "identity__real_name__icontains")])
def test_changelist_refuses_a_lookup_no_filter_of_the_page_makes(secrets, who, model, lookup):
    response = secrets["clients"][who].get(url_of(model, "changelist"), {lookup: "https"})
    assert response.status_code == 400


def test_changelist_filters_of_the_page_still_filter(secrets):
    client = secrets["clients"]["editor"]
    response = client.get(url_of(Source, "changelist"), {"protected__exact": "1"})
    assert [s.name for s in response.context["cl"].result_list] == ["Insider-3"]
    response = client.get(url_of(Incident, "changelist"),
                          {"case__id__exact": secrets["case"].pk})
    assert response.context["cl"].result_count == 1


def test_a_public_address_is_still_searched(secrets):
    response = secrets["clients"]["editor"].get(url_of(Source, "changelist"), {"q": "161.ru/"})
    assert [s.name for s in response.context["cl"].result_list] == ["161.ru"]
    response = secrets["clients"]["editor"].get(url_of(Citation, "changelist"),
                                                {"q": "161.ru/ten"})
    assert response.context["cl"].result_count == 1


def test_autocomplete_finds_a_source_by_codename_never_by_address(secrets):
    query = {"app_label": "cases", "model_name": "citation", "field_name": "source"}
    client = secrets["clients"]["editor"]
    by_name = client.get(reverse("admin:autocomplete"), {**query, "term": "Insider"}).json()
    by_address = client.get(reverse("admin:autocomplete"), {**query, "term": PART}).json()
    assert [r["text"] for r in by_name["results"]] == ["Insider-3"]
    assert by_address["results"] == []


@pytest.mark.parametrize("who", ["editor", "superuser"])
def test_protected_address_fields_are_empty_and_never_written(secrets, who):
    """The page shows the field empty and disabled; a forged value never reaches the row."""
    client = secrets["clients"][who]
    citation = Citation.objects.get(quote="Ten left.")
    page = client.get(url_of(Citation, "change", citation.pk))
    form = page.context["adminform"].form
    assert form.fields["url"].disabled and form["url"].value() == ""
    data = read_form(page)
    data.update(url="https://evil.example/", quote="Ten left the unit.")
    response = client.post(url_of(Citation, "change", citation.pk), data)
    assert response.status_code == 302
    stored = Citation.objects.get(pk=citation.pk)
    assert stored.quote == "Ten left the unit."
    assert "evil" not in (stored.url + (getattr(stored, "protected_url", None) or ""))


def test_a_member_who_is_not_a_handler_cannot_lift_a_protection(secrets):
    client = secrets["clients"]["editor"]
    insider = secrets["insider"]
    page = client.get(url_of(Source, "change", insider.pk))
    assert page.context["adminform"].form.fields["protected"].disabled
    data = read_form(page)
    data.pop("protected", None)  # unticked
    data["reliability_note"] = "Still reliable."
    assert client.post(url_of(Source, "change", insider.pk), data).status_code == 302
    insider.refresh_from_db()
    assert (insider.protected, insider.reliability_note) == (True, "Still reliable.")


def test_a_protected_source_cannot_be_reverted_by_a_member_who_is_not_a_handler(secrets):
    """A revert writes every field of the old version, the protection included."""
    insider = secrets["insider"]
    first = insider.history.earliest()
    client = secrets["clients"]["editor"]
    page = client.get(url_of(Source, "simple_history", insider.pk, first.history_id))
    assert 'value="Revert"' not in page.content.decode()
    response = client.post(url_of(Source, "simple_history", insider.pk, first.history_id),
                           read_form(page))
    assert response.status_code == 403
    insider.refresh_from_db()
    assert insider.reliability_note == "Knows the unit."


# --- the audited reveal ---------------------------------------------------------------------

def reveal_url(source):
    return reverse("admin:cases_source_reveal", args=[source.pk])


def test_superuser_sees_codenames_and_is_offered_the_audited_reveal(secrets):
    client = secrets["clients"]["superuser"]
    page = client.get(url_of(Source, "change", secrets["insider"].pk)).content.decode()
    assert reveal_url(secrets["insider"]) in page
    assert client.get(url_of(SourceIdentity, "changelist")).status_code == 403
    assert client.get(url_of(SourceIdentity, "change",
                             secrets["identity"].pk)).status_code == 403
    assert client.get(url_of(SourceIdentity, "history",
                             secrets["identity"].pk)).status_code == 403
    form = client.get(reveal_url(secrets["insider"]))
    assert 'name="reason"' in form.content.decode()
    assert CANARY not in form.content.decode()
    assert not IdentityReveal.objects.exists()


@pytest.mark.parametrize("reason", ["", "x", "because                        I can"])
def test_reveal_without_a_reason_of_substance_shows_nothing(secrets, reason):
    response = secrets["clients"]["superuser"].post(reveal_url(secrets["insider"]),
                                                    {"reason": reason})
    assert response.status_code == 200
    codes = {e.code for e in response.context["form"].errors.as_data()["reason"]}
    assert codes & {"required", "reveal_reason_too_short"}
    assert CANARY not in response.content.decode()
    assert not IdentityReveal.objects.exists()


def test_reveal_with_a_reason_shows_the_identity_once_and_logs_the_reason(secrets):
    client = secrets["clients"]["superuser"]
    reason = "Court order 12/2026 asks who the source is; the lawyer needs the name today."
    response = client.post(reveal_url(secrets["insider"]), {"reason": reason})
    body = response.content.decode()
    assert "Ivan qzx7canary Sidorov" in body
    assert IDENTITY_VALUES["contact"] in body
    [reveal] = IdentityReveal.objects.all()
    assert (reveal.user, reveal.source, reveal.channel, reveal.reason) == (
        secrets["superuser"], secrets["insider"], RevealChannel.ADMIN_REVEAL, reason)
    # Nothing is kept: the source page still shows the codename only.
    assert CANARY not in client.get(url_of(Source, "change", secrets["insider"].pk)
                                    ).content.decode()
    # The case's editors read who, which source, and why.
    log = secrets["clients"]["editor"].get(
        reverse("cases:identity_reveals", args=[secrets["case"].slug])).content.decode()
    assert "root" in log and "Insider-3" in log and reason in log
    assert CANARY not in log


@pytest.mark.parametrize("who", ["editor", "handler"])
def test_reveal_page_is_for_superusers_who_are_not_handlers(secrets, who):
    response = secrets["clients"][who].post(reveal_url(secrets["insider"]),
                                            {"reason": "x" * 80})
    assert response.status_code == 403
    assert not IdentityReveal.objects.exists()


def test_reveal_of_a_public_source_is_refused(secrets):
    public = Source.objects.get(name="161.ru")
    response = secrets["clients"]["superuser"].post(reveal_url(public), {"reason": "x" * 80})
    assert response.status_code == 403
    assert not IdentityReveal.objects.exists()


def test_superuser_who_is_a_handler_sees_identities_without_a_reveal(secrets):
    superuser = secrets["superuser"]
    MembershipFactory(case=secrets["case"], user=superuser, role=Role.EDITOR,
                      can_handle_sources=True)
    page = secrets["clients"]["superuser"].get(url_of(Source, "change", secrets["insider"].pk))
    assert IDENTITY_VALUES["contact"] in page.content.decode()
    assert IdentityReveal.objects.filter(user=superuser,
                                         channel=RevealChannel.ADMIN_SOURCE).count() == 1



def test_source_history_before_its_protection_is_for_handlers_only(case, make_member,
                                                                   make_staff):
    handler = make_member(Role.EDITOR)
    Membership.objects.filter(user=handler).update(can_handle_sources=True)
    # Entered under a person's real name, then protected under a codename: the older row
    # still holds the name.
    source = SourceFactory(case=case, name="Ivan Petrov")
    source.name, source.protected = "Insider 7", True
    source.save()
    before = source.history.order_by("history_id").first()
    pages = [reverse("admin:cases_source_history", args=[source.pk]),
             reverse("admin:cases_source_simple_history", args=[source.pk, before.history_id])]
    editor, handler_client = TwoFactorClient(), TwoFactorClient()
    editor.force_login(make_staff(make_member(Role.EDITOR)))
    handler_client.force_login(make_staff(handler))

    listed = editor.get(pages[0]).content.decode()
    assert "Insider 7" in listed and "Ivan Petrov" not in listed
    assert editor.get(pages[1]).status_code == 404
    assert editor.get(pages[1].replace(f"/{before.history_id}/", "/abc/")).status_code == 404
    assert "Ivan Petrov" in handler_client.get(pages[0]).content.decode()
    assert "Ivan Petrov" in handler_client.get(pages[1]).content.decode()
