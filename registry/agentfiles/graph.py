"""The delegation graph laid out: cycles, layers, positions and edge paths; pure Python."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

NODE_HEIGHT = 30


ROW_GAP = 14


COLUMN_GAP = 110


CHAR_WIDTH = 7.6  # of the graph's 13px font, roughly: a box fits its label


NODE_PADDING = 14


MIN_NODE_WIDTH = 90


MAX_LABEL = 34  # characters shown in a box; the whole name is in its <title>


MARGIN = 24


SWEEPS = 4  # barycenter passes ordering nodes within their layers


ISOLATED_GAP = 48  # above the grid of agents without delegations


BACK_PORT = 0.75  # edges closing a cycle leave and enter boxes below their middle


UNKNOWN_PREFIX = "?"  # node ids of names no agent has; keys are slugs, so never clash


DUMMY_PREFIX = "~"  # slots of edges passing through a layer: never an agent's key either


DUMMY_SLOT = 16  # the height a passing edge takes in a layer


GRID_GAP = 24  # between the boxes of agents without delegations


SELF_LOOP = 40  # how far a self-delegation's loop reaches right of its box


@dataclass
class Node:
    id: str
    label: str
    key: str | None = None  # the agent's URL key; None for a name no agent has
    path: str = ""
    category: str = ""
    kind: str = "agent"  # "agent", "unknown" (no such agent), "other" (outside the category)
    layer: int = 0
    x: int = 0
    y: int = 0
    width: int = MIN_NODE_WIDTH
    height: int = NODE_HEIGHT
    delegates: int = 0
    delegated_by: int = 0
    namesakes: int = 0  # other agents with the same name

    @property
    def css_class(self) -> str:
        return "node" if self.kind == "agent" else f"node {self.kind}"

    @property
    def text(self) -> str:
        if len(self.label) <= MAX_LABEL:
            return self.label
        return self.label[: MAX_LABEL - 1] + "…"

    @property
    def center_x(self) -> int:
        return self.x + self.width // 2

    @property
    def center_y(self) -> int:
        return self.y + self.height // 2

    @property
    def title(self) -> str:
        if self.kind == "unknown":
            return f"{self.label}: no agent in the registry has this name"
        about = f"{self.label} ({self.path}" + (f", {self.category}" if self.category else "")
        about += ", outside the chosen category)" if self.kind == "other" else ")"
        if self.namesakes:
            about += f", one of {self.namesakes + 1} agents with this name"
        return f"{about}: delegates to {self.delegates}, delegated to by {self.delegated_by}"


@dataclass
class Edge:
    source: str
    target: str
    cycle: bool = False
    path: str = ""  # the SVG path's d
    title: str = ""
    # Where the source's file names the target: "section" (Delegate To), "tools" (Agent(x)),
    # Copilot's "agents" or "handoffs".
    sources: tuple[str, ...] = ("section",)

    @property
    def css_class(self) -> str:
        started = "" if "section" in self.sources else " started"
        return ("edge cycle" if self.cycle else "edge") + started

    @property
    def verb(self) -> str:
        """How the source reaches the target, for the edge's title."""
        others = [source for source in self.sources if source != "section"]
        if not others:
            return "delegates to"
        where = f"(in {', '.join(others)})"
        return f"delegates to {where}" if "section" in self.sources else f"may start {where}"


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0
    isolated_caption_y: int | None = None  # where "Without delegations" goes, when shown
    categories: list[str] = field(default_factory=list)
    hidden: int = 0  # agents in scope left out because they have no delegations

    @property
    def unknown_count(self) -> int:
        return sum(1 for node in self.nodes if node.kind == "unknown")

    @property
    def cycle_count(self) -> int:
        return sum(1 for edge in self.edges if edge.cycle)

    @property
    def agent_count(self) -> int:
        return sum(1 for node in self.nodes if node.kind != "unknown")

    def delegation_list(self) -> list[tuple[Node, list[Node]]]:
        """Each node that delegates, with the nodes it delegates to: the graph as a list."""
        by_id = {node.id: node for node in self.nodes}
        targets: dict[str, list[Node]] = {}
        for edge in self.edges:
            targets.setdefault(edge.source, []).append(by_id[edge.target])
        return [
            (node, sorted(targets[node.id], key=lambda item: item.label))
            for node in sorted(self.nodes, key=lambda item: item.label)
            if node.id in targets
        ]


def strongly_connected(nodes: Iterable[str], successors: dict[str, list[str]]) -> dict[str, int]:
    """Tarjan's algorithm, without recursion: the strongly connected component of each node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    component: dict[str, int] = {}
    counter = components = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)

    for root in nodes:
        if root in index:
            continue
        visit(root)
        work = [(root, iter(successors.get(root, ())))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    visit(child)
                    work.append((child, iter(successors.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component[member] = components
                        if member == node:
                            break
                    components += 1
    return component


def cycle_edges(nodes: Iterable[str], successors: dict[str, list[str]]) -> set[tuple[str, str]]:
    """The edges that lie on a cycle: those within one strongly connected component."""
    component = strongly_connected(nodes, successors)
    return {
        (source, target)
        for source, targets in successors.items()
        for target in targets
        if source == target or component[source] == component[target]
    }


def back_edges(nodes: list[str], successors: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges a depth-first search finds closing a cycle; without them the graph is acyclic.
    The search starts from nodes nothing points to, so they come first in the layout."""
    pointed_to = {target for targets in successors.values() for target in targets}
    roots = [node for node in nodes if node not in pointed_to] + [
        node for node in nodes if node in pointed_to
    ]
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    back: set[tuple[str, str]] = set()
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        work = [(root, iter(successors.get(root, ())))]
        while work:
            node, children = work[-1]
            for child in children:
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    work.append((child, iter(successors.get(child, ()))))
                    break
            else:
                state[node] = 2
                work.pop()
    return back


def longest_path_layers(
    nodes: list[str], successors: dict[str, list[str]], ignored: set[tuple[str, str]]
) -> dict[str, int]:
    """Each node's layer: the length of the longest path reaching it (edges in `ignored` left
    out, which must leave the graph acyclic). Delegators come before those they delegate to."""
    indegree = dict.fromkeys(nodes, 0)
    for source in nodes:
        for target in successors.get(source, ()):
            if (source, target) not in ignored:
                indegree[target] += 1
    layer = dict.fromkeys(nodes, 0)
    queue = [node for node in nodes if indegree[node] == 0]
    for source in queue:  # grows as nodes become ready: Kahn's topological order
        for target in successors.get(source, ()):
            if (source, target) in ignored:
                continue
            layer[target] = max(layer[target], layer[source] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                queue.append(target)
    return layer


def order_layers(
    layers: list[list[str]], neighbours: dict[str, set[str]], layer_of: dict[str, int]
) -> list[list[str]]:
    """Order each layer by the barycenter of its neighbours in the layer before (then after),
    a few sweeps; ties keep their order. The input order (by name) is the start."""
    layers = [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for index in indices:
            reference = index - 1 if downward else index + 1
            position = {node: at for at, node in enumerate(layers[reference])}
            current = {node: at for at, node in enumerate(layers[index])}

            def weight(node: str, position=position, current=current, reference=reference):
                near = [
                    position[other]
                    for other in neighbours.get(node, ())
                    if layer_of.get(other) == reference
                ]
                # A node with no neighbour there stays where it is, relative to the others.
                if not near:
                    return current[node] * len(position) / max(len(current), 1)
                return sum(near) / len(near)

            layers[index].sort(key=lambda node: (weight(node), current[node]))
    return layers


def node_width(label: str) -> int:
    return max(MIN_NODE_WIDTH, round(min(len(label), MAX_LABEL) * CHAR_WIDTH) + 2 * NODE_PADDING)


def layout(nodes: list[Node], edges: list[Edge], isolated: list[Node]) -> Graph:
    """Positions for the nodes (left to right by layer, on a grid) and a path for each edge;
    nodes without edges go in a grid below. An edge across several layers passes through a
    slot of its own in each layer between (a dummy node), so it never runs behind a box."""
    nodes = sorted(nodes, key=lambda node: (node.label, node.id))
    ids = [node.id for node in nodes]
    by_id = {node.id: node for node in nodes}
    successors: dict[str, list[str]] = {node_id: [] for node_id in ids}
    for edge in edges:
        successors[edge.source].append(edge.target)
        by_id[edge.source].delegates += 1
        by_id[edge.target].delegated_by += 1
    for node_id in ids:
        successors[node_id].sort(key=lambda target: (by_id[target].label, target))

    on_cycles = cycle_edges(ids, successors)
    for edge in edges:
        edge.cycle = (edge.source, edge.target) in on_cycles
    layer_of = longest_path_layers(ids, successors, back_edges(ids, successors))
    layers: list[list[str]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for node_id in ids:
        layers[layer_of[node_id]].append(node_id)

    # Each edge as a chain of slots from its source to its target, layer by layer.
    neighbours: dict[str, set[str]] = {node_id: set() for node_id in ids}
    chains: list[list[str]] = []
    for number, edge in enumerate(edges):
        chain = [edge.source]
        if edge.source != edge.target:
            start, end = layer_of[edge.source], layer_of[edge.target]
            step = 1 if end > start else -1
            for layer in range(start + step, end, step):
                dummy = f"{DUMMY_PREFIX}{number}:{layer}"
                layer_of[dummy] = layer
                layers[layer].append(dummy)
                chain.append(dummy)
            chain.append(edge.target)
            for one, other in zip(chain, chain[1:], strict=False):
                neighbours.setdefault(one, set()).add(other)
                neighbours.setdefault(other, set()).add(one)
        chains.append(chain)
    layers = order_layers(layers, neighbours, layer_of)

    def slot(item: str) -> int:
        return DUMMY_SLOT if item.startswith(DUMMY_PREFIX) else NODE_HEIGHT + ROW_GAP

    tallest = max((sum(slot(item) for item in layer) for layer in layers), default=0)
    columns: list[tuple[int, int]] = []  # (x, width) of each layer
    dummy_y: dict[str, int] = {}
    x = MARGIN
    for index, layer in enumerate(layers):
        width = max(node_width(by_id[item].label) for item in layer if item in by_id)
        y = MARGIN + (tallest - sum(slot(item) for item in layer)) // 2
        for item in layer:
            if item in by_id:
                node = by_id[item]
                node.layer, node.x, node.y, node.width = index, x, y, width
            else:
                dummy_y[item] = y + DUMMY_SLOT // 2
            y += slot(item)
        columns.append((x, width))
        x += width + COLUMN_GAP
    graph_width = x - COLUMN_GAP + MARGIN if layers else 0
    graph_bottom = MARGIN + tallest - ROW_GAP if layers else 0

    for edge, chain in zip(edges, chains, strict=True):
        edge.path = edge_path(chain, by_id, dummy_y, columns, layer_of)
        edge.title = f"{by_id[edge.source].label} {edge.verb} {by_id[edge.target].label}" + (
            " (in a cycle)" if edge.cycle else ""
        )

    graph = Graph(nodes=nodes, edges=edges)
    width, height = graph_width, graph_bottom + (MARGIN if layers else 0)
    if isolated:
        pitch = NODE_HEIGHT + ROW_GAP
        isolated = sorted(isolated, key=lambda node: (node.label, node.id))
        cell = max(node_width(node.label) for node in isolated)
        per_row = max(1, (max(width, 960) - 2 * MARGIN + GRID_GAP) // (cell + GRID_GAP))
        top = (graph_bottom + ISOLATED_GAP if layers else MARGIN + 16) + 8
        graph.isolated_caption_y = top - 14
        for at, node in enumerate(isolated):
            node.x = MARGIN + (at % per_row) * (cell + GRID_GAP)
            node.y = top + (at // per_row) * pitch
            node.width = cell
        rows = (len(isolated) + per_row - 1) // per_row
        width = max(width, 2 * MARGIN + per_row * (cell + GRID_GAP) - GRID_GAP)
        height = top + rows * pitch - ROW_GAP + MARGIN
        graph.nodes = nodes + isolated
    # Room for self-loops at the right edge.
    graph.width, graph.height = width + (SELF_LOOP if layers else 0), height
    return graph


def edge_path(
    chain: list[str],
    by_id: dict[str, Node],
    dummy_y: dict[str, int],
    columns: list[tuple[int, int]],
    layer_of: dict[str, int],
) -> str:
    """The SVG path of an edge through its chain of slots: rightwards from the source's right
    side to the target's left side; an edge that points back (it closes a cycle) leftwards
    from the source's left side to the target's right side, a little below the middle so it
    does not cover the edge going the other way; a loop for an agent delegating to itself.
    Curves between layers, straight lines across a layer's column."""
    source, target = by_id[chain[0]], by_id[chain[-1]]
    if len(chain) == 1:
        x, top, bottom = source.x + source.width, source.y + 7, source.y + source.height - 7
        reach = SELF_LOOP - 2
        return f"M{x},{top} C{x + reach},{top - 16} {x + reach},{bottom + 16} {x},{bottom}"
    forward = target.layer > source.layer
    if forward:
        points = [(source.x + source.width, source.center_y)]
    else:
        points = [(source.x, source.y + round(source.height * BACK_PORT))]
    for dummy in chain[1:-1]:
        x, width = columns[layer_of[dummy]]
        enter, leave = (x, x + width) if forward else (x + width, x)
        points += [(enter, dummy_y[dummy]), (leave, dummy_y[dummy])]
    if forward:
        points.append((target.x, target.center_y))
    else:
        points.append((target.x + target.width, target.y + round(target.height * BACK_PORT)))
    path = f"M{points[0][0]},{points[0][1]}"
    for index in range(1, len(points)):
        (x1, y1), (x2, y2) = points[index - 1], points[index]
        if index % 2 == 0:  # across a column: its slot is free of boxes
            path += f" L{x2},{y2}"
        else:  # across the gap between two columns
            bend = (x2 - x1) // 2
            path += f" C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
    return path


def nearest(path: str, candidates: list[Node]) -> Node:
    """The candidate whose file is nearest path's in the folder tree (the same folder first);
    of equals, the first by path."""
    folders = PurePosixPath(path).parent.parts

    def distance(node: Node) -> int:
        theirs = PurePosixPath(node.path).parent.parts
        shared = 0
        for mine, other in zip(folders, theirs, strict=False):
            if mine != other:
                break
            shared += 1
        return len(folders) + len(theirs) - 2 * shared

    return min(candidates, key=lambda node: (distance(node), node.path))
