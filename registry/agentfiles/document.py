"""Parse, edit and serialize agent files losslessly: YAML frontmatter plus Markdown sections."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import yaml

from registry.agentfiles import markdown

DEFAULT_MAX_BYTES = 256 * 1024
MAX_FRONTMATTER_BYTES = 64 * 1024
MAX_YAML_DEPTH = 20
# More digits than any real setting has; Python will not turn an integer of more than 4,300
# digits into text (sys.get_int_max_str_digits), and a long base-60 float overflows.
MAX_NUMBER_DIGITS = 100
BOM = "\ufeff"

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_DELIMITER_RE = re.compile(r"---[ \t]*(?:\r\n|\r|\n)?\Z")
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)
# What a plain (unquoted) YAML value cannot start with: quotes, block and flow openers, anchors,
# aliases, tags, directives, comments and the reserved @ and backquote.
_NOT_PLAIN_START = frozenset("\"'|>[]{}&*!%@`#,")


class DocumentError(ValueError):
    """Anything wrong with an agent file, with where it is (1-based line and column)."""

    def __init__(self, code: str, message: str, line: int = 1, column: int = 1):
        super().__init__(f"{line}:{column}: {message}")
        self.code = code
        self.message = message
        self.line = line
        self.column = column


def split_lines(text: str) -> list[str]:
    """Split text into lines that keep their endings (only CR, LF and CRLF end a line)."""
    return _LINE_RE.findall(text)


def line_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


def strip_ending(line: str) -> str:
    return line[: len(line) - len(line_ending(line))]


def normalize_newlines(text: str, newline: str) -> str:
    """Give text the document's own line ending (browser forms send CRLF)."""
    return re.sub(r"\r\n|\r|\n", newline, text)


def normalize_heading(title: str) -> str:
    """The comparable form of a heading: no emoji or punctuation, case, leading "Your", colon."""
    # Headings repeat from file to file; a paragraph compared with a label may be any length.
    return _normalized_short(title) if len(title) <= 100 else _normalized(title)


def _normalized(title: str) -> str:
    kept = "".join(
        ch if (ch.isalnum() or ch.isspace() or ch == "-") else " "
        for ch in unicodedata.normalize("NFKC", title)
        if unicodedata.category(ch) not in {"So", "Sk", "Cf", "Mn"}
    )
    words = kept.lower().split()
    if words and words[0] == "your":
        words = words[1:]
    return " ".join(words)


_normalized_short = lru_cache(maxsize=4096)(_normalized)


def decode(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, bool]:
    """Bytes to (text without BOM, had a BOM), or DocumentError saying why they are not text."""
    if len(data) > max_bytes:
        raise DocumentError(
            "too-large",
            f"file is too large: the limit is {max_bytes:,} bytes",
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(data) >= 2 and (data[0] == 0) != (data[1] == 0)
    ):
        raise DocumentError("not-utf8", "file is UTF-16, not UTF-8; save it as UTF-8 and try again")
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _byte_position(data, nul)
        raise DocumentError(
            "nul-byte", "file holds a NUL byte; it is not a text file", line, column
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _byte_position(data, error.start)
        raise DocumentError(
            "not-utf8",
            f"byte 0x{data[error.start]:02x} is not valid UTF-8; save the file as UTF-8",
            line,
            column,
        ) from None
    if text.startswith(BOM):
        return text[1:], True
    return text, False


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset, the column counted in characters (as YAML's
    are), so that text before a bad byte on its line is not counted byte by byte."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


# --- Strict YAML -----------------------------------------------------------------------------


class StrictLoader(yaml.CSafeLoader):
    """PyYAML's C loader, with duplicate keys refused and dates, times and merges kept as text.

    Numbers of more than MAX_NUMBER_DIGITS digits are refused, not kept as text: every other
    YAML reader of the file reads a number there, so the registry must not read something else;
    the author is told where it is and that quotes make it text."""

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # refuses it, located
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise _mark_error(
                    "yaml-key", "a key must be a plain value, not a list or mapping", key_node
                ) from None
            if duplicate:
                raise _mark_error(
                    "yaml-duplicate-key",
                    f"key {key_node.value!r} appears more than once "
                    "(YAML reads some keys alike, such as 1 and true); keep one",
                    key_node,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_number(self, node):
        text = self.construct_scalar(node)
        digits = _number_digits(text, node.tag)
        if digits > MAX_NUMBER_DIGITS:
            raise _mark_error(
                "yaml-number-too-large",
                f"the number {_shortened(text)} has {digits:,} digits; a number in frontmatter "
                f"may have at most {MAX_NUMBER_DIGITS}. Put it in quotes to keep it as text",
                node,
            )
        return self.construct_typed_scalar(node)

    def construct_typed_scalar(self, node):
        """A number or true/false; a value its explicit tag (!!int abc) does not fit is refused."""
        construct = yaml.constructor.SafeConstructor.yaml_constructors[node.tag]
        try:
            return construct(self, node)
        except (ValueError, KeyError, IndexError, OverflowError):
            tag = "!!" + node.tag.rpartition(":")[2]
            raise _mark_error(
                "yaml-value",
                f"{_shortened(node.value)!r} is not {_SCALAR_KINDS[node.tag]}, though its tag "
                f"{tag} says so; remove the tag or correct the value",
                node,
            ) from None


_SCALAR_KINDS = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
}
StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_number)
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_number)
StrictLoader.add_constructor("tag:yaml.org,2002:bool", StrictLoader.construct_typed_scalar)


def _number_digits(text: str, tag: str) -> int:
    """How many digits a YAML number is written with, in its base (hex letters count)."""
    text = text.lower()
    if tag.endswith("float"):
        text = text.partition("e")[0]  # the exponent only scales the value
    else:
        text = text.lstrip("+-").removeprefix("0x").removeprefix("0b")
    return sum(ch.isdigit() or ch in "abcdef" for ch in text)


def _shortened(text: str, keep: int = 20) -> str:
    return text if len(text) <= keep else text[:keep] + "…"


StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"}
    ]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}

_YAML_HINTS = {
    "mapping values are not allowed here": (
        "a colon followed by a space starts a new key here; put the whole value in quotes"
    ),
    # libyaml (the C loader in use) words the same problem differently.
    "mapping values are not allowed in this context": (
        "a colon followed by a space starts a new key here; put the whole value in quotes"
    ),
    "found character '\\t' that cannot start any token": (
        "YAML does not allow tabs for indentation; use spaces"
    ),
    "could not find expected ':'": "a line is missing its 'key: value' colon",
    "found undefined alias": "aliases (*name) are not allowed",
}


def _mark_error(code: str, message: str, node_or_mark, line_offset: int = 0) -> DocumentError:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    line = (mark.line if mark else 0) + 1 + line_offset
    column = (mark.column if mark else 0) + 1
    return DocumentError(code, message, line, column)


@dataclass(frozen=True)
class KeySpan:
    """Where one top-level frontmatter key sits: 0-based line indices into the frontmatter."""

    key: str
    start: int
    end: int  # exclusive
    style: str | None  # scalar style ('"', "'", '|', '>', '' for plain) or 'flow'/'block'
    item_indent: int | None  # indentation of block list items


def _scan_events(text: str) -> list[KeySpan]:
    """Walk the YAML events (C parser) to refuse what the loader must not see, and map key lines."""
    spans: list[KeySpan] = []
    depth = 0
    top_is_mapping = None
    expecting_key = True
    current: dict[str, Any] | None = None
    lines = split_lines(text)

    def finish():
        if current is None:
            return
        last = max(current["last"], current["start"])
        spans.append(
            KeySpan(current["key"], current["start"], last + 1, current["style"], current["indent"])
        )

    def content_end(mark) -> int:
        line = mark.line
        if mark.column == 0 and line > 0:
            line -= 1
        while line > 0 and line < len(lines) and not lines[line].strip():
            line -= 1
        return line

    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            raise _mark_error(
                "yaml-alias",
                "anchors and aliases (&name, *name) are not allowed in frontmatter; "
                "write the value out",
                event,
            )
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", True)
        explicit = not (implicit is True or (isinstance(implicit, tuple) and any(implicit)))
        if tag is not None and tag not in _CORE_TAGS and (explicit or tag != "!"):
            raise _mark_error(
                "yaml-tag",
                f"the tag {tag} is not allowed; only plain YAML values are",
                event,
            )
        is_start = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        is_end = isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent)
        is_node = is_start or isinstance(event, yaml.ScalarEvent)
        if is_node and depth == 0:
            top_is_mapping = isinstance(event, yaml.MappingStartEvent)
        if depth == 1 and top_is_mapping and is_node:
            if expecting_key:
                finish()
                key = event.value if isinstance(event, yaml.ScalarEvent) else None
                current = {
                    "key": key,
                    "start": event.start_mark.line,
                    "last": event.start_mark.line,
                    "style": None,
                    "indent": None,
                }
            else:
                if isinstance(event, yaml.ScalarEvent):
                    current["style"] = event.style or ""
                    current["last"] = content_end(event.end_mark)
                else:
                    current["style"] = "flow" if event.flow_style else "block"
            expecting_key = not expecting_key
        elif current is not None and depth >= 2:
            if isinstance(event, yaml.ScalarEvent):
                current["last"] = max(current["last"], content_end(event.end_mark))
                if depth == 2 and current["style"] == "block" and current["indent"] is None:
                    current["indent"] = _item_indent(lines, event.start_mark.line)
            elif is_end and event.end_mark.column > 0:
                current["last"] = max(current["last"], event.end_mark.line)
        if is_start:
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise _mark_error(
                    "yaml-depth",
                    f"values are nested more than {MAX_YAML_DEPTH} levels deep",
                    event,
                )
        elif is_end:
            depth -= 1
            if depth == 1 and current is not None and event.end_mark.column > 0:
                current["last"] = max(current["last"], content_end(event.end_mark))
    finish()
    return [span for span in spans if span.key is not None]


def _item_indent(lines: list[str], line_index: int) -> int | None:
    if line_index >= len(lines):
        return None
    line = lines[line_index]
    stripped = line.lstrip(" ")
    return len(line) - len(stripped) if stripped.startswith("-") else None


def load_frontmatter(text: str, line_offset: int = 0) -> tuple[dict, list[KeySpan]]:
    """Strictly load frontmatter YAML; return the mapping and where each top-level key sits.

    Raises DocumentError with a file position (line_offset lines before the YAML)."""
    size = len(text.encode("utf-8"))
    if size > MAX_FRONTMATTER_BYTES:
        raise DocumentError(
            "yaml-too-large",
            f"frontmatter is {size:,} bytes; the limit is {MAX_FRONTMATTER_BYTES:,}",
            line_offset + 1,
        )
    try:
        spans = _scan_events(text)
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a safe loader
    except DocumentError as error:
        error.line += line_offset
        raise
    except yaml.MarkedYAMLError as error:
        problem = (error.problem or str(error)).strip()
        if problem == "exceeded maximum nesting depth":
            # libyaml's scanner reads ahead through open flow brackets and gives up at 1,000
            # levels before the event scan can apply the much lower limit: the same refusal.
            raise _mark_error(
                "yaml-depth",
                f"values are nested more than {MAX_YAML_DEPTH} levels deep",
                error.problem_mark,
                line_offset,
            ) from None
        hint = _YAML_HINTS.get(problem)
        message = f"frontmatter is not valid YAML: {problem}"
        if hint:
            message += f" ({hint})"
        message += "; Claude Code may skip such a file, or load it without its fields"
        raise _mark_error("yaml-syntax", message, error.problem_mark, line_offset) from None
    except yaml.YAMLError as error:
        raise DocumentError(
            "yaml-syntax", f"frontmatter is not valid YAML: {error}", line_offset + 1
        ) from None
    except RecursionError:
        raise DocumentError(
            "yaml-depth", "frontmatter is nested too deeply", line_offset + 1
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {_yaml_kind(data)}"
        raise DocumentError(
            "frontmatter-not-mapping",
            f"frontmatter is {kind}; it must be a mapping of keys such as 'name: ...'",
            line_offset + 1,
        )
    for key in data:
        if not isinstance(key, str):
            span_line = next((s.start for s in spans if s.key == str(key)), 0)
            raise DocumentError(
                "yaml-key",
                f"key {key!r} is not text; quote it",
                line_offset + span_line + 1,
            )
    return data, spans


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    return "single value"


def dump_value(key: str, value: Any, style: str | None = None, item_indent: int | None = None):
    """The YAML lines for `key: value`, following the style the key had where it can."""
    if isinstance(value, list) and style != "flow" and all(_is_scalar(v) for v in value):
        if not value:
            return f"{key}: []\n"
        indent = " " * (2 if item_indent is None else item_indent)
        return f"{key}:\n" + "".join(f"{indent}- {_dump_scalar(v)}\n" for v in value)
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        return f"{key}: [{', '.join(_dump_scalar(v) for v in value)}]\n"
    if _is_scalar(value):
        return f"{key}: {_dump_scalar(value, style)}\n"
    return yaml.dump(
        {key: value},
        Dumper=yaml.CSafeDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=1 << 20,
    )


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _dump_scalar(value: Any, style: str | None = None) -> str:
    if isinstance(value, str) and style in {'"', "'"}:
        dumped = yaml.dump(
            value, Dumper=yaml.CSafeDumper, allow_unicode=True, width=1 << 20, default_style=style
        )
    else:
        dumped = yaml.dump(value, Dumper=yaml.CSafeDumper, allow_unicode=True, width=1 << 20)
    dumped = dumped.rstrip("\n")
    if dumped.endswith("\n..."):
        dumped = dumped[: -len("\n...")]
    return dumped.rstrip("\n")


# --- The document ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One H2 section: its heading line(s) and body, as 0-based file line indices."""

    title: str
    start: int  # first heading line
    body_start: int  # first line after the heading
    end: int  # exclusive

    @cached_property
    def key(self) -> str:
        # Once a section: rules look sections up by key several times a check, and a file of
        # more distinct headings than normalize_heading's cache holds would miss it each time.
        return normalize_heading(self.title)


class Block(NamedTuple):
    """A piece of a section's Markdown structure: the text of a paragraph or heading
    ("inline"), or the start of a list item ("list_item_open"); line is 0-based in the file."""

    type: str
    level: int
    content: str
    line: int

    TYPES = frozenset({"inline", "list_item_open"})


class AgentDocument:
    """An agent file. Its exact text is the truth; frontmatter and sections are read from it."""

    def __init__(self, text: str, bom: bool = False):
        if not bom and text.startswith(BOM):
            text, bom = text[1:], True
        self.text = text
        self.bom = bom
        self.lines = split_lines(text)

    @classmethod
    def parse(cls, data: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> AgentDocument:
        if isinstance(data, str):
            data = data.encode("utf-8", errors="surrogatepass")
        text, bom = decode(data, max_bytes)
        return cls(text, bom)

    def to_bytes(self) -> bytes:
        return ((BOM if self.bom else "") + self.text).encode("utf-8")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentDocument) and other.to_bytes() == self.to_bytes()

    __hash__ = None

    @cached_property
    def newline(self) -> str:
        for line in self.lines:
            ending = line_ending(line)
            if ending:
                return ending
        return "\n"

    # Frontmatter ----------------------------------------------------------------------------

    @cached_property
    def _frontmatter_bounds(self) -> tuple[int, int] | None:
        """(index of the opening ---, index of the closing ---), or None without frontmatter."""
        if not self.lines or not _DELIMITER_RE.match(self.lines[0]):
            return None
        for index in range(1, len(self.lines)):
            if _DELIMITER_RE.match(self.lines[index]):
                return 0, index
        return 0, -1

    @property
    def has_frontmatter(self) -> bool:
        return self._frontmatter_bounds is not None

    @property
    def frontmatter_text(self) -> str:
        bounds = self._frontmatter_bounds
        if bounds is None or bounds[1] < 0:
            return ""
        return "".join(self.lines[1 : bounds[1]])

    @cached_property
    def _frontmatter(self) -> tuple[dict | None, list[KeySpan], DocumentError | None]:
        bounds = self._frontmatter_bounds
        if bounds is None:
            return None, [], None
        if bounds[1] < 0:
            return (
                None,
                [],
                DocumentError(
                    "frontmatter-unclosed",
                    "frontmatter starts with --- on line 1 but has no closing --- line",
                    1,
                    1,
                ),
            )
        try:
            data, spans = load_frontmatter(self.frontmatter_text, line_offset=1)
        except DocumentError as error:
            return None, [], error
        return data, spans, None

    @property
    def frontmatter(self) -> dict | None:
        """The frontmatter mapping, or None when it is missing or broken (see frontmatter_error)."""
        return self._frontmatter[0]

    @property
    def frontmatter_error(self) -> DocumentError | None:
        return self._frontmatter[2]

    @cached_property
    def key_spans(self) -> dict[str, KeySpan]:
        return {span.key: span for span in self._frontmatter[1]}

    def key_line(self, key: str) -> int | None:
        """The 1-based file line of a top-level frontmatter key."""
        span = self.key_spans.get(key)
        return None if span is None else span.start + 2

    def _require_frontmatter(self) -> dict:
        if self.frontmatter_error is not None:
            raise self.frontmatter_error
        return self.frontmatter if self.frontmatter is not None else {}

    def with_frontmatter_value(self, key: str, value: Any) -> AgentDocument:
        """Set one key, rewriting only its lines (a new key goes at the end of the frontmatter)."""
        data = self._require_frontmatter()
        if key in data and data[key] == value and type(data[key]) is type(value):
            return self
        span = self.key_spans.get(key)
        lines = split_lines(
            normalize_newlines(
                dump_value(
                    key, value, span.style if span else None, span.item_indent if span else None
                ),
                self.newline,
            )
        )
        if self._frontmatter_bounds is None:
            head = ["---" + self.newline, *lines, "---" + self.newline]
            return self._replaced(0, 0, head)
        if span is None:
            close = self._frontmatter_bounds[1]
            return self._replaced(close, close, lines)
        return self._replaced(span.start + 1, span.end + 1, lines)

    def without_frontmatter_key(self, key: str) -> AgentDocument:
        self._require_frontmatter()
        span = self.key_spans.get(key)
        if span is None:
            return self
        return self._replaced(span.start + 1, span.end + 1, [])

    def with_key_renamed(self, key: str, new_key: str) -> AgentDocument:
        """Rename a top-level frontmatter key where it stands: only the key's text on its first
        line changes (its quotes, value, comments and place stay). ValueError when the key is
        missing, new_key is taken, or the key is not written on its line as itself."""
        data = self._require_frontmatter()
        span = self.key_spans.get(key)
        if span is None or new_key in data:
            raise ValueError(f"cannot rename {key!r} to {new_key!r}")
        index = span.start + 1
        line = self.lines[index]
        match = re.match(rf"(?P<quote>[\"']?){re.escape(key)}(?P=quote)(?=[ \t]*:)", line)
        if match is None:
            raise ValueError(f"the key {key!r} is not written plainly on its line")
        quote = match["quote"]
        return self._replaced(index, index + 1, [f"{quote}{new_key}{quote}{line[match.end() :]}"])

    def with_plain_value_quoted(self, key: str) -> AgentDocument:
        """Put the one-line plain value of a top-level frontmatter key in double quotes: the way
        out of a value YAML cannot read, such as one holding ': '. Works on the lines, since the
        frontmatter may not parse; ValueError when the key's value is not one such line."""
        bounds = self._frontmatter_bounds
        if bounds is None or bounds[1] < 0:
            raise ValueError("the file has no closed frontmatter")
        pattern = re.compile(rf"{re.escape(key)}:[ \t]+(?P<value>\S(?:.*\S)?)[ \t]*\Z")
        found = [index for index in range(1, bounds[1]) if self.lines[index].startswith(f"{key}:")]
        if len(found) != 1 or not (match := pattern.match(strip_ending(self.lines[found[0]]))):
            raise ValueError(f"{key!r} is not on one line of its own")
        index, value = found[0], match["value"]
        following = self.lines[index + 1] if index + 1 < bounds[1] else ""
        if (
            value[0] in _NOT_PLAIN_START
            or value.startswith(("- ", "? "))
            or " #" in value
            or "\t#" in value
            or (following[:1] in {" ", "\t"} and following.strip())
        ):
            raise ValueError(f"the value of {key!r} is not a plain value on one line")
        line = self.lines[index]
        quoted = _dump_scalar(value, '"')
        return self._replaced(index, index + 1, [f"{key}: {quoted}{line_ending(line)}"])

    # Body ---------------------------------------------------------------------------------

    @property
    def body_start(self) -> int:
        """0-based index of the first body line."""
        bounds = self._frontmatter_bounds
        if bounds is None or bounds[1] < 0:
            return 0
        return bounds[1] + 1

    @property
    def body(self) -> str:
        return "".join(self.lines[self.body_start :])

    @cached_property
    def _blocks(self) -> tuple[list[Section], dict[int, list[Block]]]:
        """The body's H2 sections, and for each section's first line the outline of its body.

        Only small tuples are kept, not markdown-it's tokens: a document lives as long as the
        request or import that holds it, and thousands of tokens each would weigh on memory."""
        offset = self.body_start
        tokens = markdown.structure_tokens(self.body)
        headings = []
        for index, token in enumerate(tokens):
            if token.type == "heading_open" and token.tag == "h2" and token.level == 0:
                inline = tokens[index + 1]
                title = " ".join(inline.content.split())
                begin, end = token.map
                headings.append((title, begin + offset, end + offset, index))
        sections, outlines = [], {}
        for number, (title, begin, body_begin, index) in enumerate(headings):
            following = headings[number + 1] if number + 1 < len(headings) else None
            end = following[1] if following else len(self.lines)
            sections.append(Section(title, begin, body_begin, end))
            # After heading_open, its inline and heading_close; up to the next section's heading.
            outlines[begin] = [
                Block(token.type, token.level, token.content, token.map[0] + offset)
                for token in tokens[index + 3 : following[3] if following else len(tokens)]
                if token.type in Block.TYPES and token.map is not None
            ]
        return sections, outlines

    @property
    def sections(self) -> list[Section]:
        return self._blocks[0]

    def section_outline(self, section: Section) -> list[Block]:
        """The text blocks and list items of a section's body, in order, with their levels as
        parsing the body alone gives them (top-level paragraphs' text is at level 1)."""
        return self._blocks[1][section.start]

    @property
    def preamble(self) -> str:
        end = self.sections[0].start if self.sections else len(self.lines)
        return "".join(self.lines[self.body_start : end])

    def section_text(self, section: Section) -> str:
        return "".join(self.lines[section.start : section.end])

    def section_body(self, section: Section) -> str:
        return "".join(self.lines[section.body_start : section.end])

    def find_section(self, title: str) -> Section | None:
        """The first section whose heading matches title (ignoring case, emoji, "Your", colon)."""
        wanted = normalize_heading(title)
        return next((s for s in self.sections if s.key == wanted), None)

    def with_preamble(self, text: str) -> AgentDocument:
        end = self.sections[0].start if self.sections else len(self.lines)
        return self._replaced(self.body_start, end, self._block(text, end < len(self.lines)))

    def with_section_body(self, section: Section | int, body: str) -> AgentDocument:
        section = self.sections[section] if isinstance(section, int) else section
        more_follows = section.end < len(self.lines)
        return self._replaced(section.body_start, section.end, self._block(body, more_follows))

    def with_section_text(self, section: Section | int, text: str) -> AgentDocument:
        """Replace a whole section, heading included."""
        section = self.sections[section] if isinstance(section, int) else section
        more_follows = section.end < len(self.lines)
        return self._replaced(section.start, section.end, self._block(text, more_follows))

    def without_section(self, section: Section | int) -> AgentDocument:
        section = self.sections[section] if isinstance(section, int) else section
        return self._replaced(section.start, section.end, [])

    def with_section_added(
        self, title: str, body: str, before: Section | None = None
    ) -> AgentDocument:
        """Insert `## title` with body before a section, or at the end of the file."""
        text = f"## {title}{self.newline}{normalize_newlines(body, self.newline)}"
        if before is not None:
            block = self._block(text, True)
            if block and block[-1].strip():
                block.append(self.newline)
            return self._replaced(before.start, before.start, block)
        lines = list(self.lines)
        if lines and not line_ending(lines[-1]):
            lines[-1] += self.newline
        if lines and lines[-1].strip():
            lines.append(self.newline)
        lines.extend(self._block(text, False))
        return self._from_lines(lines)

    def with_required_section(
        self, title: str, body: str, required: Sequence[str]
    ) -> AgentDocument:
        """Add a missing required section where it belongs: after the required sections that
        come before it in `required`, before those that come after it."""
        if self.find_section(title) is not None:
            return self
        wanted = normalize_heading(title)
        order = [normalize_heading(name) for name in required]
        position = order.index(wanted) if wanted in order else len(order)
        following = [s for s in self.sections if s.key in order and order.index(s.key) > position]
        preceding = [s for s in self.sections if s.key in order and order.index(s.key) < position]
        if following and not preceding:
            return self.with_section_added(title, body, before=following[0])
        if preceding:
            last = preceding[-1]
            later = [s for s in self.sections if s.start > last.start]
            if later:
                return self.with_section_added(title, body, before=later[0])
        return self.with_section_added(title, body)

    def with_sections_in_order(self, order: Iterable[int]) -> AgentDocument:
        """Reorder the H2 sections; `order` lists current section indices in their new order."""
        order = list(order)
        if sorted(order) != list(range(len(self.sections))):
            raise ValueError("the new order must name every section once")
        if not self.sections:
            return self
        texts = []
        for index in order:
            block = split_lines(self.section_text(self.sections[index]))
            if block and not line_ending(block[-1]):
                block[-1] += self.newline
            texts.append(block)
        if not line_ending(self.lines[-1]) and texts:
            last = texts[-1]
            last[-1] = strip_ending(last[-1])
        start = self.sections[0].start
        return self._replaced(start, len(self.lines), [line for block in texts for line in block])

    def with_line_text(self, index: int, text: str) -> AgentDocument:
        """Replace one line's text (0-based index), keeping its line ending."""
        line = self.lines[index]
        return self._replaced(index, index + 1, [text + line_ending(line)])

    # Helpers ------------------------------------------------------------------------------

    def _block(self, text: str, more_follows: bool) -> list[str]:
        lines = split_lines(normalize_newlines(text, self.newline))
        if more_follows and lines and not line_ending(lines[-1]):
            lines[-1] += self.newline
        return lines

    def _replaced(self, start: int, end: int, new_lines: list[str]) -> AgentDocument:
        return self._from_lines([*self.lines[:start], *new_lines, *self.lines[end:]])

    def _from_lines(self, lines: list[str]) -> AgentDocument:
        return AgentDocument("".join(lines), self.bom)
