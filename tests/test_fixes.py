"""The certain fixes: each one mends its problem by changing only the lines concerned."""

import difflib

import pytest

from registry.agentfiles import fixes, rules
from registry.agentfiles.document import AgentDocument
from registry.agentfiles.validation import intrinsic_problems

GOOD = """---
name: api-reviewer
description: Reviews HTTP API designs. Use it before a new endpoint is merged.
tools: Read, Grep
---

# API Reviewer

You review HTTP API designs.

## Focus Areas
- Resource names, status codes and error shapes

## Boundaries
**Will:**
- Review request and response shapes

**Will Not:**
- Write the implementation

## Delegate To
- **other-agent** — for work outside API design
"""


def codes(document: AgentDocument) -> set[str]:
    return {problem.code for problem in intrinsic_problems(document)}


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """(removed, added) lines between two texts, endings kept."""
    removed, added = [], []
    matcher = difflib.SequenceMatcher(None, old.splitlines(True), new.splitlines(True))
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old.splitlines(True)[i1:i2]
            added += new.splitlines(True)[j1:j2]
    return removed, added


def only_fix(text: str, code: str) -> fixes.Fix:
    document = AgentDocument.parse(text.encode("utf-8"))
    found = fixes.available(document, intrinsic_problems(document))
    assert list(found) == [code], found
    assert len(found[code]) == 1
    return found[code][0]


def without_section(text: str, title: str) -> str:
    document = AgentDocument(text)
    return document.without_section(document.find_section(title)).text


BROKEN = {
    "section-missing": (
        without_section(GOOD, "Focus Areas"),
        [],
        ["## Focus Areas\n", "- **Area**: what this agent knows and does\n", "\n"],
    ),
    "yaml-syntax": (
        GOOD.replace("Use it before", "Use it when: before"),
        ["description: Reviews HTTP API designs. Use it when: before a new endpoint is merged.\n"],
        [
            'description: "Reviews HTTP API designs. Use it when: before a new endpoint is '
            'merged."\n'
        ],
    ),
    "key-unknown": (
        GOOD.replace("tools: Read", "allowedTools: Read"),
        ["allowedTools: Read, Grep\n"],
        ["tools: Read, Grep\n"],
    ),
    "name-invalid": (
        GOOD.replace("name: api-reviewer", "name: API-Reviewer"),
        ["name: API-Reviewer\n"],
        ["name: api-reviewer\n"],
    ),
}


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_fix_mends_its_problem_changing_only_its_lines(code):
    broken, removed, added = BROKEN[code]
    assert code in codes(AgentDocument(broken))
    fix = only_fix(broken, code)
    assert code not in codes(fix.document)
    assert changed_lines(broken, fix.text) == (removed, added)
    assert fix.action == f"fix:{code}:{fix.where}"
    assert fixes.apply(broken, code, fix.where) == fix.text


@pytest.mark.parametrize("code", sorted(BROKEN))
def test_each_fix_keeps_crlf_line_endings_and_the_bom(code):
    broken, removed, added = BROKEN[code]
    crlf = "\ufeff" + broken.replace("\n", "\r\n")
    fix = only_fix(crlf, code)
    assert fix.text.startswith("\ufeff---\r\n")
    assert fix.document.to_bytes() == fix.text.encode("utf-8")
    assert "\n" not in fix.text.replace("\r\n", "")
    as_crlf = (
        [line.replace("\n", "\r\n") for line in removed],
        [line.replace("\n", "\r\n") for line in added],
    )
    assert changed_lines(crlf, fix.text) == as_crlf


def test_a_file_without_these_problems_has_no_fix_and_fix_all_leaves_it_byte_for_byte():
    document = AgentDocument(GOOD)
    assert fixes.available(document, intrinsic_problems(document)) == {}
    fixed, made = fixes.fix_all(document)
    assert made == []
    assert fixed.to_bytes() == GOOD.encode("utf-8")


def test_every_fix_is_named_in_the_rule_catalog_and_only_those():
    assert {code for code, rule in rules.RULES.items() if rule.fix} == set(fixes.FIXERS)


def test_misspelled_keys_that_can_only_mean_one_key_are_renamed_others_are_not():
    assert fixes.renamed_key("allowedTools") == "tools"
    assert fixes.renamed_key("Tools") == "tools"
    assert fixes.renamed_key("permission_mode") == "permissionMode"
    assert fixes.renamed_key("max-turns") == "maxTurns"
    assert fixes.renamed_key("temperature") is None
    assert fixes.renamed_key("tools") is None
    text = GOOD.replace("tools: Read, Grep", "temperature: 0.2\npermission_mode: plan")
    fix = only_fix(text, "key-unknown")
    assert fix.change == "rename the key 'permission_mode' to 'permissionMode'"


def test_a_misspelled_key_is_not_renamed_onto_a_key_the_file_has():
    text = GOOD.replace("tools: Read, Grep", "tools: Read\nallowedTools: Grep")
    document = AgentDocument(text)
    assert "key-unknown" in codes(document)
    assert fixes.available(document, intrinsic_problems(document)) == {}


def test_a_quoted_misspelled_key_keeps_its_quotes():
    text = GOOD.replace("tools: Read, Grep", '"Tools": [Read, Grep]')
    fix = only_fix(text, "key-unknown")
    removed, added = changed_lines(text, fix.text)
    assert (removed, added) == (['"Tools": [Read, Grep]\n'], ['"tools": [Read, Grep]\n'])


def test_a_description_over_several_lines_or_with_a_comment_is_not_quoted():
    for broken in (
        GOOD.replace("Use it before", "Use it when: before").replace(
            "merged.\n", "merged.\n  and more text\n", 1
        ),
        GOOD.replace("Use it before", "Use it when: before").replace("merged.", "merged. # x"),
    ):
        document = AgentDocument(broken)
        assert "yaml-syntax" in codes(document)
        assert fixes.available(document, intrinsic_problems(document)) == {}


def test_a_colon_in_another_key_is_not_fixed_by_quoting_the_description():
    broken = GOOD.replace("tools: Read, Grep", "initialPrompt: Start with: the spec")
    document = AgentDocument(broken)
    assert "yaml-syntax" in codes(document)
    assert fixes.available(document, intrinsic_problems(document)) == {}


def test_a_name_longer_than_allowed_is_not_shortened():
    broken = GOOD.replace("name: api-reviewer", "name: " + "A" * 70)
    document = AgentDocument(broken)
    assert "name-invalid" in codes(document)
    assert fixes.available(document, intrinsic_problems(document)) == {}


def test_a_quoted_name_stays_quoted():
    broken = GOOD.replace("name: api-reviewer", 'name: "API Reviewer"')
    fix = only_fix(broken, "name-invalid")
    removed, added = changed_lines(broken, fix.text)
    assert (removed, added) == (['name: "API Reviewer"\n'], ['name: "api-reviewer"\n'])


def test_fix_all_makes_every_fix_in_turn_quoting_first_so_the_rest_can_be_read():
    broken = (
        GOOD.replace("Use it before", "Use it when: before")
        .replace("name: api-reviewer", "name: API Reviewer")
        .replace("tools: Read", "allowedTools: Read")
    )
    broken = without_section(without_section(broken, "Boundaries"), "Delegate To")
    fixed, made = fixes.fix_all(AgentDocument(broken))
    assert [fix.code for fix in made] == [
        "yaml-syntax",
        "name-invalid",
        "key-unknown",
        "section-missing",
        "section-missing",
    ]
    assert not codes(fixed) - {"delegate-unreadable"}  # Delegate To waits for its agents
    removed, added = changed_lines(broken, fixed.text)
    assert removed == [
        "name: API Reviewer\n",
        "description: Reviews HTTP API designs. Use it when: before a new endpoint is merged.\n",
        "allowedTools: Read, Grep\n",
    ]
    assert "## Boundaries\n" in added and "## Delegate To\n" in added
    assert fixed.text.index("## Boundaries") < fixed.text.index("## Delegate To")


def test_a_missing_section_goes_in_its_place_among_the_required_ones():
    broken = without_section(GOOD, "Boundaries")
    fix = only_fix(broken, "section-missing")
    text = fix.text
    assert text.index("## Focus Areas") < text.index("## Boundaries") < text.index("## Delegate To")
    assert "**Will:**" in text and "**Will Not:**" in text


def test_a_fix_that_no_longer_applies_is_refused():
    with pytest.raises(ValueError):
        fixes.apply(GOOD, "section-missing", "section:Focus Areas")
    with pytest.raises(ValueError):
        fixes.apply(GOOD, "delegate-unknown", "section:Delegate To")


def test_a_key_is_renamed_to_claude_codes_only_in_the_files_claude_code_reads():
    text = GOOD.replace("tools: Read", "allowedTools: Read")
    document = AgentDocument(text)

    for target in ("copilot", "opencode"):
        problems = intrinsic_problems(document, target=target)
        assert "key-unknown" in [p.code for p in problems]
        assert fixes.available(document, problems, target=target) == {}
        assert fixes.fix_all(document, target=target)[1] == []
    fixed, made = fixes.fix_all(document, target="claude-code")
    assert [fix.code for fix in made] == ["key-unknown"]
