"""Export: every live agent written to a folder at its path, only what differs, atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from registry.models.agents import Agent, update_rows
from registry.sync.files import (
    UnsafePath,
    read_existing,
    remove_leftover_temporaries,
    target_path,
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

    With check, write nothing: `written` and `removed` then list what differs."""
    report = ExportReport()
    if not check:
        report.leftovers = remove_leftover_temporaries(root)
    exported = Agent.objects.filter(live_version__isnull=False).order_by("path")
    # Every path is checked before anything is written: one that cannot be written (unsafe,
    # too long) is refused, and never stops the export half-way.
    targets = {}
    for path in exported.values_list("path", flat=True).iterator(chunk_size=1000):
        try:
            targets[path] = target_path(root, path)
        except UnsafePath as error:
            report.refused.append((path, str(error)))
    rows = exported.values_list(
        "pk", "path", "archived", "synced_hash", "live_version__sha256", "live_version__text"
    )
    synced = []
    for pk, path, archived, synced_hash, digest, text in rows.iterator(chunk_size=1000):
        if progress is not None:
            progress.step()
        target = targets.get(path)
        if target is None:
            continue
        if archived:
            try:
                if prune and (target.is_file() or target.is_symlink()):
                    if not check:
                        target.unlink()
                    report.removed.append(path)
            except OSError as error:
                report.refused.append((path, error.strerror or str(error)))
            continue
        data = text.encode("utf-8")
        try:
            if read_existing(target) == data:
                report.unchanged.append(path)
            else:
                report.written.append(path)
                if not check:
                    write_atomic(target, data)
        except OSError as error:
            report.refused.append((path, error.strerror or str(error)))
            continue
        if synced_hash != digest:
            synced.append(Agent(pk=pk, synced_hash=digest))
    if not check:
        update_rows(synced, ["synced_hash"])
    return report
