"""The delegation graph: who delegates to whom, laid out in layers, drawn as SVG by the server."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.agentfiles.graph import UNKNOWN_PREFIX, Edge, Graph, Node, layout, nearest
from registry.models import Agent


def delegation_graph(category: str = "", show_all: bool = False) -> Graph:
    """The graph of active agents with a live version, from their versions' cached delegations
    in one query (no text is read). With a category: its agents, and the agents they delegate
    to or are delegated to by (marked as outside it). Without show_all, only agents with a
    delegation in or out."""
    rows = sorted(
        Agent.objects.active()
        .filter(live_version__isnull=False)
        .values_list("name", "path", "key", "category", "live_version__delegations")
    )
    # A name several agents have (an error the registry reports on them) leads to the one
    # nearest the delegating agent's file: the files of one repository name their siblings.
    keys_of_name: dict[str, list[str]] = {}
    for name, _, key, _, _ in rows:
        if name:
            keys_of_name.setdefault(name, []).append(key)
    agents = {
        key: Node(
            id=key,
            label=name or path,
            key=key,
            path=path,
            category=agent_category,
            namesakes=len(keys_of_name.get(name, ())) - 1,
        )
        for name, path, key, agent_category, _ in rows
    }
    in_scope = {key for key, node in agents.items() if not category or node.category == category}

    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    for _, _, key, _, delegated in rows:
        sources: dict[str, list[str]] = {}
        for item in delegated or []:
            found = sources.setdefault(item[0], [])
            source = item[3] if len(item) > 3 else "section"
            if source not in found:
                found.append(source)
        for name, named_in in sources.items():
            namesakes = keys_of_name.get(name)
            if namesakes:
                target = nearest(agents[key].path, [agents[other] for other in namesakes]).id
            else:
                target = UNKNOWN_PREFIX + name
            if key not in in_scope and target not in in_scope:
                continue
            if target not in nodes:
                nodes[target] = agents.get(target) or Node(target, name, kind="unknown")
            nodes.setdefault(key, agents[key])
            edges.append(Edge(key, target, sources=tuple(named_in)))
    for node in nodes.values():
        if node.kind == "agent" and node.id not in in_scope:
            node.kind = "other"
    isolated = [agents[key] for key in sorted(in_scope) if key not in nodes]
    graph = layout(list(nodes.values()), edges, isolated if show_all else [])
    graph.categories = sorted({node.category for node in agents.values() if node.category})
    graph.hidden = 0 if show_all else len(isolated)
    return graph


@require_GET
def graph_page(request: HttpRequest):
    category = request.GET.get("category", "").strip()
    show_all = request.GET.get("all", "") in {"on", "1", "true"}
    graph = delegation_graph(category=category, show_all=show_all)
    context = {"graph": graph, "category": category, "show_all": show_all}
    return render(request, "registry/graph.html", context)
