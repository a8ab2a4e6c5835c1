"""The drift page: which files differ between the repository and the registry, which side changed
since the last sync, and importing a file as a change request."""

import pytest

from registry.models import Agent, AuditEvent, ChangeRequest, text_hash
from registry.sync import drift
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import NOT_TEXT, agent_text, write

pytestmark = pytest.mark.django_db

ONE = agent_text()
OTHER = agent_text("other-agent", "Does everything else.", delegate_to="- **agent-one** — x\n")
ONE_IN_REPOSITORY = agent_text(description="Changed in the repository.")
ONE_IN_REGISTRY = agent_text(description="Changed in the registry.")


@pytest.fixture
def repo(tmp_path, settings):
    """The configured repository, with two agents imported from it (so both are in sync)."""
    folder = write(tmp_path / "repo", {"agents/agent-one.md": ONE, "agents/other-agent.md": OTHER})
    import_files(
        [
            IncomingFile("agents/agent-one.md", ONE.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    )
    settings.REGISTRY_REPOSITORY_DIR = str(folder)
    return folder


def states(folder) -> dict[str, str]:
    return {entry.path: entry.state for entry in drift.compare(folder).entries}


def entry_for(folder, path) -> drift.DriftEntry:
    return next(entry for entry in drift.compare(folder).entries if entry.path == path)


def publish_in_registry(path, text):
    agent = Agent.objects.get(path=path)
    agent.add_version(text, None, "Edited in the registry")


def diff_text(entry) -> list[str]:
    signs = {"add": "+", "del": "-", "context": " ", "hunk": ""}
    return [signs[line.kind] + line.text for line in entry.diff]


# --- Directions -----------------------------------------------------------------------------------


def test_files_as_last_synced_are_in_sync(repo):
    report = drift.compare(repo)

    assert report.entries == []
    assert report.in_sync == 2


def test_a_file_changed_in_the_repository(repo):
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})

    entry = entry_for(repo, "agents/agent-one.md")

    assert entry.state == drift.CHANGED_IN_REPOSITORY
    assert (entry.diff_from, entry.diff_to) == ("registry", "repository")
    assert "-description: Does one thing well." in diff_text(entry)
    assert "+description: Changed in the repository." in diff_text(entry)
    assert entry.can_import


def test_an_agent_changed_in_the_registry(repo):
    publish_in_registry("agents/agent-one.md", ONE_IN_REGISTRY)

    entry = entry_for(repo, "agents/agent-one.md")

    assert entry.state == drift.CHANGED_IN_REGISTRY
    assert (entry.diff_from, entry.diff_to) == ("repository", "registry")
    assert "+description: Changed in the registry." in diff_text(entry)
    assert not entry.can_import


def test_changed_on_both_sides_is_a_conflict(repo):
    publish_in_registry("agents/agent-one.md", ONE_IN_REGISTRY)
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})

    entry = entry_for(repo, "agents/agent-one.md")

    assert entry.state == drift.CONFLICT
    assert "-description: Changed in the registry." in diff_text(entry)
    assert "+description: Changed in the repository." in diff_text(entry)
    assert entry.can_import


def test_a_difference_with_no_sync_recorded_is_never_synced(repo):
    Agent.objects.filter(path="agents/agent-one.md").update(synced_hash="")
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})

    assert states(repo)["agents/agent-one.md"] == drift.NEVER_SYNCED


def test_a_new_file_is_only_in_the_repository(repo):
    write(repo, {"team/agent-two.md": agent_text("agent-two")})

    entry = entry_for(repo, "team/agent-two.md")

    assert entry.state == drift.NEW_FILE
    assert entry.agent is None
    assert "+name: agent-two" in diff_text(entry)
    assert entry.can_import


def test_an_agent_without_a_file_is_only_in_the_registry(repo, maintainer):
    Agent.create_new(agent_text("agent-two"), maintainer)

    entry = entry_for(repo, "agents/agent-two.md")

    assert entry.state == drift.NOT_EXPORTED
    assert not entry.can_import


def test_a_file_removed_from_the_repository_after_the_sync(repo):
    (repo / "agents/other-agent.md").unlink()

    assert states(repo) == {"agents/other-agent.md": drift.DELETED_IN_REPOSITORY}


def test_an_archived_agents_file_still_present(repo):
    Agent.objects.filter(path="agents/other-agent.md").update(archived=True)

    entry = entry_for(repo, "agents/other-agent.md")

    assert entry.state == drift.ARCHIVED
    assert not entry.can_import


def test_a_file_that_is_not_text_is_unreadable(repo):
    data, reason = NOT_TEXT["latin-1"]
    write(repo, {"agents/latin.md": data})

    entry = entry_for(repo, "agents/latin.md")

    assert entry.state == drift.UNREADABLE
    assert reason in entry.reason
    assert not entry.can_import


def test_files_inside_git_are_not_compared(repo):
    write(repo, {".git/agents/x.md": agent_text("x")})

    assert drift.compare(repo).entries == []


# --- The page ------------------------------------------------------------------------------------


def test_the_page_shows_each_direction_with_its_diff(maintainer_client, repo, maintainer):
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY, "team/agent-two.md": agent_text("a2")})
    Agent.create_new(agent_text("agent-three"), maintainer)

    response = maintainer_client.get("/drift/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Changed in the repository" in page
    assert "Only in the repository" in page
    assert "Only in the registry" in page
    assert "1 in sync" in page
    assert "Diff from the registry to the repository" in page
    assert "The whole file, as the repository has it" in page
    assert '<span class="line add">+description: Changed in the repository.</span>' in page
    assert page.count('action="/drift/import/"') == 2
    assert 'name="csrfmiddlewaretoken"' in page
    assert f'value="{text_hash(ONE_IN_REPOSITORY)}"' in page


def test_the_page_says_when_everything_agrees(maintainer_client, repo):
    page = maintainer_client.get("/drift/").content.decode()

    assert "The repository and the registry agree" in page


def test_the_page_says_when_no_repository_is_configured(maintainer_client, settings):
    settings.REGISTRY_REPOSITORY_DIR = ""

    page = maintainer_client.get("/drift/").content.decode()

    assert "No repository is configured" in page


def test_the_page_says_when_the_repository_folder_is_missing(maintainer_client, settings, tmp_path):
    settings.REGISTRY_REPOSITORY_DIR = str(tmp_path / "gone")

    page = maintainer_client.get("/drift/").content.decode()

    assert "does not exist" in page


@pytest.mark.parametrize("groups", [(), ("Editors",), ("Reviewers",), ("Editors", "Reviewers")])
def test_only_maintainers_see_the_page_or_import(client, make_user, repo, groups):
    client.force_login(make_user("someone", *groups))
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})

    page = client.get("/drift/")
    posted = client.post(
        "/drift/import/", {"path": "agents/agent-one.md", "sha256": text_hash(ONE_IN_REPOSITORY)}
    )

    assert page.status_code == 403
    assert posted.status_code == 403
    assert not ChangeRequest.objects.exists()
    denied = AuditEvent.objects.filter(action__endswith=".denied").values_list("action", flat=True)
    assert sorted(denied) == ["drift.import.denied", "drift.view.denied"]
    assert 'href="/drift/"' not in client.get("/agents/").content.decode()


def test_the_header_links_maintainers_to_the_page(maintainer_client, repo):
    assert 'href="/drift/"' in maintainer_client.get("/agents/").content.decode()


def test_signing_in_comes_first(client, repo):
    response = client.get("/drift/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- Importing a file as a change request ---------------------------------------------------------


def import_file(client, path, text):
    return client.post("/drift/import/", {"path": path, "sha256": text_hash(text)})


def test_importing_a_changed_file_makes_a_draft_edit_and_overwrites_nothing(
    maintainer_client, repo, maintainer
):
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})
    agent = Agent.objects.get(path="agents/agent-one.md")
    live = agent.live_version

    response = import_file(maintainer_client, "agents/agent-one.md", ONE_IN_REPOSITORY)

    change = ChangeRequest.objects.get()
    assert change.kind == ChangeRequest.Kind.EDIT
    assert change.status == ChangeRequest.Status.DRAFT
    assert change.agent == agent
    assert change.author == maintainer
    assert change.base_version == live
    assert change.text == ONE_IN_REPOSITORY
    assert change.message == "Imported from the repository: agents/agent-one.md"
    assert response.status_code == 302
    assert response["Location"] == f"/agents/agent-one/edit/?change={change.pk}"
    agent.refresh_from_db()
    assert agent.live_version == live
    event = AuditEvent.objects.get(action="drift.import")
    assert event.details == {"path": "agents/agent-one.md", "sha256": change.text_hash}
    assert event.actor == maintainer


def test_importing_a_conflicting_file_proposes_it_over_the_registrys_text(maintainer_client, repo):
    publish_in_registry("agents/agent-one.md", ONE_IN_REGISTRY)
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})

    import_file(maintainer_client, "agents/agent-one.md", ONE_IN_REPOSITORY)

    change = ChangeRequest.objects.get()
    assert change.kind == ChangeRequest.Kind.EDIT
    assert change.base_version.text == ONE_IN_REGISTRY


def test_importing_a_new_file_makes_a_draft_new_agent(maintainer_client, repo, settings):
    text = agent_text("agent-two", delegate_to="- **agent-one** — x\n")
    write(repo, {"agents/agent-two.md": text})

    response = import_file(maintainer_client, "agents/agent-two.md", text)

    change = ChangeRequest.objects.get()
    assert change.kind == ChangeRequest.Kind.CREATE
    assert change.agent is None
    assert change.text == text
    assert change.error_count == 0
    assert change.message == "Imported from the repository: agents/agent-two.md"
    assert response["Location"] == f"/agents/new/?change={change.pk}"


def test_a_new_file_away_from_where_new_agents_go_says_so(maintainer_client, repo):
    text = agent_text("agent-two")
    write(repo, {"team/two.md": text})

    import_file(maintainer_client, "team/two.md", text)

    assert ChangeRequest.objects.get().message == (
        "Imported from the repository: team/two.md "
        "(published, it will be written to agents/agent-two.md, after its name)"
    )


def test_a_file_changed_since_the_page_was_shown_is_not_imported(maintainer_client, repo):
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY + "\nMore.\n"})

    response = import_file(maintainer_client, "agents/agent-one.md", ONE_IN_REPOSITORY)

    assert response["Location"] == "/drift/"
    assert not ChangeRequest.objects.exists()
    page = maintainer_client.get("/drift/").content.decode()
    assert "changed in the repository since the page was shown" in page


@pytest.mark.parametrize(
    "path", ["../outside.md", "/etc/passwd.md", "agents/missing.md", ".git/x.md", "agents"]
)
def test_a_path_that_is_no_file_of_the_repository_is_not_imported(maintainer_client, repo, path):
    response = maintainer_client.post("/drift/import/", {"path": path, "sha256": "x"})

    assert response["Location"] == "/drift/"
    assert not ChangeRequest.objects.exists()


def test_an_imported_file_shows_its_change_instead_of_the_button(maintainer_client, repo):
    write(repo, {"agents/agent-one.md": ONE_IN_REPOSITORY})
    import_file(maintainer_client, "agents/agent-one.md", ONE_IN_REPOSITORY)
    change = ChangeRequest.objects.get()

    page = maintainer_client.get("/drift/").content.decode()
    again = import_file(maintainer_client, "agents/agent-one.md", ONE_IN_REPOSITORY)

    assert f'href="/changes/{change.pk}/"' in page
    assert 'action="/drift/import/"' not in page
    assert again["Location"] == "/drift/"
    assert ChangeRequest.objects.count() == 1


def test_the_import_takes_post_only(maintainer_client, repo):
    assert maintainer_client.get("/drift/import/").status_code == 405
