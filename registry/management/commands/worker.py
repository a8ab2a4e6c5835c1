"""Run background tasks: django-tasks-db's worker, after queueing a sync of the repository."""

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from registry.models.repository import repository_configured
from registry.tasks import enqueue_sync


class Command(DatabaseWorker):
    help = (
        "Run the registry's background tasks (pushes to the repository). Several may run at "
        "once, on several machines; each task is taken by exactly one of them."
    )

    def handle(self, *args, **options):
        # The repository is synced at start, and from then on every REGISTRY_GIT_FETCH_SECONDS;
        # pushes whose sync was lost (a worker killed mid-run) go out now.
        if repository_configured():
            enqueue_sync()
        return super().handle(*args, **options)
