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
