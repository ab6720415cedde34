"""Bodies Django refuses while the API reads them (too large, too many fields) are refused in
JSON with a code, like every other refusal of the API, and change nothing; so is a related
record's id that is no whole number (the database's conversion took 1.5 for 1)."""

import json

import pytest

from cases.models import Incident

from .test_api import API, token_client

pytestmark = pytest.mark.django_db


def test_api_body_larger_than_the_limit_is_a_json_413_and_creates_nothing(world, reporter,
                                                                          settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = Incident.objects.count()
    body = json.dumps({"case": world["cases"].pk, "title": "x" * 20_000})

    response = token_client(reporter).generic("POST", f"{API}/incidents/", body,
                                              content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The request body is larger than the server accepts.",
                               "code": "body_too_large"}
    assert Incident.objects.count() == before


def test_api_body_within_the_limit_is_read(world, reporter, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"case": world["cases"].pk, "title": "Night of desertion",
                       "occurred": "2025-05-09"})

    response = token_client(reporter).generic("POST", f"{API}/incidents/", body,
                                              content_type="application/json")

    assert response.status_code == 201, response.content
    assert Incident.objects.filter(title="Night of desertion").exists()


def test_the_schema_documents_the_body_and_address_limits(world, reporter):
    schema = token_client(reporter).get("/api/schema/?format=json").json()
    operations = [(method, path, operation) for path, item in schema["paths"].items()
                  for method, operation in item.items() if method in {"get", "post", "put",
                                                                       "patch", "delete"}]

    writes = [op for method, _path, op in operations if method in {"post", "put", "patch"}]
    assert writes and all("413" in op["responses"] for op in writes)
    assert all("413" not in op["responses"]
               for method, _path, op in operations if method in {"get", "delete"})
    assert all(op["responses"]["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}
               for _method, _path, op in operations)


def test_a_related_record_id_that_is_no_whole_number_is_refused(world, reporter):
    before = Incident.objects.count()
    body = json.dumps({"case": world["cases"].pk + 0.5, "title": "Night of desertion",
                       "occurred": "2025-05-09"})

    response = token_client(reporter).generic("POST", f"{API}/incidents/", body,
                                              content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"case": ["Incorrect type. Expected pk value, received float."],
                               "codes": {"case": ["incorrect_type"]}}
    assert Incident.objects.count() == before
