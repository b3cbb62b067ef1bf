"""The OpenAPI document integration engineers read: every field described, errors and examples shown."""

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema():
    import io

    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    return yaml.safe_load(out.getvalue())


def test_every_field_is_described(schema):
    undescribed = [f"{name}.{prop}" for name, comp in schema["components"]["schemas"].items()
                   for prop, spec in (comp.get("properties") or {}).items()
                   if not (spec.get("title") or spec.get("description"))]
    assert undescribed == []


@pytest.mark.parametrize("path", ["/api/v1/customers/bulk/", "/api/v1/snapshots/bulk/", "/api/v1/holdings/bulk/"])
def test_bulk_operations_document_errors_and_examples(schema, path):
    operation = schema["paths"][path]["post"]
    assert {"200", "400", "401", "403", "409", "413", "422"} <= set(operation["responses"])
    assert operation["requestBody"]["content"]["application/json"]["examples"]
    assert operation["responses"]["200"]["content"]["application/json"]["examples"]


def test_every_operation_documents_the_error_format(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"] and "403" in operation["responses"], (method, path)
            ref = operation["responses"]["403"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error")


def test_api_key_security_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}


def test_every_status_an_operation_can_answer_is_documented(schema):
    """issue 9 §10: page out of range (page=0) on lists, 409 on task actions, 412/428 on changes, 413 on bulk,
    429 with Retry-After everywhere, 406 and 415 from the framework."""
    paths = schema["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "406", "429"} <= codes, (method, path)
            assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
            if method in ("post", "put", "patch"):
                assert {"400", "415"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error"), (code, path)
    for path in ("/api/v1/customers/", "/api/v1/snapshots/", "/api/v1/holdings/", "/api/v1/interactions/",
                 "/api/v1/tasks/"):
        assert "page=0" in paths[path]["get"]["responses"]["404"]["description"], path
    for action in ("complete", "snooze"):
        assert "409" in paths[f"/api/v1/tasks/{{id}}/{action}/"]["post"]["responses"]
    for kind in ("customers", "snapshots", "holdings"):
        assert {"409", "413", "422"} <= set(paths[f"/api/v1/{kind}/bulk/"]["post"]["responses"])


def test_customer_versions_are_documented(schema):
    detail = schema["paths"]["/api/v1/customers/{id}/"]
    assert detail["get"]["responses"]["200"]["headers"]["ETag"]["required"] is True
    for method in ("put", "patch"):
        operation = detail[method]
        assert {"412", "428"} <= set(operation["responses"])
        assert "If-Match" in [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert "ETag" in operation["responses"]["200"]["headers"]
    tags = schema["paths"]["/api/v1/customers/{id}/tags/"]["post"]
    request = schema["components"]["schemas"]["TagsChangeRequest"]["properties"]
    assert set(request) == {"add", "remove"} and {"412", "428"} <= set(tags["responses"])
