"""Compliance over time: each day's figures of how many agents keep every rule."""

from collections import Counter

from django.conf import settings
from django.db import models
from django.utils import timezone


def enforcement_is_strict() -> bool:
    """REGISTRY_ENFORCEMENT=strict: any error refuses a change, not only those it introduces."""
    return settings.REGISTRY_ENFORCEMENT == "strict"


class ComplianceSnapshotQuerySet(models.QuerySet):
    def recent(self, days: int):
        """The last `days` days that have figures, oldest first."""
        return reversed(self.order_by("-day")[:days])

    def record(self, agents) -> "ComplianceSnapshot":
        """Today's figures, as the stored problems of agents (the active ones with a live
        version, an Agent queryset) give them now."""
        counted = compliant = errors = 0
        by_code: Counter[str] = Counter()
        for error_count, problems in agents.values_list("error_count", "problems"):
            counted += 1
            if not error_count:
                compliant += 1
                continue
            errors += error_count
            by_code.update(p["code"] for p in problems or [] if p.get("severity") == "error")
        snapshot, _ = self.update_or_create(
            day=timezone.localdate(),
            defaults={
                "agents": counted,
                "compliant": compliant,
                "errors": errors,
                "errors_by_code": dict(sorted(by_code.items())),
            },
        )
        return snapshot


class ComplianceSnapshot(models.Model):
    day = models.DateField(unique=True)
    agents = models.PositiveIntegerField()
    compliant = models.PositiveIntegerField()
    errors = models.PositiveIntegerField()
    errors_by_code = models.JSONField(default=dict)
    recorded_at = models.DateTimeField(auto_now=True)

    objects = ComplianceSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.compliant} of {self.agents}"
