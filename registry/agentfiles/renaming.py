"""Renaming an agent in files: its own name, and every place another file names it (Delegate To
items, `Agent(x)` in tools, Copilot's agents and handoffs), each changed on its own line only."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from registry.agentfiles.document import AgentDocument, strip_ending
from registry.agentfiles.validation import (
    delegations,
    key_delegations,
    section_delegations,
    tool_delegations,
)

# `Agent(a, b)` or `Task(a)` in a tools line: the names are the text inside the parentheses.
_AGENT_CALL_RE = re.compile(r"(?P<head>\b(?:Agent|Task)\()(?P<names>[^()]*)(?P<tail>\))")


def _word(name: str) -> re.Pattern:
    """name as a whole agent name: not a part of a longer one (names hold letters, digits,
    hyphens, underscores and dots)."""
    return re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(name)}(?![A-Za-z0-9_-]|\.[A-Za-z0-9])")


def renamed_self(document: AgentDocument, new_name: str) -> AgentDocument:
    """The agent's own file under its new name: only the `name` line changes."""
    return document.with_frontmatter_value("name", new_name)


def renamed_path(path: str, old_name: str, new_name: str) -> str:
    """The file's path after the rename: the new name where the file is named after the old
    one (agents/old.md to agents/new.md); the same path otherwise."""
    pure = PurePosixPath(path)
    if pure.stem != old_name:
        return path
    return str(pure.with_name(f"{new_name}{pure.suffix}"))


def names(document: AgentDocument, name: str) -> bool:
    """Whether the document delegates to name anywhere."""
    return any(delegation.name == name for delegation in delegations(document))


def renamed_references(document: AgentDocument, old: str, new: str) -> AgentDocument:
    """The document with every delegation to old naming new instead, each changed in place on
    its own line: the Delegate To items, `Agent(x)` in tools, Copilot's agents and handoffs."""
    for delegation in section_delegations(document):
        if delegation.name == old:
            index, column = delegation.line - 1, delegation.column - 1
            line = strip_ending(document.lines[index])
            if line[column : column + len(old)] == old:
                document = document.with_line_text(
                    index, line[:column] + new + line[column + len(old) :]
                )
    if any(d.name == old for d in tool_delegations(document)):
        document = _in_key_lines(document, "tools", old, new, calls_only=True)
    for key in ("agents", "handoffs"):
        if any(d.name == old and d.source == key for d in key_delegations(document)):
            document = _in_key_lines(document, key, old, new, calls_only=False)
    return document


# A handoff's agent line: the label and prompt beside it are prose, which may name it too.
_HANDOFF_AGENT_RE = re.compile(r"\s*(?:-\s+)?[\"']?agent[\"']?\s*:")


def _in_key_lines(
    document: AgentDocument, key: str, old: str, new: str, *, calls_only: bool
) -> AgentDocument:
    """old made new in the lines of one frontmatter key: inside `Agent(...)` calls only, for
    tools; as a whole name anywhere in the lines, for Copilot's keys."""
    span = document.key_spans.get(key)
    if span is None:
        return document
    word = _word(old)
    for index in range(span.start + 1, span.end + 1):  # file line 0 is the opening ---
        line = strip_ending(document.lines[index])
        if key == "handoffs" and not _HANDOFF_AGENT_RE.match(line):
            continue
        if calls_only:
            changed = _AGENT_CALL_RE.sub(
                lambda call: call["head"] + word.sub(new, call["names"]) + call["tail"], line
            )
        else:
            changed = word.sub(new, line)
        if changed != line:
            document = document.with_line_text(index, changed)
    return document
