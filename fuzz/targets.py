"""How one page or form is fuzzed: the hypothesis strategy of its inputs, and one request.

A form submission starts from what the browser would send (the form as served, its empty
required fields filled in with ordinary values), then replaces one to three fields with
hostile values for that kind of field, leaves some out or repeats them, and picks one of the
submit buttons. The CSRF token is never changed (it would only test Django's CSRF check); the
rest, hidden fields and version tokens included, is fair game. A page's query starts from a
query string seen in its links (or none) and changes one to three parameters the same way.

Forms are read again from their page after anything that may change them (a save, a refused
stale edit, an error), so that every submission carries a current version token. A delete
form is submitted on a fresh copy of its record (fuzz/fixtures.py), made just before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from django.urls import NoReverseMatch, reverse
from django.urls import resolve as django_resolve
from hypothesis import strategies as st

from . import fixtures, pages, values
from .browser import Browser
from .discovery import FormTarget, PageTarget, view_of
from .transport import Response, encode_query
from .values import ABSENT

GET_MAX_LENGTH = 3_000  # gunicorn refuses request lines over 4,094 bytes before Django sees them


@dataclass
class Sent:
    """What one example sent, for the ledger: the request and the fields it changed."""

    method: str
    path: str
    changed: dict
    response: Response
    fuzz_id: str


# --- values per field ------------------------------------------------------------------------

def _sometimes_absent_or_repeated(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(strategy, strategy, strategy, strategy, st.just(ABSENT),
                     st.lists(strategy, min_size=2, max_size=3))


def field_values(f: pages.Field, *, max_length: int = values.LONG) -> st.SearchStrategy:
    css = f.css
    if f.kind == "file":
        return st.one_of(values.uploads(), st.just(ABSENT))
    if f.kind in ("select", "radio"):
        listed = st.sampled_from(f.options) if f.options else st.just("")
        wrong = st.one_of(values.nasty_text(200), values.numbers())
        if f.multiple:
            return st.lists(st.one_of(listed, wrong), max_size=4)
        return _sometimes_absent_or_repeated(st.one_of(listed, listed, wrong))
    if f.kind == "checkbox":
        return st.one_of(st.just(ABSENT), st.just(f.value or "on"),
                         values.nasty_text(200), values.numbers())
    if f.kind == "number" or "vIntegerField" in css:
        strategy = values.numbers()
    elif f.kind == "date" or "vDateField" in css:
        strategy = st.one_of(values.dates(), values.nasty_text(200))
    elif f.kind == "datetime-local":
        strategy = st.one_of(values.datetimes(local=True), values.nasty_text(200))
    elif f.kind == "time" or "vTimeField" in css:
        strategy = st.one_of(values.times(), values.nasty_text(200))
    elif f.kind == "email":
        strategy = st.one_of(values.emails(), values.nasty_text(max_length))
    elif f.kind == "url" or "vURLField" in css:
        strategy = st.one_of(values.urls(), values.nasty_text(max_length))
    else:  # text, textarea, search, password, hidden
        strategy = values.for_name(f.name, max_length=max_length)
    return _sometimes_absent_or_repeated(strategy)


def ordinary_value(f: pages.Field) -> str:
    """What a user would type into an empty required field."""
    name = f.name.lower()
    if f.kind == "number":
        return f.attrs.get("min") or "1"
    if f.kind == "date" or "vDateField" in f.css:
        return "2024-05-09"
    if f.kind == "datetime-local":
        return "2024-05-09T12:00"
    if f.kind == "time" or "vTimeField" in f.css:
        return "12:00"
    if f.kind == "email":
        return "fuzz@example.org"
    if f.kind == "url":
        return "https://example.org/fuzz"
    if f.kind == "select":
        return next((o for o in f.options if o), "")
    if name.endswith("occurred"):
        return "2024-05-09"
    if "slug" in name:
        return "fuzz-slug"
    return "Fuzz"


# --- forms -------------------------------------------------------------------------------------

def form_strategy(form: pages.Form) -> st.SearchStrategy[dict]:
    by_name: dict[str, pages.Field] = {}
    for f in form.fields:
        by_name.setdefault(f.name, f)
    names = [n for n in by_name if n != "csrfmiddlewaretoken"]
    buttons = st.sampled_from([None, *form.buttons])
    if not names:
        return st.fixed_dictionaries({"fields": st.just({}), "button": buttons})
    changed = st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)),
                       unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({n: field_values(by_name[n]) for n in chosen}))
    return st.fixed_dictionaries({"fields": changed, "button": buttons})


EDGE_DATE, EDGE_DATETIME = "9999-12-31", "9999-12-31T23:59:59-15:00"


def _is_date_like(f: pages.Field) -> bool:
    name = f.name.lower()
    return f.kind in ("date", "datetime-local") or "vDateField" in f.css or \
        (f.kind in ("text", "hidden") and (name.endswith(("_at", "_on", "deadline", "occurred",
                                                          "date", "_0"))))


def form_examples(form: pages.Form) -> list[dict]:
    """Examples every run sends first, whatever the seed: every field at once a NUL byte,
    then a word with a lone surrogate (a choice or a record's id that is no number); then each
    date or datetime field alone at the last moment PostgreSQL can store from an offset of
    -15:00 (year 10000 in UTC)."""
    names = list(dict.fromkeys(f.name for f in form.fields if f.name != "csrfmiddlewaretoken"))
    if not names:
        return []
    found = [{"fields": dict.fromkeys(names, "\x00"), "button": None},
             {"fields": dict.fromkeys(names, "abc\ud800"), "button": None}]
    for f in form.fields:
        if f.name in names and _is_date_like(f):
            edge = EDGE_DATE if f.kind == "date" or "vDateField" in f.css else EDGE_DATETIME
            found.append({"fields": {f.name: edge}, "button": None})
    return found[:8]


def form_pairs(form: pages.Form, example: dict) -> list[tuple[str, object]]:
    """The submission: the form as a user would send it, with the example's changes."""
    changed, pairs, done = example["fields"], [], set()
    for f in form.fields:
        if f.name in changed:
            if f.name in done:
                continue
            done.add(f.name)
            value = changed[f.name]
            pairs.extend((f.name, v) for v in (value if isinstance(value, list) else [value]))
        elif f.kind in ("checkbox", "radio"):
            if f.checked or (f.kind == "radio" and f.required and not any(
                    g.checked for g in form.fields if g.name == f.name)):
                pairs.append((f.name, f.value or (f.options[0] if f.options else "on")))
        elif f.kind == "file":
            if f.required:
                pairs.append((f.name, values.wellformed_png()))
        elif f.kind == "select" and f.multiple:
            pairs.extend((f.name, v) for v in f.value.split("\x1f") if v)
        else:
            value = f.value
            if not value and f.required:
                value = ordinary_value(f)
            pairs.append((f.name, value))
    if example["button"] is not None:
        pairs.append(example["button"])
    return pairs


_DOOMED = re.compile(r"^admin:(?P<app>\w+?)_(?P<model>[a-z0-9]+)_delete$")


class FormRunner:
    """Submits one form target again and again, reading the form afresh when needed."""

    def __init__(self, target: FormTarget, browser: Browser) -> None:
        self.target, self.browser = target, browser
        self.form: pages.Form | None = None  # read afresh: the record may have changed
        self.page = target.page
        self.doomed = bool(_DOOMED.match(target.view)) or target.view == "cases:member_remove"

    def _doomed_page(self) -> str | None:
        """For a delete form: the page of a fresh copy of its record."""
        view, kwargs = view_of(self.target.page)
        if match := _DOOMED.match(view):
            label = f"{match['app']}.{match['model']}"
            pk = fixtures.doomed_copy(label, kwargs["object_id"])
            return None if pk is None else reverse(view, args=[pk])
        if view == "cases:member_remove":
            pk = fixtures.doomed_copy("cases.membership", kwargs["pk"])
            return reverse(view, kwargs={**kwargs, "pk": pk})
        return self.target.page

    def _refresh(self) -> pages.Form | None:
        page = self._doomed_page()
        if page is None:
            return None
        self.page = page
        self.browser.label = self.target.label
        response = self.browser.get(page)
        if response.status != 200 or not response.is_html:
            return None
        for form in pages.parse(response.text, page).forms:
            resolved = view_of(form.action or page)
            if form.method == "post" and resolved and resolved[0] == self.target.view and \
                    _signature_of(form) == self.target.signature:
                return form
        return None

    def run(self, example: dict) -> Sent | None:
        if self.form is None or self.doomed:
            self.form = self._refresh()
        if self.form is None:
            return None
        self.browser.label = self.target.label
        form = self.form
        response = self.browser.submit(form, form_pairs(form, example), page=self.page)
        if response.status not in (200, 400, 413, 422):
            # Saved, refused as stale, refused access, or failed: read the form again. A form
            # shown again with its errors changed nothing, so its tokens are still good.
            self.form = None
        return Sent("POST", form.action or self.page, example["fields"], response,
                    self.browser.last_id)


def _signature_of(form: pages.Form) -> tuple[str, ...]:
    from .discovery import _signature

    return _signature(form)


# --- pages -----------------------------------------------------------------------------------

def free_path_parts(path: str) -> list:
    """The parts of a page's path that its URL pattern takes as any text (a `str` or `path`
    converter, a regex group such as the history's revert pages): kwarg names, or the
    positions of positional arguments."""
    match = django_resolve(path)
    converters = getattr(match, "_fuzz_converters", None)
    if converters is None:
        converters = match.route and _route_converters(match.route)
    if match.kwargs:
        return [name for name in match.kwargs
                if converters and converters.get(name, "str") in ("str", "path")]
    return list(range(len(match.args)))


def _route_converters(route: str) -> dict[str, str]:
    return {name: kind or "str"
            for kind, name in re.findall(r"<(?:(\w+):)?(\w+)>", route)}


def page_strategy(target: PageTarget) -> st.SearchStrategy[dict]:
    names = sorted(set(target.values) | {"page"})

    def param_values(name: str) -> st.SearchStrategy:
        seen = sorted(v for v in target.values.get(name, ()) if v)
        hostile = values.for_name(name, max_length=GET_MAX_LENGTH)
        options = [hostile, hostile, values.numbers()]
        if seen:
            options.append(st.sampled_from(seen))
        return _sometimes_absent_or_repeated(st.one_of(*options))

    changed = st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)),
                       unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({n: param_values(n) for n in chosen}))
    baseline = st.sampled_from([[], *target.baselines])
    parts = free_path_parts(target.path)
    in_path = st.just(None)
    if parts:  # a quarter of the examples also change a part of the path
        hostile = st.one_of(values.nasty_text(200), values.numbers())
        in_path = st.one_of(st.just(None), st.just(None), st.just(None),
                            st.tuples(st.sampled_from(parts), hostile))
    return st.fixed_dictionaries({"baseline": baseline, "fields": changed, "path": in_path})


def _path_with(path: str, part, value: str) -> str:
    """`path` with one part replaced by `value`, percent-encoded as its UTF-8 bytes (lone
    surrogates included); the path unchanged when the pattern refuses the value."""
    match = django_resolve(path)
    args, kwargs = list(match.args), dict(match.kwargs)
    encoded = quote(value.encode("utf-8", "surrogatepass"), safe="")
    if isinstance(part, int):
        args[part] = encoded
    else:
        kwargs[part] = encoded
    try:  # reverse() quotes the % signs of the already encoded value once more
        return reverse(match.view_name, args=args, kwargs=kwargs).replace("%25", "%")
    except NoReverseMatch:
        return path


def page_examples(target: PageTarget) -> list[dict]:
    """Examples every run sends first: `page` as a NUL byte and as a negative number, every
    known parameter at once a NUL byte, and each free part of the path (a record's id in the
    admin) as a word and as a number that is no integer."""
    names = sorted(set(target.values) | {"page"})
    found = [{"baseline": [], "fields": {"page": "\x00"}, "path": None},
             {"baseline": [], "fields": {"page": "-1"}, "path": None},
             {"baseline": [], "fields": dict.fromkeys(names, "\x00"), "path": None}]
    for part in free_path_parts(target.path)[:2]:
        found += [{"baseline": [], "fields": {"page": "1"}, "path": (part, "abc")},
                  {"baseline": [], "fields": {"page": "1"}, "path": (part, "1.5")}]
    return found


class PageRunner:
    def __init__(self, target: PageTarget, browser: Browser) -> None:
        self.target, self.browser = target, browser

    def run(self, example: dict) -> Sent:
        changed = dict(example["fields"])
        pairs = [(k, v) for k, v in example["baseline"] if k not in changed]
        for name, value in changed.items():
            pairs.extend((name, v) for v in (value if isinstance(value, list) else [value]))
        query = encode_query(pairs)
        path = self.target.path
        if example["path"] is not None:
            part, value = example["path"]
            path = _path_with(path, part, value)
            changed[f"path:{part}"] = value
        path += f"?{query}" if query else ""
        self.browser.label = self.target.label
        response = self.browser.get(path)
        return Sent("GET", path, changed, response, self.browser.last_id)
