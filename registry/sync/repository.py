"""Pushing published changes to the team's repository, from the registry's own clone of it.

One sync runs at a time (RepositoryState's lease). Each published change becomes one commit
(the pushes of a change set's agents together), with
the message and trailers export_agents --commit writes, plus `Registry-Change: <id>`: a push
found by that trailer on the remote is done, so a sync killed between its git push and
recording it never pushes twice. Nothing is ever force-pushed."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.models import Agent, AuditEvent
from registry.models.repository import Push, RepositoryState
from registry.models.tasks import Reporter
from registry.sync.files import UnsafePath, read_existing, target_path, write_atomic
from registry.sync.git import (
    CHANGE_TRAILER,
    GitError,
    _approvers,
    commit_message,
    describe_change,
    git,
    run_git,
    said,
)
from registry.sync.pulling import PullReport, commits_behind, pull

# How many commits of the branch are searched for pushes already made.
HISTORY_SEARCHED = 5000
# A push the remote refused because it moved is replayed on top of it this many times.
REPLAYS = 5


class RemoteError(GitError):
    """The remote could not be reached, or refused what was sent; the pushes wait."""


def clone_folder() -> Path:
    return Path(settings.REGISTRY_DATA_DIR) / "repository"


def shown_remote(url: str | None = None) -> str:
    """The remote as a page or a log may show it: without a password or token in it."""
    url = settings.REGISTRY_GIT_REMOTE if url is None else url
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        user, _, host = parts.netloc.rpartition("@")
        user = user.split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))
    return url


def _secrets() -> list[str]:
    found = []
    token = settings.REGISTRY_GIT_TOKEN
    if token:
        found += [token, _basic(token)]
    password = urlsplit(settings.REGISTRY_GIT_REMOTE).password
    if password:
        found.append(password)
    return found


def redact(text: str) -> str:
    """text with every credential the registry knows replaced by ***."""
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text.replace(settings.REGISTRY_GIT_REMOTE, shown_remote()) if text else text


def _basic(token: str) -> str:
    pair = f"{settings.REGISTRY_GIT_TOKEN_USER}:{token}".encode()
    return base64.b64encode(pair).decode()


def remote_environment() -> dict[str, str]:
    """Credentials for the remote, passed in git's environment only (never its arguments,
    which other users of the machine can read): an ssh key, or an https token."""
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}
    key = settings.REGISTRY_GIT_SSH_KEY
    if key:
        env["GIT_SSH_COMMAND"] = (
            f"ssh -i '{key}' -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=accept-new"
        )
    token = settings.REGISTRY_GIT_TOKEN
    if token:
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {_basic(token)}",
        )
    return env


def _remote_git(root: Path, *args: str):
    """git talking to the remote: what it did (exit status and all), its output redacted."""
    result = run_git(root, *args, env=remote_environment())
    result.stdout, result.stderr = redact(result.stdout), redact(result.stderr)
    return result


@dataclass
class SyncReport:
    busy: bool = False
    pushed: list[int] = field(default_factory=list)  # change ids
    conflicts: list[int] = field(default_factory=list)
    commit: str = ""
    pulled: PullReport = field(default_factory=PullReport)

    def as_dict(self) -> dict:
        return {
            "busy": self.busy,
            "pushed": self.pushed,
            "conflicts": self.conflicts,
            "commit": self.commit,
            "pulled": self.pulled.as_dict(),
        }


class Clone:
    """The registry's own clone: made when missing, repaired when a killed git left it broken.
    It is reset to the remote at every sync, so nothing in it is ever the only copy."""

    def __init__(self, root: Path):
        self.root = root
        self.branch = settings.REGISTRY_GIT_BRANCH
        self.upstream = f"refs/remotes/origin/{self.branch}"

    @property
    def agents(self) -> Path:
        subdir = settings.REGISTRY_GIT_SUBDIR
        return self.root / PurePosixPath(subdir) if subdir else self.root

    def git(self, *args: str, stdin: str | None = None) -> str:
        return git(self.root, *args, stdin=stdin)

    def prepare(self) -> None:
        """A clone that git can work in, pointing at the configured remote."""
        if not (self.root / ".git").is_dir():
            self._make()
        # What a git killed half-way leaves (index.lock, HEAD.lock, a ref's lock): nothing
        # else runs here while the lease is held. Not the objects, which hold no locks.
        git_dir = self.root / ".git"
        for lock in [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]:
            lock.unlink(missing_ok=True)
        try:
            self.git("remote", "set-url", "origin", settings.REGISTRY_GIT_REMOTE)
            self.git("rev-parse", "--git-dir")
        except GitError:
            self._make()

    def _make(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        git(self.root, "init", "--quiet")
        git(self.root, "remote", "add", "origin", settings.REGISTRY_GIT_REMOTE)

    def fetch(self, *, remade: bool = False) -> str | None:
        """Bring the branch from the remote: its commit, or None when the remote has no such
        branch yet. RemoteError when the remote cannot be reached."""
        heads = _remote_git(self.root, "ls-remote", "--heads", "origin", self.branch)
        if heads.returncode != 0:
            raise RemoteError(f"the repository cannot be reached: {said(heads)}")
        if not heads.stdout.strip():
            return None
        fetched = _remote_git(
            self.root, "fetch", "--quiet", "--no-tags", "origin",
            f"+refs/heads/{self.branch}:{self.upstream}",
        )  # fmt: skip
        if fetched.returncode != 0:
            if not remade and re.search(r"corrupt|bad object|missing object", said(fetched)):
                self._make()
                return self.fetch(remade=True)
            raise RemoteError(f"fetching {self.branch} failed: {said(fetched)}")
        return self.git("rev-parse", self.upstream).strip()

    def start_from(self, upstream: str | None, name: str = "registry-work") -> None:
        """A clean work tree at upstream (or an empty one for a branch not made yet)."""
        if upstream:
            self.git("checkout", "--quiet", "--force", "-B", name, upstream)
        else:
            self.git("checkout", "--quiet", "--force", "--orphan", name)
            self.git("rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".")
        self.git("clean", "-ffdxq")

    def pushed_changes(self, upstream: str | None) -> dict[int, str]:
        """The changes whose commits the branch holds: change id -> commit."""
        if not upstream:
            return {}
        log = self.git(
            "log", f"-n{HISTORY_SEARCHED}", f"--grep=^{CHANGE_TRAILER}: ", upstream,
            f"--format=%H %(trailers:key={CHANGE_TRAILER},valueonly,separator=%x20)",
        )  # fmt: skip
        found = {}
        for line in log.splitlines():
            commit, _, ids = line.partition(" ")
            for change_id in ids.split():
                if change_id.isdigit():
                    found.setdefault(int(change_id), commit)
        return found

    def is_ancestor(self, older: str, newer: str) -> bool:
        result = run_git(self.root, "merge-base", "--is-ancestor", older, newer)
        return result.returncode == 0

    def push(self, refname: str) -> str:
        """Push HEAD to refname, never forcing: "pushed", or "moved" when the remote has
        commits this one lacks. RemoteError for anything else."""
        result = _remote_git(self.root, "push", "--porcelain", "origin", f"HEAD:{refname}")
        if result.returncode == 0:
            return "pushed"
        output = f"{result.stdout}\n{result.stderr}"
        if re.search(
            r"\[rejected\]|non-fast-forward|fetch first|\[remote rejected\].*stale", output
        ):
            return "moved"
        raise RemoteError(f"pushing to {refname} failed: {said(result)}")

    def apply(self, push: Push) -> bool | None:
        """Write push's text to its file (or remove it): True when the file changed, False
        when it already held that text, None when the repository changed it meanwhile. A push
        that moves the file removes it from its old path, which must hold the base text."""
        try:
            target = target_path(self.agents, push.path)
            source = target_path(self.agents, push.old_path) if push.old_path else None
        except UnsafePath:
            return None
        current = read_existing(target)
        wanted = push.version.text.encode() if push.version_id else None
        if source is not None:
            left = read_existing(source)
            if left is None:
                return False if current == wanted else None
            if current is not None or hashlib.sha256(left).hexdigest() != push.base_sha256:
                return None
            source.unlink()
            write_atomic(target, wanted)
            return True
        if current == wanted:
            return False
        if current is None:
            if push.base_sha256 and wanted is not None:
                return None  # removed in the repository
        elif hashlib.sha256(current).hexdigest() != push.base_sha256:
            return None
        if wanted is None:
            target.unlink()
        else:
            write_atomic(target, wanted)
        return True

    def commit(self, pushes: list[Push]) -> str:
        """One commit of the pushes of one change: each file it writes, moves or removes."""
        relative = []
        for push in pushes:
            for path in (push.path, push.old_path):
                if path:
                    relative.append(
                        target_path(self.agents, path).relative_to(self.root).as_posix()
                    )
        one = len(pushes) == 1
        change_id = pushes[0].change_id
        approvers = _approvers([change_id]).get(change_id, [])
        message = commit_message(
            [
                describe_change(push.change, push.path, None if one else push, approvers)
                for push in pushes
            ]
        )
        message += f"{CHANGE_TRAILER}: {pushes[0].change_id}\n"
        self.git("add", "--all", "--", *relative)
        self.git("commit", "--quiet", "--no-verify", "--file=-", "--", *relative, stdin=message)
        return self.git("rev-parse", "HEAD").strip()

    def discard(self) -> None:
        """Undo what was written since the last commit (a change set only partly applied)."""
        self.git("reset", "--quiet", "--hard")
        self.git("clean", "-ffdxq")


def _waiting() -> list[list[Push]]:
    """The waiting pushes, those of one change together, the oldest change first."""
    changes: dict[int, list[Push]] = {}
    for push in Push.objects.waiting().select_related(
        "agent",
        "version__author",
        "change__agent",
        "change__author",
        "change__published_version__author",
    ):
        changes.setdefault(push.change_id, []).append(push)
    return list(changes.values())


def _apply_all(clone: Clone, pushes: list[Push]) -> bool | None:
    """Apply the pushes of one change, every one or none: None (and the work tree as it was)
    when the repository changed a file of it; else whether any file changed."""
    applied = [clone.apply(push) for push in pushes]
    if None in applied:
        clone.discard()
        return None
    return any(applied)


def _record_conflict(push: Push, upstream: str | None) -> None:
    note = (
        "The file was changed in the repository since the registry last had it, so this "
        "change was not pushed over it."
    )
    Push.objects.filter(pk=push.pk).update(state=Push.State.CONFLICT, note=note)
    AuditEvent.record(
        "repository.conflict", obj=push.change, path=push.path, upstream=upstream or ""
    )


def _record_pushed(pushes: list[tuple[Push, str]], branch: str = "") -> None:
    """The pushes done; on the branch itself, each agent's file there now holds its text."""
    now = timezone.now()
    by_commit: dict[str, list[int]] = {}
    for push, commit in pushes:
        by_commit.setdefault(commit, []).append(push.pk)
    with transaction.atomic():
        for commit, pks in by_commit.items():  # a change set's pushes share their commit
            Push.objects.filter(pk__in=pks).update(
                state=Push.State.PUSHED, commit=commit, branch=branch, pushed_at=now
            )
        for push, _ in pushes:
            if push.version_id and not branch:
                Agent.objects.filter(pk=push.agent_id, live_version_id=push.version_id).update(
                    synced_hash=push.version.sha256
                )
    for push, commit in pushes:
        AuditEvent.record("repository.push", obj=push.change, path=push.path, commit=commit)


def push_waiting(progress: Reporter | None = None) -> SyncReport:
    """Take in the repository's changes, then push every waiting change, oldest first.
    RemoteError leaves them waiting. progress: stepped per file taken in, then per push."""
    progress = progress or Reporter()
    owner = RepositoryState.acquire()
    if owner is None:
        return SyncReport(busy=True)
    try:
        clone = Clone(clone_folder())
        progress.start("Fetching the repository", 0)
        clone.prepare()
        upstream = _fetch(clone)
        clone.start_from(upstream)
        pulled = pull(clone, upstream, progress)
        progress.start("Pushing published changes", Push.objects.waiting().count())
        if settings.REGISTRY_GIT_PUSH == "branch":
            report = _push_to_branches(clone, upstream, progress)
        else:
            report = _push_to_branch(clone, upstream, progress)
    except GitError as error:
        message = redact(str(error))
        RepositoryState.failed(message)
        raise RemoteError(message) from None
    finally:
        RepositoryState.release(owner)
    RepositoryState.succeeded(report.commit)
    report.pulled = pulled
    return report


def _fetch(clone: Clone) -> str | None:
    """The branch's commit on the remote, fetched into the clone; RemoteError when the branch
    no longer holds the commit the registry last saw there."""
    upstream = clone.fetch()
    state = RepositoryState.current()
    seen = state.last_seen_commit
    if seen and (not upstream or not clone.is_ancestor(seen, upstream)):
        raise RemoteError(
            f"the branch {clone.branch} was rewritten in the repository (force-pushed): "
            f"commit {seen[:12]}, where the registry last saw it, is no longer in its "
            "history. Nothing was fetched or pushed. A maintainer accepts the new history on "
            "the Repository page."
        )
    pulled = state.last_pulled_commit
    if upstream and pulled and clone.is_ancestor(pulled, upstream):
        RepositoryState.fetched(behind=commits_behind(clone, pulled, upstream))
    return upstream


def _push_to_branch(clone: Clone, upstream: str | None, progress: Reporter) -> SyncReport:
    """The waiting pushes as commits on upstream (the clone's work tree), pushed to the branch;
    replayed on the branch as it is then when it moved meanwhile."""
    report = SyncReport()
    for attempt in range(REPLAYS):
        if attempt:
            upstream = _fetch(clone)
            clone.start_from(upstream)
        already = clone.pushed_changes(upstream)
        made: list[tuple[Push, str]] = []
        done: list[tuple[Push, str]] = []
        for pushes in _waiting():
            change_id = pushes[0].change_id
            if change_id in already:
                done += [(push, already[change_id]) for push in pushes]
                continue
            applied = _apply_all(clone, pushes)
            if applied is None:
                for push in pushes:
                    _record_conflict(push, upstream)
                report.conflicts.append(change_id)
            elif applied:
                commit = clone.commit(pushes)
                made += [(push, commit) for push in pushes]
            else:  # the repository holds these texts already
                done += [(push, upstream or "") for push in pushes]
        _record_pushed(done)
        report.pushed += list(dict.fromkeys(push.change_id for push, _ in done))
        if not made:
            if upstream:
                RepositoryState.saw(upstream)
            return report
        if clone.push(f"refs/heads/{clone.branch}") == "pushed":
            progress.step(len(made) + len(done))
            _record_pushed(made)
            report.pushed += list(dict.fromkeys(push.change_id for push, _ in made))
            report.commit = made[-1][1]
            RepositoryState.saw(report.commit)
            return report
        # The remote moved: fetch and replay the waiting pushes on top of it.
    raise RemoteError(f"the branch {clone.branch} kept moving; the pushes wait for the next try")


def _push_to_branches(clone: Clone, upstream: str | None, progress: Reporter) -> SyncReport:
    """Each change on its own branch, registry/change-<id>, from the configured branch."""
    report = SyncReport()
    for pushes in _waiting():
        progress.step(len(pushes))
        push = pushes[0]
        branch = f"registry/change-{push.change_id}"
        clone.start_from(upstream)
        applied = _apply_all(clone, pushes)
        if applied is None:
            for each in pushes:
                _record_conflict(each, upstream)
            report.conflicts.append(push.change_id)
            continue
        if not applied:
            _record_pushed([(each, upstream or "") for each in pushes])
            report.pushed.append(push.change_id)
            continue
        commit = clone.commit(pushes)
        if clone.push(f"refs/heads/{branch}") == "moved":
            # Made by an earlier try that was not recorded: the branch holds the change.
            fetched = _remote_git(clone.root, "fetch", "--quiet", "origin", f"refs/heads/{branch}")
            if fetched.returncode != 0:
                raise RemoteError(f"fetching {branch} failed: {said(fetched)}")
            commit = clone.git("rev-parse", "FETCH_HEAD").strip()
            if push.change_id not in clone.pushed_changes(commit):
                raise RemoteError(f"the branch {branch} exists and holds other commits")
        _record_pushed([(each, commit) for each in pushes], branch=branch)
        report.pushed.append(push.change_id)
        report.commit = commit
    return report
