"""A large upload imported in the background: its files kept until a worker has stored them,
its progress, and its report."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="import_jobs"
    )
    source = models.CharField(max_length=1000)
    skip_rejected = models.BooleanField(default=False)
    # Proposed as one change set for review instead of stored as versions.
    as_change = models.BooleanField(default=False)
    change = models.ForeignKey(
        "registry.ChangeRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The upload's files as a zip (path -> bytes), emptied once they are stored; the files the
    # upload refused already, as [path, reason].
    payload = models.BinaryField(default=b"")
    refused = models.JSONField(default=list)
    ignored = models.JSONField(default=list)
    other_files = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    report = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"import #{self.pk} of {self.source}"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    def finish(self, state: str, **fields) -> None:
        self.state = state
        self.finished_at = timezone.now()
        for name, value in fields.items():
            setattr(self, name, value)
        self.save()
