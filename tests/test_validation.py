"""The validation rules: every code, its severity and where it points."""

import pytest

from registry.agentfiles.document import AgentDocument
from registry.agentfiles.validation import (
    ERROR,
    WARNING,
    Problem,
    delegations,
    intrinsic_problems,
    validate,
)
from tests.helpers import CORPUS, DEMO, DEMO_NAMES, EXAMPLE, agent_text, file_problems

# The codes are an interface (CI scripts and the API filter on them): they never change.
STABLE_CODES = {
    "too-large",
    "not-utf8",
    "nul-byte",
    "frontmatter-missing",
    "frontmatter-unclosed",
    "frontmatter-not-mapping",
    "yaml-syntax",
    "yaml-alias",
    "yaml-tag",
    "yaml-depth",
    "yaml-duplicate-key",
    "yaml-key",
    "yaml-too-large",
    "name-missing",
    "name-invalid",
    "name-duplicate",
    "description-missing",
    "field-type",
    "key-unknown",
    "tool-unknown",
    "model-unknown",
    "permission-mode-unknown",
    "color-unknown",
    "section-missing",
    "section-empty",
    "section-duplicate",
    "boundaries-will-missing",
    "boundaries-will-not-missing",
    "delegate-unknown",
    "delegate-self",
    "delegate-unreadable",
    "value-unknown",
}
KNOWN = {"agent-one", "other-agent"}


def problems_of(text: str, known_names=KNOWN, **options) -> list[Problem]:
    return validate(AgentDocument(text), known_names, **options)


def codes_of(text: str, known_names=KNOWN, **options) -> list[str]:
    return [problem.code for problem in problems_of(text, known_names, **options)]


def only(problems: list[Problem], code: str) -> Problem:
    found = [problem for problem in problems if problem.code == code]
    assert len(found) == 1, problems
    return found[0]


# --- Valid files ---------------------------------------------------------------------------


def test_reference_example_with_its_two_delegates_has_no_problems():
    document = AgentDocument.parse(EXAMPLE.read_bytes())

    assert validate(document, set(DEMO_NAMES)) == []


def test_demo_agents_are_valid_together():
    for name in DEMO_NAMES:
        document = AgentDocument.parse((DEMO / f"{name}.md").read_bytes())
        others = [other for other in DEMO_NAMES if other != name]

        assert validate(document, set(DEMO_NAMES), taken_names=others) == [], name


def test_built_test_agent_is_valid():
    assert problems_of(agent_text()) == []


# --- Frontmatter -----------------------------------------------------------------------------


def test_file_without_frontmatter_is_an_error_on_line_1():
    problem = only(problems_of("# Agent\n\n## Focus Areas\n- x\n"), "frontmatter-missing")

    assert problem.severity == ERROR
    assert (problem.line, problem.column) == (1, 1)
    assert "---" in problem.message


def test_empty_file_is_missing_its_frontmatter():
    assert "frontmatter-missing" in codes_of("")


@pytest.mark.parametrize(
    ("frontmatter", "code", "line", "column"),
    [
        pytest.param("name: a\nname: b\n", "yaml-duplicate-key", 3, 1, id="duplicate-key"),
        pytest.param("a: &a [*a]\n", "yaml-alias", 2, 4, id="self-alias"),
        pytest.param(
            'name: x\ncmd: !!python/object/apply:os.system ["echo"]\n', "yaml-tag", 3, 6, id="tag"
        ),
        pytest.param("name: x\ndescription: Use when: x\n", "yaml-syntax", 3, 22, id="bare-colon"),
        pytest.param("name: x\n\tdescription: y\n", "yaml-syntax", 3, 1, id="tab"),
        pytest.param("- a\n- b\n", "frontmatter-not-mapping", 2, 1, id="list"),
        pytest.param("just text\n", "frontmatter-not-mapping", 2, 1, id="scalar"),
        pytest.param("name: x\nnested: " + "[" * 3000 + "\n", "yaml-depth", 3, 1008, id="nesting"),
        pytest.param("? [a, b]\n: c\n", "yaml-key", 2, 3, id="list-key"),
        pytest.param("1: one\n", "yaml-key", 2, 1, id="number-key"),
    ],
)
def test_yaml_errors_are_problems_with_their_line_and_column(frontmatter, code, line, column):
    problems = problems_of(f"---\n{frontmatter}---\n\n# Agent\n")

    problem = only(problems, code)
    assert problem.severity == ERROR
    assert (problem.line, problem.column) == (line, column)
    assert problem.where == "frontmatter"


def test_alias_bomb_is_refused_at_its_first_anchor():
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    frontmatter = "\n".join(lines) + "\n"
    assert 400 < len(frontmatter) < 500

    problem = only(problems_of(f"---\n{frontmatter}---\n"), "yaml-alias")

    assert (problem.line, problem.column) == (2, 4)
    assert "not allowed" in problem.message


def test_bare_colon_message_says_to_quote_the_value():
    problem = only(problems_of("---\nname: x\ndescription: Use when: x\n---\n"), "yaml-syntax")

    assert "quotes" in problem.message


def test_unclosed_frontmatter_points_at_line_1():
    problem = only(problems_of("---\nname: x\ndescription: y\n"), "frontmatter-unclosed")

    assert (problem.line, problem.column) == (1, 1)


def test_frontmatter_over_64_kib_is_refused():
    text = "---\nname: x\ndescription: " + "y" * 70_000 + "\n---\n"

    assert "yaml-too-large" in codes_of(text)


def test_broken_frontmatter_hides_frontmatter_rules_but_not_section_rules():
    codes = codes_of("---\nname: x\nname: y\n---\n# Agent\n")

    assert "name-missing" not in codes
    assert "description-missing" not in codes
    assert codes.count("section-missing") == 3


# --- name and description ------------------------------------------------------------------


@pytest.mark.parametrize("line", ["", "name:\n", "name: ''\n", "name: '   '\n"])
def test_missing_or_empty_name_is_an_error(line):
    text = f"---\n{line}description: Something.\n---\n"

    problem = only(problems_of(text, required_sections=[]), "name-missing")

    assert problem.severity == ERROR
    assert problem.where == "frontmatter.name"


def test_name_missing_points_at_the_name_line_when_there_is_one():
    problem = only(problems_of("---\ndescription: d\nname: ''\n---\n"), "name-missing")

    assert problem.line == 3


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Brand Guardian", "brand-guardian"),
        ("../../etc/passwd", "etc-passwd"),
        ("a" * 65, "a" * 64),
        ("backend_architect", "backend-architect"),
        ("double--hyphen", "double-hyphen"),
        ("-leading", "leading"),
    ],
)
def test_name_that_is_not_a_lowercase_slug_is_invalid_and_a_slug_is_suggested(name, suggestion):
    text = agent_text(name=f"'{name}'")

    problem = only(problems_of(text), "name-invalid")

    assert problem.severity == ERROR
    assert (problem.line, problem.column) == (2, 1)
    assert problem.where == "frontmatter.name"
    assert repr(suggestion) in problem.message


def test_name_of_65_characters_says_the_limit():
    problem = only(problems_of(agent_text(name="a" * 65)), "name-invalid")

    assert "at most 64 characters" in problem.message


def test_name_of_64_characters_is_valid():
    assert "name-invalid" not in codes_of(agent_text(name="a" * 64))


def test_name_that_is_not_text_is_invalid():
    problem = only(problems_of(agent_text(name="[a, b]")), "name-invalid")

    assert "text" in problem.message


@pytest.mark.parametrize("taken", ["agent-one", "AGENT-ONE", "Agent-One"])
def test_name_taken_by_another_agent_ignoring_case_is_a_duplicate(taken):
    problems = problems_of(agent_text(), taken_names=["someone-else", taken])

    problem = only(problems, "name-duplicate")
    assert problem.severity == ERROR
    assert (problem.line, problem.column) == (2, 1)
    assert repr(taken) in problem.message


def test_name_not_taken_is_no_duplicate():
    assert "name-duplicate" not in codes_of(agent_text(), taken_names=["agent-two"])


@pytest.mark.parametrize("line", ["", "description:\n", "description: ''\n", 'description: " "\n'])
def test_missing_or_empty_description_is_an_error(line):
    text = f"---\nname: agent-one\n{line}---\n"

    problem = only(problems_of(text, required_sections=[]), "description-missing")

    assert problem.severity == ERROR
    assert problem.where == "frontmatter.description"


def test_description_that_is_not_text_is_a_field_type_error():
    problem = only(problems_of(agent_text(description="[a, b]")), "field-type")

    assert problem.severity == ERROR
    assert problem.line == 3
    assert problem.where == "frontmatter.description"


# --- Claude Code's fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    "tools",
    [
        "tools: Read, Grep, Glob, Bash\n",
        "tools: [Read, Write, Edit]\n",
        "tools:\n  - Read\n  - WebFetch\n",
        "tools: Bash(git:*), Read\n",
        "tools: mcp__github__create_issue, mcp__any__thing\n",
        "disallowedTools: Write, Edit\n",
        "skills: backend-patterns, coding-standards\n",
        "skills:\n  - anything-goes-here\n",
    ],
)
def test_known_tools_as_comma_string_or_list_are_fine(tools):
    assert problems_of(agent_text(extra=tools)) == []


def test_unknown_tool_is_a_warning_at_the_tools_key():
    problem = only(problems_of(agent_text(extra="tools: Read, Teleport\n")), "tool-unknown")

    assert problem.severity == WARNING
    assert problem.line == 4
    assert "'Teleport'" in problem.message
    assert problem.where == "frontmatter.tools"


@pytest.mark.parametrize(
    "line",
    ["tools: 5\n", "tools: [Read, 5]\n", "tools: {Read: yes}\n", "skills: 3\n"],
)
def test_tools_that_are_neither_a_string_nor_a_list_of_names_are_a_field_type_error(line):
    problem = only(problems_of(agent_text(extra=line)), "field-type")

    assert problem.severity == ERROR
    assert problem.line == 4


@pytest.mark.parametrize(
    "model",
    ["sonnet", "opus", "haiku", "inherit", "claude-sonnet-4-5-20250929", "claude-opus-4-1"],
)
def test_model_aliases_and_full_ids_are_fine(model):
    assert problems_of(agent_text(extra=f"model: {model}\n")) == []


@pytest.mark.parametrize("model", ["gpt-4", "Sonnet", "claude", "[sonnet]"])
def test_other_models_are_a_warning(model):
    problem = only(problems_of(agent_text(extra=f"model: {model}\n")), "model-unknown")

    assert problem.severity == WARNING
    assert problem.line == 4


@pytest.mark.parametrize("mode", ["default", "acceptEdits", "bypassPermissions", "plan"])
def test_documented_permission_modes_are_fine(mode):
    assert problems_of(agent_text(extra=f"permissionMode: {mode}\n")) == []


@pytest.mark.parametrize("mode", ["yolo", "[plan]", "{a: 1}", "5"])
def test_other_permission_modes_are_a_warning(mode):
    problems = problems_of(agent_text(extra=f"permissionMode: {mode}\n"))

    problem = only(problems, "permission-mode-unknown")
    assert problem.severity == WARNING
    assert problem.line == 4


@pytest.mark.parametrize("color", ["red", "blue", "green", "purple", "cyan"])
def test_documented_colors_are_fine(color):
    assert problems_of(agent_text(extra=f"color: {color}\n")) == []


@pytest.mark.parametrize("color", ["mauve", "[red]", "{a: 1}"])
def test_other_colors_are_a_warning(color):
    problem = only(problems_of(agent_text(extra=f"color: {color}\n")), "color-unknown")

    assert problem.severity == WARNING
    assert problem.line == 4


def test_unknown_key_is_a_warning_on_its_line():
    text = agent_text(extra="category: engineering\nversion: 2\n")

    problem = only(problems_of(text), "key-unknown")

    assert problem.severity == WARNING
    assert problem.line == 5
    assert problem.where == "frontmatter.version"


def test_other_tools_documented_keys_are_not_unknown():
    extra = "category: x\nhooks: {}\nmcpServers: {}\nskills: [a]\ndisallowedTools: Bash\n"

    assert problems_of(agent_text(extra=extra)) == []


# --- Sections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "## Focus Areas",
        "## 🎯 Focus areas:",
        "## Your Focus Areas",
        "## FOCUS AREAS",
        "##   Focus   Areas  ",
        "## **Focus Areas**",
        "Focus Areas\n-----------",
    ],
)
def test_heading_matches_ignoring_case_emoji_your_and_colon(heading):
    text = agent_text().replace("## Focus Areas", heading)

    assert problems_of(text) == []


def test_heading_inside_a_code_fence_does_not_count():
    text = agent_text().replace("## Focus Areas\n", "```\n## Focus Areas\n```\n")

    assert "section-missing" in codes_of(text)


def test_h3_does_not_count_as_a_required_section():
    text = agent_text().replace("## Focus Areas", "### Focus Areas")

    assert "section-missing" in codes_of(text)


@pytest.mark.parametrize("title", ["Focus Areas", "Boundaries", "Delegate To"])
def test_each_missing_required_section_is_an_error(title):
    text = agent_text().replace(f"## {title}\n", "## Something Else\n")

    problem = only(problems_of(text), "section-missing")

    assert problem.severity == ERROR
    assert problem.where == f"section:{title}"
    assert f"## {title}" in problem.message


def test_empty_section_is_an_error_on_its_heading():
    text = "---\nname: agent-one\ndescription: d\n---\n# A\n\n## Focus Areas\n\n   \n## Other\nx\n"

    problem = only(problems_of(text, required_sections=["Focus Areas"]), "section-empty")

    assert (problem.line, problem.column) == (7, 1)


def test_section_holding_only_an_h3_heading_is_not_empty():
    text = agent_text(focus="### Later\n")

    assert "section-empty" not in codes_of(text)


def test_duplicate_section_is_an_error_on_the_second_heading():
    text = agent_text() + "\n## focus areas:\n- again\n"
    second = text.splitlines().index("## focus areas:") + 1

    problem = only(problems_of(text), "section-duplicate")

    assert problem.line == second
    assert "also on line 8" in problem.message


def test_required_sections_are_configurable():
    text = "---\nname: agent-one\ndescription: d\n---\n# A\n\n## Purpose\nServe.\n"

    assert problems_of(text, required_sections=["Purpose"]) == []
    assert codes_of(text, required_sections=["Purpose", "Examples"]) == ["section-missing"]
    assert problems_of(text, required_sections=[]) == []
    assert codes_of(text).count("section-missing") == 3


def test_boundaries_lists_are_not_checked_when_boundaries_is_not_required():
    text = agent_text(boundaries="Anything goes.\n")

    assert problems_of(text, required_sections=["Focus Areas"]) == []


# --- Boundaries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "boundaries",
    [
        "**Will:**\n- a\n\n**Will Not:**\n- b\n",
        "**Will**\n- a\n\n**Will not**\n- b\n",
        "### Will\n- a\n\n### Will Not\n- b\n",
        "### ✅ Will:\n- a\n\n### ❌ Won't:\n- b\n",
        "**Will:**\n1. a\n\n**Will Not:**\n1. b\n",
    ],
)
def test_boundaries_with_will_and_will_not_lists_is_fine(boundaries):
    assert problems_of(agent_text(boundaries=boundaries)) == []


def test_boundaries_without_will_not_is_an_error_on_the_heading():
    text = agent_text(boundaries="**Will:**\n- a\n")
    heading = text.splitlines().index("## Boundaries") + 1

    problems = problems_of(text)

    problem = only(problems, "boundaries-will-not-missing")
    assert problem.line == heading
    assert "boundaries-will-missing" not in codes_of(text)


def test_boundaries_with_an_empty_will_list_is_an_error():
    text = agent_text(boundaries="**Will:**\n\n**Will Not:**\n- b\n")

    problem = only(problems_of(text), "boundaries-will-missing")

    assert "empty" in problem.message


def test_boundaries_with_prose_only_lacks_both_lists():
    codes = codes_of(agent_text(boundaries="I will do good things and not bad ones.\n"))

    assert "boundaries-will-missing" in codes
    assert "boundaries-will-not-missing" in codes


def test_nested_items_do_not_fill_an_empty_will_list():
    text = agent_text(boundaries="- **Will:**\n  - nested\n\n**Will Not:**\n- b\n")

    assert "boundaries-will-missing" in codes_of(text)


# --- Delegate To -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        "- **other-agent** — for the rest",
        "- **other-agent**: for the rest",
        "- **other-agent:** for the rest",
        "- `other-agent` - for the rest",
        "- `other-agent` — for the rest",
        "- other-agent — for the rest",
        "- other-agent - for the rest",
        "- other-agent: for the rest",
        "- other-agent – for the rest",
        "* __other-agent__ — for the rest",
        "1. other-agent — for the rest",
        "- [other-agent](other-agent.md) — for the rest",
        "- other-agent",
    ],
)
def test_delegate_entry_formats_name_the_agent(item):
    text = agent_text(delegate_to=item + "\n")

    assert [d.name for d in delegations(AgentDocument(text))] == ["other-agent"]
    assert problems_of(text) == []


def test_delegation_points_at_the_name_in_its_line():
    text = agent_text(delegate_to="- one — a\n- **`two`** — b\n")
    first = text.splitlines().index("- one — a") + 1

    found = delegations(AgentDocument(text))

    assert [(d.name, d.line, d.column) for d in found] == [
        ("one", first, 3),
        ("two", first + 1, 6),
    ]


def test_delegate_to_an_unknown_agent_is_an_error_where_it_is_named():
    text = agent_text(delegate_to="- **other-agent** — x\n- **ghost-agent** — y\n")
    line = text.splitlines().index("- **ghost-agent** — y") + 1

    problem = only(problems_of(text), "delegate-unknown")

    assert problem.severity == ERROR
    assert (problem.line, problem.column) == (line, 5)
    assert "'ghost-agent'" in problem.message
    assert problem.where == "section:Delegate To"


def test_unknown_delegates_are_not_checked_without_known_names():
    text = agent_text(delegate_to="- **ghost-agent** — y\n")

    assert problems_of(text, known_names=None) == []


def test_prose_after_a_name_is_not_a_delegation():
    text = agent_text(delegate_to="- **other-agent** — x\n- Ask a human when unsure\n")

    assert [d.name for d in delegations(AgentDocument(text))] == ["other-agent"]
    assert problems_of(text) == []


def test_nested_items_are_not_delegations():
    text = agent_text(delegate_to="- **other-agent** — x\n  - ghost-agent — nested\n")

    assert [d.name for d in delegations(AgentDocument(text))] == ["other-agent"]


@pytest.mark.parametrize("written", ["agent-one", "Agent-One"])
def test_delegating_to_itself_is_an_error(written):
    text = agent_text(delegate_to=f"- **{written}** — myself\n")

    problems = problems_of(text, known_names=set())

    problem = only(problems, "delegate-self")
    assert problem.severity == ERROR
    assert "delegate-unknown" not in [p.code for p in problems]


def test_delegate_to_without_any_name_is_a_warning():
    text = agent_text(delegate_to="Whoever seems right at the time.\n")
    heading = text.splitlines().index("## Delegate To") + 1

    problem = only(problems_of(text), "delegate-unreadable")

    assert problem.severity == WARNING
    assert problem.line == heading


# --- Every problem ---------------------------------------------------------------------------


def test_warnings_alone_leave_no_errors():
    problems = problems_of(agent_text(extra="model: gpt-4\ncolor: mauve\nfoo: 1\n"))

    assert {p.severity for p in problems} == {WARNING}
    assert not any(p.is_error for p in problems)


def test_problems_come_in_file_order():
    text = agent_text(name="Bad Name", extra="foo: 1\n", delegate_to="- ghost — x\n")

    problems = problems_of(text)

    assert [p.code for p in problems] == ["name-invalid", "key-unknown", "delegate-unknown"]
    assert problems == sorted(problems, key=lambda p: (p.line, p.column))


def test_problem_as_dict_holds_code_severity_message_and_location():
    problem = only(problems_of(agent_text(name="Bad Name")), "name-invalid")

    assert problem.as_dict() == {
        "code": "name-invalid",
        "severity": "error",
        "message": problem.message,
        "line": 2,
        "column": 1,
        "where": "frontmatter.name",
    }


def test_every_corpus_file_validates_without_exception_to_located_stable_problems():
    paths = sorted(CORPUS.rglob("*.md"))
    assert len(paths) > 500
    seen = set()
    for path in paths:
        data = path.read_bytes()
        line_count = data.count(b"\n") + 1
        for problem in file_problems(data, known_names=set()):
            assert problem.code in STABLE_CODES, (path, problem)
            assert problem.severity in {ERROR, WARNING}
            assert 1 <= problem.line <= line_count, (path, problem)
            assert problem.column >= 1, (path, problem)
            assert problem.message
            seen.add(problem.code)
    assert {"section-missing", "tool-unknown", "frontmatter-missing"} <= seen


def test_intrinsic_problems_do_not_depend_on_other_agents():
    text = agent_text(delegate_to="- **ghost-agent** — y\n")

    assert intrinsic_problems(AgentDocument(text)) == []


# --- Bytes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "line", "column"),
    [
        pytest.param(b"---\nname: caf\xe9\n---\n", "not-utf8", 2, 10, id="latin-1"),
        pytest.param(b"\xff\xfe-\x00-\x00-\x00", "not-utf8", 1, 1, id="utf-16-bom"),
        pytest.param("---\nname: x\n".encode("utf-16-le"), "not-utf8", 1, 1, id="utf-16-no-bom"),
        pytest.param(b"---\nname: x\x00\n---\n", "nul-byte", 2, 8, id="nul"),
        pytest.param(b"x" * 300 * 1024, "too-large", 1, 1, id="too-large"),
    ],
)
def test_bytes_that_are_not_text_are_a_located_problem_not_an_exception(data, code, line, column):
    problems = file_problems(data, known_names=set())

    assert [(p.code, p.severity, p.line, p.column) for p in problems] == [
        (code, ERROR, line, column)
    ]
    assert problems[0].where == "file"


def test_size_limit_of_a_file_is_configurable():
    text = agent_text().encode()

    assert [p.code for p in file_problems(text, KNOWN, max_bytes=100)] == ["too-large"]
    assert file_problems(text, KNOWN, max_bytes=len(text)) == []


def test_utf8_bom_and_crlf_are_fine():
    data = b"\xef\xbb\xbf" + agent_text().replace("\n", "\r\n").encode()

    assert file_problems(data, KNOWN) == []


def test_crlf_file_reports_the_same_lines_as_lf():
    text = agent_text(name="Bad Name", delegate_to="- ghost — x\n")
    lf = [(p.code, p.line, p.column) for p in file_problems(text.encode(), KNOWN)]
    crlf = [
        (p.code, p.line, p.column)
        for p in file_problems(text.replace("\n", "\r\n").encode(), KNOWN)
    ]

    assert lf == crlf
    assert len(lf) == 2


# --- Today's Claude Code fields, and the agents tools may start ---------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "maxTurns: 12",
        "memory: project",
        "background: true",
        "effort: xhigh",
        "isolation: worktree",
        "initialPrompt: Start by reading the README.",
        "permissionMode: auto",
        "permissionMode: manual",
    ],
)
def test_current_claude_code_fields_are_known(line):
    assert codes_of(agent_text(extra=line + "\n")) == []


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("maxTurns: 0", "a whole number of turns"),
        ("maxTurns: many", "a whole number of turns"),
        ("background: sometimes", "true or false"),
        ("memory: [user]", "one of user, project, local"),
        ("effort: extreme", "one of low, medium, high, xhigh, max"),
        ("isolation: container", "one of worktree"),
        ("initialPrompt: {a: 1}", "text"),
    ],
)
def test_a_value_claude_code_cannot_read_is_a_located_warning(line, fragment):
    problem = only(problems_of(agent_text(extra=line + "\n")), "value-unknown")

    assert problem.severity == WARNING
    assert problem.line == 4
    assert fragment in problem.message


def test_agents_named_in_tools_are_delegations_from_the_tools_key():
    text = agent_text(extra="tools: Read, Agent(other-agent, Explore), Task(ghost)\n")
    document = AgentDocument(text)

    found = [(d.name, d.line, d.source) for d in delegations(document)]
    problem = only(problems_of(text), "delegate-unknown")

    assert ("other-agent", 4, "tools") in found
    assert ("ghost", 4, "tools") in found
    assert "Explore" not in [name for name, _, _ in found]  # Claude Code's own
    assert (problem.line, problem.column) == (4, text.splitlines()[3].index("ghost") + 1)
    assert problem.message == "may start 'ghost' (in tools), which is not a known agent"
    assert problem.where == "frontmatter.tools"
    assert "tool-unknown" not in codes_of(text)


def test_agents_in_a_tools_list_are_found_on_their_own_lines():
    text = agent_text(extra="tools:\n  - Read\n  - Agent(other-agent)\n")

    found = [(d.name, d.line, d.column) for d in delegations(AgentDocument(text))]

    assert ("other-agent", 6, 11) in found
    assert codes_of(text) == []


def test_a_delegate_to_section_without_names_is_unreadable_even_with_agents_in_tools():
    text = agent_text(extra="tools: Agent(other-agent)\n", delegate_to="Ask around.\n")

    assert "delegate-unreadable" in codes_of(text)
