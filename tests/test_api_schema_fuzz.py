"""Schemathesis over every operation of the OpenAPI schema served at /api/schema/: part of `make test` (and CI).

Requests go through the real WSGI application (all middleware) against the test database, once signed with
an API key holding every scope and once with a signed-in head-office session (cookie + CSRF token). Every
response must pass all of Schemathesis' response checks: no 5xx (``not_a_server_error``), only documented
statuses (``status_code_conformance``), the documented content type and body (``content_type_conformance``,
``response_schema_conformance``) and the documented headers (``response_headers_conformance``).

Bounded so it stays a few minutes on two cores: ``FUZZ_EXAMPLES`` examples per operation and principal
(default 12), no deadline, derandomised (the same cases every run). For a deeper, random hunt:
``FUZZ_EXAMPLES=200 FUZZ_RANDOM=1 make test ARGS=tests/test_api_schema_fuzz.py``. The figures (operations,
requests, 5xx, check failures) are printed at the end of the module.
"""

import json
import os
from collections import Counter

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from django.utils.crypto import get_random_string
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .org.builders import ALL_SCOPES, ApiKeyFactory
from .segmentation.builders import build_segmented_world
from .summary_plugin import summary_line

application = get_wsgi_application()
# The served schema needs a login (CRM_API_DOCS_PUBLIC off) and there is no database yet at import time to
# make a key: load the schema /api/schema/ serves from drf-spectacular's generator, rendered as it serves it.
schema = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(
    SchemaGenerator().get_schema(request=None, public=True))))
schema.app = application
schema.location = "/api/schema/"

pytestmark = [pytest.mark.schema_fuzz, pytest.mark.django_db(transaction=True)]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))

# Which fixture object an ``{id}`` path parameter may point at, per path prefix.
REAL_IDS = {
    "/api/v1/customers/": lambda w: w.c_rm.pk,
    "/api/v1/snapshots/": lambda w: w.snapshots["c_rm"].pk,
    "/api/v1/holdings/": lambda w: w.holdings["c_rm"].pk,
    "/api/v1/interactions/": lambda w: w.interactions["c_rm"].pk,
    "/api/v1/tasks/": lambda w: w.tasks["c_rm"].pk,
    "/api/v1/segment-runs/": lambda w: w.run.pk,
    "/api/v1/segment-policies/": lambda w: w.run.policy_id,
    "/api/v1/segment-assignments/": lambda w: w.assignments["c_rm"].pk,
}


@pytest.fixture
def world(db):
    """The customer book with a published segmentation policy and a run in force (tiers for every customer)."""
    return build_segmented_world()

FIGURES = Counter()
OPERATIONS = set()


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    if not FIGURES["requests"]:
        return
    statuses = dict(sorted((k[7:], v) for k, v in FIGURES.items() if k.startswith("status:")))
    line = (f"schemathesis: {len(OPERATIONS)} operations, {FIGURES['requests']} requests, "
            f"{FIGURES['5xx']} server errors, {FIGURES['failed']} responses failing a check (statuses: {statuses})")
    summary_line(request.config, line)


def _aim_at_real_record(case, world):
    # Half the cases aim at a record that exists, so bodies reach the services instead of stopping at 404.
    if case.path_parameters and "id" in case.path_parameters:
        current = case.path_parameters["id"]
        if isinstance(current, int) and current % 2 == 0:
            for prefix, real in REAL_IDS.items():
                if case.operation.path.startswith(prefix):
                    case.path_parameters["id"] = real(world)


def _call(case, world, headers, cookies=None):
    _aim_at_real_record(case, world)
    OPERATIONS.add(case.operation.label)
    response = case.call(headers=headers, cookies=cookies)
    FIGURES["requests"] += 1
    FIGURES[f"status:{response.status_code}"] += 1
    if response.status_code >= 500:
        FIGURES["5xx"] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except BaseException:
        FIGURES["failed"] += 1
        raise


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("FUZZ_RANDOM"), print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large])


@pytest.fixture
def key_headers(world):
    key = ApiKeyFactory(scopes=list(ALL_SCOPES))
    return {"Authorization": f"Api-Key {key.raw_key}"}


@pytest.fixture
def session(world):
    """A head-office user's session cookie and CSRF token, as a browser calling the API sends them."""
    client = Client()
    client.force_login(world.ho_user)
    token = get_random_string(32)  # the cookie's secret; the header may carry it unmasked
    return {"headers": {"X-CSRFToken": token},
            "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": token}}


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_with_an_api_key(case, world, key_headers):
    _call(case, world, key_headers)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_with_a_session(case, world, session):
    _call(case, world, session["headers"], session["cookies"])
