"""An evidence file's state in the workspace as the API gives it (api/serializers.py):
/api/v1/evidence/ (list and detail) and a capture's files (/api/v1/captures/, and the
capture an evidence file belongs to) say `state` — "kept", "deleted" (deleted from the
workspace, restorable, the file still stored) or "purged" (manage.py purge_deleted_evidence
removed it from storage) — and `purged_at`; `download` is null for a purged file only (its
download answers 410 `evidence_purged`), as a deleted file is still given, as on its page.
The state is read with the rows (cases/deletion.py's `evidence_state`): the endpoints cost
the same queries at one capture and at several. Setup as tests/test_purged_evidence_views.py:
a capture's screenshot deleted two days ago, its PDF deleted 31 days ago and purged."""

import pytest

from cases.deletion import CUSTODY_DELETED, CUSTODY_PURGED, CUSTODY_RESTORED
from cases.enums import EvidenceState
from cases.models import CustodyEntry

from . import test_capture_pages
from . import test_purged_evidence_views as purged
from .capture_helpers import files_of
from .query_counts import measured_get
from .test_api import token_client
from .test_query_counts import API_LISTS

pytest_plugins = ["tests.capture_fixtures"]
pytestmark = pytest.mark.usefixtures("stored_capture_settings")

# The purged-evidence tests' fixtures: a case's claim, a citation of a public page, and the
# operator who purges; the capture pages' citation of a protected source.
claim, citation, operator = purged.claim, purged.citation, purged.operator
protected_citation = test_capture_pages.protected_citation

API = "/api/v1"
ROLES = ("archive", "screenshot", "pdf", "manifest")
#: Each role's state once `purged._remove_files` and `purged._purge` have run.
STATES = {"archive": "kept", "screenshot": "deleted", "pdf": "purged", "manifest": "kept"}


def _removed(citation, reporter, editor, tmp_path, count=1):
    """`count` captures of `citation`, each with its screenshot deleted and its PDF purged;
    the files of the first, by role."""
    captures = [purged._capture(citation, reporter, tmp_path, n) for n in range(count)]
    for capture in captures:
        purged._remove_files(capture, editor)
    purged._purge()
    return captures, files_of(captures[0])


def _download(evidence) -> str:
    return f"http://testserver{API}/evidence/{evidence.pk}/download/"


def _purged_at(evidence):
    entry = CustodyEntry.objects.filter(evidence=evidence, action=CUSTODY_PURGED).first()
    return entry.at.isoformat().replace("+00:00", "Z") if entry else None


def _expected_file(evidence, state) -> dict:
    return {"state": state, "purged_at": _purged_at(evidence),
            "download": None if state == "purged" else _download(evidence)}


def _file_states(files_json) -> dict:
    return {f["role"]: {key: f[key] for key in ("state", "purged_at", "download")}
            for f in files_json}


# --- /evidence/{id}/ and /evidence/ ------------------------------------------------------------

def test_evidence_detail_gives_each_files_state_and_no_download_once_purged(
        citation, reporter, editor, operator, tmp_path):
    _captures, files = _removed(citation, reporter, editor, tmp_path)
    api = token_client(reporter)
    expected = {role: _expected_file(files[role], STATES[role]) for role in ROLES}
    assert expected["pdf"]["purged_at"] is not None  # the purge's custody entry

    for role in ROLES:
        body = api.get(f"{API}/evidence/{files[role].pk}/").json()

        assert {key: body[key] for key in ("state", "purged_at", "download")} == expected[role]
        # The capture it belongs to gives its siblings' states alike.
        assert _file_states(body["capture"]["files"]) == expected
    # The download the detail still offers for a deleted file gives it; the purged one's
    # answers 410, as the detail says by giving none.
    assert api.get(_download(files["screenshot"]),
                   HTTP_ACCEPT="application/octet-stream").status_code == 200
    gone = api.get(_download(files["pdf"]))
    assert (gone.status_code, gone.json()["code"]) == (410, "evidence_purged")


def test_evidence_list_gives_the_files_in_force_with_their_captures_files_states(
        citation, reporter, editor, operator, tmp_path):
    captures, files = _removed(citation, reporter, editor, tmp_path)

    body = token_client(reporter).get(f"{API}/evidence/", {"capture": captures[0].pk}).json()

    # The list keeps to the files in force; their capture names the others, with their state.
    listed = {item["capture_role"]: item for item in body["results"]}
    assert set(listed) == {"archive", "manifest"}
    for role, item in listed.items():
        assert (item["state"], item["purged_at"], item["download"]) == (
            "kept", None, _download(files[role]))
        assert _file_states(item["capture"]["files"]) == {
            role: _expected_file(files[role], STATES[role]) for role in ROLES}


def test_restored_file_is_kept_again_with_its_download(citation, reporter, editor, tmp_path):
    capture = purged._capture(citation, reporter, tmp_path)
    screenshot = files_of(capture)["screenshot"]
    purged._custody(screenshot, CUSTODY_DELETED, editor, 3)
    api = token_client(reporter)
    assert api.get(f"{API}/evidence/{screenshot.pk}/").json()["state"] == "deleted"

    purged._custody(screenshot, CUSTODY_RESTORED, editor, 1)

    body = api.get(f"{API}/evidence/{screenshot.pk}/").json()
    assert (body["state"], body["purged_at"], body["download"]) == (
        "kept", None, _download(screenshot))
    listed = api.get(f"{API}/evidence/", {"capture": capture.pk}).json()["results"]
    assert screenshot.pk in [item["id"] for item in listed]


def test_evidence_of_any_state_is_404_to_an_outsider(citation, reporter, editor, outsider,
                                                     operator, tmp_path):
    """Outside the case a file does not exist, whatever its state: its state says nothing."""
    captures, files = _removed(citation, reporter, editor, tmp_path)
    api = token_client(outsider)

    for role in ROLES:
        response = api.get(f"{API}/evidence/{files[role].pk}/")

        assert response.status_code == 404
        assert "state" not in response.json()
    assert api.get(f"{API}/evidence/").json()["count"] == 0
    assert api.get(f"{API}/captures/{captures[0].pk}/").status_code == 404


# --- /captures/ ------------------------------------------------------------------------------

def test_capture_files_give_their_state_and_no_download_once_purged(
        citation, reporter, editor, operator, tmp_path):
    captures, files = _removed(citation, reporter, editor, tmp_path)
    api = token_client(reporter)
    expected = {role: _expected_file(files[role], STATES[role]) for role in ROLES}

    shown = api.get(f"{API}/captures/{captures[0].pk}/").json()
    [listed] = api.get(f"{API}/captures/", {"citation": citation.pk}).json()["results"]

    assert _file_states(shown["files"]) == _file_states(listed["files"]) == expected


def test_capture_files_of_a_protected_capture_stay_withheld(
        protected_citation, reporter, editor, operator, tmp_path):
    """The state adds nothing to what a non-handler is given of a protected capture."""
    captures, _files = _removed(protected_citation, reporter, editor, tmp_path)

    shown = token_client(reporter).get(f"{API}/captures/{captures[0].pk}/").json()

    assert (shown["withheld"], shown["files"]) == (True, [])


# --- what the endpoints cost -------------------------------------------------------------------

#: The lists cost what tests/test_query_counts.py pins for them (the token with its user, the
#: count, the page, the custody entries, the files of the listed files' captures): with the
#: files deleted and purged too, since each file's state is read in those queries.
EVIDENCE_LIST_QUERIES = API_LISTS["evidence"][1]
#: One evidence file: as the list, without the count.
EVIDENCE_DETAIL_QUERIES = EVIDENCE_LIST_QUERIES - 1
CAPTURES_LIST_QUERIES = API_LISTS["captures"][1]
#: One capture: as the list, without the count.
CAPTURE_DETAIL_QUERIES = CAPTURES_LIST_QUERIES - 1


def _counted(api, url, django_assert_num_queries, queries, params=None):
    return measured_get(api, url, django_assert_num_queries, queries, params).json()


@pytest.mark.parametrize("count", [1, 4])
def test_evidence_endpoints_read_the_states_with_the_files(
        citation, reporter, editor, operator, tmp_path, count, django_assert_num_queries):
    captures, files = _removed(citation, reporter, editor, tmp_path, count)
    api = token_client(reporter)

    listed = _counted(api, f"{API}/evidence/", django_assert_num_queries,
                      EVIDENCE_LIST_QUERIES)
    detail = _counted(api, f"{API}/evidence/{files['pdf'].pk}/", django_assert_num_queries,
                      EVIDENCE_DETAIL_QUERIES)

    assert listed["count"] == 2 * count  # the archives and manifests
    siblings = [f for item in listed["results"] for f in item["capture"]["files"]]
    assert sorted(f["state"] for f in siblings) == sorted(
        [*["kept"] * 4, "deleted", "deleted", "purged", "purged"] * count)
    assert [f["download"] is None for f in siblings] == [
        f["state"] == "purged" for f in siblings]
    assert detail["state"] == "purged" and detail["download"] is None


@pytest.mark.parametrize("count", [1, 4])
def test_capture_endpoints_read_the_states_with_the_files(
        citation, reporter, editor, operator, tmp_path, count, django_assert_num_queries):
    captures, _files = _removed(citation, reporter, editor, tmp_path, count)
    api = token_client(reporter)

    listed = _counted(api, f"{API}/captures/", django_assert_num_queries,
                      CAPTURES_LIST_QUERIES)
    shown = _counted(api, f"{API}/captures/{captures[-1].pk}/", django_assert_num_queries,
                     CAPTURE_DETAIL_QUERIES)

    assert listed["count"] == count
    for capture in [*listed["results"], shown]:
        assert {f["role"]: f["state"] for f in capture["files"]} == STATES


# --- the schema ------------------------------------------------------------------------------

@pytest.mark.parametrize("component", ["Evidence", "CaptureFile"])
def test_schema_describes_the_state_and_the_nullable_download(reporter, component):
    schema = token_client(reporter).get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    properties = components[component]["properties"]

    # A named enum of its own: the tasks' `state` keeps its name, StateEnum.
    [state] = properties["state"]["allOf"]
    assert state == {"$ref": "#/components/schemas/EvidenceStateEnum"}
    assert components["EvidenceStateEnum"] == {"type": "string",
                                               "enum": ["kept", "deleted", "purged"]}
    assert list(EvidenceState.values) == ["kept", "deleted", "purged"]
    assert components["StateEnum"]["enum"] == ["open", "done", "cancelled"]
    assert properties["state"]["readOnly"] is True
    assert properties["download"]["nullable"] is True
    assert "purged" in properties["download"]["description"]
    assert properties["purged_at"] == {**properties["purged_at"], "type": "string",
                                       "format": "date-time", "nullable": True,
                                       "readOnly": True}
    assert {"state", "purged_at", "download"} <= set(components[component]["required"])
