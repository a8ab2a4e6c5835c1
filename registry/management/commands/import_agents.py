"""Import every agent file under a folder, byte for byte, with its problems."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.models import AuditEvent
from registry.sync.files import Progress, find_markdown, read_limited
from registry.sync.importing import IncomingFile, import_files


class Command(BaseCommand):
    help = (
        "Import every *.md under DIR (never inside .git), keeping its path relative to DIR. "
        "Unchanged files make no new version. Any rejected file stores nothing unless "
        "--skip-rejected. Exits 1 when a file was rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="DIR")
        parser.add_argument("--dry-run", action="store_true", help="report, store nothing")
        parser.add_argument(
            "--skip-rejected", action="store_true", help="store the good files anyway"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=min(len(os.sched_getaffinity(0)), 8),
            help="processes that validate files for a large import (default: one per CPU "
            "this process may use, at most 8)",
        )

    def handle(self, *args, folder, dry_run, skip_rejected, jobs, **options):
        root = Path(folder)
        if not root.is_dir():
            raise CommandError(f"{folder}: no such folder", returncode=2)
        limit = settings.REGISTRY_MAX_FILE_BYTES
        incoming = []
        for found in find_markdown(root):
            if found.is_symlink:
                incoming.append(IncomingFile(found.path, refused="is a symlink; not followed"))
                continue
            try:
                incoming.append(IncomingFile(found.path, read_limited(found.absolute, limit)))
            except OSError as error:
                incoming.append(IncomingFile(found.path, refused=f"cannot read: {error.strerror}"))

        progress = Progress("Importing", len(incoming), self.stderr._out)
        report = import_files(
            incoming,
            dry_run=dry_run,
            skip_rejected=skip_rejected,
            progress=progress,
            workers=max(jobs, 1),
        )
        progress.close()
        if not dry_run:
            AuditEvent.record(
                "import",
                name="manage.py import_agents",
                folder=str(root.resolve()),
                **report.audit_details(),
            )

        for path, reason in report.rejected:
            self.stderr.write(f"rejected {path}: {reason}")
        for path in report.conflicts:
            self.stderr.write(
                f"conflict {path}: changed in the repository and in the registry since the "
                "last sync; not overwritten"
            )
        prefix = "Dry run: " if dry_run else ""
        self.stdout.write(prefix + report.summary())
        if report.rejected and not skip_rejected:
            self.stdout.write("Nothing was stored because files were rejected.")
        if report.rejected:
            raise SystemExit(1)
