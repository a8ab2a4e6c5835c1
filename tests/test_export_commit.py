"""export_agents DIR --commit: one commit of exactly the agent files that changed, saying who
wrote and who approved each."""

import pytest
from django.contrib.auth.models import Group

from registry.models import Agent, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text, git, run, tree, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("isolated_git")]

ONE = agent_text()
OTHER = agent_text("other-agent", "Does everything else.", delegate_to="- **agent-one** — x\n")


@pytest.fixture
def users(django_user_model):
    def make(username, group, **fields):
        user = django_user_model.objects.create_user(username, password="a-password", **fields)
        user.groups.add(Group.objects.get(name=group))
        return user

    return {
        "editor": make("editor", "Editors"),
        "reviewer": make("reviewer", "Reviewers"),
        "second": make("second", "Reviewers"),
    }


def make_repository(folder, files):
    write(folder, files)
    git(folder, "init", "--quiet", "--initial-branch=main")
    git(folder, "add", "--all")
    git(folder, "commit", "--quiet", "--message", "Start")
    return folder


@pytest.fixture
def repo(tmp_path):
    """A checkout holding two agents and a licence, committed, and imported into the registry."""
    folder = make_repository(
        tmp_path / "repo",
        {"agents/agent-one.md": ONE, "agents/other-agent.md": OTHER, "LICENSE": "MIT\n"},
    )
    code, _, err = run("import_agents", folder)
    assert code == 0, err
    return folder


def publish(users, text, agent=None, *, approvers=("reviewer",)):
    """A change by the editor, approved by the given reviewers, published."""
    change = ChangeRequest.start_draft(author=users["editor"], text=text, agent=agent)
    change.submit(users["editor"])
    for approver in approvers:
        change.approve(users[approver])
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.PUBLISHED
    return change


def head(repo) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def committed_files(repo) -> list[str]:
    return git(repo, "show", "--name-status", "--no-renames", "--format=", "HEAD").splitlines()


def trailers(repo) -> list[str]:
    return git(repo, "log", "-1", "--format=%(trailers:only,unfold)").strip().splitlines()


def test_commit_holds_the_changed_agent_with_its_author_and_approvers(repo, users, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    publish(
        users,
        agent_text(description="Does one thing very well."),
        Agent.objects.get(path="agents/agent-one.md"),
        approvers=("reviewer", "second"),
    )

    code, out, err = run("export_agents", repo, "--commit")

    assert code == 0, err
    assert "Committed " in out
    assert committed_files(repo) == ["M\tagents/agent-one.md"]
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("Update 1 agent from the registry\n\n")
    assert "- agent-one v2 (agents/agent-one.md): by editor; approved by reviewer, second\n" in (
        message
    )
    assert trailers(repo) == [
        "Agent: agent-one v2",
        "Authored-by: editor",
        "Approved-by: reviewer",
        "Approved-by: second",
        "Risk: none",
    ]
    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Agent Registry <registry@localhost>|Agent Registry <registry@localhost>"
    )


def test_other_files_in_the_checkout_are_never_committed(repo, users):
    publish(users, agent_text(description="Changed."), Agent.objects.get(name="agent-one"))
    # An untracked Markdown file that is no agent, another untracked file, a staged change.
    write(repo, {"notes.md": "# Notes\n", "scratch.txt": "x\n", "LICENSE": "Apache-2.0\n"})
    git(repo, "add", "LICENSE")

    code, _, err = run("export_agents", repo, "--commit")

    assert code == 0, err
    assert committed_files(repo) == ["M\tagents/agent-one.md"]
    status = git(repo, "status", "--porcelain").splitlines()
    assert sorted(status) == ["?? notes.md", "?? scratch.txt", "M  LICENSE"]


def test_a_second_export_commits_nothing(repo, users):
    publish(users, agent_text(description="Changed."), Agent.objects.get(name="agent-one"))
    run("export_agents", repo, "--commit")
    first = head(repo)

    code, out, _ = run("export_agents", repo, "--commit")

    assert code == 0
    assert "Nothing to commit" in out
    assert head(repo) == first


def test_nothing_changed_commits_nothing(repo):
    before = head(repo)

    code, out, _ = run("export_agents", repo, "--commit")

    assert code == 0
    assert "Nothing to commit" in out
    assert head(repo) == before


def test_files_an_earlier_export_wrote_but_did_not_commit_are_committed(repo, users):
    publish(users, agent_text(description="Changed."), Agent.objects.get(name="agent-one"))
    run("export_agents", repo)

    code, out, _ = run("export_agents", repo, "--commit")

    assert code == 0
    assert committed_files(repo) == ["M\tagents/agent-one.md"]


def test_a_new_agent_is_added_and_a_pruned_archived_agent_removed(repo, users):
    publish(users, agent_text("agent-two", "Does the second thing."))
    other = Agent.objects.get(name="other-agent")
    archive = ChangeRequest.propose_archive(other, users["editor"])
    archive.submit(users["editor"])
    archive.approve(users["second"])

    code, _, err = run("export_agents", repo, "--commit", "--prune")

    assert code == 0, err
    assert sorted(committed_files(repo)) == ["A\tagents/agent-two.md", "D\tagents/other-agent.md"]
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("Update 2 agents from the registry\n")
    assert trailers(repo) == [
        "Agent: agent-two v1",
        "Authored-by: editor",
        "Approved-by: reviewer",
        "Risk: widens",
        "Agent: other-agent removed",
        "Authored-by: editor",
        "Approved-by: second",
        "Risk: none",
    ]


def test_a_high_risk_change_says_so_in_its_trailer(repo, users, django_user_model):
    maintainer = django_user_model.objects.create_user("keeper", password="a-password")
    maintainer.groups.add(Group.objects.get(name="Maintainers"))
    users["keeper"] = maintainer
    text = agent_text(extra="permissionMode: bypassPermissions\n")
    publish(users, text, Agent.objects.get(name="agent-one"), approvers=("reviewer", "keeper"))

    code, _, err = run("export_agents", repo, "--commit")

    assert code == 0, err
    assert trailers(repo)[-2:] == ["Approved-by: keeper", "Risk: high"]


def test_archived_agents_files_are_left_alone_without_prune(repo, users):
    other = Agent.objects.get(name="other-agent")
    Agent.objects.filter(pk=other.pk).update(archived=True)
    write(repo, {"agents/other-agent.md": OTHER + "\nA local edit.\n"})

    code, out, _ = run("export_agents", repo, "--commit")

    assert code == 0
    assert "Nothing to commit" in out
    assert git(repo, "status", "--porcelain").splitlines() == [" M agents/other-agent.md"]


def test_an_author_with_an_email_is_credited_as_co_author(repo, users):
    editor = users["editor"]
    editor.first_name, editor.last_name, editor.email = "Ed", "Itor", "ed@example.com"
    editor.save()
    publish(users, agent_text(description="Changed."), Agent.objects.get(name="agent-one"))

    run("export_agents", repo, "--commit")

    assert trailers(repo)[-1] == "Co-authored-by: Ed Itor <ed@example.com>"


def test_the_identity_comes_from_the_environment_when_set(repo, users, monkeypatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Jo Maintainer")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "jo@example.com")
    publish(users, agent_text(description="Changed."), Agent.objects.get(name="agent-one"))

    run("export_agents", repo, "--commit")

    assert git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Jo Maintainer <jo@example.com>|Agent Registry <registry@localhost>"
    )


def test_an_imported_version_says_no_approval_is_recorded(tmp_path):
    repo = make_repository(tmp_path / "repo", {"README.md": "# Agents\n"})
    import_files([IncomingFile("agents/agent-one.md", ONE.encode())])

    code, _, err = run("export_agents", repo, "--commit")

    assert code == 0, err
    assert committed_files(repo) == ["A\tagents/agent-one.md"]
    message = git(repo, "log", "-1", "--format=%B")
    assert "- agent-one v1 (agents/agent-one.md): no author recorded; no approvals recorded" in (
        message
    )
    assert trailers(repo) == ["Agent: agent-one v1"]


def test_paths_are_taken_literally_never_as_patterns(tmp_path):
    repo = make_repository(tmp_path / "repo", {"README.md": "# Agents\n"})
    import_files([IncomingFile("agents/a*.md", ONE.encode())])
    write(repo, {"agents/ab.md": "# Not an agent of the registry\n"})

    code, _, err = run("export_agents", repo, "--commit")

    assert code == 0, err
    assert committed_files(repo) == ["A\tagents/a*.md"]
    assert git(repo, "status", "--porcelain").splitlines() == ["?? agents/ab.md"]


def test_a_folder_inside_the_checkout_commits_its_paths_under_it(tmp_path):
    repo = make_repository(tmp_path / "repo", {"README.md": "# Agents\n"})
    import_files([IncomingFile("agents/agent-one.md", ONE.encode())])

    code, _, err = run("export_agents", repo / "claude", "--commit")

    assert code == 0, err
    assert committed_files(repo) == ["A\tclaude/agents/agent-one.md"]


def test_a_folder_that_is_no_git_checkout_is_refused_before_writing(tmp_path, monkeypatch):
    import_files([IncomingFile("agents/agent-one.md", ONE.encode())])
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))

    code, _, err = run("export_agents", folder, "--commit")

    assert code == 2
    assert "not a git checkout" in err
    assert tree(folder) == {}


def test_commit_and_check_do_not_go_together(repo):
    code, _, err = run("export_agents", repo, "--commit", "--check")

    assert code == 2
    assert "--commit and --check" in err
