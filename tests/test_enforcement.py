"""A change is refused only for the errors it introduces; errors its base had are already there."""

from registry.agentfiles.document import AgentDocument
from registry.agentfiles.validation import against_base, validate
from tests.helpers import agent_text

KNOWN = {"agent-one", "other-agent"}


def problems(text: str):
    return validate(AgentDocument(text), KNOWN)


def codes(found) -> list[str]:
    return sorted(problem.code for problem in found)


def test_errors_the_base_had_are_already_there_even_when_lines_move():
    base = agent_text(focus="", boundaries="")  # two empty required sections
    changed = agent_text(description="Reworded.\n# with a comment line", focus="", boundaries="")

    result = against_base(problems(changed), problems(base))

    assert codes(result.introduced) == []
    assert codes(result.already_there) == ["section-empty", "section-empty"]
    assert result.fixed == []


def test_a_new_error_is_introduced_and_a_fixed_one_is_counted():
    base = agent_text(focus="")
    changed = agent_text(name="Agent One")

    result = against_base(problems(changed), problems(base))

    assert codes(result.introduced) == ["name-invalid"]
    assert codes(result.fixed) == ["section-empty"]


def test_a_different_unknown_delegate_is_a_new_error():
    base = agent_text(delegate_to="- **ghost** — x\n")
    changed = agent_text(delegate_to="- **phantom** — x\n")

    result = against_base(problems(changed), problems(base))

    assert [problem.message for problem in result.introduced] == [
        "delegates to 'phantom', which is not a known agent"
    ]
    assert codes(result.fixed) == ["delegate-unknown"]


def test_hidden_text_is_never_already_there():
    base = agent_text(focus="- One\u200bthing\n")

    result = against_base(problems(base), problems(base))

    assert codes(result.introduced) == ["hidden-character"]
