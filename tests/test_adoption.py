"""A team's real repository can take changes: a change is refused only for the errors it brings
in; the errors its base already had are shown, not held against it (REGISTRY_ENFORCEMENT=strict
holds every error against it)."""

import pytest

from registry.agentfiles.document import AgentDocument
from registry.models import Agent, ChangeRequest, Result, WorkflowError
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import CORPUS, DEMO, DEMO_NAMES

pytestmark = pytest.mark.django_db

CORPUS_FILES = sorted(path for path in CORPUS.rglob("*.md") if path.parent != CORPUS)


@pytest.fixture
def corpus():
    """Every real agent file the tests hold, imported with the default settings."""
    report = import_files(
        [IncomingFile(str(path.relative_to(CORPUS)), path.read_bytes()) for path in CORPUS_FILES],
        skip_rejected=True,
    )
    assert report.stored
    return Agent.objects.select_related("live_version").order_by("path")


@pytest.fixture
def editor(make_user):
    return make_user("edith", "Editors")


@pytest.fixture
def reviewer(make_user):
    return make_user("rita", "Reviewers")


def one_line_fix(text: str) -> str:
    """The description with a sentence more, as a user fixes it; where the frontmatter cannot
    be read, a line more at the end of the file."""
    document = AgentDocument(text)
    description = (document.frontmatter or {}).get("description")
    if document.frontmatter_error is None and isinstance(description, str) and description:
        changed = document.with_frontmatter_value("description", description + " Revised.")
        return changed.to_bytes().decode("utf-8")
    return text + ("" if text.endswith("\n") else "\n") + "Revised.\n"


def propose(author, agent, text):
    return ChangeRequest.start_draft(author=author, text=text, message="One line", agent=agent)


def test_a_one_line_change_to_every_real_agent_submits_and_publishes(corpus, editor, reviewer):
    agents = list(corpus)
    with_errors = sum(1 for agent in agents if agent.error_count)
    assert len(agents) == len(CORPUS_FILES)
    assert with_errors > len(agents) // 2  # real files break the rules, most of them

    published = 0
    for agent in agents:
        change = propose(editor, agent, one_line_fix(agent.live_version.text))
        assert change.take("submit", editor).result == Result.SUBMITTED, agent.path
        outcome = change.take("approve", reviewer, seen_hash=change.text_hash)
        assert outcome.result == Result.PUBLISHED, (agent.path, outcome)
        published += 1

    assert published == len(agents)


def test_the_change_page_shows_the_errors_already_there_apart(corpus, editor, client):
    agent = next(agent for agent in corpus if agent.error_count >= 2)
    change = propose(editor, agent, one_line_fix(agent.live_version.text))
    client.force_login(editor)

    checked = change.checked()
    page = client.get(f"/changes/{change.pk}/").content.decode()

    assert checked.introduced == []
    assert len(checked.already_there) == agent.error_count
    assert f"Already in version {agent.live_version.number}" in page
    assert "they do not stop this change" in page


def test_removing_a_required_section_an_agent_has_is_refused(editor):
    import_files(
        [
            IncomingFile(f"agents/{name}.md", (DEMO / f"{name}.md").read_bytes())
            for name in DEMO_NAMES
        ]
    )
    agent = Agent.objects.get(key="backend-architect")
    assert agent.error_count == 0
    document = AgentDocument(agent.live_version.text)
    text = document.without_section(document.find_section("Boundaries")).to_bytes().decode()
    change = propose(editor, agent, text)

    with pytest.raises(WorkflowError) as refused:
        change.submit(editor)

    assert "the text has 1 error that version 1 does not have" in str(refused.value)
    assert "'## Boundaries' is missing" in str(refused.value)


def test_a_change_that_fixes_errors_says_so(corpus, editor):
    agent = next(
        agent
        for agent in corpus
        if any(problem["code"] == "section-missing" for problem in agent.problems)
    )
    document = AgentDocument(agent.live_version.text)
    for title in ("Focus Areas", "Boundaries", "Delegate To"):
        if document.find_section(title) is None:
            document = document.with_section_added(title, "- Something\n")
    change = propose(editor, agent, document.to_bytes().decode())

    fixed = change.checked().fixed

    assert {problem.code for problem in fixed} >= {"section-missing"}


def test_strict_enforcement_holds_every_error_against_a_change(corpus, editor, settings):
    settings.REGISTRY_ENFORCEMENT = "strict"
    agent = next(agent for agent in corpus if agent.error_count)
    change = propose(editor, agent, one_line_fix(agent.live_version.text))

    with pytest.raises(WorkflowError) as refused:
        change.submit(editor)

    assert f"the text has {agent.error_count} error" in str(refused.value)
    assert "does not have" not in str(refused.value)


def test_a_new_agent_must_be_free_of_errors(corpus, editor):
    agent = next(
        agent
        for agent in corpus
        if agent.error_count and f"\nname: {agent.name}\n" in agent.live_version.text
    )
    text = agent.live_version.text.replace(f"name: {agent.name}", "name: brand-new-agent", 1)
    assert "brand-new-agent" in text
    change = ChangeRequest.start_draft(author=editor, text=text, message="Copy")

    with pytest.raises(WorkflowError) as refused:
        change.submit(editor)

    assert "does not have" not in str(refused.value)
