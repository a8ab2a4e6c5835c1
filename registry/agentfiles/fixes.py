"""Certain fixes: the problems whose one right correction is known, made by changing only the
lines concerned. The editor's Fix buttons and `lint_agents --fix` apply them; the rule catalog
(rules.Rule.fix) says in words which codes have one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from registry.agentfiles.document import BOM, AgentDocument, normalize_heading
from registry.agentfiles.targets import CLAUDE_CODE
from registry.agentfiles.validation import (
    DEFAULT_REQUIRED_SECTIONS,
    KNOWN_KEYS,
    NAME_MAX_LENGTH,
    Problem,
    intrinsic_problems,
    is_valid_name,
    suggest_name,
)

_SECTION_SKELETONS = {
    "focus areas": "- **Area**: what this agent knows and does\n",
    "boundaries": (
        "**Will:**\n- What this agent does\n\n**Will Not:**\n- What it leaves to other agents\n"
    ),
    # No list item: no agent is named until a person names one (a placeholder name would be an
    # unknown agent); until then Delegate To warns that it names none.
    "delegate to": "Name the agents this one hands work to, one per line: "
    "`- **agent-name** — what to hand it`.\n",
}
# Spellings of a key that can only mean one key Claude Code reads, compared without case,
# hyphens or underscores (so "Tools", "permission_mode" and "max-turns" are found too):
# allowedTools is what skills and other tools call the list of tools an agent may use.
_KEY_ALIASES = {"allowedtools": "tools"}
# The longest a run of fixes on one file can be: each fix removes its problem, so a file has
# far fewer; this only stops a fix that would bring its problem back.
_MOST_FIXES = 200


def section_skeleton(title: str) -> str:
    """The starting body of a required section: Boundaries gets a Will and a Will Not list."""
    return _SECTION_SKELETONS.get(normalize_heading(title), "Describe this part of the agent.\n")


def with_missing_sections(
    document: AgentDocument, required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS
) -> tuple[AgentDocument, list[str]]:
    """The document with each required section it lacks added where it belongs, with its
    skeleton (as the section-missing fix adds it), and the titles added."""
    added = []
    for title in required_sections:
        if document.find_section(title) is None:
            document = document.with_required_section(
                title, section_skeleton(title), required_sections
            )
            added.append(title)
    return document, added


def _key_form(key: str) -> str:
    return re.sub(r"[-_\s]", "", key).lower()


_KNOWN_BY_FORM = {_key_form(key): key for key in KNOWN_KEYS} | _KEY_ALIASES


def renamed_key(key: str) -> str | None:
    """The key Claude Code reads that an unknown key is a misspelling of, when there is one."""
    if key in KNOWN_KEYS:
        return None
    return _KNOWN_BY_FORM.get(_key_form(key))


@dataclass(frozen=True, eq=False)
class Fix:
    """One problem's certain fix: what it changes, in words, and the document it gives."""

    problem: Problem
    change: str  # what it does, e.g. "add the section '## Focus Areas' with a skeleton ..."
    document: AgentDocument

    @property
    def code(self) -> str:
        return self.problem.code

    @property
    def where(self) -> str:
        return self.problem.where

    @property
    def action(self) -> str:
        """How a form names this fix: "fix:<code>:<where>"."""
        return f"fix:{self.code}:{self.where}"

    @property
    def text(self) -> str:
        """The fixed file's text, with its BOM if it has one."""
        return (BOM if self.document.bom else "") + self.document.text


def _add_section(document, problem, required_sections):
    title = problem.where.removeprefix("section:")
    if not problem.where.startswith("section:") or document.find_section(title) is not None:
        return None
    fixed = document.with_required_section(title, section_skeleton(title), required_sections)
    return f"add the section '## {title}' with a skeleton to fill in", fixed


def _quote_description(document, problem, required_sections):
    error = document.frontmatter_error
    if error is None or error.code != "yaml-syntax" or problem.line != error.line:
        return None
    line = document.lines[problem.line - 1] if problem.line <= len(document.lines) else ""
    if not line.startswith("description:"):
        return None
    try:
        fixed = document.with_plain_value_quoted("description")
    except ValueError:
        return None
    after = fixed.frontmatter_error
    if after is not None and after.line == problem.line:
        return None  # quoting alone does not make this line readable
    return f"put the description on line {problem.line} in quotes", fixed


def _rename_key(document, problem, required_sections):
    key = problem.where.removeprefix("frontmatter.")
    data = document.frontmatter or {}
    new_key = renamed_key(key)
    if key not in data or new_key is None or new_key in data:
        return None
    try:
        fixed = document.with_key_renamed(key, new_key)
    except ValueError:
        return None
    if (fixed.frontmatter or {}).get(new_key) != data[key]:
        return None
    return f"rename the key '{key}' to '{new_key}'", fixed


def _lowercase_name(document, problem, required_sections):
    name = (document.frontmatter or {}).get("name")
    if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH:
        return None  # shortening a name is a choice, not a certain fix
    suggestion = suggest_name(name)
    if suggestion == name or not is_valid_name(suggestion):
        return None
    fixed = document.with_frontmatter_value("name", suggestion)
    return f"change the name {name!r} to {suggestion!r}", fixed


# The codes with a certain fix. rules.Rule.fix says what each does; a test keeps them in step.
FIXERS: dict[str, Callable] = {
    "section-missing": _add_section,
    "yaml-syntax": _quote_description,
    "key-unknown": _rename_key,
    "name-invalid": _lowercase_name,
}


# Fixes that rename to Claude Code's keys: certain only in the files Claude Code reads.
CLAUDE_CODE_ONLY = frozenset({"key-unknown"})


def fix_for(
    document: AgentDocument,
    problem: Problem,
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> Fix | None:
    """The certain fix of one of the document's problems, or None when it has none (for the
    tool, target, that reads the file)."""
    if target != CLAUDE_CODE and problem.code in CLAUDE_CODE_ONLY:
        return None
    fixer = FIXERS.get(problem.code)
    found = fixer(document, problem, required_sections) if fixer else None
    if found is None:
        return None
    change, fixed = found
    return Fix(problem, change, fixed)


def available(
    document: AgentDocument,
    problems: Iterable[Problem],
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> dict[str, list[Fix]]:
    """The fixes the problems found in the document have, by problem code."""
    fixes: dict[str, list[Fix]] = {}
    for problem in problems:
        fix = fix_for(document, problem, required_sections, target)
        if fix is not None:
            fixes.setdefault(problem.code, []).append(fix)
    return fixes


def find(
    document: AgentDocument,
    code: str,
    where: str,
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> Fix | None:
    """The fix of the document's problem with this code and place (Fix.action names them),
    or None when the document has no such problem, or it has no certain fix."""
    if code not in FIXERS:
        return None
    for problem in intrinsic_problems(document, required_sections, target):
        if problem.code == code and problem.where == where:
            return fix_for(document, problem, required_sections, target)
    return None


def apply(
    text: str,
    code: str,
    where: str,
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> str:
    """The text with one fix applied (see find); ValueError when there is none to apply."""
    fix = find(AgentDocument(text), code, where, required_sections, target)
    if fix is None:
        raise ValueError(f"no certain fix for {code} at {where!r}")
    return fix.text


def fix_all(
    document: AgentDocument,
    required_sections: Sequence[str] = DEFAULT_REQUIRED_SECTIONS,
    target: str = CLAUDE_CODE,
) -> tuple[AgentDocument, list[Fix]]:
    """Every certain fix the document's problems have, one after another (a fix can make
    others possible: quoting a description lets the frontmatter be read). Returns the fixed
    document and the fixes made, in order."""
    made: list[Fix] = []
    tried: set[tuple[str, str]] = set()
    while len(made) < _MOST_FIXES:
        fix = next(
            (
                found
                for problem in intrinsic_problems(document, required_sections, target)
                if (problem.code, problem.where) not in tried
                and (found := fix_for(document, problem, required_sections, target)) is not None
            ),
            None,
        )
        if fix is None:
            break
        tried.add((fix.code, fix.where))
        made.append(fix)
        document = fix.document
    return document, made
