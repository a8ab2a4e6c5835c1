"""Who may do what: every role against every action, and URLs that name another object."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from registry.models import Agent, AuditEvent, ChangeRequest, Comment, Review
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import DEMO, DEMO_NAMES, agent_text

pytestmark = pytest.mark.django_db

LOGIN, DENIED, OK = "sign-in", "403", "allowed"
ROLES = ("anonymous", "no role", "author", "editor", "reviewer", "maintainer", "superuser")

# Each row: what each role gets, in the order of ROLES. "author" is an editor who wrote the
# changes acted on; "editor" is another editor. In "approve own change" every signed-in role
# acts on a change it wrote itself: nobody approves their own change, superusers included.
MATRIX = {
    #                              anon.   no role author  editor  review. maint.  super.
    "view change":                (LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    "view review queue":          (LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    "view history":               (LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    "compare versions":           (LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    "open the editor":            (LOGIN,  OK,     OK,     OK,     OK,     OK,     OK),
    "propose an edit":            (LOGIN,  DENIED, OK,     OK,     DENIED, OK,     OK),
    "save the draft":             (LOGIN,  DENIED, OK,     DENIED, DENIED, DENIED, DENIED),
    "submit":                     (LOGIN,  DENIED, OK,     DENIED, DENIED, DENIED, DENIED),
    "approve":                    (LOGIN,  DENIED, DENIED, DENIED, OK,     OK,     OK),
    "approve own change":         (LOGIN,  DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    "request changes":            (LOGIN,  DENIED, DENIED, DENIED, OK,     OK,     OK),
    "reject":                     (LOGIN,  DENIED, DENIED, DENIED, OK,     OK,     OK),
    "withdraw":                   (LOGIN,  DENIED, OK,     DENIED, DENIED, DENIED, DENIED),
    "publish":                    (LOGIN,  DENIED, DENIED, DENIED, OK,     OK,     OK),
    "comment":                    (LOGIN,  DENIED, OK,     OK,     OK,     OK,     OK),
    "restore a version":          (LOGIN,  DENIED, OK,     OK,     DENIED, OK,     OK),
    "archive the agent":          (LOGIN,  DENIED, OK,     OK,     DENIED, OK,     OK),
    "read the audit log":         (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    "check repository drift":     (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    "import from the repository": (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    "see the repository":         (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    "push now":                   (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    "accept a rewritten branch":  (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
    "see the tasks":              (LOGIN,  DENIED, DENIED, DENIED, DENIED, OK,     OK),
}  # fmt: skip


@dataclass
class World:
    """An agent with two versions and changes by the author in every state acted on."""

    actor: object  # the user acting, None when anonymous
    agent: Agent
    draft: ChangeRequest
    open: ChangeRequest
    approved: ChangeRequest
    own: ChangeRequest  # open for review, written by the actor

    def fresh(self, change: ChangeRequest) -> ChangeRequest:
        return ChangeRequest.objects.get(pk=change.pk)


def edited(agent: Agent, description: str) -> str:
    return agent.live_version.text.replace(
        agent.live_version.text.splitlines()[2], f"description: {description}"
    )


def make_world(role: str, user) -> World:
    """user: the make_user fixture."""
    author = user("ada", "Editors")
    helper = user("hal", "Reviewers")
    actors = {
        "anonymous": None,
        "no role": user("nora"),
        "author": author,
        "editor": user("ed", "Editors"),
        "reviewer": user("rex", "Reviewers"),
        "maintainer": user("max", "Maintainers"),
        "superuser": user("root", is_superuser=True, is_staff=True),
    }
    import_files(
        [
            IncomingFile(f"agents/{name}.md", (DEMO / f"{name}.md").read_bytes())
            for name in DEMO_NAMES
        ]
    )
    agent = Agent.objects.get(name="backend-architect")
    agent.add_version(edited(agent, "Version two."), author, "Two")
    agent.refresh_from_db()

    def change(by, status, description):
        made = ChangeRequest.start_draft(author=by, text=edited(agent, description), agent=agent)
        ChangeRequest.objects.filter(pk=made.pk).update(status=status)
        made.refresh_from_db()
        return made

    approved = change(author, ChangeRequest.Status.APPROVED, "Approved.")
    Review.objects.create(
        change=approved,
        reviewer=helper,
        verdict=Review.Verdict.APPROVE,
        text_hash=approved.text_hash,
        revision=approved.revision,
    )
    actor = actors[role]
    return World(
        actor=actor,
        agent=agent,
        draft=change(author, ChangeRequest.Status.DRAFT, "A draft."),
        open=change(author, ChangeRequest.Status.OPEN, "Open."),
        approved=approved,
        own=change(actor or author, ChangeRequest.Status.OPEN, "My own."),
    )


@dataclass(frozen=True)
class Action:
    method: str
    url: Callable[[World], str]
    data: Callable[[World], dict] = lambda world: {}
    # For a POST: whether it took effect (it must exactly when allowed); None: not checked.
    done: Callable[[World], bool] | None = None


def status(change_of: Callable[[World], ChangeRequest], expected: str):
    return lambda world: world.fresh(change_of(world)).status == expected


def reviewed_by_actor(change_of: Callable[[World], ChangeRequest]):
    return lambda world: Review.objects.filter(
        change=change_of(world), reviewer=world.actor
    ).exists()


def editor_url(world: World) -> str:
    return f"/agents/{world.agent.key}/edit/"


ACTIONS = {
    "view change": Action("get", lambda w: f"/changes/{w.open.pk}/"),
    "view review queue": Action("get", lambda w: "/changes/"),
    "view history": Action("get", lambda w: f"/agents/{w.agent.key}/history/"),
    "compare versions": Action("get", lambda w: f"/agents/{w.agent.key}/compare/?a=1&b=2"),
    "open the editor": Action("get", lambda w: f"{editor_url(w)}?change={w.draft.pk}"),
    "propose an edit": Action(
        "post",
        editor_url,
        lambda w: {"mode": "raw", "text": edited(w.agent, "New."), "action": "save"},
        lambda w: ChangeRequest.objects.filter(text__contains="description: New.").exists(),
    ),
    "save the draft": Action(
        "post",
        editor_url,
        lambda w: {
            "mode": "raw",
            "text": edited(w.agent, "Saved."),
            "change": w.draft.pk,
            "revision": w.draft.revision,
            "action": "save",
        },
        lambda w: "description: Saved." in w.fresh(w.draft).text,
    ),
    "submit": Action(
        "post",
        lambda w: f"/changes/{w.draft.pk}/submit/",
        done=status(lambda w: w.draft, ChangeRequest.Status.OPEN),
    ),
    "approve": Action(
        "post",
        lambda w: f"/changes/{w.open.pk}/approve/",
        lambda w: {"seen_hash": w.open.text_hash},
        reviewed_by_actor(lambda w: w.open),
    ),
    "approve own change": Action(
        "post",
        lambda w: f"/changes/{w.own.pk}/approve/",
        lambda w: {"seen_hash": w.own.text_hash},
        reviewed_by_actor(lambda w: w.own),
    ),
    "request changes": Action(
        "post",
        lambda w: f"/changes/{w.open.pk}/request_changes/",
        lambda w: {"seen_hash": w.open.text_hash, "note": "More."},
        status(lambda w: w.open, ChangeRequest.Status.CHANGES_REQUESTED),
    ),
    "reject": Action(
        "post",
        lambda w: f"/changes/{w.open.pk}/reject/",
        done=status(lambda w: w.open, ChangeRequest.Status.REJECTED),
    ),
    "withdraw": Action(
        "post",
        lambda w: f"/changes/{w.open.pk}/withdraw/",
        done=status(lambda w: w.open, ChangeRequest.Status.WITHDRAWN),
    ),
    "publish": Action(
        "post",
        lambda w: f"/changes/{w.approved.pk}/publish/",
        done=status(lambda w: w.approved, ChangeRequest.Status.PUBLISHED),
    ),
    "comment": Action(
        "post",
        lambda w: f"/changes/{w.open.pk}/comment/",
        lambda w: {"body": "A remark."},
        lambda w: Comment.objects.filter(body="A remark.").exists(),
    ),
    "restore a version": Action(
        "post",
        lambda w: f"/agents/{w.agent.key}/versions/1/restore/",
        done=lambda w: ChangeRequest.objects.filter(kind=ChangeRequest.Kind.RESTORE).exists(),
    ),
    "archive the agent": Action(
        "post",
        lambda w: f"/agents/{w.agent.key}/archive/",
        done=lambda w: ChangeRequest.objects.filter(kind=ChangeRequest.Kind.ARCHIVE).exists(),
    ),
    "read the audit log": Action("get", lambda w: "/audit/"),
    "check repository drift": Action("get", lambda w: "/drift/"),
    # No repository is configured: allowed, it only says so.
    "import from the repository": Action(
        "post", lambda w: "/drift/import/", lambda w: {"path": "agents/backend-architect.md"}
    ),
    "see the repository": Action("get", lambda w: "/repository/"),
    # No repository is configured: allowed, it only says so.
    "push now": Action("post", lambda w: "/repository/push/"),
    "accept a rewritten branch": Action(
        "post",
        lambda w: "/repository/accept-history/",
        lambda w: {"confirm": "yes"},
        lambda w: AuditEvent.objects.filter(action="repository.accept_history").exists(),
    ),
    "see the tasks": Action("get", lambda w: "/tasks/"),
}

CASES = [
    pytest.param(action, role, expected, id=f"{action}, {role}")
    for action, outcomes in MATRIX.items()
    for role, expected in zip(ROLES, outcomes, strict=True)
]


def test_every_action_is_in_the_matrix():
    assert set(ACTIONS) == set(MATRIX)


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_authorization_matrix(action, role, expected, make_user):
    world = make_world(role, make_user)
    step = ACTIONS[action]
    client = Client()
    if world.actor is not None:
        client.force_login(world.actor)
    url = step.url(world)

    response = client.get(url) if step.method == "get" else client.post(url, step.data(world))

    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    elif expected == DENIED:
        assert response.status_code == 403
    else:
        assert response.status_code == (200 if step.method == "get" else 302)
        if step.method == "post":
            assert not response["Location"].startswith("/accounts/login/")
    if step.done is not None:
        assert step.done(world) == (expected == OK)


# --- URLs naming another object ------------------------------------------------------------------


@pytest.fixture
def two_agents():
    report = import_files(
        [
            IncomingFile("agents/one.md", agent_text("agent-one").encode()),
            IncomingFile("agents/two.md", agent_text("agent-two").encode()),
            IncomingFile("agents/other.md", agent_text("other-agent").encode()),
        ]
    )
    assert report.stored
    one = Agent.objects.get(name="agent-one")
    one.add_version(agent_text("agent-one", "Second version."), None, "Two")
    return one, Agent.objects.get(name="agent-two")


def test_an_id_changed_in_a_url_never_reaches_another_objects_actions(two_agents, make_user):
    one, two = two_agents
    ada = make_user("ada", "Editors")
    eve = make_user("eve", "Editors")
    adas = ChangeRequest.start_draft(author=ada, text=agent_text("agent-one", "Ada's."), agent=one)
    adas.submit(ada)
    eves = ChangeRequest.start_draft(author=eve, text=agent_text("agent-two", "Eve's."), agent=two)
    client = Client()
    client.force_login(eve)

    withdraw = client.post(f"/changes/{adas.pk}/withdraw/")
    submit = client.post(f"/changes/{adas.pk}/submit/")
    own = client.post(f"/changes/{eves.pk}/comment/", {"body": "Mine."})
    # Ada's change number in the other agent's editor, or in the editor of its own agent.
    other_agents_editor = client.get(f"/agents/{two.key}/edit/?change={adas.pk}")
    hijack = {"mode": "raw", "change": adas.pk, "revision": adas.revision, "action": "save"}
    save_into_adas = client.post(
        f"/agents/{two.key}/edit/", {**hijack, "text": agent_text("agent-two", "Hijack.")}
    )
    save_through_adas_agent = client.post(
        f"/agents/{one.key}/edit/", {**hijack, "text": agent_text("agent-one", "Hijack.")}
    )
    restore_other_agents_version = client.post(f"/agents/{two.key}/versions/2/restore/")
    compare_other_agents_version = client.get(f"/agents/{two.key}/compare/?a=1&b=2")
    missing_change = client.post("/changes/999999/withdraw/")

    adas.refresh_from_db()
    assert withdraw.status_code == 403
    assert submit.status_code == 403
    assert own.status_code == 302
    assert other_agents_editor.status_code == 404
    assert save_into_adas.status_code == 404
    assert save_through_adas_agent.status_code == 403
    assert restore_other_agents_version.status_code == 404
    assert compare_other_agents_version.status_code == 404
    assert missing_change.status_code == 404
    assert adas.status == ChangeRequest.Status.OPEN
    assert adas.revision == 1
    assert "Hijack" not in adas.text
    assert not ChangeRequest.objects.filter(kind=ChangeRequest.Kind.RESTORE).exists()
