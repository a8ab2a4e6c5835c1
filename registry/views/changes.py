"""Change requests: a change and its actions, the review queue."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Value, When
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from registry.agentfiles import risk, validation
from registry.agentfiles.rendering import unified_diff
from registry.models import (
    Agent,
    ChangeRequest,
    Outcome,
    Result,
    parse_text,
)
from registry.models.change_sets import checked_items
from registry.models.changes import ACTIONS, Action, Comment
from registry.views.change_sets import may_edit_items
from registry.views.common import HtmxHttpRequest, _diff_context, _wants_fragment, _with_vary

RECENTLY_PUBLISHED = 20
# The agents of a change set shown on its page at a time, each with its diff.
SET_ITEMS_PER_PAGE = 25


MY_CHANGES_SHOWN = 50


# What the page says a step did, by what it did first.
DONE = {
    Result.SUBMITTED: "Submitted for review.",
    Result.APPROVED: "Approved.",
    Result.CHANGES_REQUESTED: "Changes requested: the author has been asked to revise it.",
    Result.REJECTED: "Rejected.",
    Result.WITHDRAWN: "Withdrawn.",
    Result.PUBLISHED: "Published.",
    Result.COMMENTED: "Comment added.",
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
    comments = list(change.comments.select_related("author", "resolved_by"))
    for comment in comments:
        comment.change = change  # may_resolve reads its author; no query per comment
        comment.can_resolve = comment.may_resolve(request.user)
    context["parts"], context["general_comments"] = _place_comments(context["parts"], comments)
    template = "registry/change_detail.html"
    if _wants_fragment(request):
        return _with_vary(render(request, f"{template}#diff", context))

    checked, unreadable = None, ""
    if change.kind == ChangeRequest.Kind.SET:
        context.update(_set_context(request, change))
    elif change.is_active and change.kind != ChangeRequest.Kind.ARCHIVE:
        try:
            checked = change.checked()
        except ValidationError as error:
            unreadable = " ".join(error.messages)
    reviews = list(change.reviews.select_related("reviewer"))
    for review in reviews:
        review.change = change  # Review.is_stale compares with it; no query per review
    new_name, new_path = ("", "") if change.agent_id else _new_agent_place(change)
    actions = change.actions_for(request.user)
    context.update(
        {
            "checked": checked,
            "unreadable": unreadable,
            "reviews": reviews,
            "comments": comments,
            "unresolved": [c for c in comments if c.author_id and not c.is_resolved],
            "require_resolved": settings.REGISTRY_REQUIRE_RESOLVED_COMMENTS,
            "anchors": _anchors(change),
            "anchor_chosen": request.GET.get("anchor", ""),
            "grants": change.risk_summary() if change.kind != ChangeRequest.Kind.ARCHIVE else None,
            "high_risk_group": settings.REGISTRY_HIGH_RISK_GROUP,
            "high_risk_approval_missing": change.high_risk_approval_missing(),
            "valid_approvals": change.valid_approvals().count(),
            "approvals_required": settings.REGISTRY_APPROVALS_REQUIRED,
            "actions": {action.name: action for action in actions},
            "step_forms": _step_forms(actions),
            "editor_url": change_editor_url(change),
            "new_name": new_name,
            "new_path": new_path,
        }
    )
    return _with_vary(render(request, template, context))


def _set_context(request: HttpRequest, change: ChangeRequest) -> dict:
    """A change set's agents on this page: each one's diff against its base version, and, while
    the set is active, its problems."""
    items = change.items.select_related("agent", "base_version")
    page = Paginator(items, SET_ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    checked = checked_items(change, shown) if change.is_active else [None] * len(shown)
    entries = []
    for item, found in zip(shown, checked, strict=True):
        diff = unified_diff(item.base_version.text if item.base_version_id else "", item.text)
        entries.append(
            {
                "item": item,
                "checked": found,
                "diff": diff,
                "added": sum(line.kind == "add" for line in diff),
                "removed": sum(line.kind == "del" for line in diff),
            }
        )
    return {
        "set_page": page,
        "set_entries": entries,
        "can_edit_items": may_edit_items(request.user, change),
    }


class _PlacedPart:
    """A part of the diff with the comments attached to it (read through to the part)."""

    def __init__(self, part, comments: list[Comment]):
        self.part = part
        self.comments = comments

    def __getattr__(self, name):
        return getattr(self.part, name)


def _place_comments(parts: list, comments: list[Comment]) -> tuple[list, list[Comment]]:
    """The diff's parts, each with the comments on its key or section, and the comments shown
    in the general list: those on the change as a whole, or on a part the diff does not show."""
    shown = {part.anchor for part in parts if part.anchor and not part.note}
    placed = [
        _PlacedPart(part, [c for c in comments if c.anchor and c.anchor == part.anchor])
        if part.anchor in shown
        else part
        for part in parts
    ]
    return placed, [comment for comment in comments if comment.anchor not in shown]


def _anchors(change: ChangeRequest) -> list[tuple[str, str]]:
    """(anchor, label) of every key and section of the proposed text a comment can be on."""
    try:
        document = parse_text(change.text)
    except ValidationError:
        return []
    keys = [
        (f"frontmatter.{key}", f"Field {key}")
        for key in document.frontmatter or {}
        if isinstance(key, str)
    ]
    sections = [(f"section:{s.title}", f"Section “{s.title}”") for s in document.sections]
    return keys + sections


def _step_forms(actions: list[Action]) -> list[list[Action]]:
    """The workflow panel's forms: each a list of the actions whose buttons it holds, the first
    one's form (request changes is a second button of the approval's form)."""
    forms: dict[str, list[Action]] = {}
    for action in actions:
        if action.place == "steps":
            forms.setdefault(action.joins if action.joins in forms else action.name, []).append(
                action
            )
    return list(forms.values())


@require_POST
def change_action(request: HtmxHttpRequest, pk: int, action: str):
    """One step of the workflow, taken by the model, which checks who may take it."""
    step = ACTIONS.get(action)
    if step is None or not step.method:
        raise Http404("No such action.")
    change = get_object_or_404(ChangeRequest, pk=pk)
    inputs = {argument: request.POST.get(field, "") for argument, field in step.inputs}
    _say(request, change.take(action, request.user, request=request, **inputs))
    url = reverse("registry:change_detail", args=[change.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _say(request: HttpRequest, outcome: Outcome) -> None:
    """Tell the user what the step did."""
    if outcome.result == Result.REFUSED and outcome.comments:
        links = format_html_join(
            ", ", '<a href="#comment-{}">comment {}</a>', ((pk, pk) for pk in outcome.comments)
        )
        messages.error(request, format_html("Nothing was done: {}: {}.", outcome.reason, links))
    elif outcome.result == Result.REFUSED:
        messages.error(request, f"Nothing was done: {outcome.reason}.")
    elif outcome.result == Result.PUBLISHED:
        if outcome.versions:
            count = len(outcome.versions)
            where = f"published: {count} agent{'s' if count != 1 else ''}, together"
        elif outcome.version is not None:
            where = f"published as version {outcome.version.number}"
        else:
            where = "published: the agent is archived"
        messages.success(request, f"{DONE[outcome.results[0]]} The change is {where}.")
    elif outcome.result == Result.CONFLICT:
        messages.warning(
            request,
            "The live version changed since this change began and both touch "
            f"{', '.join(outcome.conflicts)}: it was not published. The author must resolve the "
            "conflict in the editor.",
        )
    elif outcome.result == Result.MERGED:
        messages.warning(
            request,
            "The live version changed since this change began; the two were merged into a new "
            "revision, which needs a fresh approval. Nothing was published.",
        )
    else:
        messages.success(request, DONE[outcome.result])


@require_POST
def comment_resolve(request: HtmxHttpRequest, pk: int, comment_pk: int):
    """Resolve a comment, or reopen it (the form's `reopen`); the model checks who may."""
    comment = get_object_or_404(
        Comment.objects.select_related("change"), pk=comment_pk, change_id=pk
    )
    reopen = bool(request.POST.get("reopen"))
    comment.resolve(request.user, request, reopen=reopen)
    messages.success(request, "Comment reopened." if reopen else "Comment resolved.")
    url = f"{reverse('registry:change_detail', args=[pk])}#comment-{comment.pk}"
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_GET
def change_queue(request: HtmxHttpRequest):
    user = request.user
    changes = ChangeRequest.objects.select_related("agent", "author").defer("text")
    risk_level = request.GET.get("risk", "")
    if risk_level in risk.LEVELS:
        changes = changes.filter(risk=risk_level)
    else:
        risk_level = ""
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
        "risk_level": risk_level,
        "risk_levels": [(level, risk.LEVEL_LABELS[level]) for level in risk.LEVELS],
    }
    return render(request, "registry/change_queue.html", context)
