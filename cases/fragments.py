"""The costly part of a case page (the timeline's entries, the claims board's columns, the
figures tab's sections and its charts' data), kept rendered in the cache while the case's
records are unchanged.

The key holds the case's `content_version`, which database triggers raise in the same
transaction as any change to the case's incidents, claims, sources, citations or requests for
comment (cases/revisions.py): a change makes every older copy unreachable, so nothing is ever
invalidated by hand and a page never shows data older than the version it was read at. The key
also holds everything else the part depends on: the case's slug (links), the reader's role and
source-handler flag (what they may see and do), the language and time zone, and the query
parameters the part reads. A request with any other parameter is rendered without the cache,
so a crafted address cannot put its own links into a page others are served.

Access is checked before the cache is consulted (views call get_case_for_user first); the
cached HTML is the part's own template rendered for the key's case, never a whole page (no
CSRF token, no messages, no user name). What no trigger sees (a user renamed whose name the
board shows) lasts at most CASEDESK_FRAGMENT_CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils.safestring import SafeString
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import get_language

from .access import CaseAccess

T = TypeVar("T")

KEY_PREFIX = "casedesk:fragment"
# Longer values are not page numbers or statuses: such requests skip the cache.
MAX_PARAMETER_LENGTH = 32


def fragment_key(request, access: CaseAccess, name: str, params: Sequence[str]) -> str | None:
    """The cache key of this part of the case's page for this request, or None when the
    request carries parameters the part does not read (rendered afresh, not cached)."""
    query = request.GET
    if any(key not in params or len(query.getlist(key)) > 1 for key in query):
        return None
    values = [query.get(key, "") for key in params]
    if any(len(value) > MAX_PARAMETER_LENGTH for value in values):
        return None
    case = access.case
    varies = [case.pk, case.content_version, case.slug, access.membership.role,
              access.can_handle_sources, get_language(), get_current_timezone_name(), *values]
    digest = hashlib.sha256(repr(varies).encode()).hexdigest()
    return f"{KEY_PREFIX}:{name}:{case.pk}:{case.content_version}:{digest}"


def case_fragment(request, access: CaseAccess, name: str, render: Callable[[], SafeString],
                  *, params: Sequence[str] = ()) -> SafeString:
    """`render()`'s HTML, from the cache when this case, at this content version, was
    rendered the same way before."""
    return cached_case_part(request, access, name, render, params=params, kind=SafeString)


def cached_case_part(request, access: CaseAccess, name: str, compute: Callable[[], T], *,
                     params: Sequence[str] = (), kind: type[T]) -> T:
    """`compute()`'s value (HTML, or the data a page's script draws), from the cache when
    this case, at this content version, was computed the same way before. `kind` is the type
    of the value: anything else found under the key is not ours and is computed again."""
    key = fragment_key(request, access, name, params)
    if key is None:
        return compute()
    value = cache.get(key)
    if not isinstance(value, kind):  # a miss (or anything but our own value)
        value = compute()
        cache.set(key, value, settings.CASEDESK_FRAGMENT_CACHE_SECONDS)
    return value
