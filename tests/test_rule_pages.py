"""Every problem the registry reports has a rule page: what it checks, why, a file that breaks
it and one that keeps it; every problem a page shows links there, and the linter explains it."""

import pytest

from registry.agentfiles import fixes, rules, validation
from registry.agentfiles.document import (
    DEFAULT_MAX_BYTES,
    MAX_FRONTMATTER_BYTES,
    AgentDocument,
    DocumentError,
)
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import CORPUS, agent_text, file_problems, run, tree

pytestmark = pytest.mark.django_db

KNOWN = {"other-agent"}


def described_bytes(code: str) -> bytes:
    """The bytes a rule's example described in words stands for (a file that is no text)."""
    good = rules.rule(code).good
    if code == "too-large":
        return (good + "\n" + "log line\n" * 40_000).encode()  # over 256 KiB
    if code == "not-utf8":
        return good.encode("cp1252")
    if code == "nul-byte":
        return good.replace("HTTP API", "HTTP\x00API", 1).encode()
    if code == "body-too-long":
        return (good + "\n" + "Reference line.\n" * 2000).encode()  # over 30,000 characters
    if code == "yaml-too-large":
        long = "x" * (MAX_FRONTMATTER_BYTES + 6000)
        return good.replace("description: Reviews", f"description: {long} Reviews", 1).encode()
    raise KeyError(code)


def problems_of(data: bytes, code: str, target: str = "claude-code"):
    document = None
    try:
        document = AgentDocument.parse(data, max_bytes=DEFAULT_MAX_BYTES)
    except DocumentError as error:
        return [validation.problem_from_error(error)]
    name = validation.agent_name(document)
    # name-duplicate needs another agent with the name; delegate-unknown, the agents known.
    taken = ["API-Reviewer"] if code == "name-duplicate" else []
    known = KNOWN | ({name} if name else set())
    return validation.validate(document, known, taken_names=taken, target=target)


@pytest.mark.parametrize("rule", rules.RULES.values(), ids=lambda rule: rule.code)
def test_each_rules_bad_example_breaks_it_and_its_good_one_is_clean(rule):
    bad = described_bytes(rule.code) if rule.bad.startswith("(") else rule.bad.encode()

    target = rule.targets[0]
    broken = [p for p in problems_of(bad, rule.code, target) if p.code == rule.code]
    kept = problems_of(rule.good.encode(), rule.code, target)

    assert broken, f"{rule.code}: the bad example does not break it"
    assert {p.severity for p in broken} == {rule.severity}
    assert kept == []


def test_every_code_the_corpus_shows_has_a_rule():
    found = set()
    for data in tree(CORPUS).values():
        found |= {problem.code for problem in file_problems(data, set())}

    assert found
    assert found <= set(rules.RULES), found - set(rules.RULES)


@pytest.mark.parametrize("rule", rules.RULES.values(), ids=lambda rule: rule.code)
def test_each_rule_is_described_whole(rule):
    assert rule.severity in ("error", "warning")
    assert rule.group in dict(rules.groups())
    for part in (rule.title, rule.checks, rule.why, rule.bad, rule.good):
        assert part.strip()
    assert rule.bad != rule.good


def test_the_rules_page_lists_every_rule_by_group(reader):
    page = reader.get("/rules/").text

    for group, listed in rules.groups():
        assert f">{group}</h2>" in page
        for rule in listed:
            assert f'href="/rules/{rule.code}/"' in page


def test_a_rule_page_shows_what_it_checks_why_and_both_examples(reader):
    rule = rules.rule("section-missing")

    page = reader.get("/rules/section-missing/").text

    assert rule.title in page
    assert "Breaks the rule" in page and "Keeps it" in page
    assert "Focus Areas" in page


def test_a_rule_page_says_whether_the_editor_can_fix_it(reader):
    fixable = reader.get("/rules/section-missing/").text
    not_fixable = reader.get("/rules/delegate-unknown/").text

    assert "The editor can fix this" in fixable
    assert rules.rule("section-missing").fix in fixable
    assert "lint_agents --fix" in fixable
    assert "The editor can fix this" not in not_fixable
    assert "No fix is certain for this problem" in not_fixable


@pytest.mark.parametrize(
    "rule", [rule for rule in rules.RULES.values() if rule.fix], ids=lambda rule: rule.code
)
def test_each_rule_with_a_fix_mends_its_bad_example_like_its_good_one(rule):
    fixed, made = fixes.fix_all(AgentDocument(rule.bad))

    good = AgentDocument(rule.good)
    assert [fix.code for fix in made] == [rule.code]
    assert rule.code not in {problem.code for problem in validation.validate(fixed, KNOWN)}
    # The same frontmatter and headings as the good example (a section added is a skeleton).
    assert fixed.frontmatter == good.frontmatter
    assert [section.title for section in fixed.sections] == [s.title for s in good.sections]


def test_an_unknown_code_has_no_page(reader):
    assert reader.get("/rules/no-such-rule/").status_code == 404


def test_a_rule_page_counts_and_links_the_agents_with_that_problem(reader):
    report = import_files([IncomingFile("agents/a.md", agent_text(focus="").encode())])
    assert report.stored

    page = reader.get("/rules/section-empty/").text

    assert "1 agent in the registry has this problem" in page
    assert 'href="/agents/?problem=section-empty"' in page


def test_each_problem_an_agent_page_shows_links_to_its_rule(reader):
    import_files(
        [IncomingFile("agents/agent-one.md", agent_text(delegate_to="- **ghost**\n").encode())]
    )

    page = reader.get("/agents/agent-one/").text

    assert 'href="/rules/delegate-unknown/"' in page


def test_the_linter_explains_a_code():
    code, out, _ = run("lint_agents", "--explain", "section-missing")

    assert code == 0
    rule = rules.rule("section-missing")
    assert out.startswith(f"section-missing ({rule.severity}): {rule.title}")
    assert "Breaks the rule:" in out and "Keeps it:" in out


def test_the_linter_names_the_codes_when_asked_for_an_unknown_one():
    code, _, err = run("lint_agents", "--explain", "no-such-rule")

    assert code == 2
    assert "no rule has the code 'no-such-rule'" in err
    assert "section-missing" in err


def test_the_linter_without_paths_says_what_it_needs():
    code, _, err = run("lint_agents")

    assert code == 2
    assert "name the agent files or folders to check" in err


def test_invisible_characters_in_an_example_are_shown_as_markers(reader):
    page = reader.get("/rules/hidden-character/").text

    assert "U+200B" in page
    assert "\u200b" not in page
