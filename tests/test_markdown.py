"""The registry's markdown-it parsers give exactly the tokens (and HTML) markdown-it's own do."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt, rules_block
from markdown_it.rules_block import StateBlock

from registry.agentfiles import markdown
from registry.agentfiles.document import AgentDocument, Block, Section
from registry.agentfiles.markdown import markdown_parser
from registry.agentfiles.rendering import render_markdown
from tests.helpers import CORPUS, EXAMPLE

AGENT_FILES = sorted(path for path in CORPUS.rglob("*.md") if path != CORPUS / "README.md")
# The configurations the registry parses with: the body's structure (sections and outlines)
# and the preview; and markdown-it's whole CommonMark, inline rules and HTML included.
CONFIGURATIONS = {
    "structure": lambda make: make("commonmark").disable("inline"),
    "preview": lambda make: make("commonmark", {"html": False}).enable(["table", "strikethrough"]),
    "commonmark": lambda make: make("commonmark"),
}
# Where block and inline rules disagree, interrupt each other, or depend on indentation.
TRICKY = [
    "```\n## not a heading\n```\n## Heading\n",
    "~~~ python\n## not\n~~~~\n\n## Yes\n",
    "<div>\n## inside an HTML block\n</div>\n\n## Outside\n",
    "<!-- a comment\n## still a comment\n-->\n## Heading\n",
    "Title\n---\nbody\n\nTitle\n===\n",
    "- item\n---\n- * * *\n***\n",
    "> quote\nlazy continuation\n## Heading\n> > nested\n>     code\n",
    "- a\n  - b\n    - c\n     - d\n      - e\n\n  continued\n",
    "1. one\n2) two\n10. ten\n\n3. three\n",
    "Paragraph\n1. not a list (does not start with 1)\n2. still text\n",
    "Paragraph\n- \n- empty first item cannot interrupt\n",
    "    indented code\n\t## tab-indented code\n   ## three spaces is a heading\n",
    "[ref]: /url 'title'\n[ref]\n\n[ref2]:\n  /other\n",
    "| a | b |\n|---|:-:|\n| 1 | 2 |\n## after a table\n",
    "a | b\n- | -\nnot a table row? \\| yes\n",
    "## Heading ##\n#5 not\n####### seven\n#\tx\n",
    "**bold** _em_ ~~del~~ `code` ![img](x.png) <http://a.b> &amp; &#35; \\*\n",
    "line with trailing spaces  \nand a break\\\nagain\n",
    '*a **b** c* __d *e*__ [link [nested]](/u "t") [x]: not\n',
    "> - list in a quote\n>   continued\n> ---\n",
    "\u00a0## nbsp is not a space\n\u3000## nor is an ideographic one\n",
    "\r\nWindows\r\n---\r\n\r\n## Heading\r\n- item\r\n",
    "\x00 NUL\n## heading\x00\n",
    "",
    "\n\n\n",
    "-",
    "#",
    "<",
    "trade-offs: a = b + c, #1 @me {x} ^y $z %w > v ] u",
    "Two lines\nof a title\n===\n\nNot a title\n\n---\n",
    "- item\nlazy line\n---\n> quote\nlazy\n===\n",
    "para\n    indented continuation\n  ---\n    ----\n",
    "para\n- list interrupts\n\npara\n# heading interrupts\n===\n",
    "  - a\n    b\n    ---\n  c\n  ===\n",
    "two spaces at the end  ",
    "a\\b and 2 * 3 and snake_case and ~tilde and `tick and &amp and !bang and [bracket",
]
PIECES = [
    "#", "## ", "### x", "-", "- ", "* ", "+ ", "1. ", "2) ", "> ", ">", "```", "~~~", "    ",
    "\t", " ", "  ", "\n", "\n\n", "<div>", "</div>", "<!--", "-->", "<a href='x'>", "[a]: /u",
    "[a]", "![i](x)", "|", " | ", "---", "===", "***", "___", "text", "word ", "*em*", "**b**",
    "_u_", "~~s~~", "`c`", "\\", "&amp;", "&#35;", "<http://x.y>", ":", "!", "[", "]", "(", ")",
]  # fmt: skip
markdown_texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def tokens(parsed) -> list[tuple]:
    return [
        (
            token.type,
            token.tag,
            token.nesting,
            token.level,
            token.content,
            token.map,
            token.markup,
            token.info,
            token.block,
            token.hidden,
            token.attrs,
            repr(token.meta),
            None if token.children is None else tokens(token.children),
        )
        for token in parsed
    ]


def assert_parsed_alike(configuration: str, text: str) -> None:
    ours = CONFIGURATIONS[configuration](markdown_parser)
    theirs = CONFIGURATIONS[configuration](MarkdownIt)
    our_env, their_env = {}, {}
    assert tokens(ours.parse(text, our_env)) == tokens(theirs.parse(text, their_env))
    assert our_env == their_env
    assert ours.render(text) == theirs.render(text)


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_corpus_parses_to_the_same_tokens_as_markdown_it(configuration):
    for path in [*AGENT_FILES, EXAMPLE]:
        assert_parsed_alike(configuration, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
@pytest.mark.parametrize("text", TRICKY)
def test_tricky_markdown_parses_to_the_same_tokens_as_markdown_it(configuration, text):
    assert_parsed_alike(configuration, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown_texts)
def test_generated_markdown_parses_to_the_same_tokens_as_markdown_it(text):
    for configuration in CONFIGURATIONS:
        assert_parsed_alike(configuration, text)


def test_rules_added_by_a_plugin_are_tried_everywhere():
    def shout(state, silent):  # an inline rule that starts at a letter
        if state.src[state.pos] != "x":
            return False
        if not silent:
            state.push("shout", "strong", 0).content = "x"
        state.pos += 1
        return True

    def bar(state, start_line, end_line, silent):  # a block rule that starts at a letter
        line = state.src[state.bMarks[start_line] + state.tShift[start_line] :]
        if not line.startswith("BAR"):
            return False
        if not silent:
            state.push("bar", "hr", 0).map = [start_line, start_line + 1]
        state.line = start_line + 1
        return True

    text = "plain text with x in it\nBAR\n\n- item with x\nBAR\n"
    parsed = []
    for make in (MarkdownIt, markdown_parser):
        parser = make("commonmark")
        parser.inline.ruler.before("text", "shout", shout)
        parser.inline.add_terminator_char("x")
        parser.block.ruler.before("paragraph", "bar", bar, {"alt": ["paragraph"]})
        parsed.append(tokens(parser.parse(text)))

    assert parsed[0] == parsed[1]
    assert "shout" in repr(parsed[1]) and "'bar'" in repr(parsed[1])


@pytest.mark.parametrize("text", ["one\ntwo\nthree\n", "one\ntwo\n===\n", "one\n\ntwo\n"])
@pytest.mark.parametrize("end_line", [1, 2, 3])
def test_one_paragraph_scan_is_lheading_then_paragraph_below_any_end_line(text, end_line):
    """The rules are given an end line short of the last one only by plugins: the paragraph
    rule then still reads to the last line, and so does the rule that stands for both."""
    results = []
    for rules in (
        [markdown.setext_heading_or_paragraph],
        [rules_block.lheading, rules_block.paragraph],
    ):
        parser = markdown_parser("commonmark")
        state = StateBlock(text, parser, {}, [])
        assert any(rule(state, 0, end_line, False) for rule in rules)
        results.append((tokens(state.tokens), state.line, state.parentType))

    assert results[0] == results[1]


def commonmark_blocks(document: AgentDocument) -> tuple[list[Section], dict[int, list[Block]]]:
    """The sections and outlines as the plain CommonMark parser gives them."""
    offset = document.body_start
    parsed = MarkdownIt("commonmark").disable("inline").parse(document.body)
    starts = [
        index
        for index, token in enumerate(parsed)
        if token.type == "heading_open" and token.tag == "h2" and token.level == 0
    ]
    sections, outlines = [], {}
    for number, index in enumerate(starts):
        begin, body_begin = (line + offset for line in parsed[index].map)
        following = starts[number + 1] if number + 1 < len(starts) else len(parsed)
        end = parsed[following].map[0] + offset if following < len(parsed) else None
        title = " ".join(parsed[index + 1].content.split())
        sections.append(Section(title, begin, body_begin, end or len(document.lines)))
        outlines[begin] = [
            Block(token.type, token.level, token.content, token.map[0] + offset)
            for token in parsed[index + 3 : following]
            if token.type in Block.TYPES and token.map is not None
        ]
    return sections, outlines


@pytest.mark.parametrize("path", [*AGENT_FILES, EXAMPLE], ids=lambda path: path.name)
def test_sections_and_outlines_are_those_of_commonmark(path):
    document = AgentDocument.parse(path.read_bytes())

    sections, outlines = commonmark_blocks(document)

    assert document.sections == sections
    assert {section.start: document.section_outline(section) for section in sections} == outlines


def plain_preview(text: str) -> str:
    parser = CONFIGURATIONS["preview"](MarkdownIt)
    return parser.render(text)


def preview_after_structure(text: str) -> str:
    markdown.structure_tokens(text)
    tokens, env = markdown.preview_tokens(text)
    return markdown.PREVIEW.renderer.render(tokens, markdown.PREVIEW.options, env)


@pytest.mark.parametrize("path", [*AGENT_FILES, EXAMPLE], ids=lambda path: path.name)
def test_preview_after_the_structure_is_the_preview_parsed_alone(path):
    body = AgentDocument.parse(path.read_bytes()).body

    assert preview_after_structure(body) == plain_preview(body)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_preview_after_the_structure_is_the_preview_parsed_alone(text):
    assert preview_after_structure(text) == plain_preview(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdown_texts)
def test_generated_preview_after_the_structure_is_the_preview_parsed_alone(text):
    assert preview_after_structure(text) == plain_preview(text)


def test_preview_of_a_body_without_html_or_tables_reuses_the_structure_blocks(monkeypatch):
    document = AgentDocument.parse(EXAMPLE.read_bytes())
    assert "<" not in document.body and "|" not in document.body
    expected = render_markdown(document.body)
    document.sections  # noqa: B018 - the structure is parsed first, as the editor does

    def no_second_block_parse(*arguments):
        raise AssertionError("the body's blocks were parsed again")

    monkeypatch.setattr(markdown.PREVIEW.block, "parse", no_second_block_parse)

    assert render_markdown(document.body) == expected


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<div>\n## Not a section\n</div>\n", "<h2>Not a section</h2>"),
        ("Not | a section\n--- | ---\n", "<th>a section</th>"),
    ],
    ids=["html-block", "table"],
)
def test_preview_parses_its_own_blocks_where_html_or_a_table_reads_differently(text, shown):
    document = AgentDocument(text)

    assert document.sections == []
    assert shown in render_markdown(document.body)


def test_preview_of_another_text_is_not_given_the_structure_blocks():
    markdown.structure_tokens("## One\n")

    tokens, _ = markdown.preview_tokens("Two\n---\n")

    assert [token.type for token in tokens][:2] == ["heading_open", "inline"]
    assert tokens[1].content == "Two"
