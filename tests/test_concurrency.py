"""Concurrent reviewers and editors, in real threads against the real database."""

import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connection

from registry.agentfiles.document import AgentDocument
from registry.models import Agent, ChangeRequest, SaveConflict, Version, WorkflowError, text_hash
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db(transaction=True)

Status = ChangeRequest.Status

OTHER = agent_text(
    "other-agent", "Does everything else.", delegate_to="- **agent-one** — for the one thing\n"
)
# Keys each writer of the many-writers test owns; two writers share "shared", so they conflict.
OWN_KEYS = [f"key{number}" for number in range(6)]
WRITER_KEYS = [*OWN_KEYS, "shared", "shared"]
ROUNDS = 5
ORIGINAL = agent_text(extra="".join(f"{key}: start\n" for key in [*OWN_KEYS, "shared"]))


@pytest.fixture
def agent():
    report = import_files(
        [
            IncomingFile("agents/agent-one.md", ORIGINAL.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    )
    assert report.stored and not report.with_errors
    return Agent.objects.get(path="agents/agent-one.md")


@pytest.fixture
def editor(make_user):
    return make_user("editor", "Editors")


@pytest.fixture
def reviewers(make_user):
    return [make_user(f"reviewer-{number}", "Reviewers") for number in range(2)]


def run_together(*setups, timeout=60):
    """Run each setup in its own thread (with its own connection); each returns an action,
    and the actions start together, released by a barrier. Returns (result, exception) for
    each action, in order."""
    barrier = threading.Barrier(len(setups))
    outcomes = [(None, None)] * len(setups)

    def run(index, setup):
        try:
            action = setup()
            barrier.wait(timeout=10)
            outcomes[index] = (action(), None)
        except Exception as error:  # reported to the test, which decides
            outcomes[index] = (None, error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(setups)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def reviewer_ready(pk) -> User:
    """The reviewer, with the permissions already read, so that the action is all that is left."""
    reviewer = User.objects.get(pk=pk)
    assert reviewer.has_perm("registry.review_change")
    return reviewer


def set_key(text: str, key: str, value: str) -> str:
    return AgentDocument(text).with_frontmatter_value(key, value).text


def key_value(text: str, key: str) -> str:
    return AgentDocument(text).frontmatter[key]


def submitted(author, agent, text) -> ChangeRequest:
    agent = Agent.objects.select_related("live_version").get(pk=agent.pk)
    change = ChangeRequest.start_draft(author=author, text=text, agent=agent)
    change.submit(author)
    return change


# --- Reviewers at once ------------------------------------------------------------------------


def test_two_reviewers_approving_at_once_publish_once(agent, editor, reviewers):
    for attempt in range(5):
        text = set_key(Agent.objects.get(pk=agent.pk).live_version.text, "key0", f"v{attempt}")
        change = submitted(editor, agent, text)
        before = Version.objects.filter(agent=agent).count()

        def approve(reviewer_pk, change_pk=change.pk, seen=change.text_hash):
            reviewer = reviewer_ready(reviewer_pk)
            change = ChangeRequest.objects.get(pk=change_pk)
            return lambda: change.approve(reviewer, seen_hash=seen)

        outcomes = run_together(*[lambda pk=user.pk: approve(pk) for user in reviewers])

        errors = [error for _, error in outcomes if error is not None]
        assert len(errors) == 1, errors
        # The second approval found the change already published.
        assert isinstance(errors[0], WorkflowError), errors
        assert "Published cannot be reviewed" in str(errors[0])
        change.refresh_from_db()
        assert change.status == Status.PUBLISHED
        assert change.reviews.count() == 1
        assert Version.objects.filter(agent=agent).count() == before + 1
        agent.refresh_from_db()
        assert agent.live_version == change.published_version
        assert agent.live_version.text == text


# --- An approval racing an edit ---------------------------------------------------------------


def test_an_approval_racing_an_edit_never_publishes_text_the_reviewer_did_not_see(
    agent, editor, reviewers
):
    outcomes_seen = {"approved first": 0, "edited first": 0}
    for attempt in range(10):
        live = Agent.objects.get(pk=agent.pk).live_version
        shown = set_key(live.text, "key1", f"shown-{attempt}")
        edited = set_key(live.text, "key1", f"edited-{attempt}")
        change = submitted(editor, agent, shown)
        revision, seen = change.revision, text_hash(shown)

        def approve(change_pk=change.pk, seen=seen):
            reviewer = reviewer_ready(reviewers[0].pk)
            change = ChangeRequest.objects.get(pk=change_pk)
            return lambda: change.approve(reviewer, seen_hash=seen)

        def edit(change_pk=change.pk, text=edited, revision=revision):
            change = ChangeRequest.objects.get(pk=change_pk)
            return lambda: change.save_text(text, "Second thoughts", revision)

        (_, approve_error), (_, edit_error) = run_together(approve, edit)

        change.refresh_from_db()
        agent.refresh_from_db()
        if change.status == Status.PUBLISHED:
            # The approval came first: exactly what the reviewer saw is live; the edit was refused.
            outcomes_seen["approved first"] += 1
            assert approve_error is None
            assert isinstance(edit_error, SaveConflict)
            assert agent.live_version.text == shown
            assert change.published_version == agent.live_version
        else:
            # The edit came first: the approval was refused or is stale; nothing was published.
            outcomes_seen["edited first"] += 1
            assert edit_error is None
            assert approve_error is None or isinstance(approve_error, WorkflowError)
            assert change.text == edited
            assert change.status == Status.OPEN
            assert change.valid_approvals().count() == 0
            assert agent.live_version == live
            change.withdraw(editor)
    print(f"\n[{connection.vendor}] approval racing an edit, 10 runs: {outcomes_seen}")


# --- Many writers, one agent ------------------------------------------------------------------


def test_concurrent_writers_lose_no_update(agent, editor, reviewers, make_user):
    authors = [make_user(f"writer-{number}", "Editors") for number in range(len(WRITER_KEYS))]
    counts = {"attempts": 0, "merges": 0, "conflicts": 0}
    lock = threading.Lock()
    # change pk -> (writer number, key, value it set, value it saw live when it set it)
    acknowledged: dict[int, tuple[int, str, str, str]] = {}

    def count(what):
        with lock:
            counts[what] += 1

    def write_rounds(number):
        author = User.objects.get(pk=authors[number].pk)
        reviewer = User.objects.get(pk=reviewers[number % len(reviewers)].pk)
        key = WRITER_KEYS[number]
        for round_number in range(ROUNDS):
            value = f"writer{number}-round{round_number}"
            current = Agent.objects.select_related("live_version").get(pk=agent.pk)
            live = current.live_version
            seen = key_value(live.text, key)
            change = ChangeRequest.start_draft(
                author=author, text=set_key(live.text, key, value), agent=current
            )
            change.submit(author)
            while True:
                count("attempts")
                change.approve(reviewer, seen_hash=change.text_hash)
                if change.status == Status.PUBLISHED:
                    with lock:
                        acknowledged[change.pk] = (number, key, value, seen)
                    break
                if change.status == Status.OPEN:
                    count("merges")
                    continue
                assert change.status == Status.CHANGES_REQUESTED, change.status
                assert change.conflicts == [f"frontmatter key {key!r}"], change.conflicts
                assert key == "shared", f"writer {number} conflicted on its own key"
                count("conflicts")
                # Resolve as an author would: take the live text, put this writer's value in.
                live = Agent.objects.select_related("live_version").get(pk=agent.pk).live_version
                seen = key_value(live.text, key)
                change.save_text(
                    set_key(live.text, key, value), "Resolved", change.revision, rebase=live
                )
                change.submit(author)

    started = time.monotonic()
    outcomes = run_together(
        *[lambda number=number: lambda: write_rounds(number) for number in range(len(WRITER_KEYS))],
        timeout=120,
    )
    elapsed = time.monotonic() - started
    failures = [error for _, error in outcomes if error is not None]
    assert not failures, failures

    versions = list(Version.objects.filter(agent=agent).order_by("number"))
    published = {
        change.published_version_id: change.pk
        for change in ChangeRequest.objects.filter(agent=agent, status=Status.PUBLISHED)
    }
    lost = []
    # Every acknowledged publish is its own version, numbered one after the other, each made
    # from the version before it, changing that writer's key only, from the value it saw.
    assert [version.number for version in versions] == list(range(1, len(versions) + 1))
    assert len(versions) == 1 + len(acknowledged) == 1 + len(WRITER_KEYS) * ROUNDS
    assert set(published.values()) == set(acknowledged)
    for parent, version in zip(versions, versions[1:], strict=False):
        number, key, value, seen = acknowledged[published[version.pk]]
        if version.parent_id != parent.pk:
            lost.append(f"v{version.number} was not made from v{parent.number}")
        if key_value(version.text, key) != value:
            lost.append(f"v{version.number} lacks writer {number}'s {key}={value}")
        if key_value(parent.text, key) != seen:
            lost.append(
                f"v{version.number} overwrote {key}={key_value(parent.text, key)} with {value}, "
                f"but writer {number} saw {key}={seen}"
            )
        if set_key(version.text, key, key_value(parent.text, key)) != parent.text:
            lost.append(f"v{version.number} changed more than writer {number}'s {key}")
    agent.refresh_from_db()
    if agent.live_version != versions[-1]:
        lost.append(f"v{agent.live_version.number} is live, not the last one published")
    final = versions[-1].text
    for number, key in enumerate(WRITER_KEYS):
        if key in OWN_KEYS and key_value(final, key) != f"writer{number}-round{ROUNDS - 1}":
            lost.append(f"live {key}={key_value(final, key)}, not writer {number}'s last round")
    if not key_value(final, "shared").endswith(f"-round{ROUNDS - 1}"):
        lost.append(f"live shared={key_value(final, 'shared')} is no writer's last round")

    figures = (
        f"[{connection.vendor}] {len(WRITER_KEYS)} writers x {ROUNDS} rounds: "
        f"{counts['attempts']} approvals attempted, {len(acknowledged)} published, "
        f"{counts['merges']} merged, {counts['conflicts']} conflicts reported, "
        f"{len(lost)} lost updates, in {elapsed:.1f} s"
    )
    print(f"\n{figures}")
    assert not lost, f"{figures}: {lost}"


# --- Two saves of one draft -------------------------------------------------------------------


def test_two_saves_of_the_same_draft_from_the_same_revision_one_conflicts(agent, editor):
    live = Agent.objects.get(pk=agent.pk).live_version
    change = ChangeRequest.start_draft(author=editor, text=live.text, agent=agent)
    saved = {"first": 0, "second": 0}
    for attempt in range(10):
        change.refresh_from_db()
        texts = [set_key(live.text, "key2", f"{side}-{attempt}") for side in ("first", "second")]

        def save(text, change_pk=change.pk, revision=change.revision):
            change = ChangeRequest.objects.get(pk=change_pk)
            return lambda: change.save_text(text, "Mine", revision)

        outcomes = run_together(*[lambda text=text: save(text) for text in texts])

        errors = [error for _, error in outcomes]
        assert sum(error is None for error in errors) == 1, errors
        winner = 0 if errors[0] is None else 1
        loser_error = errors[1 - winner]
        assert isinstance(loser_error, SaveConflict)
        # The conflict carries what the other save stored, for the diff the editor shows.
        assert loser_error.change.text == texts[winner]
        saved[("first", "second")[winner]] += 1
        change.refresh_from_db()
        assert change.revision == attempt + 2
        assert change.text == texts[winner]
    print(f"\n[{connection.vendor}] two saves of one draft, 10 runs, won: {saved}")
