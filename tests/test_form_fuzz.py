"""The CI subset of `make fuzz` for the web pages: every form and every page's query
parameters, found as a user finds them (fuzz/discovery.py), sent hostile values
(fuzz/values.py) in-process through the test client: the examples every run sends first
(fuzz/targets.py: every field a NUL byte, then a word with a lone surrogate, then each date
field at year 10000 in UTC; `page` as NUL and -1; a record's id in an admin path as a word)
and one generated example each, derandomized, so that the suite stays fast and a failure here
fails every time.

Who opens what: the handler (an editor and staff member who is a source handler: every
workspace form, and the back office's source and identity pages, identity fields included),
the superuser (every page of the back office) and a signed-out visitor (the sign-in form). A
failure names the role, the form or page and hypothesis' smallest example. `make fuzz` runs
the same fuzzer against gunicorn with every role and far more examples."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from fuzz import fixtures, pages, web
from fuzz.browser import Browser
from fuzz.discovery import coverage, label_forms
from fuzz.ledger import Ledger
from fuzz.transport import DjangoTransport, encode_form
from fuzz.values import Upload

from .clients import TwoFactorClient

FORM_EXAMPLES = 1
PAGE_EXAMPLES = 1
CRAWL = {"visits_per_view": 1, "max_visits": 250}


IDENTITIES = {"source", "sourceidentity"}
# role → what it opens (fuzz.web.discover's options)
ROLES = {
    "handler": {"site": True, "admin": lambda model: model._meta.model_name in IDENTITIES},
    "admin": {"site": False, "admin": lambda model: True},
    "anonymous": {"anonymous": True},
}
# The demo has one case, and a case link needs two (tests/test_links.py covers these pages).
ONE_CASE_DEMO = "a case link needs two cases"
# Nothing is deleted in the demo, so nothing can be restored (tests/test_web_deletion.py).
NOTHING_DELETED = "the demo has no deleted record to restore"
# URL patterns no page links to or that are not pages, with the reason.
UNREACHED = {
    **{f"cases:deleted_{kind}_restore": NOTHING_DELETED
       for kind in ("incident", "claim", "source", "task", "commentrequest", "evidence")},
    "admin:cases_caselink_change": ONE_CASE_DEMO,
    "admin:cases_caselink_delete": ONE_CASE_DEMO,
    "admin:cases_caselink_history": ONE_CASE_DEMO,
    "admin:cases_caselink_simple_history": ONE_CASE_DEMO,
    "admin:login": "the admin signs in through the site's sign-in form (config/urls.py)",
    "admin:jsi18n": "the admin's JavaScript catalogue, not a page",
    "admin:view_on_site": "a redirect to the workspace, which is fuzzed itself",
    "admin:password_change_done": "the confirmation after a password change",
    "admin:cases_custodyentry_delete": "custody entries are append-only: no delete page",
    "mfa_edit_webauthn": "needs a security key, which a test client cannot have",
    "mfa_remove_webauthn": "needs a security key, which a test client cannot have",
}


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo case and the fuzzer's records, and what each role finds: made once for the
    module inside a transaction that is rolled back at its end."""
    from django.conf import settings
    from django.db import transaction

    storages = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path_factory.mktemp("evidence"), "base_url": None}}}
    with django_db_blocker.unblock(), transaction.atomic(), override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            STORAGES=storages):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        world = fixtures.prepare(long_lists=False)
        found, browsers = [], {}
        for role, options in ROLES.items():
            client = TwoFactorClient()
            user = None
            if role != "anonymous":
                user = get_user_model().objects.get(username=fixtures.ROLES[role])
                client.force_login(user)
            browsers[role] = Browser(
                role, DjangoTransport(client),
                sign_in=(lambda _b, c=client, u=user: c.force_login(u)) if user else None)
            found.append(web.discover(browsers[role], world, **options, **CRAWL))
        label_forms(found)
        yield world, found, browsers
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_fuzz_reaches_every_url_pattern(site):
    _world, found, _browsers = site
    reached = coverage(found)
    missed = {name: how for name, how in reached.items()
              if how == "not reached" and name not in UNREACHED}
    assert sorted(missed) == []
    forms = {target.view for d in found for target in d.forms.values()}
    for view in ("cases:incident_edit", "cases:source_edit", "cases:evidence_create",
                 "cases:import_upload", "cases:claim_transition", "admin:cases_claim_change",
                 "admin:cases_source_add", "admin:auth_user_change", "account_login"):
        assert view in forms


@pytest.mark.django_db
def test_crawl_meets_no_server_error(site):
    _world, found, _browsers = site
    assert [(d.role, path, body[-1500:]) for d in found for path, _s, body in d.errors] == []


def _fuzz(site, kind: str, examples: int) -> list[str]:
    world, found, browsers = site
    done: set[str] = set()
    errors: list[str] = []
    for discovered in found:  # each form and page once, as the first role that found it
        labels = {t.label for t in [*discovered.pages.values(), *discovered.forms.values()]}
        web.fuzz_discovered(
            discovered, browsers[discovered.role], web.Budget(examples, None, True), Ledger(),
            between=lambda: fixtures.restore(world), errors=errors,
            only=lambda label, done=done: label.startswith(kind) and label not in done)
        done |= labels
    return errors


@pytest.mark.django_db
def test_every_form_refuses_hostile_input_without_a_server_error(site):
    assert _fuzz(site, "POST", FORM_EXAMPLES) == []


@pytest.mark.django_db
def test_every_page_survives_hostile_query_parameters(site):
    assert _fuzz(site, "GET", PAGE_EXAMPLES) == []



def test_form_body_carries_lone_surrogates_and_nul_as_their_bytes():
    body, content_type = encode_form([("title", "a\ud800\x00")], "")
    assert (body, content_type) == (b"title=a%ED%A0%80%00", "application/x-www-form-urlencoded")
    body, content_type = encode_form(
        [("note", "\udfff"), ("file", Upload('a"\x00.csv', b"x\n", "text/csv"))],
        "multipart/form-data")
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b'name="note"\r\n\r\n\xed\xbf\xbf\r\n' in body
    assert b'name="file"; filename="a%22\x00.csv"\r\nContent-Type: text/csv\r\n\r\nx\n' in body


def test_page_parser_reads_what_a_browser_would_submit():
    page = pages.parse(
        '<form method="post" action="/x/"><input type="hidden" name="csrfmiddlewaretoken" '
        'value="t"><select name="kind"><option value="">-</option><option value="a" selected>'
        'A</option></select><textarea name="note">\nline</textarea><input type="checkbox" '
        'name="flag"><input type="radio" name="r" value="1"><input type="radio" name="r" '
        'value="2" checked><button type="submit" name="_save" value="1">Save</button></form>'
        '<a href="/y/?page=2">next</a><a href="https://elsewhere.example/">out</a>', "/x/")
    form = page.forms[0]
    assert form.served_data() == [("csrfmiddlewaretoken", "t"), ("kind", "a"),
                                  ("note", "line"), ("r", "2")]
    assert form.buttons == [("_save", "1")]
    assert page.links == ["/y/?page=2"]


@pytest.mark.django_db
def test_restore_puts_back_what_a_fuzzed_form_changed(site):
    from allauth.mfa.models import Authenticator

    from cases.enums import Role
    from cases.models import Membership

    # The module's prepared demo: preparing a second one in the same database (the module's
    # transaction is still open) would meet its users and authenticators.
    world = site[0]
    editor = get_user_model().objects.get(username="editor")
    editor.is_active = False
    editor.save()
    Membership.objects.filter(case_id=world.case_pk, user=editor).update(role=Role.VIEWER)
    Authenticator.objects.filter(user=editor).delete()

    repaired = fixtures.restore(world)

    editor.refresh_from_db()
    assert editor.is_active
    assert Membership.objects.get(case_id=world.case_pk, user=editor).role == Role.EDITOR
    assert Authenticator.objects.filter(user=editor, type=Authenticator.Type.TOTP).exists()
    assert {"editor's account (is_active)", "editor's authenticator",
            f"editor's role in case {world.case_pk}"} <= set(repaired)
    assert fixtures.restore(world) == []
