"""Citations imported with a case (the JSON case import, cases/imports/case_json.py) have
their pages captured as saved ones do (capture.tasks.citations_saved): once the import
commits, each citation with a public address has its capture queued; a protected source's
address is not captured (its handler asks for it). An import of many citations hands them to
one task (capture_saved_citations) that queues their captures in a worker, so that the
import does not wait on them."""

import json

import pytest
from django_tasks_db.models import DBTaskResult

from capture.models import Capture
from capture.tasks import QUEUE_AT_SAVE, capture_saved_citations
from cases import imports
from cases.access import get_case_for_user
from cases.exports import FORMAT_NAME, FORMAT_VERSION
from cases.models import Citation

from .factories import CaseFactory, MembershipFactory

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("stored_capture_settings")


@pytest.fixture
def empty_case(editor):
    empty = CaseFactory(title="Copy of the Rostov case")
    MembershipFactory(case=empty, user=editor, role="editor")
    return empty


def _document(public_citations: int) -> bytes:
    citations = [{"claim": "claim-1", "source": "source-1", "relation": "reports",
                  "quote": f"They left ({n}).", "url": f"https://161.ru/text/{n}.html"}
                 for n in range(public_citations)]
    citations.append({"claim": "claim-1", "source": "source-2", "relation": "reports",
                      "quote": "I saw them go.", "url": "https://t.me/insider_channel/4411"})
    return json.dumps({
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "case": {"title": "Story"},
        "incidents": [],
        "sources": [{"ref": "source-1", "name": "161.ru", "kind": "outlet"},
                    {"ref": "source-2", "name": "Insider", "kind": "person",
                     "protected": True}],
        "claims": [{"ref": "claim-1", "statement": "Three left.", "status": "unverified",
                    "verification": []}],
        "citations": citations, "tasks": [], "comment_requests": [],
    }).encode()


def _import(case, user, data):
    report = imports.CaseJSONImporter(get_case_for_user(user, case.slug), user).run(data)
    assert report.ok, report.error_rows
    return report


def test_imported_citations_queue_their_captures_once_the_import_commits(
        empty_case, editor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _import(empty_case, editor, _document(2))
        assert not Capture.objects.exists()  # nothing before the import commits
    for callback in callbacks:
        callback()

    public = Citation.objects.of_case(empty_case).exclude(url="")
    captures = Capture.objects.order_by("citation_id")
    assert [(c.citation_id, c.url, c.trigger, c.requested_by) for c in captures] == [
        (citation.pk, citation.url, Capture.Trigger.CITATION_SAVED, editor)
        for citation in public.order_by("pk")]
    assert DBTaskResult.objects.filter(task_path="capture.tasks.capture_citation").count() == 2
    # The protected source's address was sealed by the import and is not captured.
    protected = Citation.objects.of_case(empty_case).get(url="")
    assert protected.protected_url and not protected.captures.exists()


def test_large_import_hands_its_captures_to_one_task(empty_case, editor,
                                                     django_capture_on_commit_callbacks):
    count = QUEUE_AT_SAVE + 1
    with django_capture_on_commit_callbacks(execute=True):
        _import(empty_case, editor, _document(count))

    assert not Capture.objects.exists()
    [row] = DBTaskResult.objects.all()
    assert row.task_path == "capture.tasks.capture_saved_citations"
    ids = sorted(Citation.objects.of_case(empty_case).values_list("pk", flat=True))
    assert row.args_kwargs["args"][0] == editor.pk
    assert sorted(row.args_kwargs["args"][1:]) == ids  # ids only, the sealed one included

    assert capture_saved_citations.call(*row.args_kwargs["args"]) == {
        "captures_queued": count}
    assert Capture.objects.filter(trigger=Capture.Trigger.CITATION_SAVED).count() == count
    # Run again (a retry): nothing is queued twice.
    assert capture_saved_citations.call(*row.args_kwargs["args"]) == {"captures_queued": 0}
    assert Capture.objects.count() == count
