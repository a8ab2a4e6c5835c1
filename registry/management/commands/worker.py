"""Run background tasks: django-tasks-db's worker, after queueing a sync for pushes that wait."""

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorker

from registry.models import Push
from registry.models.repository import repository_configured
from registry.tasks import enqueue_sync


class Command(DatabaseWorker):
    help = (
        "Run the registry's background tasks (pushes to the repository). Several may run at "
        "once, on several machines; each task is taken by exactly one of them."
    )

    def handle(self, *args, **options):
        # Pushes whose sync was lost (a worker killed mid-run) go out now.
        if repository_configured() and Push.objects.waiting().exists():
            enqueue_sync()
        return super().handle(*args, **options)
