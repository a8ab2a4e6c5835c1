"""High-risk changes need a maintainer's approval; comments anchored to a key or a section must
be resolved before a change is approved."""

import pytest
from django.core.exceptions import PermissionDenied

from registry.models import AuditEvent, ChangeRequest, Comment, Result, WorkflowError
from tests.test_workflow import ORIGINAL, agent, propose  # noqa: F401

pytestmark = pytest.mark.django_db

Status = ChangeRequest.Status

BYPASS = ORIGINAL.replace("description:", "permissionMode: bypassPermissions\ndescription:")
WIDER = ORIGINAL.replace("description:", "permissionMode: acceptEdits\ndescription:")


@pytest.fixture
def editor(make_user):
    return make_user("editor", "Editors")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", "Reviewers")


@pytest.fixture
def high_risk(editor, agent):  # noqa: F811
    return propose(editor, BYPASS, agent)


def test_risk_level_is_stored_with_the_text_and_follows_each_save(editor, agent):  # noqa: F811
    change = propose(editor, BYPASS, agent, submit=False)
    assert change.risk == "high"
    change.save_text(WIDER, "", change.revision)
    assert change.risk == "widens"
    change.save_text(ORIGINAL.replace("one thing well", "one thing"), "", change.revision)
    assert change.risk == "none"
    assert ChangeRequest.objects.filter(risk="none").get() == change


def test_new_agent_without_tools_widens(editor):
    from tests.test_workflow import NEW_AGENT

    assert propose(editor, NEW_AGENT, submit=False).risk == "widens"


def test_high_risk_change_does_not_publish_with_an_ordinary_approval(high_risk, reviewer):
    outcome = high_risk.approve(reviewer)
    assert outcome.results == (Result.APPROVED,)
    assert high_risk.status == Status.OPEN
    assert high_risk.approvals_missing() == 1
    assert high_risk.high_risk_approval_missing()


def test_high_risk_change_publishes_with_a_maintainers_approval(high_risk, reviewer, maintainer):
    high_risk.approve(reviewer)
    outcome = high_risk.approve(maintainer)
    assert outcome.result == Result.PUBLISHED
    publish = AuditEvent.objects.get(action="change.publish")
    assert publish.details["risk"] == "high"
    assert AuditEvent.objects.get(action="change.submit").details["risk"] == "high"


def test_maintainers_approval_alone_is_enough_when_one_is_required(high_risk, maintainer):
    assert high_risk.approve(maintainer).result == Result.PUBLISHED


def test_maintainer_who_wrote_the_change_cannot_be_its_high_risk_approval(
    agent,  # noqa: F811
    maintainer,
    reviewer,
):
    change = propose(maintainer, BYPASS, agent)
    assert change.approve(reviewer).result == Result.APPROVED
    assert change.status == Status.OPEN
    with pytest.raises(PermissionDenied):
        change.approve(maintainer)


def test_an_edit_makes_the_maintainers_approval_stale(high_risk, editor, make_user, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    maintainer = make_user("maintainer", "Maintainers")
    high_risk.approve(maintainer)
    high_risk.save_text(BYPASS.replace("one thing well", "one thing"), "", high_risk.revision)
    assert high_risk.risk == "high"
    assert high_risk.high_risk_approval_missing()


def test_high_risk_group_is_a_setting(high_risk, reviewer, settings):
    settings.REGISTRY_HIGH_RISK_GROUP = "Reviewers"
    assert high_risk.approve(reviewer).result == Result.PUBLISHED


def test_widening_change_needs_only_the_usual_approval(editor, agent, reviewer):  # noqa: F811
    change = propose(editor, WIDER, agent)
    assert change.risk == "widens"
    assert change.approve(reviewer).result == Result.PUBLISHED


# --- Comments in place, resolved --------------------------------------------------------------


def test_comment_keeps_its_anchor(high_risk, reviewer):
    high_risk.comment(reviewer, "Why bypass?", anchor="frontmatter.permissionMode")
    comment = high_risk.comments.get()
    assert comment.anchor == "frontmatter.permissionMode"
    assert not comment.is_resolved
    event = AuditEvent.objects.get(action="change.comment")
    assert event.details == {"comment": comment.pk, "anchor": "frontmatter.permissionMode"}


@pytest.mark.parametrize("anchor", ["permissionMode", "frontmatter.", "section:", "file"])
def test_comment_anchor_must_name_a_key_or_a_section(high_risk, reviewer, anchor):
    with pytest.raises(WorkflowError, match="frontmatter key"):
        high_risk.comment(reviewer, "Hm", anchor=anchor)


def test_unresolved_comments_stop_an_approval(editor, agent, reviewer, make_user):  # noqa: F811
    change = propose(editor, WIDER, agent)
    change.comment(reviewer, "Edits unasked?", anchor="frontmatter.permissionMode")
    change.comment(reviewer, "And the focus?", anchor="section:Focus Areas")
    outcome = change.take("approve", make_user("other", "Reviewers"))
    assert outcome.result == Result.REFUSED
    assert outcome.reason == "2 comments are unresolved; resolve them before approving"
    assert outcome.comments == tuple(change.comments.values_list("pk", flat=True))
    assert change.reviews.count() == 0


def test_resolved_comments_let_it_be_approved(editor, agent, reviewer):  # noqa: F811
    change = propose(editor, WIDER, agent)
    change.comment(reviewer, "Edits unasked?", anchor="frontmatter.permissionMode")
    comment = change.comments.get()
    comment.resolve(editor)
    assert comment.is_resolved and comment.resolved_by == editor
    assert change.approve(reviewer).result == Result.PUBLISHED
    assert AuditEvent.objects.get(action="change.comment.resolve").details["comment"] == comment.pk


def test_comments_need_not_be_resolved_when_the_setting_says_so(
    editor,
    agent,  # noqa: F811
    reviewer,
    settings,
):
    settings.REGISTRY_REQUIRE_RESOLVED_COMMENTS = False
    change = propose(editor, WIDER, agent)
    change.comment(reviewer, "Edits unasked?")
    assert change.approve(reviewer).result == Result.PUBLISHED


def test_registry_notes_do_not_need_resolving(editor, agent, reviewer):  # noqa: F811
    change = propose(editor, WIDER, agent)
    Comment.objects.create(change=change, author=None, body="A note.")
    assert change.approve(reviewer).result == Result.PUBLISHED


def test_who_may_resolve_and_reopen(high_risk, editor, reviewer, make_user, maintainer):
    high_risk.comment(reviewer, "Why?")
    comment = high_risk.comments.get()
    with pytest.raises(PermissionDenied):
        comment.resolve(make_user("bystander", "Reviewers"))
    assert AuditEvent.objects.filter(action="change.comment.resolve.denied").count() == 1
    for user in (reviewer, editor, maintainer):
        comment.resolve(user)
        assert comment.is_resolved
        comment.resolve(user, reopen=True)
        assert not comment.is_resolved
    assert AuditEvent.objects.filter(action="change.comment.reopen").count() == 3


# --- The API ------------------------------------------------------------------------------------


def test_api_answers_a_proposal_with_its_risk_and_shows_it_on_the_change(
    editor,
    agent,  # noqa: F811
    reviewer,
):
    from django.test import Client

    from registry.models import ApiToken

    client = Client(headers={"Authorization": f"Bearer {ApiToken.create_for(editor, 'ci')[1]}"})
    response = client.post(
        "/api/changes",
        {"agent": agent.key, "text": BYPASS, "submit": True},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["risk"] == "high"
    assert response.json()["grants"] == [
        {
            "key": "permissionMode",
            "what": "default → bypassPermissions",
            "level": "high",
            "detail": "",
            "powerful": True,
        }
    ]
    change = ChangeRequest.objects.get()
    change.comment(reviewer, "Why?", anchor="frontmatter.permissionMode")

    detail = client.get(f"/api/changes/{change.pk}").json()
    assert (detail["risk"], detail["high_risk_approval_missing"]) == ("high", True)
    assert detail["grants"] == response.json()["grants"]
    (comment,) = detail["comments"]
    assert (comment["anchor"], comment["resolved"], comment["author"]) == (
        "frontmatter.permissionMode",
        False,
        "reviewer",
    )
    assert client.get("/api/changes/999").json()["error"]["code"] == "change-not-found"
