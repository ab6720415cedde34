"""What the pages load from /static/ exists, and what is vendored is loaded.

A script tag naming a file that is not there fails silently in the browser (a 404 in the
console), and a vendored library no page loads is dead weight that still has to be kept up to
date: both are caught here, from the templates' source and from pages as served."""

import re
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.utils import get_app_template_dirs
from django.templatetags.static import static
from django.urls import reverse

STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")
VENDOR = Path(settings.BASE_DIR) / "static" / "vendor"


def our_templates() -> dict[str, str]:
    """Every template of the project (not of installed packages): its path → its source."""
    base = Path(settings.BASE_DIR)
    dirs = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    dirs += [Path(d) for d in get_app_template_dirs("templates")
             if Path(d).is_relative_to(base) and ".venv" not in Path(d).parts]
    return {str(path.relative_to(base)): path.read_text()
            for folder in dirs for path in sorted(folder.rglob("*.html"))}


def static_references() -> dict[str, set[str]]:
    """Each path named by a {% static %} tag → the templates naming it."""
    found: dict[str, set[str]] = {}
    for name, source in our_templates().items():
        for path in STATIC_TAG.findall(source):
            found.setdefault(path, set()).add(name)
    return found


class AssetParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and "stylesheet" in (attrs.get("rel") or "").split():
            self.urls.append(attrs["href"])


def loaded_assets(html: str) -> list[str]:
    parser = AssetParser()
    parser.feed(html)
    return parser.urls


def test_static_references_in_templates_name_existing_files():
    references = static_references()
    assert "vendor/bootstrap-5.3.9/js/bootstrap.bundle.min.js" in references  # the scan works
    missing = {path: sorted(names) for path, names in references.items()
               if finders.find(path) is None}
    assert missing == {}


def test_vendored_libraries_are_each_loaded_by_a_template():
    referenced = {path.split("/")[1] for path in static_references()
                  if path.startswith("vendor/")}
    vendored = {folder.name for folder in VENDOR.iterdir() if folder.is_dir()}
    assert vendored == referenced


def test_templates_use_no_library_attributes_without_loading_the_library():
    """htmx was loaded on every page and used by none, so it was removed (issue 12): hx-*
    attributes would now do nothing. Bring htmx back (vendored, loaded, CSP-checked) with the
    first page that needs it."""
    htmx_loaded = any("htmx" in path for path in static_references())
    using_htmx = sorted(name for name, source in our_templates().items()
                        if re.search(r"\shx-[a-z-]+\s*=", source))
    assert htmx_loaded or using_htmx == []


def test_pages_as_served_load_only_static_files_that_exist(client, reporter, case):
    client.force_login(reporter)
    pages = [reverse("cases:dashboard"), reverse("cases:timeline", args=[case.slug]),
             reverse("api:docs")]
    loaded = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        loaded[url] = loaded_assets(response.content.decode())
    client.logout()
    loaded["sign-in"] = loaded_assets(client.get(reverse("account_login")).content.decode())

    assert "/static/vendor/bootstrap-5.3.9/js/bootstrap.bundle.min.js" in loaded["sign-in"]
    assert all(loaded.values())
    prefix = static("")
    unresolved = {page: [url for url in urls if not url.startswith(prefix)
                         or finders.find(url.removeprefix(prefix)) is None]
                  for page, urls in loaded.items()}
    assert unresolved == {page: [] for page in loaded}
