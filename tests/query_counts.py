"""Counting a page's queries: one GET as a warm-up, the cache cleared, the same GET counted.

The warm-up comes first because the first request after signing in also saves the session
(the refresh in config/middleware.py) and the first request of a process fills Django's
caches (content types, templates); counted, either would add queries a reader's request does
not make. The session is not saved again before the refresh interval passes; tests raise
SESSION_REFRESH_SECONDS so that a slow machine cannot cross it between the two requests.

The cache is cleared after the warm-up because cases/fragments.py keeps page parts (the
timeline's entries, the claims board's columns, the figures tab's sections and its charts'
data) in it: the warm-up stored them, and the counted request would pin what serving them
costs instead of what rendering them costs. What serving them costs is pinned in
tests/test_query_counts.py."""

from django.core.cache import cache


def measured_get(client, url, django_assert_num_queries, queries, params=None):
    """GET `url` (with `params`) after a warm-up and a cleared cache, asserting it answers 200
    with exactly `queries` queries; return the response.

    A streamed response reads its rows as it is sent, so its body is read inside the counted
    block and kept as `response.streamed_content` (bytes): use `text(response)` for either."""
    client.get(url, params)  # the warm-up (module docstring)
    cache.clear()
    with django_assert_num_queries(queries):
        response = client.get(url, params)
        if response.streaming:
            response.streamed_content = b"".join(response.streaming_content)
    assert response.status_code == 200, text(response)[:500]
    return response


def text(response) -> str:
    """The decoded body of a response `measured_get` returned, streamed or not."""
    body = response.streamed_content if response.streaming else response.content
    return body.decode(errors="replace")
