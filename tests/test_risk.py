"""What a change grants, and its risk level, from the frontmatter before and after."""

from collections import Counter

import pytest

from registry.agentfiles import risk
from registry.agentfiles.document import AgentDocument, DocumentError
from registry.agentfiles.targets import CLAUDE_CODE, COPILOT, OPENCODE
from tests.helpers import CORPUS, agent_text, tree

HOOK = {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./check"}]}]}
INLINE_SERVER = {"db": {"command": "npx", "args": ["-y", "db-server"]}}

# (before, after, target, expected level); before None is a new agent.
DIFFS = [
    ({"tools": "Read, Grep"}, {"tools": "Read, Grep"}, CLAUDE_CODE, "none"),
    ({"tools": "Read, Grep"}, {"tools": "Read"}, CLAUDE_CODE, "none"),
    ({"tools": "Read"}, {"tools": "Read, Grep"}, CLAUDE_CODE, "widens"),
    ({"tools": "Read"}, {"tools": "Read, Bash"}, CLAUDE_CODE, "widens"),
    ({"tools": ["Read"]}, {"tools": ["Read", "mcp__github__create_issue"]}, CLAUDE_CODE, "widens"),
    ({"tools": "Read"}, {}, CLAUDE_CODE, "high"),
    ({"tools": "Read"}, {"tools": ""}, CLAUDE_CODE, "high"),
    ({"tools": "Read"}, {"tools": []}, CLAUDE_CODE, "high"),
    ({}, {}, CLAUDE_CODE, "none"),
    ({}, {"tools": "Read"}, CLAUDE_CODE, "none"),
    (None, {"tools": "Read"}, CLAUDE_CODE, "widens"),
    (None, {}, CLAUDE_CODE, "widens"),
    ({"disallowedTools": "Bash, Write"}, {"disallowedTools": "Write"}, CLAUDE_CODE, "widens"),
    ({"disallowedTools": "Bash"}, {}, CLAUDE_CODE, "widens"),
    ({}, {"disallowedTools": "Bash"}, CLAUDE_CODE, "none"),
    ({}, {"permissionMode": "plan"}, CLAUDE_CODE, "none"),
    ({}, {"permissionMode": "acceptEdits"}, CLAUDE_CODE, "widens"),
    ({"permissionMode": "acceptEdits"}, {"permissionMode": "auto"}, CLAUDE_CODE, "widens"),
    ({"permissionMode": "acceptEdits"}, {"permissionMode": "dontAsk"}, CLAUDE_CODE, "high"),
    ({}, {"permissionMode": "bypassPermissions"}, CLAUDE_CODE, "high"),
    ({"permissionMode": "bypassPermissions"}, {"permissionMode": "plan"}, CLAUDE_CODE, "none"),
    ({}, {"hooks": HOOK}, CLAUDE_CODE, "high"),
    ({"hooks": HOOK}, {"hooks": HOOK}, CLAUDE_CODE, "none"),
    ({"hooks": HOOK}, {}, CLAUDE_CODE, "none"),
    (
        {"hooks": HOOK},
        {"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"command": "./other"}]}]}},
        CLAUDE_CODE,
        "high",
    ),
    ({}, {"mcpServers": ["github"]}, CLAUDE_CODE, "widens"),
    (
        {},
        {"mcpServers": {"docs": {"type": "http", "url": "https://x.test/mcp"}}},
        CLAUDE_CODE,
        "widens",
    ),
    ({}, {"mcpServers": INLINE_SERVER}, CLAUDE_CODE, "high"),
    ({"mcpServers": INLINE_SERVER}, {"mcpServers": INLINE_SERVER}, CLAUDE_CODE, "none"),
    ({"model": "haiku"}, {"model": "opus"}, CLAUDE_CODE, "none"),
    ({}, {"effort": "high"}, CLAUDE_CODE, "none"),
    ({"tools": ["read"]}, {"tools": ["read", "runCommands"]}, COPILOT, "widens"),
    ({"tools": ["read"]}, {}, COPILOT, "high"),
    ({"tools": ["read"]}, {"tools": ["*"]}, COPILOT, "high"),
    ({}, {"mcp-servers": INLINE_SERVER}, COPILOT, "high"),
    ({"agents": ["a"]}, {"agents": ["a", "b"]}, COPILOT, "widens"),
    ({}, {"handoffs": [{"label": "Go", "agent": "b", "prompt": "x"}]}, COPILOT, "widens"),
    ({}, {"hooks": HOOK}, COPILOT, "none"),  # Copilot does not read Claude Code's hooks
    ({"permission": {"edit": "ask"}}, {"permission": {"edit": "allow"}}, OPENCODE, "widens"),
    ({"permission": {"bash": {"*": "deny"}}}, {}, OPENCODE, "widens"),
    ({"permission": {"edit": "allow"}}, {"permission": {"edit": "deny"}}, OPENCODE, "none"),
    (
        {"permissions": {"webfetch": "deny"}},
        {"permissions": {"webfetch": "allow"}},
        OPENCODE,
        "widens",
    ),
    ({"tools": {"write": False}}, {"tools": {"write": True}}, OPENCODE, "widens"),
    ({"tools": {"write": False}}, {}, OPENCODE, "widens"),
    ({"tools": {"write": True}}, {"tools": {"write": False}}, OPENCODE, "none"),
]


@pytest.mark.parametrize(("before", "after", "target", "level"), DIFFS)
def test_level_of_each_diff(before, after, target, level):
    assert risk.summarize(before, after, target).level == level


def test_powerful_tools_are_marked():
    summary = risk.summarize(
        {"tools": "Read"}, {"tools": "Read, Grep, Bash, WebFetch, Agent(helper), mcp__x__y"}
    )
    powerful = {grant.what for grant in summary.grants if grant.powerful}
    assert powerful == {"adds Bash", "adds WebFetch", "adds Agent(helper)", "adds mcp__x__y"}


def test_commands_and_urls_are_shown_verbatim():
    summary = risk.summarize(
        {},
        {
            "hooks": HOOK,
            "mcpServers": {**INLINE_SERVER, "docs": {"url": "https://x.test/mcp"}},
        },
    )
    details = {(grant.key, grant.detail) for grant in summary.grants}
    assert details == {
        ("hooks", "./check"),
        ("mcpServers", "npx -y db-server"),
        ("mcpServers", "https://x.test/mcp"),
    }
    assert summary.for_key("hooks")[0].what == "runs a hook on PreToolUse (Bash)"


def test_permission_mode_move_is_named():
    (grant,) = risk.summarize({"permissionMode": "plan"}, {"permissionMode": "dontAsk"}).grants
    assert (grant.key, grant.what, grant.level) == ("permissionMode", "plan → dontAsk", "high")


def test_summary_of_texts_reads_their_frontmatter():
    before = agent_text(extra="tools: Read\n")
    assert risk.summarize_texts(before, agent_text()).level == "high"
    assert risk.summarize_texts(before, before).level == "none"
    assert risk.summarize_texts(None, before).level == "widens"
    assert risk.summarize_texts(before, "---\nname: [\n---\n").level == "high"


def _without_tools(text: bytes) -> tuple[str, str] | None:
    try:
        document = AgentDocument.parse(text)
        frontmatter = document.frontmatter
    except DocumentError:
        return None
    if not frontmatter or "tools" not in frontmatter:
        return document.text, document.text
    return document.text, document.without_frontmatter_key("tools").text


def test_removing_the_tools_line_across_the_corpus():
    files = {
        path: data
        for path, data in tree(CORPUS).items()
        if path.endswith(".md") and path != "README.md"
    }
    assert len(files) == 536
    levels = Counter()
    for data in files.values():
        texts = _without_tools(data)
        levels[risk.summarize_texts(*texts).level if texts else "unreadable"] += 1
    # Every file that lists its tools grants every tool without that line; the others had
    # every tool already (or no readable frontmatter to lose a line from).
    assert levels == {"high": 74, "none": 462}
