"""The identity reveal log of a case: who was shown which protected source's identity, when
and through which page, and who was made a source handler by whom. For the case's editors
only (everyone else gets 404, like any page that is not theirs); it names sources by codename
and never shows an identity."""

from django.core.paginator import Paginator
from django.shortcuts import render

from ..access import get_case_for_user
from ..enums import Role
from ..identities import handler_grants
from ..models import IdentityReveal

PAGE_SIZE = 50


def identity_reveals(request, slug):
    access = get_case_for_user(request.user, slug, min_role=Role.EDITOR)
    reveals = (IdentityReveal.objects.of_case(access.case).select_related("user")
               .order_by("-revealed_at", "-pk"))
    page = Paginator(reveals, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "cases/identity_reveals.html", {
        "nav": "cases", "access": access, "case": access.case, "tab": "sources", "page": page,
        "grants": handler_grants(access.case),
    })
