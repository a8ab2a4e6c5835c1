"""Every parse, check, render and diff takes time linear in its input: n items against 8n.

Times are compared within one run, never against a fixed figure: linear work grows about
8 times for 8 times the items, quadratic work 64 times; the bound is 16 times."""

import gc
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.agentfiles.document import DEFAULT_MAX_BYTES, AgentDocument
from registry.agentfiles.merge import merge
from registry.agentfiles.rendering import render_markdown, structured_diff, unified_diff, word_marks
from registry.agentfiles.validation import validate
from tests.helpers import BOUNDARIES, FOCUS

GROWTH = 8
BOUND = 16
# Below this, a measure is mostly the timer and the interpreter: it counts as this long.
FLOOR = 0.004

HEAD = (
    "---\nname: agent-one\ndescription: Does one thing.\n---\n# Agent\n\n"
    f"## Focus Areas\n{FOCUS}\n## Boundaries\n{BOUNDARIES}\n"
)


def seconds(work: Callable[[], object]) -> float:
    """The best of five runs: the others include whatever else the machine did. The garbage
    collector is held off while timing: its passes depend on everything the test process
    holds, not on the work measured."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return max(best, FLOOR)


def assert_linear(make: Callable[[int], str], work: Callable[[str], object], n: int):
    small, large = make(n), make(GROWTH * n)
    assert len(large.encode()) <= DEFAULT_MAX_BYTES, "the large input must be a file we accept"
    ratio = seconds(lambda: work(large)) / seconds(lambda: work(small))
    assert ratio < BOUND, f"{GROWTH}x the input took {ratio:.1f}x the time"


def check(text: str):
    return validate(AgentDocument.parse(text), known_names={"agent-one"})


def delegate_to(items: str) -> Callable[[int], str]:
    return lambda n: HEAD + "## Delegate To\n" + items * n


# (name, text for n items, n): the shapes an attacker repeats.
SHAPES = [
    ("empty delegate items", delegate_to("-\n"), 2_000),
    (
        "named delegate items",
        lambda n: HEAD + "## Delegate To\n" + "".join(f"- **agent-{i}** — x\n" for i in range(n)),
        1_200,
    ),  # fmt: skip
    ("nested empty items", delegate_to("-\n  -\n"), 1_000),
    ("headings", lambda n: HEAD + "".join(f"## Part {i}\n" for i in range(n)), 1_500),
    (
        "boundaries items",
        lambda n: HEAD.replace(
            BOUNDARIES, "**Will:**\n" + "- a\n" * n + "**Will Not:**\n" + "- b\n" * n
        ),
        1_000,
    ),  # fmt: skip
    ("will labels", lambda n: HEAD.replace(BOUNDARIES, "**Will:**\n- a\n\n" * n), 800),
    (
        "frontmatter keys",
        lambda n: HEAD.replace("---\n#", "".join(f"key{i}: v\n" for i in range(n)) + "---\n#"),
        300,
    ),  # fmt: skip
    (
        "tools",
        lambda n: HEAD.replace(
            "---\n#", "tools: " + ", ".join(f"Tool{i}" for i in range(n)) + "\n---\n#"
        ),
        600,
    ),  # fmt: skip
    ("long line", lambda n: HEAD + "## Delegate To\n- " + "word " * n + "\n", 4_000),
    ("brackets", delegate_to("["), 4_000),
    ("emphasis", delegate_to("*a _b "), 2_000),
    ("quotes", delegate_to("> "), 2_000),
    ("backticks", delegate_to("`a ``b "), 2_000),
    ("links", delegate_to("[a](b "), 2_000),
    (
        "table rows",
        lambda n: HEAD + "## Delegate To\n| a | b |\n|---|---|\n" + "| x | y |\n" * n,
        1_000,
    ),  # fmt: skip
]


@pytest.mark.parametrize("make, n", [shape[1:] for shape in SHAPES], ids=[s[0] for s in SHAPES])
def test_checking_a_file_is_linear(make, n):
    assert_linear(make, check, n)


@pytest.mark.parametrize("make, n", [shape[1:] for shape in SHAPES], ids=[s[0] for s in SHAPES])
def test_rendering_a_preview_is_linear(make, n):
    assert_linear(make, render_markdown, n)


def edited(text: str) -> str:
    """The text with a line changed in the middle and one added at the end."""
    middle = len(text) // 2
    return text[:middle] + "\nchanged line\n" + text[middle:] + "one more line\n"


@pytest.mark.parametrize("make, n", [shape[1:] for shape in SHAPES], ids=[s[0] for s in SHAPES])
def test_diffing_an_edit_is_linear(make, n):
    assert_linear(make, lambda text: structured_diff(text, edited(text)), n)
    assert_linear(make, lambda text: unified_diff(text, edited(text)), n)


REPEATED_LINES = [
    # (old for n items, new for n items): both sides the same few lines, over and over.
    (lambda n: "-\n" * n, lambda n: "-\n" * n + "x\n" + "-\n" * n),
    (lambda n: "a\nb\n" * n, lambda n: "b\na\n" * n),
    (lambda n: "- a\n" * n + "**Will Not:**\n", lambda n: "- b\n" * n + "**Will Not:**\n"),
]


@pytest.mark.parametrize("old, new", REPEATED_LINES)
def test_diffing_repeated_lines_is_linear(old, new):
    def both(n):
        return HEAD + "## Delegate To\n" + old(n) + "\0" + HEAD + "## Delegate To\n" + new(n)

    def diff(text):
        before, after = text.split("\0")
        structured_diff(before, after)
        unified_diff(before, after)

    assert_linear(both, diff, 1_500)


def test_marking_words_in_a_long_line_is_linear():
    assert_linear(
        lambda n: "a b " * n + "\0" + "b a " * n, lambda t: word_marks(*t.split("\0")), 2_000
    )


def lines_of(diff, kinds):
    return [line.text for line in diff if line.kind in kinds]


def test_a_large_replaced_block_still_shows_every_line():
    old, new = "a\nb\n" * 1_500, "b\na\n" * 1_500
    diff = unified_diff(old, new)
    assert lines_of(diff, {"del"}) == old.splitlines()
    assert lines_of(diff, {"add"}) == new.splitlines()


@settings(max_examples=200, deadline=None)
@given(
    old=st.lists(st.sampled_from("abc"), max_size=800),
    new=st.lists(st.sampled_from("abc"), max_size=800),
)
def test_every_diff_gives_back_both_texts(old, new):
    old, new = "".join(f"{line}\n" for line in old), "".join(f"{line}\n" for line in new)
    diff = unified_diff(old, new, context=10**6)
    if old == new:
        assert diff == []
        return
    assert lines_of(diff, {"context", "del"}) == old.splitlines()
    assert lines_of(diff, {"context", "add"}) == new.splitlines()


def test_an_edit_in_a_long_file_is_still_shown_line_by_line():
    old = "".join(f"line {i}\n" for i in range(5_000))
    new = old.replace("line 2500\n", "line two thousand five hundred\n")
    diff = unified_diff(old, new)
    assert [(line.kind, line.text) for line in diff if line.kind != "context"] == [
        ("hunk", "@@ -2498,7 +2498,7 @@"),
        ("del", "line 2500"),
        ("add", "line two thousand five hundred"),
    ]


@pytest.mark.parametrize(
    "make, n", [shape[1:] for shape in SHAPES[:6]], ids=[s[0] for s in SHAPES[:6]]
)
def test_merging_is_linear(make, n):
    assert_linear(make, lambda text: merge(text, edited(text), text + "\n"), n)


# --- Hunting: random lines, repeated ------------------------------------------------------------

MARKDOWN_PIECES = ["-", "*", "+", "1.", ">", "#", "##", "###", "**", "__", "`", "```", "~~~", "[",
    "]", "(", ")", "!", "|", "<", "&", "\\", "    ", "  ", "\t", "a", "Will:", "Will Not:",
    "agent-one", "—", ":", "---", "==="]  # fmt: skip
repeated_unit = st.lists(st.sampled_from(MARKDOWN_PIECES), min_size=1, max_size=6).map(
    lambda pieces: " ".join(pieces) + "\n"
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=repeated_unit)
def test_no_repeated_line_makes_any_check_superlinear(unit):
    n = max(1, 6_000 // len(unit.encode()))

    def make(count):
        return HEAD + "## Delegate To\n" + unit * count

    def every_way(text):
        check(text)
        render_markdown(text)
        structured_diff(text, edited(text))

    assert_linear(make, every_way, n)
