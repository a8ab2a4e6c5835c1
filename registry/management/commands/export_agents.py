"""Write the live version of every agent to its path under a folder, atomically."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from registry.models import Agent, AuditEvent
from registry.sync import git as gitexport
from registry.sync.exporting import export_agents
from registry.sync.files import Progress


class Command(BaseCommand):
    help = (
        "Write each agent's live version to its path under DIR, only where the bytes differ. "
        "--check writes nothing and exits 1 naming each differing path. --commit then commits "
        "the agent files that changed, and only them, when DIR is a git checkout."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="DIR")
        parser.add_argument("--check", action="store_true", help="write nothing; list what differs")
        parser.add_argument("--prune", action="store_true", help="remove archived agents' files")
        parser.add_argument(
            "--commit",
            action="store_true",
            help="commit the agent files that changed (DIR must be a git checkout)",
        )

    def handle(self, *args, folder, check, prune, commit, **options):
        root = Path(folder)
        if root.exists() and not root.is_dir():
            raise CommandError(f"{folder}: not a folder", returncode=2)
        if check and not root.is_dir():
            raise CommandError(f"{folder}: no such folder", returncode=2)
        if commit and check:
            raise CommandError("--commit and --check do not go together", returncode=2)
        # A folder not made yet is checked where it will be made.
        existing = next((folder for folder in (root, *root.parents) if folder.is_dir()), root)
        if commit and not gitexport.is_checkout(existing):
            raise CommandError(
                f"{folder}: not a git checkout, so --commit cannot commit there; nothing written",
                returncode=2,
            )
        root.mkdir(parents=True, exist_ok=True)
        total = Agent.objects.filter(live_version__isnull=False).count()
        progress = Progress("Exporting", total, sys.stderr)
        report = export_agents(root, check=check, prune=prune, progress=progress)
        progress.close()
        if not check:
            AuditEvent.record(
                "export",
                name="manage.py export_agents",
                folder=str(root.resolve()),
                written=report.written,
                removed=report.removed,
                refused=[path for path, _ in report.refused],
            )
        for path, reason in report.refused:
            self.stderr.write(f"refused {path}: {reason}")
        if check:
            for path in report.written:
                self.stdout.write(f"differs: {path}")
            for path in report.removed:
                self.stdout.write(f"archived, still present: {path}")
        self.stdout.write(report.summary(check))
        if commit:
            self.commit(root, prune, report)
        if report.refused or (check and (report.written or report.removed)):
            raise SystemExit(1)

    def commit(self, root: Path, prune: bool, report) -> None:
        refused = [path for path, _ in report.refused]
        try:
            result = gitexport.commit_export(root, prune=prune, refused=refused)
        except gitexport.GitError as error:
            raise CommandError(f"the files were written, but not committed: {error}") from None
        if result is None:
            self.stdout.write("Nothing to commit: the agent files are as last committed.")
            return
        AuditEvent.record(
            "export.commit",
            name="manage.py export_agents",
            folder=str(root.resolve()),
            commit=result.commit,
            paths=result.paths,
        )
        subject = result.message.splitlines()[0]
        self.stdout.write(f"Committed {result.commit[:12]}: {subject}")
