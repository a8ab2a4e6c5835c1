"""Export: every live agent written to a folder at its path, only what differs, atomically."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from registry.models.agents import Agent, update_rows
from registry.sync.files import (
    UnsafePath,
    fsync_folder,
    read_existing,
    remove_leftover_temporaries,
    target_fspath,
    write_atomic,
)


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    leftovers: int = 0

    def summary(self, check: bool = False) -> str:
        written, removed = ("differ", "to remove") if check else ("written", "removed")
        return (
            f"{len(self.written)} {written}, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} {removed}, {len(self.refused)} refused"
            + (f", {self.leftovers} leftover temporary files removed" if self.leftovers else "")
        )


def export_agents(root: Path, *, check: bool = False, prune: bool = False, progress=None):
    """Write each live agent to its path under root where the bytes differ (atomically).

    With check, write nothing: `written` and `removed` then list what differs. A file is
    compared by its hash with the live version's, so the texts read from the database are
    only those to write."""
    report = ExportReport()
    if not check:
        report.leftovers = remove_leftover_temporaries(root)
    exported = Agent.objects.filter(live_version__isnull=False).order_by("path")
    # Nothing is written until every row was read: a path that cannot be written (unsafe, too
    # long) is refused, and never stops the export half-way.
    folder, targets, checked = os.fspath(root), {}, set()
    rows = exported.values_list("pk", "path", "archived", "synced_hash", "live_version__sha256")
    synced, differing = [], {}
    for pk, path, archived, synced_hash, digest in rows.iterator(chunk_size=1000):
        if progress is not None:
            progress.step()
        try:
            target = targets[path] = target_fspath(folder, path, checked)
        except UnsafePath as error:
            report.refused.append((path, str(error)))
            continue
        if archived:
            try:
                archived_file = Path(target)
                if prune and (archived_file.is_file() or archived_file.is_symlink()):
                    if not check:
                        archived_file.unlink()
                    report.removed.append(path)
            except OSError as error:
                report.refused.append((path, error.strerror or str(error)))
            continue
        try:
            existing = read_existing(target)
        except OSError as error:
            report.refused.append((path, error.strerror or str(error)))
            continue
        if existing is not None and hashlib.sha256(existing).hexdigest() == digest:
            report.unchanged.append(path)
        else:
            differing[pk] = path
        if synced_hash != digest:
            synced.append(Agent(pk=pk, synced_hash=digest))
    written_to = set()
    for start in range(0, len(differing), TEXTS_AT_ONCE):
        pks = list(differing)[start : start + TEXTS_AT_ONCE]
        texts = Agent.objects.filter(pk__in=pks).values_list("pk", "live_version__text")
        for pk, text in sorted(texts, key=lambda row: differing[row[0]]):
            path = differing[pk]
            report.written.append(path)
            if check:
                continue
            try:
                write_atomic(Path(targets[path]), text.encode("utf-8"), sync_folder=False)
            except OSError as error:
                report.written.remove(path)
                report.refused.append((path, error.strerror or str(error)))
                synced = [agent for agent in synced if agent.pk != pk]
                continue
            written_to.add(os.path.dirname(targets[path]))
    # Each folder written to is synced once, which makes its files' renames durable.
    for written_folder in sorted(written_to):
        fsync_folder(written_folder)
    if not check:
        update_rows(synced, ["synced_hash"])
    return report


# Texts of the agents to write read from the database this many at a time.
TEXTS_AT_ONCE = 500
