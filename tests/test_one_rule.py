"""Each rule on a proposal lives in the model: the same bad input is refused the same way,
with the same code, whether it comes through the editor, the API, a restore or the model."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from registry.models import Agent, ApiToken, ChangeRequest, Result
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text
from tests.test_editor import form_values

pytestmark = pytest.mark.django_db

OTHER = agent_text(
    "other-agent", "Does everything else.", delegate_to="- **agent-one** — for the one thing\n"
)
TOO_LONG = "m" * (ChangeRequest._meta.get_field("message").max_length + 1)

# (what is wrong, the text, the message, the code every way in refuses it with)
BAD_PROPOSALS = [
    ("message over the limit", agent_text("agent-two"), TOO_LONG, "message-too-long"),
    ("invisible character", agent_text("agent-two"), "Add\u200b it", "message-characters"),
    ("name taken", agent_text("agent-one"), "Copy", "name-taken"),
    ("name not valid", agent_text("Agent Two!"), "Add", "name-invalid"),
]


@pytest.fixture
def agent():
    report = import_files(
        [
            IncomingFile("agents/agent-one.md", agent_text().encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    )
    assert report.stored and not report.with_errors
    return Agent.objects.get(path="agents/agent-one.md")


@pytest.fixture
def editor(make_user):
    return make_user("edith", "Editors")


@pytest.mark.parametrize("what, text, message, code", BAD_PROPOSALS)
def test_the_model_refuses_a_bad_proposal_with_its_code(agent, editor, what, text, message, code):
    with pytest.raises(ValidationError) as refusal:
        ChangeRequest.start_draft(author=editor, text=text, message=message)

    assert refusal.value.code == code
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize("what, text, message, code", BAD_PROPOSALS)
def test_the_api_refuses_it_with_the_same_rule(agent, editor, what, text, message, code):
    token = ApiToken.create_for(editor, "tests")[1]
    api = Client(headers={"Authorization": f"Bearer {token}"})

    response = api.post(
        "/api/changes",
        json.dumps({"text": text, "message": message}),
        content_type="application/json",
    )

    error = response.json()["error"]
    assert response.status_code in (400, 409)
    assert code in (error["code"], error.get("reason"))
    assert not ChangeRequest.objects.exists()


@pytest.mark.parametrize("what, text, message, code", BAD_PROPOSALS)
def test_the_editor_refuses_it_with_the_same_words(agent, editor, what, text, message, code):
    client = Client()
    client.force_login(editor)
    values = form_values(client.get("/agents/new/?mode=raw"))

    response = client.post(
        "/agents/new/", {**values, "text": text, "message": message, "action": "save"}
    )

    with pytest.raises(ValidationError) as refusal:
        ChangeRequest.start_draft(author=editor, text=text, message=message)
    assert response.status_code == 200
    page = response.content.decode()
    # Django escapes quotes in the page; the model's words are there all the same.
    words = refusal.value.messages[0].replace("'", "&#x27;")
    assert words[:60] in page
    assert not ChangeRequest.objects.exists()


def test_a_rename_to_a_taken_name_is_refused_on_every_save(agent, editor):
    change = ChangeRequest.start_draft(
        author=editor, text=agent_text(description="New."), agent=agent
    )

    with pytest.raises(ValidationError) as refusal:
        change.save_text(agent_text("other-agent"), "Rename", change.revision)

    assert refusal.value.code == "name-taken"
    change.refresh_from_db()
    assert change.revision == 1


def test_a_restore_counts_the_problems_the_registry_gives_it_now(agent, editor, make_user):
    """Version 1 of other-agent delegates to agent-one; once agent-one is archived, restoring
    version 1 brings back a delegation to an agent that is gone: an error, counted."""
    reviewer = make_user("rita", "Reviewers")
    other = Agent.objects.get(key="other-agent")
    first = other.live_version
    edit = ChangeRequest.start_draft(
        author=editor,
        text=agent_text("other-agent", "Does everything else.", delegate_to="It works alone.\n"),
        agent=other,
    )
    edit.submit(editor)
    edit.approve(reviewer)
    archive = ChangeRequest.propose_archive(agent, editor)
    archive.submit(editor)
    assert archive.approve(reviewer).result == Result.PUBLISHED

    restore = ChangeRequest.propose_restore(first, editor)

    assert restore.error_count == 1
    errors = [problem.code for problem in restore.current_problems() if problem.is_error]
    assert errors == ["delegate-unknown"]


def test_restoring_the_live_version_is_refused(agent, editor):
    with pytest.raises(ValidationError) as refusal:
        ChangeRequest.propose_restore(agent.live_version, editor)

    assert refusal.value.code == "restore-live"


def test_each_step_says_what_it_did(agent, editor, make_user, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 1
    reviewer = make_user("rita", "Reviewers")
    first = ChangeRequest.start_draft(
        author=editor, text=agent_text(description="First."), agent=agent
    )
    second = ChangeRequest.start_draft(
        author=editor, text=agent_text(focus="- **Two things**: done well\n"), agent=agent
    )
    clash = ChangeRequest.start_draft(
        author=editor, text=agent_text(description="Clash."), agent=agent
    )
    for change in (first, second, clash):
        assert change.take("submit", editor).result == Result.SUBMITTED

    published = first.take("approve", reviewer, seen_hash=first.text_hash)
    merged = second.take("approve", reviewer, seen_hash=second.text_hash)
    conflict = clash.take("approve", reviewer, seen_hash=clash.text_hash)
    refused = first.take("withdraw", editor)

    assert published.results == (Result.APPROVED, Result.PUBLISHED)
    assert published.version.number == 2
    assert merged.results == (Result.APPROVED, Result.MERGED)
    assert conflict.results == (Result.APPROVED, Result.CONFLICT)
    assert conflict.conflicts == ("frontmatter key 'description'",)
    assert refused.result == Result.REFUSED
    assert refused.reason == "the change is already Published"


def test_the_change_page_offers_the_actions_the_model_names(agent, editor, make_user):
    reviewer = make_user("rita", "Reviewers")
    change = ChangeRequest.start_draft(
        author=editor, text=agent_text(description="New."), agent=agent
    )
    change.submit(editor)

    labels = [action.label for action in change.actions_for(reviewer)]
    client = Client()
    client.force_login(reviewer)
    page = client.get(f"/changes/{change.pk}/").content.decode()

    assert labels[:2] == ["Approve", "Request changes"]
    assert f"Reject change #{change.pk}" in labels
    for label in labels:
        assert label in page
