"""Drift: how the repository's agent files and the registry's live versions differ, and which
side changed since the last sync; a file that changed in the repository can be imported as a
change request, which then goes through review."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from registry.agentfiles import validation
from registry.agentfiles.document import AgentDocument, DocumentError
from registry.agentfiles.rendering import DiffLine, unified_diff
from registry.models import Agent, ChangeRequest, text_hash
from registry.sync.files import (
    UnsafePath,
    clean_relative_path,
    find_markdown,
    read_limited,
    readable_path,
)
from registry.sync.repository import Clone, clone_folder

NEW_FILE = "new-file"


NOT_EXPORTED = "not-exported"


DELETED_IN_REPOSITORY = "deleted-in-repository"


CHANGED_IN_REPOSITORY = "changed-in-repository"


CHANGED_IN_REGISTRY = "changed-in-registry"


CONFLICT = "conflict"


NEVER_SYNCED = "never-synced"


ARCHIVED = "archived"


UNREADABLE = "unreadable"


# state: (label, what it means, badge class). In the order the page lists them.
STATES = {
    CONFLICT: (
        "Changed on both sides",
        "The file and the agent both changed since the last sync. Importing proposes the "
        "repository's text over the registry's; reconcile the two in the draft.",
        "error",
    ),
    NEVER_SYNCED: (
        "Differs, never synced",
        "The file and the agent differ, and no sync is recorded, so which side changed is not "
        "known.",
        "error",
    ),
    CHANGED_IN_REPOSITORY: (
        "Changed in the repository",
        "The file changed in the repository since the last sync; the registry's agent did not.",
        "warning",
    ),
    NEW_FILE: (
        "Only in the repository",
        "A new file: no agent in the registry has this path.",
        "warning",
    ),
    CHANGED_IN_REGISTRY: (
        "Changed in the registry",
        "The agent changed in the registry since the last sync and is not exported yet.",
        "info",
    ),
    NOT_EXPORTED: (
        "Only in the registry",
        "The agent has no file in the repository: it is not exported yet.",
        "info",
    ),
    DELETED_IN_REPOSITORY: (
        "Removed from the repository",
        "The file was removed from the repository after the last sync; the registry still has "
        "the agent (archive it through a change, or export to write the file back).",
        "warning",
    ),
    ARCHIVED: (
        "Archived, file still present",
        "The agent is archived in the registry; `export_agents --prune` removes its file.",
        "info",
    ),
    UNREADABLE: ("Not an agent file", "The registry cannot read this file.", "error"),
}


IMPORTABLE = {CONFLICT, NEVER_SYNCED, CHANGED_IN_REPOSITORY, NEW_FILE}


@dataclass
class DriftEntry:
    """One path whose file and agent differ."""

    path: str
    state: str
    agent: Agent | None = None
    file_hash: str = ""
    reason: str = ""
    diff: list[DiffLine] = field(default_factory=list)
    diff_from: str = ""
    diff_to: str = ""
    open_change: int | None = None

    @property
    def label(self) -> str:
        return STATES[self.state][0]

    @property
    def explanation(self) -> str:
        return STATES[self.state][1]

    @property
    def badge(self) -> str:
        return STATES[self.state][2]

    @property
    def can_import(self) -> bool:
        return self.state in IMPORTABLE and self.open_change is None

    @property
    def whole_file(self) -> bool:
        """The diff is all of one file (nothing on the other side): shown folded."""
        return self.state in (NEW_FILE, NOT_EXPORTED)

    @property
    def diff_label(self) -> str:
        if self.whole_file:
            return f"The whole file, as the {self.diff_to} has it"
        return f"Diff from the {self.diff_from} to the {self.diff_to}"


@dataclass
class DriftReport:
    folder: str
    problem: str = ""
    entries: list[DriftEntry] = field(default_factory=list)
    in_sync: int = 0

    def counts(self) -> list[tuple[str, str, int]]:
        """(label, badge, how many) per state that occurs, in the page's order."""
        found = [entry.state for entry in self.entries]
        return [
            (label, badge, found.count(state))
            for state, (label, _, badge) in STATES.items()
            if state in found
        ]


@dataclass
class RepositoryFile:
    text: str = ""
    reason: str = ""


def read_file(absolute: Path) -> RepositoryFile:
    """A file's text as import would store it, or why import would refuse it."""
    if absolute.is_symlink():
        return RepositoryFile(reason="a symbolic link, not followed")
    try:
        data = read_limited(absolute, settings.REGISTRY_MAX_FILE_BYTES)
        document = AgentDocument.parse(data, max_bytes=settings.REGISTRY_MAX_FILE_BYTES)
    except OSError as error:
        return RepositoryFile(reason=f"cannot read: {error.strerror or error}")
    except DocumentError as error:
        return RepositoryFile(reason=f"line {error.line}: {error.message}")
    return RepositoryFile(text=document.to_bytes().decode("utf-8"))


def read_repository(root: Path) -> dict[str, RepositoryFile]:
    """Every *.md under root (never inside .git), by its path relative to root; a path that
    import would refuse (too long, not UTF-8) as why."""
    files = {}
    for found in find_markdown(root):
        try:
            clean_relative_path(found.path)
        except UnsafePath as error:
            files[readable_path(found.path)] = RepositoryFile(reason=str(error))
        else:
            files[found.path] = read_file(found.absolute)
    return files


def repository_root() -> tuple[Path | None, str]:
    """The configured repository folder, or None and why there is none."""
    configured = settings.REGISTRY_REPOSITORY_DIR
    if not configured and settings.REGISTRY_GIT_REMOTE:
        # The registry's own clone, as its last sync left it: the remote's branch.
        agents = Clone(clone_folder()).agents
        if not agents.is_dir():
            return None, (
                "The registry has no clone of the repository yet: it is made by the first "
                "sync (Push now on the Repository page)."
            )
        return agents, ""
    if not configured:
        return None, (
            "No repository is configured: set REGISTRY_GIT_REMOTE to the team's repository, "
            "or REGISTRY_REPOSITORY_DIR to a checkout of it."
        )
    root = Path(configured)
    if not root.is_dir():
        return None, f"The repository folder {configured} does not exist (REGISTRY_REPOSITORY_DIR)."
    return root, ""


def _classify(
    repository: str | None, live: str, synced_hash: str, archived: bool
) -> tuple[str, str, str] | None:
    """(state, diff from, diff to) for one path, or None when the two sides agree."""
    live_hash = text_hash(live)
    if repository is None:
        if archived:
            return None
        if synced_hash and synced_hash == live_hash:
            return DELETED_IN_REPOSITORY, "", ""
        return NOT_EXPORTED, "repository", "registry"
    if archived:
        return ARCHIVED, "", ""
    file_hash = text_hash(repository)
    if file_hash == live_hash:
        return None
    if not synced_hash:
        return NEVER_SYNCED, "registry", "repository"
    if live_hash == synced_hash:
        return CHANGED_IN_REPOSITORY, "registry", "repository"
    if file_hash == synced_hash:
        return CHANGED_IN_REGISTRY, "repository", "registry"
    return CONFLICT, "registry", "repository"


def compare(root: Path) -> DriftReport:
    """Compare the files under root with the agents' live versions, path by path."""
    report = DriftReport(folder=str(root))
    files = read_repository(root)
    agents = {
        agent.path: agent
        for agent in Agent.objects.filter(live_version__isnull=False).select_related("live_version")
    }
    for path in sorted(set(files) | set(agents)):
        file, agent = files.get(path), agents.get(path)
        if file is not None and file.reason:
            report.entries.append(DriftEntry(path, UNREADABLE, agent, reason=file.reason))
            continue
        repository = file.text if file is not None else None
        if agent is None:
            entry = DriftEntry(path, NEW_FILE, None, text_hash(repository), diff_to="repository")
            entry.diff = unified_diff("", repository)
            report.entries.append(entry)
            continue
        live = agent.live_version.text
        found = _classify(repository, live, agent.synced_hash, agent.archived)
        if found is None:
            if repository is not None and not agent.archived:
                report.in_sync += 1
            continue
        state, diff_from, diff_to = found
        file_hash = text_hash(repository) if repository is not None else ""
        entry = DriftEntry(path, state, agent, file_hash)
        if diff_from:
            sides = {"registry": live, "repository": repository or ""}
            entry.diff = unified_diff(sides[diff_from], sides[diff_to])
            entry.diff_from, entry.diff_to = diff_from, diff_to
        report.entries.append(entry)
    _note_open_changes(report.entries)
    report.entries.sort(key=lambda entry: (list(STATES).index(entry.state), entry.path))
    return report


def _note_open_changes(entries: list[DriftEntry]) -> None:
    """Mark the files already proposed, with exactly their text, by a change still in progress."""
    wanted = {entry.file_hash for entry in entries if entry.state in IMPORTABLE}
    open_changes = dict(
        ChangeRequest.objects.active()
        .filter(text_hash__in=wanted)
        .order_by("pk")  # the newest wins
        .values_list("text_hash", "pk")
    )
    for entry in entries:
        if entry.state in IMPORTABLE:
            entry.open_change = open_changes.get(entry.file_hash)


def import_message(path: str, document: AgentDocument, agent: Agent | None) -> str:
    """The change's message: where the text came from, and for a new agent where the registry
    will put it, which is made from its name and is not necessarily where the file is."""
    message = f"Imported from the repository: {path}"
    name = validation.agent_name(document) or ""
    # A new agent's name is valid, or the change is refused (AgentQuerySet.check_proposed_name).
    if agent is None and validation.is_valid_name(name):
        new_path = Agent.path_for_name(name)
        if new_path != path:
            message += f" (published, it will be written to {new_path}, after its name)"
    limit = ChangeRequest._meta.get_field("message").max_length
    return message if len(message) <= limit else message[: limit - 1] + "…"
