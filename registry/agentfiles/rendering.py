"""Agent Markdown to sanitized HTML, and diffs between texts."""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import nh3

from registry.agentfiles import markdown
from registry.agentfiles.document import AgentDocument, split_lines, strip_ending
from registry.agentfiles.validation import describe_hidden, hidden_runs

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Images load only from this site: a preview must not call out to another origin.
    if tag == "img" and attribute == "src" and ("//" in value or ":" in value):
        return None
    if attribute == "class" and not value.startswith("language-"):
        return None
    return value


def _marker(run: str) -> str:
    return f"⟦{describe_hidden(run)}⟧"


def reveal_text(text: str) -> str:
    """text with each run of characters a reader cannot see replaced by a visible marker that
    names them, for places that show text but not markup (the preview's Markdown)."""
    pieces, last = [], 0
    for start, end in hidden_runs(text):
        pieces += [text[last:start], _marker(text[start:end])]
        last = end
    return "".join(pieces) + text[last:] if pieces else text


def reveal_html(text: str) -> str:
    """text escaped for HTML, each run of hidden characters shown as a marked marker."""
    pieces, last = [], 0
    for start, end in hidden_runs(text):
        pieces += [
            html.escape(text[last:start]),
            f'<mark class="hidden-character">{html.escape(_marker(text[start:end]))}</mark>',
        ]
        last = end
    return "".join(pieces) + html.escape(text[last:])


def render_markdown(text: str) -> str:
    """Markdown (a body, without frontmatter) to HTML that is safe to put in a page; hidden
    characters show as markers."""
    tokens, env = markdown.preview_tokens(reveal_text(text))
    html = markdown.PREVIEW.renderer.render(tokens, markdown.PREVIEW.options, env)
    # Raw HTML was read as text; this removes anything unsafe the Markdown itself could produce
    # (javascript: links, data: URLs).
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_keep_attribute,
        strip_comments=True,
    )


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "context" or "hunk"
    text: str


# SequenceMatcher takes time of the order of the product of the two lengths where elements
# repeat (30,000 identical list items took minutes); past this product, what lies between
# the common start and end is shown replaced whole instead of matched.
MATCH_BUDGET = 250_000


class BoundedMatcher(difflib.SequenceMatcher):
    """A SequenceMatcher whose work stays linear in its inputs: the common start and end are
    matched directly, and the rest is matched only while it is within MATCH_BUDGET."""

    def __init__(self, a: Sequence, b: Sequence):
        super().__init__(None, a, b, autojunk=False)

    def set_seq2(self, b):
        # The base class indexes b in full for matching; the trimmed middle is indexed later.
        self.b = b
        self.matching_blocks = self.opcodes = None

    def get_opcodes(self):
        if self.opcodes is not None:
            return self.opcodes
        a, b = self.a, self.b
        limit = min(len(a), len(b))
        start = 0
        while start < limit and a[start] == b[start]:
            start += 1
        end = 0
        while end < limit - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
            end += 1
        a_end, b_end = len(a) - end, len(b) - end
        opcodes = [("equal", 0, start, 0, start)] if start else []
        if (a_end - start) * (b_end - start) <= MATCH_BUDGET:
            middle = difflib.SequenceMatcher(None, a[start:a_end], b[start:b_end], autojunk=False)
            opcodes += [
                (tag, i1 + start, i2 + start, j1 + start, j2 + start)
                for tag, i1, i2, j1, j2 in middle.get_opcodes()
            ]
        elif a_end > start or b_end > start:
            tag = "insert" if a_end == start else "delete" if b_end == start else "replace"
            opcodes.append((tag, start, a_end, start, b_end))
        if end:
            opcodes.append(("equal", a_end, len(a), b_end, len(b)))
        self.opcodes = opcodes or [("equal", 0, 0, 0, 0)]
        return self.opcodes


def unified_diff(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """Line diff of two texts, line endings ignored for display."""
    old_lines = [strip_ending(line) for line in split_lines(old)]
    new_lines = [strip_ending(line) for line in split_lines(new)]
    lines = []
    for group in BoundedMatcher(old_lines, new_lines).get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        lines.append(
            DiffLine(
                "hunk", f"@@ -{_hunk_range(first[1], last[2])} +{_hunk_range(first[3], last[4])} @@"
            )
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("context", line) for line in old_lines[i1:i2])
                continue
            lines.extend(DiffLine("del", line) for line in old_lines[i1:i2])
            lines.extend(DiffLine("add", line) for line in new_lines[j1:j2])
    return lines


def _hunk_range(start: int, stop: int) -> str:
    """A hunk's line range as unified diff writes it (difflib's _format_range_unified)."""
    length = stop - start
    beginning = start + 1 if length else start
    return str(beginning) if length == 1 else f"{beginning},{length}"


def changed_line_count(old: str, new: str) -> tuple[int, int]:
    """(lines added, lines removed)."""
    diff = unified_diff(old, new, context=0)
    return (
        sum(1 for line in diff if line.kind == "add"),
        sum(1 for line in diff if line.kind == "del"),
    )


# --- Diff by frontmatter key and section -------------------------------------------------------

# Words, runs of white space, and single other characters: what a word-level mark covers.
_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True)
class SideBySideRow:
    """One row of a side-by-side diff. The HTML is escaped text with <del>/<ins> word marks.

    kind: "context" (the same line on both sides), "change" (the old line became the new one),
    "del" (old side only), "add" (new side only), or "gap" (`skipped` unchanged lines left out).
    """

    kind: str
    old_number: int | None = None
    old_html: str = ""
    new_number: int | None = None
    new_html: str = ""
    skipped: int = 0


@dataclass(frozen=True)
class DiffPart:
    """One frontmatter key, the preamble or one section of two texts, compared; or a run of
    unchanged ones collapsed into their labels.

    kind: "field", "frontmatter" (YAML that cannot be read key by key, or lines outside any
    key), "preamble", "section", "order" (parts that moved), "file" (a difference no line
    shows) or "unchanged". status: "added", "removed", "changed", or "unchanged" for a
    collapsed run. A part without rows says what changed in `note`."""

    kind: str
    label: str
    status: str
    rows: tuple[SideBySideRow, ...] = ()
    unchanged: tuple[str, ...] = ()
    note: str = ""

    @property
    def anchor(self) -> str:
        """Where a comment on it is attached, as validation problems name the place: a key's
        `frontmatter.<key>`, a section's `section:<title>`; "" for any other part."""
        if self.kind == "field":
            return f"frontmatter.{self.label}"
        if self.kind == "section":
            return f"section:{self.label}"
        return ""

    @property
    def count(self) -> int:
        return len(self.unchanged)


@dataclass(frozen=True)
class _Unit:
    kind: str
    key: tuple
    label: str
    numbers: tuple[int, ...]  # 1-based file line of each line
    lines: tuple[str, ...]  # without their endings


def _units(text: str) -> list[_Unit]:
    """The text cut into frontmatter keys, preamble and sections, each with its lines."""
    document = AgentDocument(text)
    lines = [strip_ending(line) for line in document.lines]

    def unit(kind, key, label, indices):
        indices = list(indices)
        numbers = tuple(i + 1 for i in indices)
        return _Unit(kind, key, label, numbers, tuple(lines[i] for i in indices))

    units = []
    if document.has_frontmatter and document.body_start > 0:
        # Lines 1 .. body_start - 2 hold the YAML, between the two --- lines.
        yaml_indices = range(1, document.body_start - 1)
        spans = document.key_spans
        if document.frontmatter_error is not None or not spans:
            if yaml_indices:
                units.append(unit("frontmatter", ("frontmatter",), "Frontmatter", yaml_indices))
        else:
            covered = set()
            for key, span in spans.items():
                indices = range(span.start + 1, span.end + 1)
                covered.update(indices)
                units.append(unit("field", ("field", key), key, indices))
            rest = [i for i in yaml_indices if i not in covered and lines[i].strip()]
            if rest:
                units.append(
                    unit("frontmatter", ("frontmatter-rest",), "Other frontmatter lines", rest)
                )
    sections = document.sections
    preamble_end = sections[0].start if sections else len(lines)
    if any(line.strip() for line in lines[document.body_start : preamble_end]):
        units.append(
            unit(
                "preamble",
                ("preamble",),
                "Title and introduction",
                range(document.body_start, preamble_end),
            )
        )
    seen: dict[str, int] = {}
    for section in sections:
        occurrence = seen.get(section.key, 0)
        seen[section.key] = occurrence + 1
        units.append(
            unit(
                "section",
                ("section", section.key, occurrence),
                section.title,
                range(section.start, section.end),
            )
        )
    return units


def _paired(old_units: list[_Unit], new_units: list[_Unit]):
    """(old, new) pairs by key, in the new text's order; a unit only the old text has comes
    right after the unit that preceded it there."""
    old_by_key = {unit.key: unit for unit in old_units}
    new_keys = {unit.key for unit in new_units}
    removed_after: dict[tuple | None, list[_Unit]] = {}
    previous = None
    for unit in old_units:
        if unit.key in new_keys:
            previous = unit.key
        else:
            removed_after.setdefault(previous, []).append(unit)
    pairs = [(unit, None) for unit in removed_after.get(None, [])]
    for unit in new_units:
        pairs.append((old_by_key.get(unit.key), unit))
        pairs.extend((removed, None) for removed in removed_after.get(unit.key, []))
    return pairs


def _word_opcodes(old_tokens: list[str], new_tokens: list[str]):
    """SequenceMatcher's opcodes, with white space alone between two changes counted as
    changed too, so that a changed phrase is one mark rather than one per word."""
    opcodes = BoundedMatcher(old_tokens, new_tokens).get_opcodes()
    merged: list[list] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        between_changes = 0 < index < len(opcodes) - 1
        if (
            tag == "equal"
            and between_changes
            and all(not token.strip() for token in old_tokens[i1:i2])
        ):
            tag = "replace"
        if merged and tag != "equal" and merged[-1][0] != "equal":
            merged[-1][0] = "replace"
            merged[-1][2], merged[-1][4] = i2, j2
        else:
            merged.append([tag, i1, i2, j1, j2])
    return merged


def word_marks(old: str, new: str) -> tuple[str, str]:
    """Two versions of a line as escaped HTML: removed words in <del>, added ones in <ins>."""
    old_tokens, new_tokens = _TOKEN_RE.findall(old), _TOKEN_RE.findall(new)
    old_html, new_html = [], []
    for tag, i1, i2, j1, j2 in _word_opcodes(old_tokens, new_tokens):
        old_part = reveal_html("".join(old_tokens[i1:i2]))
        new_part = reveal_html("".join(new_tokens[j1:j2]))
        if tag == "equal":
            old_html.append(old_part)
            new_html.append(new_part)
            continue
        if old_part:
            old_html.append(f"<del>{old_part}</del>")
        if new_part:
            new_html.append(f"<ins>{new_part}</ins>")
    return "".join(old_html), "".join(new_html)


def _escaped(line: str) -> str:
    return reveal_html(line)


def _marked(tag: str, line: str) -> str:
    """A whole line removed or added: all of it marked (nothing, when it is blank)."""
    return f"<{tag}>{reveal_html(line)}</{tag}>" if line else ""


def _rows(old: _Unit | None, new: _Unit | None, context: int) -> tuple[SideBySideRow, ...]:
    old_lines, old_numbers = (old.lines, old.numbers) if old else ((), ())
    new_lines, new_numbers = (new.lines, new.numbers) if new else ((), ())
    matcher = BoundedMatcher(old_lines, new_lines)
    rows: list[SideBySideRow] = []
    shown_until = 0  # index in old_lines after the last row shown
    for group in matcher.get_grouped_opcodes(context):
        if group[0][1] > shown_until:
            rows.append(SideBySideRow("gap", skipped=group[0][1] - shown_until))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows.extend(
                    SideBySideRow(
                        "context",
                        old_numbers[i],
                        _escaped(old_lines[i]),
                        new_numbers[j],
                        _escaped(new_lines[j]),
                    )
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                )
                continue
            for offset in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + offset, j1 + offset
                if i < i2 and j < j2:
                    old_html, new_html = word_marks(old_lines[i], new_lines[j])
                    rows.append(
                        SideBySideRow("change", old_numbers[i], old_html, new_numbers[j], new_html)
                    )
                elif i < i2:
                    rows.append(SideBySideRow("del", old_numbers[i], _marked("del", old_lines[i])))
                else:
                    marked = _marked("ins", new_lines[j])
                    rows.append(SideBySideRow("add", new_number=new_numbers[j], new_html=marked))
        shown_until = group[-1][2]
    if rows and shown_until < len(old_lines):
        rows.append(SideBySideRow("gap", skipped=len(old_lines) - shown_until))
    return tuple(rows)


def structured_diff(old: str, new: str, context: int = 3) -> list[DiffPart]:
    """Two agent texts compared part by part: frontmatter keys paired by key, sections by their
    normalized heading (so a section that moved is compared with itself), the preamble with
    the preamble. Changed parts carry side-by-side rows with word marks; each run of unchanged
    parts is collapsed into one part listing them."""
    parts: list[DiffPart] = []
    unchanged: list[str] = []

    def collapse():
        if unchanged:
            parts.append(DiffPart("unchanged", "", "unchanged", unchanged=tuple(unchanged)))
            unchanged.clear()

    old_units, new_units = _units(old), _units(new)
    for old_unit, new_unit in _paired(old_units, new_units):
        unit = new_unit or old_unit
        if old_unit is not None and new_unit is not None and old_unit.lines == new_unit.lines:
            unchanged.append(unit.label)
            continue
        collapse()
        status = "added" if old_unit is None else "removed" if new_unit is None else "changed"
        parts.append(DiffPart(unit.kind, unit.label, status, _rows(old_unit, new_unit, context)))
    collapse()
    common = {unit.key for unit in old_units} & {unit.key for unit in new_units}
    old_order = [unit.key for unit in old_units if unit.key in common]
    new_order = [unit for unit in new_units if unit.key in common]
    if old_order != [unit.key for unit in new_order]:
        order = ", ".join(unit.label for unit in new_order)
        parts.append(
            DiffPart("order", "Order", "changed", note=f"Parts moved; the order is now: {order}.")
        )
    if old != new and all(part.status == "unchanged" for part in parts):
        parts.append(
            DiffPart(
                "file",
                "Whole file",
                "changed",
                note="The texts differ only in line endings, a byte order mark or the end of "
                "the last line.",
            )
        )
    return parts
