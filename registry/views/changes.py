"""Change requests: a change and its actions, the review queue."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Case, Value, When
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from registry.agentfiles import validation
from registry.models import (
    Agent,
    ChangeRequest,
    WorkflowError,
    parse_text,
)
from registry.views.common import HtmxHttpRequest, _diff_context, _wants_fragment, _with_vary

RECENTLY_PUBLISHED = 20


MY_CHANGES_SHOWN = 50


NOTE_MAX_LENGTH = 10_000


CHANGE_ACTIONS = {
    "submit": "Submitted for review.",
    "approve": "Approved.",
    "request_changes": "Changes requested: the author has been asked to revise it.",
    "reject": "Rejected.",
    "withdraw": "Withdrawn.",
    "publish": "Published.",
    "comment": "Comment added.",
}


def change_editor_url(change: ChangeRequest) -> str:
    """Where the author edits a change: its agent's editor, or the new-agent editor."""
    if change.agent_id and change.kind != ChangeRequest.Kind.CREATE:
        return f"{reverse('registry:agent_edit', args=[change.agent.key])}?change={change.pk}"
    return f"{reverse('registry:agent_new')}?change={change.pk}"


def _new_agent_place(change: ChangeRequest) -> tuple[str, str]:
    """(name, path its file will have) of a proposed new agent; empty where not yet valid."""
    try:
        name = validation.agent_name(parse_text(change.text)) or ""
    except ValidationError:
        return "", ""
    if not validation.is_valid_name(name):
        return name, ""
    return name, Agent.path_for_name(name)


@require_GET
def change_detail(request: HtmxHttpRequest, pk: int):
    change = get_object_or_404(
        ChangeRequest.objects.select_related(
            "agent", "author", "base_version", "published_version"
        ),
        pk=pk,
    )
    base_text = change.base_version.text if change.base_version else ""
    context = {"change": change, **_diff_context(request, base_text, change.text)}
    template = "registry/change_detail.html"
    if _wants_fragment(request):
        return _with_vary(render(request, f"{template}#diff", context))

    problems, unreadable = [], ""
    if change.is_active and change.kind != ChangeRequest.Kind.ARCHIVE:
        try:
            problems = validation.sort_problems(change.current_problems())
        except ValidationError as error:
            unreadable = " ".join(error.messages)
    reviews = list(change.reviews.select_related("reviewer"))
    for review in reviews:
        review.change = change  # Review.is_stale compares with it; no query per review
    new_name, new_path = ("", "") if change.agent_id else _new_agent_place(change)
    actions = change.allowed_actions(request.user)
    context.update(
        {
            "problems": problems,
            "error_count": sum(1 for problem in problems if problem.is_error),
            "unreadable": unreadable,
            "reviews": reviews,
            "comments": change.comments.select_related("author"),
            "valid_approvals": change.valid_approvals().count(),
            "approvals_required": settings.REGISTRY_APPROVALS_REQUIRED,
            "actions": actions,
            # The workflow steps the side panel offers (editing and comments have their places).
            "step_actions": actions - {"comment", "edit"},
            "editor_url": change_editor_url(change),
            "new_name": new_name,
            "new_path": new_path,
        }
    )
    return _with_vary(render(request, template, context))


@require_POST
def change_action(request: HtmxHttpRequest, pk: int, action: str):
    """One step of the workflow, taken by the model, which checks who may take it."""
    if action not in CHANGE_ACTIONS:
        raise Http404("No such action.")
    change = get_object_or_404(ChangeRequest, pk=pk)
    note = request.POST.get("note", "").strip()[:NOTE_MAX_LENGTH]
    revision = change.revision
    try:
        if action == "submit":
            change.submit(request.user, request=request)
        elif action in {"approve", "request_changes"}:
            # The hash of the text the reviewer was shown: a text changed since is refused.
            seen_hash = request.POST.get("seen_hash", "")
            review = change.approve if action == "approve" else change.request_changes
            review(request.user, note, request, seen_hash=seen_hash)
        elif action == "reject":
            change.reject(request.user, note, request)
        elif action == "withdraw":
            change.withdraw(request.user, request)
        elif action == "publish":
            change.publish(request.user, request)
        else:
            change.comment(request.user, request.POST.get("body", ""), request)
    except WorkflowError as error:
        messages.error(request, f"Nothing was done: {error}.")
    else:
        _report_outcome(request, change, action, revision)
    url = reverse("registry:change_detail", args=[change.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _report_outcome(request: HttpRequest, change: ChangeRequest, action: str, revision: int):
    if change.status == ChangeRequest.Status.PUBLISHED and action in {"approve", "publish"}:
        if change.published_version_id:
            outcome = f"published as version {change.published_version.number}"
        else:
            outcome = "published: the agent is archived"
        messages.success(request, f"{CHANGE_ACTIONS[action]} The change is {outcome}.")
    elif change.conflicts and action in {"approve", "publish"}:
        messages.warning(
            request,
            "The live version changed since this change began and both touch "
            f"{', '.join(change.conflicts)}: it was not published. The author must resolve the "
            "conflict in the editor.",
        )
    elif change.revision != revision and action in {"approve", "publish"}:
        messages.warning(
            request,
            "The live version changed since this change began; the two were merged into a new "
            "revision, which needs a fresh approval. Nothing was published.",
        )
    else:
        messages.success(request, CHANGE_ACTIONS[action])


@require_GET
def change_queue(request: HtmxHttpRequest):
    user = request.user
    changes = ChangeRequest.objects.select_related("agent", "author").defer("text")
    can_review = user.has_perm("registry.review_change")
    waiting = (
        changes.waiting_for(user)
        .filter(status=ChangeRequest.Status.OPEN)
        .exclude(author=user)
        .order_by("updated_at")
        if can_review
        else None
    )
    mine = (
        changes.filter(author=user)
        .annotate(
            closed=Case(
                When(status__in=ChangeRequest.ACTIVE_STATUSES, then=Value(0)), default=Value(1)
            )
        )
        .order_by("closed", "-updated_at")[:MY_CHANGES_SHOWN]
    )
    published = changes.filter(status=ChangeRequest.Status.PUBLISHED).order_by("-updated_at")[
        :RECENTLY_PUBLISHED
    ]
    context = {
        "can_review": can_review,
        "can_propose": user.has_perm("registry.propose_change"),
        "waiting": waiting,
        "mine": mine,
        "published": published,
    }
    return render(request, "registry/change_queue.html", context)
