"""Pages that make change sets: renaming an agent, adding the missing sections to many."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from registry.agentfiles import renaming
from registry.forms import AgentListFilters, RenameForm
from registry.models import Agent
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
