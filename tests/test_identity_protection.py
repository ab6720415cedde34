"""Protected source identities: encrypted at rest (tables, history, logs), unreadable with a
wrong key, rotated to a new key, shown to handlers only, and every showing logged for the
case's editors."""

import importlib
import logging
import os
import shutil
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, Permission
from django.core import checks
from django.core.exceptions import FieldError, ImproperlyConfigured, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from cases import crypto
from cases.crypto import IdentityDecryptionError
from cases.enums import Role
from cases.history import history_maintenance
from cases.models import IdentityReveal, Membership, RevealChannel, Source, SourceIdentity

from .factories import MembershipFactory, SourceFactory, UserFactory
from .test_forms import fill, open_and_submit, read_form

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
IDENTITY_TABLES = ("cases_sourceidentity", "cases_historicalsourceidentity")
IDENTITY_COLUMNS = ("real_name", "contact", "private_notes")


def url(name, case, *args):
    return reverse(f"cases:{name}", args=[case.slug, *args])


def canaries() -> dict[str, str]:
    """Identity values that cannot turn up anywhere by chance; the second word of each is
    its unique part."""
    tag = uuid.uuid4().hex
    return {"real_name": f"Canaryname {tag} Realperson",
            "contact": f"Signal +7-CANARY-{tag[:12]}",
            "private_notes": f"Met {tag[::-1]} at the canary cafe"}


@pytest.fixture
def handler(make_member):
    user = make_member(Role.REPORTER, username="handler")
    Membership.objects.filter(user=user).update(can_handle_sources=True)
    return user


@pytest.fixture
def keys(settings):
    """set_keys(*keys): CASEDESK_ENCRYPTION_KEYS for the rest of the test."""

    def set_keys(*new_keys):
        settings.CASEDESK_ENCRYPTION_KEYS = list(new_keys)

    old = Fernet.generate_key().decode()
    set_keys(old)
    set_keys.old = old
    return set_keys


def raw_identity_values(table="cases_sourceidentity", *, source=None) -> list[tuple]:
    """The identity columns as the database holds them (raw SQL, no field decryption), of
    one source's identity or of all."""
    quote = connection.ops.quote_name
    pk = "history_id" if table.startswith("cases_historical") else "id"
    where, params = ("WHERE source_id = %s", [source.pk]) if source is not None else ("", [])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(quote(c) for c in IDENTITY_COLUMNS)} "
                       f"FROM {quote(table)} {where} ORDER BY {quote(pk)}", params)
        return [tuple(bytes(v).decode() if isinstance(v, memoryview | bytes) else v
                      for v in row) for row in cursor.fetchall()]


def every_table_as_text() -> str:
    """Every row of every table, every column, through the test's own connection (it sees
    what the test wrote, committed or not)."""
    quote = connection.ops.quote_name
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {quote(table)}")
            chunks.append(f"-- {table}\n" + "\n".join(repr(row) for row in cursor.fetchall()))
    return "\n".join(chunks)


def database_dump() -> str:
    """The database as a backup would hold it: SQLite's own dump and the raw file image, or
    pg_dump on PostgreSQL (the test's data must be committed: transactional tests)."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        raw = connection.connection
        image = raw.serialize()  # every page of the database file, free pages included
        return "\n".join(raw.iterdump()) + "\n" + image.decode("latin-1")
    assert connection.vendor == "postgresql"
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    command = [pg_dump, "--no-owner", "--dbname", db["NAME"]]
    if db.get("HOST"):
        command += ["--host", db["HOST"]]
    if db.get("PORT"):
        command += ["--port", str(db["PORT"])]
    if db.get("USER"):
        command += ["--username", db["USER"]]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120,
                            check=True)
    return result.stdout


# --- a canary written through the app --------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_canary_identity_is_nowhere_but_on_the_handlers_page(client, case, handler, editor,
                                                             caplog):
    canary = canaries()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # every SQL statement and its parameters logged
    try:
        client.force_login(handler)
        response = open_and_submit(
            client, url("source_create", case), name="Witness-7", kind="person",
            protected="on", identity__real_name=canary["real_name"],
            identity__contact=canary["contact"], identity__private_notes="first notes")
        assert response.status_code == 302
        source = Source.objects.get(name="Witness-7")
        # An edit too, so the history holds a change and not only a creation.
        response = open_and_submit(client, url("source_edit", case, source.pk),
                                   identity__private_notes=canary["private_notes"])
        assert response.status_code == 302
        handler_page = client.get(url("source_edit", case, source.pk)).content.decode()
    finally:
        connection.force_debug_cursor = False

    # The handler sees who the source is.
    for value in canary.values():
        assert value in handler_page
    # The model reads it back.
    identity = SourceIdentity.objects.get(source=source)
    assert (identity.real_name, identity.contact, identity.private_notes) == (
        canary["real_name"], canary["contact"], canary["private_notes"])
    assert identity.history.count() == 2

    # The SQL log was on, and holds ciphertext only.
    assert "cases_historicalsourceidentity" in caplog.text
    assert "gAAAAA" in caplog.text  # Fernet tokens went to the database
    # Nowhere in the database: not in the tables, not in the history, not in a dump.
    everything = every_table_as_text()
    dump = database_dump()
    assert "Witness-7" in everything and "Witness-7" in dump  # the dumps do hold data
    for field, value in canary.items():
        for haystack, what in ((caplog.text, "the logs"), (everything, "a table"),
                               (dump, "the database dump")):
            assert value not in haystack, f"{field} found in {what}"
            assert value.split()[1] not in haystack, f"part of {field} found in {what}"

    # The history table holds tokens that decrypt to what was saved.
    for table in IDENTITY_TABLES:
        rows = raw_identity_values(table, source=source)
        assert len(rows) == (1 if table == "cases_sourceidentity" else 2)
        for row in rows:
            for token in row:
                assert token.startswith("gAAAAA")
                assert crypto.decrypt(token) in {*canary.values(), "first notes"}

    # An editor who is not a handler sees the codename, never the identity.
    client.force_login(editor)
    for name, args in (("source_edit", [source.pk]), ("source_list", []),
                       ("activity", []), ("case_overview", [])):
        page = client.get(url(name, case, *args)).content.decode()
        assert "Witness-7" in page or name == "case_overview"
        for value in canary.values():
            assert value not in page, (name, value)


def test_an_error_email_does_not_carry_the_identity(client, case, handler, settings,
                                                    mailoutbox, monkeypatch):
    """A crash while a handler saves an identity mails the admins the request's details:
    the identity fields are not among them."""
    from cases.views.records import SourceFormView

    settings.ADMINS = [("Ops", "ops@newsroom.example")]
    canary = canaries()

    def crash(self, obj, forms):
        raise RuntimeError("disk full")

    monkeypatch.setattr(SourceFormView, "save_forms", crash)
    client.force_login(handler)
    client.raise_request_exception = False
    response = open_and_submit(client, url("source_create", case), name="Witness-8",
                               kind="person", protected="on",
                               identity__real_name=canary["real_name"],
                               identity__contact=canary["contact"],
                               identity__private_notes=canary["private_notes"])
    assert response.status_code == 500
    (email,) = mailoutbox
    text = email.subject + email.body + "".join(str(a[0]) for a in email.alternatives)
    assert "Witness-8" in text  # the report is there, with the codename…
    for value in canary.values():  # …and without the identity
        assert value.split()[1] not in text


def test_history_rows_hold_ciphertext(case):
    source = SourceFactory(case=case, name="Insider-3", protected=True)
    identity = SourceIdentity.objects.create(source=source, real_name="Ivan Realname",
                                             contact="Telegram @ivan")
    identity.private_notes = "Met twice"
    identity.save()
    for table in IDENTITY_TABLES:
        for row in raw_identity_values(table):
            assert all(value.startswith("gAAAAA") for value in row), (table, row)
            assert "Ivan" not in repr(row) and "Met twice" not in repr(row)
    # The history model uses the same field class, so it decrypts like the live record.
    latest = identity.history.latest()
    assert (latest.real_name, latest.private_notes) == ("Ivan Realname", "Met twice")
    assert identity.history.earliest().private_notes == ""


def test_empty_values_are_encrypted_too(case):
    identity = SourceIdentity.objects.create(source=SourceFactory(case=case))
    (row,) = raw_identity_values()
    assert all(value.startswith("gAAAAA") for value in row)  # emptiness is not readable either
    identity.refresh_from_db()
    assert identity.real_name == identity.contact == identity.private_notes == ""


def test_encrypted_fields_cannot_be_searched(case):
    SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="Anna K.")
    for lookup in ("real_name", "real_name__icontains", "contact__startswith",
                   "private_notes__in"):
        with pytest.raises(FieldError, match="encrypted"):
            SourceIdentity.objects.filter(**{lookup: "Anna K."}).exists()
    assert SourceIdentity.objects.filter(real_name__isnull=False).count() == 1


# --- a wrong or missing key fails loudly ------------------------------------------------------

def test_a_wrong_key_raises_a_clear_error_naming_the_field(client, case, handler, reporter,
                                                           keys):
    source = SourceFactory(case=case, name="Insider-3", protected=True)
    SourceIdentity.objects.create(source=source, real_name="Ivan Realname")
    keys(Fernet.generate_key().decode())  # the key it was written with is gone

    with pytest.raises(IdentityDecryptionError) as error:
        SourceIdentity.objects.get(source=source)
    message = str(error.value)
    assert "cases.SourceIdentity.real_name" in message
    assert "CASEDESK_ENCRYPTION_KEYS" in message
    assert "gAAAAA" not in message
    with pytest.raises(IdentityDecryptionError, match="HistoricalSourceIdentity"):
        list(SourceIdentity.history.all())

    # The handler's page fails rather than show ciphertext or empty fields…
    client.force_login(handler)
    with pytest.raises(IdentityDecryptionError):
        client.get(url("source_edit", case, source.pk))
    # …while the pages that never read identities still work.
    client.force_login(reporter)
    assert client.get(url("source_list", case)).status_code == 200
    assert client.get(url("source_edit", case, source.pk)).status_code == 200


def test_plaintext_or_empty_cells_are_not_passed_off_as_data(case):
    identity = SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="x")
    for stored in ("Ivan Realname", ""):  # written around the ORM
        crypto.write_raw(SourceIdentity.objects, identity.pk, {"real_name": stored})
        with pytest.raises(IdentityDecryptionError, match="real_name"):
            SourceIdentity.objects.get(pk=identity.pk)


def test_no_keys_at_all_is_a_configuration_error(case, keys):
    SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="Ivan")
    keys()
    with pytest.raises(ImproperlyConfigured, match="CASEDESK_ENCRYPTION_KEYS"):
        SourceIdentity.objects.get()


def test_bad_keys_fail_the_system_check(settings):
    settings.CASEDESK_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    errors = checks.run_checks(tags=[checks.Tags.security])
    assert [e.id for e in errors if e.id.startswith("casedesk.E")] == ["casedesk.E001"]
    settings.CASEDESK_ENCRYPTION_KEYS = [settings.CASEDESK_DEVELOPMENT_ENCRYPTION_KEY]
    assert not [e for e in checks.run_checks(tags=[checks.Tags.security])
                if e.id.startswith("casedesk.E")]
    deploy = checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)
    assert "casedesk.E002" in [e.id for e in deploy]  # the published key has no place there


def _settings_import(**env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("CASEDESK_ENCRYPTION_KEYS", "DEBUG", "SECRET_KEY")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", "import config.settings"], cwd=BASE_DIR,
                          env=environment, capture_output=True, text=True, timeout=60)


def test_settings_refuse_to_start_without_keys_when_debug_is_off():
    result = _settings_import(DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "CASEDESK_ENCRYPTION_KEYS must be set" in result.stderr
    key = Fernet.generate_key().decode()
    result = _settings_import(DEBUG="false", SECRET_KEY="x" * 50, CASEDESK_ENCRYPTION_KEYS=key)
    assert "CASEDESK_ENCRYPTION_KEYS" not in result.stderr


# --- key rotation -------------------------------------------------------------------------------

def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


def test_rotation_round_trips_history_included(case, keys):
    people = {}
    for n in range(5):
        source = SourceFactory(case=case, name=f"Insider-{n}", protected=True)
        identity = SourceIdentity.objects.create(source=source, real_name=f"Person {n}",
                                                 contact=f"contact {n}")
        identity.private_notes = f"notes {n}"
        identity.save()  # two history rows each
        people[identity.pk] = (f"Person {n}", f"contact {n}", f"notes {n}")
    history_rows = SourceIdentity.history.count()
    before = {t: raw_identity_values(t) for t in IDENTITY_TABLES}

    assert "0 not under the newest key" in rotate("--check")

    new = Fernet.generate_key().decode()
    keys(new, keys.old)
    with pytest.raises(CommandError, match="15 row"):
        rotate("--check")
    output = rotate("--batch-size", "2")
    assert "cases.SourceIdentity: 5 rows, 5 re-encrypted" in output
    assert "cases.HistoricalSourceIdentity: 10 rows, 10 re-encrypted" in output
    assert "total: 15 rows, 15 re-encrypted" in output
    # Idempotent.
    assert "total: 15 rows, 0 re-encrypted, 15 already under the newest key" in rotate()
    assert "total: 15 rows, 0 not under the newest key" in rotate("--check")

    # Only the new key now: everything still reads, history included.
    keys(new)
    for identity in SourceIdentity.objects.all():
        assert (identity.real_name, identity.contact, identity.private_notes) == \
            people[identity.pk]
    assert {(h.id, h.real_name) for h in SourceIdentity.history.all()} == {
        (pk, name) for pk, (name, _, _) in people.items()}
    for table in IDENTITY_TABLES:
        after = raw_identity_values(table)
        assert len(after) == len(before[table])
        assert not set(after) & set(before[table])  # every token rewritten
    # Rotation is not an edit: no history row, no new version.
    assert SourceIdentity.history.count() == history_rows
    # And the old key alone no longer opens anything.
    keys(keys.old)
    with pytest.raises(IdentityDecryptionError):
        SourceIdentity.objects.first()


def test_rotation_stops_at_values_no_key_opens(case, keys):
    SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="Person")
    keys(Fernet.generate_key().decode())  # the old key was dropped too early
    with pytest.raises(CommandError, match="no configured key opens"):
        rotate()
    with pytest.raises(CommandError, match="no configured key opens"):
        rotate("--check")


def test_the_migration_encrypts_plaintext_rows(case):
    """0002 found identities (and history rows) stored in plaintext and encrypts them; rows
    already encrypted are left alone."""
    migration = importlib.import_module(
        "cases.migrations.0002_encrypt_source_identities_reveal_log")
    plain = SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="x")
    SourceIdentity.objects.create(source=SourceFactory(case=case), real_name="Kept")
    done_tokens = raw_identity_values()[1]
    plaintext = {"real_name": "Old Plainname", "contact": "old contact",
                 "private_notes": ""}
    # (History rows are append-only on PostgreSQL once 0004 has run; 0002 runs before it.)
    with history_maintenance(reason="test: plaintext rows as before migration 0002"):
        crypto.write_raw(SourceIdentity.objects, plain.pk, plaintext)
        crypto.write_raw(SourceIdentity.history, plain.history.get().pk, plaintext)
        migration.encrypt_plaintext_identities(django_apps, connection.schema_editor())

    rows = raw_identity_values()
    assert rows[1] == done_tokens
    assert all(v.startswith("gAAAAA") for row in rows for v in row)
    assert "Old Plainname" not in every_table_as_text()
    plain.refresh_from_db()
    assert (plain.real_name, plain.contact, plain.private_notes) == (
        "Old Plainname", "old contact", "")
    assert plain.history.get().real_name == "Old Plainname"


# --- who sees it, and the reveal log --------------------------------------------------------------

@pytest.fixture
def insider(case):
    source = SourceFactory(case=case, name="Insider-3", protected=True)
    SourceIdentity.objects.create(source=source, real_name="Ivan Realname",
                                  contact="Telegram @ivan-canary")
    return source


def test_only_handlers_see_the_identity_and_each_showing_is_logged(client, case, insider,
                                                                   handler, reporter, editor,
                                                                   viewer):
    for user in (reporter, editor, viewer):
        client.force_login(user)
        for name, args in (("source_edit", [insider.pk]), ("source_list", []),
                           ("activity", []), ("timeline", [])):
            page = client.get(url(name, case, *args)).content.decode()
            assert "Ivan Realname" not in page and "ivan-canary" not in page, (user, name)
    assert not IdentityReveal.objects.exists()  # nobody was shown anything

    client.force_login(handler)
    page = client.get(url("source_edit", case, insider.pk)).content.decode()
    assert "Ivan Realname" in page
    reveal = IdentityReveal.objects.get()
    assert (reveal.user, reveal.source, reveal.case, reveal.channel) == (
        handler, insider, case, RevealChannel.SOURCE_PAGE)
    # A refused save shows the identity again: logged again.
    response = client.post(url("source_edit", case, insider.pk),
                           fill(read_form(client.get(url("source_edit", case, insider.pk))),
                                name=""))
    assert response.status_code == 400
    assert IdentityReveal.objects.count() == 3
    # A handler creating a source is shown nothing that was saved before.
    client.get(url("source_create", case))
    assert IdentityReveal.objects.count() == 3


def test_reveal_log_is_listed_for_editors_only(client, case, insider, handler, editor,
                                               reporter, viewer, outsider):
    client.force_login(handler)
    client.get(url("source_edit", case, insider.pk))

    client.force_login(editor)
    assert url("identity_reveals", case) in client.get(url("source_list", case)).content.decode()
    response = client.get(url("identity_reveals", case))
    assert response.status_code == 200
    page = response.content.decode()
    assert "handler" in page and "Insider-3" in page and "source page" in page
    assert "Ivan Realname" not in page and "ivan-canary" not in page

    for user in (reporter, viewer, handler, outsider):
        client.force_login(user)
        assert client.get(url("identity_reveals", case)).status_code == 404, user
        assert client.post(url("identity_reveals", case)).status_code == 404, user
        page = client.get(url("source_list", case)).content.decode() if user != outsider else ""
        assert url("identity_reveals", case) not in page


def test_reveal_log_of_another_case_stays_there(client, case, insider, handler, make_member):
    client.force_login(handler)
    client.get(url("source_edit", case, insider.pk))
    other_editor = UserFactory(username="other-editor")
    other = MembershipFactory(user=other_editor, role=Role.EDITOR).case
    client.force_login(other_editor)
    page = client.get(url("identity_reveals", other)).content.decode()
    assert "Insider-3" not in page
    assert client.get(url("identity_reveals", case)).status_code == 404


def test_reveal_log_page_costs_a_fixed_number_of_queries(client, case, insider, editor,
                                                         make_member,
                                                         django_assert_max_num_queries):
    client.force_login(editor)
    people = [make_member(Role.REPORTER) for _ in range(3)]
    IdentityReveal.objects.record(people[0], [insider], RevealChannel.SOURCE_PAGE)
    with django_assert_max_num_queries(20) as baseline:
        client.get(url("identity_reveals", case))
    for person in people:
        IdentityReveal.objects.record(person, [insider] * 5, RevealChannel.ADMIN_LIST)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        client.get(url("identity_reveals", case))


def test_reveal_log_is_append_only(case, insider, handler):
    (reveal,) = IdentityReveal.objects.record(handler, [insider], RevealChannel.SOURCE_PAGE)
    with pytest.raises(ValidationError):
        IdentityReveal.objects.update(channel=RevealChannel.ADMIN_LIST)
    with pytest.raises(ValidationError):
        IdentityReveal.objects.all().delete()
    with pytest.raises(ValidationError):
        reveal.save()
    with pytest.raises(ValidationError):
        reveal.delete()
    # Deleting the source keeps the entry, under its codename.
    SourceIdentity.objects.filter(source=insider).delete()
    insider.delete()
    reveal.refresh_from_db()
    assert reveal.source is None and reveal.source_name == "Insider-3"


# --- the admin ----------------------------------------------------------------------------------

@pytest.fixture
def staff(db):
    """make_staff(user): back-office permissions on the cases app."""
    group = Group.objects.create(name="Back office")
    group.permissions.set(Permission.objects.filter(content_type__app_label="cases"))

    def make(user):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(group)
        return user

    return make


def test_admin_shows_identities_to_handlers_only_and_logs_each_showing(client, case, insider,
                                                                       handler, editor,
                                                                       staff):
    identity = insider.identity
    pages = {
        RevealChannel.ADMIN_SOURCE: reverse("admin:cases_source_change", args=[insider.pk]),
        RevealChannel.ADMIN_IDENTITY: reverse("admin:cases_sourceidentity_change",
                                              args=[identity.pk]),
        RevealChannel.ADMIN_LIST: reverse("admin:cases_sourceidentity_changelist"),
        RevealChannel.ADMIN_HISTORY: reverse("admin:cases_sourceidentity_history",
                                             args=[identity.pk]),
    }
    history_row = identity.history.get()
    version = reverse("admin:cases_sourceidentity_simple_history",
                      args=[identity.pk, history_row.history_id])

    client.force_login(staff(editor))  # an editor, not a handler
    for path in (*pages.values(), version):
        response = client.get(path, follow=True)
        assert "Ivan Realname" not in response.content.decode(), path
    assert not IdentityReveal.objects.exists()

    client.force_login(staff(handler))
    for channel, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        if channel != RevealChannel.ADMIN_HISTORY:  # the history lists changes only
            assert "Ivan Realname" in response.content.decode(), path
        assert IdentityReveal.objects.filter(user=handler, channel=channel).count() == 1
    response = client.get(version)
    assert "Ivan Realname" in response.content.decode()
    assert IdentityReveal.objects.filter(channel=RevealChannel.ADMIN_HISTORY).count() == 2
    # Searching the identity list by codename works; by a real name finds nothing.
    listing = reverse("admin:cases_sourceidentity_changelist")
    assert client.get(listing, {"q": "Insider-3"}).context["cl"].result_count == 1
    assert client.get(listing, {"q": "Realname"}).context["cl"].result_count == 0
