"""The rules an agent file must follow, turned into a list of located problems."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

from registry.agentfiles.document import (
    AgentDocument,
    DocumentError,
    Section,
    normalize_heading,
)
from registry.agentfiles.targets import CLAUDE_CODE, COPILOT, OPENCODE, TARGETS

DEFAULT_REQUIRED_SECTIONS = ("Focus Areas", "Boundaries", "Delegate To")
# The rules' version: raised whenever a rule finds something different in the same text, so
# that problems found under the old rules are found again (rules_fingerprint).
RULES_VERSION = 3
ERROR = "error"
WARNING = "warning"

NAME_MAX_LENGTH = 64
NAME_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
KNOWN_KEYS = frozenset(
    {
        "name",
        "description",
        "tools",
        "disallowedTools",
        "model",
        "permissionMode",
        "color",
        "skills",
        "category",
        "hooks",
        "mcpServers",
        "maxTurns",
        "memory",
        "background",
        "effort",
        "isolation",
        "initialPrompt",
    }
)
# Claude Code's subagent frontmatter, as https://code.claude.com/docs/en/sub-agents.md lists it
# (supported frontmatter fields): the values of the keys that take one of a few.
VALUE_CHOICES = {
    "memory": ("user", "project", "local"),
    "effort": ("low", "medium", "high", "xhigh", "max"),
    "isolation": ("worktree",),
}
# The agents Claude Code has built in, which `Agent(x)` in tools may name without a file.
BUILTIN_AGENTS = frozenset({"Explore", "Plan", "general-purpose", "statusline-setup"})
MODEL_ALIASES = frozenset({"sonnet", "opus", "haiku", "inherit"})
MODEL_ID_RE = re.compile(r"claude-[a-z0-9]+(?:[-.@][a-z0-9]+)*\Z")
PERMISSION_MODES = frozenset(
    {"default", "acceptEdits", "auto", "bypassPermissions", "plan", "dontAsk", "manual"}
)
COLORS = frozenset({"red", "blue", "green", "yellow", "purple", "orange", "pink", "cyan"})
KNOWN_TOOLS = frozenset(
    {
        "Agent",
        "Bash",
        "BashOutput",
        "Edit",
        "ExitPlanMode",
        "Glob",
        "Grep",
        "KillShell",
        "LS",
        "MultiEdit",
        "NotebookEdit",
        "NotebookRead",
        "Read",
        "Skill",
        "SlashCommand",
        "Task",
        "TodoWrite",
        "WebFetch",
        "WebSearch",
        "Write",
    }
)
_TOOL_PATTERN_RE = re.compile(r"(?P<tool>[A-Za-z]+)(?:\(.*\))?\Z")

# GitHub Copilot's custom agents (.github/agents/), as these pages describe them:
# - https://docs.github.com/en/copilot/reference/custom-agents-configuration (name optional,
#   description required, target, tools, model, disable-model-invocation, user-invocable, infer
#   deprecated, mcp-servers, metadata; at most 30,000 characters of instructions; tool names it
#   does not know are ignored);
# - https://code.visualstudio.com/docs/agents/reference/custom-agent-file-reference (VS Code
#   adds handoffs, argument-hint and agents: the agents it may start as subagents).
COPILOT_KEYS = frozenset(
    {
        "name",
        "description",
        "target",
        "tools",
        "model",
        "disable-model-invocation",
        "user-invocable",
        "mcp-servers",
        "metadata",
        "handoffs",
        "argument-hint",
        "agents",
        "hooks",
        "category",
    }
)
COPILOT_TARGETS = ("vscode", "github-copilot")
COPILOT_BODY_MAX = 30_000
COPILOT_DEPRECATED = {"infer": "use disable-model-invocation and user-invocable"}
# OpenCode's agents (.opencode/agents/), as https://opencode.ai/docs/agents describes them
# (description, mode, model as provider/model, permission, hidden, disabled; nested paths are
# ids) and https://opencode.ai/docs/migrate-v1 (the older fields it still reads, deprecated).
OPENCODE_KEYS = frozenset(
    {
        "name",
        "description",
        "mode",
        "model",
        "variant",
        "prompt",
        "permission",
        "permissions",
        "hidden",
        "disabled",
        "top_p",
        "category",
    }
)
OPENCODE_MODES = ("primary", "subagent", "all")
OPENCODE_DEPRECATED = {
    "tools": "use permission",
    "temperature": "set it on the model",
    "steps": "OpenCode 2 ignores it",
    "maxSteps": "OpenCode 2 ignores it",
    "color": "OpenCode 2 ignores it",
}
OPENCODE_MODEL_RE = re.compile(r"[\w.-]+/\S+\Z")
_WILL_LABELS = {"will": "will", "will not": "will not", "won t": "will not", "wont": "will not"}
_DELEGATE_RE = re.compile(
    # A name never ends in "_", so the closing "__" of `__name__` is not read as part of it.
    r"\s*\[?(?:\*\*|__|\*|_)?\s*`?\s*(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)"
    r"\s*`?\s*:?\s*(?:\*\*|__|\*|_)?\s*(?:\]\([^)]*\))?\s*(?:[:\u2014\u2013-]|\Z)"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an agent file, and where."""

    code: str
    severity: str
    message: str
    line: int = 1
    column: int = 1
    where: str = ""  # "frontmatter", "frontmatter.<key>", "section:<title>" or "file"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict:
        return asdict(self)


def problem_from_error(error: DocumentError, where: str = "file") -> Problem:
    return Problem(error.code, ERROR, error.message, error.line, error.column, where)


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and len(name) <= NAME_MAX_LENGTH and bool(NAME_RE.match(name))


def suggest_name(text: str) -> str:
    """A valid name close to text: "Brand Guardian" -> "brand-guardian"."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:NAME_MAX_LENGTH].rstrip("-")


def agent_name(document: AgentDocument) -> str | None:
    """The document's `name` when its frontmatter has a text one."""
    name = (document.frontmatter or {}).get("name")
    return name if isinstance(name, str) else None


def validate(
    document: AgentDocument,
    known_names: Collection[str] | None = None,
    *,
    taken_names: Collection[str] = (),
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> list[Problem]:
    """All problems of a document, in file order.

    known_names: names Delegate To may point at (None skips that check).
    taken_names: names of *other* agents; this one's may not equal any of them ignoring case.
    target: the tool that reads the file (targets.py), whose rules its frontmatter follows."""
    problems = intrinsic_problems(document, required_sections, target)
    problems += registry_problems(
        agent_name(document),
        document.key_line("name") or 1,
        delegations(document),
        known_names,
        taken_names,
    )
    return sort_problems(problems)


def rules_fingerprint(
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS, default_target: str = CLAUDE_CODE
) -> str:
    """What intrinsic_problems finds in a text depends on besides the text: the rules' version
    and the settings given to them (the target of a file outside every tool's folder is the
    default one). Problems cached under another fingerprint are stale."""
    settings_given = json.dumps([RULES_VERSION, list(required_sections), default_target])
    return hashlib.sha256(settings_given.encode()).hexdigest()[:16]


def intrinsic_problems(
    document: AgentDocument,
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> list[Problem]:
    """The problems a document has on its own, whatever else is in the registry, under the
    rules of the tool that reads it (target) and the project's required sections."""
    return sort_problems(
        [
            *_character_problems(document),
            *_frontmatter_problems(document, target),
            *_section_problems(document, required_sections),
            *_delegation_shape_problems(document),
        ]
    )


def registry_problems(
    name: str | None,
    name_line: int,
    delegated: Iterable[Delegation],
    known_names: Collection[str] | None,
    taken_names: Collection[str] = (),
) -> list[Problem]:
    """The problems that depend on the other agents: a duplicate name, unknown delegates.

    Cheap: works from the cached name and delegations, without parsing the file again."""
    problems = []
    if name and name.strip():
        lowered = name.lower()
        clash = next((other for other in taken_names if other.lower() == lowered), None)
        if clash is not None:
            problems.append(
                Problem(
                    "name-duplicate",
                    ERROR,
                    f"name {name!r} is already used by another agent ({clash!r}); "
                    "names must be unique ignoring case",
                    name_line,
                    1,
                    "frontmatter.name",
                )
            )
    if known_names is not None:
        own = (name or "").lower()
        for delegation in delegated:
            if delegation.name.lower() != own and delegation.name not in known_names:
                in_section = delegation.source == "section"
                problems.append(
                    Problem(
                        "delegate-unknown",
                        ERROR,
                        f"{'delegates to' if in_section else 'may start'} {delegation.name!r}"
                        f"{'' if in_section else f' (in {delegation.source})'}, which is not a "
                        "known agent",
                        delegation.line,
                        delegation.column,
                        "section:Delegate To" if in_section else f"frontmatter.{delegation.source}",
                    )
                )
    return problems


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column, p.code))


def counts(problems: Iterable[Problem]) -> tuple[int, int]:
    """(errors, warnings)."""
    problems = list(problems)
    errors = sum(1 for p in problems if p.is_error)
    return errors, len(problems) - errors


# --- Against a baseline --------------------------------------------------------------------

# Text a reviewer cannot see is never accepted, even where the base had it already.
NEVER_BASELINED = frozenset({"hidden-character", "control-character"})
# Codes whose message names what they are about (the delegate, the clashing name), without a
# line: two of them at the same place are different problems when their messages differ.
_NAMED_IN_MESSAGE = frozenset({"delegate-unknown", "delegate-self", "name-duplicate"})


def baseline_key(problem: Problem) -> tuple[str, str, str]:
    """What a problem is about, not where it is: its code and the key or section it concerns
    (lines move when text is added above)."""
    named = problem.message if problem.code in _NAMED_IN_MESSAGE else ""
    return problem.code, problem.where, named


@dataclass(frozen=True)
class AgainstBase:
    """A text's errors compared with those of the version it is based on."""

    introduced: list[Problem]  # errors the base did not have: these refuse a change
    already_there: list[Problem]  # errors the base had too
    fixed: list[Problem]  # the base's errors that are gone


def against_base(problems: Iterable[Problem], base_problems: Iterable[Problem]) -> AgainstBase:
    """Which errors a change introduces, keeps and fixes, compared by baseline_key."""
    base_errors = [problem for problem in base_problems if problem.is_error]
    left: dict[tuple, list[Problem]] = {}
    for problem in base_errors:
        left.setdefault(baseline_key(problem), []).append(problem)
    introduced, already_there = [], []
    for problem in problems:
        if not problem.is_error:
            continue
        same = left.get(baseline_key(problem))
        if same and problem.code not in NEVER_BASELINED:
            same.pop()
            already_there.append(problem)
        else:
            introduced.append(problem)
    fixed = sort_problems(problem for remaining in left.values() for problem in remaining)
    return AgainstBase(introduced, already_there, fixed)


# --- Characters a reviewer cannot see --------------------------------------------------------

# Control characters but tab and the line endings; characters that draw nothing: the format
# characters (Unicode's category Cf: zero-width spaces and joiners, bidirectional embeddings,
# overrides and isolates, invisible operators, the tag characters U+E0000-U+E007F), line and
# paragraph separators and the Hangul fillers; and the noncharacters U+FFFE and U+FFFF.
# Left out of Cf: the prepended concatenation marks (U+0600-U+0605 and the like), which show.
# A test checks this table against the running Python's Unicode database.
_ASCII_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL = _ASCII_CONTROL + "\x80-\x9f"
_INVISIBLE_BMP = (
    "\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\u3164\ufeff\uffa0\ufff9-\ufffb\ufffe\uffff"
)
_INVISIBLE = (
    _INVISIBLE_BMP + "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f"
)
_SELECTOR_BMP = "\ufe00-\ufe0f"
_SELECTOR = _SELECTOR_BMP + "\U000e0100-\U000e01ef"
# A run of hidden characters; or variation selectors that select nothing: two or more in a
# row (one can change a character's look; a run can carry any text), or with no character
# before them.
_HIDDEN_RE = re.compile(
    rf"[{_CONTROL}{_INVISIBLE}]+|[{_SELECTOR}]{{2,}}|(?:(?<=\s)|(?<![\s\S]))[{_SELECTOR}]"
)
# Any character _HIDDEN_RE could start at: one plain search rules most texts out at once, where
# the lookbehinds of _HIDDEN_RE would be tried at every position. The regex engine tests a
# class's ranges past U+FFFF one by one at each character, which makes this search several
# times slower than one for the same class without them: texts without such characters (most,
# emoji aside) are searched for the rest only.
_HIDDEN_CANDIDATE_RE = re.compile(f"[{_CONTROL}{_INVISIBLE}{_SELECTOR}]")
_BMP_CANDIDATE_RE = re.compile(f"[{_CONTROL}{_INVISIBLE_BMP}{_SELECTOR_BMP}]")
_ASCII_CANDIDATE_RE = re.compile(f"[{_ASCII_CONTROL}]")
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_ZERO_WIDTH_JOINER = "\u200d"
HIDDEN_REPORT_LIMIT = 20


def _joins_emoji(text: str, start: int) -> bool:
    """A zero-width joiner between two pictographs (as in 👩‍💻) draws them as one: it shows."""
    if start == 0 or start + 1 >= len(text):
        return False
    before, after = text[start - 1], text[start + 1]
    return (unicodedata.category(before) in {"So", "Sk"} or before == "\ufe0f") and (
        unicodedata.category(after) == "So"
    )


def hidden_runs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of characters in text that a reader cannot see."""
    if text.isascii():
        first = _ASCII_CANDIDATE_RE.search(text)
    elif len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text):
        first = _BMP_CANDIDATE_RE.search(text)  # no character past U+FFFF (UTF-16 pairs them)
    else:
        first = _HIDDEN_CANDIDATE_RE.search(text)
    if first is None:
        return
    for match in _HIDDEN_RE.finditer(text, first.start()):
        start, end = match.span()
        if match.group() == _ZERO_WIDTH_JOINER and _joins_emoji(text, start):
            continue
        yield start, end


def hidden_kind(run: str) -> str:
    """What a run of hidden characters is, in words."""
    return "control characters" if _CONTROL_RE.match(run) else "invisible characters"


def describe_hidden(run: str, limit: int = 6) -> str:
    """The code points of a run of hidden characters, and what tag characters spell."""
    shown = " ".join(f"U+{ord(character):04X}" for character in run[:limit])
    if len(run) > limit:
        shown += f" … ({len(run):,} in a row)"
    spelled = "".join(
        chr(ord(character) - 0xE0000)
        for character in run
        if "\U000e0020" <= character <= "\U000e007e"
    )
    if spelled:
        quoted = spelled if len(spelled) <= 60 else spelled[:60] + "…"
        shown += f", spelling {quoted!r}"
    return shown


def _character_problems(document: AgentDocument):
    """Every run of control or invisible characters, located: text a reviewer cannot see must
    never pass review unseen."""
    line_starts = list(itertools.accumulate((len(line) for line in document.lines), initial=0))
    frontmatter_end = document.body_start
    reported = 0
    for start, end in hidden_runs(document.text):
        reported += 1
        line = bisect.bisect_right(line_starts, start) - 1
        column = start - line_starts[line] + 1
        if reported == HIDDEN_REPORT_LIMIT + 1:
            unlisted_at = (line + 1, column)
        if reported > HIDDEN_REPORT_LIMIT:
            continue
        run = document.text[start:end]
        yield Problem(
            "control-character" if _CONTROL_RE.match(run) else "hidden-character",
            ERROR,
            f"holds {hidden_kind(run)} a reviewer cannot see ({describe_hidden(run)}); "
            "agent files are plain text, so remove them",
            line + 1,
            column,
            _where_line(document, line, frontmatter_end),
        )
    if reported > HIDDEN_REPORT_LIMIT:
        yield Problem(
            "hidden-character",
            ERROR,
            f"{reported - HIDDEN_REPORT_LIMIT:,} more runs of hidden characters from here on "
            "are not listed",
            *unlisted_at,
            "file",
        )


def _where_line(document: AgentDocument, line: int, frontmatter_end: int) -> str:
    if line < frontmatter_end:
        return "frontmatter"
    section = next((s for s in document.sections if s.start <= line < s.end), None)
    return f"section:{section.title}" if section else "file"


# --- Frontmatter ----------------------------------------------------------------------------


def _frontmatter_problems(document: AgentDocument, target: str = CLAUDE_CODE):
    tool = TARGETS[target]
    if document.frontmatter_error is not None:
        yield problem_from_error(document.frontmatter_error, "frontmatter")
        return
    if not document.has_frontmatter:
        yield Problem(
            "frontmatter-missing",
            ERROR,
            f"the file has no frontmatter, so {tool} does not load it as an agent; start "
            "it with a '---' line, then 'name:' and 'description:', then another '---' line",
            1,
            1,
            "frontmatter",
        )
        return
    data = document.frontmatter

    def at(key: str) -> int:
        return document.key_line(key) or 1

    if target == CLAUDE_CODE:
        yield from _name_problems(data, at)
    elif "name" in data and data["name"] is not None and not isinstance(data["name"], str):
        yield Problem(
            "name-invalid", ERROR, "'name' must be text", at("name"), 1, "frontmatter.name"
        )
    description = data.get("description")
    if description is None or (isinstance(description, str) and not description.strip()):
        yield Problem(
            "description-missing",
            ERROR,
            f"'description' is missing or empty: {tool} requires one; say when this agent "
            "should be used",
            at("description"),
            1,
            "frontmatter.description",
        )
    elif not isinstance(description, str):
        yield Problem(
            "field-type",
            ERROR,
            "'description' must be text",
            at("description"),
            1,
            "frontmatter.description",
        )

    if target == COPILOT:
        yield from _copilot_problems(document, data, at)
        known, deprecated = COPILOT_KEYS, COPILOT_DEPRECATED
    elif target == OPENCODE:
        yield from _opencode_problems(data, at)
        known, deprecated = OPENCODE_KEYS, OPENCODE_DEPRECATED
    else:
        yield from _tools_problems(data, at)
        yield from _choice_problems(data, at)
        yield from _value_problems(data, at)
        known, deprecated = KNOWN_KEYS, {}
    for key in data:
        if key in deprecated:
            yield Problem(
                "key-deprecated",
                WARNING,
                f"{key!r} is deprecated in {tool}: {deprecated[key]}",
                at(key),
                1,
                f"frontmatter.{key}",
            )
        elif key not in known:
            yield Problem(
                "key-unknown",
                WARNING,
                f"unknown key {key!r}; {tool} ignores it (other tools may use it)",
                at(key),
                1,
                f"frontmatter.{key}",
            )


def _name_problems(data: dict, at):
    name = data.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        yield Problem(
            "name-missing",
            ERROR,
            "'name' is missing or empty, so Claude Code does not load the file as an agent",
            at("name"),
            1,
            "frontmatter.name",
        )
    elif not isinstance(name, str):
        yield Problem(
            "name-invalid", ERROR, "'name' must be text", at("name"), 1, "frontmatter.name"
        )
    elif not is_valid_name(name):
        suggestion = suggest_name(name)
        hint = f" (for example {suggestion!r})" if suggestion else ""
        too_long = f", at most {NAME_MAX_LENGTH} characters" if len(name) > NAME_MAX_LENGTH else ""
        yield Problem(
            "name-invalid",
            ERROR,
            f"name {name!r} must be lowercase letters, digits and single hyphens{too_long}{hint}",
            at("name"),
            1,
            "frontmatter.name",
        )


# --- Other targets' frontmatter ----------------------------------------------------------------


def _unread_value(key: str, value, tool: str, expected: str, at) -> Problem:
    return Problem(
        "value-unknown",
        WARNING,
        f"{key}: {value!r} is not what {tool} reads here; use {expected}",
        at(key),
        1,
        f"frontmatter.{key}",
    )


def _copilot_problems(document: AgentDocument, data: dict, at):
    tool = TARGETS[COPILOT]
    if data.get("target") is not None and data["target"] not in COPILOT_TARGETS:
        yield _unread_value("target", data["target"], tool, " or ".join(COPILOT_TARGETS), at)
    for key in ("disable-model-invocation", "user-invocable", "infer"):
        if data.get(key) is not None and not isinstance(data[key], bool):
            yield _unread_value(key, data[key], tool, "true or false", at)
    for key in ("tools", "agents"):
        if data.get(key) is not None and _listed(data[key]) is None:
            yield _not_a_list(key, at)
    handoffs = data.get("handoffs")
    if handoffs is not None and _handoff_agents(handoffs) is None:
        yield Problem(
            "field-type",
            ERROR,
            "'handoffs' must be a list of entries, each with 'label' and 'agent' texts",
            at("handoffs"),
            1,
            "frontmatter.handoffs",
        )
    body = document.body
    if len(body) > COPILOT_BODY_MAX:
        yield Problem(
            "body-too-long",
            ERROR,
            f"the instructions are {len(body):,} characters long; {tool} reads at most "
            f"{COPILOT_BODY_MAX:,}, so the rest is lost: shorten them",
            document.body_start + 1,
            1,
            "file",
        )


def _opencode_problems(data: dict, at):
    tool = TARGETS[OPENCODE]
    if data.get("mode") is not None and data["mode"] not in OPENCODE_MODES:
        yield _unread_value("mode", data["mode"], tool, ", ".join(OPENCODE_MODES), at)
    for key in ("hidden", "disabled"):
        if data.get(key) is not None and not isinstance(data[key], bool):
            yield _unread_value(key, data[key], tool, "true or false", at)
    model = data.get("model")
    if model is not None and not (isinstance(model, str) and OPENCODE_MODEL_RE.match(model)):
        yield Problem(
            "model-unknown",
            WARNING,
            f"model {model!r} is not one OpenCode can find; name it as provider/model, such "
            "as anthropic/claude-sonnet-4-5",
            at("model"),
            1,
            "frontmatter.model",
        )


def _handoff_agents(handoffs) -> list[str] | None:
    """The agents Copilot's handoffs name; None when they are not a list of entries."""
    if not isinstance(handoffs, list):
        return None
    found = []
    for entry in handoffs:
        if not isinstance(entry, dict) or not isinstance(entry.get("agent"), str):
            return None
        found.append(entry["agent"])
    return found


# A comma that separates tools: not one inside the parentheses of `Agent(a, b)`.
# One tool: text up to a comma, where a comma inside parentheses (Agent(a, b)) is part of it.
_TOOL_ITEM_RE = re.compile(r"(?:\([^()]*\)|[^,])+")
_AGENT_TOOL_RE = re.compile(r"(?:Agent|Task)\((?P<names>[^()]*)\)\Z")


def _value_problems(data: dict, at):
    """The keys Claude Code reads a number, a yes or no, a text or one of a few words from."""
    wanted = {
        "maxTurns": (
            lambda value: isinstance(value, int) and not isinstance(value, bool) and value > 0,
            "a whole number of turns, 1 or more",
        ),
        "background": (lambda value: isinstance(value, bool), "true or false"),
        "initialPrompt": (lambda value: isinstance(value, str), "text"),
        **{
            key: (lambda value, choices=choices: value in choices, "one of " + ", ".join(choices))
            for key, choices in VALUE_CHOICES.items()
        },
    }
    for key, (fits, expected) in wanted.items():
        if key in data and data[key] is not None and not _fits(fits, data[key]):
            yield Problem(
                "value-unknown",
                WARNING,
                f"{key}: {data[key]!r} is not what Claude Code reads here; use {expected}",
                at(key),
                1,
                f"frontmatter.{key}",
            )


def _fits(fits, value) -> bool:
    try:
        return bool(fits(value))
    except TypeError:  # a list or a mapping where a word is wanted
        return False


def _listed(value) -> list | None:
    """A comma string or a list of strings as a list; None when it is neither."""
    if isinstance(value, str):
        return [item.strip() for item in _TOOL_ITEM_RE.findall(value) if item.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _not_a_list(key: str, at) -> Problem:
    return Problem(
        "field-type",
        ERROR,
        f"'{key}' must be a comma-separated string or a list of names",
        at(key),
        1,
        f"frontmatter.{key}",
    )


def _tools_problems(data: dict, at):
    for key in ("tools", "disallowedTools", "skills"):
        if key not in data or data[key] is None:
            continue
        items = _listed(data[key])
        if items is None:
            yield _not_a_list(key, at)
            continue
        if key == "skills":
            continue
        for tool in items:
            match = _TOOL_PATTERN_RE.match(tool)
            if tool.startswith("mcp__") or (match and match["tool"] in KNOWN_TOOLS):
                continue
            yield Problem(
                "tool-unknown",
                WARNING,
                f"unknown tool {tool!r} in '{key}'",
                at(key),
                1,
                f"frontmatter.{key}",
            )


def _choice_problems(data: dict, at):
    model = data.get("model")
    if model is not None and not (
        isinstance(model, str) and (model in MODEL_ALIASES or MODEL_ID_RE.match(model))
    ):
        yield Problem(
            "model-unknown",
            WARNING,
            f"unknown model {model!r}; use sonnet, opus, haiku, inherit or a full model id",
            at("model"),
            1,
            "frontmatter.model",
        )
    mode = data.get("permissionMode")
    # A list or mapping here must warn, not raise: it cannot be looked up in a set.
    if mode is not None and not (isinstance(mode, str) and mode in PERMISSION_MODES):
        yield Problem(
            "permission-mode-unknown",
            WARNING,
            f"unknown permissionMode {mode!r}; use one of {', '.join(sorted(PERMISSION_MODES))}",
            at("permissionMode"),
            1,
            "frontmatter.permissionMode",
        )
    color = data.get("color")
    if color is not None and not (isinstance(color, str) and color in COLORS):
        yield Problem(
            "color-unknown",
            WARNING,
            f"unknown color {color!r}; use one of {', '.join(sorted(COLORS))}",
            at("color"),
            1,
            "frontmatter.color",
        )


# --- Sections --------------------------------------------------------------------------------


def _section_problems(document: AgentDocument, required_sections: Sequence[str]):
    last_line = max(len(document.lines), 1)
    for title in required_sections:
        wanted = normalize_heading(title)
        found = [s for s in document.sections if s.key == wanted]
        if not found:
            yield Problem(
                "section-missing",
                ERROR,
                f"required section '## {title}' is missing",
                last_line,
                1,
                f"section:{title}",
            )
            continue
        for extra in found[1:]:
            yield Problem(
                "section-duplicate",
                ERROR,
                f"section '## {title}' appears more than once (also on line {found[0].start + 1})",
                extra.start + 1,
                1,
                f"section:{title}",
            )
        section = found[0]
        if not document.section_body(section).strip():
            yield Problem(
                "section-empty",
                ERROR,
                f"section '## {title}' is empty",
                section.start + 1,
                1,
                f"section:{title}",
            )
        elif wanted == "boundaries":
            yield from _boundaries_problems(document, section, title)


def _boundaries_problems(document: AgentDocument, section: Section, title: str):
    """Boundaries needs a non-empty Will list and a non-empty Will Not list."""
    items: dict[str, int] = {}
    label = None
    for token in document.section_outline(section):
        if token.type == "inline" and token.level == 1:
            found = _WILL_LABELS.get(normalize_heading(token.content))
            if found is not None:
                label = found
                items.setdefault(label, 0)
        elif token.type == "list_item_open" and token.level == 1 and label is not None:
            items[label] += 1
    for wanted, shown in (("will", "**Will:**"), ("will not", "**Will Not:**")):
        if wanted not in items:
            message = f"'## {title}' needs a {shown} list"
        elif not items[wanted]:
            message = f"the {shown} list in '## {title}' is empty"
        else:
            continue
        code = "boundaries-will-missing" if wanted == "will" else "boundaries-will-not-missing"
        yield Problem(code, ERROR, message, section.start + 1, 1, f"section:{title}")


# --- Delegation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delegation:
    name: str
    line: int
    column: int
    # Where it is named: "section" (Delegate To), "tools" (Agent(x) in tools), or Copilot's
    # "agents" and "handoffs" keys.
    source: str = "section"


def delegate_section(document: AgentDocument) -> Section | None:
    return document.find_section("Delegate To")


def delegations(document: AgentDocument) -> list[Delegation]:
    """The agents this one hands work to: those its Delegate To section names, and those it may
    start, as `Agent(x)` (or the older `Task(x)`) in its tools, or as Copilot's `agents` and
    `handoffs` name them."""
    return section_delegations(document) + tool_delegations(document) + key_delegations(document)


def key_delegations(document: AgentDocument) -> list[Delegation]:
    """The agents Copilot's `agents` list and `handoffs` entries name ("*", every agent, is no
    name)."""
    frontmatter = document.frontmatter if document.frontmatter_error is None else None
    if not frontmatter:
        return []
    found = []
    for key, names in (
        ("agents", _listed(frontmatter.get("agents")) or []),
        ("handoffs", _handoff_agents(frontmatter.get("handoffs")) or []),
    ):
        for name in names:
            name = name.strip()
            if name and name != "*":
                line, column = _located(document, key, name)
                found.append(Delegation(name, line, column, key))
    return found


def _located(document: AgentDocument, key: str, name: str) -> tuple[int, int]:
    """(line, column), 1-based, of name in key's lines; the key's first line if not found."""
    span = document.key_spans.get(key)
    # File lines of the key: line 1 is the opening ---, frontmatter line 0 is line 2.
    lines = range(span.start + 1, span.end + 1) if span else range(0)
    line = next((n for n in lines if name in document.lines[n]), lines[0] if lines else 0)
    column = document.lines[line].find(name) + 1 if lines else 1
    return line + 1, column or 1


def tool_delegations(document: AgentDocument) -> list[Delegation]:
    """The agents `Agent(a, b)` or `Task(a)` entries of tools name, but Claude Code's own."""
    frontmatter = document.frontmatter if document.frontmatter_error is None else None
    items = _listed((frontmatter or {}).get("tools"))
    if not items:
        return []
    found = []
    for item in items:
        match = _AGENT_TOOL_RE.match(item)
        if not match:
            continue
        for name in (part.strip() for part in match["names"].split(",")):
            if not name or name in BUILTIN_AGENTS or name == "*":
                continue
            found.append(Delegation(name, *_located(document, "tools", name), "tools"))
    return found


def section_delegations(document: AgentDocument) -> list[Delegation]:
    """The agents named by the Delegate To section's top-level list items."""
    section = delegate_section(document)
    if section is None:
        return []
    found = []
    # One pass: a top-level item's name is in the first text block after its start. Searching
    # ahead from each item instead made a section of empty items quadratic.
    waiting = False
    for block in document.section_outline(section):
        if block.type == "list_item_open":
            waiting = waiting or block.level == 1
            continue
        if not waiting:
            continue
        waiting = False
        inline = block
        match = _DELEGATE_RE.match(inline.content)
        if not match:
            continue
        source = document.lines[inline.line] if inline.line < len(document.lines) else ""
        column = source.find(match["name"]) + 1 or 1
        found.append(Delegation(match["name"], inline.line + 1, column))
    return found


def _delegation_shape_problems(document: AgentDocument):
    own_name = agent_name(document)
    section = delegate_section(document)
    found = section_delegations(document) if section is not None else []
    if section is not None and document.section_body(section).strip() and not found:
        yield Problem(
            "delegate-unreadable",
            WARNING,
            "no agent names found in Delegate To; "
            "list them as '- **agent-name** — what to hand it'",
            section.start + 1,
            1,
            f"section:{section.title}",
        )
    if own_name is None:
        return
    for delegation in found + tool_delegations(document) + key_delegations(document):
        if delegation.name.lower() == own_name.lower():
            in_section = delegation.source == "section"
            yield Problem(
                "delegate-self",
                ERROR,
                f"the agent {'delegates to' if in_section else 'may start'} itself "
                f"({delegation.name!r}{'' if in_section else f', in {delegation.source}'})",
                delegation.line,
                delegation.column,
                f"section:{section.title}" if in_section else f"frontmatter.{delegation.source}",
            )
