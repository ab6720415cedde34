"""The import page's column help is the importers' own column list: every column each table
import reads, its other names, whether the file must have it, and its description."""

import html
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import strip_tags

from cases import imports
from cases.enums import FigureQualifier

TABLE_IMPORTERS = {kind: importer for kind, importer in imports.IMPORTERS.items()
                   if issubclass(importer, imports.TabularImporter)}
ENTRY_PREFIX = "import-column-"


class _ColumnEntries(HTMLParser):
    """{dt id: (the dt's text, the following dd's text, whether the dt holds a badge)} of the
    page's column help."""

    def __init__(self):
        super().__init__()
        self.entries: dict[str, list] = {}
        self.current: str | None = None
        self.part: int | None = None  # 0 while in the dt, 1 while in its dd

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "dt" and (attrs.get("id") or "").startswith(ENTRY_PREFIX):
            self.current, self.part = attrs["id"], 0
            self.entries[self.current] = ["", "", False]
        elif tag == "dd" and self.current:
            self.part = 1
        elif tag == "span" and self.part == 0 and "badge" in (attrs.get("class") or ""):
            self.entries[self.current][2] = True

    def handle_endtag(self, tag):
        if tag == "dt":
            self.part = None
        elif tag == "dd" and self.current:
            self.current = self.part = None

    def handle_data(self, data):
        if self.current and self.part is not None:
            self.entries[self.current][self.part] += data


def _entries(page: str) -> dict[str, tuple[str, str, bool]]:
    parser = _ColumnEntries()
    parser.feed(page)
    return {key: (" ".join(dt.split()), " ".join(dd.split()), badge)
            for key, (dt, dd, badge) in parser.entries.items()}


def _page(client, case):
    return client.get(reverse("cases:import_upload", args=[case.slug]))


def _upload(client, case, kind, header):
    return client.post(reverse("cases:import_upload", args=[case.slug]),
                       {"kind": kind, "file": SimpleUploadedFile(f"{kind}.csv",
                                                                 (header + "\n").encode())})


def test_import_page_help_lists_exactly_the_columns_each_importer_reads(client, case, reporter):
    client.force_login(reporter)
    entries = _entries(_page(client, case).content.decode())

    expected = {f"{ENTRY_PREFIX}{kind}-{column.name}"
                for kind, importer in TABLE_IMPORTERS.items() for column in importer.columns}
    assert set(entries) == expected
    for kind, importer in TABLE_IMPORTERS.items():
        for column in importer.columns:
            shown, description, _badge = entries[f"{ENTRY_PREFIX}{kind}-{column.name}"]
            assert shown.split()[0] == column.name
            assert all(alias in shown for alias in column.aliases), (kind, column.name)
            # The help's text, as read (what is typed in a file is shown as code).
            text = html.unescape(strip_tags(str(column.help)))
            assert description and description == " ".join(text.split()), (kind, column.name)


def test_import_page_help_lists_the_newer_incident_columns_with_their_choices(client, case,
                                                                              reporter):
    client.force_login(reporter)
    entries = _entries(_page(client, case).content.decode())

    for name in ("count_group", "in_case_counts", "involved_qualifier", "at_large_qualifier"):
        assert f"{ENTRY_PREFIX}incidents-{name}" in entries
    qualifier_help = entries[f"{ENTRY_PREFIX}incidents-involved_qualifier"][1]
    assert all(value in qualifier_help for value in FigureQualifier.values)
    # Typed values are code, not words of the interface (nor translated).
    page = _page(client, case).content.decode()
    assert all(f"<code>{value}</code>" in page for value in FigureQualifier.values)
    assert "<code>involved</code> reads" in page


def test_import_page_help_marks_required_columns_as_the_header_check_requires(client, case,
                                                                               reporter):
    client.force_login(reporter)
    entries = _entries(_page(client, case).content.decode())

    for kind, importer in TABLE_IMPORTERS.items():
        marked = {key.removeprefix(f"{ENTRY_PREFIX}{kind}-") for key, (shown, _d, badge)
                  in entries.items() if key.startswith(f"{ENTRY_PREFIX}{kind}-") and badge
                  and "required" in shown}
        assert marked == {column.name for column in importer.columns if column.required}
        assert marked, kind
        # The marked columns are enough for the header check; without one, the file is refused.
        accepted = _upload(client, case, kind, ",".join(sorted(marked))).content.decode()
        assert "The file has a header but no rows." in accepted
        left_out = sorted(marked)[0]
        others = [c.name for c in importer.columns if c.name != left_out]
        refused = _upload(client, case, kind, ",".join(others))
        assert refused.status_code == 400
        assert f"The file has no “{left_out}” column." in refused.content.decode()


def test_import_page_help_is_shown_again_beside_a_refused_file(client, case, reporter):
    client.force_login(reporter)
    response = _upload(client, case, "incidents", "place_name")

    assert response.status_code == 400
    assert f"{ENTRY_PREFIX}incidents-count_group" in _entries(response.content.decode())


@pytest.mark.parametrize("who", ["outsider", "viewer"])
def test_import_page_is_404_for_who_may_not_import(client, case, who, request):
    client.force_login(request.getfixturevalue(who))
    response = _page(client, case)

    assert response.status_code == 404
    assert ENTRY_PREFIX not in response.content.decode()


def test_import_page_help_is_shown_to_a_reporter(client, case, reporter):
    client.force_login(reporter)
    page = _page(client, case).content.decode()

    assert f"{ENTRY_PREFIX}incidents-title" in _entries(page)
    assert f"{ENTRY_PREFIX}claims-statement" in _entries(page)
