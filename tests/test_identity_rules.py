"""cases/identities.py: a protected source's address is part of its identity (encrypted, its
clear copies gone from the tables and their history); a citation's address from a protected
lineage reaches handlers only, on every path; the source-handler right needs a second person
and the case's handlers are told; dumpdata writes identities encrypted."""

import importlib
import json
import logging
import uuid
from io import StringIO
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.serializers.base import DeserializationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from cases import crypto, identities
from cases.enums import Role
from cases.history import history_maintenance
from cases.identities import HANDLER_GRANT_NOT_ALLOWED, HANDLER_SELF_GRANT, PROTECTED_ADDRESS
from cases.models import Citation, Membership, Source, SourceIdentity
from preferences.language import store_language

from .factories import CitationFactory, ClaimFactory, SourceFactory, UserFactory
from .test_api import token_client, version
from .test_forms import fill, open_and_submit, read_form
from .test_identity_protection import database_dump

pytestmark = pytest.mark.django_db

API = "/api/v1"


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


def canary_address() -> str:
    return f"https://t.me/canary{uuid.uuid4().hex}"


def rows(sql, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def clear_copies(value: str) -> list[str]:
    """The tables (of the four that held addresses in clear) where `value` is stored in clear,
    read with raw SQL as a backup would."""
    tables = ("cases_source", "cases_historicalsource", "cases_citation",
              "cases_historicalcitation")
    return [table for table in tables
            if rows(f"SELECT 1 FROM {table} WHERE url = %s", [value])]  # noqa: S608


@pytest.fixture
def handler(make_member):
    user = make_member(Role.REPORTER, username="handler", email="handler@newsroom.example")
    Membership.objects.filter(user=user).update(can_handle_sources=True)
    return user


@pytest.fixture
def member(make_member):
    return make_member(Role.REPORTER, username="member")


# --- a protected source's address is part of its identity -----------------------------------

@pytest.mark.django_db(transaction=True)
def test_protected_source_address_is_encrypted_in_tables_history_and_dump(client, case,
                                                                          handler, member,
                                                                          caplog):
    from_start, later = canary_address(), canary_address()
    client.force_login(handler)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # every SQL statement and its parameters logged
    try:
        response = open_and_submit(client, url("source_create", case), name="Insider-1",
                                   kind="person", protected="on", url=from_start)
        assert response.status_code == 302
    finally:
        connection.force_debug_cursor = False
    assert "cases_sourceidentity" in caplog.text and from_start not in caplog.text
    # A public source first, with its address, then protected by a handler.
    response = open_and_submit(client, url("source_create", case), name="Channel-2",
                               kind="social_account", url=later)
    assert response.status_code == 302
    channel = Source.objects.get(name="Channel-2")
    assert clear_copies(later) == ["cases_source", "cases_historicalsource"]
    response = open_and_submit(client, url("source_edit", case, channel.pk), protected="on")
    assert response.status_code == 302

    for name, address in (("Insider-1", from_start), ("Channel-2", later)):
        source = Source.objects.get(name=name)
        assert (source.protected, source.url) == (True, "")
        assert source.identity.address == address
        assert not clear_copies(address), name
        stored = rows("SELECT address FROM cases_sourceidentity WHERE source_id = %s",
                      [source.pk])[0][0]
        assert crypto.decrypt(stored) == address
    dump = database_dump()
    assert "Insider-1" in dump
    assert from_start not in dump and later not in dump

    # The handler edits the address on the source form; nobody else sees it.
    page = client.get(url("source_edit", case, channel.pk)).content.decode()
    assert later in page
    client.force_login(member)
    for name, args in (("source_edit", [channel.pk]), ("source_list", []), ("activity", [])):
        assert later not in client.get(url(name, case, *args)).content.decode(), name
    found = client.get(reverse("cases:search"), {"q": later.rsplit("/", 1)[1]})
    assert found.status_code == 200 and later not in found.content.decode()


def test_handler_changes_clears_and_unprotects_the_address_on_the_source_form(client, case,
                                                                              handler):
    source = SourceFactory(case=case, name="Insider-2", protected=True,
                           url="https://t.me/first")
    assert (source.url, source.identity.address) == ("", "https://t.me/first")
    client.force_login(handler)
    edit = url("source_edit", case, source.pk)
    assert open_and_submit(client, edit, url="https://t.me/second").status_code == 302
    source.refresh_from_db()
    assert (source.url, source.identity.address) == ("", "https://t.me/second")
    assert open_and_submit(client, edit, url="").status_code == 302
    assert SourceIdentity.objects.get(source=source).address == ""

    assert open_and_submit(client, edit, url="https://t.me/third").status_code == 302
    # Lifting the protection (the handlers' decision) makes the address public again.
    page = client.get(edit)
    data = read_form(page)
    data.pop("protected")
    assert client.post(edit, data).status_code == 302
    source.refresh_from_db()
    assert (source.protected, source.url) == (False, "https://t.me/third")
    assert SourceIdentity.objects.get(source=source).address == ""


def test_non_handler_neither_sees_nor_wipes_a_protected_address(client, case, member):
    source = SourceFactory(case=case, name="Insider-3", protected=True,
                           url="https://t.me/kept")
    client.force_login(member)
    page = client.get(url("source_edit", case, source.pk))
    assert "https://t.me/kept" not in page.content.decode()
    data = fill(read_form(page), reliability="B", url="")
    assert client.post(url("source_edit", case, source.pk), data).status_code == 302
    source.refresh_from_db()
    assert (source.reliability, source.url, source.identity.address) == (
        "B", "", "https://t.me/kept")


def test_a_protected_source_never_keeps_its_address_in_clear(case):
    """Every write path ends in save() or a bulk insert: the check constraint refuses a
    protected source with a public address on the second, save() moves it on the first."""
    source = Source.objects.create(case=case, name="Insider-4", protected=True,
                                   url="https://t.me/moved")
    assert (source.url, source.identity.address) == ("", "https://t.me/moved")
    assert source.identity.history.count() == 1
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Source.objects.bulk_create([Source(case=case, name="Insider-5", protected=True,
                                           url="https://t.me/clear")])


def test_the_api_takes_a_handlers_address_and_gives_it_to_nobody(case, handler, member):
    source = SourceFactory(case=case, name="Insider-6", protected=True)
    path = f"{API}/sources/{source.pk}/"
    api = token_client(handler)
    response = api.patch(path, {"url": "https://t.me/by-api"}, format="json",
                         **version(api, path))
    assert response.status_code == 200, response.content
    assert (response.json()["url"], response.json()["url_withheld"]) == ("", True)
    source.refresh_from_db()
    assert (source.url, source.identity.address) == ("", "https://t.me/by-api")
    api = token_client(member)
    response = api.patch(path, {"url": "https://evil.example/"}, format="json",
                         **version(api, path))
    assert response.status_code == 400
    assert response.data["url"][0].code == PROTECTED_ADDRESS
    assert SourceIdentity.objects.get(source=source).address == "https://t.me/by-api"


def test_imported_protected_source_keeps_its_address_in_the_identity(client, case, handler):
    address = canary_address()
    csv = f"name,kind,url,protected\nInsider-7,person,{address},yes\n".encode()
    from cases.access import get_case_for_user
    from cases.imports import SourceImporter, read_table

    importer = SourceImporter(get_case_for_user(handler, case.slug), handler)
    report = importer.run(read_table(csv, "sources.csv"))
    assert report.error_row_count == 0
    source = Source.objects.get(name="Insider-7")
    assert (source.url, source.identity.address) == ("", address)
    assert not clear_copies(address)


def test_migration_0010_moves_addresses_and_scrubs_history(case):
    """0010 found protected sources (and citations of a protected lineage) with their
    addresses in clear, history included, and moves them into encrypted columns."""
    migration = importlib.import_module("cases.migrations.0010_source_address_in_identity")
    # 0010 reads a citation's one `via` (0019 made it relays): the column as it was then,
    # added before any citation is written (rolled back with the test).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE cases_citation ADD COLUMN via_id bigint NULL")
    public = SourceFactory(case=case, name="161.ru", url="https://161.ru/")
    insider = SourceFactory(case=case, name="Insider-8", url="https://t.me/old-insider",
                            reached_via=public)
    claim = ClaimFactory(case=case)
    own = CitationFactory(claim=claim, source=insider, url="https://t.me/old-insider/5")
    relayed = CitationFactory(claim=claim, source=public, url="https://t.me/old-insider/6")
    with history_maintenance(reason="test: a citation's via as it was before 0019"), \
            connection.cursor() as cursor:
        for table in ("cases_citation", "cases_historicalcitation"):
            cursor.execute(f"UPDATE {table} SET via_id = %s WHERE id = %s",  # noqa: S608
                           [insider.pk, relayed.pk])
    outlet = CitationFactory(claim=claim, source=public, url="https://161.ru/news/1")
    # As before 0010: protected, the address still in clear (the constraint is 0010's).
    _without_check(lambda: Source.objects.filter(pk=insider.pk).update(protected=True))
    assert clear_copies("https://t.me/old-insider") == ["cases_source",
                                                        "cases_historicalsource"]

    state = MigrationExecutor(connection).loader.project_state(
        ("cases", "0010_source_address_in_identity")).apps
    migration.move_addresses(state, SimpleNamespace(connection=connection))

    insider.refresh_from_db()
    assert insider.url == "" and insider.identity.address == "https://t.me/old-insider"
    assert insider.identity.history.count() == 1
    for value in ("https://t.me/old-insider", "https://t.me/old-insider/5",
                  "https://t.me/old-insider/6"):
        assert not clear_copies(value), value
    for citation in (own, relayed):
        citation.refresh_from_db()
        assert citation.url == "" and citation.protected_url.startswith("https://t.me/old")
        assert {row.protected_url for row in citation.history.all()} == {
            citation.protected_url}
    outlet.refresh_from_db()
    assert (outlet.url, outlet.protected_url) == ("https://161.ru/news/1", None)
    assert Source.objects.get(pk=public.pk).url == "https://161.ru/"


def _without_check(write):
    """Run `write` with the source's check constraint out of the way, as before 0010."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                write()
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE cases_source DROP CONSTRAINT "
                       "source_protected_address_in_identity")
        write()
    # Rolled back with the test, constraint included.


# --- a citation's address: handlers only, on every path -------------------------------------

@pytest.fixture
def cited(case):
    """A claim citing a protected source (address A) and a public source relaying another
    protected one (address B), with a public citation (address C) beside them."""
    outlet = SourceFactory(case=case, name="161.ru", url="https://161.ru/")
    insider = SourceFactory(case=case, name="Insider-9", protected=True)
    claim = ClaimFactory(case=case, statement="Ten recruits deserted.")
    addresses = {"own": canary_address(), "relayed": canary_address(),
                 "public": "https://161.ru/news/desertion"}
    CitationFactory(claim=claim, source=insider, url=addresses["own"])
    CitationFactory(claim=claim, source=outlet, relays=[insider], url=addresses["relayed"])
    CitationFactory(claim=claim, source=outlet, url=addresses["public"])
    return claim, addresses


def test_citation_addresses_are_stored_encrypted(cited):
    claim, addresses = cited
    for name in ("own", "relayed"):
        assert not clear_copies(addresses[name]), name
    assert clear_copies(addresses["public"]) == ["cases_citation", "cases_historicalcitation"]
    assert {c.protected_url for c in claim.citations.all()} == {
        addresses["own"], addresses["relayed"], None}


def test_claim_page_shows_protected_citation_addresses_to_handlers_only(client, case, cited,
                                                                        outsider, member,
                                                                        handler):
    claim, addresses = cited
    client.force_login(outsider)
    assert client.get(url("claim_detail", case, claim.pk)).status_code == 404
    client.force_login(member)
    page = client.get(url("claim_detail", case, claim.pk)).content.decode()
    assert addresses["public"] in page
    assert addresses["own"] not in page and addresses["relayed"] not in page
    client.force_login(handler)
    page = client.get(url("claim_detail", case, claim.pk)).content.decode()
    assert all(address in page for address in addresses.values())


def test_claim_form_withholds_protected_addresses_and_keeps_them_on_save(client, case, cited,
                                                                         outsider, member,
                                                                         handler):
    claim, addresses = cited
    edit = url("claim_edit", case, claim.pk)
    client.force_login(outsider)
    assert client.get(edit).status_code == 404
    client.force_login(member)
    page = client.get(edit)
    text = page.content.decode()
    assert addresses["public"] in text
    assert addresses["own"] not in text and addresses["relayed"] not in text
    data = read_form(page)
    # Posting an address for a withheld citation anyway (or none) changes nothing.
    for index in range(3):
        data.setdefault(f"citations-{index}-url", [""])
    response = client.post(edit, fill(data, statement="Ten recruits deserted, twice."))
    assert response.status_code == 302
    assert {c.protected_url for c in claim.citations.all()} == {
        addresses["own"], addresses["relayed"], None}
    client.force_login(handler)
    text = client.get(edit).content.decode()
    assert all(address in text for address in addresses.values())


def test_citations_api_gives_protected_addresses_to_handlers_only(case, cited, outsider,
                                                                  member, handler):
    claim, addresses = cited

    def seen(user):
        response = token_client(user).get(f"{API}/citations/")
        assert response.status_code == 200
        return {c["url"] for c in response.json()["results"]}

    assert seen(outsider) == set()
    assert seen(member) == {"", addresses["public"]}
    assert seen(handler) == set(addresses.values())
    (own,) = [c for c in claim.citations.all() if c.protected_url == addresses["own"]]
    path = f"{API}/citations/{own.pk}/"
    api = token_client(member)
    refused = api.patch(path, {"url": "https://evil.example/"}, format="json",
                        **version(api, path))
    assert refused.status_code == 400
    assert refused.data["url"][0].code == PROTECTED_ADDRESS
    kept = api.patch(path, {"url": "", "quote": "Read back."}, format="json",
                     **version(api, path))
    assert kept.status_code == 200, kept.content
    own.refresh_from_db()
    assert (own.quote, own.protected_url) == ("Read back.", addresses["own"])


def test_exports_carry_no_protected_citation_address_even_for_handlers(client, case, cited,
                                                                       handler):
    _, addresses = cited
    client.force_login(handler)
    for name in ("json", "claimreview"):
        response = client.get(reverse("cases:export_case", args=[case.slug]), {"format": name})
        body = b"".join(response.streaming_content).decode()
        assert addresses["own"] not in body and addresses["relayed"] not in body, name
    assert addresses["public"] in body or name == "claimreview"


def test_protecting_a_source_seals_its_citations_and_their_history(case, cited):
    claim, addresses = cited
    outlet = Source.objects.get(name="161.ru")
    outlet.protected = True
    outlet.save()
    assert not clear_copies(addresses["public"])
    (public,) = [c for c in claim.citations.all() if c.protected_url == addresses["public"]]
    assert {row.url for row in public.history.all()} == {""}
    # Lifting it again, its citations' addresses are public again (the insider's stay).
    outlet.protected = False
    outlet.save()
    public.refresh_from_db()
    assert (public.url, public.protected_url) == (addresses["public"], None)


# --- the handler right needs a second person --------------------------------------------------

def test_editor_cannot_make_themselves_a_source_handler(client, case, editor):
    membership = Membership.objects.get(user=editor)
    client.force_login(editor)
    response = open_and_submit(client, url("member_edit", case, membership.pk),
                               can_handle_sources="on")
    assert response.status_code == 400
    form = response.context["form"]
    assert form.has_error("can_handle_sources", code=HANDLER_SELF_GRANT)
    membership.refresh_from_db()
    assert not membership.can_handle_sources


def test_only_an_editor_or_the_lead_grants_the_handler_right(case, editor, member):
    other = Membership.objects.get(user=member)
    other.can_handle_sources = True
    reporter = UserFactory()
    Membership.objects.create(case=case, user=reporter, role=Role.REPORTER)
    with pytest.raises(Exception) as refused:
        identities.check_handler_grant(other, actor=reporter)
    assert refused.value.error_dict["can_handle_sources"][0].code == HANDLER_GRANT_NOT_ALLOWED
    identities.check_handler_grant(other, actor=editor)  # another editor: granted
    case.lead = reporter
    case.save()
    other.case.refresh_from_db()
    identities.check_handler_grant(other, actor=reporter)  # the lead: granted


def test_handlers_are_told_of_a_new_grant_each_in_their_own_name(
        client, case, editor, member, make_member, mailoutbox,
        django_capture_on_commit_callbacks):
    insider = SourceFactory(case=case, name="Insider-10", protected=True,
                            url="https://t.me/never-in-a-mail")
    SourceIdentity.objects.filter(source=insider).update(real_name="Ivan Neverinmail")
    anna = make_member(Role.REPORTER, username="anna", first_name="Anna", last_name="K",
                       email="anna@newsroom.example")
    boris = make_member(Role.EDITOR, username="boris", email="boris@newsroom.example")
    Membership.objects.filter(user__in=[anna, boris]).update(can_handle_sources=True)
    membership = Membership.objects.get(user=member)
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        response = open_and_submit(client, url("member_edit", case, membership.pk),
                                   can_handle_sources="on")
    assert response.status_code == 302
    assert sorted(message.to for message in mailoutbox) == [["anna@newsroom.example"],
                                                             ["boris@newsroom.example"]]
    for message in mailoutbox:
        greeting = "Hello Anna K," if message.to == ["anna@newsroom.example"] else \
            "Hello boris,"
        assert message.body.startswith(greeting)
        assert "editor made member a source handler" in " ".join(message.body.split())
        assert case.title in message.subject
        for secret in ("Ivan Neverinmail", "never-in-a-mail", "Insider-10"):
            assert secret not in message.subject + message.body
    # A change that grants nothing tells nobody.
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        open_and_submit(client, url("member_edit", case, membership.pk), role=Role.VIEWER)
    assert mailoutbox == []
    # The grant is on the case's reveal log.
    page = client.get(url("identity_reveals", case)).content.decode()
    assert "Source handlers appointed" in page
    section = page[page.index('id="grants"'):]
    assert "member" in section and "editor" in section


def test_handler_grant_mail_is_in_each_recipients_language(case, editor, member, make_member,
                                                           mailoutbox):
    olga = make_member(Role.REPORTER, username="olga", email="olga@newsroom.example")
    boris = make_member(Role.EDITOR, username="boris", email="boris@newsroom.example")
    Membership.objects.filter(user__in=[olga, boris]).update(can_handle_sources=True)
    store_language(olga, "ru")
    Membership.objects.filter(user=member).update(can_handle_sources=True)
    now = timezone.localtime()
    # The mail's date names its month, which Django's own catalogue has in Russian (in the
    # nominative or, after a day, the genitive): this holds whether or not Casedesk's
    # catalogue is compiled, and whichever date format it gives.
    with translation.override("ru"):
        russian_months = {date_format(now, "F").lower(), date_format(now, "E").lower()}
    with translation.override("en-gb"):
        english_month = date_format(now, "F")

    with translation.override("ru"):  # the granter reads Russian: no recipient's concern
        sent = identities.tell_handlers_of_grant(Membership.objects.get(user=member).pk,
                                                 editor)
    assert sent == 2

    mails = {message.to[0]: " ".join(message.body.split()) for message in mailoutbox}
    assert any(month in mails["olga@newsroom.example"].lower() for month in russian_months)
    assert english_month not in mails["olga@newsroom.example"]
    assert english_month in mails["boris@newsroom.example"]
    assert "editor made member a source handler" in mails["boris@newsroom.example"]


# --- dumpdata ----------------------------------------------------------------------------------

def test_dumpdata_writes_identities_encrypted_and_loaddata_reads_them(case, tmp_path, settings):
    source = SourceFactory(case=case, name="Insider-11", protected=True,
                           url="https://t.me/dump-canary")
    identity = source.identity
    identity.real_name = "Dumpname Canary"
    identity.save()
    out = StringIO()
    call_command("dumpdata", "cases", stdout=out)
    dump = out.getvalue()
    assert "Insider-11" in dump
    assert "Dumpname" not in dump and "dump-canary" not in dump
    record = next(r for r in json.loads(dump) if r["model"] == "cases.sourceidentity")
    assert record["fields"]["real_name"].startswith(crypto.SERIALIZED_PREFIX + "gAAAAA")

    fixture = tmp_path / "identities.json"
    out = StringIO()
    call_command("dumpdata", "cases.sourceidentity", stdout=out)
    fixture.write_text(out.getvalue())
    crypto.write_raw(SourceIdentity.objects, identity.pk,
                     {"real_name": crypto.encrypt("Overwritten")})
    call_command("loaddata", str(fixture), stdout=StringIO())
    identity.refresh_from_db()
    assert (identity.real_name, identity.address) == ("Dumpname Canary",
                                                      "https://t.me/dump-canary")
    # A dump made under keys this deployment does not hold is refused, and changes nothing.
    keys = settings.CASEDESK_ENCRYPTION_KEYS
    crypto.write_raw(SourceIdentity.objects, identity.pk,
                     {"real_name": crypto.encrypt("Kept")})
    settings.CASEDESK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DeserializationError, match="does not open with any key"):
        call_command("loaddata", str(fixture), stdout=StringIO())
    settings.CASEDESK_ENCRYPTION_KEYS = keys
    identity.refresh_from_db()
    assert identity.real_name == "Kept"


def test_typing_a_token_into_a_form_never_decrypts_it(case):
    identity = SourceFactory(case=case, name="Insider-12", protected=True,
                             url="https://t.me/x").identity
    token = crypto.SERIALIZED_PREFIX + crypto.encrypt("Someone Else")
    identity.contact = token
    identity.full_clean(exclude=["source"])
    assert identity.contact == token


# --- key rotation covers the new columns ------------------------------------------------------

def test_rotation_covers_addresses(case, cited, settings):
    claim, addresses = cited
    old = settings.CASEDESK_ENCRYPTION_KEYS
    old = [old] if isinstance(old, str) else list(old)
    settings.CASEDESK_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "cases.Citation: 2 rows, 2 re-encrypted" in out.getvalue()
    assert "cases.HistoricalCitation: 2 rows, 2 re-encrypted" in out.getvalue()
    settings.CASEDESK_ENCRYPTION_KEYS = settings.CASEDESK_ENCRYPTION_KEYS[:1]
    assert {c.protected_url for c in Citation.objects.filter(claim=claim)} == {
        addresses["own"], addresses["relayed"], None}
