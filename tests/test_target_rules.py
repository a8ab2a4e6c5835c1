"""The rule packs per target: a file is checked against the fields of the tool that reads it
(Claude Code, GitHub Copilot or OpenCode, from its folder), and the project's required sections
and delegation rules apply whichever it is."""

import collections

import pytest

from registry.agentfiles import validation
from registry.agentfiles.document import AgentDocument
from tests.helpers import CORPUS, agent_text, file_problems, tree

KNOWN = {"agent-one", "other-agent"}


def codes(text: str, target: str) -> list[str]:
    return [p.code for p in file_problems(text.encode(), KNOWN, target=target)]


# (target, frontmatter lines after name and description, the codes they break)
CASES = [
    # GitHub Copilot
    ("copilot", "target: vscode\n", []),
    ("copilot", "target: jetbrains\n", ["value-unknown"]),
    ("copilot", "disable-model-invocation: true\nuser-invocable: false\n", []),
    ("copilot", "user-invocable: sometimes\n", ["value-unknown"]),
    ("copilot", "tools: ['read', 'search', 'made-up-tool']\n", []),  # unknown tools ignored
    ("copilot", "tools:\n  read: true\n", ["field-type"]),
    ("copilot", "argument-hint: a file\nmetadata:\n  team: api\n", []),
    ("copilot", "mcp-servers:\n  fetch:\n    type: local\n", []),
    ("copilot", "infer: false\n", ["key-deprecated"]),
    ("copilot", "permissionMode: plan\n", ["key-unknown"]),  # Claude Code's, not Copilot's
    ("copilot", "handoffs:\n  - label: Review\n    agent: other-agent\n", []),
    ("copilot", "handoffs: other-agent\n", ["field-type"]),
    ("copilot", "agents: [other-agent]\n", []),
    ("copilot", "agents: {other-agent: true}\n", ["field-type"]),
    # OpenCode
    ("opencode", "mode: subagent\nmodel: anthropic/claude-sonnet-4-5\n", []),
    ("opencode", "mode: helper\n", ["value-unknown"]),
    ("opencode", "model: sonnet\n", ["model-unknown"]),
    ("opencode", "hidden: true\ndisabled: false\n", []),
    ("opencode", "hidden: yes please\n", ["value-unknown"]),
    ("opencode", "permission:\n  edit: deny\n", []),
    ("opencode", "tools:\n  write: false\n", ["key-deprecated"]),
    ("opencode", "temperature: 0.2\nsteps: 5\n", ["key-deprecated", "key-deprecated"]),
    ("opencode", "color: blue\n", ["key-deprecated"]),
    ("opencode", "effort: high\n", ["key-unknown"]),
    # Claude Code, the default
    ("claude-code", "effort: high\ncolor: blue\n", []),
    ("claude-code", "mode: subagent\n", ["key-unknown"]),
    ("claude-code", "model: anthropic/claude-sonnet-4-5\n", ["model-unknown"]),
]


@pytest.mark.parametrize(("target", "extra", "expected"), CASES)
def test_each_target_checks_its_own_fields(target, extra, expected):
    assert codes(agent_text(extra=extra), target) == expected


@pytest.mark.parametrize("target", ["copilot", "opencode"])
def test_a_display_name_or_none_is_fine_where_the_tool_names_agents_by_file(target):
    with_display_name = agent_text().replace("name: agent-one", "name: Agent One")
    without_name = agent_text().replace("name: agent-one\n", "")

    assert codes(with_display_name, target) == []
    assert codes(without_name, target) == []
    assert codes(without_name, "claude-code") == ["name-missing"]


@pytest.mark.parametrize("target", ["claude-code", "copilot", "opencode"])
def test_every_target_requires_a_description_and_the_projects_sections(target):
    text = agent_text(description="").replace("## Boundaries", "## Limits")

    problems = file_problems(text.encode(), KNOWN, target=target)

    assert [p.code for p in problems] == ["description-missing", "section-missing"]
    tool = {"claude-code": "Claude Code", "copilot": "GitHub Copilot", "opencode": "OpenCode"}
    assert f"{tool[target]} requires one" in problems[0].message


def test_copilot_reads_at_most_30000_characters_of_instructions():
    text = agent_text()
    body = len(AgentDocument(text).body)
    fits = text + "x" * (30_000 - body - 1) + "\n"
    too_long = fits + "One more line.\n"

    assert codes(fits, "copilot") == []
    (problem,) = file_problems(too_long.encode(), KNOWN, target="copilot")
    assert problem.code == "body-too-long"
    assert problem.message.startswith("the instructions are 30,015 characters long")
    assert codes(too_long, "claude-code") == []  # Claude Code has no such limit


def test_a_copilot_agent_that_names_itself_or_an_unknown_agent_is_told_where():
    text = agent_text(
        extra="agents: ['agent-one', '*']\nhandoffs:\n  - label: Go\n    agent: ghost\n"
    )

    problems = file_problems(text.encode(), KNOWN, target="copilot")

    assert [(p.code, p.line, p.where) for p in problems] == [
        ("delegate-self", 4, "frontmatter.agents"),
        ("delegate-unknown", 7, "frontmatter.handoffs"),
    ]
    assert problems[0].message == "the agent may start itself ('agent-one', in agents)"


def test_an_agent_tool_naming_the_agent_itself_is_an_error():
    problems = file_problems(agent_text(extra="tools: Read, Agent(agent-one)\n").encode(), KNOWN)

    assert [(p.code, p.where) for p in problems] == [("delegate-self", "frontmatter.tools")]


def test_delegations_say_where_each_came_from():
    text = agent_text(
        extra="tools: Agent(other-agent)\nagents: [other-agent]\n"
        "handoffs:\n  - label: Go\n    agent: other-agent\n"
    )

    found = validation.delegations(AgentDocument(text))

    assert [(d.name, d.source) for d in found] == [
        ("other-agent", "section"),
        ("other-agent", "tools"),
        ("other-agent", "agents"),
        ("other-agent", "handoffs"),
    ]


def test_the_rules_fingerprint_follows_the_default_target():
    assert validation.rules_fingerprint(default_target="copilot") != (
        validation.rules_fingerprint(default_target="claude-code")
    )


# Problems per code over the real corpus, read as each tool would read it.
CORPUS_PROBLEMS = {
    "claude-code": {
        "boundaries-will-missing": 1,
        "boundaries-will-not-missing": 1,
        "color-unknown": 3,
        "frontmatter-missing": 8,
        "model-unknown": 2,
        "section-missing": 1430,
        "tool-unknown": 19,
    },
    "copilot": {
        "boundaries-will-missing": 1,
        "boundaries-will-not-missing": 1,
        "frontmatter-missing": 8,
        "key-unknown": 14,
        "section-missing": 1430,
    },
    "opencode": {
        "boundaries-will-missing": 1,
        "boundaries-will-not-missing": 1,
        "frontmatter-missing": 8,
        "key-deprecated": 89,
        "model-unknown": 398,
        "section-missing": 1430,
    },
}


@pytest.mark.parametrize("target", CORPUS_PROBLEMS)
def test_the_corpus_problems_per_code_under_each_target(target):
    files = tree(CORPUS)
    names = set()
    for data in files.values():
        problems = file_problems(data)
        if not any(p.code in ("not-utf8", "too-large") for p in problems):
            name = validation.agent_name(AgentDocument.parse(data))
            names.update([name] if name else [])

    found = collections.Counter(
        problem.code
        for data in files.values()
        for problem in file_problems(data, names, target=target)
    )

    assert dict(found) == CORPUS_PROBLEMS[target]


@pytest.mark.django_db
def test_the_rule_pages_say_which_tools_each_rule_is_checked_for(reader):
    listing = reader.get("/rules/").text
    copilot_only = reader.get("/rules/body-too-long/").text
    everyone = reader.get("/rules/section-missing/").text

    assert "anywhere else, Claude Code (<code>REGISTRY_DEFAULT_TARGET</code>)" in listing
    assert "<code>key-deprecated</code>" in listing
    assert "Checked for GitHub Copilot files." in copilot_only
    assert "Checked for every tool's files" in everyone
