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


class CrmAutoSchema(AutoSchema):
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
