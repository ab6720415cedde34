"""Schemathesis against the API's own OpenAPI schema, on the demo data (`seed_demo`).

Every operation of /api/schema/ is called with generated input (valid and invalid) as the
demo case's editor, through a token; path ids are drawn from the demo's records as well as
made up, so reads, edits and workflow moves meet real records. The test fails on any 500
and on any response whose status code, content type, headers or body the schema does not
describe."""

import json

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cases.models import Case, Citation, Claim, CommentRequest, Incident, Source, Task

from .factories import api_key_for

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

# The first path segment after /api/v1/ → the demo's records of that kind.
RECORDS = {
    "cases": lambda: Case.objects.all(),
    "incidents": lambda: Incident.objects.all(),
    "sources": lambda: Source.objects.all(),
    "claims": lambda: Claim.objects.all(),
    "citations": lambda: Citation.objects.all(),
    "tasks": lambda: Task.objects.all(),
    "comment-requests": lambda: CommentRequest.objects.all(),
}


def _generated_schema() -> dict:
    """The schema /api/schema/ serves, generated without a request (no database needed at
    collection; the test checks that the served one is the same)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


RAW_SCHEMA = _generated_schema()
# Fuzzing (valid and invalid input) only: the coverage phase's thousands of boundary cases
# would take this one file past the rest of the suite.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(RAW_SCHEMA, config=CONFIG)
schema.app = get_wsgi_application()
# Ids of the demo's records by kind, filled in by the `demo_token` fixture.
DEMO_IDS: dict[str, list[int]] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Half the time a record of the demo, else whatever was generated (mostly a 404).
    kind = context.operation.path.split("/")[3]
    if not path_parameters or "id" not in path_parameters or not DEMO_IDS.get(kind):
        return st.just(path_parameters)
    demo = st.sampled_from(DEMO_IDS[kind]).map(lambda pk: {**path_parameters, "id": pk})
    return st.one_of(demo, st.just(path_parameters))


@pytest.fixture
def wsgi_keeps_the_test_transaction():
    """Schemathesis calls the WSGI application itself, not through Django's test client, so
    Django would close the database connection at the end of each request (it is not in
    autocommit mode inside the test's transaction) and lose the test's data. Django's test
    client avoids that the same way: these two signal handlers are off while it calls."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def demo_token(db, wsgi_keeps_the_test_transaction):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    DEMO_IDS.clear()
    DEMO_IDS.update({kind: list(records().values_list("pk", flat=True))
                     for kind, records in RECORDS.items()})
    assert all(DEMO_IDS.values()), "the demo has a record of every kind"
    return api_key_for(get_user_model().objects.get(username="editor"))


def test_the_served_schema_is_the_one_tested(demo_token):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {demo_token}")
    served = api.get("/api/schema/?format=json")
    assert served.status_code == 200
    assert json.loads(served.content) == RAW_SCHEMA
    assert len(RAW_SCHEMA["paths"]) >= 18


@schema.parametrize()
@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case, demo_token):
    case.call_and_validate(headers={"Authorization": f"Token {demo_token}"}, checks=CHECKS)
