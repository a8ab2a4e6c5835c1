"""Change sets: several agents in one change request, reviewed once and published together
(every agent or none), pushed as one commit; a rename and the missing sections made as sets."""

import difflib

import pytest
from django.contrib.auth.models import Group

from registry.models import Agent, AuditEvent, ChangeItem, ChangeRequest, Push, Result
from registry.models.change_sets import (
    plan_rename,
    propose_missing_sections,
    propose_rename,
    start_set,
)
from registry.models.changes import SaveConflict
from registry.sync.repository import push_waiting
from tests.helpers import agent_text, git, run, write

OLD = agent_text("old-name", "Does the old thing.", delegate_to="- **caller-one** — x\n")
CALLER_ONE = agent_text(
    "caller-one", "Calls by section.", delegate_to="- **old-name** — the old thing\n"
)
CALLER_TWO = agent_text(
    "caller-two",
    "Calls by tool.",
    extra="tools: Read, Agent(old-name), Bash\n",
    delegate_to="- **caller-one** — other things\n",
)
CALLER_THREE = agent_text(
    "caller-three",
    "Calls as Copilot does.",
    extra=(
        "agents:\n  - old-name\nhandoffs:\n  - label: Hand over to old-name\n    agent: old-name\n"
    ),
    delegate_to="- **caller-one** — other things\n",
)
FILES = {
    "agents/old-name.md": OLD,
    "agents/caller-one.md": CALLER_ONE,
    "agents/caller-two.md": CALLER_TWO,
    ".github/agents/caller-three.md": CALLER_THREE,
}
# The lines each file's rename changes: (removed, added).
EXPECTED = {
    "agents/old-name.md": (["name: old-name"], ["name: new-name"]),
    "agents/caller-one.md": (
        ["- **old-name** — the old thing"],
        ["- **new-name** — the old thing"],
    ),
    "agents/caller-two.md": (
        ["tools: Read, Agent(old-name), Bash"],
        ["tools: Read, Agent(new-name), Bash"],
    ),
    ".github/agents/caller-three.md": (
        ["  - old-name", "    agent: old-name"],
        ["  - new-name", "    agent: new-name"],
    ),
}


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith(("---", "+++", "@@")):
            continue
        (removed if line.startswith("-") else added).append(line[1:])
    return removed, added


@pytest.fixture
def users(django_user_model):
    def make(username, group):
        user = django_user_model.objects.create_user(username, password="a-password")
        user.groups.add(Group.objects.get(name=group))
        return user

    return {"editor": make("editor", "Editors"), "reviewer": make("reviewer", "Reviewers")}


@pytest.fixture
def four(tmp_path):
    folder = write(tmp_path / "agents-in", FILES)
    code, _, err = run("import_agents", folder)
    assert code == 0, err
    return {agent.path: agent for agent in Agent.objects.all()}


def texts_by_path() -> dict[str, str]:
    return {
        agent.path: agent.live_version.text
        for agent in Agent.objects.select_related("live_version")
    }


@pytest.mark.django_db
def test_rename_plan_names_the_agents_that_delegate_to_it(four):
    plan = plan_rename(four["agents/old-name.md"], "new-name")
    assert plan.new_path == "agents/new-name.md"
    assert sorted(agent.name for agent in plan.referrers) == [
        "caller-one",
        "caller-three",
        "caller-two",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "code"),
    [("New Name", "name-invalid"), ("caller-one", "name-taken"), ("old-name", "name-unchanged")],
)
def test_rename_to_an_invalid_or_taken_name_is_refused(four, users, name, code):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        propose_rename(four["agents/old-name.md"], name, users["editor"])
    assert refused.value.code == code
    assert not ChangeRequest.objects.exists()


@pytest.mark.django_db
def test_rename_is_proposed_approved_and_published_changing_only_its_lines(four, users):
    before = texts_by_path()
    change = propose_rename(four["agents/old-name.md"], "new-name", users["editor"])
    assert change.kind == ChangeRequest.Kind.SET
    assert change.items.count() == 4
    assert change.error_count == 0
    change.submit(users["editor"])
    outcome = change.approve(users["reviewer"])
    assert outcome.results == (Result.APPROVED, Result.PUBLISHED)
    assert len(outcome.versions) == 4
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.PUBLISHED
    after = texts_by_path()
    assert set(after) == {path.replace("old-name.md", "new-name.md") for path in EXPECTED}
    renamed = Agent.objects.get(path="agents/new-name.md")
    assert renamed.pk == four["agents/old-name.md"].pk
    assert renamed.name == "new-name"
    assert (
        changed_lines(before["agents/old-name.md"], after["agents/new-name.md"])
        == (EXPECTED["agents/old-name.md"])
    )
    for path in ("agents/caller-one.md", "agents/caller-two.md", ".github/agents/caller-three.md"):
        assert changed_lines(before[path], after[path]) == EXPECTED[path], path
    # The delegations resolve: nobody names a missing agent.
    assert not Agent.objects.with_problem("delegate-unknown").exists()
    assert sorted(name for _, name in renamed.delegated_by()) == [
        "caller-one",
        "caller-three",
        "caller-two",
    ]


@pytest.mark.django_db
def test_an_edit_to_any_item_makes_approvals_stale(four, users, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = propose_rename(four["agents/old-name.md"], "new-name", users["editor"])
    change.submit(users["editor"])
    change.approve(users["reviewer"])
    assert change.valid_approvals().count() == 1
    item = change.items.get(path="agents/caller-one.md")
    item.save_text(item.text.replace("the old thing", "the renamed thing"), change.revision)
    change.refresh_from_db()
    assert change.valid_approvals().count() == 0
    assert change.revision == 2
    with pytest.raises(SaveConflict):
        item.save_text(item.text, 1)


@pytest.mark.django_db
def test_a_set_is_published_whole_or_not_at_all(four, users):
    change = propose_rename(four["agents/old-name.md"], "new-name", users["editor"])
    change.submit(users["editor"])
    # Meanwhile someone makes an agent with the new name: nothing of the set is published.
    Agent.create_new(agent_text("new-name", delegate_to="- **caller-one** — x\n"), users["editor"])
    outcome = change.take("approve", users["reviewer"])
    assert outcome.result == Result.REFUSED
    assert "already used" in outcome.reason
    change.refresh_from_db()
    assert change.status != ChangeRequest.Status.PUBLISHED
    assert Agent.objects.get(pk=four["agents/caller-one.md"].pk).live_version.number == 1
    assert Agent.objects.filter(name="old-name").exists()


@pytest.mark.django_db
def test_a_set_merges_per_agent_and_needs_a_fresh_approval(four, users):
    change = propose_rename(four["agents/old-name.md"], "new-name", users["editor"])
    change.submit(users["editor"])
    caller = Agent.objects.get(path="agents/caller-one.md")
    caller.add_version(caller.live_version.text.replace("Calls by section.", "Calls by list."))
    outcome = change.approve(users["reviewer"])
    assert outcome.results == (Result.APPROVED, Result.MERGED)
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.OPEN
    assert change.valid_approvals().count() == 0
    item = change.items.get(path="agents/caller-one.md")
    assert "Calls by list." in item.text and "**new-name**" in item.text
    assert change.approve(users["reviewer"]).result == Result.PUBLISHED


@pytest.mark.django_db
def test_a_set_with_a_conflict_does_not_publish_until_it_is_resolved(four, users):
    change = propose_rename(four["agents/old-name.md"], "new-name", users["editor"])
    change.submit(users["editor"])
    caller = Agent.objects.get(path="agents/caller-one.md")
    caller.add_version(
        caller.live_version.text.replace("**old-name** — the old thing", "**old-name** — older")
    )
    outcome = change.approve(users["reviewer"])
    assert outcome.results == (Result.APPROVED, Result.CONFLICT)
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.CHANGES_REQUESTED
    assert change.conflicts and change.conflicts[0].startswith("caller-one: ")
    assert "publish" not in change.allowed_actions(users["reviewer"])
    assert change.take("submit", users["editor"]).result == Result.REFUSED
    item = change.items.get(path="agents/caller-one.md")
    assert item.conflicts
    caller.refresh_from_db()
    item.save_text(
        caller.live_version.text.replace("**old-name** — older", "**new-name** — older"),
        change.revision,
        rebase=True,
    )
    change.refresh_from_db()
    assert change.conflicts == []
    change.submit(users["editor"])
    assert change.approve(users["reviewer"]).result == Result.PUBLISHED
    assert "**new-name** — older" in Agent.objects.get(pk=caller.pk).live_version.text


@pytest.mark.django_db
def test_missing_sections_are_added_to_every_agent_that_lacks_them(users, tmp_path):
    lacking = agent_text("lacking-one", delegate_to="- **caller-x** — y\n").split("## Boundaries")[
        0
    ]
    write(
        tmp_path / "in",
        {
            "a/lacking-one.md": lacking,
            "a/fine.md": agent_text("fine", delegate_to="- **lacking-one** — y\n"),
        },
    )
    assert run("import_agents", tmp_path / "in")[0] == 0
    change = propose_missing_sections(Agent.objects.all(), users["editor"])
    (item,) = change.items.all()
    assert item.path == "a/lacking-one.md"
    removed, added = changed_lines(lacking, item.text)
    assert removed == []
    assert "## Boundaries" in added and "## Delegate To" in added
    change.submit(users["editor"])
    assert change.approve(users["reviewer"]).result == Result.PUBLISHED
    agent = Agent.objects.get(path="a/lacking-one.md")
    assert not any(p["code"] == "section-missing" for p in agent.problems)


@pytest.mark.django_db
def test_an_empty_set_is_refused(users):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        start_set(author=users["editor"], entries=[])
    assert refused.value.code == "set-empty"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("isolated_git")
def test_a_published_rename_is_one_commit_changing_only_its_lines(tmp_path, settings, users):
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    write(work, FILES)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "Start")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    assert run("import_agents", work)[0] == 0
    settings.REGISTRY_GIT_REMOTE = str(bare)
    settings.REGISTRY_GIT_BRANCH = "main"
    settings.REGISTRY_GIT_SUBDIR = ""
    settings.REGISTRY_DATA_DIR = tmp_path / "data"
    change = propose_rename(Agent.objects.get(name="old-name"), "new-name", users["editor"])
    change.submit(users["editor"])
    change.approve(users["reviewer"])
    assert Push.objects.filter(change=change).count() == 4
    report = push_waiting()
    assert report.pushed == [change.pk]
    assert git(bare, "log", "--format=%s", "main").splitlines() == [
        "Update 4 agents from the registry",
        "Start",
    ]
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert f"Registry-Change: {change.pk}" in message
    status = git(bare, "diff", "--name-status", "-M", "main~1", "main").splitlines()
    assert sorted(status) == sorted(
        [
            "M\t.github/agents/caller-three.md",
            "M\tagents/caller-one.md",
            "M\tagents/caller-two.md",
            "R095\tagents/old-name.md\tagents/new-name.md",
        ]
    ) or any(line.startswith("R") for line in status)
    for path, (removed, added) in EXPECTED.items():
        new_path = path.replace("old-name.md", "new-name.md")
        old = git(bare, "show", f"main~1:{path}")
        new = git(bare, "show", f"main:{new_path}")
        assert changed_lines(old, new) == (removed, added), path
    assert set(Push.objects.values_list("state", flat=True)) == {Push.State.PUSHED}
    assert AuditEvent.objects.filter(action="repository.push").count() == 4
    assert ChangeItem.objects.filter(change=change, published_version__isnull=False).count() == 4


# Pages -------------------------------------------------------------------------------------


@pytest.fixture
def editor_client(client, users):
    client.force_login(users["editor"])
    return client


@pytest.mark.django_db
def test_agent_page_offers_rename_to_editors(four, editor_client):
    agent = four["agents/old-name.md"]
    html = editor_client.get(f"/agents/{agent.key}/").content.decode()
    assert f'href="/agents/{agent.key}/rename/"' in html


@pytest.mark.django_db
def test_rename_form_shows_the_agents_that_will_change(four, editor_client):
    agent = four["agents/old-name.md"]
    html = editor_client.get(f"/agents/{agent.key}/rename/").content.decode()
    files = html[html.index('id="rename-files"') :]
    for name in ("caller-one", "caller-two", "caller-three"):
        assert f">{name}</a>" in files


@pytest.mark.django_db
def test_rename_form_refuses_a_taken_name(four, editor_client):
    agent = four["agents/old-name.md"]
    response = editor_client.post(f"/agents/{agent.key}/rename/", {"name": "caller-one"})
    assert response.status_code == 200
    assert "already used by the agent" in response.content.decode()
    assert not ChangeRequest.objects.exists()


@pytest.mark.django_db
def test_rename_form_makes_a_change_set_and_its_page_shows_each_diff(four, editor_client):
    agent = four["agents/old-name.md"]
    response = editor_client.post(f"/agents/{agent.key}/rename/", {"name": "new-name"})
    change = ChangeRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/changes/{change.pk}/"
    html = editor_client.get(f"/changes/{change.pk}/").content.decode()
    assert "change set of 4 agents" in html
    assert html.count('class="panel change-item"') == 4
    assert "agents/old-name.md → agents/new-name.md" in html
    assert "+tools: Read, Agent(new-name), Bash" in html
    assert "-tools: Read, Agent(old-name), Bash" in html
    assert "Submit for review" in html


@pytest.mark.django_db
def test_readers_cannot_rename(four, reader):
    agent = four["agents/old-name.md"]
    assert reader.get(f"/agents/{agent.key}/rename/").status_code == 403
    assert reader.post(f"/agents/{agent.key}/rename/", {"name": "x-y"}).status_code == 403


@pytest.mark.django_db
def test_add_sections_confirms_the_count_then_proposes_a_set(users, editor_client, tmp_path):
    lacking = agent_text("lacking-one").split("## Boundaries")[0]
    write(
        tmp_path / "in",
        {
            "a/lacking-one.md": lacking,
            "a/lacking-two.md": lacking.replace("lacking-one", "lacking-two"),
            "b/lacking-three.md": lacking.replace("lacking-one", "lacking-three"),
        },
    )
    assert run("import_agents", tmp_path / "in")[0] == 0
    html = editor_client.get("/agents/add-sections/").content.decode()
    assert "3 agents lack a required section" in html
    html = editor_client.get("/agents/add-sections/", {"q": "lacking-two"}).content.decode()
    assert "1 agent lacks a required section" in html
    assert 'name="q" value="lacking-two"' in html
    response = editor_client.post("/agents/add-sections/", {"q": "lacking-two"})
    change = ChangeRequest.objects.get()
    assert response["Location"] == f"/changes/{change.pk}/"
    assert [item.path for item in change.items.all()] == ["a/lacking-two.md"]


@pytest.mark.django_db
def test_agent_list_offers_add_sections_to_editors(editor_client):
    assert 'id="add-sections"' in editor_client.get("/agents/").content.decode()


@pytest.mark.django_db
def test_agent_list_does_not_offer_add_sections_to_readers(reader):
    assert 'id="add-sections"' not in reader.get("/agents/").content.decode()


@pytest.mark.django_db
def test_a_set_is_as_risky_as_its_riskiest_agent(four, users):
    caller = four["agents/caller-one.md"]
    widened = caller.live_version.text.replace(
        "description: Calls by section.\n",
        "description: Calls by section.\npermissionMode: bypassPermissions\n",
    )
    old = four["agents/old-name.md"]
    change = start_set(
        author=users["editor"],
        entries=[
            (old, old.path, old.live_version.text.replace("old thing", "older thing")),
            (caller, caller.path, widened),
        ],
    )
    assert change.risk == "high"
    (grant,) = change.risk_summary().grants
    assert grant.key == "permissionMode"
    assert grant.what.startswith("caller-one: ")  # a set's grants say which agent they are for
    change.submit(users["editor"])
    change.approve(users["reviewer"])
    change.refresh_from_db()
    assert change.high_risk_approval_missing()
    assert change.status != ChangeRequest.Status.PUBLISHED


def conflicted_rename(four, users):
    """A rename set whose caller-one the live version changed too: a conflict to resolve."""
    change = propose_rename(four["agents/old-name.md"], "new-name", users["editor"])
    change.submit(users["editor"])
    caller = Agent.objects.get(path="agents/caller-one.md")
    caller.add_version(
        caller.live_version.text.replace("**old-name** — the old thing", "**old-name** — older")
    )
    change.approve(users["reviewer"])
    change.refresh_from_db()
    return change, change.items.get(path="agents/caller-one.md"), caller


@pytest.mark.django_db
def test_the_author_resolves_a_set_agents_conflict_in_the_browser(four, users, editor_client):
    change, item, caller = conflicted_rename(four, users)
    page = editor_client.get(f"/changes/{change.pk}/").text
    edit_url = f"/changes/{change.pk}/agents/{item.pk}/edit/"
    assert f'href="{edit_url}">Resolve</a>' in page
    assert "Resolve each agent marked <em>conflict</em>" in page

    form = editor_client.get(edit_url).text
    assert "What the live version changed since this set began" in form
    assert "+- **old-name** — older" in form

    caller.refresh_from_db()
    resolved = caller.live_version.text.replace("**old-name** — older", "**new-name** — older")
    response = editor_client.post(
        edit_url, {"text": resolved.replace("\n", "\r\n"), "revision": change.revision}
    )

    assert response.status_code == 302
    item.refresh_from_db()
    change.refresh_from_db()
    assert item.text == resolved  # the file's own line endings, not the form's
    assert item.base_version_id == caller.live_version_id
    assert (item.conflicts, change.conflicts) == ([], [])
    change.submit(users["editor"])
    assert change.approve(users["reviewer"]).result == Result.PUBLISHED


@pytest.mark.django_db
def test_a_stale_save_of_a_set_agent_keeps_the_text_and_says_so(four, users, editor_client):
    change, item, _ = conflicted_rename(four, users)
    url = f"/changes/{change.pk}/agents/{item.pk}/edit/"

    response = editor_client.post(url, {"text": "my edit\n", "revision": change.revision - 1})

    assert response.status_code == 409
    assert "saved by someone else meanwhile" in response.text
    assert "my edit" in response.text
    item.refresh_from_db()
    assert "my edit" not in item.text


@pytest.mark.django_db
def test_only_the_sets_author_edits_its_agents(four, users, client):
    change, item, _ = conflicted_rename(four, users)
    client.force_login(users["reviewer"])
    url = f"/changes/{change.pk}/agents/{item.pk}/edit/"

    assert client.get(url).status_code == 403
    assert client.post(url, {"text": "x\n", "revision": change.revision}).status_code == 403
    assert "Resolve</a>" not in client.get(f"/changes/{change.pk}/").text
