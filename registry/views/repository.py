"""The Repository page (where the published changes go) and the Tasks page (the background
work), for maintainers."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registry.models import AuditEvent, Push, RepositoryState, TaskProgress
from registry.models.repository import repository_configured
from registry.sync.repository import redact, shown_remote
from registry.tasks import (
    TASK_LABELS,
    TASKS_BY_PATH,
    enqueue_recheck,
    enqueue_sync,
    run_import,
    sync_repository,
)
from registry.views.common import HtmxHttpRequest, _require_permission, _wants_fragment, _with_vary

TASKS_PER_PAGE = 50
RECENT_PUSHES = 20


def _is_active(result) -> bool:
    """Running, or due to run now: a page showing it follows it until it ends."""
    if result.status == TaskResultStatus.RUNNING:
        return True
    # A task queued without a time to run after has the largest date: it is due now.
    due = result.run_after.year == 9999 or result.run_after <= timezone.now()
    return result.status == TaskResultStatus.READY and due


def _require_maintainer(request, action: str) -> None:
    _require_permission(
        request,
        "registry.maintain_registry",
        action,
        "only maintainers can see and start the registry's background work",
    )


def commit_url(commit: str) -> str:
    base = settings.REGISTRY_GIT_WEB_URL
    return f"{base}/commit/{commit}" if base and commit else ""


def branch_url(branch: str) -> str:
    base = settings.REGISTRY_GIT_WEB_URL
    return f"{base}/tree/{branch}" if base and branch else ""


@require_GET
def repository_page(request: HtmxHttpRequest):
    _require_maintainer(request, "repository.view")
    pushes = Push.objects.select_related("change", "agent", "version")
    waiting = list(pushes.filter(state=Push.State.WAITING).order_by("pk"))
    conflicts = list(pushes.filter(state=Push.State.CONFLICT).order_by("-pk")[:RECENT_PUSHES])
    pushed = list(pushes.filter(state=Push.State.PUSHED).order_by("-pk")[:RECENT_PUSHES])
    for push in pushed:
        push.commit_url = commit_url(push.commit)
        push.branch_url = branch_url(push.branch)
    state = RepositoryState.current()
    syncs = DBTaskResult.objects.filter(task_path=sync_repository.module_path).order_by(
        "-enqueued_at"
    )
    context = {
        "configured": repository_configured(),
        "remote": shown_remote(),
        "branch": settings.REGISTRY_GIT_BRANCH,
        "subdir": settings.REGISTRY_GIT_SUBDIR,
        "mode": settings.REGISTRY_GIT_PUSH,
        "state": state,
        "last_error": redact(state.last_error),
        "last_push_url": commit_url(state.last_push_commit),
        "last_pulled_url": commit_url(state.last_pulled_commit),
        "fetch_seconds": settings.REGISTRY_GIT_FETCH_SECONDS,
        "webhook": bool(settings.REGISTRY_GIT_WEBHOOK_SECRET),
        "waiting": waiting,
        "conflicts": conflicts,
        "pushed": pushed,
        "syncs": _task_rows(syncs[:5]),
        "active": any(_is_active(result) for result in syncs[:5]),
    }
    template = "registry/repository.html"
    if _wants_fragment(request):
        template += "#status"
    return _with_vary(render(request, template, context))


@require_POST
def repository_push_now(request):
    _require_maintainer(request, "repository.push")
    if not repository_configured():
        messages.error(request, "No repository is configured: set REGISTRY_GIT_REMOTE.")
        return redirect("registry:repository")
    enqueue_sync(force=True)
    AuditEvent.record("repository.push_now", actor=request.user, request=request)
    messages.success(
        request, "A sync is queued: a worker fetches the repository and pushes what waits."
    )
    return redirect("registry:repository")


@require_POST
def repository_accept_history(request):
    _require_maintainer(request, "repository.accept_history")
    if request.POST.get("confirm") != "yes":
        messages.error(
            request, "Not accepted: tick the box that says you checked the branch's history."
        )
        return redirect("registry:repository")
    RepositoryState.accept_history()
    AuditEvent.record("repository.accept_history", actor=request.user, request=request)
    enqueue_sync(force=True)
    messages.success(
        request, "The branch's history as it is now is accepted; the waiting pushes go on it."
    )
    return redirect("registry:repository")


def _task_rows(results) -> list[dict]:
    results = list(results)
    progress = TaskProgress.of([result.id for result in results])
    return [_task_row(result, progress.get(result.id)) for result in results]


def _task_row(result: DBTaskResult, progress: TaskProgress | None = None) -> dict:
    error = ""
    if result.status == TaskResultStatus.FAILED:
        lines = [line for line in (result.traceback or "").strip().splitlines() if line.strip()]
        error = redact(lines[-1]) if lines else result.exception_class_path
        # "registry.sync.repository.RemoteError: the repository ..." -> what it said.
        error = error.split(": ", 1)[1] if ": " in error and "." in error.split(":")[0] else error
    value = result.return_value if isinstance(result.return_value, dict) else {}
    pulled = value.get("pulled") if isinstance(value.get("pulled"), dict) else {}
    return {
        "id": result.id,
        "label": TASK_LABELS.get(result.task_path, result.task_path.rpartition(".")[2]),
        "status": result.status,
        "status_label": TaskResultStatus(result.status).label,
        "enqueued_at": result.enqueued_at,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "run_after": result.run_after if result.run_after.year < 9999 else None,
        "error": error,
        "pushed": len(value.get("pushed", [])),
        "conflicts": len(value.get("conflicts", [])),
        "taken_in": len(pulled.get("updated", [])) + len(pulled.get("created", [])),
        "proposed": len(pulled.get("proposed", [])),
        "skipped": pulled.get("rejected", []),
        "note": value.get("skipped", "") or _import_summary(value),
        "job": _job_of(result),
        "progress": progress if result.status == TaskResultStatus.RUNNING else None,
        "can_retry": result.status == TaskResultStatus.FAILED and result.task_path in TASKS_BY_PATH,
    }


def _job_of(result: DBTaskResult) -> int | None:
    """The import job an import task works on."""
    if result.task_path != run_import.module_path:
        return None
    args = (result.args_kwargs or {}).get("args") or [None]
    return args[0] if isinstance(args[0], int) else None


def _import_summary(value: dict) -> str:
    """An import task's result in a line."""
    if "rechecked" in value:
        return (
            f"{value['rechecked']} version{pluralize(value['rechecked'])} rechecked; "
            f"{value.get('with_errors', 0)} active agent{pluralize(value.get('with_errors', 0))} "
            "with errors"
        )
    if "created" not in value:
        return ""
    counts = ", ".join(
        f"{len(value.get(name, []))} {name.replace('_', ' ')}"
        for name in ("created", "updated", "unchanged", "conflicts", "rejected")
    )
    return counts + ("" if value.get("stored") else "; nothing stored")


@require_GET
def tasks_page(request: HtmxHttpRequest):
    _require_maintainer(request, "tasks.view")
    results = DBTaskResult.objects.order_by("-enqueued_at")
    page = Paginator(results, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = _task_rows(page)
    context = {
        "page": page,
        "rows": rows,
        "active": any(_is_active(result) for result in page),
        "counts": {TaskResultStatus(status).label: count for status, count in _counts()},
    }
    template = "registry/tasks.html"
    if _wants_fragment(request):
        template += "#results"
    return _with_vary(render(request, template, context))


def _counts():
    return DBTaskResult.objects.values_list("status").annotate(count=Count("id")).order_by("status")


@require_POST
def tasks_recheck(request):
    _require_maintainer(request, "tasks.recheck")
    if enqueue_recheck(everything=True) is None:
        messages.info(request, "A recheck is queued already.")
    else:
        AuditEvent.record("tasks.recheck", actor=request.user, request=request)
        messages.success(
            request,
            "A recheck of every agent is queued: a worker finds their problems again under "
            "today's rules.",
        )
    return redirect("registry:tasks")


@require_POST
def task_retry(request, pk):
    _require_maintainer(request, "tasks.retry")
    result = get_object_or_404(DBTaskResult, pk=pk)
    task = TASKS_BY_PATH.get(result.task_path)
    if result.status != TaskResultStatus.FAILED or task is None:
        messages.error(request, "Only a failed task can be tried again.")
        return redirect("registry:tasks")
    arguments = result.args_kwargs or {}
    task.enqueue(*arguments.get("args", []), **arguments.get("kwargs", {}))
    AuditEvent.record(
        "tasks.retry", actor=request.user, request=request, task=TASK_LABELS[result.task_path]
    )
    messages.success(request, f"{TASK_LABELS[result.task_path]} is queued again.")
    return redirect("registry:tasks")
