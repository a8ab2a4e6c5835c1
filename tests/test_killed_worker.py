"""Workers killed with SIGKILL at random points of their syncs: the next one completes, and no
push is lost or made twice."""

import os
import random
import socket
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from registry.models import Agent, Push, RepositoryState
from tests.helpers import MANAGE, agent_text, git
from tests.test_repository_push import publish, remote, users  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("isolated_git")]

KILLS = 20
CHANGES_PER_ROUND = 5


def database_url() -> str:
    """The test database, for the worker processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def worker_environment(settings, tmp_path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REGISTRY_GIT_REMOTE": settings.REGISTRY_GIT_REMOTE,
        "REGISTRY_GIT_BRANCH": settings.REGISTRY_GIT_BRANCH,
        "REGISTRY_DATA_DIR": str(settings.REGISTRY_DATA_DIR),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "no-gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return env


def syncing(worker: subprocess.Popen) -> bool:
    """Whether worker's sync holds the repository."""
    owner = f"{socket.gethostname()}:{worker.pid}"
    return RepositoryState.objects.filter(pk=1, lease_owner=owner).exists()


def start_worker(env, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(MANAGE), "worker", "--no-reload", "--no-startup-delay", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_workers_killed_mid_sync_lose_and_double_nothing(remote, users, settings, tmp_path):  # noqa: F811
    env = worker_environment(settings, tmp_path)
    rng = random.Random(20261201)
    agent = Agent.objects.get(name="agent-one")
    published = []
    interrupted = advanced = 0
    for round_number in range(KILLS):
        for index in range(CHANGES_PER_ROUND):
            text = agent_text(description=f"Round {round_number}, change {index}.")
            published.append(publish(users, text, agent).pk)
        before = git(remote, "rev-parse", "main").strip()
        worker = start_worker(env, "--interval", "0.05")
        # Once its sync holds the repository, the worker dies at a random point of it.
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline and not syncing(worker) and Push.objects.waiting().exists()
        ):
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.35))
        interrupted += syncing(worker) and Push.objects.waiting().exists()
        worker.kill()
        worker.wait(timeout=30)
        advanced += git(remote, "rev-parse", "main").strip() != before

    # A worker left running: it syncs at once, and again after a back-off should a git the
    # killed ones left behind still hold a lock in the remote.
    started = timezone.now()
    finisher = start_worker(env, "--interval", "0.2")
    deadline = time.monotonic() + 120
    # Until nothing waits and the finisher has completed a sync of its own (it queues one as
    # it starts): the next run completes.
    while time.monotonic() < deadline and (
        Push.objects.waiting().exists()
        or not DBTaskResult.objects.filter(status="SUCCESSFUL", finished_at__gte=started).exists()
    ):
        time.sleep(0.2)
    finisher.terminate()
    assert finisher.wait(timeout=30) == 0

    assert Push.objects.waiting().count() == 0
    assert set(Push.objects.values_list("state", flat=True)) == {Push.State.PUSHED}
    changes = git(remote, "log", "--format=%(trailers:key=Registry-Change,valueonly)", "main")
    pushed = [int(line) for line in changes.splitlines() if line.strip()]
    assert sorted(pushed) == sorted(published)  # none lost
    assert len(pushed) == len(set(pushed))  # none twice
    assert list(reversed(pushed)) == published  # in the order published
    print(
        f"{KILLS} kills, {interrupted} in the middle of a sync, {advanced} after the remote "
        f"moved; {len(published)} pushes: 0 lost, 0 doubled"
    )
    assert interrupted >= 3, "too few kills landed in the middle of a sync"


def test_two_workers_at_once_take_each_task_once_and_push_each_change_once(
    remote,  # noqa: F811
    users,  # noqa: F811
    settings,
    tmp_path,
):
    env = worker_environment(settings, tmp_path)
    workers = [start_worker(env, "--interval", "0.05") for _ in range(2)]
    try:
        agent = Agent.objects.get(name="agent-one")
        published = []
        for number in range(12):
            text = agent_text(description=f"Change {number}, two workers.")
            published.append(publish(users, text, agent).pk)
            time.sleep(0.1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (
            Push.objects.waiting().exists()
            or DBTaskResult.objects.filter(status__in=["READY", "RUNNING"])
            .filter(run_after__year=9999)
            .exists()
        ):
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)

    changes = git(remote, "log", "--format=%(trailers:key=Registry-Change,valueonly)", "main")
    pushed = [int(line) for line in changes.splitlines() if line.strip()]
    assert list(reversed(pushed)) == published  # each once, in order
    ran = DBTaskResult.objects.exclude(status="READY")
    assert ran.count() >= 2
    assert all(len(result.worker_ids) == 1 for result in ran)  # each taken by one worker
    assert not ran.filter(status="FAILED").exists()
