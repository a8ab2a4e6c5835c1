"""Random input into every checker: an answer for each, never a 500 or an exception."""

import time

import pytest
from django.contrib.auth.models import Group
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.agentfiles.document import DEFAULT_MAX_BYTES
from registry.models import Agent
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text, file_problems
from tests.test_bad_input import STORED_WITH_AN_ERROR, alias_bomb
from tests.test_editor import form_values

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Characters a form or a file may carry: controls, NUL, BOM, line and paragraph separators,
# right-to-left marks, emoji; and everything else Unicode has (never lone surrogates).
ODD_CHARACTERS = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u00a0\u2028\u2029\u200b\u202e\ufeff\U0001f600"
)
odd_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(ODD_CHARACTERS + ":-[]{}&*!|>#'\"\n\r\t ")),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=200,
)
huge_line = st.integers(min_value=1_000, max_value=300_000).map(lambda size: "x" * size)
yaml_values = st.one_of(
    odd_text,
    huge_line,
    st.sampled_from(
        [
            alias_bomb(),
            "&a [*a]",
            "[" * 5000,
            "{" * 5000,
            "!!python/object/apply:os.system ['true']",
            "1.0e+400",
            ".nan",
            "- a\n- b",
            "|\n  block",
            "*undefined",
            "!!binary AAAA",
            "2026-13-45",
        ]
    ),
)
frontmatter = st.dictionaries(
    st.sampled_from(["name", "description", "tools", "model", "color", "category", "x"]),
    yaml_values,
    max_size=5,
).map(lambda fields: "".join(f"{key}: {value}\n" for key, value in fields.items()))
file_texts = st.one_of(
    odd_text,
    st.builds(lambda fm, body: f"---\n{fm}---\n{body}", frontmatter, odd_text),
    st.sampled_from([text for text, *_ in STORED_WITH_AN_ERROR.values()]),
    st.builds(lambda text, cut: text[:cut], st.just(agent_text()), st.integers(0, 400)),
)
file_bytes = st.one_of(
    st.binary(max_size=2000),
    file_texts.map(lambda text: text.encode("utf-8")),
    file_texts.map(lambda text: text.encode("utf-16")),
    st.builds(lambda text, data: text.encode() + data, file_texts, st.binary(max_size=50)),
)


@pytest.fixture
def editor_client(client, django_user_model, db):
    report = import_files([IncomingFile("agents/agent-one.md", agent_text().encode())])
    assert report.stored
    user = django_user_model.objects.create_user(username="edith", password="a-long-password")
    user.groups.add(Group.objects.get(name="Editors"))
    client.force_login(user)
    return client


@pytest.fixture
def edit_url() -> str:
    return "/agents/agent-one/edit/"


@FUZZ
@given(text=file_texts, htmx=st.booleans())
def test_live_validation_of_any_raw_text_answers(editor_client, edit_url, text, htmx):
    response = editor_client.post(
        edit_url,
        {"mode": "raw", "text": text, "action": "check"},
        headers={"HX-Request": "true"} if htmx else {},
    )

    assert response.status_code in {200, 413}


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(
            ["name", "description", "model", "color", "category", "tools", "extra_yaml"]
            + ["preamble", "section-0-title", "section-0-body", "section-2-body", "source"]
        ),
        yaml_values,
        max_size=4,
    ),
    htmx=st.booleans(),
)
def test_live_validation_of_any_field_values_answers(editor_client, edit_url, changes, htmx):
    values = form_values(editor_client.get(edit_url))
    values.update(changes, action="check")

    response = editor_client.post(edit_url, values, headers={"HX-Request": "true"} if htmx else {})

    assert response.status_code in {200, 413}


@FUZZ
@given(data=file_bytes, content_type=st.sampled_from(["text/markdown", "text/plain", ""]))
def test_lint_api_answers_any_body_with_problems(editor_client, data, content_type):
    response = editor_client.post("/api/lint", data, content_type=content_type)

    assert response.status_code in {200, 413}
    body = response.json()
    if response.status_code == 200:
        assert body["valid"] == (body["errors"] == 0)
        assert all(problem["message"] and problem["line"] >= 1 for problem in body["problems"])


@settings(max_examples=100, deadline=None)
@given(data=file_bytes)
def test_any_bytes_give_problems_never_an_exception(data):
    problems = file_problems(data, {"agent-one"}, max_bytes=DEFAULT_MAX_BYTES)

    assert all(
        problem.line >= 1 and problem.column >= 1 and problem.message for problem in problems
    )


# --- Hidden characters and superlinear time, through the ways in --------------------------------

HIDDEN = [
    "\x07", "\x1b", "\x85", "\u00ad", "\u200b", "\u200f", "\u202e", "\u2066", "\u2060",
    "\ufeff", "\U000e0001", "\U000e0069",
]  # fmt: skip


def _with_hidden(character: str, position: float) -> tuple[str, int, int]:
    """A valid agent with character inserted in its body, and the line and column it is at."""
    original = agent_text()
    body = original.index("# agent-one")
    offset = body + int(position * (len(original) - body))
    text = original[:offset] + character + original[offset:]
    before = original[:offset].split("\n")
    return text, len(before), len(before[-1]) + 1


def _located_codes(problems) -> set[tuple[str, int, int]]:
    return {(problem["code"], problem["line"], problem["column"]) for problem in problems}


@FUZZ
@given(character=st.sampled_from(HIDDEN), position=st.floats(0, 1))
def test_a_hidden_character_is_found_by_every_way_in(editor_client, character, position):
    text, line, column = _with_hidden(character, position)
    code = "control-character" if character in "\x07\x1b\x85" else "hidden-character"

    linted = editor_client.post("/api/lint?agent=agent-one", text, content_type="text/markdown")
    checked = editor_client.post(
        "/agents/agent-one/edit/", {"mode": "raw", "text": text, "action": "check"}
    )
    import_files([IncomingFile("agents/fuzzed.md", text.encode())])
    stored = Agent.objects.get(path="agents/fuzzed.md")

    assert (code, line, column) in _located_codes(linted.json()["problems"])
    assert f"<code>{code}</code>" in checked.content.decode()
    assert (code, line, column) in _located_codes(stored.problems)
    assert character not in checked.content.decode().split('id="preview"')[1].split("</div>")[0]


def test_linting_through_the_api_stays_linear(editor_client):
    def lint_items(count: int) -> float:
        body = agent_text(delegate_to="-\n" * count)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            response = editor_client.post("/api/lint", body, content_type="text/markdown")
            best = min(best, time.perf_counter() - started)
            assert response.status_code == 200
        return best

    small, large = lint_items(2_000), lint_items(16_000)

    assert large / small < 16, f"8x the items took {large / small:.1f}x the time"
