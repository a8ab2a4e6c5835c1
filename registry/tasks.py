"""Background work, run by `manage.py worker` processes: the repository sync, large imports,
and the recheck of every agent's problems under today's rules."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django_tasks import TaskContext, TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from registry.models import Agent, Push, RepositoryState, Version
from registry.models.deriving import recheck
from registry.models.repository import repository_configured
from registry.models.tasks import Reporter
from registry.sync import background_import
from registry.sync.repository import RemoteError, push_waiting


@task(takes_context=True)
def sync_repository(context: TaskContext) -> dict:
    """Take in the repository's changes and push every published change that waits; then
    queue the next sync, REGISTRY_GIT_FETCH_SECONDS later. A remote that cannot be reached
    leaves the pushes waiting, and queues the next try after a wait that doubles each time."""
    if not repository_configured():
        return {"skipped": "no repository is configured (REGISTRY_GIT_REMOTE)"}
    try:
        report = push_waiting(Reporter(context.task_result.id)).as_dict()
    except RemoteError:
        state = RepositoryState.current()
        if state.next_attempt_at:
            enqueue_sync(delay=max(state.next_attempt_at - timezone.now(), timedelta(0)))
        raise
    if report["busy"]:
        # Another sync holds the repository, and may have read the waiting pushes before the
        # one that queued this sync was committed: this one tries again shortly.
        sync_repository.using(run_after=timezone.now() + BUSY_RETRY).enqueue()
        return report
    # The next fetch, unless one is queued already (by a publish, a webhook, Push now).
    enqueue_sync(delay=timedelta(seconds=settings.REGISTRY_GIT_FETCH_SECONDS))
    return report


BUSY_RETRY = timedelta(seconds=2)


@task()
def run_import(job_id: int) -> dict:
    """Import a large upload's files (an ImportJob)."""
    return background_import.run(job_id)


@task(takes_context=True)
def recheck_agents(context: TaskContext, everything: bool = False) -> dict:
    """Find again the problems of every version found under other rules (everything: of
    every version), then the agents' problems and the open changes' counts."""
    versions = Version.objects.all() if everything else Agent.objects.stale_versions()
    progress = Reporter(context.task_result.id).start("Rechecking versions", versions.count())
    count = recheck(progress=progress, everything=everything)
    with_errors = Agent.objects.active().filter(error_count__gt=0).count()
    return {"rechecked": count, "with_errors": with_errors}


# The tasks by their path, and what the Tasks page calls each.
TASKS_BY_PATH = {task.module_path: task for task in (sync_repository, run_import, recheck_agents)}
TASK_LABELS = {
    sync_repository.module_path: "Repository sync",
    run_import.module_path: "Import",
    recheck_agents.module_path: "Recheck of the agents",
}


def enqueue_recheck(*, everything: bool = False):
    """Queue a recheck, unless one is queued and not yet started."""
    queued = DBTaskResult.objects.filter(
        task_path=recheck_agents.module_path, status=TaskResultStatus.READY
    )
    if queued.exists():
        return None
    return recheck_agents.enqueue(everything=everything)


def enqueue_sync(delay: timedelta | None = None, *, force: bool = False):
    """Queue a sync, unless one is queued already: it does all that waits. Run now, unless one
    due now is queued; after delay, unless any is queued. force: now, whatever is queued (Push
    now, Retry)."""
    queued = DBTaskResult.objects.filter(
        task_path=sync_repository.module_path, status=TaskResultStatus.READY
    )
    if delay:
        if queued.exists():
            return None
        return sync_repository.using(run_after=timezone.now() + delay).enqueue()
    if not force and queued.ready().exists():
        return None
    return sync_repository.enqueue()


def queue_sync_after_publish(sender, instance: Push, created: bool, **kwargs) -> None:
    """A push queued in a publishing transaction: its sync is queued when that commits."""
    if created:
        transaction.on_commit(enqueue_sync, robust=True)


def connect() -> None:
    post_save.connect(queue_sync_after_publish, sender=Push, dispatch_uid="registry-push-queued")
