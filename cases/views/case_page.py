"""The way into every page of one case: `case_view`.

Every view of a case (read pages, downloads, POST-only moves, the record forms) is entered
through it, in this order:

1. **Access** (cases.access.get_case_for_user): a non-member, or a member below the page's
   `min_role`, gets 404 whatever the method, so that nobody learns that a case exists, not
   even which methods one of its URLs accepts.
2. **The method**: a member who uses one the page does not take gets 405 with `Allow`
   (a page that takes GET takes HEAD too).
3. **The page**: the view is called with a `CasePage` in place of the slug: the member's
   access and what every case page shows (the case, the member's role, the case's tab), and
   `render()` for the page's template.

Class-based views (cases/views/records.py) inherit `CasePageView`, which enters through
`case_view` with the class's `tab`, `min_role` and the methods it has handlers for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.views import View

from ..access import CaseAccess, get_case_for_user
from ..enums import Role

READ = ("GET",)


@dataclass(frozen=True)
class CasePage:
    """One page of a case, as the member who asked for it sees it."""

    request: HttpRequest
    access: CaseAccess
    tab: str

    @property
    def case(self):
        return self.access.case

    def context(self, page_context: dict | None = None) -> dict:
        """What every case page's template gets (the navigation, the case and its tabs, the
        member's role), with the page's own context."""
        return {"nav": "cases", "access": self.access, "case": self.access.case,
                "tab": self.tab, **(page_context or {})}

    def render(self, template: str, page_context: dict | None = None, *,
               status: int = 200) -> HttpResponse:
        return render(self.request, template, self.context(page_context), status=status)


def _allowed(methods: Iterable[str]) -> list[str]:
    allowed = [method.upper() for method in methods]
    if "GET" in allowed and "HEAD" not in allowed:
        allowed.append("HEAD")
    return allowed


def case_view(*, tab: str, methods: Iterable[str] = READ,
              min_role: Role = Role.VIEWER) -> Callable:
    """Decorate a view of one case, taken as `view(request, case_page, **url_kwargs)`: the
    URL's `slug` becomes the CasePage (see the module's docstring)."""
    allowed = _allowed(methods)

    def decorate(view):
        @wraps(view)
        def case_page_view(request, slug, **kwargs):
            access = get_case_for_user(request.user, slug, min_role=min_role)
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            return view(request, CasePage(request, access, tab), **kwargs)

        return case_page_view

    return decorate


class CasePageView(View):
    """A class-based view of one case, entered through case_view. Sets `case_page`,
    `access` and `case` before any handler runs."""

    tab: str = ""
    min_role = Role.VIEWER

    def dispatch(self, request, *args, **kwargs):
        @case_view(tab=self.tab, methods=self._allowed_methods(), min_role=self.min_role)
        def enter(request, case_page, **_kwargs):
            self.case_page = case_page
            self.access, self.case = case_page.access, case_page.case
            return super(CasePageView, self).dispatch(request, *args, **kwargs)

        return enter(request, **kwargs)
