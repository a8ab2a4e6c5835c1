"""Pages that make change sets (renaming an agent, adding the missing sections to many) and
edit one agent's text inside a set."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from registry.agentfiles import renaming
from registry.agentfiles.document import AgentDocument, normalize_newlines
from registry.agentfiles.rendering import unified_diff
from registry.forms import AgentListFilters, RenameForm
from registry.models import Agent, AuditEvent, ChangeRequest, SaveConflict
from registry.models.change_sets import propose_missing_sections, propose_rename
from registry.views.common import HtmxHttpRequest, _require_permission


@require_http_methods(["GET", "POST"])
def agent_rename(request: HtmxHttpRequest, key: str):
    """The rename form: the new name, the agents it changes; a change set for review."""
    _require_permission(
        request,
        "registry.propose_change",
        "agent.rename",
        "only editors can propose renaming an agent",
        key=key,
    )
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    form = RenameForm(request.POST or None, agent=agent)
    if request.method == "POST" and form.is_valid():
        try:
            change = propose_rename(agent, form.cleaned_data["name"], request.user, request)
        except ValidationError as refusal:
            form.add_error("name", refusal)
        else:
            messages.success(
                request,
                f"Change #{change.pk} proposes renaming {agent.display_name} in "
                f"{change.items.count()} files. Submit it for review: nothing changes until it "
                "is approved.",
            )
            return redirect("registry:change_detail", pk=change.pk)
    referrers = sorted(agent.delegated_by(), key=lambda row: row[1])
    moves = renaming.renamed_path(agent.path, agent.name, "x") != agent.path
    return render(
        request,
        "registry/agent_rename.html",
        {"agent": agent, "form": form, "referrers": referrers, "moves": moves},
    )


@require_http_methods(["GET", "POST"])
def agent_add_sections(request: HtmxHttpRequest):
    """Confirm, then propose, one change set adding the missing required sections to the
    agents the list's filters choose."""
    _require_permission(
        request,
        "registry.propose_change",
        "agent.add_sections",
        "only editors can propose adding sections",
    )
    if request.method == "GET" and request.htmx:  # from the list's toolbar: the page itself
        return HttpResponseClientRedirect(request.get_full_path())
    data = request.POST if request.method == "POST" else request.GET
    filters = AgentListFilters(data).chosen()
    agents = Agent.objects.listed(
        q=filters["q"],
        category=filters["category"],
        status=filters["status"],
        problem=filters["problem"],
    )
    if request.method == "POST":
        try:
            change = propose_missing_sections(agents, request.user, request)
        except ValidationError as refusal:
            messages.error(request, " ".join(refusal.messages))
            return redirect("registry:agent_list")
        messages.success(
            request,
            f"Change #{change.pk} proposes adding the missing sections to "
            f"{change.items.count()} agents. Submit it for review: nothing changes until it is "
            "approved.",
        )
        return redirect("registry:change_detail", pk=change.pk)
    lacking = (
        agents.filter(live_version__isnull=False)
        .with_problem("section-missing")
        .order_by("path")
        .values_list("key", "name", "path")
    )
    count = lacking.count()
    return render(
        request,
        "registry/agent_add_sections.html",
        {"filters": filters, "count": count, "shown": list(lacking[:20])},
    )


def may_edit_items(user, change: ChangeRequest) -> bool:
    """Whether user may change the texts of a set's agents: its author, while it is editable."""
    return (
        change.kind == ChangeRequest.Kind.SET
        and change.is_editable
        and user.pk == change.author_id
        and user.has_perm("registry.propose_change")
    )


@require_http_methods(["GET", "POST"])
def change_item_edit(request: HtmxHttpRequest, pk: int, item_pk: int):
    """One agent's text in a change set, edited by the set's author: to resolve a conflict with
    the live version (the live version's changes since the set began are shown beside it), or
    to correct it. Saving makes the set's approvals stale."""
    change = get_object_or_404(ChangeRequest, pk=pk, kind=ChangeRequest.Kind.SET)
    item = get_object_or_404(
        change.items.select_related("agent__live_version", "base_version"), pk=item_pk
    )
    if not may_edit_items(request.user, change):
        AuditEvent.record(
            "change.item_edit.denied", actor=request.user, obj=change, request=request
        )
        raise PermissionDenied("only the set's author edits its agents, while it is not closed")
    text, error, status = item.text, "", 200
    if request.method == "POST":
        # A form sends CRLF and may drop a byte order mark: the file's own are kept.
        text = normalize_newlines(request.POST.get("text", ""), AgentDocument(item.text).newline)
        if item.text.startswith("\ufeff") and not text.startswith("\ufeff"):
            text = "\ufeff" + text
        try:
            revision = int(request.POST.get("revision", ""))
        except ValueError:
            revision = -1
        try:
            item.save_text(text, revision, rebase=bool(item.conflicts))
        except ValidationError as refusal:
            error, status = " ".join(refusal.messages), 400
        except SaveConflict:
            change.refresh_from_db()
            error, status = (
                (
                    "The set was saved by someone else meanwhile: your text is kept below. "
                    "Reload the page to see theirs, then make your edit again."
                ),
                409,
            )
        else:
            messages.success(request, f"Saved {item.label}: the set's approvals are stale now.")
            return redirect(
                reverse("registry:change_detail", args=[change.pk]) + f"#item-{item.pk}"
            )
    live = item.agent.live_version if item.agent_id else None
    moved = live is not None and item.base_version_id and live.pk != item.base_version_id
    context = {
        "change": change,
        "item": item,
        "text": text,
        "error": error,
        "live_diff": unified_diff(item.base_version.text, live.text) if moved else [],
    }
    return render(request, "registry/change_item_edit.html", context, status=status)
