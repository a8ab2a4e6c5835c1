"""Agent pages: the list, an agent, its file, history, compare, restore and archive."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from registry.agentfiles.rendering import (
    render_markdown,
)
from registry.forms import AgentListFilters
from registry.models import (
    Agent,
    ChangeRequest,
    RowPaginator,
    Version,
)
from registry.views.common import (
    HtmxHttpRequest,
    _diff_context,
    _require_permission,
    _wants_fragment,
    _with_vary,
)

AGENTS_PER_PAGE = 50


@require_GET
def agent_list(request: HtmxHttpRequest):
    filters = AgentListFilters(request.GET).chosen()
    # The results and the categories are cached, keyed on what they are made of: the query
    # string, and when agents or change requests last changed. A hit costs one indexed query
    # instead of a count, a page of rows and rendering them.
    generation = Agent.objects.generation() if settings.REGISTRY_LIST_CACHE_SECONDS > 0 else None
    results, _ = _list_cached(
        generation,
        ("results", request.GET.urlencode()),
        lambda: _render_list_results(request, filters),
        # Empty states differ by the user's permissions (what they may do next): not cached.
        keep=lambda made: made[1],
    )
    if request.htmx and not request.htmx.history_restore_request:
        response = HttpResponse(results)
    else:
        context = {
            "results": results,
            "filters": filters,
            "statuses": AgentListFilters.STATUSES,
            "sorts": AgentListFilters.SORTS,
            "categories": _list_cached(generation, ("categories",), Agent.objects.categories),
        }
        response = render(request, "registry/agent_list.html", context)
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _list_cached(generation, parts: tuple, make, keep=lambda made: True):
    """make(), reused for REGISTRY_LIST_CACHE_SECONDS under generation and parts when keep()
    allows; generation None (the cache is off): always made."""
    if generation is None:
        return make()
    key = "registry:agent-list:" + hashlib.sha256(repr((generation, parts)).encode()).hexdigest()
    made = cache.get(key)
    if made is None:
        made = make()
        if keep(made):
            cache.set(key, made, settings.REGISTRY_LIST_CACHE_SECONDS)
    return made


def _render_list_results(request: HttpRequest, filters: dict) -> tuple[str, bool]:
    """The results fragment, and whether it holds any agent."""
    context = _agent_list_results(request, filters)
    html = render_to_string("registry/agent_list_results.html", context, request, using="jinja2")
    # Escaped by Jinja2 as it was made: the page places it as it is.
    return mark_safe(html), bool(context["page"].object_list)


def _agent_list_results(request: HttpRequest, filters: dict) -> dict:
    chosen = {name: filters[name] for name in ("q", "category", "status", "archived", "problem")}
    agents = Agent.objects.listed(**chosen).in_order(filters["sort"], filters["q"])
    # Unfiltered, the list is every active agent: counted without reading one entry each.
    count = None if any(chosen.values()) else Agent.objects.active_count()
    page = RowPaginator(agents, AGENTS_PER_PAGE, Agent.objects.for_list(), count).get_page(
        request.GET.get("page")
    )
    return {
        "page": page,
        "rows": _list_rows(page.object_list),
        "filters": filters,
        "registry_empty": page.paginator.count == 0 and not Agent.objects.exists(),
    }


DESCRIPTION_SHOWN = 140  # characters of a description the list shows


@dataclass(frozen=True)
class ListRow:
    """A row of the agent list with its text made here, once: the template only places it."""

    url: str
    name: str
    description: str
    category: str
    archived: bool
    has_open_change: bool
    error_count: int
    warning_count: int
    changed_at: str = ""  # ISO 8601, for <time datetime>
    changed_shown: str = ""
    changed_by: str = ""


def _list_rows(agents: list[dict]) -> list[ListRow]:
    """The rows of agents read by Agent.objects.for_list()."""
    # One reverse for the page: every agent's URL is the same with its key in it.
    url = reverse("registry:agent_detail", args=["0"]).removesuffix("0/")
    # Looked up once for the page: timezone.localtime() reads it again for every row.
    zone = timezone.get_current_timezone()
    rows = []
    for agent in agents:
        description = agent["description"]
        if len(description) > DESCRIPTION_SHOWN:
            description = description[: DESCRIPTION_SHOWN - 1].rstrip() + "…"
        changed = {}
        if agent["changed_at"] is not None:  # it has a live version
            at = agent["changed_at"].astimezone(zone)
            changed = {
                "changed_at": at.isoformat(),
                "changed_shown": at.strftime("%Y-%m-%d %H:%M"),
                "changed_by": agent["changed_by"] or "import",
            }
        rows.append(
            ListRow(
                url=f"{url}{agent['key']}/",
                name=Agent.name_shown(agent["name"], agent["path"]),
                description=description,
                category=agent["category"],
                archived=agent["archived"],
                has_open_change=agent["has_open_change"],
                error_count=agent["error_count"],
                warning_count=agent["warning_count"],
                **changed,
            )
        )
    return rows


def _frontmatter_value(value) -> str:
    """A frontmatter value as the page shows it: lists comma-joined, nested values as JSON."""
    if isinstance(value, list) and not any(isinstance(item, list | dict) for item in value):
        return ", ".join(_frontmatter_value(item) for item in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


RECENT_VERSIONS = 10  # versions the agent page lists; the history page has them all


@require_GET
def agent_detail(request: HttpRequest, key: str):
    agent = get_object_or_404(Agent.objects.select_related("live_version__author"), key=key)
    version = agent.live_version
    problems = sorted(
        agent.problems or [],
        key=lambda problem: (problem["severity"] != "error", problem["line"], problem["column"]),
    )
    # One more than shown, to know whether to link to the rest.
    history = list(
        agent.versions.select_related("author")
        .only("agent_id", "number", "created_at", "message", "author__username")
        .order_by("-number")[: RECENT_VERSIONS + 1]
    )
    context = {
        "agent": agent,
        "version": version,
        "body_html": render_markdown(version.document.body) if version else "",
        "frontmatter": [
            (field, _frontmatter_value(value))
            for field, value in ((version.frontmatter or {}) if version else {}).items()
        ],
        "has_frontmatter": bool(version and version.frontmatter is not None),
        "problems": problems,
        "delegates": agent.delegation_targets(),
        "delegated_by": agent.delegated_by(),
        "history": history[:RECENT_VERSIONS],
        "more_history": len(history) > RECENT_VERSIONS,
        "open_changes": ChangeRequest.objects.active()
        .filter(agent=agent)
        .select_related("author")
        .only("kind", "status", "message", "updated_at", "author__username")
        .order_by("-updated_at"),
    }
    return render(request, "registry/agent_detail.html", context)


@require_GET
def agent_download(request: HttpRequest, key: str):
    """The live version's exact bytes (BOM and line endings included), as a file."""
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    if agent.live_version is None:
        raise Http404("This agent has no version yet.")
    return HttpResponse(
        agent.live_version.data,
        content_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition_header(
                as_attachment=True, filename=PurePosixPath(agent.path).name
            )
        },
    )


def _history_context(request: HttpRequest, agent: Agent) -> dict:
    versions = list(
        agent.versions.select_related("author")
        .only("agent_id", "number", "created_at", "message", "author__username")
        .order_by("-number")
    )
    return {
        "agent": agent,
        "versions": versions,
        "compare_b": versions[0].number if versions else None,
        "compare_a": versions[1].number if len(versions) > 1 else None,
        "can_propose": request.user.has_perm("registry.propose_change") and not agent.archived,
    }


@require_GET
def agent_history(request: HttpRequest, key: str):
    agent = get_object_or_404(Agent, key=key)
    return render(request, "registry/agent_history.html", _history_context(request, agent))


# Version numbers are a PositiveIntegerField: none is larger than this on any database.
LARGEST_VERSION_NUMBER = 2**31 - 1


class _NoSuchVersion(Exception):
    """A compare query that names no version of the agent; the message says why."""


def _version_number(request: HttpRequest, name: str, default: int | None) -> int:
    value = request.GET.get(name, "")
    if value == "":
        if default is None:
            raise _NoSuchVersion("This agent has no version to compare yet")
        return default
    shown = value if len(value) <= 24 else f"{value[:20]}…"
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (value.isascii() and value.isdigit()):
        raise _NoSuchVersion(f"{name}={shown} is not a version number")
    digits = value.lstrip("0")
    # Checked before int() and the query: too many digits for int(), too large for the database.
    if not digits or len(digits) > 10 or int(digits) > LARGEST_VERSION_NUMBER:
        raise _NoSuchVersion(f"There is no version {shown} of this agent")
    return int(digits)


@require_GET
def agent_compare(request: HtmxHttpRequest, key: str):
    """Two versions of an agent compared; by default the live one with the one before it. A
    version that does not exist gets the history (a 404) saying so, to choose two others."""
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    newest = agent.versions.order_by("-number").values_list("number", flat=True).first()
    try:
        b = _version_number(request, "b", newest)
        a = _version_number(request, "a", max(b - 1, 1))
        a, b = min(a, b), max(a, b)
        versions = agent.versions.select_related("author").filter(number__in=[a, b])
        found = {version.number: version for version in versions}
        for number in (a, b):
            if number not in found:
                raise _NoSuchVersion(f"There is no version {number} of this agent")
    except _NoSuchVersion as problem:
        context = _history_context(request, agent)
        if newest is not None:
            context["problem"] = f"{problem}; its versions are 1 to {newest}."
        return render(request, "registry/agent_history.html", context, status=404)
    old, new = found[a], found[b]
    context = {
        "agent": agent,
        "old": old,
        "new": new,
        **_diff_context(request, old.text, new.text),
    }
    template = "registry/agent_compare.html"
    if _wants_fragment(request):
        template += "#diff"
    return _with_vary(render(request, template, context))


@require_POST
def agent_restore(request: HttpRequest, key: str, number: int):
    """Propose putting an old version's text back: a change request, published after review."""
    _require_permission(
        request,
        "registry.propose_change",
        "agent.restore",
        "only editors can propose restoring a version",
        key=key,
        version=number,
    )
    agent = get_object_or_404(Agent, key=key)
    version = get_object_or_404(Version.objects.select_related("agent"), agent=agent, number=number)
    return _proposed(
        request,
        lambda: ChangeRequest.propose_restore(version, request.user, request=request),
        f"restoring version {number}",
        back=reverse("registry:agent_history", kwargs={"key": agent.key}),
    )


@require_POST
def agent_archive(request: HttpRequest, key: str):
    """Propose archiving an agent: a change request, carried out after review."""
    _require_permission(
        request,
        "registry.propose_change",
        "agent.archive",
        "only editors can propose archiving an agent",
        key=key,
    )
    agent = get_object_or_404(Agent.objects.select_related("live_version"), key=key)
    return _proposed(
        request,
        lambda: ChangeRequest.propose_archive(agent, request.user, request=request),
        f"archiving {agent.display_name}",
        back=reverse("registry:agent_detail", kwargs={"key": agent.key}),
    )


def _proposed(request: HttpRequest, propose, what: str, back: str):
    """Make the change propose() proposes and go to it; or, refused, back with the reason."""
    try:
        change = propose()
    except ValidationError as refusal:
        messages.error(request, " ".join(refusal.messages))
        return redirect(back)
    messages.success(
        request,
        f"Change #{change.pk} proposes {what}. Submit it for review: nothing changes until it "
        "is approved.",
    )
    return redirect("registry:change_detail", pk=change.pk)
