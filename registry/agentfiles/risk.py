"""What a change to an agent file grants: the tools, permissions, hooks and servers it widens,
and the risk level a reviewer sees (none, widens or high), from the frontmatter before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry.agentfiles.document import AgentDocument, DocumentError
from registry.agentfiles.targets import CLAUDE_CODE, COPILOT, OPENCODE
from registry.agentfiles.validation import _listed

NONE, WIDENS, HIGH = "none", "widens", "high"
LEVELS = (NONE, WIDENS, HIGH)
LEVEL_LABELS = {NONE: "No new grants", WIDENS: "Widens", HIGH: "High risk"}

# Claude Code's tools that run commands, write files, reach the network or other agents.
POWERFUL_TOOLS = frozenset({"Bash", "Write", "Edit", "WebFetch"})
# GitHub Copilot's tool names (and sets) that do the same.
COPILOT_POWERFUL_TOOLS = frozenset(
    {"runCommands", "runInTerminal", "terminal", "execute", "shell", "edit", "editFiles", "fetch"}
)
# permissionMode from the most careful to the least; absent or unknown is "default".
PERMISSION_MODES = ("plan", "default", "acceptEdits", "auto", "dontAsk", "bypassPermissions")
HIGH_PERMISSION_MODES = frozenset({"dontAsk", "bypassPermissions"})
OPENCODE_ACTIONS = ("deny", "ask", "allow")


@dataclass(frozen=True)
class Grant:
    """One thing a change grants (or, at level none, changes that a reviewer should see)."""

    key: str  # the frontmatter key it concerns
    what: str  # in words, e.g. "adds Bash"
    level: str = WIDENS
    detail: str = ""  # a command or a URL, verbatim
    powerful: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "what": self.what,
            "level": self.level,
            "detail": self.detail,
            "powerful": self.powerful,
        }


@dataclass(frozen=True)
class Summary:
    """Everything a change grants, and its risk level: the highest of its grants'."""

    grants: tuple[Grant, ...]

    @property
    def level(self) -> str:
        return max((grant.level for grant in self.grants), key=LEVELS.index, default=NONE)

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    def for_key(self, key: str) -> list[Grant]:
        return [grant for grant in self.grants if grant.key == key]

    def as_json(self) -> dict[str, Any]:
        return {"level": self.level, "grants": [grant.as_json() for grant in self.grants]}


def frontmatter_of(text: str | None) -> dict | None:
    """The frontmatter of an agent file's text (None: no file); an unreadable one is empty."""
    if text is None:
        return None
    try:
        frontmatter = AgentDocument.parse(text).frontmatter
    except DocumentError:
        return {}
    return frontmatter if isinstance(frontmatter, dict) else {}


def summarize_texts(before: str | None, after: str, target: str = CLAUDE_CODE) -> Summary:
    """What changing the file before (None for a new agent) into after grants."""
    return summarize(frontmatter_of(before), frontmatter_of(after) or {}, target)


def summarize(before: dict | None, after: dict, target: str = CLAUDE_CODE) -> Summary:
    """What changing frontmatter before (None for a new agent) into after grants, read as the
    target's tool reads it."""
    new_agent = before is None
    before = before or {}
    grants: list[Grant] = []
    if target == OPENCODE:
        grants += _opencode_permissions(before, after, new_agent)
        if isinstance(before.get("tools"), dict) or isinstance(after.get("tools"), dict):
            grants += _opencode_tools(before, after)
        else:
            grants += _tools(before, after, new_agent, POWERFUL_TOOLS)
    elif target == COPILOT:
        grants += _tools(before, after, new_agent, COPILOT_POWERFUL_TOOLS)
        grants += _servers("mcp-servers", before, after)
        grants += _added_names("agents", before, after, "may hand work to")
        grants += _handoffs(before, after)
    else:
        grants += _tools(before, after, new_agent, POWERFUL_TOOLS)
        grants += _disallowed_tools(before, after)
        grants += _permission_mode(before, after)
        grants += _hooks(before, after)
        grants += _servers("mcpServers", before, after)
    grants += _plain_changes(("model", "effort"), before, after)
    return Summary(tuple(grants))


def is_powerful(tool: str, powerful: frozenset[str] = POWERFUL_TOOLS) -> bool:
    name = tool.split("(", 1)[0].strip()
    return (
        name in powerful or name.startswith("mcp__") or (name in ("Agent", "Task") and "(" in tool)
    )


def _tool_list(frontmatter: dict) -> list[str] | None:
    """The tools listed, or None when every tool is allowed (absent, empty or `*`)."""
    value = frontmatter.get("tools")
    if value is None:
        return None
    tools = _listed(value)
    if tools is None:  # not a list the tool can read: treat it as listing nothing readable
        return []
    tools = [str(tool).strip() for tool in tools if str(tool).strip()]
    if not tools or "*" in tools:
        return None
    return tools


def _tools(before: dict, after: dict, new_agent: bool, powerful: frozenset[str]) -> list[Grant]:
    old, new = _tool_list(before), _tool_list(after)
    if new is None:
        if new_agent:
            return [Grant("tools", "every tool (no tools list)", WIDENS)]
        if old is None:
            return []
        return [Grant("tools", "every tool: the tools list is removed or emptied", HIGH)]
    if old is None and not new_agent:
        return [Grant("tools", "narrows every tool to " + ", ".join(new), NONE)]
    grants = [
        Grant("tools", f"adds {tool}", WIDENS, powerful=is_powerful(tool, powerful))
        for tool in new
        if tool not in (old or [])
    ]
    grants += [Grant("tools", f"removes {tool}", NONE) for tool in old or [] if tool not in new]
    return grants


def _disallowed_tools(before: dict, after: dict) -> list[Grant]:
    old = _listed(before.get("disallowedTools")) or []
    new = _listed(after.get("disallowedTools")) or []
    return [
        Grant("disallowedTools", f"no longer disallows {tool}", WIDENS, powerful=is_powerful(tool))
        for tool in old
        if tool not in new
    ]


def _mode_rank(mode: Any) -> int:
    return PERMISSION_MODES.index(mode) if mode in PERMISSION_MODES else 1


def _permission_mode(before: dict, after: dict) -> list[Grant]:
    old, new = before.get("permissionMode"), after.get("permissionMode")
    if _mode_rank(new) <= _mode_rank(old):
        return []
    level = HIGH if new in HIGH_PERMISSION_MODES else WIDENS
    return [Grant("permissionMode", f"{old or 'default'} → {new}", level, powerful=True)]


def _command_line(value: dict) -> str:
    """A definition's command with its arguments, as one line; "" without a command."""
    command, args = value.get("command"), value.get("args")
    parts = command if isinstance(command, list) else [command] if command else []
    if isinstance(args, list):
        parts = [*parts, *args]
    return " ".join(str(part) for part in parts) if parts else ""


def _commands(value: Any, where: str = "") -> set[tuple[str, str]]:
    """Every (where, command) in a hooks structure, found wherever it is nested: where is the
    event that runs it, with the matcher when there is one."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        if command := _command_line(value):
            found.add((where, command))
        matcher = value.get("matcher")
        here = f"{where} ({matcher})" if isinstance(matcher, str) and matcher else where
        for key, item in value.items():
            if key not in ("command", "args", "matcher"):
                found |= _commands(item, here or str(key))
    elif isinstance(value, list):
        for item in value:
            found |= _commands(item, where)
    return found


def _hooks(before: dict, after: dict) -> list[Grant]:
    old, new = _commands(before.get("hooks")), _commands(after.get("hooks"))
    grants = [
        Grant("hooks", f"runs a hook on {where}" if where else "runs a hook", HIGH, command)
        for where, command in sorted(new - old)
    ]
    if not grants and before.get("hooks") != after.get("hooks") and after.get("hooks"):
        grants.append(Grant("hooks", "changes when hooks run", WIDENS))
    return grants


def _server_map(value: Any) -> dict[str, Any]:
    """Servers by name: a mapping of definitions, or a list of names or of one-key mappings."""
    if isinstance(value, dict):
        return {str(name): server for name, server in value.items()}
    servers: dict[str, Any] = {}
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                servers.update({str(name): server for name, server in item.items()})
            elif isinstance(item, str):
                servers[item] = None
    return servers


def _servers(key: str, before: dict, after: dict) -> list[Grant]:
    old, new = _server_map(before.get(key)), _server_map(after.get(key))
    grants = []
    for name, server in new.items():
        if name in old and old[name] == server:
            continue
        verb = "changes" if name in old else "adds"
        old_server = old.get(name) if isinstance(old.get(name), dict) else {}
        if isinstance(server, dict):
            command = _command_line(server)
            if command and command != _command_line(old_server):
                grants.append(Grant(key, f"{verb} server {name}, which runs", HIGH, command))
                continue
            url = server.get("url")
            if isinstance(url, str):
                grants.append(Grant(key, f"{verb} server {name} at", WIDENS, url))
                continue
        grants.append(Grant(key, f"{verb} server {name}", WIDENS))
    return grants


def _names(value: Any) -> list[str]:
    listed = _listed(value)
    return [str(item) for item in listed] if listed else []


def _added_names(key: str, before: dict, after: dict, what: str) -> list[Grant]:
    old = _names(before.get(key))
    return [
        Grant(key, f"{what} {name}", WIDENS) for name in _names(after.get(key)) if name not in old
    ]


def _handoffs(before: dict, after: dict) -> list[Grant]:
    def agents(frontmatter: dict) -> list[str]:
        value = frontmatter.get("handoffs")
        items = value if isinstance(value, list) else []
        return [str(item["agent"]) for item in items if isinstance(item, dict) and "agent" in item]

    old = agents(before)
    return [
        Grant("handoffs", f"hands off to {name}", WIDENS)
        for name in agents(after)
        if name not in old
    ]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as {dotted path: leaf}; a leaf at the top has the path ""."""
    if not isinstance(value, dict):
        return {prefix: value} if value is not None else {}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _opencode_permissions(before: dict, after: dict, new_agent: bool) -> list[Grant]:
    grants = []
    for key in ("permission", "permissions"):
        old, new = _flat(before.get(key)), _flat(after.get(key))
        for path, action in new.items():
            if action == "allow" and old.get(path) != "allow":
                what = f"allows {path or 'everything'}"
                grants.append(Grant(key, what, WIDENS, powerful=_opencode_powerful(path)))
        if not new_agent:
            grants += [
                Grant(key, f"no longer limits {path or 'everything'} ({action})", WIDENS)
                for path, action in old.items()
                if action in ("ask", "deny") and path not in new
            ]
    return grants


def _opencode_powerful(path: str) -> bool:
    return path.split(".", 1)[0] in ("", "bash", "edit", "write", "webfetch", "task")


def _opencode_tools(before: dict, after: dict) -> list[Grant]:
    """OpenCode's deprecated `tools` mapping of tool to true or false (true when left out)."""
    old, new = _flat(before.get("tools")), _flat(after.get("tools"))
    grants = [
        Grant("tools", f"turns on {tool}", WIDENS, powerful=_opencode_powerful(tool))
        for tool, enabled in new.items()
        if enabled is True and old.get(tool) is False
    ]
    grants += [
        Grant("tools", f"no longer turns off {tool}", WIDENS, powerful=_opencode_powerful(tool))
        for tool, enabled in old.items()
        if enabled is False and tool not in new
    ]
    return grants


def _plain_changes(keys: tuple[str, ...], before: dict, after: dict) -> list[Grant]:
    return [
        Grant(key, f"{before.get(key, '(unset)')} → {after.get(key, '(unset)')}", NONE)
        for key in keys
        if before.get(key) != after.get(key)
    ]
