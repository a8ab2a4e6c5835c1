"""How far a running background task has come, written by the task as it works and read by the
pages that follow it (the Tasks page, the Repository page)."""

from __future__ import annotations

import time

from django.db import models

# A running task writes its progress at most this often (seconds), and at its last step.
WRITE_EVERY = 0.5


class TaskProgress(models.Model):
    task_id = models.UUIDField(unique=True)  # django-tasks' result id
    label = models.CharField(max_length=200)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.label}: {self.done} of {self.total}"

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.done / self.total)) if self.total else 0

    @classmethod
    def of(cls, task_ids) -> dict:
        """The progress of each of task_ids that reported any, by task id (one query)."""
        return {progress.task_id: progress for progress in cls.objects.filter(task_id__in=task_ids)}


class Reporter:
    """A task's progress, stepped as it works (the interface of sync.files.Progress): each
    stage starts with its label and total; written outside the task's transactions, so a page
    sees it while the task runs. Without a task id (a command, a test) it counts silently."""

    def __init__(self, task_id=None):
        self.task_id = task_id
        self.label = ""
        self.done = 0
        self.total = 0
        self._written = 0.0

    def start(self, label: str, total: int) -> Reporter:
        self.label, self.done, self.total = label, 0, total
        self._write(force=True)
        return self

    def step(self, count: int = 1) -> None:
        self.done += count
        self._write(force=self.done >= self.total)

    def close(self) -> None:
        self._write(force=True)

    def _write(self, *, force: bool) -> None:
        if self.task_id is None:
            return
        now = time.monotonic()
        if not force and now - self._written < WRITE_EVERY:
            return
        self._written = now
        TaskProgress.objects.update_or_create(
            task_id=self.task_id,
            defaults={"label": self.label[:200], "done": self.done, "total": self.total},
        )
