"""An agent's target, the tool that reads it, comes from its folder, else the default."""

import pytest

from registry.agentfiles.targets import target_of
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text


@pytest.mark.parametrize(
    "path, expected",
    [
        (".claude/agents/reviewer.md", ("claude-code", ".claude/agents/")),
        (".claude/agents/team/reviewer.md", ("claude-code", ".claude/agents/")),
        ("plugins/x/.claude/agents/reviewer.md", ("claude-code", "plugins/x/.claude/agents/")),
        (".github/agents/reviewer.agent.md", ("copilot", ".github/agents/")),
        (".opencode/agent/review.md", ("opencode", ".opencode/agent/")),
        (".opencode/agents/team/review.md", ("opencode", ".opencode/agents/")),
        ("agents/reviewer.md", ("claude-code", "")),
        ("claude/agents/reviewer.md", ("claude-code", "")),
        (".claude/agents.md", ("claude-code", "")),
        (".github/workflows/agents/x.md", ("claude-code", "")),
    ],
)
def test_the_folder_says_which_tool_reads_the_file(path, expected):
    assert target_of(path, "claude-code") == expected


def test_elsewhere_the_default_target_applies():
    assert target_of("agents/reviewer.md", "opencode") == ("opencode", "")


@pytest.mark.django_db
def test_the_agent_page_shows_the_target_and_where_it_comes_from(reader, settings):
    import_files(
        [
            IncomingFile(".github/agents/agent-one.md", agent_text().encode()),
            IncomingFile("agents/other-agent.md", agent_text("other-agent").encode()),
        ]
    )

    copilot = reader.get("/agents/agent-one/").text
    default = reader.get("/agents/other-agent/").text
    settings.REGISTRY_GIT_SUBDIR = ".opencode/agent"
    opencode = reader.get("/agents/other-agent/").text

    assert 'title="It lives under .github/agents/">GitHub Copilot</span>' in copilot
    assert '>Claude Code</span> <span class="muted">(the default)</span>' in default
    assert 'title="It lives under .opencode/agent/">OpenCode</span>' in opencode
