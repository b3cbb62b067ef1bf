"""Serializer helpers every app's API shares."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictMixin:
    """Rejects fields it does not know, naming each one (a typo must not be silently dropped)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({k: [_("Unknown field.")] for k in unknown})
        return super().to_internal_value(data)
