"""The registry's markdown-it parsers: a body's structure and its preview, from one block parse
where the two agree, each trying at a line or a character only the rules that can start there.

markdown-it tries every block rule in turn at the start of each line, and again on every line
of a paragraph to see whether something interrupts it; most rules look at the line's first
character and give up. The same goes for inline rules at each character that may start markup.
These parsers skip the rules that would give up, so they produce exactly the tokens markdown-it
does, in less time. A rule not listed here (a plugin's) is always tried."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from markdown_it import MarkdownIt, rules_block, rules_core, rules_inline
from markdown_it.common.utils import mdTrim
from markdown_it.parser_block import ParserBlock
from markdown_it.parser_inline import ParserInline
from markdown_it.ruler import Ruler
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

# What the first non-blank character of a line must be for each block rule to match there,
# when the line is not indented as code: each rule gives up on any other (code needs the
# indentation, so never matches then).
BLOCK_STARTS: dict[Callable, frozenset[str]] = {
    rules_block.code: frozenset(),
    rules_block.fence: frozenset("`~"),
    rules_block.blockquote: frozenset(">"),
    rules_block.hr: frozenset("*-_"),
    rules_block.list_block: frozenset("*+-0123456789"),
    rules_block.reference: frozenset("["),
    rules_block.html_block: frozenset("<"),
    rules_block.heading: frozenset("#"),
}
# The character each inline rule must find at the position it is tried at.
INLINE_STARTS: dict[Callable, frozenset[str]] = {
    rules_inline.newline: frozenset("\n"),
    rules_inline.escape: frozenset("\\"),
    rules_inline.backtick: frozenset("`"),
    rules_inline.strikethrough.tokenize: frozenset("~"),
    rules_inline.emphasis.tokenize: frozenset("*_"),
    rules_inline.link: frozenset("["),
    rules_inline.image: frozenset("!"),
    rules_inline.autolink: frozenset("<"),
    rules_inline.html_inline: frozenset("<"),
    rules_inline.entity: frozenset("&"),
}
# The inline post-processing rules that leave a lone text token as it is.
_NO_EFFECT_ON_TEXT = frozenset(
    {
        rules_inline.link_pairs,
        rules_inline.strikethrough.postProcess,
        rules_inline.emphasis.postProcess,
        rules_inline.fragments_join,
    }
)


def _candidates(rules: list, starts: Mapping[Callable, frozenset[str]]):
    """(for each character some rule needs, the rules that can match there; the rules that can
    match at any other character), each in the rules' order."""

    def can_start(rule, character: str) -> bool:
        return rule not in starts or character in starts[rule]

    characters = set().union(*(starts.get(rule, ()) for rule in rules))
    by_character = {
        character: tuple(rule for rule in rules if can_start(rule, character))
        for character in characters
    }
    return by_character, tuple(rule for rule in rules if rule not in starts)


def _block_dispatch(rules: list, starts: Mapping[Callable, frozenset[str]]):
    rules = _one_paragraph_scan(rules)
    every = tuple(rules)
    by_character, others = _candidates(rules, starts)

    def dispatch(state, line: int, end_line: int, silent: bool) -> bool:
        start = state.bMarks[line] + state.tShift[line]
        if start >= state.eMarks[line] or state.sCount[line] - state.blkIndent >= 4:
            tried = every  # a blank line, or one indented as code
        else:
            tried = by_character.get(state.src[start], others)
        for rule in tried:  # noqa: SIM110 - any() over a generator costs more, on every line
            if rule(state, line, end_line, silent):
                return True
        return False

    return dispatch


def _inline_dispatch(rules: list, starts: Mapping[Callable, frozenset[str]]):
    every = tuple(rules)
    by_character, others = _candidates(rules, starts)

    def dispatch(state, silent: bool) -> bool:
        position = state.pos
        tried = by_character.get(state.src[position], others) if position < state.posMax else every
        for rule in tried:  # noqa: SIM110 - as above
            if rule(state, silent):
                return True
        return False

    return dispatch


def _one_paragraph_scan(rules: list) -> list:
    """The rules, with markdown-it's setext heading rule, where the paragraph rule follows it,
    replaced by one that makes the paragraph itself when it finds no underline."""
    rules = list(rules)
    for index, rule in enumerate(rules[:-1]):
        if rule is rules_block.lheading and rules[index + 1] is rules_block.paragraph:
            rules[index] = setext_heading_or_paragraph
    return rules


def setext_heading_or_paragraph(state, start_line: int, end_line: int, silent: bool) -> bool:
    """markdown-it's lheading rule and, where it finds no underline, its paragraph rule: the
    same tokens and state, from one scan of the lines instead of two.

    lheading reads a paragraph's lines (testing, at each, the rules that may interrupt it) to
    find a `===` or `---` line under them; without one it gives up, and the paragraph rule
    reads the same lines again, with the same tests, to the same line: a blank one, one that
    interrupts, or end_line (from where the paragraph rule, which reads to state.lineMax, goes
    on). Like lheading, it leaves state.parentType "paragraph" when it finds no underline."""
    if state.is_code_block(start_line):
        return False  # the paragraph rule's, as after lheading
    interrupting = state.md.block.ruler.getRules("paragraph")
    old_parent_type = state.parentType
    state.parentType = "paragraph"
    level = None
    next_line = start_line + 1
    while next_line < end_line and not state.isEmpty(next_line):
        if state.sCount[next_line] - state.blkIndent > 3:
            next_line += 1
            continue
        if state.sCount[next_line] >= state.blkIndent:
            position = state.bMarks[next_line] + state.tShift[next_line]
            maximum = state.eMarks[next_line]
            if position < maximum:
                marker = state.src[position]
                if marker in ("-", "="):
                    position = state.skipSpaces(state.skipCharsStr(position, marker))
                    if position >= maximum:
                        level = 1 if marker == "=" else 2
                        break
        if state.sCount[next_line] < 0:
            next_line += 1
            continue
        if _interrupts(interrupting, state, next_line, end_line):
            break
        next_line += 1
    if level:
        content = mdTrim(state.getLines(start_line, next_line, state.blkIndent, False))
        state.line = next_line + 1
        token = state.push("heading_open", f"h{level}", 1)
        token.markup = marker
        token.map = [start_line, state.line]
        token = state.push("inline", "", 0)
        token.content = content
        token.map = [start_line, state.line - 1]
        token.children = []
        token = state.push("heading_close", f"h{level}", -1)
        token.markup = marker
        state.parentType = old_parent_type
        return True
    line_max = state.lineMax
    if next_line == end_line:
        while next_line < line_max and not state.isEmpty(next_line):
            if state.sCount[next_line] - state.blkIndent > 3 or state.sCount[next_line] < 0:
                next_line += 1
                continue
            if _interrupts(interrupting, state, next_line, line_max):
                break
            next_line += 1
    content = mdTrim(state.getLines(start_line, next_line, state.blkIndent, False))
    state.line = next_line
    token = state.push("paragraph_open", "p", 1)
    token.map = [start_line, state.line]
    token = state.push("inline", "", 0)
    token.content = content
    token.map = [start_line, state.line]
    token.children = []
    state.push("paragraph_close", "p", -1)
    return True


def _interrupts(rules: list, state, line: int, end_line: int) -> bool:
    for rule in rules:  # noqa: SIM110 - any() over a generator costs more, on every line
        if rule(state, line, end_line, True):
            return True
    return False


class _DispatchingRuler(Ruler):
    """A Ruler whose every chain is one rule that tries only the rules that can match."""

    def __init__(self, make_dispatch, starts: Mapping[Callable, frozenset[str]]):
        super().__init__()
        self._make_dispatch = make_dispatch
        self._starts = starts

    def __compile__(self) -> None:
        super().__compile__()
        self.__cache__ = {
            chain: [self._make_dispatch(rules, self._starts)] if rules else []
            for chain, rules in self.__cache__.items()
        }


def _copy_rules(source: Ruler, target: Ruler) -> Ruler:
    for rule in source.__rules__:
        target.push(rule.name, rule.fn, {"alt": list(rule.alt)})
        if not rule.enabled:
            target.disable(rule.name)
    return target


class _BlockParser(ParserBlock):
    def __init__(self) -> None:
        super().__init__()
        self.ruler = _copy_rules(self.ruler, _DispatchingRuler(_block_dispatch, BLOCK_STARTS))


class _InlineParser(ParserInline):
    def __init__(self) -> None:
        super().__init__()
        self.ruler = _copy_rules(self.ruler, _DispatchingRuler(_inline_dispatch, INLINE_STARTS))
        self._markup_of: tuple | None = None
        self._markup_re: re.Pattern[str] | None = None

    def parse(self, src: str, md: MarkdownIt, env, tokens: list[Token]) -> list[Token]:
        # Text with no character an inline rule can start at is all pending text, one text
        # token (most paragraphs and headings of prose): made without the rules' machinery.
        markup = self._markup()
        if not tokens and markup is not None and not markup.search(src):
            if src:
                token = Token("text", "", 0)
                token.content = src
                tokens.append(token)
            return tokens
        return super().parse(src, md, env, tokens)

    def _markup(self) -> re.Pattern[str] | None:
        """The characters some inline rule can start at; None when a rule may start anywhere
        or a post-processing rule may change a text token."""
        rules, post_rules = self.ruler.getRules(""), self.ruler2.getRules("")
        if self._markup_of != (id(rules), id(post_rules)):  # compiled again after any change
            active = [rule.fn for rule in self.ruler.__rules__ if rule.enabled]
            known = all(rule is rules_inline.text or rule in INLINE_STARTS for rule in active)
            if known and _NO_EFFECT_ON_TEXT.issuperset(post_rules):
                characters = set().union(*(INLINE_STARTS.get(rule, ()) for rule in active))
                self._markup_re = re.compile(f"[{re.escape(''.join(sorted(characters)))}]")
            else:
                self._markup_re = None
            self._markup_of = (id(rules), id(post_rules))
        return self._markup_re


def markdown_parser(
    config: str = "commonmark", options_update: Mapping[str, Any] | None = None
) -> MarkdownIt:
    """MarkdownIt(config, options_update), with the block and inline parsers above."""
    parser = MarkdownIt(config, options_update)
    parser.block = _BlockParser()
    parser.inline = _InlineParser()
    # The configuration enables and disables rules by name: apply it to the new parsers too.
    return parser.configure(config, options_update)


# --- The registry's two parsers, and one block parse for both ---------------------------------

# A body's structure, its H2 sections and their outlines, as CommonMark reads it (HTML blocks
# included: a heading inside one is not a heading); inline content is not needed for it.
STRUCTURE = markdown_parser("commonmark").disable("inline")
# The preview. Raw HTML in agent text is shown as text, never passed through (rendering.py then
# removes anything unsafe the Markdown itself could produce).
PREVIEW = markdown_parser("commonmark", {"html": False}).enable(["table", "strikethrough"])
# The preview parser's core rules that follow the block parse (inline content and the like).
_AFTER_BLOCKS = tuple(
    rule
    for rule in PREVIEW.core.ruler.getRules("")
    if rule not in (rules_core.normalize, rules_core.block)
)


class _KeptBlocks(threading.local):
    """The block parse structure_tokens last kept in this thread, until the preview takes it."""

    def __init__(self) -> None:
        self.keep(None, [], {})

    def keep(self, text: str | None, tokens: list[Token], env: dict) -> None:
        self.text, self.tokens, self.env = text, tokens, env

    def take(self, text: str) -> tuple[list[Token], dict] | None:
        """(tokens, env) kept for text, once (the inline parse fills the tokens in); None when
        the blocks kept are another text's."""
        if self.text != text:
            return None
        kept = self.tokens, self.env
        self.keep(None, [], {})
        return kept


_kept_blocks = _KeptBlocks()


def structure_tokens(text: str) -> list[Token]:
    """The block tokens of text as STRUCTURE parses it.

    A page that shows a body's sections and its preview parses the body twice, once with each
    parser. The two differ at the block level only where a line may start an HTML block (which
    the preview reads as text) or a table (which only the preview has), and every table has a
    `|` in its first line and every HTML block starts with `<`. Without either character the
    blocks are the same, and are kept (the last text's, one per thread) for preview_tokens."""
    env: dict = {}
    tokens = STRUCTURE.parse(text, env)
    if "<" not in text and "|" not in text:
        _kept_blocks.keep(text, tokens, env)
    else:
        _kept_blocks.keep(None, [], {})
    return tokens


def preview_tokens(text: str) -> tuple[list[Token], dict]:
    """(tokens, env) of text as PREVIEW parses it; from the blocks structure_tokens kept for the
    same text, if it did, with only the inline content left to parse."""
    kept = _kept_blocks.take(text)
    if kept is None:
        env: dict = {}
        return PREVIEW.parse(text, env), env
    tokens, env = kept
    state = StateCore(text, PREVIEW, env, tokens)
    for rule in _AFTER_BLOCKS:
        rule(state)
    return state.tokens, env
