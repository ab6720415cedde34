"""The identity reveal log of a case: who was shown which protected source's identity, when
and through which page, and who was made a source handler by whom. For the case's editors
only (everyone else gets 404, like any page that is not theirs); it names sources by codename
and never shows an identity."""

from django.core.paginator import Paginator

from ..enums import Role
from ..identities import handler_grants
from ..models import IdentityReveal
from .case_page import case_view

PAGE_SIZE = 50


@case_view(tab="sources", min_role=Role.EDITOR)
def identity_reveals(request, case_page):
    reveals = (IdentityReveal.objects.of_case(case_page.case).select_related("user")
               .order_by("-revealed_at", "-pk"))
    page = Paginator(reveals, PAGE_SIZE).get_page(request.GET.get("page"))
    return case_page.render("cases/identity_reveals.html", {
        "page": page, "grants": handler_grants(case_page.case),
    })
