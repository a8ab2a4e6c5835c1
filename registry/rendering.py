"""Agent Markdown to sanitized HTML, and diffs between texts."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt

from .document import AgentDocument, split_lines, strip_ending

# Raw HTML in agent text is shown as text, never passed through; nh3 then removes anything
# unsafe the Markdown itself could produce (javascript: links, data: URLs).
_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

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


def render_markdown(text: str) -> str:
    """Markdown (a body, without frontmatter) to HTML that is safe to put in a page."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_keep_attribute,
        strip_comments=True,
    )


def render_body(document: AgentDocument) -> str:
    return render_markdown(document.body)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "context" or "hunk"
    text: str


def unified_diff(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """Line diff of two texts, line endings ignored for display."""
    old_lines = [strip_ending(line) for line in split_lines(old)]
    new_lines = [strip_ending(line) for line in split_lines(new)]
    lines = []
    for raw in difflib.unified_diff(old_lines, new_lines, n=context, lineterm=""):
        if raw.startswith(("---", "+++")):
            continue
        if raw.startswith("@@"):
            lines.append(DiffLine("hunk", raw))
        elif raw.startswith("+"):
            lines.append(DiffLine("add", raw[1:]))
        elif raw.startswith("-"):
            lines.append(DiffLine("del", raw[1:]))
        else:
            lines.append(DiffLine("context", raw[1:]))
    return lines


def changed_line_count(old: str, new: str) -> tuple[int, int]:
    """(lines added, lines removed)."""
    diff = unified_diff(old, new, context=0)
    return (
        sum(1 for line in diff if line.kind == "add"),
        sum(1 for line in diff if line.kind == "del"),
    )
