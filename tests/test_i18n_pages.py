"""Every page of the demo case, read in Russian by each role, shows no English interface text.

The demo case is seeded as tests/test_seed_demo.py does. Its pages are listed from the URL
conf (cases.urls, the account and two-factor pages, the back office's index, changelists and
change forms), so a page added later is read too, or the test says it is not covered. Each
page is asked in Russian twice: by the browser (Accept-Language: ru) and by the account's
stored preference (the session's language at sign-in, preferences.signals).

What a reader sees is extracted (text, and the title, placeholder, aria-label, alt and
data-confirm attributes, the labels of buttons); whatever comes from data is removed: every
text value held in the database (the demo's titles, statements, names, usernames, history),
addresses, numbers and dates. Runs of Latin words left are interface text not translated;
the test fails listing them per page. Text marked with another language (`lang="en-gb"`: the
switcher names English in English) is skipped. ALLOWED_WORDS is kept short, each with why.
"""

import re
from collections import defaultdict
from functools import lru_cache
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from cases import demo
from cases.models import (
    Case,
    Citation,
    Claim,
    CommentRequest,
    Evidence,
    Incident,
    Membership,
    Source,
    Task,
)
from preferences.language import store_language

pytestmark = pytest.mark.django_db

User = get_user_model()

# Words that stay as they are in a Russian interface, and why.
ALLOWED_WORDS = {
    "Casedesk",  # the product's name
    # file formats, named so in Russian
    "WACZ", "PDF", "PNG", "CSV", "XLSX", "JSON", "WARC", "JPEG", "WebP", "SVG", "MOV", "WebM",
    "MKV", "Ogg", "Opus", "WAV", "FLAC",
    "GPS",  # what a photo's metadata may hold, named so in Russian
    "SHA",  # SHA-256, the hash's name
    "API", "URL", "REST", "OpenAPI",  # technical names a Russian interface keeps
    "JavaScript",  # the language's name: what a page's map or chart needs to be drawn
    "TSA",  # RFC 3161 Time-Stamp Authority, named in captures as in its standard
    "RFC",
    "UTC",  # the time zone's name in times shown
    "TOTP", "WebAuthn",  # the standards' names (allauth's Russian catalogue keeps them)
    "ID",  # Django's own admin column for primary keys (its Russian catalogue keeps it)
    "Excel",  # the program's name
    "GeoJSON", "LD",  # GeoJSON, JSON-LD: formats of the exports
    "ClaimReview",  # schema.org's type name, which the export writes
    "ACLED",  # the dataset whose export format Casedesk offers
    "EDTF",  # Extended Date/Time Format, the standard's name
    "ISO",  # ISO 3166, the country codes' standard, named so in Russian
    "NUL",  # the character's name
    "ru", "en", "uk",  # language codes, as examples of what to type
    "Control", "Command", "Mac",  # key names Django's own Russian catalogue keeps
    "Ctrl",  # the key as keyboards label it, in the relays select's help
    "or",  # the search operator, typed as it is in any language (cases/search.py)
    "Rostov",  # the search page's example of a Latin spelling a Russian search also finds
    "email",  # as django-allauth's Russian catalogue writes it ("подтверждение email адреса")
}

# Back-office labels other apps write as plain strings, not marked for translation, so no
# catalogue can translate them (django-allauth's two-factor models, django-tasks-db's id).
UNMARKED_BY_THEIR_APPS = {"authenticator", "Authenticators", "authenticators", "type", "data",
                          "created at", "last used at", "id"}

# Roles of the demo case (cases/demo.py USERS). The reporter is the case's source handler.
ROLES = {
    "viewer": "viewer",
    "reporter and source handler": "reporter",
    "editor": "editor2",
    "staff editor": "editor",
    "admin": "admin",
}

# Case pages of cases.urls that are not pages to read (downloads, POST-only actions, the
# import confirmation, which needs an upload first), each with why.
NOT_PAGES = {
    "healthz",  # load balancers' plain-text "ok"
    "evidence_download",  # a file, served as an attachment
    "claim_transition", "claim_propose",  # POST only (their forms are on the claim page)
    "import_confirm",  # reached after an upload, with the upload's token
    "member_remove",  # POST only (the confirmation is on the members page)
    # POST only (their forms are on the links pages)
    "case_link_add", "case_link_delete", "incident_link_add", "incident_link_delete",
    # POST only (their forms are on the Recently deleted page)
    "deleted_incident_restore", "deleted_claim_restore", "deleted_source_restore",
    "deleted_task_restore", "deleted_commentrequest_restore", "deleted_evidence_restore",
    # The Map tab's GeoJSON: its words (places, dates) are read on the map page's table
    "incident_map_data",
    # The visual timeline's and the Figures charts' JSON: their words (dates, values, sources)
    # are read on their pages' lists and tables
    "timeline_data", "figure_data",
    "timeline_incident",  # a redirect to the incident's place on the list timeline
}

# Account and two-factor pages that need a pending sign-in, a token or an object of their own.
ACCOUNT_NOT_PAGES = {
    "account_logout",  # its GET asks to confirm; read in test_i18n_switch's flows
    "account_language",  # the switcher's POST
    "mfa_authenticate", "mfa_trust", "mfa_login_webauthn", "mfa_signup_webauthn",  # mid-sign-in
    "mfa_download_recovery_codes",  # a text file
}


def url_names(patterns, namespace=None, names=None, arguments=False):
    """(namespace, name, needs arguments) of every named URL pattern under `patterns`."""
    names = [] if names is None else names
    for pattern in patterns:
        needs = arguments or pattern.pattern.regex.groups > 0
        if isinstance(pattern, URLResolver):
            url_names(pattern.url_patterns, pattern.namespace or namespace, names, needs)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.append((namespace, pattern.name, needs))
    return names


def case_pages(case):
    """Every readable page of `case`, from cases.urls."""
    first = {
        "claim": Claim.objects.filter(case=case).order_by("pk").first(),
        "citation": Citation.objects.filter(claim__case=case).order_by("pk").first(),
        "evidence": Evidence.objects.filter(case=case).order_by("pk").first(),
        "incident": Incident.objects.filter(case=case).order_by("pk").first(),
        "source": Source.objects.filter(case=case).order_by("pk").first(),
        "task": Task.objects.filter(case=case).order_by("pk").first(),
        "comment_request": CommentRequest.objects.filter(case=case).order_by("pk").first(),
        "member": Membership.objects.filter(case=case).order_by("pk").first(),
    }
    slug = {"slug": case.slug}

    def on(record):
        """The page of `record`, or none when the demo has no such record."""
        return [{**slug, "pk": record.pk}] if record is not None else []

    builders = {
        "dashboard": lambda: [{}],
        "case_list": lambda: [{}],
        "case_create": lambda: [{}],
        "review_queue": lambda: [{}],
        "search": lambda: [{}],
        "case_overview": lambda: [slug],
        "timeline": lambda: [slug],
        "incident_map": lambda: [slug],
        "visual_timeline": lambda: [slug],
        "figure_list": lambda: [slug],
        "claims_board": lambda: [slug],
        "claim_detail": lambda: [page for claim in Claim.objects.filter(case=case).order_by("pk")
                                 for page in on(claim)],
        "citation_captures": lambda: on(first["citation"]),
        "incident_captures": lambda: on(first["incident"]),
        "case_links": lambda: [slug],
        "incident_delete": lambda: on(first["incident"]),
        "claim_delete": lambda: on(first["claim"]),
        "source_delete": lambda: on(first["source"]),
        "task_delete": lambda: on(first["task"]),
        "commentrequest_delete": lambda: on(first["comment_request"]),
        "evidence_delete": lambda: on(first["evidence"]),
        "recently_deleted": lambda: [slug],
        "incident_links": lambda: on(first["incident"]),
        "incident_history": lambda: on(first["incident"]),
        "claim_history": lambda: on(first["claim"]),
        "source_history": lambda: on(first["source"]),
        "task_history": lambda: on(first["task"]),
        "commentrequest_history": lambda: on(first["comment_request"]),
        "evidence_history": lambda: on(first["evidence"]),
        "source_list": lambda: [slug],
        "identity_reveals": lambda: [slug],
        "evidence_list": lambda: [slug],
        "evidence_detail": lambda: on(first["evidence"]),
        "task_list": lambda: [slug],
        "activity": lambda: [slug],
        "case_edit": lambda: [slug],
        "member_list": lambda: [slug],
        "member_edit": lambda: on(first["member"]),
        "incident_create": lambda: [slug],
        "incident_edit": lambda: on(first["incident"]),
        "source_create": lambda: [slug],
        "source_edit": lambda: on(first["source"]),
        "claim_create": lambda: [slug],
        "claim_edit": lambda: on(first["claim"]),
        "evidence_create": lambda: [slug],
        "task_create": lambda: [slug],
        "task_edit": lambda: on(first["task"]),
        "commentrequest_create": lambda: [slug],
        "commentrequest_edit": lambda: on(first["comment_request"]),
        "export_case": lambda: [slug],
        "import_upload": lambda: [slug],
    }
    queries = {"search": "?q=deserters", "claims_board": "", "timeline": ""}
    names = [name for namespace, name, _ in url_names(get_resolver().url_patterns)
             if namespace == "cases"]
    uncovered = sorted(set(names) - set(builders) - NOT_PAGES)
    assert not uncovered, f"cases.urls pages this test does not read yet: {uncovered}"
    pages = []
    for name in names:
        if name in NOT_PAGES:
            continue
        for kwargs in builders[name]():
            pages.append(reverse(f"cases:{name}", kwargs=kwargs) + queries.get(name, ""))
    return pages


def account_pages():
    return [reverse(name) for namespace, name, needs_arguments
            in url_names(get_resolver().url_patterns)
            if namespace is None and name.startswith(("account_", "mfa_"))
            and not needs_arguments and name not in ACCOUNT_NOT_PAGES]


def admin_pages():
    """The back office's index, every changelist and add form, and a change form of each
    model's first record."""
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
    return pages


# --- what a reader sees ---------------------------------------------------------------------

# Not read: code, and what is typed or shown by a machine (setting and column names).
SKIPPED_ELEMENTS = {"script", "style", "template", "code", "kbd", "samp"}
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                 "source", "track", "wbr"}
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm")


# Text inside these is read with the text around it, as a reader reads a line (a search
# result's highlighted words are not words of their own).
INLINE_ELEMENTS = {"a", "abbr", "b", "bdi", "bdo", "cite", "data", "em", "i", "mark", "q", "s",
                   "small", "span", "strong", "sub", "sup", "time", "u", "wbr"}


class VisibleText(HTMLParser):
    """The texts of a page a reader sees or hears, outside elements in another language."""

    def __init__(self, language):
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack = []  # (tag, skipped)
        self.texts = []
        self.line = []

    @property
    def skipping(self):
        return bool(self.stack) and self.stack[-1][1]

    def flush(self):
        if self.line:
            self.texts.append("".join(self.line))
            self.line = []

    def handle_starttag(self, tag, attrs):
        if tag not in INLINE_ELEMENTS:
            self.flush()
        attributes = dict(attrs)
        lang = attributes.get("lang")
        skipped = (self.skipping or tag in SKIPPED_ELEMENTS
                   or (lang is not None and not lang.lower().startswith(self.language)))
        # Django's admin writes its yes/no/unknown icons' alt as "True", "False", "None".
        boolean_icon = tag == "img" and "/admin/img/icon-" in (attributes.get("src") or "")
        if not skipped and not boolean_icon:
            self.texts.extend(attributes[name] for name in READ_ATTRIBUTES
                              if attributes.get(name))
            if tag == "input" and attributes.get("type") in {"submit", "button", "reset"}:
                self.texts.append(attributes.get("value") or "")
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, skipped))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in INLINE_ELEMENTS:
            self.flush()
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if not self.skipping:
            self.line.append(data)

    def close(self):
        super().close()
        self.flush()


def visible_texts(html, language="ru"):
    parser = VisibleText(language)
    parser.feed(html)
    parser.close()
    return [" ".join(text.split()) for text in parser.texts if text and text.strip()]


# --- what comes from data -------------------------------------------------------------------

TEXT_FIELDS = (models.CharField, models.TextField)


def data_values():
    """Every text value the database holds (choices excepted: their labels are interface
    text), and each record's own name."""
    values = set()
    for model in apps.get_models():
        if model._meta.label in {"sessions.Session"}:
            continue
        fields = [field.attname for field in model._meta.concrete_fields
                  if isinstance(field, TEXT_FIELDS) and not field.choices]
        json_fields = [field.attname for field in model._meta.concrete_fields
                       if isinstance(field, models.JSONField)]
        for record in model._default_manager.all():
            for name in fields:
                value = getattr(record, name)
                if isinstance(value, str):
                    values.add(value)
            for name in json_fields:
                values.update(json_strings(getattr(record, name)))
    values.update(user.get_full_name() for user in User.objects.all())
    return {" ".join(value.split()) for value in values if len(value.strip()) > 1}


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


NOT_WORDS = [
    re.compile(r"https?://\S+|www\.\S+"),  # addresses
    re.compile(r"\S+@\S+\.\S+"),  # e-mail addresses
    re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b"),  # host names (schema.org, replayweb.page)
    re.compile(r"\b\w+_\w+\b"),  # identifiers (a column's or a setting's name)
    re.compile(r"(?<!\w)\.[a-z]{2,5}\b"),  # file name extensions (.xlsx, .json)
    re.compile(r"(?<![\w-])/[\w./?=&%#:-]*"),  # paths
    re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?\b"),  # ISO dates
    re.compile(r"\b[0-9a-f]{8,}\b", re.IGNORECASE),  # hashes, ids
    re.compile(r"\b\w+\*+"),  # a masked secret (the password hash's salt: "XH*****")
    re.compile(r"\b[\w-]*\d[\w-]*\b"),  # numbers, and codes holding digits (grades like B2)
]
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z'’_-]*(?:[ \t\n,.:;()«»\"'&/–—-]+[A-Za-z][A-Za-z'’_-]*)*")
WORD = re.compile(r"[A-Za-z][A-Za-z'’_]*")


DATA, OTHER = "\x00", "\x01"  # what replaces a data value, and an address, number or date
SEPARATORS = " ,.:;()«»\"'–—-…"


class Leftovers:
    """The English interface text left in a page's texts once data is removed.

    Data values are cut out whole (as words: the username "admin" is not cut out of
    "administrator"). What remains is split into runs of Latin words; a run is data too when
    the database holds it and it is a fragment of a value: three words or more, shortened
    with "…", or next to a value that was cut out of the middle of a longer one.
    """

    def __init__(self, values):
        self.values = sorted(values, key=len, reverse=True)
        self.blob = "\n".join(self.values)
        self.english = lru_cache(maxsize=None)(self._english)

    def _english(self, text):
        for value in self.values:
            if value in text:  # cheap first; then only as whole words
                text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", DATA, text)
        for pattern in NOT_WORDS:
            text = pattern.sub(OTHER, text)
        found = []
        for match in LATIN_RUN.finditer(text):
            run = match.group().strip(SEPARATORS)
            if not run or self._is_data_fragment(run, text, match.start(), match.end()):
                continue
            words = [word for word in WORD.findall(run)
                     if len(word) > 1 and word not in ALLOWED_WORDS]
            if words:
                found.append(run)
        return tuple(found)

    def _is_data_fragment(self, run, text, start, end):
        if len(WORD.findall(run)) >= 3:
            # A piece of a longer value (search results highlight inside words, too).
            return run in self.blob
        if not re.search(rf"(?<![A-Za-z]){re.escape(run)}", self.blob):
            return False
        before = text[:start].rstrip(SEPARATORS.replace("…", ""))
        after = text[end:]
        return (after.lstrip(" ").startswith(("…", "..."))
                or before.endswith(DATA) or after.lstrip(SEPARATORS).startswith(DATA))


# --- the test -------------------------------------------------------------------------------


@pytest.fixture
def demo_case(db):
    call_command("seed_demo", stdout=StringIO())
    return Case.objects.get(slug=demo.CASE_SLUG)


def read_pages(client, pages, leftovers, language="ru", **headers):
    """{page: English runs} over every page that answers 200 with HTML."""
    found = defaultdict(list)
    read = 0
    for url in pages:
        response = client.get(url, **headers)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        read += 1
        html = response.content.decode()
        assert f'<html lang="{language}"' in html, f"{url}: the page is not marked {language}"
        for text in visible_texts(html, language):
            for run in leftovers.english(text):
                if url.startswith("/admin/") and run in UNMARKED_BY_THEIR_APPS:
                    continue
                if run not in found[url]:
                    found[url].append(run)
    return read, {url: runs for url, runs in found.items() if runs}


def report(found):
    return "English interface text on Russian pages:\n" + "\n".join(
        f"  {url}\n" + "\n".join(f"      {run!r}" for run in runs) for url, runs in found.items())


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_reads_in_russian_for_each_role(client, demo_case, role, settings):
    user = User.objects.get(username=ROLES[role])
    leftovers = Leftovers(data_values())
    pages = case_pages(demo_case) + account_pages()
    if user.is_staff:
        pages += admin_pages()

    # By the browser's language.
    client.force_login(user)
    read, found = read_pages(client, pages, leftovers, HTTP_ACCEPT_LANGUAGE="ru")
    assert read >= 10, f"only {read} pages answered: the demo case was not read"
    assert not found, report(found)

    # By the stored preference, whatever the browser asks for.
    client.logout()
    store_language(user, "ru")
    client.force_login(user)
    read_again, found = read_pages(client, pages, leftovers, HTTP_ACCEPT_LANGUAGE="en")
    assert read_again == read
    assert not found, report(found)


def test_the_sign_in_page_reads_in_russian(client, demo_case):
    leftovers = Leftovers(data_values())
    read, found = read_pages(client, [reverse("account_login")], leftovers,
                             HTTP_ACCEPT_LANGUAGE="ru")
    assert read == 1
    assert not found, report(found)


def test_the_leftover_finder_catches_english_and_ignores_data():
    leftovers = Leftovers({"Rostov training-ground desertion", "reporter"})
    assert leftovers.english("Дело Rostov training-ground desertion, 9 мая 2025") == ()
    assert leftovers.english("Автор: reporter · https://example.org/a 3f2a1b9c0d") == ()
    assert leftovers.english("Rostov training-gr…") == ()  # a shortened value
    assert leftovers.english("Show all утверждения") == ("Show all",)
    # A value cut out of a longer one leaves fragments of data, not interface text.
    leftovers = Leftovers({"Four of the deserters are still at large", "deserters", "admin"})
    assert leftovers.english("Four of the deserters are still at la…") == ()
    assert leftovers.english("led by admin") == ("led by",)
    assert leftovers.english("Administrator") == ("Administrator",)
    assert leftovers.english("Файлы WACZ и PDF, SHA-256") == ()
    texts = visible_texts('<html lang="ru"><title>Сводка</title><body><p title="Open">Да</p>'
                          '<button lang="en-gb">English</button><script>var x</script>'
                          '<input type="submit" value="Save"><img alt="Photo">'
                          '<p>Four <mark>deserters</mark> caught</p></body></html>')
    assert texts == ["Сводка", "Open", "Да", "Save", "Photo", "Four deserters caught"]
