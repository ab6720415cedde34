"""/healthz: for load balancers and uptime checks, open to anyone, honest about the database."""

import logging

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_url():
    assert reverse("cases:healthz") == "/healthz"


def test_ok_without_signing_in(client):
    response = client.get(reverse("cases:healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]  # a cached "ok" would hide an outage


def test_head_works_for_probes(client):
    assert client.head(reverse("cases:healthz")).status_code == 200


def test_database_failure_gives_503_and_not_ok(client, monkeypatch, caplog):
    def database_is_down(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    # Patched on the connection's class so that the test's undo restores it exactly.
    monkeypatch.setattr(type(connections[DEFAULT_DB_ALIAS]), "cursor", database_is_down)
    with caplog.at_level(logging.ERROR):
        response = client.get(reverse("cases:healthz"))

    assert response.status_code == 503
    assert response.content != b"ok"
    assert b"ok" not in response.content.split()
    assert "database" in caplog.text.lower()
