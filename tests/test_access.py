"""Every URL of a case is scoped to its members: walk every URL pattern of the app with the
demo case's ids and require 404 for a non-member, GET and POST alike."""

import ast
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

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

from .factories import EvidenceFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent

# Pages that are not about one case: they list only what the user's memberships allow
# (tested in the view tests), or need no case at all.
NOT_CASE_SCOPED = {"healthz", "dashboard", "case_list", "case_create", "review_queue",
                   "search"}

# The path segment before <int:pk> → a record of that kind in the case.
PK_RECORDS = {
    "claims": lambda case: Claim.objects.of_case(case),
    "incidents": lambda case: Incident.objects.of_case(case),
    "sources": lambda case: Source.objects.of_case(case),
    "evidence": lambda case: Evidence.objects.of_case(case),
    "tasks": lambda case: Task.objects.of_case(case),
    "comment-requests": lambda case: CommentRequest.objects.of_case(case),
    "citations": lambda case: Citation.objects.of_case(case),
    "members": lambda case: Membership.objects.filter(case=case),
}


def _case_patterns():
    resolver = get_resolver()
    (namespace_resolver,) = [p for p in resolver.url_patterns
                             if isinstance(p, URLResolver) and p.namespace == "cases"]
    return [p for p in namespace_resolver.url_patterns if isinstance(p, URLPattern)]


def _kwargs_for(pattern, case):
    route = str(pattern.pattern)
    kwargs = {}
    if "<slug:slug>" in route:
        kwargs["slug"] = case.slug
    for segment in re.findall(r"([\w-]+)/<int:pk>", route):
        records = PK_RECORDS.get(segment)
        assert records is not None, (
            f"URL pattern {route!r} is not covered by the access walk: add its segment "
            f"{segment!r} to PK_RECORDS")
        obj = records(case).first()
        assert obj is not None, f"the demo case has no record for {route!r}"
        kwargs["pk"] = obj.pk
    return kwargs


@pytest.fixture
def demo_case(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    case = Case.objects.get()
    # Records the demo does not seed, so every pattern has an id to try.
    EvidenceFactory(case=case)
    if not Task.objects.filter(case=case).exists():
        TaskFactory(case=case)
    return case


def test_every_case_url_is_404_for_a_non_member(client, demo_case):
    client.force_login(UserFactory(username="walker-outsider"))
    checked = []
    for pattern in _case_patterns():
        if pattern.name in NOT_CASE_SCOPED:
            continue
        assert "<slug:slug>" in str(pattern.pattern), (
            f"URL pattern {pattern.name!r} takes no case: list it in NOT_CASE_SCOPED if it "
            "really is not about one case")
        path = reverse(f"cases:{pattern.name}", kwargs=_kwargs_for(pattern, demo_case))
        for method in (client.get, client.post):
            response = method(path)
            assert response.status_code == 404, f"{method.__name__.upper()} {path}"
        checked.append(pattern.name)
    assert {"case_overview", "timeline", "claims_board", "claim_detail",
            "claim_transition"} <= set(checked)


def test_every_case_url_is_404_for_a_non_member_whatever_the_method(client, demo_case):
    """Access is checked before the method: a 405 would confirm that the case exists."""
    client.force_login(UserFactory(username="walker-outsider"))
    for pattern in _case_patterns():
        if pattern.name in NOT_CASE_SCOPED:
            continue
        path = reverse(f"cases:{pattern.name}", kwargs=_kwargs_for(pattern, demo_case))
        for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
            assert client.generic(method, path).status_code == 404, f"{method} {path}"


def test_every_case_url_answers_a_member(client, demo_case):
    """The same walk as a viewer: no 404 and no 500, so the walk above proves scoping and not
    merely broken URLs. Every page gets the shared case context from case_view."""
    viewer = Membership.objects.get(case=demo_case, role="viewer").user
    client.force_login(viewer)
    for pattern in _case_patterns():
        if pattern.name in NOT_CASE_SCOPED:
            continue
        path = reverse(f"cases:{pattern.name}", kwargs=_kwargs_for(pattern, demo_case))
        response = client.get(path)
        # Reporter- and editor-only forms answer viewers with 404 too; the read pages and the
        # POST-only endpoints (405) must not.
        if response.status_code == 404:
            assert any(word in pattern.name for word in ("edit", "create", "new", "member",
                                                         "delete", "identity", "add",
                                                         "import")), path
            continue
        if pattern.name in REDIRECTS:
            assert response.status_code == 302, (path, response.status_code)
            assert response["Location"].startswith(f"/cases/{demo_case.slug}/"), path
            continue
        assert response.status_code in (200, 405), (path, response.status_code)
        if response.status_code == 200 and response.context is not None:
            context = response.context
            assert (context["nav"], context["case"], context["access"].case) == (
                "cases", demo_case, demo_case), path
            assert context["access"].membership.user == viewer, path
            assert context["tab"] in CASE_TABS, (path, context["tab"])


# The case page's tabs (templates/cases/includes/case_header.html).
CASE_TABS = {"overview", "timeline", "map", "figures", "claims", "sources", "evidence",
             "tasks", "activity", "transfer"}
# The URLs that lead a member elsewhere in the same case: an incident's address leads to its
# place on the list timeline (cases/views/visual_timeline.py).
REDIRECTS = {"timeline_incident"}
# The URLs that only take POST: a member who GETs them is told so (405), not sent a page.
POST_ONLY = {"claim_transition", "claim_propose", "member_remove", "import_confirm",
             "case_link_add", "case_link_delete", "incident_link_add", "incident_link_delete",
             "deleted_incident_restore", "deleted_claim_restore", "deleted_source_restore",
             "deleted_task_restore", "deleted_commentrequest_restore",
             "deleted_evidence_restore"}
# The URLs that also take POST (forms); every other case URL is read with GET (and HEAD).
FORMS = {"incident_delete", "claim_delete", "source_delete", "task_delete",
         "commentrequest_delete", "evidence_delete", "case_edit", "member_list", "member_edit",
         "incident_create", "incident_edit",
         "source_create", "source_edit", "claim_create", "claim_edit", "evidence_create",
         "task_create", "task_edit", "commentrequest_create", "commentrequest_edit",
         "import_upload", "citation_captures"}


def test_every_case_url_answers_a_member_405_to_a_method_it_does_not_take(client, demo_case):
    """The method is checked after access, for members only, with the methods allowed."""
    editor = Membership.objects.filter(case=demo_case, role="editor").first().user
    client.force_login(editor)
    walked = set()
    for pattern in _case_patterns():
        if pattern.name in NOT_CASE_SCOPED:
            continue
        walked.add(pattern.name)
        path = reverse(f"cases:{pattern.name}", kwargs=_kwargs_for(pattern, demo_case))
        if pattern.name in POST_ONLY:
            refused, allowed = ("GET", "PUT", "DELETE"), {"POST"}
        elif pattern.name in FORMS:
            refused, allowed = ("PUT", "PATCH", "DELETE"), {"GET", "HEAD", "POST"}
        else:
            refused, allowed = ("POST", "PUT", "DELETE"), {"GET", "HEAD"}
        for method in refused:
            response = client.generic(method, path)
            assert response.status_code == 405, f"{method} {path}"
            assert set(response["Allow"].split(", ")) - {"OPTIONS"} == allowed, path
    assert POST_ONLY | FORMS <= walked


def test_walk_covers_the_non_case_pages_explicitly():
    names = {p.name for p in _case_patterns()}
    assert NOT_CASE_SCOPED <= names
    assert reverse("cases:healthz") == "/healthz"


# --- One place for the rules ----------------------------------------------------------------

def _imported_modules(path) -> set[str]:
    """The absolute names of the modules a file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_api_does_not_depend_on_the_back_office():
    """The API reads its access rules from cases.access, as the back office does."""
    for path in sorted((ROOT / "api").rglob("*.py")):
        admin_imports = {name for name in _imported_modules(path)
                         if name == "cases.admin" or name.startswith("cases.admin.")}
        assert not admin_imports, (path, admin_imports)


def test_membership_rules_are_defined_once():
    """memberships_of, has_case_role, handles_sources, role_in… live in cases.access only."""
    rules = ("memberships_of", "forget_memberships", "has_case_role", "handles_sources",
             "handled_case_ids", "role_in", "get_case_for_user", "member_case_ids")
    defined = {}
    for path in sorted([*(ROOT / "cases").rglob("*.py"), *(ROOT / "api").rglob("*.py")]):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in rules:
                defined.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    assert defined == {name: ["cases/access.py"] for name in rules}
