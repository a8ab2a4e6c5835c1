"""The repository's own changes come back into the registry at each sync: as the next version
where the registry did not change the agent, as a change request to review where it did."""

import pytest

from registry.models import Agent, AuditEvent, ChangeRequest, RepositoryState
from registry.sync.repository import push_waiting
from tests.helpers import agent_text, git
from tests.test_repository_push import (  # noqa: F401 (fixtures)
    ONE,
    OTHER,
    publish,
    remote,
    someone_pushes,
    users,
    work_the_queue,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("isolated_git")]


@pytest.fixture
def synced(remote):  # noqa: F811
    """The registry has synced once: the branch as it was is where it starts from."""
    push_waiting()
    return remote


def push_one_unreadable_file(remote, tmp_path):  # noqa: F811
    """Someone pushes two files: other-agent.md edited, and latin.md, which is not UTF-8."""
    someone_pushes(
        remote,
        tmp_path,
        {
            "agents/latin.md": b"---\nname: caf\xe9\n---\n",
            "agents/other-agent.md": OTHER + "\nOne more line.\n",
        },
        "Two files, one unreadable",
    )


def test_the_first_sync_takes_the_branch_as_it_is(remote):  # noqa: F811
    versions = {agent.name: agent.live_version.number for agent in Agent.objects.all()}

    report = push_waiting()

    assert report.pulled.baseline
    head = git(remote, "rev-parse", "main").strip()
    assert RepositoryState.current().last_pulled_commit == head
    assert {agent.name: agent.live_version.number for agent in Agent.objects.all()} == versions


def test_an_edit_in_the_repository_becomes_the_next_version(synced, tmp_path, users):  # noqa: F811
    users["editor"].email = "someone@example.com"
    users["editor"].save()
    theirs = OTHER.replace("Does everything else.", "Edited in the repository.")
    someone_pushes(synced, tmp_path, {"agents/other-agent.md": theirs}, "Sharpen other-agent")
    commit = git(synced, "rev-parse", "main").strip()

    report = push_waiting()

    assert report.pulled.updated == ["agents/other-agent.md"]
    agent = Agent.objects.get(name="other-agent")
    version = agent.live_version
    assert (version.number, version.text) == (2, theirs)
    assert version.message.startswith("Sharpen other-agent (commit " + commit[:12])
    assert version.author == users["editor"]  # the user with the commit author's email
    assert agent.synced_hash == version.sha256
    event = AuditEvent.objects.get(action="repository.pull")
    assert event.details["commit"] == commit


def test_the_registrys_own_commits_do_not_come_back(synced, users):  # noqa: F811
    publish(
        users, agent_text(description="From the registry."), Agent.objects.get(name="agent-one")
    )
    push_waiting()  # pushes it

    report = push_waiting()  # fetches the branch holding the registry's commit

    assert (report.pulled.updated, report.pulled.created, report.pulled.proposed) == ([], [], [])
    assert Agent.objects.get(name="agent-one").live_version.number == 2


def test_a_file_changed_on_both_sides_is_a_change_request_with_the_merge(
    synced,
    tmp_path,
    users,  # noqa: F811
):
    # The registry changes the description; the repository adds a focus area.
    publish(users, agent_text(description="Ours."), Agent.objects.get(name="agent-one"))
    theirs = ONE.replace("## Focus Areas\n", "## Focus Areas\n- **Theirs**: added upstream\n")
    someone_pushes(synced, tmp_path, {"agents/agent-one.md": theirs}, "Add a focus area")

    report = push_waiting()

    (change_id,) = report.pulled.proposed
    change = ChangeRequest.objects.get(pk=change_id)
    assert change.status == ChangeRequest.Status.OPEN
    assert change.author.username == "repository"
    assert not change.author.has_usable_password()  # nobody signs in as it
    assert "description: Ours." in change.text
    assert "- **Theirs**: added upstream" in change.text
    assert change.message.startswith("Merge of the repository's change: Add a focus area")
    assert change.base_version == Agent.objects.get(name="agent-one").live_version
    # Synced again: the same change is not proposed twice.
    assert push_waiting().pulled.proposed == []
    assert ChangeRequest.objects.filter(author__username="repository").count() == 1


def test_a_new_file_is_a_new_agent_and_a_removed_one_proposes_its_archive(
    synced,
    tmp_path,
    users,  # noqa: F811
):
    new = agent_text("agent-three", "Does a third thing.")
    other = tmp_path / "other"
    git(tmp_path, "clone", "--quiet", str(synced), str(other))
    (other / "agents" / "agent-three.md").write_text(new)
    git(other, "rm", "--quiet", "agents/other-agent.md")
    git(other, "add", "--all")
    git(other, "commit", "--quiet", "-m", "Add agent-three, drop other-agent")
    git(other, "push", "--quiet", "origin", "HEAD:main")

    report = push_waiting()

    assert report.pulled.created == ["agents/agent-three.md"]
    assert Agent.objects.get(name="agent-three").live_version.text == new
    (change_id,) = report.pulled.proposed
    archive = ChangeRequest.objects.get(pk=change_id)
    assert archive.kind == ChangeRequest.Kind.ARCHIVE
    assert archive.agent.name == "other-agent"
    assert archive.status == ChangeRequest.Status.OPEN


def test_a_file_that_breaks_the_import_rules_is_reported_and_skipped(
    synced,
    tmp_path,
    users,  # noqa: F811
):
    push_one_unreadable_file(synced, tmp_path)

    report = push_waiting()

    assert report.pulled.rejected == [
        ("agents/latin.md", "line 2: byte 0xe9 is not valid UTF-8; save the file as UTF-8")
    ]
    assert report.pulled.updated == ["agents/other-agent.md"]
    assert not Agent.objects.filter(path="agents/latin.md").exists()
    assert RepositoryState.current().last_pulled_commit == git(synced, "rev-parse", "main").strip()


def test_the_tasks_page_says_what_a_sync_took_in_and_skipped(
    synced,
    tmp_path,
    maintainer_client,  # noqa: F811
):
    push_one_unreadable_file(synced, tmp_path)
    from registry.tasks import enqueue_sync

    enqueue_sync()
    work_the_queue()
    page = maintainer_client.get("/tasks/").text

    assert "1 taken in from the repository" in page
    assert "1 file skipped" in page
    assert "agents/latin.md: line 2: byte 0xe9 is not valid UTF-8" in page


def test_the_repository_page_says_how_far_the_registry_is_behind(
    synced,
    tmp_path,
    users,  # noqa: F811
    monkeypatch,
    client,
    maintainer,
):
    from registry.sync import repository
    from registry.sync.git import GitError
    from registry.sync.repository import RemoteError

    # The registry's own commit does not count, nor one to a file that is not an agent.
    publish(
        users, agent_text(description="From the registry."), Agent.objects.get(name="agent-one")
    )
    push_waiting()
    someone_pushes(synced, tmp_path, {"agents/other-agent.md": OTHER + "\nOne.\n"}, "One")
    someone_pushes(synced, tmp_path, {"agents/other-agent.md": OTHER + "\nTwo.\n"}, "Two")
    someone_pushes(synced, tmp_path, {"LICENSE": "MIT, 2026\n"}, "Licence")

    def fails(clone, upstream, progress=None):
        raise GitError("reading the files failed")

    monkeypatch.setattr(repository, "pull", fails)
    with pytest.raises(RemoteError):
        push_waiting()

    assert RepositoryState.current().behind == 2
    client.force_login(maintainer)
    assert "Behind: 2 commits" in client.get("/repository/").text

    monkeypatch.undo()
    push_waiting()

    assert RepositoryState.current().behind == 0
    page = client.get("/repository/").text
    assert "Behind: 0 commits" in page
    assert "Ahead: 0 changes" in page
