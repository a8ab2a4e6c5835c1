"""POST /hooks/git: a signed delivery queues a fetch; anything else queues nothing."""

import hashlib
import hmac
import json

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registry.models import Agent
from registry.sync.repository import push_waiting
from tests.test_repository_push import (  # noqa: F401 (fixtures)
    OTHER,
    remote,
    someone_pushes,
    work_the_queue,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("isolated_git")]

SECRET = "webhook-secret-123"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()


@pytest.fixture
def hooked(remote, settings):  # noqa: F811
    settings.REGISTRY_GIT_WEBHOOK_SECRET = SECRET
    return remote


def github(body: bytes, secret: str = SECRET) -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def deliver(client, body=PUSH, **headers):
    return client.post("/hooks/git", body, content_type="application/json", headers=headers)


def queued() -> int:
    return DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()


def test_a_signed_github_delivery_queues_one_sync_and_a_replay_no_second(client, hooked):
    response = deliver(client, **github(PUSH))

    assert response.status_code == 202
    assert queued() == 1
    assert deliver(client, **github(PUSH)).status_code == 202  # delivered again
    assert queued() == 1


def test_gitlab_and_gitea_deliveries_are_verified_too(client, hooked):
    assert deliver(client, **{"X-Gitlab-Token": SECRET}).status_code == 202
    digest = hmac.new(SECRET.encode(), PUSH, hashlib.sha256).hexdigest()
    DBTaskResult.objects.all().delete()
    assert deliver(client, **{"X-Gitea-Signature": digest}).status_code == 202
    assert queued() == 1


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 401),
        (github(PUSH, "another-secret"), 403),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
        ({"X-Gitlab-Token": "guess"}, 403),
        ({"X-Gitea-Signature": "zz"}, 403),
        (github(b"a different body"), 403),
    ],
    ids=["unsigned", "other secret", "zeros", "gitlab guess", "gitea garbage", "other body"],
)
def test_a_delivery_without_the_right_signature_queues_nothing(client, hooked, headers, status):
    response = deliver(client, **headers)

    assert response.status_code == status
    assert response.json()["message"]
    assert queued() == 0


def test_a_huge_body_is_refused_before_it_is_read(client, hooked):
    body = b"{" + b" " * (2 * 1024 * 1024) + b"}"

    response = deliver(client, body, **github(body))

    assert response.status_code == 413
    assert queued() == 0


def test_a_push_to_another_branch_and_a_ping_queue_nothing(client, hooked):
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    assert deliver(client, other, **github(other)).status_code == 202
    ping = {**github(PUSH), "X-GitHub-Event": "ping"}
    assert deliver(client, **ping).status_code == 200
    assert queued() == 0


def test_without_a_secret_there_is_no_webhook(client, remote, settings):  # noqa: F811
    settings.REGISTRY_GIT_WEBHOOK_SECRET = ""

    assert deliver(client, **github(PUSH)).status_code == 404
    assert client.get("/hooks/git").status_code == 405
    assert queued() == 0


def test_a_commit_pushed_by_someone_else_is_the_next_version_after_the_webhook(
    client, hooked, tmp_path
):
    push_waiting()  # the registry's first sync: where it starts from
    theirs = OTHER.replace("Does everything else.", "Changed by someone else.")
    someone_pushes(hooked, tmp_path, {"agents/other-agent.md": theirs}, "Reword other-agent")

    assert deliver(client, **github(PUSH)).status_code == 202
    work_the_queue()

    version = Agent.objects.get(name="other-agent").live_version
    assert (version.number, version.text) == (2, theirs)
    assert version.message.startswith("Reword other-agent")
