"""Every page of the demo case passes axe-core (WCAG 2 A and AA rules) with no serious or
critical violation, in English and in Russian (issue 15).

The pages are not listed by hand: like tests/test_access.py, the walk reads the URLconf (every
pattern of the `cases` app, with the demo case's slug and records, and every account page that
takes no argument), so a page added to cases/urls.py is checked the day it lands. What answers
a GET with something other than an HTML page (a download, JSON, a POST-only 405, a form the
user's role does not reach) is left out and named in the walk's record. The sign-in page and
the two-factor step are checked on the way in, signed out. Two people walk: the editor (every
form, with two-factor on) and the reporter (a source handler: protected identities shown,
two-factor off, so every page carries the demo banner).

No axe rule is disabled. A failure lists, for each element, the page, the rule id, its
impact, the element's CSS selector and what axe says is wrong.
"""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from cases import deletion
from cases.models import Case, Membership, Task

from ..factories import EvidenceFactory, TaskFactory
from ..mfa import enrol_totp, totp_code
from ..test_access import _case_patterns, _kwargs_for
from .axe import axe_violations, describe, failing

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_case(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    case = Case.objects.get()
    # Records the demo does not seed, so every pattern has a page to show.
    EvidenceFactory(case=case)
    if not Task.objects.filter(case=case).exists():
        TaskFactory(case=case)
    # A deleted task, so that "Recently deleted" shows its table and not only its empty state.
    editor = Membership.objects.get(case=case, user__username="editor").user
    deletion.delete_record(TaskFactory(case=case, title="An errand deleted for the walk"),
                           editor)
    return case


def _account_paths():
    """(name, path) of every account page (allauth's, two-factor, preferences) that takes no
    argument: the `accounts/` part of the URLconf."""
    (accounts,) = [p for p in get_resolver().url_patterns
                   if isinstance(p, URLResolver) and str(p.pattern) == "accounts/"]

    def names(resolver):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from names(pattern)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield pattern.name

    found = []
    for name in names(accounts):
        try:
            found.append((name, reverse(name)))
        except NoReverseMatch:  # needs an argument (a security key's number): not walked
            continue
    return found


def pages_to_walk(case):
    """(name, path) of every GET address to check, from the URLconf."""
    paths = []
    for pattern in _case_patterns():
        kwargs = _kwargs_for(pattern, case) if "<slug:slug>" in str(pattern.pattern) else {}
        paths.append((pattern.name, reverse(f"cases:{pattern.name}", kwargs=kwargs)))
    # A search with results.
    paths.append(("search (with results)", reverse("cases:search") + "?q=training"))
    # The account pages last: signing out on GET only asks to confirm.
    return paths + _account_paths()


def _check(page, where, found):
    found.extend(describe(where, failing(axe_violations(page))))


def sign_in_checking_each_step(page, username, secret, found, language):
    page.goto("/accounts/login/")
    _check(page, f"[{language}] sign-in page", found)
    page.fill("#id_login", username)
    page.fill("#id_password", settings.DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    if secret:
        assert "/accounts/2fa/authenticate/" in page.url, page.url
        _check(page, f"[{language}] two-factor step of sign-in", found)
        page.fill("#id_code", totp_code(secret))
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/2fa/" not in url)


def walk(page, case, username, language, found):
    """Open every page as `username`; check those that are HTML pages. Returns the names
    checked and, for the others, why they were left out."""
    checked, left_out = [], {}
    fetched = []
    page.on("request", lambda request: fetched.append(request.url)
            if request.resource_type in ("fetch", "xhr") else None)
    for name, path in pages_to_walk(case):
        # Asked first with the page's cookies but outside the tab: a download, a 405 without
        # a body or JSON is no page to open.
        response = page.request.get(path)
        content_type = response.headers.get("content-type", "")
        if response.status != 200 or not content_type.startswith("text/html"):
            left_out[name] = f"{response.status} {content_type.split(';')[0]}"
            continue
        fetched.clear()
        page.goto(path)
        if fetched:
            # What the page's script draws from its JSON endpoint (the visual timeline, the
            # map, the charts) is checked too, once the network is quiet.
            page.wait_for_load_state("networkidle")
        _check(page, f"[{language}] {username} on {name} ({path})", found)
        checked.append(name)
    return checked, left_out


def test_every_page_of_the_demo_case_has_no_serious_or_critical_axe_violation(
        new_context, settings, demo_case, interface_language, t):
    language = interface_language
    editor = Membership.objects.get(case=demo_case, user__username="editor").user
    secrets = {"editor": enrol_totp(editor), "reporter": None}
    found, walked = [], {}
    for username in ("editor", "reporter"):
        # The reporter's walk runs with two-factor off: the demo's setting, with its banner.
        settings.CASEDESK_REQUIRE_2FA = username == "editor"
        page = new_context().new_page()
        page.set_default_timeout(10_000)
        sign_in_checking_each_step(page, username, secrets[username], found, language)
        assert page.locator("html").get_attribute("lang") == t.html_lang
        walked[username] = walk(page, demo_case, username, language, found)
        page.context.close()

    assert not found, f"{len(found)} serious or critical axe violations:\n" + "\n".join(found)
    editor_checked, editor_left_out = walked["editor"]
    reporter_checked, _ = walked["reporter"]
    # The walk reached the pages that matter, so a broken walk cannot pass unnoticed.
    assert {"dashboard", "case_list", "case_create", "review_queue", "search",
            "search (with results)", "case_overview", "timeline", "claims_board",
            "claim_detail", "claim_edit", "source_list", "source_edit", "evidence_list",
            "evidence_detail", "task_list", "activity", "member_list", "export_case",
            "import_upload", "recently_deleted", "incident_delete", "incident_history",
            "mfa_index", "account_change_password"} <= set(editor_checked), editor_left_out
    assert {"identity_reveals"} <= set(editor_checked)  # the reveal log: editors only
    assert {"source_list", "claim_detail", "mfa_activate_totp"} <= set(reporter_checked)
    # Downloads and POST-only addresses are what was left out, never a page that broke.
    assert not [name for name, why in editor_left_out.items() if why.startswith("5")]


# --- The checker itself ----------------------------------------------------------------------

def test_axe_reports_serious_violations_with_rule_and_target_and_leaves_out_minor_ones(
        chromium):
    """A page with a contrast failure, an image without a text alternative and an unlabelled
    field: each is found and described, and a moderate finding does not fail a page."""
    page = chromium.new_page()
    try:
        page.set_content("""<!doctype html><html lang="en"><head><title>Probe</title>
            <style>.faint { color: #999; background: #fff; }</style></head><body>
            <main><h1>Probe</h1><p class="faint" id="faint">Hard to read</p>
            <img id="photo" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
            <input id="unlabelled" type="text"><h4>Skipped levels</h4></main></body></html>""")
        violations = axe_violations(page)
        found = {rule["id"]: rule for rule in failing(violations)}
        assert {"color-contrast", "image-alt", "label"} <= set(found)
        assert [node["target"] for node in found["color-contrast"]["nodes"]] == ["#faint"]
        assert [node["target"] for node in found["image-alt"]["nodes"]] == ["#photo"]
        assert all(rule["impact"] in ("serious", "critical") for rule in found.values())
        lines = describe("probe page", failing(violations))
        assert any(line.startswith("probe page: color-contrast (serious) at #faint: ")
                   for line in lines), lines
        # Loaded once per page: a second run reuses window.axe.
        assert {rule["id"] for rule in axe_violations(page)} == {r["id"] for r in violations}
    finally:
        page.close()


def test_only_serious_and_critical_findings_fail_a_page():
    node = {"target": "#x", "summary": "", "html": "<p id=x>"}
    violations = [
        {"id": "moderate-rule", "impact": "moderate", "help": "", "nodes": [
            {**node, "impact": "moderate"}]},
        {"id": "mixed-rule", "impact": "critical", "help": "", "nodes": [
            {**node, "impact": "minor"}, {**node, "target": "#y", "impact": "critical"}]},
    ]
    assert [(rule["id"], [n["target"] for n in rule["nodes"]])
            for rule in failing(violations)] == [("mixed-rule", ["#y"])]
