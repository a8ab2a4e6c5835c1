"""Personal API tokens: stored only as a hash, shown once, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from registry.models.audit import AuditEvent

TOKEN_PREFIX = "ar_"
PREFIX_LENGTH = 8  # of the token, shown in lists so that people can tell their tokens apart
# last_used_at is written at most this often per token: a busy script does not write on every
# request, and "last used" stays right to the minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def authenticate(self, token: str) -> ApiToken | None:
        """The active token of an active user that token is, or None; notes when it was used."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        found = (
            self.active()
            .select_related("user")
            .filter(token_hash=token_hash(token), user__is_active=True)
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
            # An UPDATE of the one column, never save(): the row may be revoked meanwhile.
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
        return found


class ApiToken(models.Model):
    """A user's personal token for the JSON API; it acts with that user's permissions."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for.")
    prefix = models.CharField(max_length=PREFIX_LENGTH)
    # The SHA-256 of the token; the token itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def create_for(cls, user, name: str, request=None) -> tuple[ApiToken, str]:
        """A new token for user: (the stored token, the token's text, to show only once)."""
        text = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with transaction.atomic():
            token = cls.objects.create(
                user=user, name=name, prefix=text[:PREFIX_LENGTH], token_hash=token_hash(text)
            )
            AuditEvent.record(
                "token.create", actor=user, obj=token, request=request, prefix=token.prefix
            )
        return token, text

    def revoke(self, user, request=None) -> bool:
        """Revoke the token; False when it was revoked already (then nothing is recorded)."""
        with transaction.atomic():
            revoked = ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            self.refresh_from_db(fields=["revoked_at"])
            if revoked:
                AuditEvent.record(
                    "token.revoke", actor=user, obj=self, request=request, prefix=self.prefix
                )
        return bool(revoked)
