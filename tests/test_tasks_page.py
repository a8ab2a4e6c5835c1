"""The Tasks and Repository pages: maintainers see the background work, retry what failed,
and push now."""

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registry.models import AuditEvent, Push, RepositoryState, TaskProgress
from registry.tasks import enqueue_sync, sync_repository

pytestmark = pytest.mark.django_db


@pytest.fixture
def unreachable(settings, tmp_path):
    settings.REGISTRY_GIT_REMOTE = "https://deploy:s3cret-pass@127.0.0.1:9/team.git"
    settings.REGISTRY_DATA_DIR = tmp_path / "data"


def run_one(result):
    """What a worker does with one queued task."""
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["default"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=1, worker_id="test", excluded_queue_names=[],
    )  # fmt: skip
    row = DBTaskResult.objects.get(pk=result.id)
    row.claim("test")
    worker.run_task(row)
    return DBTaskResult.objects.get(pk=result.id)


def test_the_tasks_page_says_what_to_do_when_nothing_ran(maintainer_client):
    response = maintainer_client.get("/tasks/")

    assert response.status_code == 200
    assert "No background task has run yet" in response.text
    assert "manage.py worker" in response.text


def test_a_failed_sync_shows_its_error_without_secrets_and_can_be_retried(
    maintainer_client, unreachable
):
    failed = run_one(enqueue_sync())
    assert failed.status == TaskResultStatus.FAILED

    page = maintainer_client.get("/tasks/").text

    assert "Repository sync" in page
    assert "Failed" in page
    assert "cannot be reached" in page
    assert "s3cret-pass" not in page
    assert f"/tasks/{failed.id}/retry/" in page

    ready_before = DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()
    response = maintainer_client.post(f"/tasks/{failed.id}/retry/")

    assert response.status_code == 302
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == ready_before + 1
    assert AuditEvent.objects.filter(action="tasks.retry").exists()


def test_only_a_failed_task_is_retried(maintainer_client, unreachable):
    waiting = enqueue_sync()

    response = maintainer_client.post(f"/tasks/{waiting.id}/retry/", follow=True)

    assert "Only a failed task can be tried again." in response.text
    assert DBTaskResult.objects.count() == 1


def test_the_tasks_page_polls_while_a_task_waits_and_stops_after(maintainer_client):
    result = enqueue_sync()  # no repository configured: the sync has nothing to do
    assert 'hx-trigger="every 3s"' in maintainer_client.get("/tasks/").text

    assert run_one(result).status == TaskResultStatus.SUCCESSFUL

    fragment = maintainer_client.get("/tasks/", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<section id="results"')
    assert "Successful" in fragment
    assert 'hx-trigger="every 3s"' not in fragment


def test_the_repository_page_without_a_remote_says_how_to_set_one(maintainer_client):
    page = maintainer_client.get("/repository/").text

    assert "No repository is configured" in page
    assert "REGISTRY_GIT_REMOTE" in page


def test_the_repository_page_shows_the_remote_without_its_password_and_the_last_error(
    maintainer_client, unreachable
):
    run_one(enqueue_sync())

    page = maintainer_client.get("/repository/").text

    assert "https://deploy@127.0.0.1:9/team.git" in page
    assert "s3cret-pass" not in page
    assert "The last sync failed" in page
    assert "cannot be reached" in page


def test_push_now_queues_a_sync_even_when_one_waits(maintainer_client, unreachable):
    enqueue_sync()

    response = maintainer_client.post("/repository/push/", follow=True)

    assert "A sync is queued" in response.text
    assert DBTaskResult.objects.filter(task_path=sync_repository.module_path).count() == 2


def test_accepting_a_rewritten_branch_asks_for_confirmation(maintainer_client, unreachable):
    RepositoryState.current()
    RepositoryState.saw("a" * 40)

    refused = maintainer_client.post("/repository/accept-history/", follow=True)
    assert "Not accepted" in refused.text
    assert RepositoryState.current().last_seen_commit == "a" * 40

    maintainer_client.post("/repository/accept-history/", {"confirm": "yes"})
    assert RepositoryState.current().last_seen_commit == ""


def test_waiting_pushes_are_listed_with_their_changes(maintainer_client, unreachable, make_user):
    from registry.models import Agent, ChangeRequest
    from tests.helpers import DEMO, run

    assert run("import_agents", DEMO)[0] == 0
    editor, reviewer = make_user("ed", "Editors"), make_user("rex", "Reviewers")
    changes = []
    for agent in Agent.objects.order_by("path")[:2]:
        text = agent.live_version.text.replace("\n# ", "\nA new first line.\n\n# ", 1)
        change = ChangeRequest.start_draft(author=editor, text=text, agent=agent)
        change.submit(editor)
        change.approve(reviewer)
        changes.append(change)
    assert Push.objects.waiting().count() == 2

    page = maintainer_client.get("/repository/").text

    assert "2 changes waiting to be pushed" in page
    for change in changes:
        assert f"/changes/{change.pk}/" in page
        assert change.agent.path in page


WITH_EXAMPLES = ["Focus Areas", "Boundaries", "Delegate To", "Examples"]


@pytest.fixture
def demo(demo_folder):
    from django.core.management import call_command

    call_command("import_agents", str(demo_folder))


@pytest.fixture
def worker_start(monkeypatch):
    """`manage.py worker` up to where django-tasks-db's worker loop would begin."""
    from django.core.management import call_command
    from django_tasks_db.management.commands.db_worker import Command

    monkeypatch.setattr(Command, "handle", lambda self, *args, **options: None)
    return lambda: call_command("worker", verbosity=0)


def test_a_worker_started_under_new_rules_rechecks_the_agents(demo, settings, worker_start):
    from registry.models import Agent
    from registry.tasks import recheck_agents

    settings.REGISTRY_REQUIRED_SECTIONS = WITH_EXAMPLES
    assert Agent.objects.stale_versions().count() == 3

    worker_start()
    worker_start()  # a second worker: the recheck is queued once

    (queued,) = DBTaskResult.objects.filter(task_path=recheck_agents.module_path)
    result = run_one(queued)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"rechecked": 3, "with_errors": 3}
    assert not Agent.objects.stale_versions().exists()
    assert Agent.objects.filter(error_count=1).count() == 3
    # Its progress was written as it went: every version, under its label.
    progress = TaskProgress.objects.get(task_id=result.id)
    assert (progress.label, progress.done, progress.total) == ("Rechecking versions", 3, 3)


def test_a_worker_started_under_the_same_rules_queues_no_recheck(demo, worker_start):
    worker_start()

    assert not DBTaskResult.objects.exists()


def test_a_maintainer_queues_a_recheck_of_every_agent_once(demo, maintainer_client):
    from registry.models import Agent, Version
    from registry.tasks import recheck_agents

    page = maintainer_client.get("/tasks/").text
    assert 'action="/tasks/recheck/"' in page

    first = maintainer_client.post("/tasks/recheck/", follow=True)
    second = maintainer_client.post("/tasks/recheck/", follow=True)

    assert "A recheck of every agent is queued" in first.text
    assert "A recheck is queued already." in second.text
    (queued,) = DBTaskResult.objects.filter(task_path=recheck_agents.module_path)
    assert queued.args_kwargs["kwargs"] == {"everything": True}
    assert AuditEvent.objects.filter(action="tasks.recheck").count() == 1
    # Every version is found again, even under the rules that found it.
    assert not Agent.objects.stale_versions().exists()
    done = run_one(queued)
    assert done.return_value == {"rechecked": Version.objects.count(), "with_errors": 0}
    assert Agent.objects.filter(error_count=0).count() == 3
    assert (
        "3 versions rechecked; 0 active agents with errors" in maintainer_client.get("/tasks/").text
    )


def test_a_reader_cannot_start_a_recheck(reader):
    response = reader.post("/tasks/recheck/")

    assert response.status_code == 403
    assert not DBTaskResult.objects.exists()


def test_a_running_task_shows_its_progress(maintainer_client):
    from django.utils import timezone

    result = enqueue_sync()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now()
    )
    TaskProgress.objects.create(
        task_id=result.id, label="Taking in the repository's changes", done=40, total=160
    )

    tasks = maintainer_client.get("/tasks/", headers={"HX-Request": "true"}).text
    repository = maintainer_client.get("/repository/").text

    assert '<progress max="160" value="40">25%</progress>' in tasks
    assert "Taking in the repository&#x27;s changes: 40 of 160" in tasks
    assert 'hx-trigger="every 3s"' in tasks  # it follows the task until it ends
    assert "No repository is configured" in repository  # the page needs one to show syncs
