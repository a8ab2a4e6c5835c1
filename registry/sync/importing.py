"""Import: files stored byte for byte with their problems, all or nothing, in bulk."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DatabaseError, connections, transaction

from registry.agentfiles.document import AgentDocument, DocumentError
from registry.models.agents import (
    Agent,
    Version,
    logger,
    max_file_bytes,
    text_hash,
    update_rows,
    version_fields,
)
from registry.models.deriving import PARALLEL_MIN_FILES, deriving
from registry.sync.files import (
    UnsafePath,
    clean_relative_path,
    readable_path,
)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    with_errors: list[str] = field(default_factory=list)
    stored: bool = False

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.conflicts)} conflicts, "
            f"{len(self.rejected)} rejected, {len(self.with_errors)} with errors"
        )

    def audit_details(self) -> dict:
        """What the import's audit event records of it."""
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "conflicts": self.conflicts,
            "rejected": [path for path, _ in self.rejected],
            "stored": self.stored,
        }


@dataclass(frozen=True)
class IncomingFile:
    """A file offered for import: its repository path and bytes, or why it was refused."""

    path: str
    data: bytes = b""
    refused: str = ""


def screen(
    files: list[IncomingFile],
) -> tuple[list[tuple[str, str, AgentDocument]], list[tuple[str, str]]]:
    """The files import would take, as (path, text, document), and those it refuses, as
    (path, reason): not UTF-8, NUL, too large, symlink, unsafe path, a path given twice."""
    accepted: list[tuple[str, str, AgentDocument]] = []
    rejected: list[tuple[str, str]] = []
    seen: set[str] = set()
    for incoming in files:
        reason = incoming.refused
        if not reason:
            try:
                path = clean_relative_path(incoming.path)
                document = AgentDocument.parse(incoming.data, max_bytes=max_file_bytes())
            except UnsafePath as error:
                reason = str(error)
            except DocumentError as error:
                reason = f"line {error.line}: {error.message}"
            else:
                if path in seen:
                    reason = f"the path {path} is given more than once"
        if reason:
            rejected.append((readable_path(incoming.path), reason))
        else:
            accepted.append((path, document.to_bytes().decode("utf-8"), document))
            seen.add(path)
    return accepted, rejected


def import_files(
    files: list[IncomingFile],
    author=None,
    *,
    dry_run: bool = False,
    skip_rejected: bool = False,
    message: str = "Imported",
    progress=None,
    workers: int = 1,
) -> ImportReport:
    """Store files byte for byte with their problems, all or nothing.

    A rejected file (not UTF-8, NUL, too large, symlink, unsafe path) stores nothing at all
    unless skip_rejected. Unchanged text makes no new version. A file changed both here and in
    the repository since the last sync is a conflict and is not overwritten. workers > 1
    validates the files in that many forked processes while this one writes: for a command
    line, never for a web request (forking a threaded server process is not safe)."""
    report = ImportReport()
    accepted, report.rejected = screen(files)
    accepted_paths = {path for path, _, _ in accepted}
    if report.rejected and not skip_rejected:
        return report

    with transaction.atomic():
        existing = {
            agent.path: agent
            for agent in Agent.objects.select_for_update(of=("self",))
            .select_related("live_version")
            .defer("live_version__text")
            .filter(path__in=accepted_paths)
            .order_by("pk")
        }
        to_store: list[tuple[str, str, AgentDocument, Agent | None]] = []
        synced: list[Agent] = []
        for path, text, document in accepted:
            agent = existing.get(path)
            digest = text_hash(text)
            live = agent.live_version if agent is not None else None
            if live is not None and digest in (live.sha256, agent.synced_hash):
                # Unchanged, or as last synced: the registry's newer version stays, to be exported.
                report.unchanged.append(path)
                if agent.synced_hash != digest:
                    agent.synced_hash = digest
                    synced.append(agent)
            elif live is not None and agent.synced_hash and live.sha256 != agent.synced_hash:
                report.conflicts.append(path)
            else:
                (report.created if agent is None else report.updated).append(path)
                to_store.append((path, text, document, agent))
                continue  # its progress steps as it is stored
            if progress is not None:
                progress.step()
        if not dry_run:
            update_rows(synced, ["synced_hash"])
            documents = [(document, path) for path, _, document, _ in to_store]
            with deriving(documents, workers) as derived:
                for start in range(0, len(to_store), IMPORT_BATCH):
                    batch = to_store[start : start + IMPORT_BATCH]
                    fields = [next(derived) for _ in batch]
                    _store_imported(batch, fields, author, message, progress)
            Agent.objects.refresh_problems()
            report.stored = True
        elif progress is not None:
            progress.step(len(to_store))
    if report.stored and len(to_store) >= PARALLEL_MIN_FILES:
        # Fresh statistics after a large import, so the planner reads the list's indexes and
        # export the versions' hashes from theirs (SQLite has none until ANALYZE runs, and
        # without them reads the version rows; PostgreSQL's autovacuum would come later).
        try:
            with connections[Agent.objects.db].cursor() as cursor:
                for model in (Agent, Version):
                    cursor.execute(f"ANALYZE {model._meta.db_table}")
        except DatabaseError as error:  # the import is stored; only the statistics are old
            logger.warning("ANALYZE after the import failed: %s", error)
    if dry_run:
        report.with_errors = [
            path for path, _, document in accepted if version_fields(document, path)["error_count"]
        ]
    else:
        report.with_errors = list(
            Agent.objects.filter(path__in=accepted_paths, error_count__gt=0).values_list(
                "path", flat=True
            )
        )
    return report


IMPORT_BATCH = 500


def _store_imported(batch, fields, author, message: str, progress) -> None:
    """Store (path, text, document, agent or None) as each agent's next version, in bulk, with
    fields: (version fields, agent fields) of each document, derived already."""
    Agent.objects.make_live(
        [
            (agent, path, document, derived)
            for (path, _, document, agent), derived in zip(batch, fields, strict=True)
        ],
        author,
        message,
        synced=True,
    )
    if progress is not None:
        progress.step(len(batch))


def propose_import(
    files: list[IncomingFile], author, message: str = "", *, skip_rejected: bool = False
):
    """The files as one change set for review instead of stored versions: (the report of what
    the set holds, the change request or None when nothing differs). The rules are import's
    (rejected files stop it unless skip_rejected; unchanged ones are left out; a file changed
    both here and in the repository is a conflict, left out); the set's are those of any
    change set (a new agent's name must be valid and free: ValidationError otherwise)."""
    from registry.models.change_sets import start_set

    report = ImportReport()
    accepted, report.rejected = screen(files)
    if report.rejected and not skip_rejected:
        return report, None
    existing = {
        agent.path: agent
        for agent in Agent.objects.select_related("live_version")
        .defer("live_version__text")
        .filter(path__in=[path for path, _, _ in accepted])
    }
    entries = []
    for path, text, _ in accepted:
        agent = existing.get(path)
        live = agent.live_version if agent is not None else None
        if live is not None and text_hash(text) in (live.sha256, agent.synced_hash):
            report.unchanged.append(path)
        elif live is not None and agent.synced_hash and live.sha256 != agent.synced_hash:
            report.conflicts.append(path)
        else:
            (report.created if agent is None else report.updated).append(path)
            entries.append((agent, path, text))
    if not entries:
        return report, None
    change = start_set(author=author, entries=entries, message=message)
    report.with_errors = list(change.items.filter(error_count__gt=0).values_list("path", flat=True))
    return report, change
