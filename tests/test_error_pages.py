"""The error pages are the site's own (translated, in the site's layout), and the 404 a
non-member gets at a case's address says nothing of the case."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_not_found_page_for_outsider_names_nothing_of_the_case(client, case, outsider):
    client.force_login(outsider)
    response = client.get(reverse("cases:case_overview", args=[case.slug]))
    body = response.content.decode()
    assert response.status_code == 404
    assert "<h1 class=\"h3 mb-3\">Page not found</h1>" in body
    assert case.title not in body
    assert reverse("cases:dashboard") in body


def test_not_found_page_for_member_is_in_the_readers_language(client, case, viewer):
    client.force_login(viewer)
    response = client.get(reverse("cases:claim_detail", args=[case.slug, 10**9]),
                          HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 404
    assert '<html lang="ru"' in response.content.decode()


def test_server_error_page_stands_alone():
    with translation.override("en-gb"):
        response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Server error" in body and "bootstrap-5.3.9" in body
