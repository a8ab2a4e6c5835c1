"""Background work, run by `manage.py worker` processes: the repository sync."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from registry.models import Push, RepositoryState
from registry.models.repository import repository_configured
from registry.sync.repository import RemoteError, push_waiting


@task()
def sync_repository() -> dict:
    """Push every published change that waits. A remote that cannot be reached leaves them
    waiting, and queues the next try after a wait that doubles each time."""
    if not repository_configured():
        return {"skipped": "no repository is configured (REGISTRY_GIT_REMOTE)"}
    try:
        return push_waiting().as_dict()
    except RemoteError:
        state = RepositoryState.current()
        if state.next_attempt_at:
            enqueue_sync(delay=max(state.next_attempt_at - timezone.now(), timedelta(0)))
        raise


# The tasks by their path, and what the Tasks page calls each.
TASKS_BY_PATH = {sync_repository.module_path: sync_repository}
TASK_LABELS = {sync_repository.module_path: "Repository sync"}


def enqueue_sync(delay: timedelta | None = None, *, force: bool = False):
    """Queue a sync (after delay), unless one is queued already: it pushes all that waits.
    force queues one to run now whatever is queued (Push now, Retry)."""
    if (
        not force
        and DBTaskResult.objects.filter(
            task_path=sync_repository.module_path, status=TaskResultStatus.READY
        ).exists()
    ):
        return None
    planned = sync_repository
    if delay:
        planned = planned.using(run_after=timezone.now() + delay)
    return planned.enqueue()


def queue_sync_after_publish(sender, instance: Push, created: bool, **kwargs) -> None:
    """A push queued in a publishing transaction: its sync is queued when that commits."""
    if created:
        transaction.on_commit(enqueue_sync, robust=True)


def connect() -> None:
    post_save.connect(queue_sync_after_publish, sender=Push, dispatch_uid="registry-push-queued")
