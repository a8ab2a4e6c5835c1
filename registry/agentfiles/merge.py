"""Three-way merge of agent files, frontmatter key by frontmatter key and section by section."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import Literal

from registry.agentfiles.document import (
    BOM,
    AgentDocument,
    line_ending,
    normalize_newlines,
    split_lines,
)

Side = Literal["ours", "theirs"]

INVALID_FRONTMATTER = "the frontmatter (not valid YAML)"
FRONTMATTER_LAYOUT = "the frontmatter layout"
PREAMBLE = "the preamble"
UNFIT = "the merged text (the merged parts do not read back as the same parts)"


@dataclass(frozen=True)
class MergeResult:
    """The merged text, or None and the parts both sides changed differently."""

    text: str | None
    conflicts: list[str]


def merge(base: str, ours: str, theirs: str) -> MergeResult:
    """Merge the change `ours` and the live text `theirs`, both made from `base`.

    The units are the top-level frontmatter keys (their exact lines), the lines around them (the
    frontmatter layout), the preamble and the H2 sections. The result is the live text with our
    changed units spliced in, in the live text's line ending and BOM; a unit both sides changed
    differently is a conflict. When one side changed nothing, the result is the other side."""
    if ours in (base, theirs):
        return MergeResult(theirs, [])
    if theirs == base:
        return MergeResult(ours, [])
    documents = [AgentDocument(text) for text in (base, ours, theirs)]
    live = documents[2]
    heads = [_Frontmatter.of(document) for document in documents]
    bodies = [_Body.of(document) for document in documents]
    whole_head = not all(head.parsed for head in heads)
    whole_body = any(body.duplicate for body in bodies)

    head, head_plan, head_conflicts = _merge_frontmatter(*heads, live.newline, whole_head)
    body, body_plan, body_conflicts = _merge_body(*bodies, live.newline, whole_body)
    conflicts = head_conflicts + body_conflicts
    if conflicts:
        return MergeResult(None, conflicts)
    if head and body and not line_ending(head):
        head += live.newline
    merged = AgentDocument(head + body, live.bom)
    # A part can read differently in new company (an unclosed code fence swallowing the next
    # heading, keys indented differently): only a text that reads back as planned is a merge.
    if _plan_of(merged, whole_head, whole_body) != (head_plan, body_plan):
        return MergeResult(None, [UNFIT])
    return MergeResult((BOM if live.bom else "") + merged.text, [])


def _choose(base: object, ours: object, theirs: object) -> Side | None:
    """The side whose version of a unit wins, or None for a conflict (None values: absent)."""
    if ours in (base, theirs):
        return "theirs"
    if theirs == base:
        return "ours"
    return None


def _comparable(text: str) -> str:
    return normalize_newlines(text, "\n").removesuffix("\n")


def _merged_order(
    base: Sequence[str], ours: Sequence[str], theirs: Sequence[str], kept: Collection[str]
) -> list[str]:
    """Theirs' order (ours' if only ours reordered); a unit one side alone has goes after the
    unit it follows there, or first when nothing kept precedes it."""
    primary, secondary = theirs, ours
    if _reordered(ours, base) and not _reordered(theirs, base):
        primary, secondary = ours, theirs
    order = [key for key in primary if key in kept]
    placed = set(order)
    # The keys secondary alone has, by the key they follow (None: first); one pass, since
    # searching the order for each key made thousands of sections quadratic.
    following: dict[str | None, list[str]] = {}
    previous = None
    for key in secondary:
        if key not in kept:
            continue
        if key not in placed:
            following.setdefault(previous, []).append(key)
            placed.add(key)
        previous = key
    merged: list[str] = []
    pending = list(reversed([*following.get(None, []), *order]))
    while pending:
        key = pending.pop()
        merged.append(key)
        pending.extend(reversed(following.get(key, [])))
    return merged


def _reordered(side: Sequence[str], base: Sequence[str]) -> bool:
    shared = set(side) & set(base)
    return [key for key in side if key in shared] != [key for key in base if key in shared]


# --- Frontmatter ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frontmatter:
    """A document's frontmatter as merge units."""

    region: str  # the whole block, delimiters included ("" without frontmatter)
    parsed: bool  # False: the YAML does not parse, or keys share lines; merge it whole
    keys: dict[str, str]  # top-level key -> its exact lines, in file order
    layout: tuple[tuple[str | None, str], ...]  # other lines, each with the key before it
    closing: str  # the closing delimiter line

    @classmethod
    def of(cls, document: AgentDocument) -> _Frontmatter:
        lines = document.lines[: document.body_start]
        region = "".join(lines)
        if not document.has_frontmatter:
            return cls(region, True, {}, (), "")
        if document.frontmatter_error is not None:
            return cls(region, False, {}, (), "")
        # Key spans count lines from the one after the opening delimiter.
        spans = sorted(document.key_spans.values(), key=lambda span: span.start)
        if any(first.end > second.start for first, second in pairwise(spans)):
            return cls(region, False, {}, (), "")
        owner = {line: span.key for span in spans for line in range(span.start + 1, span.end + 1)}
        keys = {span.key: "".join(lines[span.start + 1 : span.end + 1]) for span in spans}
        layout, anchor = [], None
        for index, line in enumerate(lines[:-1]):
            if index in owner:
                anchor = owner[index]
            else:
                layout.append((anchor, line))
        return cls(region, True, keys, tuple(layout), lines[-1])

    @property
    def comparable_layout(self) -> tuple | None:
        if not self.region:
            return None
        lines = tuple((anchor, _comparable(line)) for anchor, line in self.layout)
        return lines, _comparable(self.closing)

    def rebuilt(self, keys: dict[str, str]) -> str:
        """This frontmatter's layout around other keys (in the order given); a line that
        followed a key no longer there follows the nearest kept key before it."""
        after: dict[str | None, list[str]] = {None: [], **{key: [] for key in keys}}
        own_order = list(self.keys)
        for anchor, line in self.layout:
            while anchor is not None and anchor not in keys:
                index = own_order.index(anchor)
                anchor = own_order[index - 1] if index else None
            after[anchor].append(line)
        parts = after[None]
        for key, text in keys.items():
            parts += [text, *after[key]]
        return "".join([*parts, self.closing])


def _merge_frontmatter(
    base: _Frontmatter, ours: _Frontmatter, theirs: _Frontmatter, newline: str, whole: bool
) -> tuple[str, object, list[str]]:
    """(merged frontmatter text, what it must read back as, conflicts)."""
    if whole:
        side = _choose(*(_comparable(head.region) for head in (base, ours, theirs)))
        if side is None:
            return "", None, [INVALID_FRONTMATTER]
        text = theirs.region if side == "theirs" else normalize_newlines(ours.region, newline)
        return text, _comparable(text), []

    conflicts = []
    kept: dict[str, str] = {}
    layout_side = _choose(*(head.comparable_layout for head in (base, ours, theirs)))
    if layout_side is None:
        conflicts.append(FRONTMATTER_LAYOUT)
    for key in dict.fromkeys([*theirs.keys, *ours.keys, *base.keys]):
        versions = [head.keys.get(key) for head in (base, ours, theirs)]
        side = _choose(*(None if text is None else _comparable(text) for text in versions))
        if side is None:
            conflicts.append(f"frontmatter key {key!r}")
        elif side == "theirs" and key in theirs.keys:
            kept[key] = theirs.keys[key]
        elif side == "ours" and key in ours.keys:
            kept[key] = normalize_newlines(ours.keys[key], newline)
    if conflicts:
        return "", None, conflicts

    order = _merged_order(list(base.keys), list(ours.keys), list(theirs.keys), kept)
    keys = {key: kept[key] for key in order}
    plan = tuple((key, _comparable(text)) for key, text in keys.items())
    frame = theirs if layout_side == "theirs" else ours
    if not frame.region:
        # One side dropped the frontmatter block while the other kept or added keys in it.
        return "", plan, [FRONTMATTER_LAYOUT] if keys else []
    text = frame.rebuilt(keys)
    if frame is ours:
        text = normalize_newlines(text, newline)
    return text, plan, []


# --- Body -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    """The preamble (key None) or an H2 section (key: its normalized heading)."""

    key: str | None
    title: str
    content: str  # its text up to its last non-blank line
    gap: str  # the blank lines after it


@dataclass(frozen=True)
class _Body:
    """A document's body as merge units."""

    text: str
    units: list[_Unit]  # the preamble, then the sections
    duplicate: str | None  # a heading that appears more than once

    @classmethod
    def of(cls, document: AgentDocument) -> _Body:
        units = [_unit(None, "", document.preamble)]
        seen: set[str] = set()
        duplicate = None
        for section in document.sections:
            if section.key in seen and duplicate is None:
                duplicate = section.title
            seen.add(section.key)
            units.append(_unit(section.key, section.title, document.section_text(section)))
        return cls(document.body, units, duplicate)

    @cached_property
    def sections(self) -> dict[str, _Unit]:
        return {unit.key: unit for unit in self.units[1:]}

    def comparable(self, key: str | None) -> str | None:
        unit = self.units[0] if key is None else self.sections.get(key)
        return None if unit is None else _comparable(unit.content)

    def separator(self, key: str | None) -> str | None:
        """The blank lines after a unit, when something follows it here."""
        unit = self.units[0] if key is None else self.sections.get(key)
        return None if unit is None or unit is self.units[-1] else unit.gap


def _unit(key: str | None, title: str, text: str) -> _Unit:
    lines = split_lines(text)
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return _Unit(key, title, "".join(lines[:end]), "".join(lines[end:]))


def _merge_body(
    base: _Body, ours: _Body, theirs: _Body, newline: str, whole: bool
) -> tuple[str, object, list[str]]:
    """(merged body text, what it must read back as, conflicts)."""
    if whole:
        side = _choose(*(_comparable(body.text) for body in (base, ours, theirs)))
        if side is None:
            title = next(body.duplicate for body in (theirs, ours, base) if body.duplicate)
            return "", None, [f"section {title!r} (the heading appears more than once)"]
        text = theirs.text if side == "theirs" else normalize_newlines(ours.text, newline)
        return text, _comparable(text), []

    conflicts = []
    kept: dict[str | None, str] = {}
    titles = {unit.key: unit.title for body in (base, ours, theirs) for unit in body.units[1:]}
    for key in [None, *dict.fromkeys([*theirs.sections, *ours.sections, *base.sections])]:
        side = _choose(*(body.comparable(key) for body in (base, ours, theirs)))
        if side is None:
            conflicts.append(PREAMBLE if key is None else f"section {titles[key]!r}")
        elif side == "theirs" and theirs.comparable(key) is not None:
            kept[key] = (theirs.units[0] if key is None else theirs.sections[key]).content
        elif side == "ours" and ours.comparable(key) is not None:
            content = (ours.units[0] if key is None else ours.sections[key]).content
            kept[key] = normalize_newlines(content, newline)
    if conflicts:
        return "", None, conflicts

    order = [None, *_merged_order(*(list(body.sections) for body in (base, ours, theirs)), kept)]
    plan = tuple((key, _comparable(kept[key])) for key in order)
    return _joined(order, kept, ours, theirs, newline), plan, []


def _joined(
    order: list[str | None], kept: dict[str | None, str], ours: _Body, theirs: _Body, newline: str
) -> str:
    """The units in order, with the blank lines between them and the file's end as in the live
    text where it has them."""
    live_end = theirs.units[-1]
    final_newline = bool(line_ending(live_end.content)) if live_end.content else True
    pieces = []
    for index, key in enumerate(order):
        content = kept[key]
        if index + 1 < len(order):
            if content and not line_ending(content):
                content += newline
            gap = theirs.separator(key)
            if gap is None:
                gap = ours.separator(key)
                if gap is None:
                    gap = newline if content else ""
                gap = normalize_newlines(gap, newline)
            pieces.append(content + gap)
        else:
            if not final_newline:
                content = content[: len(content) - len(line_ending(content))]
            elif content and not line_ending(content):
                content += newline
            pieces.append(content + live_end.gap)
    return "".join(pieces)


def _plan_of(document: AgentDocument, whole_head: bool, whole_body: bool) -> tuple:
    """What a merged document reads back as, in the terms the merge planned it."""
    head = _Frontmatter.of(document)
    if whole_head:
        head_plan = _comparable(head.region)
    elif head.parsed:
        head_plan = tuple((key, _comparable(text)) for key, text in head.keys.items())
    else:
        head_plan = INVALID_FRONTMATTER
    body = _Body.of(document)
    if whole_body:
        body_plan = _comparable(body.text)
    else:
        body_plan = tuple((unit.key, _comparable(unit.content)) for unit in body.units)
    return head_plan, body_plan
