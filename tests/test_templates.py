"""What templates send to readers: no template comment ever reaches a page.

Django strips a `{# … #}` comment only when it fits on one line; spread over several lines it
is printed as text, to every member who opens the page. Longer comments use
`{% comment %}`. One test reads every template, one renders every page of the demo case."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from cases import demo
from cases.enums import VerificationStatus
from cases.models import Claim

from .factories import PASSWORD, EvidenceFactory
from .test_access import NOT_CASE_SCOPED, _case_patterns, _kwargs_for
from .test_http_security import admin_pages

COMMENT_MARKS = ("{#", "#}")


def _template_files():
    folders = [Path(folder) for engine in settings.TEMPLATES for folder in engine["DIRS"]]
    folders += [Path(settings.BASE_DIR) / app / "templates" for app in ("cases", "api", "config")]
    return sorted(path for folder in folders if folder.is_dir()
                  for path in folder.rglob("*") if path.suffix in (".html", ".txt", ".xml"))


def unclosed_comments(text: str) -> list[int]:
    """Line numbers where a `{#` opens a comment that the same line does not close."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        # Django's lexer matches `{#.*?#}` within a line: what is left is printed.
        if "{#" in re.sub(r"\{#.*?#\}", "", line):
            found.append(number)
    return found


def test_unclosed_comments_finds_a_comment_spread_over_lines():
    assert unclosed_comments("{# one line #}\n<p>{# also #} text</p>") == []
    assert unclosed_comments("<p>\n{# spread over\n   two lines #}\n</p>") == [2]
    assert unclosed_comments("{# closed #} and {# not closed") == [1]


def test_no_template_has_a_comment_spread_over_lines():
    files = _template_files()
    assert any(path.name == "timeline_entries.html" for path in files)
    offenders = {str(path.relative_to(settings.BASE_DIR)): lines for path in files
                 if (lines := unclosed_comments(path.read_text(encoding="utf-8")))}
    assert offenders == {}, "use {% comment %} for comments longer than one line"


@pytest.fixture
def demo_world(db):
    world = demo.seed(PASSWORD)
    EvidenceFactory(case=world.case)  # the demo seeds no evidence: its list and download too
    return world


def _pages(case):
    pages = {name: reverse(f"cases:{name}") for name in NOT_CASE_SCOPED - {"healthz"}}
    pages["search"] += "?q=desert"
    for pattern in _case_patterns():
        if pattern.name not in NOT_CASE_SCOPED:
            pages[pattern.name] = reverse(f"cases:{pattern.name}",
                                          kwargs=_kwargs_for(pattern, case))
    # Every claim page, and the board's one-status lists, page by page.
    for claim in Claim.objects.of_case(case):
        pages[f"claim {claim.pk}"] = reverse("cases:claim_detail", args=[case.slug, claim.pk])
    board = reverse("cases:claims_board", args=[case.slug])
    for status in VerificationStatus:
        pages[f"board {status}"] = f"{board}?status={status.value}"
        pages[f"board {status}, page 2"] = f"{board}?status={status.value}&page=2"
    pages["timeline, page 2"] = reverse("cases:timeline", args=[case.slug]) + "?page=2"
    return pages


@pytest.mark.parametrize("username", ["editor", "reporter", "viewer", "outsider"])
def test_no_page_of_the_demo_case_shows_a_template_comment(client, demo_world, username):
    client.force_login(demo_world.users[username])
    rendered = 0
    for page, url in _pages(demo_world.case).items():
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        for mark in COMMENT_MARKS:
            assert mark not in html, f"{page} ({url}) as {username} shows {mark!r}"
        rendered += 1
    assert rendered >= (30 if username != "outsider" else 3)


def test_no_admin_page_of_the_demo_case_shows_a_template_comment(client, demo_world):
    client.force_login(get_user_model().objects.get(username="admin"))
    rendered = 0
    for page, url in admin_pages(demo_world).items():
        response = client.get(url)
        if response.status_code == 200:
            for mark in COMMENT_MARKS:
                assert mark not in response.content.decode(), f"{page} ({url}) shows {mark!r}"
            rendered += 1
    assert rendered > 40
