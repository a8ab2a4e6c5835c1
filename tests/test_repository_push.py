"""Published changes become commits on the team's repository, pushed by a background worker
from the registry's own clone: one commit per change, never forced, never twice."""

import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registry.models import Agent, ChangeRequest, Push, RepositoryState, TaskProgress
from registry.sync import repository
from registry.sync.repository import RemoteError, push_waiting
from registry.tasks import sync_repository
from tests.helpers import agent_text, git, run, write

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("isolated_git")]

ONE = agent_text()
OTHER = agent_text("other-agent", "Does everything else.", delegate_to="- **agent-one** — x\n")


@pytest.fixture
def remote(tmp_path, settings):
    """A bare repository holding two agents and a licence on main, and the registry set up
    to push there (its agents imported from a checkout of it)."""
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    write(work, {"agents/agent-one.md": ONE, "agents/other-agent.md": OTHER, "LICENSE": "MIT\n"})
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "Start")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    code, _, err = run("import_agents", work)
    assert code == 0, err
    settings.REGISTRY_GIT_REMOTE = str(bare)
    settings.REGISTRY_GIT_BRANCH = "main"
    settings.REGISTRY_GIT_SUBDIR = ""
    settings.REGISTRY_DATA_DIR = tmp_path / "data"
    return bare


@pytest.fixture
def users(django_user_model):
    def make(username, group):
        user = django_user_model.objects.create_user(username, password="a-password")
        user.groups.add(Group.objects.get(name=group))
        return user

    return {"editor": make("editor", "Editors"), "reviewer": make("reviewer", "Reviewers")}


def publish(users, text, agent=None):
    if agent is not None:
        agent.refresh_from_db()
    change = ChangeRequest.start_draft(author=users["editor"], text=text, agent=agent)
    change.submit(users["editor"])
    change.approve(users["reviewer"])
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.PUBLISHED
    return change


def work_the_queue():
    """One worker takes every queued task that is due, then stops."""
    call_command("worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def log(bare, *args) -> list[str]:
    return git(bare, "log", "--format=%s", *args).splitlines()


def file_at(bare, path, ref="main") -> str:
    return git(bare, "show", f"{ref}:{path}")


def someone_pushes(bare, tmp_path, files, message="Edit in the repository"):
    other = tmp_path / f"other-{time.monotonic_ns()}"
    git(tmp_path, "clone", "--quiet", str(bare), str(other))
    write(other, files)
    git(other, "add", "--all")
    git(other, "commit", "--quiet", "-m", message)
    git(other, "push", "--quiet", "origin", "HEAD:main")


def test_an_approval_becomes_one_commit_on_the_remote_holding_that_line(remote, users):
    agent = Agent.objects.get(name="agent-one")
    change = publish(users, agent_text(description="Does one thing very well."), agent)
    assert Push.objects.get().state == Push.State.WAITING
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1

    work_the_queue()

    push = Push.objects.get()
    assert push.state == Push.State.PUSHED
    assert log(remote) == ["Update 1 agent from the registry", "Start"]
    assert git(remote, "rev-parse", "main").strip() == push.commit
    diff = git(remote, "show", "--format=", "--unified=0", "main").splitlines()
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-description: Does one thing well.",
        "+description: Does one thing very well.",
    ]
    trailers = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", "main").split("\n")
    assert "Approved-by: reviewer" in trailers
    assert "Authored-by: editor" in trailers
    assert "Risk: none" in trailers
    assert f"Registry-Change: {change.pk}" in trailers
    # The sync said how far it had come, for the pages that follow it.
    (sync,) = DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL)
    progress = TaskProgress.objects.get(task_id=sync.id)
    assert (progress.label, progress.done, progress.total) == ("Pushing published changes", 1, 1)
    assert file_at(remote, "agents/agent-one.md") == agent_text(
        description="Does one thing very well."
    )
    assert RepositoryState.current().last_push_commit == push.commit


def test_a_rolled_back_publish_queues_neither_push_nor_task(remote, users):
    agent = Agent.objects.get(name="agent-one")
    change = ChangeRequest.start_draft(
        author=users["editor"], text=agent_text(description="Rolled back."), agent=agent
    )
    change.submit(users["editor"])
    with pytest.raises(RuntimeError), transaction.atomic():
        change.approve(users["reviewer"])
        assert Push.objects.count() == 1
        raise RuntimeError("the publish fails after its push was queued")

    assert Push.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


def test_nothing_is_queued_without_a_repository(remote, users, settings):
    settings.REGISTRY_GIT_REMOTE = ""
    publish(users, agent_text(description="Stays here."), Agent.objects.get(name="agent-one"))

    assert Push.objects.count() == 0
    assert DBTaskResult.objects.count() == 0


def test_several_publishes_are_one_commit_each_in_the_order_published(remote, users):
    one, other = Agent.objects.get(name="agent-one"), Agent.objects.get(name="other-agent")
    first = publish(users, agent_text(description="First."), one)
    second = publish(users, OTHER.replace("Does everything else.", "Second."), other)
    third = publish(users, agent_text(description="Third."), one)

    work_the_queue()

    assert log(remote) == ["Update 1 agent from the registry"] * 3 + ["Start"]
    changes = git(remote, "log", "--format=%(trailers:key=Registry-Change,valueonly)", "main")
    assert [line for line in changes.splitlines() if line] == [
        str(third.pk),
        str(second.pk),
        str(first.pk),
    ]
    assert set(Push.objects.values_list("state", flat=True)) == {Push.State.PUSHED}


def test_a_new_agent_is_added_and_an_archived_one_removed(remote, users):
    publish(users, agent_text("agent-two", "Does the second thing."))
    archive = ChangeRequest.propose_archive(Agent.objects.get(name="other-agent"), users["editor"])
    archive.submit(users["editor"])
    archive.approve(users["reviewer"])

    work_the_queue()

    files = git(remote, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert sorted(files) == ["LICENSE", "agents/agent-one.md", "agents/agent-two.md"]
    assert file_at(remote, "agents/agent-two.md") == agent_text(
        "agent-two", "Does the second thing."
    )
    removal = git(remote, "log", "-1", "--format=%B", "main")
    assert "Agent: other-agent removed" in removal


def test_agents_live_in_the_configured_folder(remote, users, settings, tmp_path):
    someone_pushes(
        remote, tmp_path, {".claude/agents/agents/agent-one.md": ONE}, "Move agents under .claude"
    )
    settings.REGISTRY_GIT_SUBDIR = ".claude/agents"
    publish(users, agent_text(description="Under a folder."), Agent.objects.get(name="agent-one"))

    work_the_queue()

    assert file_at(remote, ".claude/agents/agents/agent-one.md") == agent_text(
        description="Under a folder."
    )
    assert file_at(remote, "agents/agent-one.md") == ONE


def test_when_the_remote_moved_elsewhere_the_commit_is_replayed_on_top(remote, users, tmp_path):
    push_waiting()  # nothing waits: the clone is made, at the first commit
    publish(
        users, agent_text(description="From the registry."), Agent.objects.get(name="agent-one")
    )
    someone_pushes(remote, tmp_path, {"LICENSE": "Apache-2.0\n"})

    work_the_queue()

    assert log(remote) == [
        "Update 1 agent from the registry",
        "Edit in the repository",
        "Start",
    ]
    assert file_at(remote, "LICENSE") == "Apache-2.0\n"
    assert Push.objects.get().state == Push.State.PUSHED


def test_the_same_file_changed_in_the_repository_is_not_pushed(remote, users, tmp_path):
    theirs = agent_text(description="Theirs.")
    someone_pushes(remote, tmp_path, {"agents/agent-one.md": theirs})
    change = publish(users, agent_text(description="Ours."), Agent.objects.get(name="agent-one"))

    work_the_queue()

    assert file_at(remote, "agents/agent-one.md") == theirs
    assert log(remote) == ["Edit in the repository", "Start"]
    push = Push.objects.get()
    assert push.state == Push.State.CONFLICT
    assert "changed in the repository" in push.note
    assert push.change == change


def test_the_drift_page_compares_with_the_registrys_clone(remote, users, tmp_path, client):
    client.force_login(users["reviewer"].__class__.objects.create_superuser("root", "", "pw"))
    assert "no clone of the repository yet" in client.get("/drift/").text
    someone_pushes(remote, tmp_path, {"agents/agent-one.md": agent_text(description="Theirs.")})
    publish(users, agent_text(description="Ours."), Agent.objects.get(name="agent-one"))
    publish(
        users,
        OTHER.replace("Does everything else.", "Pushed."),
        Agent.objects.get(name="other-agent"),
    )
    work_the_queue()

    page = client.get("/drift/").text

    assert "agents/agent-one.md" in page
    assert "Changed on both sides" in page or "changed on both sides" in page
    assert "agents/other-agent.md" not in page  # pushed: the clone and the registry agree


def test_a_second_sync_while_one_runs_pushes_nothing(remote, users):
    publish(users, agent_text(description="Waits."), Agent.objects.get(name="agent-one"))
    RepositoryState.current()
    RepositoryState.objects.filter(pk=1).update(
        lease_owner="another-machine:4242",
        lease_until=RepositoryState.objects.get().last_error_at or _later(),
    )

    report = push_waiting()

    assert report.busy
    assert Push.objects.get().state == Push.State.WAITING
    assert log(remote) == ["Start"]
    # As a task, it comes back shortly: the other sync may have missed this push.
    DBTaskResult.objects.all().delete()
    sync_repository.enqueue()
    work_the_queue()  # it finds the repository busy
    (retry,) = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    from datetime import timedelta

    from django.utils import timezone

    assert retry.run_after <= timezone.now() + timedelta(seconds=10)


def _later():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(minutes=5)


def test_a_sync_killed_after_its_push_is_not_pushed_again(remote, users, monkeypatch):
    publish(users, agent_text(description="Once."), Agent.objects.get(name="agent-one"))
    recorded = repository._record_pushed

    def killed(pushes, branch=""):
        if pushes:
            raise SystemExit("killed between git push and recording it")
        recorded(pushes, branch)

    monkeypatch.setattr(repository, "_record_pushed", killed)
    with pytest.raises(SystemExit):
        push_waiting()
    assert log(remote) == ["Update 1 agent from the registry", "Start"]
    assert Push.objects.get().state == Push.State.WAITING
    monkeypatch.setattr(repository, "_record_pushed", recorded)
    RepositoryState.objects.filter(pk=1).update(lease_owner="", lease_until=None)

    push_waiting()

    assert log(remote) == ["Update 1 agent from the registry", "Start"]
    push = Push.objects.get()
    assert push.state == Push.State.PUSHED
    assert push.commit == git(remote, "rev-parse", "main").strip()


def test_a_broken_clone_is_made_again(remote, users, settings):
    push_waiting()  # nothing waits: the clone is made
    clone = settings.REGISTRY_DATA_DIR / "repository"
    (clone / ".git" / "index.lock").write_text("left by a killed git")
    (clone / ".git" / "HEAD").write_text("garbage\n")
    publish(users, agent_text(description="After repair."), Agent.objects.get(name="agent-one"))

    work_the_queue()

    assert Push.objects.get().state == Push.State.PUSHED
    assert file_at(remote, "agents/agent-one.md") == agent_text(description="After repair.")


def test_a_force_push_upstream_stops_the_sync_until_a_maintainer_accepts_it(
    remote, users, tmp_path
):
    publish(users, agent_text(description="Before."), Agent.objects.get(name="agent-one"))
    work_the_queue()
    start = git(remote, "rev-list", "--max-parents=0", "main").strip()
    git(remote, "update-ref", "refs/heads/main", start)  # the branch rewritten
    someone_pushes(remote, tmp_path, {"LICENSE": "Rewritten\n"}, "Rewritten history")
    publish(users, agent_text(description="After."), Agent.objects.get(name="agent-one"))

    with pytest.raises(RemoteError, match="rewritten"):
        push_waiting()
    assert Push.objects.filter(state=Push.State.WAITING).count() == 1

    RepositoryState.accept_history()
    push_waiting()

    assert Push.objects.filter(state=Push.State.WAITING).count() == 0


def test_branch_mode_pushes_each_change_to_its_own_branch(remote, users, settings):
    settings.REGISTRY_GIT_PUSH = "branch"
    change = publish(
        users, agent_text(description="On a branch."), Agent.objects.get(name="agent-one")
    )

    work_the_queue()

    branch = f"registry/change-{change.pk}"
    assert log(remote, branch) == ["Update 1 agent from the registry", "Start"]
    assert log(remote) == ["Start"]
    push = Push.objects.get()
    assert (push.state, push.branch) == (Push.State.PUSHED, branch)

    # Tried again after a crash before it was recorded: the branch holds it; not pushed twice.
    Push.objects.filter(pk=push.pk).update(state=Push.State.WAITING, branch="", commit="")
    push_waiting()
    assert log(remote, branch) == ["Update 1 agent from the registry", "Start"]
    assert Push.objects.get().state == Push.State.PUSHED


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def git_daemon(base, port):
    """`git daemon` serving base on 127.0.0.1:port, pushes allowed."""
    process = subprocess.Popen(
        [
            "git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
            f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}", str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_unreachable_remote_keeps_the_pushes_waiting_until_it_returns(
    remote, users, settings, tmp_path
):
    port = _free_port()
    settings.REGISTRY_GIT_REMOTE = f"git://127.0.0.1:{port}/team.git"
    one = Agent.objects.get(name="agent-one")
    first = publish(users, agent_text(description="First while down."), one)
    second = publish(users, agent_text(description="Second while down."), one)

    work_the_queue()  # nothing listens on the port: connection refused

    assert Push.objects.waiting().count() == 2
    failed = DBTaskResult.objects.get(status=TaskResultStatus.FAILED)
    assert "cannot be reached" in failed.traceback
    state = RepositoryState.current()
    assert state.failures == 1
    assert "cannot be reached" in state.last_error
    retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
    assert retry.run_after > state.last_error_at  # after the back-off, not at once

    with git_daemon(tmp_path, port):
        push_waiting()

    assert Push.objects.waiting().count() == 0
    changes = git(remote, "log", "--format=%(trailers:key=Registry-Change,valueonly)", "main")
    assert [line for line in changes.splitlines() if line] == [str(second.pk), str(first.pk)]
    assert RepositoryState.current().failures == 0


def test_credentials_never_reach_an_error_a_task_or_a_log(remote, users, settings, caplog):
    settings.REGISTRY_GIT_REMOTE = f"https://deploy:s3cret-pass@127.0.0.1:{_free_port()}/x.git"
    settings.REGISTRY_GIT_TOKEN = "tok-123456"
    publish(users, agent_text(description="Waits."), Agent.objects.get(name="agent-one"))

    with caplog.at_level("DEBUG"):
        work_the_queue()

    state = RepositoryState.current()
    failed = DBTaskResult.objects.get(status=TaskResultStatus.FAILED)
    assert "cannot be reached" in state.last_error
    for text in (state.last_error, failed.traceback, caplog.text):
        for secret in ("s3cret-pass", "tok-123456", repository._basic("tok-123456")):
            assert secret not in text
    assert repository.shown_remote().startswith("https://deploy@127.0.0.1:")
