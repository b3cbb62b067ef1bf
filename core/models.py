"""The kernel's tables: audit events, the outbox and Idempotency-Key records. They name no app's model (the
user is ``AUTH_USER_MODEL``; an API key is kept by its id), so every app can write them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One change that matters: who, which actor, on whose behalf, what type, which object, old → new, when.

    ``type`` holds a value of an event-type enum an app registered with ``core.audit.event_types``;
    written by ``core.audit.record`` in the transaction of the change.
    """

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    api_key = models.CharField(_("API key"), max_length=150, blank=True, default="",
                               help_text=_("The id of the API key the change was made with, if any."))
    on_behalf_of = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("on behalf of"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(_("event"), max_length=50)
    object_type = models.CharField(_("object type"), max_length=30)
    object_id = models.CharField(_("object id"), max_length=255)
    object_repr = models.CharField(_("object"), max_length=200)
    changes = models.JSONField(_("changes"), default=dict, blank=True)  # field → [old, new]

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="core_audit_object")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_type_display()} {self.object_repr}"

    def get_type_display(self) -> str:
        from .audit import type_label

        return type_label(self.type)


class OutboxMessage(models.Model):
    """Something to send out (a mail, a message, a webhook), written in the transaction of the change that
    causes it and delivered by ``core.outbox.deliver`` after commit. ``available_at`` empty: given up."""

    topic = models.CharField(_("topic"), max_length=100)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    available_at = models.DateTimeField(_("due"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["-id"]
        indexes = [
            # What the deliverer claims: undelivered, due, oldest first.
            models.Index(fields=["available_at", "id"], name="outbox_due",
                         condition=Q(delivered_at__isnull=True, available_at__isnull=False)),
            models.Index(fields=["delivered_at"], name="outbox_delivered", condition=Q(delivered_at__isnull=False)),
        ]

    def __str__(self):
        return f"{self.topic} #{self.pk}"


class IdempotencyRecord(models.Model):
    """A request made with an Idempotency-Key: its body's hash and, once answered, the response."""

    owner = models.CharField(_("caller"), max_length=40)  # "key:<prefix>" or "user:<id>"
    key = models.CharField(_("idempotency key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("endpoint"), max_length=255)
    body_hash = models.CharField(_("body hash"), max_length=64)
    status = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)  # null while in flight
    response = models.JSONField(_("response"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key")]
