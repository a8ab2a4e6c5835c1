"""The repository loop in a browser, with a real worker process: a reviewer approves a one-line
change and the remote soon has one new commit holding that line; a commit someone else pushes
comes back as the agent's next version once the webhook says so."""

import hashlib
import hmac
import json
import time

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from registry.models import Agent, ChangeRequest
from registry.sync.repository import push_waiting
from tests.helpers import DEMO, DEMO_NAMES, git, write
from tests.test_killed_worker import start_worker, worker_environment
from tests.test_repository_push import someone_pushes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "browser-webhook-secret"


@pytest.fixture
def remote(tmp_path, settings, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(bare), str(work))
    write(work, {f"agents/{name}.md": (DEMO / f"{name}.md").read_bytes() for name in DEMO_NAMES})
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "The team's agents")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    call_command("import_agents", work, verbosity=0)
    settings.REGISTRY_GIT_REMOTE = str(bare)
    settings.REGISTRY_DATA_DIR = tmp_path / "data"
    settings.REGISTRY_GIT_WEBHOOK_SECRET = SECRET
    push_waiting()  # the first sync: where the registry starts from
    return bare


@pytest.fixture
def worker(remote, settings, tmp_path):
    process = start_worker(worker_environment(settings, tmp_path), "--interval", "0.2")
    yield process
    process.terminate()
    process.wait(timeout=30)


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_an_approval_reaches_the_remote_and_a_remote_commit_comes_back(
    browser, page, live_server, sign_in, remote, worker, tmp_path, django_user_model
):
    from django.contrib.auth.models import Group

    editor = django_user_model.objects.create_user("edith", password="x")
    editor.groups.add(Group.objects.get(name="Editors"))
    agent = Agent.objects.get(name="backend-architect")
    old, new = "category: engineering", "category: platform"
    change = ChangeRequest.start_draft(
        author=editor, text=agent.live_version.text.replace(old, new, 1), agent=agent
    )
    change.submit(editor)
    before = git(remote, "rev-parse", "main").strip()

    sign_in(page, "rex", groups=("Reviewers",))
    page.goto(f"{live_server.url}/changes/{change.pk}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#change-status")).to_have_text("Published")

    assert wait_for(lambda: git(remote, "rev-parse", "main").strip() != before, 10)
    assert git(remote, "rev-list", "--count", f"{before}..main").strip() == "1"
    diff = git(remote, "show", "--format=", "--unified=0", "main").splitlines()
    assert [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")] == [
        f"-{old}",
        f"+{new}",
    ]
    trailers = git(remote, "log", "-1", "--format=%(trailers:only,unfold)", "main").splitlines()
    assert "Approved-by: rex" in trailers

    # Someone else pushes to the repository; its webhook tells the registry.
    performance = Agent.objects.get(name="performance-engineer")
    theirs = performance.live_version.text + "\nA closing note from the repository.\n"
    someone_pushes(remote, tmp_path, {"agents/performance-engineer.md": theirs}, "Add a note")
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    delivered = page.request.post(
        f"{live_server.url}/hooks/git",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert delivered.status == 202

    def came_back():
        performance.refresh_from_db()
        return performance.live_version.number == 2

    assert wait_for(came_back, 10)
    assert performance.live_version.text == theirs
    page.goto(f"{live_server.url}/agents/{performance.key}/history/")
    expect(page.get_by_text("Add a note (commit")).to_be_visible()
