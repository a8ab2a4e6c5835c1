"""Find again the problems that were found under other rules (a new rule, a changed setting)."""

import os
import time

from django.core.management.base import BaseCommand

from registry.models import Agent
from registry.models.deriving import recheck
from registry.sync.files import Progress


class Command(BaseCommand):
    help = (
        "Recheck, under today's rules and settings, every version whose problems were found "
        "under others, then the agents' problems and the open changes' counts. Quick when "
        "nothing changed: `make run` and `make serve` run it before serving."
    )

    def handle(self, *args, **options):
        stale = Agent.objects.stale_versions().count()
        if not stale:
            self.stdout.write("Every agent's problems were found under today's rules.")
            return
        started = time.monotonic()
        progress = Progress("Rechecking", stale, self.stderr._out)
        count = recheck(workers=len(os.sched_getaffinity(0)), progress=progress)
        progress.close()
        with_errors = Agent.objects.active().filter(error_count__gt=0).count()
        self.stdout.write(
            f"Rechecked {count} version{'' if count == 1 else 's'} in "
            f"{time.monotonic() - started:.1f} s; {with_errors} active "
            f"agent{' has' if with_errors == 1 else 's have'} errors now."
        )
