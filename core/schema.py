"""OpenAPI: every operation documents the API's one error format for the 4xx it can answer."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: validation_error, not_authenticated, "
                                           "permission_denied, not_found, throttled, payload_too_large, …")
    detail = serializers.CharField(help_text="A sentence for people, in the caller's language.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name → messages (empty unless code is validation_error). Always flat: an item of a "
                  "list is named by its position (`tags[2]`), a field of a nested object by a dot (`records[0].cif`); "
                  "a parameter or header by its name (`Idempotency-Key`).")


ERRORS = {
    "400": "Invalid input: `errors` names each field and the reason (an item of a list as `tags[2]`). "
           "Also a NUL character in any parameter, header or text field.",
    "401": "No credentials, or an unknown, expired or revoked API key.",
    "403": "Authenticated, but the role or the API key's scope does not allow this.",
    "404": "No such record in your scope.",
    "404-list": "No such page: `page` beyond the last page, or not a page number from 1 (e.g. `page=0`).",
    "406": "The `Accept` header asks for a format the API does not produce (it answers JSON).",
    "415": "The body is not JSON, form data or multipart.",
    "429": "Too many requests: slow down and retry after `Retry-After` seconds.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "required": True,
                               "description": "Seconds until the rate limit's window ends."}}


# Descriptions for fields whose name says it all to a developer but not to an integration engineer.
FIELD_DESCRIPTIONS = {
    "id": "The CRM's id of this record (stable; use the external keys for upserts).",
    "customer": "The CRM's id of the customer.",
    "cif": "The customer's core-banking customer number (CIF).",
    "customer_name": "The customer's name.",
    "branch": "The CRM's id of the customer's home branch.",
    "rm": "The CRM's id of the relationship manager, or null.",
    "branch_name": "Name of the customer's home branch.",
    "rm_name": "Name of the relationship manager.",
    "staff_name": "Name of the member of staff who recorded it.",
    "change_txid": "Id of the database transaction that last changed the record (drives the changes feed).",
    "count": "Number of rows (stops at the list cap; see count_capped).",
    "next": "URL of the next page, or null.",
    "previous": "URL of the previous page, or null.",
    "results": "The rows of this page.",
    "created": "Records created.",
    "updated": "Records changed.",
    "rejected": "Records rejected (see errors).",
    "reason": "Why the value was rejected, in the caller's language.",
    "field": "The field.",
    "value": "The full, unmasked value (the reveal is logged).",
    "outcome": "What came of it, in a few words.",
    "until": "The new due date (a later day).",
    "tags": "Labels such as 代发工资 or 高净值 (at most 20, 30 characters each).",
}


class CrmAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(schema, dict) and not (schema.get("description") or schema.get("title")):
            text = FIELD_DESCRIPTIONS.get(field.field_name) or (str(field.label) if field.label else "")
            if text:
                schema["description"] = text[0].upper() + text[1:]
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        # Every status an operation can answer: the API's own errors and the framework's (DRF: 401, 403,
        # 406, 415, 429; 404 for a page out of range on lists). The status-specific ones (409, 412, 413, 422,
        # 428) are declared on their operations.
        codes = ["401", "403", "406", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("415")
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view() or "{" in self.path:
            codes.insert(0, "400")
        if "{" in self.path or self._is_paginated_list():
            codes.append("404")
        for code in codes:
            body = responses.get(code)
            if body is None:
                body = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                body["description"] = ERRORS["404-list" if code == "404" and "{" not in self.path else code]
                responses[code] = body
            elif "content" not in body:  # declared with a description only: the body is the error format
                body.update({**self._get_response_for_code(ErrorSerializer, code, direction=direction),
                             "description": body.get("description", "")})
        for code, body in responses.items():
            if code.startswith(("4", "5")) and "content" not in body:
                body.update({**self._get_response_for_code(ErrorSerializer, code, direction=direction),
                             "description": body.get("description", "")})
        responses["429"]["headers"] = {**responses["429"].get("headers", {}), **RETRY_AFTER}
        return responses

    def _is_paginated_list(self):
        return self._is_list_view() and self.method == "GET" and getattr(self.view, "pagination_class", None)
