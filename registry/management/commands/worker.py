"""Run background tasks: django-tasks-db's worker, after queueing a sync of the repository and,
when the rules changed, a recheck of the agents' problems."""

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from registry.models import Agent
from registry.models.repository import repository_configured
from registry.tasks import enqueue_recheck, enqueue_sync


class Command(DatabaseWorker):
    help = (
        "Run the registry's background tasks (the repository sync, large imports, rechecks). "
        "Several may run at once, on several machines; each task is taken by exactly one."
    )

    def handle(self, *args, **options):
        # The repository is synced at start, and from then on every REGISTRY_GIT_FETCH_SECONDS;
        # pushes whose sync was lost (a worker killed mid-run) go out now.
        if repository_configured():
            enqueue_sync()
        # New rules (a deploy, a changed setting): the problems they find, off the request path.
        if Agent.objects.stale_versions().exists():
            enqueue_recheck()
        return super().handle(*args, **options)
