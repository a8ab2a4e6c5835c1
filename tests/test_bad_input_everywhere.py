"""Every hostile or broken file, through every way in: the browser editor, the API, import and
the upload page. Each answers with its own error, named and located; never a 500.

The same samples as tests/test_bad_input.py (import and lint from the shell)."""

import json

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from registry.agentfiles.document import AgentDocument
from registry.models import Agent, ChangeRequest, text_hash
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import NOT_TEXT, agent_text
from tests.test_bad_input import REJECTED, STORED_WITH_AN_ERROR

pytestmark = pytest.mark.django_db

EDIT_URL = "/agents/agent-one/edit/"
# What a browser form can carry of the bytes that are not text: a browser sends UTF-8, so
# Latin-1 bytes never arrive as such; UTF-16 arrives as text full of NULs.
FORM_NOT_TEXT = {
    "utf-16": "holds a NUL character",
    "utf-16-no-bom": "holds a NUL character",
    "nul": "holds a NUL character",
}


def user_in(username: str, group: str):
    from django.contrib.auth.models import User

    user = User.objects.create_user(username=username, password="a-long-password")
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def agent() -> Agent:
    report = import_files(
        [
            IncomingFile("agents/agent-one.md", agent_text().encode()),
            IncomingFile("agents/other-agent.md", agent_text("other-agent").encode()),
        ]
    )
    assert report.stored
    return Agent.objects.get(path="agents/agent-one.md")


@pytest.fixture
def editor_client(agent):
    # Failures must come back as answers: the test client would raise them instead.
    client = Client(raise_request_exception=False)
    client.force_login(user_in("edith", "Editors"))
    return client


@pytest.fixture
def maintainer_client(agent):
    client = Client(raise_request_exception=False)
    client.force_login(user_in("mona", "Maintainers"))
    return client


def found_problem(text: str, code: str, exclude: Agent | None):
    """The problem the sample is about, as the registry words it."""
    document = AgentDocument.parse(text.encode(), max_bytes=10**7)
    problems = Agent.objects.problems_of(document, exclude=exclude)
    found = [problem for problem in problems if problem.code == code]
    assert found, f"no {code} among {[problem.code for problem in problems]}"
    return found[0]


def expected_problem(text: str, code: str, exclude: Agent | None) -> tuple[str, str]:
    problem = found_problem(text, code, exclude)
    return problem.code, problem.message


def shows(page: str, code: str, message: str) -> bool:
    return f"<code>{code}</code>" in page and escape(message) in page


# --- The browser editor, raw mode ---------------------------------------------------------


@pytest.mark.parametrize("name", STORED_WITH_AN_ERROR)
@pytest.mark.parametrize("htmx", [False, True])
def test_editor_check_names_the_problem_inline(editor_client, agent, name, htmx):
    text, code, *_ = STORED_WITH_AN_ERROR[name]
    form = {"mode": "raw", "text": text, "action": "check"}

    response = editor_client.post(EDIT_URL, form, headers={"HX-Request": "true"} if htmx else {})

    assert response.status_code == 200
    assert shows(response.content.decode(), *expected_problem(text, code, agent))


@pytest.mark.parametrize("name", STORED_WITH_AN_ERROR)
def test_editor_save_keeps_a_draft_that_shows_the_problem(editor_client, agent, name):
    text, code, *_ = STORED_WITH_AN_ERROR[name]
    form = {"mode": "raw", "text": text, "action": "save"}

    response = editor_client.post(EDIT_URL, form)

    # A draft may have problems (they stop it being submitted); the change page names them.
    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert change.error_count + change.warning_count >= 1
    page = editor_client.get(f"/changes/{change.pk}/").content.decode()
    assert shows(page, *expected_problem(text, code, agent))
    if not found_problem(text, code, agent).is_error:
        return  # a warning does not stop a change (odd-values: an unknown permissionMode)
    submitted = editor_client.post(f"/changes/{change.pk}/submit/", follow=True)
    assert submitted.status_code == 200
    assert "fix them before submitting" in submitted.content.decode()
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.DRAFT


@pytest.mark.parametrize("name", FORM_NOT_TEXT)
@pytest.mark.parametrize("action", ["check", "save"])
def test_editor_refuses_text_that_is_not_text_inline(editor_client, name, action):
    # As a form carries UTF-16 read as if it were one byte a character: its NULs remain.
    text = NOT_TEXT[name][0].decode("latin-1")

    response = editor_client.post(EDIT_URL, {"mode": "raw", "text": text, "action": action})

    assert response.status_code == 200
    assert FORM_NOT_TEXT[name] in response.content.decode()
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize("action", ["check", "save"])
def test_editor_refuses_a_huge_file_with_the_limits(editor_client, action):
    text = NOT_TEXT["five-mb"][0].decode()

    response = editor_client.post(EDIT_URL, {"mode": "raw", "text": text, "action": action})

    assert response.status_code == 413
    assert "262,144" in response.content.decode()
    assert not ChangeRequest.objects.exists()


# --- The API --------------------------------------------------------------------------------


def lint(client, data: bytes):
    return client.post("/api/lint?agent=agent-one", data, content_type="text/markdown")


@pytest.mark.parametrize("name", STORED_WITH_AN_ERROR)
def test_api_lint_names_the_problem(editor_client, agent, name):
    text, code, line, column = STORED_WITH_AN_ERROR[name]

    response = lint(editor_client, text.encode())

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] != found_problem(text, code, agent).is_error
    expected_code, message = expected_problem(text, code, agent)
    assert {"code": expected_code, "message": message} in [
        {"code": problem["code"], "message": problem["message"]} for problem in body["problems"]
    ]


@pytest.mark.parametrize("name", REJECTED)
def test_api_lint_locates_bytes_that_are_not_text(editor_client, name):
    data, reason = NOT_TEXT[name]
    code, line, column = REJECTED[name]

    response = lint(editor_client, data)

    if name == "five-mb":
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too-large"
        return
    assert response.status_code == 200
    (problem,) = response.json()["problems"]
    assert (problem["code"], problem["line"], problem["column"]) == (code, line, column)


def propose(client, text: str):
    fields = {"agent": "agent-one", "text": text, "submit": True}
    return client.post("/api/changes", json.dumps(fields), content_type="application/json")


@pytest.mark.parametrize("name", STORED_WITH_AN_ERROR)
def test_api_change_with_a_broken_file_is_refused_naming_the_problem(editor_client, agent, name):
    text, code, *_ = STORED_WITH_AN_ERROR[name]

    response = propose(editor_client, text)

    body = response.json()
    if not found_problem(text, code, agent).is_error:
        # Only a warning: the change is proposed, and the answer names the warning.
        assert response.status_code == 201
        assert code in [problem["code"] for problem in body["problems"]]
        return
    assert response.status_code in {400, 409}
    assert body["error"]["message"]
    if response.status_code == 400 and body["error"]["code"] == "cannot-submit":
        assert code in [problem["code"] for problem in body["error"]["problems"]]
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("utf-16", 400, "invalid-text"),
        ("utf-16-no-bom", 400, "invalid-text"),
        ("nul", 400, "invalid-text"),
        ("five-mb", 413, "too-large"),
    ],
)
def test_api_change_with_text_that_is_not_text_is_refused(editor_client, name, status, error):
    text = NOT_TEXT[name][0].decode("latin-1")

    response = propose(editor_client, text)

    assert response.status_code == status
    assert response.json()["error"]["code"] == error
    assert not ChangeRequest.objects.exists()


def test_api_change_body_that_is_not_json_is_refused(editor_client):
    for body in (b"\xff\xfe", b"[]", b'{"text": 1}', b"{" * 10_000):
        response = editor_client.post("/api/changes", body, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["message"]


# --- Import, from a folder or the upload page -----------------------------------------------


@pytest.mark.parametrize("name", STORED_WITH_AN_ERROR)
def test_import_stores_a_broken_file_with_its_error(agent, name):
    text, code, line, column = STORED_WITH_AN_ERROR[name]

    report = import_files([IncomingFile(f"bad/{name}.md", text.encode())])

    assert report.with_errors == [f"bad/{name}.md"]
    problems = Agent.objects.get(path=f"bad/{name}.md").problems
    assert (code, line, column) in [(p["code"], p["line"], p["column"]) for p in problems]


@pytest.mark.parametrize("name", NOT_TEXT)
def test_import_rejects_bytes_that_are_not_text_saying_why(agent, name):
    data, reason = NOT_TEXT[name]

    report = import_files([IncomingFile(f"bad/{name}.md", data)])

    ((path, said),) = report.rejected
    assert path == f"bad/{name}.md" and reason in said
    assert not report.stored
    assert not Agent.objects.filter(path__startswith="bad/").exists()


def upload(client, name: str, data: bytes):
    files = [SimpleUploadedFile(f"{name}.md", data, content_type="text/markdown")]
    return client.post("/import/", {"files": files})


@pytest.mark.parametrize("name", STORED_WITH_AN_ERROR)
def test_upload_stores_a_broken_file_and_lists_it_with_errors(maintainer_client, name):
    text, *_ = STORED_WITH_AN_ERROR[name]

    response = upload(maintainer_client, name, text.encode())

    if not text:
        # An empty upload is refused by the form itself.
        assert response.status_code == 400
        assert "empty" in response.content.decode()
        return
    assert response.status_code == 200
    assert "1 with errors" in response.content.decode()
    assert Agent.objects.filter(path__endswith=f"{name}.md", error_count__gt=0).exists()


@pytest.mark.parametrize("name", NOT_TEXT)
def test_upload_rejects_bytes_that_are_not_text_saying_why(maintainer_client, name):
    data, reason = NOT_TEXT[name]

    response = upload(maintainer_client, name, data)

    assert response.status_code < 500
    assert escape(reason) in response.content.decode()
    assert not Agent.objects.filter(path__endswith=f"{name}.md").exists()


# --- Numbers too long to be read, and values that do not fit their tag -------------------------

# Samples whose frontmatter YAML cannot be read at all, so the editor cannot show its fields.
UNREADABLE_YAML = [name for name in STORED_WITH_AN_ERROR if name.startswith("long-")] + [
    "tag-not-its-type"
]
LONG_SEXAGESIMAL = STORED_WITH_AN_ERROR["long-sexagesimal"][0]


@pytest.mark.parametrize("name", UNREADABLE_YAML)
def test_editor_mode_switch_names_the_number_and_keeps_the_text(editor_client, agent, name):
    text, code, line, _ = STORED_WITH_AN_ERROR[name]
    form = {"mode": "raw", "text": text, "action": "mode:structured"}

    response = editor_client.post(EDIT_URL, form)

    assert response.status_code == 200
    page = response.content.decode()
    _, message = expected_problem(text, code, agent)
    assert f"line {line}: {escape(message)}" in page
    assert escape(text) in page
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize("name", UNREADABLE_YAML)
def test_upload_skipping_rejected_files_stores_the_number_with_its_error(maintainer_client, name):
    text, code, line, column = STORED_WITH_AN_ERROR[name]
    files = [
        SimpleUploadedFile(f"{name}.md", text.encode(), content_type="text/markdown"),
        SimpleUploadedFile("fine.md", agent_text("fine-agent").encode()),
    ]

    response = maintainer_client.post("/import/", {"files": files, "skip_rejected": "on"})

    assert response.status_code == 200
    assert "1 with errors" in response.content.decode()
    problems = Agent.objects.get(path=f"{name}.md").problems
    assert (code, line, column) in [(p["code"], p["line"], p["column"]) for p in problems]
    assert Agent.objects.filter(path="fine.md", error_count=0).exists()


@pytest.mark.parametrize("name", UNREADABLE_YAML)
def test_drift_import_makes_a_draft_that_names_the_number(
    maintainer_client, agent, settings, tmp_path, name
):
    text, code, line, column = STORED_WITH_AN_ERROR[name]
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "agent-one.md").write_text(text)
    settings.REGISTRY_REPOSITORY_DIR = str(tmp_path)
    assert maintainer_client.get("/drift/").status_code == 200

    response = maintainer_client.post(
        "/drift/import/", {"path": "agents/agent-one.md", "sha256": text_hash(text)}
    )

    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert (change.text, change.agent) == (text, agent)
    assert change.error_count >= 1
    page = maintainer_client.get(f"/changes/{change.pk}/").content.decode()
    assert shows(page, *expected_problem(text, code, agent))


def test_approving_a_change_submitted_with_a_long_base_60_number_says_why_it_is_not_published(
    editor_client, agent
):
    # Submitted while such a number still read as clean; now it is an error, so the name of
    # the agent cannot be read either: nothing is published, and the reviewer is told why.
    author = user_in("author", "Editors")
    change = ChangeRequest.start_draft(author=author, text=LONG_SEXAGESIMAL, agent=agent)
    ChangeRequest.objects.filter(pk=change.pk).update(status=ChangeRequest.Status.OPEN)
    reviewer = Client(raise_request_exception=False)
    reviewer.force_login(user_in("rita", "Reviewers"))

    response = reviewer.post(
        f"/changes/{change.pk}/approve/", {"seen_hash": text_hash(LONG_SEXAGESIMAL)}, follow=True
    )

    assert response.status_code == 200
    assert (
        "Nothing was done: the name cannot be read: line 4: the number 1:0:0:0:0:0:0:0:0:0:… "
        "has 2,601 digits" in response.content.decode()
    )
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.OPEN
    agent.refresh_from_db()
    assert agent.live_version.number == 1


def test_a_long_base_60_number_cannot_be_submitted(editor_client, agent):
    form = {"mode": "raw", "text": LONG_SEXAGESIMAL, "action": "save"}
    assert editor_client.post(EDIT_URL, form).status_code == 302
    change = ChangeRequest.objects.get()

    response = editor_client.post(f"/changes/{change.pk}/submit/", follow=True)

    assert response.status_code == 200
    assert "fix them before submitting (first: line 4: the number 1:0:0" in (
        response.content.decode()
    )
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.DRAFT


def refuse_constant(name: str):
    raise AssertionError(f"{name} is not JSON")


def test_infinite_and_nan_numbers_are_stored_and_served_as_json(editor_client, agent):
    # YAML reads these as floats, which JSON cannot hold: stored and served as their text.
    extra = "big: 1.0e+400\nsmall: -.inf\nnan: .nan\n"
    text = agent_text("floating", extra=extra)
    import_files([IncomingFile("agents/floating.md", text.encode())])

    response = editor_client.get("/api/agents/floating")

    assert response.status_code == 200
    body = json.loads(response.content, parse_constant=refuse_constant)
    expected = {"big": "inf", "small": "-inf", "nan": "nan"}
    assert {key: body["frontmatter"][key] for key in expected} == expected
    version = Agent.objects.get(path="agents/floating.md").live_version
    assert {key: version.frontmatter[key] for key in expected} == expected
    assert editor_client.get("/agents/floating/").status_code == 200
    assert editor_client.get("/agents/floating/edit/").status_code == 200
    linted = editor_client.post(
        "/api/lint?agent=floating", text.encode(), content_type="text/markdown"
    )
    assert json.loads(linted.content, parse_constant=refuse_constant)["valid"]
