"""Schemathesis against the API's own OpenAPI schema, on the demo data (`seed_demo`): the
CI subset of `make fuzz` for the API (fuzz/api.py runs every phase, every role and hundreds
of examples per operation against gunicorn).

Every operation of /api/schema/ is called with generated input (valid and invalid) as the
demo case's editor, and with fewer examples as its viewer, its reporter (a source handler)
and an outsider, each through their API token; path ids are drawn from the demo's records as
well as made up, so reads, edits and workflow moves meet real records. The test fails on any
500 and on any response whose status code, content type, headers or body the schema does not
describe.

Derandomized: a fixed seed (SEED), so that CI runs the same cases every time and a failure
fails again on the next run; `make fuzz` draws a new seed each run to find new inputs."""

import json

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
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

from cases.models import Case, Citation, Claim, CommentRequest, Incident, IncidentType, Source, Task

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
    "incident-types": lambda: IncidentType.objects.all(),
}
SEED = 20261111
# The roles besides the editor, with fewer examples each: what they may not do is refused
# early, so a few examples reach every refusal.
OTHER_ROLES = ["viewer", "reporter", "outsider"]


def _generated_schema() -> dict:
    """The schema /api/schema/ serves, generated without a request (no database needed at
    collection; the test checks that the served one is the same)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


RAW_SCHEMA = _generated_schema()
# Fuzzing (valid and invalid input) only: the coverage phase's thousands of boundary cases
# would take this one file past the rest of the suite (`make fuzz` runs it).
CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED, "generation": {"deterministic": True},
    "phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(RAW_SCHEMA, config=CONFIG)
schema.app = get_wsgi_application()
# Ids (slugs for incident types) of the demo's records by kind, filled in by `demo_tokens`.
DEMO_IDS: dict[str, list] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    # Half the time a record of the demo, else whatever was generated (mostly a 404).
    kind = context.operation.path.split("/")[3]
    name = next((n for n in ("id", "slug") if n in (path_parameters or {})), None)
    if name is None or not DEMO_IDS.get(kind):
        return st.just(path_parameters)
    demo = st.sampled_from(DEMO_IDS[kind]).map(lambda key: {**path_parameters, name: key})
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


@pytest.fixture(scope="module")
def demo_tokens(django_db_setup, django_db_blocker) -> dict[str, str]:
    """The demo, and an API token for the editor and each of OTHER_ROLES (demo usernames):
    made once for the module, in a transaction rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic(), override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        DEMO_IDS.clear()
        DEMO_IDS.update({kind: list(records().order_by("pk").values_list(
            "slug" if kind == "incident-types" else "pk", flat=True))
            for kind, records in RECORDS.items()})
        assert all(DEMO_IDS.values()), "the demo has a record of every kind"
        yield {username: api_key_for(get_user_model().objects.get(username=username))
               for username in ["editor", *OTHER_ROLES]}
        transaction.set_rollback(True)


@pytest.fixture
def demo_token(demo_tokens, wsgi_keeps_the_test_transaction) -> str:
    return demo_tokens["editor"]


@pytest.fixture(params=OTHER_ROLES)
def role_token(request, demo_tokens, wsgi_keeps_the_test_transaction) -> str:
    return demo_tokens[request.param]


def test_the_served_schema_is_the_one_tested(demo_token):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {demo_token}")
    served = api.get("/api/schema/?format=json")
    assert served.status_code == 200
    assert json.loads(served.content) == RAW_SCHEMA
    assert len(RAW_SCHEMA["paths"]) >= 18


@schema.parametrize()
@settings(max_examples=15, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema(case, demo_token):
    case.call_and_validate(headers={"Authorization": f"Token {demo_token}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=2, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema_for_every_role(case, role_token):
    case.call_and_validate(headers={"Authorization": f"Token {role_token}"}, checks=CHECKS)
