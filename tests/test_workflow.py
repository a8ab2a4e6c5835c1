"""Change requests through review to publishing: states, kinds, reviews, comments, the audit log."""

import pytest
from django.core.exceptions import PermissionDenied

from registry.models import (
    Agent,
    AuditEvent,
    AuditLogIsAppendOnly,
    ChangeRequest,
    Review,
    SaveConflict,
    Version,
    WorkflowError,
    text_hash,
)
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

Status = ChangeRequest.Status

ORIGINAL = agent_text()
OTHER = agent_text(
    "other-agent", "Does everything else.", delegate_to="- **agent-one** — for the one thing\n"
)
NEW_DESCRIPTION = agent_text(description="Does one thing very well.")
NEW_FOCUS = agent_text(focus="- **Two things**: done well\n")
NEW_AGENT = agent_text("agent-two", "Does the second thing.")


@pytest.fixture
def editor(make_user):
    return make_user("editor", "Editors")


@pytest.fixture
def other_editor(make_user):
    return make_user("other-editor", "Editors")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", "Reviewers")


@pytest.fixture
def second_reviewer(make_user):
    return make_user("second-reviewer", "Reviewers")


@pytest.fixture
def agent():
    """agent-one, live at version 1, beside other-agent (which it delegates to)."""
    report = import_files(
        [
            IncomingFile("agents/agent-one.md", ORIGINAL.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    )
    assert report.stored and not report.with_errors
    return Agent.objects.get(path="agents/agent-one.md")


def propose(author, text, agent=None, *, submit=True, **kwargs):
    """A change by author to agent (a new agent when None), submitted for review."""
    change = ChangeRequest.start_draft(author=author, text=text, agent=agent, **kwargs)
    if submit:
        change.submit(author)
    return change


def live_text(agent) -> str:
    agent.refresh_from_db()
    return agent.live_version.text


def actions(change) -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(object_type="changerequest", object_id=str(change.pk))
    return list(events.order_by("pk").values_list("action", "actor_name"))


# --- From draft to published ------------------------------------------------------------------


def test_a_new_change_is_a_draft_based_on_the_live_version(agent, editor):
    change = propose(editor, NEW_DESCRIPTION, agent, submit=False)

    assert change.status == Status.DRAFT
    assert change.kind == ChangeRequest.Kind.EDIT
    assert change.base_version == agent.live_version
    assert change.text_hash == text_hash(NEW_DESCRIPTION)
    assert change.revision == 1


def test_submitting_a_draft_opens_it_for_review(agent, editor):
    change = propose(editor, NEW_DESCRIPTION, agent, submit=False)

    change.submit(editor)

    assert change.status == Status.OPEN
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.OPEN


def test_submitting_text_with_errors_is_refused_naming_the_first_error(agent, editor):
    broken = agent_text(description="", boundaries="")
    change = propose(editor, broken, agent, submit=False)
    first = next(problem for problem in change.current_problems() if problem.is_error)

    with pytest.raises(WorkflowError) as refused:
        change.submit(editor)

    assert "2 errors" in str(refused.value)
    assert f"first: line {first.line}: {first.message}" in str(refused.value)
    assert "'description' is missing or empty" in str(refused.value)
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.DRAFT


def test_only_the_author_submits_their_change(agent, editor, other_editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent, submit=False)

    for someone_else in (other_editor, reviewer):
        with pytest.raises(PermissionDenied):
            change.submit(someone_else)

    assert ChangeRequest.objects.get(pk=change.pk).status == Status.DRAFT
    denied = AuditEvent.objects.filter(action="change.submit.denied", object_id=str(change.pk))
    assert sorted(denied.values_list("actor_name", flat=True)) == ["other-editor", "reviewer"]


def test_requesting_changes_hands_the_change_back_to_its_author(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)

    review = change.request_changes(reviewer, "Say what the one thing is.").review

    assert change.status == Status.CHANGES_REQUESTED
    assert review.verdict == Review.Verdict.REQUEST_CHANGES
    assert review.body == "Say what the one thing is."
    assert list(ChangeRequest.objects.waiting_for(editor)) == [change]
    assert list(ChangeRequest.objects.waiting_for(reviewer)) == []


def test_an_edit_and_a_new_submit_reopen_a_change_after_changes_requested(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)
    change.request_changes(reviewer, "Say what the one thing is.")
    edited = agent_text(description="Does the one thing, parsing.")

    change.save_text(edited, "Say what", change.revision)
    assert change.status == Status.CHANGES_REQUESTED
    change.submit(editor)

    assert change.status == Status.OPEN
    assert change.revision == 2
    assert change.text == edited
    assert list(ChangeRequest.objects.waiting_for(reviewer)) == [change]


def test_approval_publishes_the_proposed_text_byte_for_byte(agent, editor, reviewer):
    # CRLF line endings, a YAML comment and quoting: stored exactly as proposed.
    text = agent_text(description="'Quoted: kept as is.'", extra="# kept\n").replace("\n", "\r\n")
    change = propose(editor, text, agent)

    change.approve(reviewer, seen_hash=change.text_hash)

    agent.refresh_from_db()
    assert change.status == Status.PUBLISHED
    assert agent.live_version.number == 2
    assert agent.live_version.data == text.encode()
    assert agent.live_version.parent_id == change.base_version_id
    assert agent.live_version.author == editor
    assert change.published_version == agent.live_version
    assert agent.description == "Quoted: kept as is."
    assert Version.objects.filter(agent=agent).count() == 2


def test_publishing_refreshes_the_problems_of_other_agents(agent, editor, reviewer):
    other = Agent.objects.get(name="other-agent")
    delegating = OTHER.replace(
        "- **agent-one** — for the one thing\n",
        "- **agent-one** — for the one thing\n- **agent-two** — for the second thing\n",
    )
    import_files([IncomingFile("agents/other-agent.md", delegating.encode())])
    other.refresh_from_db()
    assert [problem["code"] for problem in other.problems] == ["delegate-unknown"]

    change = propose(editor, NEW_AGENT)
    change.approve(reviewer)

    other.refresh_from_db()
    assert other.problems == []
    assert other.error_count == 0


def test_only_reviewers_approve(agent, editor, other_editor):
    change = propose(editor, NEW_DESCRIPTION, agent)

    with pytest.raises(PermissionDenied):
        change.approve(other_editor)

    assert change.reviews.count() == 0
    assert AuditEvent.objects.filter(action="change.approve.denied", actor=other_editor).exists()


@pytest.mark.parametrize("close", ["reject", "withdraw"])
def test_rejected_and_withdrawn_changes_are_closed_for_good(agent, editor, reviewer, close):
    change = propose(editor, NEW_DESCRIPTION, agent)
    if close == "reject":
        change.reject(reviewer, "Not needed.")
    else:
        change.withdraw(editor)
    closed = Status.REJECTED if close == "reject" else Status.WITHDRAWN
    assert change.status == closed

    further = [
        lambda: change.submit(editor),
        lambda: change.approve(reviewer),
        lambda: change.request_changes(reviewer),
        lambda: change.reject(reviewer),
        lambda: change.withdraw(editor),
        lambda: change.publish(reviewer),
    ]
    for action in further:
        with pytest.raises(WorkflowError):
            action()
    with pytest.raises(SaveConflict):
        change.save_text(NEW_FOCUS, "Too late", change.revision)

    change.refresh_from_db()
    assert change.status == closed
    assert change.text == NEW_DESCRIPTION
    assert live_text(agent) == ORIGINAL
    assert change.allowed_actions(editor) == set()
    assert change.allowed_actions(reviewer) == set()


def test_a_rejection_keeps_the_reason_as_a_comment(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)

    change.reject(reviewer, "Not needed.")

    assert list(change.comments.values_list("author__username", "body")) == [
        ("reviewer", "Not needed.")
    ]


def test_only_the_author_withdraws(agent, editor, other_editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)

    for someone_else in (other_editor, reviewer):
        with pytest.raises(PermissionDenied):
            change.withdraw(someone_else)

    assert ChangeRequest.objects.get(pk=change.pk).status == Status.OPEN
    assert AuditEvent.objects.filter(action="change.withdraw.denied").count() == 2


def test_a_change_left_approved_can_be_published_by_a_reviewer(agent, editor, reviewer, settings):
    # Enough approvals publish at once; a change is left approved only when the setting is
    # lowered under it, and publish() is then what moves it on.
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = propose(editor, NEW_DESCRIPTION, agent)
    change.approve(reviewer)
    ChangeRequest.objects.filter(pk=change.pk).update(status=Status.APPROVED)
    settings.REGISTRY_APPROVALS_REQUIRED = 1
    change.refresh_from_db()
    assert "publish" in change.allowed_actions(reviewer)

    change.publish(reviewer)

    assert change.status == Status.PUBLISHED
    assert live_text(agent) == NEW_DESCRIPTION


# --- Kinds of change --------------------------------------------------------------------------


def test_a_new_agent_is_created_at_the_path_its_name_gives_when_published(agent, editor, reviewer):
    change = propose(editor, NEW_AGENT)
    assert change.kind == ChangeRequest.Kind.CREATE
    assert change.agent is None

    change.approve(reviewer)

    created = Agent.objects.get(name="agent-two")
    assert created.path == Agent.path_for_name("agent-two") == "agents/agent-two.md"
    assert created.live_version.number == 1
    assert created.live_version.text == NEW_AGENT
    assert change.agent == created
    assert change.published_version == created.live_version
    assert change.status == Status.PUBLISHED


def test_a_new_agent_whose_name_was_taken_meanwhile_is_refused_at_publishing(
    agent, editor, other_editor, reviewer
):
    first = propose(editor, NEW_AGENT)
    second = propose(other_editor, agent_text("agent-two", "Another second thing."))
    first.approve(reviewer)

    with pytest.raises(WorkflowError) as refused:
        second.approve(reviewer)

    assert "already used" in str(refused.value)
    second.refresh_from_db()
    assert second.status == Status.OPEN
    assert second.agent is None
    assert second.reviews.count() == 0
    assert Agent.objects.filter(name="agent-two").count() == 1
    assert Agent.objects.get(name="agent-two").live_version.text == NEW_AGENT


def test_restoring_an_old_version_makes_its_text_the_next_version(agent, editor, reviewer):
    propose(editor, NEW_DESCRIPTION, agent).approve(reviewer)
    first = Version.objects.get(agent=agent, number=1)

    restore = ChangeRequest.propose_restore(first, editor)
    assert restore.kind == ChangeRequest.Kind.RESTORE
    assert restore.text == ORIGINAL
    restore.submit(editor)
    restore.approve(reviewer)

    agent.refresh_from_db()
    assert agent.live_version.number == 3
    assert agent.live_version.text == ORIGINAL
    assert restore.published_version == agent.live_version
    assert Version.objects.get(agent=agent, number=2).text == NEW_DESCRIPTION


def test_archiving_an_agent_adds_no_version(agent, editor, reviewer):
    live = agent.live_version
    other = Agent.objects.get(name="other-agent")
    assert other.error_count == 0

    archive = ChangeRequest.propose_archive(agent, editor)
    assert archive.kind == ChangeRequest.Kind.ARCHIVE
    archive.submit(editor)
    archive.approve(reviewer)

    agent.refresh_from_db()
    assert agent.archived
    assert agent.live_version == live
    assert Version.objects.filter(agent=agent).count() == 1
    assert archive.status == Status.PUBLISHED
    assert archive.published_version is None
    # other-agent delegates to it: that is now an error on other-agent.
    other.refresh_from_db()
    assert [problem["code"] for problem in other.problems] == ["delegate-unknown"]


# --- Reviews ----------------------------------------------------------------------------------


def test_a_review_is_bound_to_the_text_it_reviewed(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)

    review = change.request_changes(reviewer, "Hmm.").review

    assert review.text_hash == text_hash(NEW_DESCRIPTION)
    assert review.revision == 1
    assert not review.is_stale
    change.save_text(NEW_FOCUS, "Other idea", change.revision)
    review.refresh_from_db()
    assert review.is_stale


@pytest.mark.parametrize("role", ["superuser", "maintainer"])
def test_nobody_approves_their_own_change(agent, make_user, role):
    if role == "superuser":
        author = make_user("root", is_superuser=True, is_staff=True)
    else:
        author = make_user("maintainer", "Maintainers")
    change = propose(author, NEW_DESCRIPTION, agent)
    assert "approve" not in change.allowed_actions(author)

    with pytest.raises(PermissionDenied):
        change.approve(author, seen_hash=change.text_hash)

    denied = AuditEvent.objects.get(action="change.approve.denied")
    assert denied.actor == author
    assert denied.object_id == str(change.pk)
    assert denied.agent == agent
    assert "own change" in denied.details["reason"]
    assert change.reviews.count() == 0
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.OPEN
    assert live_text(agent) == ORIGINAL


def test_nobody_rejects_their_own_change(agent, make_user):
    author = make_user("root", is_superuser=True, is_staff=True)
    change = propose(author, NEW_DESCRIPTION, agent)

    with pytest.raises(PermissionDenied):
        change.reject(author)

    assert AuditEvent.objects.filter(action="change.reject.denied", actor=author).exists()
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.OPEN


def test_an_edit_after_an_approval_makes_it_stale(agent, editor, reviewer, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = propose(editor, NEW_DESCRIPTION, agent)
    change.approve(reviewer)
    assert change.valid_approvals().count() == 1

    change.save_text(NEW_FOCUS, "Other idea", change.revision)

    assert change.valid_approvals().count() == 0
    assert [review.reviewer.username for review in change.reviews.all() if review.is_stale] == [
        "reviewer"
    ]
    assert change.status == Status.OPEN
    assert list(ChangeRequest.objects.waiting_for(reviewer)) == [change]


def test_an_edit_of_an_approved_change_reopens_it(agent, editor, reviewer, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = propose(editor, NEW_DESCRIPTION, agent)
    change.approve(reviewer)
    ChangeRequest.objects.filter(pk=change.pk).update(status=Status.APPROVED)

    change.save_text(NEW_FOCUS, "Other idea", change.revision)

    assert change.status == Status.OPEN
    assert change.valid_approvals().count() == 0


def test_a_stale_approval_does_not_count_towards_publishing(
    agent, editor, reviewer, second_reviewer, settings
):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = propose(editor, NEW_DESCRIPTION, agent)
    change.approve(reviewer)
    change.save_text(NEW_FOCUS, "Other idea", change.revision)

    change.approve(second_reviewer)

    assert change.status == Status.OPEN
    assert live_text(agent) == ORIGINAL
    change.approve(reviewer)
    assert change.status == Status.PUBLISHED
    assert live_text(agent) == NEW_FOCUS


def test_two_required_approvals_need_two_different_reviewers(
    agent, editor, reviewer, second_reviewer, settings
):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    change = propose(editor, NEW_DESCRIPTION, agent)

    change.approve(reviewer)
    change.approve(reviewer)

    assert change.valid_approvals().count() == 1
    assert change.status == Status.OPEN
    assert live_text(agent) == ORIGINAL

    change.approve(second_reviewer)

    assert change.status == Status.PUBLISHED
    assert live_text(agent) == NEW_DESCRIPTION


def test_a_review_of_text_the_reviewer_did_not_see_is_refused(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)
    seen = change.text_hash
    change.save_text(NEW_FOCUS, "Other idea", change.revision)

    for verdict in (change.approve, change.request_changes):
        with pytest.raises(WorkflowError) as refused:
            verdict(reviewer, seen_hash=seen)
        assert "changed while you were reviewing" in str(refused.value)

    assert change.reviews.count() == 0
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.OPEN
    assert live_text(agent) == ORIGINAL


# --- Saving -----------------------------------------------------------------------------------


def test_each_save_is_a_new_revision(agent, editor):
    change = propose(editor, NEW_DESCRIPTION, agent, submit=False)

    change.save_text(NEW_FOCUS, "Other idea", 1)

    assert change.revision == 2
    assert change.text == NEW_FOCUS
    assert change.text_hash == text_hash(NEW_FOCUS)
    assert change.message == "Other idea"


def test_a_save_from_an_old_revision_conflicts_and_changes_nothing(agent, editor):
    change = propose(editor, NEW_DESCRIPTION, agent, submit=False)
    change.save_text(NEW_FOCUS, "Second", 1)

    with pytest.raises(SaveConflict) as conflict:
        change.save_text(ORIGINAL, "From the first revision", 1)

    assert conflict.value.change.text == NEW_FOCUS
    stored = ChangeRequest.objects.get(pk=change.pk)
    assert (stored.revision, stored.text) == (2, NEW_FOCUS)


# --- Comments ---------------------------------------------------------------------------------


def test_editors_and_reviewers_comment(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)

    change.comment(reviewer, "  Why?  ")
    change.comment(editor, "Because.")

    assert list(change.comments.values_list("author__username", "body")) == [
        ("reviewer", "Why?"),
        ("editor", "Because."),
    ]
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.OPEN


def test_an_empty_comment_is_refused(agent, editor):
    change = propose(editor, NEW_DESCRIPTION, agent)

    with pytest.raises(WorkflowError):
        change.comment(editor, " \n ")

    assert change.comments.count() == 0


def test_a_user_without_a_role_cannot_comment(agent, editor, make_user):
    outsider = make_user("outsider")
    change = propose(editor, NEW_DESCRIPTION, agent)

    with pytest.raises(PermissionDenied):
        change.comment(outsider, "Let me in.")

    assert change.comments.count() == 0
    assert AuditEvent.objects.filter(action="change.comment.denied", actor=outsider).exists()


# --- The audit log ----------------------------------------------------------------------------


def test_each_step_of_a_change_writes_its_audit_event(agent, editor, reviewer):
    change = propose(editor, NEW_DESCRIPTION, agent)
    change.request_changes(reviewer, "Say more.")
    change.save_text(NEW_FOCUS, "More", change.revision)
    change.comment(editor, "Done.")
    change.comments.get().resolve(editor)
    change.submit(editor)
    change.approve(reviewer)

    assert actions(change) == [
        ("change.create", "editor"),
        ("change.submit", "editor"),
        ("change.request_changes", "reviewer"),
        ("change.save", "editor"),
        ("change.comment", "editor"),
        ("change.comment.resolve", "editor"),
        ("change.submit", "editor"),
        ("change.approve", "reviewer"),
        ("change.publish", "reviewer"),
    ]
    events = AuditEvent.objects.filter(object_id=str(change.pk))
    assert {(event.object_type, event.agent_id) for event in events} == {
        ("changerequest", agent.pk)
    }
    assert events.get(action="change.publish").details == {"version": 2, "risk": "none"}
    assert events.get(action="change.save").details == {"revision": 2}


@pytest.mark.parametrize("close", ["reject", "withdraw"])
def test_closing_a_change_writes_its_audit_event(agent, editor, reviewer, close):
    change = propose(editor, NEW_DESCRIPTION, agent)

    if close == "reject":
        change.reject(reviewer)
    else:
        change.withdraw(editor)

    actor = "reviewer" if close == "reject" else "editor"
    assert actions(change)[-1] == (f"change.{close}", actor)


def test_an_audit_event_cannot_be_changed_or_deleted(agent, editor):
    change = propose(editor, NEW_DESCRIPTION, agent)
    event = AuditEvent.objects.get(action="change.create")

    event.action = "change.nothing"
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.get(pk=event.pk).save()
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()

    assert AuditEvent.objects.get(pk=event.pk).action == "change.create"
    assert actions(change)[0] == ("change.create", "editor")


@pytest.mark.parametrize(
    "change_all",
    [
        lambda events: events.update(action="change.nothing"),
        lambda events: events.filter(action="change.create").update(actor_name="someone"),
        lambda events: events.delete(),
        lambda events: events.filter(action="change.submit").delete(),
    ],
    ids=["update", "filtered-update", "delete", "filtered-delete"],
)
def test_audit_events_cannot_be_changed_or_deleted_in_bulk(agent, editor, change_all):
    change = propose(editor, NEW_DESCRIPTION, agent)
    before = actions(change)

    with pytest.raises(AuditLogIsAppendOnly):
        change_all(AuditEvent.objects.all())

    assert actions(change) == before == [("change.create", "editor"), ("change.submit", "editor")]


# --- Publishing after the live version moved --------------------------------------------------

BOTH = agent_text(description="Does one thing very well.", focus="- **Two things**: done well\n")


@pytest.fixture
def third_editor(make_user):
    return make_user("third-editor", "Editors")


def test_changes_to_different_parts_are_merged_into_a_revision_needing_a_fresh_approval(
    agent, editor, other_editor, reviewer
):
    description = propose(editor, NEW_DESCRIPTION, agent)
    focus = propose(other_editor, NEW_FOCUS, agent)
    description.approve(reviewer)
    agent.refresh_from_db()
    moved = agent.live_version

    focus.approve(reviewer, seen_hash=focus.text_hash)

    focus.refresh_from_db()
    assert focus.status == Status.OPEN
    assert focus.revision == 2
    assert focus.base_version == moved
    assert focus.text == BOTH
    assert focus.text_hash == text_hash(BOTH)
    assert focus.conflicts == []
    assert focus.valid_approvals().count() == 0
    assert sum(review.is_stale for review in focus.reviews.all()) == 1
    note = focus.comments.get()
    assert note.author is None
    assert "merged into a new revision" in note.body
    assert ("change.merge", "reviewer") in actions(focus)
    assert live_text(agent) == NEW_DESCRIPTION
    assert agent.live_version.number == 2
    assert list(ChangeRequest.objects.waiting_for(reviewer)) == [focus]

    focus.approve(reviewer, seen_hash=focus.text_hash)

    agent.refresh_from_db()
    assert focus.status == Status.PUBLISHED
    assert agent.live_version.number == 3
    assert agent.live_version.text == BOTH
    assert agent.live_version.parent == moved
    assert focus.published_version == agent.live_version


def test_changes_to_the_same_part_are_a_conflict_and_publish_nothing(
    agent, editor, other_editor, reviewer
):
    first = propose(editor, NEW_DESCRIPTION, agent)
    second = propose(other_editor, agent_text(description="Does one thing, carefully."), agent)
    first.approve(reviewer)

    second.approve(reviewer)

    second.refresh_from_db()
    agent.refresh_from_db()
    assert second.status == Status.CHANGES_REQUESTED
    assert second.conflicts == ["frontmatter key 'description'"]
    assert second.published_version is None
    assert second.text == agent_text(description="Does one thing, carefully.")
    assert agent.live_version.number == 2
    assert agent.live_version.text == NEW_DESCRIPTION
    note = second.comments.get()
    assert note.author is None
    assert "frontmatter key 'description'" in note.body
    assert ("change.conflict", "reviewer") in actions(second)
    assert list(ChangeRequest.objects.waiting_for(other_editor)) == [second]
    assert "resolve the conflict" in second.next_actor()
    assert "publish" not in second.allowed_actions(reviewer)
    with pytest.raises(WorkflowError) as refused:
        second.submit(other_editor)
    assert "resolve the conflict" in str(refused.value)


def test_a_conflict_resolved_with_rebase_is_based_on_the_live_version_and_publishes(
    agent, editor, other_editor, reviewer
):
    first = propose(editor, NEW_DESCRIPTION, agent)
    second = propose(other_editor, agent_text(description="Does one thing, carefully."), agent)
    first.approve(reviewer)
    second.approve(reviewer)
    second.refresh_from_db()
    agent.refresh_from_db()
    resolved = agent_text(description="Does one thing very well, carefully.")

    second.save_text(resolved, "Both descriptions", second.revision, rebase=True)

    assert second.conflicts == []
    assert second.base_version == agent.live_version
    assert second.status == Status.CHANGES_REQUESTED
    second.submit(other_editor)
    second.approve(reviewer, seen_hash=text_hash(resolved))
    agent.refresh_from_db()
    assert second.status == Status.PUBLISHED
    assert agent.live_version.number == 3
    assert agent.live_version.text == resolved


def test_a_conflict_resolved_against_a_live_version_that_moved_again_is_merged_again(
    agent, editor, other_editor, third_editor, reviewer
):
    first = propose(editor, NEW_DESCRIPTION, agent)
    second = propose(other_editor, agent_text(description="Does one thing, carefully."), agent)
    first.approve(reviewer)
    second.approve(reviewer)
    second.refresh_from_db()
    agent.refresh_from_db()
    # The author opens the conflict in the editor on version 2 ...
    opened_on = agent.live_version
    resolved = agent_text(description="Does one thing very well, carefully.")
    # ... while someone else's change to another part is published as version 3.
    propose(third_editor, BOTH, agent).approve(reviewer)
    assert live_text(agent) == BOTH

    second.save_text(resolved, "Both descriptions", second.revision, rebase=opened_on)
    second.submit(other_editor)
    second.approve(reviewer)

    second.refresh_from_db()
    assert second.status == Status.OPEN
    assert second.base_version.number == 3
    assert live_text(agent) == BOTH
    second.approve(reviewer)
    agent.refresh_from_db()
    assert agent.live_version.number == 4
    assert agent.live_version.text == agent_text(
        description="Does one thing very well, carefully.",
        focus="- **Two things**: done well\n",
    )


def test_an_archive_proposed_before_an_edit_needs_a_fresh_approval(
    agent, editor, other_editor, reviewer
):
    archive = ChangeRequest.propose_archive(agent, editor)
    archive.submit(editor)
    propose(other_editor, NEW_DESCRIPTION, agent).approve(reviewer)

    archive.approve(reviewer)

    archive.refresh_from_db()
    agent.refresh_from_db()
    assert archive.status == Status.OPEN
    assert not agent.archived
    archive.approve(reviewer)
    agent.refresh_from_db()
    assert agent.archived
    assert agent.live_version.text == NEW_DESCRIPTION
