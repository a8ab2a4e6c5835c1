"""Which tool reads an agent file, from where it lives: Claude Code reads `.claude/agents/`
(and its subfolders), GitHub Copilot `.github/agents/`, OpenCode `.opencode/agent/` or
`.opencode/agents/`. Anywhere else, the registry's default target."""

from __future__ import annotations

from pathlib import PurePosixPath

CLAUDE_CODE, COPILOT, OPENCODE = "claude-code", "copilot", "opencode"
TARGETS = {CLAUDE_CODE: "Claude Code", COPILOT: "GitHub Copilot", OPENCODE: "OpenCode"}

# The folders each tool reads, as path parts that must follow each other.
FOLDERS = (
    ((".claude", "agents"), CLAUDE_CODE),
    ((".github", "agents"), COPILOT),
    ((".opencode", "agents"), OPENCODE),
    ((".opencode", "agent"), OPENCODE),
)


def target_of(path: str, default: str) -> tuple[str, str]:
    """(target, the folder that says so, or "" when the default applies) for a repository path."""
    parts = PurePosixPath(path).parts[:-1]
    for folder, target in FOLDERS:
        for start in range(len(parts) - len(folder) + 1):
            if parts[start : start + len(folder)] == folder:
                return target, "/".join(parts[: start + len(folder)]) + "/"
    return default, ""
