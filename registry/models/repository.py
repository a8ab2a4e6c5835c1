"""The team's git repository as the registry sees it: pushes waiting to go out, and the state
of the one sync that may run at a time."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# How long a sync may hold the repository before another worker may take it over; a worker
# that is gone (on this machine) loses it at once.
LEASE = timedelta(minutes=10)


def repository_configured() -> bool:
    return bool(settings.REGISTRY_GIT_REMOTE)


class PushQuerySet(models.QuerySet):
    def waiting(self):
        return self.filter(state=Push.State.WAITING).order_by("pk")


class Push(models.Model):
    """One agent's file of a published change on its way to the repository: queued in the
    transaction that publishes it, so a publish never exists without its push, and a
    rolled-back one has none. A change set has a push per agent, made into one commit."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        PUSHED = "pushed", "Pushed"
        CONFLICT = "conflict", "Not pushed: changed in the repository"

    change = models.ForeignKey(
        "registry.ChangeRequest", on_delete=models.PROTECT, related_name="pushes"
    )
    agent = models.ForeignKey("registry.Agent", on_delete=models.PROTECT, related_name="pushes")
    # The text the file gets; None: the file is removed (the agent was archived).
    version = models.ForeignKey(
        "registry.Version", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    path = models.CharField(max_length=1024)
    # The path the file leaves when the change moves it (a rename); "" when it stays.
    old_path = models.CharField(max_length=1024, blank=True)
    # The sha256 of the text the registry had before (what the repository should hold now);
    # empty for a new agent. A file that holds something else was changed in the repository.
    base_sha256 = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    commit = models.CharField(max_length=64, blank=True)
    branch = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    objects = PushQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["state", "id"], name="push_state_idx")]

    def __str__(self) -> str:
        return f"push of change #{self.change_id} ({self.path})"

    @classmethod
    def queue(cls, change, version) -> Push | None:
        """Inside the publishing transaction: the push of change (registry.tasks queues the
        sync that makes it once the transaction commits). Nothing when no repository is
        configured. What the repository should hold before it is the change's base version,
        which publishing made sure was the live one (none for a new agent)."""
        if not repository_configured():
            return None
        base = change.base_version.sha256 if change.base_version_id else ""
        return cls.objects.create(
            change=change,
            agent_id=change.agent_id,
            version=version,
            path=change.agent.path,
            base_sha256=base,
        )

    @classmethod
    def queue_set(cls, change, files) -> list[Push]:
        """Inside the publishing transaction: a push for each file of a change set, each
        (agent, version, path, old path or "", sha256 of its base text or ""), in one insert.
        The sync makes the pushes of one change a single commit."""
        if not repository_configured():
            return []
        return cls.objects.bulk_create(
            cls(
                change=change,
                agent=agent,
                version=version,
                path=path,
                old_path=old_path,
                base_sha256=base,
            )
            for agent, version, path, old_path, base in files
        )


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_is_gone(owner: str) -> bool:
    """Whether owner ("host:pid") was a process on this machine that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class RepositoryState(models.Model):
    """The one row (pk 1) that says who syncs the repository now and how the last syncs went."""

    lease_owner = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    last_push_commit = models.CharField(max_length=64, blank=True)
    # The branch's commit when a sync last saw it: a later one that does not descend from it
    # means the history was rewritten, and nothing is pushed until a maintainer accepts it.
    last_seen_commit = models.CharField(max_length=64, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The branch's commit whose changes the registry has taken in.
    last_pulled_commit = models.CharField(max_length=64, blank=True)
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    # Commits on the branch, when a sync last fetched it, that the registry had not taken in.
    behind = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row, since the last success
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "repository state"

    @classmethod
    def current(cls) -> RepositoryState:
        state, _ = cls.objects.get_or_create(pk=1)
        return state

    @classmethod
    def acquire(cls) -> str | None:
        """Take the repository for this process: its owner token, or None when another
        running sync holds it."""
        cls.current()
        owner = _this_process()
        now = timezone.now()
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
        held = cls.objects.filter(pk=1).values_list("lease_owner", "lease_until").first()
        if held and held[1] and held[1] >= now and _process_is_gone(held[0]):
            free |= Q(lease_owner=held[0])
        taken = cls.objects.filter(free, pk=1).update(lease_owner=owner, lease_until=now + LEASE)
        return owner if taken else None

    @classmethod
    def release(cls, owner: str) -> None:
        cls.objects.filter(pk=1, lease_owner=owner).update(lease_owner="", lease_until=None)

    @classmethod
    def succeeded(cls, commit: str | None) -> None:
        fields = {"failures": 0, "next_attempt_at": None, "last_error": ""}
        if commit:
            fields.update(last_push_commit=commit, last_push_at=timezone.now())
        cls.objects.filter(pk=1).update(**fields)

    @classmethod
    def saw(cls, commit: str) -> None:
        cls.objects.filter(pk=1).update(last_seen_commit=commit, last_seen_at=timezone.now())

    @classmethod
    def pulled(cls, commit: str) -> None:
        cls.objects.filter(pk=1).update(
            last_pulled_commit=commit, last_pulled_at=timezone.now(), behind=0
        )

    @classmethod
    def fetched(cls, behind: int) -> None:
        cls.objects.filter(pk=1).update(behind=behind)

    @classmethod
    def accept_history(cls) -> None:
        """Go on from whatever the branch holds now (after a force-push upstream)."""
        cls.objects.filter(pk=1).update(
            last_seen_commit="", last_seen_at=None, last_pulled_commit="", last_pulled_at=None
        )

    @classmethod
    def failed(cls, error: str) -> timedelta:
        """Record a failed attempt; how long to wait before the next one (doubling)."""
        state = cls.current()
        failures = state.failures + 1
        wait = timedelta(
            seconds=min(10 * 2 ** min(failures - 1, 16), settings.REGISTRY_GIT_RETRY_MAX_SECONDS)
        )
        now = timezone.now()
        cls.objects.filter(pk=1).update(
            failures=failures, last_error=error, last_error_at=now, next_attempt_at=now + wait
        )
        return wait
