"""Tests for the three-way merge of agent files by frontmatter key and section."""

from __future__ import annotations

import difflib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.agentfiles.document import AgentDocument, normalize_newlines
from registry.agentfiles.merge import MergeResult, merge
from tests.helpers import EXAMPLE

BASE = EXAMPLE.read_text(encoding="utf-8")
DESCRIPTION = "Focus on data integrity"
WILL_NOT = "- Design visual interfaces or client-side interactions"


def edited(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1
    return text.replace(old, new)


def changes(old: str, new: str) -> list[str]:
    """The removed and added lines from old to new, as difflib sees them."""
    diff = difflib.unified_diff(old.splitlines(True), new.splitlines(True), n=0)
    return [line for line in list(diff)[2:] if not line.startswith("@@")]


def section_titles(text: str) -> list[str]:
    return [section.title for section in AgentDocument(text).sections]


def section_index(text: str, title: str) -> int:
    return section_titles(text).index(title)


def without_section(text: str, title: str) -> str:
    return AgentDocument(text).without_section(section_index(text, title)).text


def merged_text(base: str, ours: str, theirs: str) -> str:
    result = merge(base, ours, theirs)
    assert result.conflicts == []
    assert result.text is not None
    return result.text


# --- Merging disjoint changes ---------------------------------------------------------------


def test_disjoint_edits_merge_with_both_changes_and_nothing_else():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    theirs = edited(BASE, WILL_NOT, "- Design pixel-perfect mockups")

    merged = merged_text(BASE, ours, theirs)

    assert "Focus on correctness" in merged
    assert "- Design pixel-perfect mockups" in merged
    assert changes(theirs, merged) == changes(BASE, ours)
    assert changes(ours, merged) == changes(BASE, theirs)


def test_identical_changes_on_both_sides_merge_without_conflict():
    changed = edited(BASE, DESCRIPTION, "Focus on correctness")
    changed = edited(changed, WILL_NOT, "- Design pixel-perfect mockups")

    assert merge(BASE, changed, changed) == MergeResult(changed, [])


def test_the_same_unit_changed_identically_beside_other_changes_merges():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    ours = edited(ours, "category: engineering", "category: backend")
    theirs = edited(BASE, DESCRIPTION, "Focus on correctness")

    assert merged_text(BASE, ours, theirs) == ours


def test_section_added_on_one_side_and_key_changed_on_the_other_merge():
    ours = AgentDocument(BASE).with_section_added("Examples", "- Design a payments API\n").text
    theirs = edited(BASE, "category: engineering", "category: backend")

    merged = merged_text(BASE, ours, theirs)

    assert section_titles(merged)[-1] == "Examples"
    assert "category: backend" in merged
    assert changes(theirs, merged) == changes(BASE, ours)
    assert changes(ours, merged) == changes(BASE, theirs)


def test_new_section_goes_after_the_section_it_follows_in_ours():
    document = AgentDocument(BASE)
    boundaries = document.find_section("Boundaries")
    ours = document.with_section_added("Examples", "- A payments API\n", before=boundaries).text
    theirs = edited(BASE, "- **Implementation Guides**", "- **Runbooks**")

    merged = merged_text(BASE, ours, theirs)

    titles = section_titles(merged)
    assert titles[titles.index("Outputs") + 1] == "Examples"
    assert "- **Runbooks**" in merged
    assert changes(theirs, merged) == changes(BASE, ours)


def test_sections_added_on_both_sides_are_both_kept():
    ours = AgentDocument(BASE).with_section_added("Examples", "- A payments API\n").text
    theirs = AgentDocument(BASE).with_section_added("Anti-patterns", "- God services\n").text

    merged = merged_text(BASE, ours, theirs)

    assert section_titles(merged)[-3:] == ["Delegate To", "Examples", "Anti-patterns"]
    assert merged.endswith("- God services\n")


def test_section_removed_on_one_side_and_unchanged_on_the_other_is_removed():
    ours = without_section(BASE, "Outputs")
    theirs = edited(BASE, DESCRIPTION, "Focus on correctness")

    merged = merged_text(BASE, ours, theirs)

    assert "Outputs" not in section_titles(merged)
    assert changes(theirs, merged) == changes(BASE, ours)
    assert changes(ours, merged) == changes(BASE, theirs)


def test_removing_the_last_section_leaves_the_file_ending_as_the_live_text_did():
    ours = without_section(BASE, "Delegate To")
    theirs = edited(BASE, DESCRIPTION, "Focus on correctness")

    merged = merged_text(BASE, ours, theirs)

    assert merged.endswith("- Design visual interfaces or client-side interactions\n")


def test_keys_added_on_both_sides_are_both_kept():
    ours = AgentDocument(BASE).with_frontmatter_value("model", "sonnet").text
    theirs = AgentDocument(BASE).with_frontmatter_value("color", "blue").text

    merged = AgentDocument(merged_text(BASE, ours, theirs))

    assert list(merged.frontmatter) == [
        "name",
        "description",
        "skills",
        "category",
        "model",
        "color",
    ]


def test_key_lines_are_taken_exactly_as_the_change_wrote_them():
    ours = edited(BASE, "  - coding-standards\n", "  - coding-standards  # house style\n")
    theirs = edited(BASE, WILL_NOT, "- Design pixel-perfect mockups")

    merged = merged_text(BASE, ours, theirs)

    assert "  - coding-standards  # house style\n" in merged


def test_comment_added_to_the_frontmatter_on_one_side_is_kept():
    comment = "# Reviewed by the platform team\n"
    ours = edited(BASE, "category: engineering\n", f"{comment}category: engineering\n")
    theirs = edited(BASE, DESCRIPTION, "Focus on correctness")

    merged = merged_text(BASE, ours, theirs)

    assert f"{comment}category: engineering\n" in merged
    assert "Focus on correctness" in merged


def test_frontmatter_removed_on_one_side_and_unchanged_on_the_other_is_removed():
    ours = edited(BASE, WILL_NOT, "- Write CSS")
    theirs = AgentDocument(BASE).body

    merged = merged_text(BASE, ours, theirs)

    assert merged == edited(theirs, WILL_NOT, "- Write CSS")


def test_frontmatter_removed_on_one_side_while_a_key_was_added_on_the_other_conflicts():
    ours = AgentDocument(BASE).with_frontmatter_value("model", "sonnet").text
    theirs = AgentDocument(BASE).body

    assert merge(BASE, ours, theirs) == MergeResult(None, ["the frontmatter layout"])


def test_order_changed_on_one_side_only_is_kept():
    document = AgentDocument(BASE)
    order = list(range(len(document.sections)))
    order[2], order[3] = order[3], order[2]
    ours = document.with_sections_in_order(order).text
    theirs = edited(BASE, DESCRIPTION, "Focus on correctness")

    merged = merged_text(BASE, ours, theirs)

    assert section_titles(merged) == section_titles(ours)
    assert "Focus on correctness" in merged


def test_order_changed_differently_on_both_sides_keeps_the_live_order():
    document = AgentDocument(BASE)
    ours = document.with_sections_in_order([1, 0, 2, 3, 4, 5]).text
    theirs = document.with_sections_in_order([0, 1, 2, 3, 5, 4]).text

    merged = merged_text(BASE, ours, theirs)

    assert merged == theirs


# --- Conflicts ------------------------------------------------------------------------------


def test_same_key_changed_differently_conflicts_naming_the_key():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    theirs = edited(BASE, DESCRIPTION, "Focus on speed")

    assert merge(BASE, ours, theirs) == MergeResult(None, ["frontmatter key 'description'"])


def test_same_section_changed_differently_conflicts_naming_the_section():
    ours = edited(BASE, WILL_NOT, "- Design pixel-perfect mockups")
    theirs = edited(BASE, WILL_NOT, "- Write CSS")

    assert merge(BASE, ours, theirs) == MergeResult(None, ["section 'Boundaries'"])


def test_every_conflicting_part_is_named():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    ours = edited(ours, "# Backend Architect", "# Backend Architect (v2)")
    ours = edited(ours, WILL_NOT, "- Design pixel-perfect mockups")
    theirs = edited(BASE, DESCRIPTION, "Focus on speed")
    theirs = edited(theirs, "# Backend Architect", "# The Backend Architect")
    theirs = edited(theirs, WILL_NOT, "- Write CSS")

    assert merge(BASE, ours, theirs).conflicts == [
        "frontmatter key 'description'",
        "the preamble",
        "section 'Boundaries'",
    ]


def test_section_removed_on_one_side_and_changed_on_the_other_conflicts():
    ours = without_section(BASE, "Boundaries")
    theirs = edited(BASE, WILL_NOT, "- Write CSS")

    assert merge(BASE, ours, theirs) == MergeResult(None, ["section 'Boundaries'"])


def test_key_removed_on_one_side_and_changed_on_the_other_conflicts():
    ours = AgentDocument(BASE).without_frontmatter_key("category").text
    theirs = edited(BASE, "category: engineering", "category: backend")

    assert merge(BASE, ours, theirs) == MergeResult(None, ["frontmatter key 'category'"])


def test_same_section_added_differently_on_both_sides_conflicts():
    ours = AgentDocument(BASE).with_section_added("Examples", "- A payments API\n").text
    theirs = AgentDocument(BASE).with_section_added("Examples", "- A search API\n").text

    assert merge(BASE, ours, theirs) == MergeResult(None, ["section 'Examples'"])


def test_different_comments_in_the_frontmatter_conflict_as_its_layout():
    ours = edited(BASE, "category: engineering\n", "# Owned by platform\ncategory: engineering\n")
    theirs = edited(BASE, "category: engineering\n", "# Owned by search\ncategory: engineering\n")

    assert merge(BASE, ours, theirs) == MergeResult(None, ["the frontmatter layout"])


def test_parts_that_read_differently_together_conflict():
    # Our new section ends in an open code fence, harmless at the end of our text; placed
    # before their new section it would swallow that section's heading.
    ours = AgentDocument(BASE).with_section_added("Examples", "```python\nprint(1)\n").text
    theirs = AgentDocument(BASE).with_section_added("Anti-patterns", "- God services\n").text

    result = merge(BASE, ours, theirs)

    assert result.text is None
    assert result.conflicts == [
        "the merged text (the merged parts do not read back as the same parts)"
    ]


# --- Frontmatter that does not parse, duplicate headings ------------------------------------

BROKEN = "description: Design: reliable systems\n"


def test_frontmatter_that_does_not_parse_conflicts_when_both_sides_changed_it():
    description_line = BASE.splitlines(True)[2]
    ours = edited(BASE, description_line, BROKEN)
    theirs = edited(BASE, DESCRIPTION, "Focus on speed")

    assert merge(BASE, ours, theirs) == MergeResult(None, ["the frontmatter (not valid YAML)"])


def test_frontmatter_that_does_not_parse_is_merged_whole_beside_section_changes():
    description_line = BASE.splitlines(True)[2]
    ours = edited(BASE, description_line, BROKEN)
    theirs = edited(BASE, WILL_NOT, "- Write CSS")

    merged = merged_text(BASE, ours, theirs)

    assert AgentDocument(merged).frontmatter_error is not None
    assert changes(theirs, merged) == changes(BASE, ours)
    assert changes(ours, merged) == changes(BASE, theirs)


def test_frontmatter_that_does_not_parse_is_taken_from_the_only_side_that_changed():
    description_line = BASE.splitlines(True)[2]
    ours = edited(BASE, description_line, BROKEN)

    assert merge(BASE, ours, BASE) == MergeResult(ours, [])
    assert merge(BASE, BASE, ours) == MergeResult(ours, [])


DUPLICATED = BASE + "\n## Notes\n- one\n\n## Notes\n- two\n"


def test_duplicate_headings_merge_when_only_one_side_changed_the_body():
    ours = edited(DUPLICATED, DESCRIPTION, "Focus on correctness")
    theirs = edited(DUPLICATED, "- two", "- three")

    merged = merged_text(DUPLICATED, ours, theirs)

    assert changes(theirs, merged) == changes(DUPLICATED, ours)
    assert changes(ours, merged) == changes(DUPLICATED, theirs)


def test_duplicate_headings_conflict_when_both_sides_changed_the_body():
    ours = edited(DUPLICATED, WILL_NOT, "- Write CSS")
    theirs = edited(DUPLICATED, "- two", "- three")

    assert merge(DUPLICATED, ours, theirs) == MergeResult(
        None, ["section 'Notes' (the heading appears more than once)"]
    )


# --- Line endings, BOM, exactness -------------------------------------------------------------


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def test_crlf_live_text_keeps_crlf_for_our_lines_too():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    ours = AgentDocument(ours).with_section_added("Examples", "- A payments API\n").text
    theirs = crlf(edited(BASE, WILL_NOT, "- Write CSS"))

    merged = merged_text(BASE, ours, theirs)

    assert "\n" not in merged.replace("\r\n", "")
    assert changes(theirs, merged) == changes(crlf(BASE), crlf(ours))


def test_lf_live_text_keeps_lf_when_the_change_came_as_crlf():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    theirs = edited(BASE, WILL_NOT, "- Write CSS")

    merged = merged_text(BASE, crlf(ours), theirs)

    assert "\r" not in merged
    assert changes(theirs, merged) == changes(BASE, ours)


def test_bom_of_the_live_text_is_kept():
    ours = edited(BASE, DESCRIPTION, "Focus on correctness")
    theirs = "\ufeff" + edited(BASE, WILL_NOT, "- Write CSS")

    merged = merged_text(BASE, ours, theirs)

    assert merged.startswith("\ufeff---\n")
    assert merged.count("\ufeff") == 1


def test_live_text_without_bom_stays_without():
    ours = "\ufeff" + edited(BASE, DESCRIPTION, "Focus on correctness")
    theirs = edited(BASE, WILL_NOT, "- Write CSS")

    assert "\ufeff" not in merged_text(BASE, ours, theirs)


def test_a_side_that_changed_nothing_gives_the_other_side_byte_for_byte():
    other = "\ufeff" + crlf(edited(BASE, DESCRIPTION, "Focus on correctness"))

    assert merge(BASE, BASE, other) == MergeResult(other, [])
    assert merge(BASE, other, BASE) == MergeResult(other, [])


# --- Any disjoint edits ---------------------------------------------------------------------

KEYS = ("name", "description", "skills", "category")
SECTIONS = tuple(section_titles(BASE))
UNITS = ("layout", "preamble", *(f"key {key}" for key in KEYS), *SECTIONS)
WORDS = st.text("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,", max_size=20).map(
    lambda tail: "Edited " + tail
)


@st.composite
def edit_plans(draw) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """For each side, unit -> (what to do, text); no unit is edited by both sides."""
    plans: dict[str, dict[str, tuple[str, str]]] = {"ours": {}, "theirs": {}}
    for unit in UNITS:
        owner = draw(st.sampled_from(["nobody", "ours", "theirs"]))
        if owner != "nobody":
            # Without a single key a frontmatter is not valid YAML; keep `name`.
            removable = unit not in {"layout", "preamble", "key name"}
            action = draw(st.sampled_from(["change", "remove"] if removable else ["change"]))
            plans[owner][unit] = (action, draw(WORDS))
    for side in ("ours", "theirs"):
        if draw(st.booleans()):
            plans[side][f"key {side}-extra"] = ("add", draw(WORDS))
        if draw(st.booleans()):
            before = draw(st.sampled_from([None, *SECTIONS]))
            plans[side][f"{side.title()} Extra"] = ("add", before or "")
    return plans["ours"], plans["theirs"]


def applied(text: str, plan: dict[str, tuple[str, str]], newline: str) -> str:
    document = AgentDocument(text)
    for unit, (action, words) in plan.items():
        if unit == "layout":
            lines = document.lines
            document = AgentDocument("".join([lines[0], f"# {words}\n", *lines[1:]]))
        elif unit == "preamble":
            document = document.with_preamble(f"{document.preamble}{words}\n\n")
        elif unit.startswith("key "):
            key = unit.removeprefix("key ")
            if action == "remove":
                document = document.without_frontmatter_key(key)
            else:
                value = [words, "coding-standards"] if key == "skills" else words
                document = document.with_frontmatter_value(key, value)
        elif action == "add":
            before = document.find_section(words) if words else None
            document = document.with_section_added(unit, f"- {unit} body\n", before=before)
        else:
            section = document.find_section(unit)
            if action == "remove":
                document = document.without_section(section)
            else:
                body = document.section_body(section)
                document = document.with_section_body(section, f"{words}\n\n{body}")
    return normalize_newlines(document.text, newline)


def unit_values(text: str) -> dict[str, object]:
    """Each unit's text (newlines normalized, trailing blank lines dropped) by unit name."""
    document = AgentDocument(text)
    values: dict[str, object] = {}
    key_lines = set()
    for key, span in document.key_spans.items():
        lines = document.lines[span.start + 1 : span.end + 1]
        values[f"key {key}"] = normalize_newlines("".join(lines), "\n")
        key_lines.update(range(span.start + 1, span.end + 1))
    values["layout"] = tuple(
        normalize_newlines(line, "\n")
        for index, line in enumerate(document.lines[: document.body_start])
        if index not in key_lines
    )
    values["preamble"] = normalize_newlines(document.preamble, "\n").rstrip()
    for section in document.sections:
        content = normalize_newlines(document.section_text(section), "\n").rstrip()
        values[section.title] = content
    return values


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_plans(), st.sampled_from(["\n", "\r\n"]), st.sampled_from(["\n", "\r\n"]))
def test_edits_to_different_units_always_merge_into_each_sides_units(
    plans, our_newline, their_newline
):
    ours = applied(BASE, plans[0], our_newline)
    theirs = applied(BASE, plans[1], their_newline)

    result = merge(BASE, ours, theirs)

    assert result.conflicts == []
    base_values, our_values, their_values = (unit_values(t) for t in (BASE, ours, theirs))
    merged_values = unit_values(result.text)
    units = {*base_values, *our_values, *their_values}
    ours_changed = {u for u in units if our_values.get(u) != base_values.get(u)}
    theirs_changed = {u for u in units if their_values.get(u) != base_values.get(u)}
    assert not ours_changed & theirs_changed
    for unit in units:
        expected = our_values if unit in ours_changed else their_values
        assert merged_values.get(unit) == expected.get(unit), unit
    if theirs != BASE:  # otherwise the result is ours, in its own line ending
        assert normalize_newlines(result.text, their_newline) == result.text
    assert merge(BASE, BASE, theirs) == MergeResult(theirs, [])
    assert merge(BASE, ours, BASE) == MergeResult(ours, [])
