"""OpenAPI: every operation documents the API's one error format for the 4xx it can answer."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: validation_error, not_authenticated, "
                                           "permission_denied, not_found, throttled, payload_too_large, …")
    detail = serializers.CharField(help_text="A sentence for people, in the caller's language.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name → messages (empty unless code is validation_error).")


ERRORS = {
    "400": "Invalid input: `errors` names each field and the reason.",
    "401": "No credentials, or an unknown, expired or revoked API key.",
    "403": "Authenticated, but the role or the API key's scope does not allow this.",
    "404": "No such record in your scope.",
    "429": "Too many requests: slow down (see Retry-After).",
}


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
        codes = ["401", "403", "429"]
        if self.method in ("POST", "PUT", "PATCH") or self._is_list_view() or "{" in self.path:
            codes.insert(0, "400")
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            if code not in responses:
                body = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                body["description"] = ERRORS[code]
                responses[code] = body
        return responses
