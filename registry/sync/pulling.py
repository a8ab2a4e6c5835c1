"""Bringing the repository's own changes into the registry, from the registry's clone.

For each agent file changed upstream since the last sync (the registry's own commits left
out): an agent the registry did not change since gets the new text as its next version (it
was reviewed in the repository), with the commit's subject and author; one changed on both
sides gets a change request holding the three-way merge, for a person to resolve; a new file
is a new agent; a removed file proposes archiving its agent. A file that breaks the import
rules is reported and skipped, never stored half-way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from registry.agentfiles.merge import merge
from registry.models import (
    Agent,
    AuditEvent,
    ChangeRequest,
    RepositoryState,
    max_file_bytes,
    text_hash,
)
from registry.models.changes import WorkflowError
from registry.sync.files import UnsafePath, read_limited, target_path
from registry.sync.git import CHANGE_TRAILER, GitError
from registry.sync.importing import IncomingFile, import_files

logger = logging.getLogger(__name__)

# The author of what the repository proposes when no user has the commit author's email.
REPOSITORY_USER = "repository"


@dataclass
class Commit:
    sha: str
    email: str
    name: str
    subject: str


@dataclass
class PullReport:
    baseline: bool = False  # the first sync: the branch as it is, nothing brought in
    updated: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    proposed: list[int] = field(default_factory=list)  # change requests made
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "updated": self.updated,
            "created": self.created,
            "proposed": self.proposed,
            "rejected": [f"{path}: {reason}" for path, reason in self.rejected],
        }


def repository_user():
    """The registry's own account for what comes from the repository. It has no password,
    so nobody signs in as it; it is active, as only an active user's proposals count."""
    from django.contrib.auth.models import Group

    user, made = get_user_model().objects.get_or_create(
        username=REPOSITORY_USER, defaults={"first_name": "Repository"}
    )
    if made:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        # It proposes; reviewers approve what it proposes, as anyone's.
        user.groups.add(Group.objects.get(name="Editors"))
    return user


def _users_by_email(emails: set[str]) -> dict[str, object]:
    """The active users with these emails (lowercase), by email."""
    users = (
        get_user_model()
        .objects.annotate(email_lower=Lower("email"))
        .filter(is_active=True, email_lower__in=emails)
        .order_by("pk")
    )
    found = {}
    for user in users:
        found.setdefault(user.email_lower, user)
    return found


def changed_upstream(clone, since: str, upstream: str) -> dict[str, Commit | None]:
    """Agent paths (relative to the agents folder) changed by others' commits since..upstream,
    each with the last such commit touching it."""
    found: dict[str, Commit | None] = {}
    for commit, paths in _others_commits(clone, since, upstream):
        for path in paths:
            found[path] = commit
    return found


def commits_behind(clone, since: str, upstream: str) -> int:
    """How many of others' commits since..upstream change agent files."""
    return sum(1 for _ in _others_commits(clone, since, upstream))


def _others_commits(clone, since: str, upstream: str) -> Iterator[tuple[Commit, list[str]]]:
    """Others' commits since..upstream, oldest first, each with the agent files it changed
    (relative to the agents folder); the registry's own commits and those that change no
    agent file are left out."""
    subdir = clone.agents.relative_to(clone.root).as_posix()
    log = clone.git(
        "log", "--reverse", "--no-renames", "--name-only", "-z",
        f"--format=%x1e%H%x1f%ae%x1f%an%x1f%s%x1f%(trailers:key={CHANGE_TRAILER},valueonly)",
        f"{since}..{upstream}", "--", subdir if subdir != "." else ".",
    )  # fmt: skip
    prefix = "" if subdir == "." else subdir + "/"
    for record in log.split("\x1e")[1:]:
        header, _, names = record.partition("\0")  # -z: the header ends with a NUL
        sha, email, name, subject, trailer = (header.strip().split("\x1f") + [""] * 5)[:5]
        if trailer.strip():
            continue  # the registry's own commit: its change is in the registry already
        paths = [
            path[len(prefix) :]
            for path in (path.strip("\n") for path in names.strip("\n").split("\0"))
            if path.endswith(".md") and path.startswith(prefix)
        ]
        if paths:
            yield Commit(sha, email.lower(), name, subject), paths


def pull(clone, upstream: str | None, progress=None) -> PullReport:
    """What changed upstream since the last sync, into the registry. The clone's work tree is
    at upstream. progress: a Reporter, stepped per file."""
    report = PullReport()
    if not upstream:
        return report
    since = RepositoryState.current().last_pulled_commit
    if not since:
        RepositoryState.pulled(upstream)
        report.baseline = True
        return report
    if since == upstream:
        return report
    changed = changed_upstream(clone, since, upstream)
    if progress is not None:
        progress.start("Taking in the repository's changes", len(changed))
    users = _users_by_email({commit.email for commit in changed.values() if commit})
    by_commit: dict[str, list[IncomingFile]] = {}
    commits: dict[str, Commit] = {}
    removed = []
    for path, commit in changed.items():
        incoming = _read(clone, path)
        if incoming is None:
            removed.append((path, commit))
            continue
        by_commit.setdefault(commit.sha, []).append(incoming)
        commits[commit.sha] = commit
    for sha, files in by_commit.items():
        commit = commits[sha]
        imported = import_files(
            files,
            users.get(commit.email),
            skip_rejected=True,
            message=_message(commit),
            progress=progress,
        )
        report.created += imported.created
        report.updated += imported.updated
        report.rejected += imported.rejected
        for path in imported.conflicts:
            text = next(f.data for f in files if f.path == path).decode("utf-8")
            change = _propose_merge(clone, since, path, text, commit, users)
            if change is not None:
                report.proposed.append(change.pk)
    for path, commit in removed:
        if progress is not None:
            progress.step()
        change = _propose_archive(path, commit, users)
        if change is not None:
            report.proposed.append(change.pk)
    RepositoryState.pulled(upstream)
    AuditEvent.record("repository.pull", commit=upstream, **report.as_dict())
    return report


def _message(commit: Commit) -> str:
    limit = ChangeRequest._meta.get_field("message").max_length
    message = f"{commit.subject} (commit {commit.sha[:12]} by {commit.name} in the repository)"
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _read(clone, path: str) -> IncomingFile | None:
    """The file at path in the work tree; None when there is none (it was removed)."""
    try:
        target = target_path(clone.agents, path)
    except UnsafePath as error:
        return IncomingFile(path, refused=str(error))
    if target.is_symlink():
        return IncomingFile(path, refused="a symlink; not followed")
    if not target.is_file():
        return None
    return IncomingFile(path, read_limited(target, max_file_bytes()))


def _author(commit: Commit, users):
    return users.get(commit.email) or repository_user()


def _already_proposed(text: str) -> bool:
    return ChangeRequest.objects.active().filter(text_hash=text_hash(text)).exists()


def _propose_merge(clone, since, path, theirs, commit, users) -> ChangeRequest | None:
    """A change request for a file changed on both sides: the three-way merge of the text at
    the last sync, the registry's live text and the repository's, or the repository's text
    with the parts both changed named, when they do not merge."""
    agent = Agent.objects.select_related("live_version").get(path=path)
    subdir = clone.agents.relative_to(clone.root).as_posix()
    full = path if subdir == "." else f"{subdir}/{path}"
    try:
        base = clone.git("show", f"{since}:{full}")
    except GitError:  # the file is new upstream since the last sync
        base = ""
    live = agent.live_version.text
    merged = merge(base, theirs, live) if base else None
    text, message = theirs, _message(commit)
    if merged is not None and merged.text is not None:
        text = merged.text
        message = f"Merge of the repository's change: {message}"
    elif merged is not None:
        message = f"Changed on both sides ({', '.join(merged.conflicts)}): {message}"
    if _already_proposed(text):
        return None
    return _start(
        agent, text, message[: ChangeRequest._meta.get_field("message").max_length], commit, users
    )


def _propose_archive(path, commit, users) -> ChangeRequest | None:
    agent = Agent.objects.filter(path=path, archived=False).select_related("live_version").first()
    if (
        agent is None
        or ChangeRequest.objects.active()
        .filter(agent=agent, kind=ChangeRequest.Kind.ARCHIVE)
        .exists()
    ):
        return None
    try:
        change = ChangeRequest.propose_archive(agent, _author(commit, users))
    except ValidationError:
        return None
    _submit(change)
    return change


def _start(agent, text, message, commit, users) -> ChangeRequest | None:
    try:
        with transaction.atomic():
            change = ChangeRequest.start_draft(
                author=_author(commit, users), text=text, message=message, agent=agent
            )
    except ValidationError as refusal:
        logger.warning("not proposed from the repository: %s: %s", agent.path, refusal.messages)
        return None
    _submit(change)
    return change


def _submit(change: ChangeRequest) -> None:
    """Open for review at once: a draft of the repository's could be edited by nobody."""
    try:
        change.submit(change.author)
    except (
        WorkflowError,
        PermissionDenied,
    ) as refusal:  # errors it brings in: left as a draft, and said so
        logger.info("change #%s left as a draft: %s", change.pk, refusal)
