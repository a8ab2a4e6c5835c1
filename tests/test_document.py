"""Tests for the agent document: lossless round trip, local edits, sections, strict YAML."""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import time
from pathlib import Path

import frontmatter
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from registry.agentfiles.document import (
    AgentDocument,
    DocumentError,
    decode,
    line_ending,
    load_frontmatter,
    normalize_heading,
)
from tests.helpers import CORPUS, EXAMPLE, TESTS

AGENT_FILES = sorted(path for path in CORPUS.rglob("*.md") if path != CORPUS / "README.md")
REQUIRED = ["Focus Areas", "Boundaries", "Delegate To"]
NEW_DESCRIPTIONS = [
    "Reviews pull requests for security problems.",
    "Use when: the build breaks on CI",
    'She said "héllo" — ça va? 日本語のテキスト 🎯',
]
QUICKLY = 1.0  # seconds; a hostile frontmatter must be refused before anything expands


def data_id(path: Path) -> str:
    return str(path.relative_to(TESTS))


@functools.cache
def corpus_document(path: Path) -> AgentDocument:
    return AgentDocument.parse(path.read_bytes())


def changed_lines(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) according to difflib.unified_diff."""
    removed, added = [], []
    for line in list(difflib.unified_diff(old, new, n=0))[2:]:
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
    return removed, added


def span_lines(document: AgentDocument, key: str) -> list[str]:
    """The file lines of one top-level frontmatter key (key spans count from after the ---)."""
    span = document.key_spans[key]
    return document.lines[span.start + 1 : span.end + 1]


def with_final_newline(document: AgentDocument) -> list[str]:
    lines = list(document.lines)
    if lines and not line_ending(lines[-1]):
        lines[-1] += document.newline
    return lines


def file_with_frontmatter(yaml_text: str) -> bytes:
    return f"---\n{yaml_text}---\n\n# Agent\n\nBody text.\n".encode()


DESCRIBED_FILES = [
    path
    for path in AGENT_FILES
    if corpus_document(path).frontmatter and "description" in corpus_document(path).frontmatter
]
FRONTMATTER_FILES = [path for path in AGENT_FILES if corpus_document(path).frontmatter]
LIST_FILES = [
    path
    for path in FRONTMATTER_FILES
    if any(isinstance(value, list) for value in corpus_document(path).frontmatter.values())
]
SECTIONED_FILES = [path for path in AGENT_FILES if corpus_document(path).sections]


def test_corpus_holds_every_agent_file():
    assert len(AGENT_FILES) == 536
    assert len(DESCRIBED_FILES) >= 500
    assert len(SECTIONED_FILES) >= 400
    assert LIST_FILES


# --- Round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*AGENT_FILES, EXAMPLE], ids=data_id)
def test_unchanged_file_serializes_to_identical_bytes(path):
    data = path.read_bytes()

    assert AgentDocument.parse(data).to_bytes() == data


LETTERS = st.characters(categories=("Lu", "Ll", "Lo"))
TEXT = st.one_of(
    st.characters(categories=("Lu", "Ll", "Lo", "Nd")),
    st.sampled_from(" .,;:!?'\"()-éßø日本語🎯—"),
)
TRAILING = st.sampled_from(["", " ", "  ", "\t", "   "])


@st.composite
def text_lines(draw) -> str:
    return draw(LETTERS) + draw(st.text(TEXT, max_size=30))


@st.composite
def titles(draw) -> str:
    words = draw(
        st.lists(
            st.text(st.characters(categories=("Lu", "Ll", "Lo", "Nd")), min_size=1, max_size=8),
            min_size=1,
            max_size=4,
        )
    )
    return draw(LETTERS) + " ".join(words)


@st.composite
def blocks(draw) -> tuple[str, list[str], str | None]:
    """(kind, lines without endings, the H2 title a CommonMark parser must see or None)."""
    kind = draw(
        st.sampled_from(
            ["paragraph", "atx", "closed-atx", "setext", "h1", "fence", "indented", "list", "quote"]
        )
    )
    if kind == "paragraph":
        lines = draw(st.lists(text_lines(), min_size=1, max_size=3))
        return kind, [line + draw(TRAILING) for line in lines], None
    if kind in {"atx", "closed-atx", "setext"}:
        title = draw(titles())
        if kind == "atx":
            lines = [f"## {title}{draw(TRAILING)}"]
        elif kind == "closed-atx":
            lines = [f"## {title} ##{draw(TRAILING)}"]
        else:
            lines = [title + draw(TRAILING), draw(st.sampled_from(["---", "------", "--- "]))]
        return kind, lines, " ".join(title.split())
    if kind == "h1":
        return kind, [f"# {draw(titles())}"], None
    if kind == "fence":
        fence = draw(st.sampled_from(["```", "~~~", "````"]))
        info = draw(st.sampled_from(["", "python", "markdown", "yaml"]))
        inside = draw(
            st.lists(
                st.one_of(
                    st.sampled_from(
                        ["# comment", "## Not A Section", "---", "", "   ", "#!/bin/sh", "Title"]
                    ),
                    text_lines(),
                ),
                max_size=5,
            )
        )
        return kind, [fence + info + draw(TRAILING), *inside, fence], None
    if kind == "indented":
        inside = draw(
            st.lists(st.one_of(st.just("## Not A Section"), text_lines()), min_size=1, max_size=3)
        )
        return kind, ["    " + line for line in inside], None
    if kind == "list":
        items = draw(st.lists(text_lines(), min_size=1, max_size=3))
        return kind, ["- " + item for item in items], None
    return kind, ["> ## Quoted heading", "> " + draw(text_lines())], None


@st.composite
def agent_documents(draw) -> tuple[bytes, dict | None, list[str]]:
    """(file bytes, the frontmatter written into it, the H2 titles written into its body)."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines: list[str] = []
    expected_frontmatter = None
    if draw(st.booleans()):
        expected_frontmatter = {"name": draw(titles()), "description": draw(text_lines())}
        lines.append("---" + draw(TRAILING))
        lines += [
            f"{key}: {json.dumps(value, ensure_ascii=False)}"
            for key, value in expected_frontmatter.items()
        ]
        lines.append("---")
    expected_titles = []
    for kind, block_lines, title in draw(st.lists(blocks(), max_size=8)):
        # Setext headings and indented code cannot interrupt a paragraph: they need a blank line.
        fewest_blanks = 1 if kind in {"setext", "indented"} else 0
        blank = st.sampled_from(["", " ", "  "])
        lines += draw(st.lists(blank, min_size=fewest_blanks, max_size=3))
        lines += block_lines
        if title is not None:
            expected_titles.append(title)
    lines += draw(st.lists(st.just(""), max_size=2))
    text = newline.join(lines)
    if lines and draw(st.booleans()):
        text += newline
    bom = "\ufeff" if draw(st.booleans()) else ""
    return (bom + text).encode("utf-8"), expected_frontmatter, expected_titles


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_documents())
def test_generated_document_serializes_to_identical_bytes(generated):
    data, expected_frontmatter, expected_titles = generated

    document = AgentDocument.parse(data)

    assert document.to_bytes() == data
    assert document.frontmatter_error is None
    assert document.frontmatter == expected_frontmatter
    assert [section.title for section in document.sections] == expected_titles
    for index, section in enumerate(document.sections):
        rewritten = document.with_section_body(index, document.section_body(section))
        assert rewritten.to_bytes() == data


def test_utf8_bom_is_kept_through_round_trip_and_edits():
    data = b"\xef\xbb\xbf---\nname: x\n---\n\n## Focus Areas\n- a\n"

    document = AgentDocument.parse(data)
    edited = document.with_frontmatter_value("model", "sonnet").with_section_body(0, "- b\n")

    assert document.to_bytes() == data
    assert document.frontmatter == {"name": "x"}
    assert (
        edited.to_bytes()
        == b"\xef\xbb\xbf---\nname: x\nmodel: sonnet\n---\n\n## Focus Areas\n- b\n"
    )


def test_a_second_bom_is_kept_as_text():
    data = b"\xef\xbb\xbf\xef\xbb\xbf# Agent\n"

    assert AgentDocument.parse(data).to_bytes() == data


# --- Frontmatter edits --------------------------------------------------------------------


def assert_only_key_lines_changed(document: AgentDocument, edited: AgentDocument, key: str):
    span = document.key_spans[key]
    assert edited.lines == [
        *document.lines[: span.start + 1],
        *span_lines(edited, key),
        *document.lines[span.end + 1 :],
    ]
    assert list(edited.frontmatter) == list(document.frontmatter)
    for other, value in document.frontmatter.items():
        if other != key:
            assert edited.frontmatter[other] == value
            assert span_lines(edited, other) == span_lines(document, other)


@pytest.mark.parametrize("path", DESCRIBED_FILES, ids=data_id)
def test_setting_description_changes_only_its_lines(path):
    document = corpus_document(path)
    old_lines = span_lines(document, "description")

    for description in NEW_DESCRIPTIONS:
        edited = document.with_frontmatter_value("description", description)

        assert edited.frontmatter_error is None, description
        assert edited.frontmatter["description"] == description
        new_lines = span_lines(edited, "description")
        assert changed_lines(document.lines, edited.lines) == (old_lines, new_lines)
        assert_only_key_lines_changed(document, edited, "description")


@pytest.mark.parametrize("path", FRONTMATTER_FILES, ids=data_id)
def test_new_key_is_appended_just_before_the_closing_delimiter(path):
    document = corpus_document(path)
    closing = next(i for i in range(1, len(document.lines)) if document.lines[i].rstrip() == "---")

    edited = document.with_frontmatter_value("registry-note", "Added: by the registry")

    assert edited.lines[:closing] == document.lines[:closing]
    assert edited.lines[closing].startswith("registry-note: ")
    assert edited.lines[closing + 1 :] == document.lines[closing:]
    assert edited.frontmatter == {**document.frontmatter, "registry-note": "Added: by the registry"}
    assert list(edited.frontmatter)[-1] == "registry-note"


@pytest.mark.parametrize("path", FRONTMATTER_FILES, ids=data_id)
def test_removing_a_key_removes_only_its_lines(path):
    document = corpus_document(path)

    for key in document.frontmatter:
        edited = document.without_frontmatter_key(key)

        assert changed_lines(document.lines, edited.lines) == (span_lines(document, key), [])
        assert edited.frontmatter == {k: v for k, v in document.frontmatter.items() if k != key}


@pytest.mark.parametrize("path", [*LIST_FILES, EXAMPLE], ids=data_id)
def test_setting_a_list_keeps_its_style_and_changes_only_its_lines(path):
    document = corpus_document(path)

    for key, value in document.frontmatter.items():
        if not isinstance(value, list):
            continue
        longer = [*value, "Extra"]
        edited = document.with_frontmatter_value(key, longer)

        assert edited.frontmatter[key] == longer
        assert edited.key_spans[key].style == document.key_spans[key].style
        assert edited.key_spans[key].item_indent == document.key_spans[key].item_indent
        assert_only_key_lines_changed(document, edited, key)


def test_adding_to_a_block_list_adds_one_item_line():
    document = corpus_document(EXAMPLE)

    edited = document.with_frontmatter_value("skills", [*document.frontmatter["skills"], "extra"])

    assert changed_lines(document.lines, edited.lines) == ([], ["  - extra\n"])


def test_flow_list_stays_flow():
    document = AgentDocument.parse(b"---\nname: x\ntools: [Read, Write]\nmodel: opus\n---\n")

    edited = document.with_frontmatter_value("tools", ["Read", "Write", "Bash"])

    assert edited.to_bytes() == b"---\nname: x\ntools: [Read, Write, Bash]\nmodel: opus\n---\n"


@pytest.mark.parametrize("indent", ["", "  ", "    "], ids=["indent-0", "indent-2", "indent-4"])
def test_block_list_keeps_its_item_indentation(indent):
    document = AgentDocument.parse(
        f"---\nskills:\n{indent}- a\n{indent}- b\n# why these\nmodel: opus\n---\n".encode()
    )

    edited = document.with_frontmatter_value("skills", ["a", "b", "c"])

    assert (
        edited.to_bytes()
        == (
            f"---\nskills:\n{indent}- a\n{indent}- b\n{indent}- c\n# why these\nmodel: opus\n---\n"
        ).encode()
    )


def test_quoted_value_keeps_its_quotes():
    document = AgentDocument.parse(b"---\nname: x\ndescription: 'Old one'\n---\n")

    edited = document.with_frontmatter_value("description", "New one")

    assert edited.to_bytes() == b"---\nname: x\ndescription: 'New one'\n---\n"


def test_frontmatter_edit_on_crlf_document_writes_crlf():
    document = AgentDocument.parse(b"---\r\nname: x\r\ntools: [Read]\r\n---\r\nBody\r\n")

    edited = document.with_frontmatter_value("tools", ["Read", "Grep"]).with_frontmatter_value(
        "model", "opus"
    )

    assert (
        edited.to_bytes()
        == b"---\r\nname: x\r\ntools: [Read, Grep]\r\nmodel: opus\r\n---\r\nBody\r\n"
    )


def test_setting_a_key_on_a_file_without_frontmatter_adds_a_frontmatter_block():
    document = AgentDocument.parse(b"# Agent\n")

    edited = document.with_frontmatter_value("name", "agent")

    assert edited.to_bytes() == b"---\nname: agent\n---\n# Agent\n"


def test_editing_broken_frontmatter_raises_its_error():
    document = AgentDocument.parse(file_with_frontmatter("a: 1\na: 2\n"))

    with pytest.raises(DocumentError) as raised:
        document.with_frontmatter_value("name", "x")

    assert raised.value.code == "yaml-duplicate-key"


# --- Section edits ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SECTIONED_FILES, ids=data_id)
def test_replacing_a_section_body_changes_only_that_sections_lines(path):
    document = corpus_document(path)
    new_body = "- First new point\n- Second new point, ünïcode 🎯\n"

    for index in (0, -1):
        section = document.sections[index]
        edited = document.with_section_body(index, new_body)

        tail = len(document.lines) - section.end
        assert edited.lines[: section.body_start] == document.lines[: section.body_start]
        assert edited.lines[len(edited.lines) - tail :] == document.lines[section.end :]
        assert [s.title for s in edited.sections] == [s.title for s in document.sections]
        assert edited.section_body(edited.sections[index]) == new_body.replace(
            "\n", document.newline
        )


@pytest.mark.parametrize("path", SECTIONED_FILES, ids=data_id)
def test_removing_a_section_removes_only_its_lines(path):
    document = corpus_document(path)
    section = document.sections[0]

    edited = document.without_section(0)

    assert edited.lines == document.lines[: section.start] + document.lines[section.end :]
    assert [s.title for s in edited.sections] == [s.title for s in document.sections[1:]]


@pytest.mark.parametrize("path", SECTIONED_FILES, ids=data_id)
def test_keeping_the_section_order_changes_nothing(path):
    document = corpus_document(path)

    reordered = document.with_sections_in_order(range(len(document.sections)))

    assert reordered.to_bytes() == document.to_bytes()


@pytest.mark.parametrize("adding_order", [REQUIRED, REQUIRED[::-1]], ids=["forward", "backward"])
@pytest.mark.parametrize("path", AGENT_FILES, ids=data_id)
def test_adding_missing_required_sections_only_inserts_lines(path, adding_order):
    document = corpus_document(path)
    wanted = [normalize_heading(title) for title in REQUIRED]

    for title in adding_order:
        if document.find_section(title) is not None:
            continue
        added = document.with_required_section(title, "- One point\n", REQUIRED)

        # A file without a final newline gains one when a section goes after its last line.
        removed, inserted = changed_lines(with_final_newline(document), with_final_newline(added))
        assert removed == []
        assert sorted(line for line in inserted if line.strip()) == [
            "## " + title + "\n",
            "- One point\n",
        ]
        assert all(line == "\n" for line in inserted if not line.strip())
        assert added.section_body(added.find_section(title)).rstrip("\n") == "- One point"
        assert len(added.sections) == len(document.sections) + 1
        present = [section.key for section in added.sections if section.key in wanted]
        assert present == [key for key in wanted if key in present]
        document = added

    assert all(document.find_section(title) for title in REQUIRED)


def test_delegate_to_is_added_right_after_boundaries():
    document = AgentDocument.parse(
        b"# Agent\n\n## Focus Areas\n- a\n\n## Boundaries\n- b\n\n## Examples\n- c\n"
    )

    added = document.with_required_section("Delegate To", "- reviewer\n", REQUIRED)

    assert added.to_bytes() == (
        b"# Agent\n\n## Focus Areas\n- a\n\n## Boundaries\n- b\n\n"
        b"## Delegate To\n- reviewer\n\n## Examples\n- c\n"
    )


def test_focus_areas_is_added_before_boundaries_when_missing():
    example = AgentDocument.parse(EXAMPLE.read_bytes())
    document = example.without_section(example.find_section("Focus Areas"))

    added = document.with_required_section("Focus Areas", "- APIs\n", REQUIRED)

    titles = [section.title for section in added.sections]
    assert titles.index("Focus Areas") == titles.index("Boundaries") - 1
    assert changed_lines(document.lines, added.lines) == (
        [],
        ["## Focus Areas\n", "- APIs\n", "\n"],
    )


def test_required_section_at_the_end_follows_a_blank_line():
    document = AgentDocument.parse(b"# Agent\n\nIntro")

    added = document.with_required_section("Boundaries", "- none", REQUIRED)

    assert added.to_bytes() == b"# Agent\n\nIntro\n\n## Boundaries\n- none"


def test_present_required_section_is_left_alone_whatever_its_heading_style():
    document = AgentDocument.parse("## 🎯 Your focus areas:\n- a\n".encode())

    assert document.with_required_section("Focus Areas", "- b\n", REQUIRED) is document


def test_section_body_from_a_browser_form_gets_the_documents_line_endings():
    lf_document = AgentDocument.parse(b"# Agent\n\n## Focus Areas\n- a\n\n## Boundaries\n- b\n")
    crlf_document = AgentDocument.parse(b"# Agent\r\n\r\n## Focus Areas\r\n- a\r\n")

    from_form = lf_document.with_section_body(0, "- x\r\n- y\r\n\r\n")
    from_lf_text = crlf_document.with_section_body(0, "- x\n- y\n")

    assert from_form.to_bytes() == b"# Agent\n\n## Focus Areas\n- x\n- y\n\n## Boundaries\n- b\n"
    assert from_lf_text.to_bytes() == b"# Agent\r\n\r\n## Focus Areas\r\n- x\r\n- y\r\n"


def test_added_section_from_a_browser_form_gets_the_documents_line_endings():
    document = AgentDocument.parse(b"# Agent\n\n## Focus Areas\n- a\n")

    added = document.with_required_section("Boundaries", "- x\r\n- y\r\n", REQUIRED)

    assert b"\r" not in added.to_bytes()


def test_replacing_the_preamble_changes_only_its_lines():
    document = AgentDocument.parse(b"---\nname: x\n---\n# Old\n\nIntro.\n\n## Focus Areas\n- a\n")

    edited = document.with_preamble("# New\r\n\r\n")

    assert edited.to_bytes() == b"---\nname: x\n---\n# New\n\n## Focus Areas\n- a\n"


# --- Sections as CommonMark sees them ----------------------------------------------------


@pytest.mark.parametrize("fence", ["```", "~~~", "```markdown"])
def test_h2_inside_a_fenced_code_block_is_not_a_section(fence):
    closing = fence[:3]
    document = AgentDocument.parse(
        f"## Real\n\n{fence}\n## Not a section\n# comment\n{closing}\n\n## Also real\n".encode()
    )

    assert [section.title for section in document.sections] == ["Real", "Also real"]
    assert document.sections[0].end == 7


def test_h2_inside_an_indented_code_block_is_not_a_section():
    document = AgentDocument.parse(b"# Agent\n\nExample:\n\n    ## Not a section\n    text\n")

    assert document.sections == []


def test_indented_frontmatter_in_the_corpus_is_code_not_frontmatter_or_sections():
    document = corpus_document(CORPUS / "0xfurai__claude-code-subagents/agents/sqs-expert.md")

    assert document.frontmatter is None
    assert document.frontmatter_error is None
    assert document.sections == []


def test_setext_heading_is_a_section():
    document = AgentDocument.parse(b"---\nname: x\n---\n# Agent\n\nFocus Areas\n---\n- a\n")

    (section,) = document.sections
    assert section.title == "Focus Areas"
    assert (section.start, section.body_start, section.end) == (5, 7, 8)
    assert document.section_body(section) == "- a\n"


def test_setext_level_one_heading_is_not_a_section():
    document = AgentDocument.parse(b"Agent\n=====\n\nText.\n")

    assert document.sections == []


def test_closed_atx_heading_is_a_section():
    document = AgentDocument.parse(b"## Focus Areas ##\n- a\n## Boundaries ###   \n- b\n")

    assert [section.title for section in document.sections] == ["Focus Areas", "Boundaries"]


@pytest.mark.parametrize(
    "markdown",
    ["> ## Quoted\n", "- item\n\n  ## In a list item\n", "##No space\n", "### Level three\n"],
    ids=["blockquote", "list-item", "no-space", "h3"],
)
def test_nested_or_non_h2_heading_is_not_a_section(markdown):
    assert AgentDocument.parse(markdown.encode()).sections == []


@pytest.mark.parametrize(
    "heading",
    [
        "## Focus Areas",
        "## focus areas",
        "## 🎯 Focus areas:",
        "## Your Focus Areas",
        "## ⚠️ YOUR FOCUS AREAS:",
        "## **Focus Areas**",
        "Focus Areas:\n---",
        "## Focus Areas ##",
    ],
)
def test_headings_match_ignoring_case_emoji_your_and_trailing_colon(heading):
    document = AgentDocument.parse(f"{heading}\n- a\n".encode())

    assert document.find_section("Focus Areas") == document.sections[0]
    assert normalize_heading(document.sections[0].title) == "focus areas"


@pytest.mark.parametrize("heading", ["## Focus", "## Know Your Focus Areas", "## Focus Areas 2"])
def test_other_headings_do_not_match(heading):
    document = AgentDocument.parse(f"{heading}\n- a\n".encode())

    assert document.find_section("Focus Areas") is None


# --- Strict YAML --------------------------------------------------------------------------

ALIAS_BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def nested_mapping(levels: int) -> str:
    return "".join("  " * level + f"k{level}:\n" for level in range(levels - 1)) + (
        "  " * (levels - 1) + f"k{levels - 1}: deep\n"
    )


REFUSED_FRONTMATTER = {
    # id: (file bytes, code, line, column, words the message must hold)
    "alias-bomb": (file_with_frontmatter(ALIAS_BOMB), "yaml-alias", 2, 4, "alias"),
    "self-alias": (file_with_frontmatter("a: &a [*a]\n"), "yaml-alias", 2, 4, "alias"),
    "python-tag": (
        file_with_frontmatter('run: !!python/object/apply:os.system ["echo hi"]\n'),
        "yaml-tag",
        2,
        6,
        "not allowed",
    ),
    "python-tag-at-top": (
        file_with_frontmatter('!!python/object/apply:os.system ["echo hi"]\n'),
        "yaml-tag",
        2,
        1,
        "not allowed",
    ),
    "local-tag": (file_with_frontmatter("a: !secret 1\n"), "yaml-tag", 2, 4, "not allowed"),
    "duplicate-key": (
        file_with_frontmatter("name: a\ndescription: b\nname: c\n"),
        "yaml-duplicate-key",
        4,
        1,
        "'name' appears more than once",
    ),
    "one-and-true-collide": (
        file_with_frontmatter("meta:\n  1: a\n  true: b\n"),
        "yaml-duplicate-key",
        4,
        3,
        "1 and true",
    ),
    "number-key": (file_with_frontmatter("name: x\n1: a\n"), "yaml-key", 3, 1, "quote it"),
    "list-key": (file_with_frontmatter("? [a, b]\n: c\n"), "yaml-key", 2, 3, "plain value"),
    "list": (file_with_frontmatter("- a\n- b\n"), "frontmatter-not-mapping", 2, 1, "is a list"),
    "scalar": (
        file_with_frontmatter("just a sentence\n"),
        "frontmatter-not-mapping",
        2,
        1,
        "must be a mapping",
    ),
    "unclosed": (
        b"---\nname: x\ndescription: y\n\n# Agent\n",
        "frontmatter-unclosed",
        1,
        1,
        "no closing",
    ),
    "bare-colon": (
        file_with_frontmatter("name: x\ndescription: Use when: x\n"),
        "yaml-syntax",
        3,
        22,
        "quotes",
    ),
    "bare-colon-after-non-ascii": (
        file_with_frontmatter("description: Café 日本: x\n"),
        "yaml-syntax",
        2,
        21,
        "quotes",
    ),
    "over-64-kib": (
        file_with_frontmatter("description: " + "a" * 64 * 1024 + "\n"),
        "yaml-too-large",
        2,
        1,
        "65,536",
    ),
    "depth-over-20-block": (
        file_with_frontmatter(nested_mapping(25)),
        "yaml-depth",
        22,
        41,
        "nested more than 20",
    ),
    "depth-over-20-flow": (
        file_with_frontmatter("x: " + "[" * 25 + "]" * 25 + "\n"),
        "yaml-depth",
        2,
        23,
        "nested more than 20",
    ),
}


@pytest.mark.parametrize(
    ("data", "code", "line", "column", "words"),
    REFUSED_FRONTMATTER.values(),
    ids=REFUSED_FRONTMATTER.keys(),
)
def test_unsafe_or_ambiguous_frontmatter_is_refused_where_it_is(data, code, line, column, words):
    started = time.perf_counter()
    document = AgentDocument.parse(data)
    error = document.frontmatter_error
    elapsed = time.perf_counter() - started

    assert document.frontmatter is None
    assert (error.code, error.line, error.column) == (code, line, column)
    assert words in error.message
    assert document.to_bytes() == data
    assert elapsed < QUICKLY


@pytest.mark.parametrize("closing", ["]" * 3000, ""], ids=["balanced", "unbalanced"])
def test_three_thousand_nested_brackets_are_refused_as_too_deep(closing):
    yaml_text = "x: " + "[" * 3000 + closing + "\n"
    started = time.perf_counter()

    error = AgentDocument.parse(file_with_frontmatter(yaml_text)).frontmatter_error

    assert time.perf_counter() - started < QUICKLY
    assert error.code == "yaml-depth"
    assert "nested more than 20" in error.message
    assert error.line == 2
    assert yaml_text[error.column - 1] == "["


def test_twenty_levels_of_nesting_are_allowed():
    document = AgentDocument.parse(file_with_frontmatter(nested_mapping(20)))

    assert document.frontmatter_error is None


def test_load_frontmatter_raises_with_positions_inside_the_yaml():
    with pytest.raises(DocumentError) as raised:
        load_frontmatter("name: a\nname: b\n")

    assert (raised.value.code, raised.value.line, raised.value.column) == (
        "yaml-duplicate-key",
        2,
        1,
    )


def test_dates_and_times_stay_strings():
    document = AgentDocument.parse(
        file_with_frontmatter("created: 2024-01-05\nupdated: 2024-01-05 10:30:00\n")
    )

    assert document.frontmatter == {"created": "2024-01-05", "updated": "2024-01-05 10:30:00"}


def test_merge_key_is_an_ordinary_key():
    document = AgentDocument.parse(file_with_frontmatter("a: 1\n<<: {b: 2}\n"))

    assert document.frontmatter == {"a": 1, "<<": {"b": 2}}


@pytest.mark.parametrize(
    "data", [b"", b"# Agent\n\nNo frontmatter here.\n", b"\n---\nname: x\n---\n"]
)
def test_file_without_frontmatter_has_none_and_no_error(data):
    document = AgentDocument.parse(data)

    assert document.frontmatter is None
    assert document.frontmatter_error is None
    assert document.key_spans == {}
    assert document.to_bytes() == data


def test_empty_file_has_no_sections():
    document = AgentDocument.parse(b"")

    assert document.sections == []
    assert document.preamble == ""


# --- Decoding ----------------------------------------------------------------------------


def test_invalid_utf8_is_refused_with_its_line_and_column():
    with pytest.raises(DocumentError) as raised:
        decode("---\nname: x\n---\nCafé ".encode() + b"\xff\n")

    assert (raised.value.code, raised.value.line, raised.value.column) == ("not-utf8", 4, 6)
    assert "0xff" in raised.value.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_refused_as_not_utf8(encoding):
    data = "---\nname: x\n---\n# Agent\n".encode(encoding)

    with pytest.raises(DocumentError) as raised:
        AgentDocument.parse(data)

    assert raised.value.code == "not-utf8"
    assert "UTF-16" in raised.value.message


def test_utf16_big_endian_with_bom_is_refused_as_not_utf8():
    with pytest.raises(DocumentError) as raised:
        decode(b"\xfe\xff" + "# Agent\n".encode("utf-16-be"))

    assert raised.value.code == "not-utf8"


def test_nul_byte_is_refused_with_its_line_and_column():
    with pytest.raises(DocumentError) as raised:
        AgentDocument.parse("---\nname: x\n---\nça\x00\n".encode())

    assert (raised.value.code, raised.value.line, raised.value.column) == ("nul-byte", 4, 3)


def test_five_megabyte_file_is_refused_as_too_large():
    with pytest.raises(DocumentError) as raised:
        AgentDocument.parse(b"a" * 5 * 1024 * 1024)

    assert raised.value.code == "too-large"
    assert "262,144" in raised.value.message


def test_decode_strips_and_reports_a_utf8_bom():
    assert decode("\ufeff# Agent\n".encode()) == ("# Agent\n", True)
    assert decode(b"# Agent\n") == ("# Agent\n", False)


# --- python-frontmatter as an oracle -----------------------------------------------------


def as_read_by_strict_loader(value):
    """python-frontmatter's value with dates and times as the text they were written as."""
    if isinstance(value, datetime.datetime):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: as_read_by_strict_loader(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_read_by_strict_loader(item) for item in value]
    return value


def test_frontmatter_matches_python_frontmatter_over_the_corpus():
    compared = 0
    for path in AGENT_FILES:
        try:
            expected = frontmatter.loads(path.read_bytes().decode("utf-8")).metadata
        except Exception:
            continue  # the oracle cannot read this file, so there is nothing to compare
        if not expected:
            continue

        assert corpus_document(path).frontmatter == as_read_by_strict_loader(expected), path
        compared += 1

    assert compared >= 500


def test_dates_compare_with_python_frontmatter_as_the_strings_written():
    text = "---\ncreated: 2024-01-05\nupdated: 2024-01-05 10:30:00\n---\nBody\n"

    expected = frontmatter.loads(text).metadata

    assert expected["created"] == datetime.date(2024, 1, 5)
    assert AgentDocument.parse(text.encode()).frontmatter == as_read_by_strict_loader(expected)


_SECTION_ALONE = MarkdownIt("commonmark").disable("inline")


def _assert_outlines_are_the_sections_parsed_alone(document: AgentDocument) -> None:
    for section in document.sections:
        alone = [
            (token.type, token.level, token.content, token.map[0] + section.body_start)
            for token in _SECTION_ALONE.parse(document.section_body(section))
            if token.type in ("inline", "list_item_open") and token.map is not None
        ]
        assert [tuple(block) for block in document.section_outline(section)] == alone


@pytest.mark.parametrize("path", [*AGENT_FILES, EXAMPLE], ids=data_id)
def test_section_outline_is_that_of_the_section_parsed_alone(path):
    _assert_outlines_are_the_sections_parsed_alone(AgentDocument.parse(path.read_bytes()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(agent_documents())
def test_section_outline_of_generated_documents_is_that_of_the_section_parsed_alone(generated):
    _assert_outlines_are_the_sections_parsed_alone(AgentDocument.parse(generated[0]))


# --- Numbers ----------------------------------------------------------------------------------

LONG_NUMBERS = {
    "decimal": "9" * 4301,
    "negative": "-" + "9" * 5000,
    "base-60": ":".join(["1"] + ["0"] * 2600),
    "hex": "0x" + "f" * 4000,
    "binary": "0b" + "1" * 15000,
    "octal": "0" + "7" * 5000,
    "explicit-int": "!!int " + "1" * 5000,
    "long-float": "1" * 5000 + ".5",
    "base-60-float": ":".join(["1"] + ["0"] * 300) + ".5",
}


@pytest.mark.parametrize("number", LONG_NUMBERS.values(), ids=LONG_NUMBERS.keys())
def test_number_of_more_than_100_digits_is_a_located_problem(number):
    text = f"---\nname: x\nn: {number}\n---\nBody\n"

    document = AgentDocument.parse(text.encode())

    error = document.frontmatter_error
    assert (error.code, error.line, error.column) == ("yaml-number-too-large", 3, 4)
    assert "may have at most 100" in error.message and "quotes" in error.message
    assert number.removeprefix("!!int ")[:20] in error.message and len(error.message) < 200
    assert document.frontmatter is None
    assert document.to_bytes() == text.encode()


@pytest.mark.parametrize(
    ("number", "value"),
    [
        ("9" * 100, int("9" * 100)),
        ("-" + "9_" * 100, -int("9" * 100)),
        (":".join(["1"] + ["59"] * 49), functools.reduce(lambda n, d: n * 60 + d, [59] * 49, 1)),
        ("0x" + "f" * 100, 16**100 - 1),
        ("1" * 99 + ".5", float("1" * 99 + ".5")),
    ],
    ids=["decimal", "underscores", "base-60", "hex", "float"],
)
def test_number_of_100_digits_is_read_and_written_as_json(number, value):
    data, _ = load_frontmatter(f"n: {number}\n")

    assert data["n"] == value
    assert json.loads(json.dumps(data)) == data


def test_quoted_long_number_is_text():
    data, _ = load_frontmatter(f"n: '{'9' * 5000}'\n")

    assert data["n"] == "9" * 5000


@pytest.mark.parametrize(
    "value", ["!!int many", "!!int ''", "!!int 0x", "!!float much", "!!float ''", "!!bool maybe"]
)
def test_value_that_is_not_of_its_tags_type_is_a_located_problem(value):
    with pytest.raises(DocumentError) as raised:
        load_frontmatter(f"name: x\nn: {value}\n", line_offset=1)

    assert (raised.value.code, raised.value.line, raised.value.column) == ("yaml-value", 3, 4)
    assert f"though its tag {value.split()[0]} says so" in raised.value.message


def test_mapping_tag_on_a_plain_value_is_a_located_problem():
    with pytest.raises(DocumentError) as raised:
        load_frontmatter("name: x\nn: !!map many\n")

    assert (raised.value.code, raised.value.line, raised.value.column) == ("yaml-syntax", 2, 4)
