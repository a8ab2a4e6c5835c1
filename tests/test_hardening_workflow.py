"""Rejecting and commenting follow the change's state: a reviewer rejects only what waits for a
reviewer, and nobody comments on a closed change. Each refusal is audited as denied."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from registry.models import Agent, AuditEvent, ChangeRequest, Comment, WorkflowError
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

Status = ChangeRequest.Status

ORIGINAL = agent_text()
OTHER = agent_text(
    "other-agent", "Does everything else.", delegate_to="- **agent-one** — for the one thing\n"
)
NEW_DESCRIPTION = agent_text(description="Does one thing very well.")


@pytest.fixture
def editor(make_user):
    return make_user("editor", "Editors")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", "Reviewers")


@pytest.fixture
def agent() -> Agent:
    report = import_files(
        [
            IncomingFile("agents/agent-one.md", ORIGINAL.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    )
    assert report.stored and not report.with_errors
    return Agent.objects.get(path="agents/agent-one.md")


@pytest.fixture
def change_in(agent, editor, make_user):
    """change_in(status): a change by editor to agent, brought to that status."""

    def bring(status: str) -> ChangeRequest:
        change = ChangeRequest.start_draft(author=editor, text=NEW_DESCRIPTION, agent=agent)
        if status == Status.DRAFT:
            return change
        change.submit(editor)
        other_reviewer = make_user(f"reviewer-for-{change.pk}", "Reviewers")
        if status == Status.CHANGES_REQUESTED:
            change.request_changes(other_reviewer, "Say more.")
        elif status == Status.APPROVED:
            ChangeRequest.objects.filter(pk=change.pk).update(status=Status.APPROVED)
        elif status == Status.PUBLISHED:
            change.approve(other_reviewer)
        elif status == Status.REJECTED:
            change.reject(other_reviewer, "No.")
        elif status == Status.WITHDRAWN:
            change.withdraw(editor)
        change.refresh_from_db()
        assert change.status == status
        return change

    return bring


def denials(action: str, change: ChangeRequest):
    return AuditEvent.objects.filter(action=action, object_id=str(change.pk))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Rejecting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.DRAFT, Status.CHANGES_REQUESTED])
def test_a_reviewer_cannot_reject_a_change_that_is_its_authors_turn(change_in, reviewer, status):
    change = change_in(status)
    comments = change.comments.count()

    with pytest.raises(WorkflowError) as refused:
        change.reject(reviewer, "Not wanted.")

    label = Status(status).label
    assert str(refused.value) == f"a change that is {label} cannot be rejected"
    assert ChangeRequest.objects.get(pk=change.pk).status == status
    assert change.comments.count() == comments
    assert not denials("change.reject", change).exists()
    denied = denials("change.reject.denied", change).get()
    assert denied.actor == reviewer
    assert denied.details["reason"] == f"a change that is {label} cannot be rejected"


@pytest.mark.parametrize("status", [Status.OPEN, Status.APPROVED])
def test_a_reviewer_rejects_a_change_waiting_for_review(change_in, reviewer, status):
    change = change_in(status)

    change.reject(reviewer, "Not wanted.")

    assert ChangeRequest.objects.get(pk=change.pk).status == Status.REJECTED
    assert denials("change.reject", change).get().actor == reviewer
    assert not denials("change.reject.denied", change).exists()


def test_rejecting_a_draft_on_the_page_is_a_clear_refusal(change_in, reviewer):
    change = change_in(Status.DRAFT)
    url = reverse("registry:change_action", args=[change.pk, "reject"])

    response = client_for(reviewer).post(url, {"note": "Not wanted."})

    assert response.status_code == 302
    assert messages_of(response) == ["Nothing was done: a change that is Draft cannot be rejected."]
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.DRAFT
    assert denials("change.reject.denied", change).get().client_address == "127.0.0.1"


# --- Commenting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.PUBLISHED, Status.REJECTED, Status.WITHDRAWN])
@pytest.mark.parametrize("who", ["editor", "reviewer"])
def test_nobody_comments_on_a_closed_change(change_in, editor, reviewer, status, who):
    change = change_in(status)
    commenter = editor if who == "editor" else reviewer
    comments = change.comments.count()

    with pytest.raises(WorkflowError) as refused:
        change.comment(commenter, "One more thing.")

    label = Status(status).label
    assert str(refused.value) == f"a change that is {label} cannot be commented on"
    assert change.comments.count() == comments
    assert not denials("change.comment", change).exists()
    denied = denials("change.comment.denied", change).get()
    assert denied.actor == commenter
    assert denied.details["reason"] == str(refused.value)


@pytest.mark.parametrize(
    "status", [Status.DRAFT, Status.OPEN, Status.CHANGES_REQUESTED, Status.APPROVED]
)
def test_editors_and_reviewers_comment_on_an_active_change(change_in, editor, reviewer, status):
    change = change_in(status)

    change.comment(editor, "Why?")
    change.comment(reviewer, "Because.")

    assert list(change.comments.filter(author__isnull=False).values_list("body", flat=True))[
        -2:
    ] == ["Why?", "Because."]
    assert ChangeRequest.objects.get(pk=change.pk).status == status
    assert not denials("change.comment.denied", change).exists()


def test_commenting_on_a_published_change_on_the_page_is_a_clear_refusal(change_in, reviewer):
    change = change_in(Status.PUBLISHED)
    url = reverse("registry:change_action", args=[change.pk, "comment"])

    response = client_for(reviewer).post(url, {"body": "Late remark."})

    assert response.status_code == 302
    assert messages_of(response) == [
        "Nothing was done: a change that is Published cannot be commented on."
    ]
    assert not Comment.objects.filter(body="Late remark.").exists()
    assert denials("change.comment.denied", change).get().actor == reviewer
