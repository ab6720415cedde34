"""What there is to fuzz, found the way a user finds it: every page of the URL conf and of the
admin registry, opened as one role, and every form and link those pages show, followed a few
levels deep (a claim's moves, the admin's history and revert pages, its filters and its
autocomplete widgets).

The result, per role: page targets (a page and every query parameter seen in its links and
search forms, plus `page`) and form targets (a form as served, keyed by the view it posts to
and the names of its fields). `coverage()` tells which URL patterns nothing reached."""

from __future__ import annotations

import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.contrib import admin
from django.urls import NoReverseMatch, Resolver404, URLPattern, URLResolver, get_resolver, reverse
from django.urls import resolve as django_resolve

from . import fixtures, pages
from .browser import Browser

# Views whose pages are not fetched: they end the session.
NOT_VISITED = {"account_logout", "admin:logout"}
# Forms not submitted, with the reason (shown in the summary).
NOT_SUBMITTED = {
    "account_logout": "signs the fuzzer out",
    "admin:logout": "signs the fuzzer out",
    "mfa_deactivate_totp": "removes the authenticator the fuzzer signs in with",
    "account_reauthenticate": "wrong passwords lock the account out (django-axes), by design",
    "mfa_reauthenticate": "wrong codes lock the two-factor step for minutes, by design",
}
# The API is schemathesis's (fuzz/api.py); its documentation page is a page like the others.
API_PAGES = {"api:docs"}
VISITS_PER_VIEW = 3
MAX_VISITS = 500


@dataclass
class PageTarget:
    role: str
    view: str
    path: str  # without query
    # Query strings seen for this view (each a list of pairs), and every parameter name seen.
    baselines: list[list[tuple[str, str]]] = field(default_factory=list)
    values: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def label(self) -> str:
        return f"GET {self.view}"


@dataclass
class FormTarget:
    role: str
    view: str
    page: str  # where the form is served
    form: pages.Form
    signature: tuple[str, ...]
    label: str = ""


def view_of(path: str) -> tuple[str, dict] | None:
    try:
        match = django_resolve(urlsplit(path).path)
    except Resolver404:
        return None
    return match.view_name, match.kwargs


def _signature(form: pages.Form) -> tuple[str, ...]:
    names = {re.sub(r"-\d+-", "-N-", n) for n in form.field_names() if n != "csrfmiddlewaretoken"}
    return tuple(sorted(names | {f"button:{name}" for name, _ in form.buttons}))


def url_patterns(patterns=None, prefix: str = "", namespace: str = ""):
    """(route, view name, parameter names) of every pattern of the URL conf."""
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}:{p.namespace}".strip(":") if p.namespace else namespace
            yield from url_patterns(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}".strip(":") if p.name else ""
            params = list(p.pattern.converters) if hasattr(p.pattern, "converters") else []
            yield prefix + str(p.pattern), name, params


# --- where to start ---------------------------------------------------------------------------

def _case_objects(model, world: fixtures.World, limit: int = 4) -> list:
    """A few records of the demo case, varied by status (claims in every state have different
    moves), protection (a protected source shows its identity to handlers) or kind."""
    queryset = model._default_manager.filter(case_id=world.case_pk).order_by("pk") \
        if any(f.name == "case" for f in model._meta.fields) else model._default_manager.none()
    chosen = list(queryset[:1])
    for name in ("status", "protected", "state"):
        if any(f.name == name for f in model._meta.fields):
            values = queryset.order_by().values_list(name, flat=True).distinct()
            for value in sorted(values, key=str):
                obj = queryset.filter(**{name: value}).first()
                if obj is not None and obj not in chosen:
                    chosen.append(obj)
    return chosen[:limit]


_PK_MODELS = {"member": "cases.membership", "commentrequest": "cases.commentrequest",
              "timeline": "cases.incident"}  # timeline_incident: an incident's place


def site_seeds(world: fixtures.World) -> list[str]:
    """Concrete paths for every pattern outside the admin and the API whose parameters we can
    fill: the demo case's slug, and records of the demo case for `pk`."""
    from django.apps import apps

    from cases.models import Case

    slug = Case.objects.get(pk=world.case_pk).slug
    seeds = []
    for _route, name, params in url_patterns():
        if not name or name.startswith(("admin:", "api:")) and name not in API_PAGES:
            continue
        if name in NOT_VISITED:
            continue
        kwargs_options = [{}]
        if "slug" in params:
            kwargs_options = [{"slug": slug}]
        if "pk" in params:
            prefix = name.split(":")[-1].split("_")[0]
            label = _PK_MODELS.get(prefix, f"cases.{prefix}")
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                continue
            objects = ([model.objects.get(pk=world.fuzz_membership_pk)]
                       if label == "cases.membership" else _case_objects(model, world))
            kwargs_options = [{**k, "pk": obj.pk} for k in kwargs_options for obj in objects]
        if set(params) - {"slug", "pk"}:
            continue
        for kwargs in kwargs_options:
            try:
                seeds.append(reverse(name, kwargs=kwargs))
            except NoReverseMatch:
                pass
    return seeds


def admin_objects(model, world: fixtures.World) -> list:
    """The records whose admin pages are opened: scratch records outside the cases app (and
    for cases and memberships, whose changes would lock the fuzzer out), else a few records
    of the demo case, varied as _case_objects() varies them."""
    label = model._meta.label_lower
    if label in world.scratch:
        return [world.scratch[label]]
    if label == "cases.case":
        return [world.scratch_case_pk]
    if label == "cases.membership":
        return [world.fuzz_membership_pk]
    objects = _case_objects(model, world)
    if objects:
        return [obj.pk for obj in objects]
    for path in ("claim__case_id", "source__case_id", "evidence__case_id", "incident__case_id"):
        try:
            obj = model._default_manager.filter(**{path: world.case_pk}).order_by("pk").first()
        except Exception:  # noqa: BLE001 (a model without that path)
            continue
        if obj is not None:
            return [obj.pk]
    obj = model._default_manager.order_by("pk").first()
    return [obj.pk] if obj is not None else []


def admin_seeds(world: fixtures.World, include=lambda model: True) -> list[str]:
    """The admin's index and password page, and for each registered model (that `include`
    accepts) its app page, changelist, add page, and a record's change, history and delete
    pages."""
    seeds = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        if not include(model):
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        seeds.append(reverse("admin:app_list", args=[model._meta.app_label]))
        seeds += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        pks = admin_objects(model, world)
        seeds += [reverse(f"{prefix}_change", args=[pk]) for pk in pks]
        seeds += [reverse(f"{prefix}_{what}", args=[pk]) for pk in pks[:1]
                  for what in ("history", "delete")]
    return list(dict.fromkeys(seeds))


# --- the crawl -----------------------------------------------------------------------------------

@dataclass
class Discovered:
    role: str
    pages: dict[str, PageTarget] = field(default_factory=dict)  # view → target
    forms: dict[tuple, FormTarget] = field(default_factory=dict)  # (view, signature) → target
    visited: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # view → visits
    statuses: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # path, status, body

    def page_for(self, view: str, path: str) -> PageTarget:
        if view not in self.pages:
            self.pages[view] = PageTarget(self.role, view, urlsplit(path).path)
        return self.pages[view]

    def note_query(self, view: str, path: str, pairs: list[tuple[str, str]]) -> None:
        target = self.page_for(view, path)
        if pairs and pairs not in target.baselines and len(target.baselines) < 20:
            target.baselines.append(pairs)
        for name, value in pairs:
            target.values[name].add(value)


def crawl(browser: Browser, seeds: list[str], *, max_visits: int = MAX_VISITS,
          visits_per_view: int = VISITS_PER_VIEW) -> Discovered:
    found = Discovered(browser.role)
    queue = deque(seeds)
    seen_paths: set[str] = set()
    seeded = set(seeds)
    visits = 0
    browser.label = "crawl"
    while queue and visits < max_visits:
        path = queue.popleft()
        resolved = view_of(path)
        if resolved is None or path in seen_paths:
            continue
        view, _ = resolved
        if view in NOT_VISITED or (view.startswith("api:") and view not in API_PAGES):
            continue
        if path not in seeded and found.visited[view] >= visits_per_view:
            continue
        seen_paths.add(path)
        found.visited[view] += 1
        visits += 1
        response = browser.get(path)
        found.statuses[view].add(response.status)
        if response.status >= 500 or response.status == 0:
            found.errors.append((path, response.status, response.text[-3000:]))
        found.note_query(view, path, pages.query_of(path))
        if response.status in (301, 302, 303) and response.location:
            queue.append(urlsplit(response.location)._replace(scheme="", netloc="").geturl())
            continue
        if response.status != 200 or not response.is_html:
            continue
        page = pages.parse(response.text, path)
        for form in page.forms:
            _note_form(found, form, path)
        for link in page.links:
            target = view_of(link)
            if target is None:
                continue
            found.note_query(target[0], link, pages.query_of(link))
            queue.append(link)
    return found


def _note_form(found: Discovered, form: pages.Form, page: str) -> None:
    resolved = view_of(form.action or page)
    if resolved is None:
        return
    view = resolved[0]
    if form.method == "get":
        found.note_query(view, form.action or page, [
            (f.name, value) for f in form.fields
            for value in ([f.value] + f.options[:8] if f.kind in ("select", "radio")
                          else [f.value])])
        return
    for f in form.fields:  # the admin's autocomplete widgets: a page of their own
        if f.attrs.get("data-ajax--url") and f.attrs.get("data-app-label"):
            auto_view = view_of(f.attrs["data-ajax--url"])
            if auto_view is not None:
                found.note_query(auto_view[0], f.attrs["data-ajax--url"], [
                    ("app_label", f.attrs["data-app-label"]),
                    ("model_name", f.attrs.get("data-model-name", "")),
                    ("field_name", f.attrs.get("data-field-name", "")), ("term", "a")])
    key = (view, _signature(form))
    if key not in found.forms:
        found.forms[key] = FormTarget(found.role, view, page, form, key[1])


def label_forms(discovered: list[Discovered]) -> None:
    """`POST <view>`, with a numbered variant when one view takes forms of different fields
    (a changelist's actions and its search, say)."""
    variants: dict[str, list[tuple]] = defaultdict(list)
    for d in discovered:
        for (view, signature) in d.forms:
            if signature not in variants[view]:
                variants[view].append(signature)
    for d in discovered:
        for (view, signature), target in d.forms.items():
            n = variants[view].index(signature)
            target.label = f"POST {view}" + (f" #{n + 1}" if len(variants[view]) > 1 else "")


def coverage(discovered: list[Discovered]) -> dict[str, str]:
    """Every named URL pattern → how the fuzz reached it ("page", "form", or why not)."""
    reached: dict[str, str] = {}
    for d in discovered:
        for view in [*d.visited, *d.pages]:
            reached.setdefault(view, "page")
        for (view, _sig) in d.forms:
            reached[view] = "form"
    result = {}
    for _route, name, _params in url_patterns():
        if not name:
            continue
        if name in reached:
            result[name] = reached[name]
            if name in NOT_SUBMITTED:
                result[name] = f"page; its form not submitted: {NOT_SUBMITTED[name]}"
        elif name.startswith("api:") and name not in API_PAGES:
            result[name] = "API (schemathesis)"
        elif name in NOT_VISITED:
            result[name] = "not fuzzed: ends the session"
        else:
            result[name] = "not reached"
    return result
