"""Committing an export: the agent files that changed, with who wrote and approved each one."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import F

from registry.models import Agent, ChangeRequest, Review

DEFAULT_NAME = "Agent Registry"
DEFAULT_EMAIL = "registry@localhost"
GIT_TIMEOUT = 120
# The trailer naming the change request a commit of the registry's sync publishes: how a sync
# knows the commits it pushed, and a pull the commits it need not take in.
CHANGE_TRAILER = "Registry-Change"


class GitError(Exception):
    """git failed; the message is what it said."""


def git_environment() -> dict[str, str]:
    """The environment git runs in: the identity from GIT_AUTHOR_* and GIT_COMMITTER_* when
    set, else the registry's own, so that a commit never depends on a global git identity;
    pathspecs taken literally, so that a path holding * or [ means only itself."""
    env = dict(os.environ)
    for variable, default in (
        ("GIT_AUTHOR_NAME", DEFAULT_NAME),
        ("GIT_AUTHOR_EMAIL", DEFAULT_EMAIL),
        ("GIT_COMMITTER_NAME", DEFAULT_NAME),
        ("GIT_COMMITTER_EMAIL", DEFAULT_EMAIL),
    ):
        env[variable] = env.get(variable) or default
    env["GIT_LITERAL_PATHSPECS"] = "1"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def run_git(
    root: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run git in root with a fixed argument list (never a shell), with env added to its
    environment; what it did, whatever its exit status. GitError when it could not run."""
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            env={**git_environment(), **(env or {})},
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git {args[0]}: {error}") from None


def said(result: subprocess.CompletedProcess) -> str:
    """What a failed git said."""
    return (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"


def git(root: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    """Run git in root with a fixed argument list (never a shell); its output, or GitError."""
    result = run_git(root, *args, stdin=stdin, env=env)
    if result.returncode != 0:
        raise GitError(f"git {args[0]}: {said(result)}")
    return result.stdout


def is_checkout(root: Path) -> bool:
    """Whether root is inside the work tree of a git repository."""
    try:
        return git(root, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except GitError:
        return False


def changed_paths(root: Path, candidates: set[str]) -> list[str]:
    """Those of candidates (paths relative to root) that differ from the last commit: modified,
    new (untracked) or deleted. Whatever else differs in the checkout is left alone."""
    prefix = git(root, "rev-parse", "--show-prefix").strip()
    status = git(
        root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--", "."
    )
    changed = set()
    for entry in status.split("\0"):
        if len(entry) < 4:
            continue
        path = entry[3:]  # "XY path", relative to the top of the repository
        if path.startswith(prefix):
            relative = path[len(prefix) :]
            if relative in candidates:
                changed.add(relative)
    return sorted(changed)


@dataclass
class AgentCommitEntry:
    """One agent file in the commit: which version it now holds, who wrote and approved it."""

    path: str
    name: str
    number: int | None = None  # None: the file was removed (the agent is archived)
    author: str = ""
    approvers: list[str] = field(default_factory=list)
    co_author: str = ""  # "Name <email>" of the version's author, when they have an email
    risk: str = ""  # the published change's risk level (registry.agentfiles.risk); "" unknown

    @property
    def removed(self) -> bool:
        return self.number is None

    def summary(self) -> str:
        """The body line: `name vN (path): by X; approved by Y, Z`."""
        if self.removed:
            what = "removed: archived in the registry"
            if self.author:
                what += f" (archive proposed by {self.author})"
        else:
            what = f"by {self.author}" if self.author else "no author recorded"
        approved = (
            "approved by " + ", ".join(self.approvers)
            if self.approvers
            else "no approvals recorded"
        )
        version = f" v{self.number}" if not self.removed else ""
        return f"- {self.name}{version} ({self.path}): {what}; {approved}"

    def trailers(self) -> list[str]:
        lines = [f"Agent: {self.name} " + ("removed" if self.removed else f"v{self.number}")]
        if self.author:
            lines.append(f"Authored-by: {self.author}")
        lines += [f"Approved-by: {approver}" for approver in self.approvers]
        if self.risk:
            lines.append(f"Risk: {self.risk}")
        return lines


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _approvers(change_ids: list[int]) -> dict[int, list[str]]:
    """Per change request, the reviewers who approved the text it published (not the author),
    in the order they approved. One query."""
    rows = (
        Review.objects.filter(
            change_id__in=change_ids,
            verdict=Review.Verdict.APPROVE,
            text_hash=F("change__text_hash"),
        )
        .exclude(reviewer_id=F("change__author_id"))
        .order_by("created_at", "pk")
        .values_list("change_id", "reviewer__username")
    )
    found: dict[int, list[str]] = {}
    for change_id, username in rows:
        names = found.setdefault(change_id, [])
        if username not in names:
            names.append(username)
    return found


def describe(paths: list[str]) -> list[AgentCommitEntry]:
    """What the commit message says about each path: a few queries, whatever their number."""
    rows = Agent.objects.filter(path__in=paths).values(
        "pk",
        "path",
        "name",
        "archived",
        "live_version_id",
        "live_version__number",
        "live_version__author__username",
        "live_version__author__first_name",
        "live_version__author__last_name",
        "live_version__author__email",
    )
    agents = {row["path"]: row for row in rows}
    published, risks = {}, {}
    for version_id, change_id, level in ChangeRequest.objects.filter(
        published_version_id__in=[
            row["live_version_id"] for row in agents.values() if not row["archived"]
        ],
        status=ChangeRequest.Status.PUBLISHED,
    ).values_list("published_version_id", "pk", "risk"):
        published[version_id], risks[change_id] = change_id, level
    archives: dict[int, tuple[int, str]] = {}
    for agent_id, change_id, author, level in (
        ChangeRequest.objects.filter(
            agent_id__in=[row["pk"] for row in agents.values() if row["archived"]],
            kind=ChangeRequest.Kind.ARCHIVE,
            status=ChangeRequest.Status.PUBLISHED,
        )
        .order_by("updated_at", "pk")
        .values_list("agent_id", "pk", "author__username", "risk")
    ):
        archives[agent_id] = (change_id, author)  # the latest one wins
        risks[change_id] = level
    approvers = _approvers(list(published.values()) + [pk for pk, _ in archives.values()])

    entries = []
    for path in paths:
        row = agents[path]
        name = _one_line(row["name"]) or path
        if row["archived"]:
            change_id, author = archives.get(row["pk"], (None, ""))
            entries.append(
                AgentCommitEntry(
                    path,
                    name,
                    None,
                    author,
                    approvers.get(change_id, []),
                    risk=risks.get(change_id, ""),
                )
            )
            continue
        author = row["live_version__author__username"] or ""
        entries.append(
            AgentCommitEntry(
                path,
                name,
                row["live_version__number"],
                author,
                approvers.get(published.get(row["live_version_id"]), []),
                risk=risks.get(published.get(row["live_version_id"]), ""),
                co_author=_co_author(
                    author,
                    row["live_version__author__first_name"],
                    row["live_version__author__last_name"],
                    row["live_version__author__email"],
                ),
            )
        )
    return entries


def _co_author(username: str, first_name: str, last_name: str, email: str | None) -> str:
    """`Name <email>` for a Co-authored-by trailer; empty without an email."""
    full_name = _one_line(f"{first_name or ''} {last_name or ''}")
    email = _one_line(email or "")
    return f"{full_name or username} <{email}>" if username and email else ""


def describe_change(change, path: str, push=None, approvers=None) -> AgentCommitEntry:
    """The entry for one published change: the version it made (or the archive) at path; for
    one agent of a change set, the version its push carries (approvers: the change's, when the
    caller has them)."""
    if approvers is None:
        approvers = _approvers([change.pk]).get(change.pk, [])
    agent, version = (
        (push.agent, push.version) if push else (change.agent, change.published_version)
    )
    name = _one_line(agent.name) or path
    if version is None:
        return AgentCommitEntry(
            path, name, None, change.author.username, approvers, risk=change.risk
        )
    author = version.author
    username = author.username if author else ""
    return AgentCommitEntry(
        path,
        name,
        version.number,
        username,
        approvers,
        co_author=_co_author(username, author.first_name, author.last_name, author.email)
        if author
        else "",
        risk=change.risk,
    )


def commit_message(entries: list[AgentCommitEntry]) -> str:
    """Subject, a line per agent, then trailers: for each agent `Agent:` followed by its
    `Authored-by:`, `Approved-by:` and `Risk:` lines (the risk level of the change that published
    it, when a change did); `Co-authored-by:` for authors with an email."""
    count = len(entries)
    subject = f"Update {count} agent{'' if count == 1 else 's'} from the registry"
    body = [entry.summary() for entry in entries]
    trailers = [line for entry in entries for line in entry.trailers()]
    co_authors = list(dict.fromkeys(entry.co_author for entry in entries if entry.co_author))
    trailers += [f"Co-authored-by: {co_author}" for co_author in co_authors]
    return "\n".join([subject, "", *body, "", *trailers]) + "\n"


@dataclass
class CommitResult:
    commit: str
    message: str
    paths: list[str]


def agent_paths(prune: bool) -> set[str]:
    """The paths an export is responsible for: every active agent's, and with prune the
    archived agents' (whose files it removes)."""
    agents = Agent.objects.filter(live_version__isnull=False)
    if not prune:
        agents = agents.filter(archived=False)
    return set(agents.values_list("path", flat=True))


def commit_export(root: Path, *, prune: bool = False, refused=()) -> CommitResult | None:
    """Commit the agent files under root that differ from the last commit, and nothing else;
    None when there are none. Files the export refused to write are left out."""
    candidates = agent_paths(prune) - set(refused)
    paths = changed_paths(root, candidates)
    if not paths:
        return None
    message = commit_message(describe(paths))
    git(root, "add", "--all", "--", *paths)
    # With paths, commit takes only them: whatever else was staged stays staged, uncommitted.
    git(root, "commit", "--quiet", "--file=-", "--", *paths, stdin=message)
    commit = git(root, "rev-parse", "HEAD").strip()
    return CommitResult(commit, message, paths)
