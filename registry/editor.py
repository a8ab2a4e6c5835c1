"""The browser editor's form: structured fields or the raw file, turned back into the agent file
by changing only what the user changed."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.agentfiles import fixes, validation
from registry.agentfiles.document import (
    BOM,
    AgentDocument,
    DocumentError,
    load_frontmatter,
    normalize_heading,
    normalize_newlines,
    split_lines,
)
from registry.agentfiles.fixes import section_skeleton
from registry.agentfiles.targets import CLAUDE_CODE
from registry.agentfiles.validation import Problem

STRUCTURED = "structured"
RAW = "raw"
MODES = (STRUCTURED, RAW)
# Each section is two form fields; Django refuses forms of more than 1,000 fields.
MAX_STRUCTURED_SECTIONS = 300
GENERAL = "general"
WRAP_COLUMNS = 75  # about what a textarea in the editor's column shows on a line


@dataclass(frozen=True)
class FieldSpec:
    """A frontmatter key with a field of its own."""

    key: str
    label: str
    kind: str  # "text", "textarea", "lines" (one item per line) or "choice" (text + suggestions)
    help: str = ""
    choices: tuple[str, ...] = ()
    placeholder: str = ""


FIELDS = (
    FieldSpec(
        "name",
        "Name",
        "text",
        "Lowercase letters, digits and hyphens. Other agents delegate to this agent by its name.",
        placeholder="api-designer",
    ),
    FieldSpec(
        "description",
        "Description",
        "textarea",
        "When to use this agent: tools read it to decide when to hand it a task.",
        placeholder="Designs HTTP APIs. Use when adding or changing an endpoint.",
    ),
    FieldSpec(
        "tools",
        "Tools, one per line",
        "lines",
        "Leave empty to allow every tool.",
    ),
    FieldSpec(
        "model",
        "Model",
        "choice",
        "sonnet, opus, haiku, inherit, or a full model id; empty for the default.",
        choices=("sonnet", "opus", "haiku", "inherit"),
    ),
    FieldSpec("color", "Color", "choice", "", choices=tuple(sorted(validation.COLORS))),
    FieldSpec("category", "Category", "choice", "Groups agents in the list."),
    FieldSpec("skills", "Skills, one per line", "lines"),
)
FIELD_KEYS = tuple(spec.key for spec in FIELDS)
LIST_KEYS = frozenset({"tools", "skills"})
# Cleared, these keep their place with an empty value (validation then says they are missing);
# other cleared keys are removed.
REQUIRED_KEYS = frozenset({"name", "description"})

_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")


# --- Skeletons ---------------------------------------------------------------------------------


def skeleton_text(required_sections: Sequence[str]) -> str:
    """A new agent: empty name and description to fill in, and the required sections."""
    parts = [
        "---\nname:\ndescription:\n---\n\n"
        "# Agent title\n\nOne paragraph on what this agent is for.\n"
    ]
    parts += [f"\n## {title}\n{section_skeleton(title)}" for title in required_sections]
    return "".join(parts)


# --- Small helpers ---------------------------------------------------------------------------


def full_text(document: AgentDocument) -> str:
    """The document's text as stored: with its BOM, if it has one."""
    return (BOM if document.bom else "") + document.text


def byte_size(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def encode_source(text: str) -> str:
    """The text the fields came from, for a hidden field. Base64, because browsers turn every
    line ending in a form value into CRLF: the exact text would not come back otherwise."""
    return base64.b64encode(text.encode("utf-8", errors="surrogatepass")).decode("ascii")


def decode_source(value: str) -> str | None:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeError are ValueErrors
        return None


def character_error(value: str) -> str | None:
    """Why value cannot go into a field of an agent file or a message, or None: a character
    that cannot be stored (a NUL, half of a surrogate pair) or that a reader cannot see (the
    validation rule's control and invisible characters)."""
    found = _UNSTORABLE_RE.search(value)
    hidden = next(validation.hidden_runs(value), None)
    if found is not None and (hidden is None or found.start() <= hidden[0]):
        return storage_error(value)
    if hidden is None:
        return None
    run = value[hidden[0] : hidden[1]]
    what = f"{validation.hidden_kind(run)} ({validation.describe_hidden(run)})"
    return _located(value, hidden[0], what)


def storage_error(value: str) -> str | None:
    """Why a whole file's text cannot be stored at all, or None. Control and invisible
    characters can: validation names each where it is, as for a file from any other way in."""
    found = _UNSTORABLE_RE.search(value)
    if found is None:
        return None
    character = found.group()
    what = (
        "a NUL character"
        if character == "\x00"
        else f"the invalid character U+{ord(character):04X}"
    )
    return _located(value, found.start(), what)


def _located(value: str, start: int, what: str) -> str:
    lines = _NEWLINE_RE.split(value[:start])
    return (
        f"line {len(lines)}, column {len(lines[-1]) + 1}: holds {what}; "
        "agent files are plain text, so remove it"
    )


def _lf(text: str) -> str:
    return normalize_newlines(text, "\n")


def _items(value: Any) -> list[str] | None:
    """A tools or skills value as its items (comma string or list), or None when it is not one
    the one-per-line field can show exactly."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = value
    else:
        return None
    if any(not item or item != item.strip() or "\n" in item or "\r" in item for item in items):
        return None
    return list(items)


def _posted_items(value: str) -> list[str]:
    return [line.strip() for line in _NEWLINE_RE.split(value) if line.strip()]


def shown_value(key: str, value: Any) -> str | None:
    """How a frontmatter value shows in its own field, or None when that field cannot show it
    exactly (then it is edited as YAML with the other keys)."""
    if key in LIST_KEYS:
        items = _items(value)
        return None if items is None else "\n".join(items)
    if value is None:
        return ""
    if not isinstance(value, str):
        return None
    if key != "description" and ("\n" in value or "\r" in value):
        return None
    return value


def fielded_keys(document: AgentDocument) -> frozenset[str]:
    """The known keys that get their own field: absent ones, and those it can show exactly."""
    data = document.frontmatter or {}
    return frozenset(
        key for key in FIELD_KEYS if key not in data or shown_value(key, data[key]) is not None
    )


def extra_yaml(document: AgentDocument) -> str:
    """The lines of the frontmatter keys without a field of their own, as they are in the file."""
    fielded = fielded_keys(document)
    lines = split_lines(document.frontmatter_text)
    return "".join(
        "".join(lines[span.start : span.end])
        for key, span in document.key_spans.items()
        if key not in fielded
    )


def structured_problem(document: AgentDocument) -> str | None:
    """Why the document cannot be edited field by field, or None."""
    error = document.frontmatter_error
    if error is not None:
        return (
            f"The frontmatter cannot be read (line {error.line}: {error.message}); "
            "fix it in the raw file before editing field by field."
        )
    if len(document.sections) > MAX_STRUCTURED_SECTIONS:
        return (
            f"The file has {len(document.sections)} sections, too many to edit one by one; "
            "edit it as a raw file."
        )
    return None


# --- What the form shows -------------------------------------------------------------------


@dataclass
class Slot:
    """A place on the page for problems: next to a field, a section, or at the top."""

    id: str
    errors: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fix_of: dict[Problem, fixes.Fix] = field(default_factory=dict)  # the problems' certain fixes

    @property
    def items(self) -> list[tuple[Problem, fixes.Fix | None]]:
        """Each problem with its certain fix, if it has one."""
        return [(problem, self.fix_of.get(problem)) for problem in self.problems]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(problem.is_error for problem in self.problems)

    def __bool__(self) -> bool:
        return bool(self.errors or self.problems)


@dataclass
class FieldRow:
    spec: FieldSpec
    value: str
    slot: Slot
    offered: tuple[str, ...] = ()  # suggestions of this registry's, first in the list
    hint: str = ""

    @property
    def choices(self) -> list[str]:
        return list(dict.fromkeys(self.offered + self.spec.choices))

    @property
    def id(self) -> str:
        return f"field-{self.spec.key}"

    @property
    def rows(self) -> int:
        return textarea_rows(self.value, 2, 8)


@dataclass
class SectionRow:
    index: int
    title: str
    body: str
    slot: Slot
    last: bool = False

    @property
    def rows(self) -> int:
        return textarea_rows(self.body, 3, 24)

    @property
    def title_id(self) -> str:
        return f"section-{self.index}-title"

    @property
    def body_id(self) -> str:
        return f"section-{self.index}-body"

    @property
    def up_id(self) -> str:
        return f"section-{self.index}-up"

    @property
    def down_id(self) -> str:
        return f"section-{self.index}-down"


def textarea_rows(text: str, least: int, most: int) -> int:
    """Rows enough to show text, long lines wrapped, between least and most."""
    lines = _NEWLINE_RE.split(text)
    wrapped = sum(1 + len(line) // WRAP_COLUMNS for line in lines)
    return max(least, min(most, wrapped + 1))


@dataclass
class Shown:
    """The values the structured form shows."""

    fields: dict[str, str]
    extra_yaml: str
    preamble: str
    sections: list[tuple[str, str]]


def shown_from_document(document: AgentDocument) -> Shown:
    data = document.frontmatter or {}
    fielded = fielded_keys(document)
    return Shown(
        fields={key: shown_value(key, data.get(key)) for key in FIELD_KEYS if key in fielded},
        extra_yaml=extra_yaml(document),
        preamble=document.preamble,
        sections=[(s.title, document.section_body(s)) for s in document.sections],
    )


def shown_from_data(source: AgentDocument, data: Mapping[str, str]) -> Shown:
    """What the user had in the form (kept as typed), for the fields the source has."""
    shown = shown_from_document(source)
    return Shown(
        fields={key: data.get(key, value) for key, value in shown.fields.items()},
        extra_yaml=data.get("extra_yaml", shown.extra_yaml),
        preamble=data.get("preamble", shown.preamble),
        sections=[
            (data.get(f"section-{index}-title", title), data.get(f"section-{index}-body", body))
            for index, (title, body) in enumerate(shown.sections)
        ],
    )


# --- The form ----------------------------------------------------------------------------------


class EditorForm:
    """The editor's state: the source text its fields came from, what the user typed, and the
    text rebuilt from it by changing only what differs from the source.

    Unbound (data is None), it shows `text`. Bound, it reads the hidden source (falling back to
    `text`), the mode and the fields; `errors` then maps form fields to input errors (a field
    that cannot be applied is left as it was in the source)."""

    def __init__(
        self,
        text: str,
        data: Mapping[str, str] | None = None,
        *,
        mode: str = STRUCTURED,
        max_bytes: int,
    ):
        self.data = data
        self.errors: dict[str, str] = {}
        self.notice = ""
        self.max_bytes = max_bytes
        source_text = text
        if data is not None:
            mode = data.get("mode", mode)
            posted_source = data.get("source")
            if posted_source:
                decoded = decode_source(posted_source)
                if decoded is None:
                    self.errors[GENERAL] = (
                        "The form came back damaged; your changes were compared with the "
                        "saved text instead. Check them before saving."
                    )
                else:
                    source_text = decoded
        self.source = AgentDocument(source_text)
        self.mode = mode if mode in MODES else STRUCTURED
        if self.mode == STRUCTURED and (problem := structured_problem(self.source)):
            if data is not None and data.get("mode") == STRUCTURED:
                self.errors[GENERAL] = problem
            self.notice = problem
            self.mode = RAW
            # The posted fields belong to a mode this source cannot have: ignore them.
            data = None
            self.data = None
        self.document = self.source
        if data is not None:
            if self.mode == RAW:
                self._rebuild_raw(data)
            else:
                self._rebuild_structured(data)
            self._check_size()

    @property
    def is_bound(self) -> bool:
        return self.data is not None

    @property
    def text(self) -> str:
        return full_text(self.document)

    @property
    def source_text(self) -> str:
        return full_text(self.source)

    @property
    def encoded_source(self) -> str:
        return encode_source(self.source_text)

    @property
    def size(self) -> int:
        return byte_size(self.text)

    @property
    def too_large(self) -> bool:
        return self.size > self.max_bytes

    @property
    def name_place(self) -> str:
        """The form field next to which a problem with the name shows."""
        if self.mode == RAW:
            return "text"
        return "name" if "name" in self.shown.fields else "extra_yaml"

    # Rebuilding ---------------------------------------------------------------------------

    def _changed(self, name: str, current: str) -> str | None:
        """The posted value of field `name` when it differs from current (line endings aside),
        with the document's line endings; None when unchanged or not acceptable."""
        value = self.data.get(name)
        if value is None or _lf(value) == _lf(current):
            return None
        if problem := character_error(value):
            self.errors[name] = problem
            return None
        return normalize_newlines(value, self.source.newline)

    def _rebuild_raw(self, data: Mapping[str, str]) -> None:
        raw = data.get("text")
        if raw is None:
            return
        bom = self.source.bom or raw.startswith(BOM)
        raw = raw.removeprefix(BOM)
        if _lf(raw) == _lf(self.source.text) and bom == self.source.bom:
            return
        if problem := storage_error(raw):
            self.errors["text"] = problem
            return
        self.document = AgentDocument(normalize_newlines(raw, self.source.newline), bom)

    def _rebuild_structured(self, data: Mapping[str, str]) -> None:
        source = self.source
        document = source
        # Bottom up: changing a section never moves the ones above it.
        for index in reversed(range(len(source.sections))):
            original = source.sections[index]
            section = document.sections[index]
            body = self._changed(f"section-{index}-body", source.section_body(original))
            title = self._changed_title(index, original.title)
            if title is not None:
                heading = f"## {title}{source.newline}"
                new_body = body if body is not None else document.section_body(section)
                document = document.with_section_text(section, heading + new_body)
            elif body is not None:
                document = document.with_section_body(section, body)
        preamble = self._changed("preamble", source.preamble)
        if preamble is not None:
            document = document.with_preamble(preamble)
        try:
            self.document = self._rebuild_frontmatter(document, data)
        except DocumentError as error:
            # The fields together make frontmatter that cannot be read back (too large, say).
            self.errors[GENERAL] = (
                f"The fields cannot be saved together: line {error.line}, column {error.column}: "
                f"{error.message}."
            )
            self.document = document

    def _changed_title(self, index: int, current: str) -> str | None:
        name = f"section-{index}-title"
        value = self.data.get(name)
        if value is None or " ".join(value.split()) == current:
            return None
        if not value.strip():
            self.errors[name] = "A section needs a title; to drop the section, remove it."
            return None
        if problem := character_error(value):
            self.errors[name] = problem
            return None
        return " ".join(value.split())

    def _rebuild_frontmatter(
        self, document: AgentDocument, data: Mapping[str, str]
    ) -> AgentDocument:
        source = self.source
        frontmatter = source.frontmatter or {}
        fielded = fielded_keys(source)
        for spec in FIELDS:
            key = spec.key
            posted = data.get(key)
            if key not in fielded or posted is None:
                continue
            shown = shown_value(key, frontmatter.get(key))
            if key in LIST_KEYS:
                items = _posted_items(posted)
                if items == _posted_items(shown):
                    continue
                if problem := character_error(posted):
                    self.errors[key] = problem
                    continue
                old = frontmatter.get(key)
                if not items:
                    document = document.without_frontmatter_key(key)
                elif isinstance(old, str) or (old is None and key == "tools"):
                    # Claude Code documents tools as a comma string; keep a string a string.
                    document = document.with_frontmatter_value(key, ", ".join(items))
                else:
                    document = document.with_frontmatter_value(key, items)
                continue
            if _lf(posted) == _lf(shown):
                continue
            if problem := character_error(posted):
                self.errors[key] = problem
                continue
            value = _lf(posted).strip()
            if value == _lf(shown).strip():
                continue
            if not value and key not in REQUIRED_KEYS:
                document = document.without_frontmatter_key(key)
            else:
                document = document.with_frontmatter_value(key, value)
        return self._rebuild_extra(document, data, fielded)

    def _rebuild_extra(
        self, document: AgentDocument, data: Mapping[str, str], fielded: frozenset[str]
    ) -> AgentDocument:
        posted = data.get("extra_yaml")
        if posted is None or _lf(posted) == _lf(extra_yaml(self.source)):
            return document
        if problem := character_error(posted):
            self.errors["extra_yaml"] = problem
            return document
        text = _lf(posted)
        if all(not line.strip() or line.lstrip().startswith("#") for line in text.split("\n")):
            new = {}
        else:
            try:
                new, _ = load_frontmatter(text)
            except DocumentError as error:
                self.errors["extra_yaml"] = f"line {error.line}, column {error.column}: " + (
                    error.message
                )
                return document
        own = [key for key in new if key in fielded]
        if own:
            self.errors["extra_yaml"] = (
                f"'{own[0]}' has its own field above; set it there and remove it here."
            )
            return document
        frontmatter = self.source.frontmatter or {}
        for key in frontmatter:
            if key not in fielded and key not in new:
                document = document.without_frontmatter_key(key)
        for key, value in new.items():
            document = document.with_frontmatter_value(key, value)
        return document

    def _check_size(self) -> None:
        if self.too_large:
            place = "text" if self.mode == RAW else GENERAL
            self.errors[place] = (
                f"The file would be {self.size:,} bytes; the limit is {self.max_bytes:,} bytes. "
                "Shorten it."
            )

    # Showing --------------------------------------------------------------------------------

    @property
    def shown(self) -> Shown:
        if self.is_bound:
            return shown_from_data(self.source, self.data)
        return shown_from_document(self.source)

    @property
    def raw_text(self) -> str:
        if self.is_bound and "text" in self.data:
            return self.data["text"].removeprefix(BOM)
        return self.source.text

    def slots(
        self, problems: Sequence[Problem] = (), found_fixes: Sequence[fixes.Fix] = ()
    ) -> dict[str, Slot]:
        """Every place problems can show, with the input errors and problems placed, and the
        fixes found for them beside them.

        Problem.where: "frontmatter.<key>" goes next to that key's field (or the YAML of the
        other keys), "section:<title>" next to the section with that heading; others on top."""
        slots = {GENERAL: Slot("problems-general"), "message": Slot("problems-message")}
        section_index: dict[str, int] = {}
        if self.mode == RAW:
            slots["text"] = Slot("problems-text")
        else:
            shown = self.shown
            for key in shown.fields:
                slots[key] = Slot(f"problems-{key}")
            slots["extra_yaml"] = Slot("problems-extra-yaml")
            slots["preamble"] = Slot("problems-preamble")
            for index, (title, _) in enumerate(shown.sections):
                slots[f"section-{index}"] = Slot(f"problems-section-{index}")
                section_index.setdefault(normalize_heading(title), index)
        for name, message in self.errors.items():
            place = re.sub(r"^(section-\d+)-(title|body)$", r"\1", name)
            slots.get(place, slots[GENERAL]).errors.append(message)
        frontmatter = self.document.frontmatter or {}
        fixed = {fix.problem: fix for fix in found_fixes}
        for problem in problems:
            slot = slots[self._place(problem, slots, section_index, frontmatter)]
            slot.problems.append(problem)
            if problem in fixed:
                slot.fix_of[problem] = fixed[problem]
        return slots

    def _place(self, problem: Problem, slots, section_index, frontmatter) -> str:
        if self.mode == RAW:
            return "text"
        where = problem.where
        if where.startswith("frontmatter."):
            key = where.removeprefix("frontmatter.")
            if key in slots and key in FIELD_KEYS:
                return key
            if key in frontmatter:
                return "extra_yaml"
        elif where.startswith("section:"):
            index = section_index.get(normalize_heading(where.removeprefix("section:")))
            if index is not None:
                return f"section-{index}"
        return GENERAL

    def field_rows(
        self, slots: Mapping[str, Slot], offered: Mapping[str, tuple[str, ...]] = {}
    ) -> list[FieldRow]:
        """The frontmatter fields, with what the registry offers for some of them: offered[key]
        are suggestions, the first one named in a hint while the field is empty."""
        values = self.shown.fields
        rows = []
        for spec in FIELDS:
            if spec.key not in values:
                continue
            suggestions = offered.get(spec.key, ())
            hint = ""
            if suggestions and not values[spec.key].strip():
                hint = f"Suggested: “{suggestions[0]}” (pick it from the list)."
            rows.append(FieldRow(spec, values[spec.key], slots[spec.key], suggestions, hint))
        return rows

    def section_rows(self, slots: Mapping[str, Slot]) -> list[SectionRow]:
        sections = self.shown.sections
        return [
            SectionRow(index, title, body, slots[f"section-{index}"], index == len(sections) - 1)
            for index, (title, body) in enumerate(sections)
        ]


# --- Structural actions ------------------------------------------------------------------------


def _fix_focus(fix: fixes.Fix) -> str:
    """The field a fix changed, to focus once it is made."""
    if fix.where.startswith("section:"):
        title = normalize_heading(fix.where.removeprefix("section:"))
        position = next((i for i, s in enumerate(fix.document.sections) if s.key == title), 0)
        return f"section-{position}-body"
    key = fix.where.removeprefix("frontmatter.")
    key = fixes.renamed_key(key) or key
    return f"field-{key}" if key in FIELD_KEYS else "field-extra-yaml"


def apply_action(
    document: AgentDocument,
    action: str,
    required_sections: Sequence[str],
    new_title: str = "",
    target: str = CLAUDE_CODE,
) -> tuple[AgentDocument, str]:
    """Apply a section button ("move-up:2", "remove:0", "add-required:1", "add-section") or a
    problem's Fix button ("fix:<code>:<where>", fixes.Fix.action) and return the document and
    the id of the control to focus next. ValueError for a bad action."""
    name, _, argument = action.partition(":")
    count = len(document.sections)
    if name == "fix":
        code, _, where = argument.partition(":")
        fix = fixes.find(document, code, where, required_sections, target)
        if fix is None:
            raise ValueError(f"no certain fix for {code!r} at {where!r}")
        return fix.document, _fix_focus(fix)
    if name == "add-section":
        title = " ".join(new_title.split()) or "New section"
        if character_error(title):
            raise ValueError("the new section's title holds a control character")
        added = document.with_section_added(title, "")
        return added, f"section-{len(added.sections) - 1}-body"
    if name == "add-required":
        index = int(argument)
        if not 0 <= index < len(required_sections):
            raise ValueError("no such required section")
        title = required_sections[index]
        added = document.with_required_section(title, section_skeleton(title), required_sections)
        position = next(
            (i for i, s in enumerate(added.sections) if s.key == normalize_heading(title)), 0
        )
        return added, f"section-{position}-body"
    index = int(argument)
    if not 0 <= index < count:
        raise ValueError("no such section")
    order = list(range(count))
    if name == "remove":
        following = min(index, count - 2)
        focus = f"section-{following}-title" if following >= 0 else "new-section-title"
        return document.without_section(index), focus
    # Focus stays on the moved section's button while it can move further, else its title.
    if name == "move-up" and index > 0:
        order[index - 1], order[index] = order[index], order[index - 1]
        focus = f"section-{index - 1}-up" if index > 1 else "section-0-title"
        return document.with_sections_in_order(order), focus
    if name == "move-down" and index < count - 1:
        order[index], order[index + 1] = order[index + 1], order[index]
        focus = f"section-{index + 1}-down" if index + 2 < count else f"section-{index + 1}-title"
        return document.with_sections_in_order(order), focus
    if name in {"move-up", "move-down"}:
        return document, f"section-{index}-title"
    raise ValueError(f"unknown action {action!r}")
