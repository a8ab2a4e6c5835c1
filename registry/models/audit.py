"""The audit log: who did what to which object, when and from where. Append-only."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLogIsAppendOnly(Exception):
    """Audit events are never changed or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit events are never changed")

    def delete(self):
        raise AuditLogIsAppendOnly("audit events are never deleted")


def client_address(request) -> str | None:
    """The client's address, the proxy's X-Forwarded-For entry when behind one."""
    if request is None:
        return None
    from registry.ops.throttling import client_address as address_of

    return address_of(request)


class AuditEvent(models.Model):
    """One thing that happened, allowed or denied."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=300, blank=True)
    agent = models.ForeignKey(
        "registry.Agent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit events are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit events are never deleted")

    @classmethod
    def record(
        cls, action: str, *, actor=None, obj=None, agent=None, request=None, **details
    ) -> AuditEvent:
        if actor is not None and not getattr(actor, "is_authenticated", False):
            actor = None
        if agent is None and obj is not None:
            agent = getattr(obj, "agent", None) if obj.__class__.__name__ != "Agent" else obj
        return cls.objects.create(
            actor=actor,
            actor_name=actor.get_username() if actor is not None else details.pop("name", ""),
            action=action,
            object_type=obj._meta.model_name if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            object_repr=str(obj)[:300] if obj is not None else "",
            agent=agent,
            client_address=client_address(request),
            details=details,
        )
