"""Schemathesis fuzzing of every operation in the OpenAPI schema served at /api/schema/.

Requests go through the real WSGI application (all middleware) against the test database, signed with
an API key holding every scope. The only assertion is Schemathesis' ``not_a_server_error``: whatever the
generator sends, the API answers with a 2xx/4xx in the one error format, never a 5xx.
Bounded: 25 examples per operation, no deadline, derandomised (same cases every run). For a deeper,
random hunt: ``FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 make test ARGS=tests/test_api_schema_fuzz.py``.
"""

import json
import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from .factories import ALL_SCOPES, ApiKeyFactory

application = get_wsgi_application()
# The served schema needs a login (CRM_API_DOCS_PUBLIC off) and there is no database yet at import time to
# make a key: load the schema /api/schema/ serves from drf-spectacular's generator, rendered as it serves it.
schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(
    SchemaGenerator().get_schema(request=None, public=True))))
schema.app = application
schema.location = "/api/schema/"

pytestmark = [pytest.mark.schema_fuzz, pytest.mark.django_db(transaction=True)]

# Which fixture object an ``{id}`` path parameter may point at, per path prefix.
REAL_IDS = {
    "/api/v1/customers/": lambda w: w.c_rm.pk,
    "/api/v1/snapshots/": lambda w: w.snapshots["c_rm"].pk,
    "/api/v1/holdings/": lambda w: w.holdings["c_rm"].pk,
    "/api/v1/interactions/": lambda w: w.interactions["c_rm"].pk,
    "/api/v1/tasks/": lambda w: w.tasks["c_rm"].pk,
}


@pytest.fixture
def fuzz_key(world):
    return ApiKeyFactory(scopes=list(ALL_SCOPES))


@schema.parametrize()
@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), deadline=None,
          derandomize=not os.environ.get("FUZZ_RANDOM"), print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_api_never_answers_5xx(case, world, fuzz_key):
    # Half the cases aim at a record that exists, so bodies reach the services instead of stopping at 404.
    if case.path_parameters and "id" in case.path_parameters:
        current = case.path_parameters["id"]
        if isinstance(current, int) and current % 2 == 0:
            for prefix, real in REAL_IDS.items():
                if case.operation.path.startswith(prefix):
                    case.path_parameters["id"] = real(world)
    case.call_and_validate(headers={"Authorization": f"Api-Key {fuzz_key.raw_key}"}, checks=[not_a_server_error])
