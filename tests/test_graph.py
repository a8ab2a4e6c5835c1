"""The delegation graph page: its content read from the SVG (nodes, links, edges, cycles, names
no agent has), the category filter, escaping, and its query count; and the layout's parts."""

import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.agentfiles import graph
from registry.models import Agent
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def reader_client(client, django_user_model):
    user = django_user_model.objects.create_user("reader", password="a-password")
    user.groups.add(*Group.objects.filter(name="Editors"))
    client.force_login(user)
    return client


def add_agents(*specs):
    """Import agents given as (name, [names it delegates to]) or (name, [...], category)."""
    files = []
    for name, targets, *rest in specs:
        category = rest[0] if rest else ""
        delegate_to = "".join(f"- **{target}** — for its part\n" for target in targets)
        text = agent_text(
            name,
            extra=f"category: {category}\n" if category else "",
            delegate_to=delegate_to or "Nobody.\n",
        )
        files.append(IncomingFile(f"agents/{name}.md", text.encode()))
    report = import_files(files)
    assert report.stored


def svg_of(response) -> ET.Element:
    html = response.content.decode()
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    return ET.fromstring(html[start:end])


def classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


def nodes_of(svg: ET.Element) -> dict[str, ET.Element]:
    return {element.get("data-id"): element for element in svg.iter() if "node" in classes(element)}


def edges_of(svg: ET.Element) -> dict[tuple[str, str], list[str]]:
    return {
        (element.get("data-source"), element.get("data-target")): classes(element)
        for element in svg.iter(f"{SVG}path")
        if "edge" in classes(element)
    }


def graph_svg(client, query: str = "") -> ET.Element:
    response = client.get(f"/graph/{query}")
    assert response.status_code == 200
    return svg_of(response)


# --- Content ------------------------------------------------------------------------------------


def test_each_agent_with_a_delegation_in_or_out_is_one_node(reader_client):
    add_agents(("lead", ["helper", "checker"]), ("helper", []), ("checker", []), ("loner", []))

    nodes = nodes_of(graph_svg(reader_client))

    assert sorted(nodes) == ["checker", "helper", "lead"]


def test_each_node_links_to_its_agent_page(reader_client):
    add_agents(("lead", ["helper"]), ("helper", []))

    nodes = nodes_of(graph_svg(reader_client))

    for key, node in nodes.items():
        assert node.tag == f"{SVG}a"
        assert node.get("href") == f"/agents/{key}/"
        assert [child.tag for child in node] == [f"{SVG}title", f"{SVG}rect", f"{SVG}text"]
        assert node.find(f"{SVG}text").text == key
    title = nodes["lead"].find(f"{SVG}title").text
    assert title == "lead (agents/lead.md): delegates to 1, delegated to by 0"


def test_edges_join_the_right_nodes(reader_client):
    add_agents(("lead", ["helper", "checker"]), ("helper", ["checker"]), ("checker", []))

    svg = graph_svg(reader_client)

    assert set(edges_of(svg)) == {("lead", "helper"), ("lead", "checker"), ("helper", "checker")}
    assert svg.find(f".//{SVG}defs/{SVG}marker[@id='arrow']") is not None
    for element in svg.iter(f"{SVG}path"):
        if "edge" in classes(element):
            assert element.get("marker-end") == "url(#arrow)"
            assert "delegates to" in element.find(f"{SVG}title").text


def test_agents_a_file_may_start_are_edges_drawn_apart_with_where_they_are_named(reader_client):
    lead = agent_text(
        "lead",
        extra="tools: Read, Agent(helper)\nhandoffs:\n  - label: Check\n    agent: checker\n",
        delegate_to="- **checker** — for its part\n",
    )
    import_files(
        [
            IncomingFile(".github/agents/lead.agent.md", lead.encode()),
            IncomingFile(".github/agents/helper.md", agent_text("helper", delegate_to="").encode()),
            IncomingFile(
                ".github/agents/checker.md", agent_text("checker", delegate_to="").encode()
            ),
        ]
    )

    svg = graph_svg(reader_client)

    assert edges_of(svg) == {("lead", "helper"): ["edge", "started"], ("lead", "checker"): ["edge"]}
    titles = {
        element.get("data-target"): element.find(f"{SVG}title").text
        for element in svg.iter(f"{SVG}path")
        if "edge" in classes(element)
    }
    assert titles == {
        "helper": "lead may start (in tools) helper",
        "checker": "lead delegates to (in handoffs) checker",
    }


def test_delegators_are_left_of_those_they_delegate_to(reader_client):
    add_agents(("lead", ["helper"]), ("helper", ["checker"]), ("checker", []))

    nodes = nodes_of(graph_svg(reader_client))

    x = {key: float(node.find(f"{SVG}rect").get("x")) for key, node in nodes.items()}
    assert x["lead"] < x["helper"] < x["checker"]


def test_a_name_no_agent_has_is_a_separate_unknown_node(reader_client):
    add_agents(("lead", ["ghost", "helper"]), ("helper", ["ghost"]))

    svg = graph_svg(reader_client)

    nodes = nodes_of(svg)
    unknown = nodes["?ghost"]
    assert classes(unknown) == ["node", "unknown"]
    assert unknown.tag == f"{SVG}g"  # no page to link to
    assert unknown.find(f"{SVG}text").text == "ghost"
    assert "no agent in the registry has this name" in unknown.find(f"{SVG}title").text
    assert [key for key, node in nodes.items() if "unknown" in classes(node)] == ["?ghost"]
    assert {("lead", "?ghost"), ("helper", "?ghost")} <= set(edges_of(svg))


def test_an_archived_agent_is_not_a_node_and_delegating_to_it_is_unknown(reader_client):
    add_agents(("lead", ["retired"]), ("retired", ["lead"]))
    Agent.objects.filter(name="retired").update(archived=True)

    svg = graph_svg(reader_client)

    assert sorted(nodes_of(svg)) == ["?retired", "lead"]
    assert set(edges_of(svg)) == {("lead", "?retired")}


def test_exactly_the_edges_on_cycles_are_marked(reader_client):
    add_agents(
        # a 2-cycle, with an edge out of it
        ("ping", ["pong", "sink"]),
        ("pong", ["ping"]),
        # a 3-cycle, with edges out of it and into it
        ("one", ["two"]),
        ("two", ["three", "sink"]),
        ("three", ["one"]),
        ("feeder", ["one"]),
        ("sink", []),
    )

    edges = edges_of(graph_svg(reader_client))

    cycle = {edge for edge, found in edges.items() if "cycle" in found}
    assert cycle == {
        ("ping", "pong"),
        ("pong", "ping"),
        ("one", "two"),
        ("two", "three"),
        ("three", "one"),
    }
    assert set(edges) - cycle == {("ping", "sink"), ("two", "sink"), ("feeder", "one")}
    assert all(found in (["edge"], ["edge", "cycle"]) for found in edges.values())


def test_an_agent_delegating_to_itself_is_a_cycle(reader_client):
    add_agents(("narcissus", ["narcissus", "echo"]), ("echo", []))

    edges = edges_of(graph_svg(reader_client))

    assert edges == {("narcissus", "narcissus"): ["edge", "cycle"], ("narcissus", "echo"): ["edge"]}


def test_cycle_edges_carry_their_own_arrow(reader_client):
    add_agents(("ping", ["pong"]), ("pong", ["ping"]))

    svg = graph_svg(reader_client)

    markers = {
        element.get("marker-end")
        for element in svg.iter(f"{SVG}path")
        if "edge" in classes(element)
    }
    assert markers == {"url(#arrow-cycle)"}
    assert svg.find(f".//{SVG}marker[@id='arrow-cycle']") is not None


# --- Filters ------------------------------------------------------------------------------------


def test_the_category_filter_shows_its_agents_and_their_neighbours(reader_client):
    add_agents(
        ("deployer", ["monitor", "reviewer"], "ops"),
        ("monitor", [], "ops"),
        ("reviewer", [], "quality"),
        ("designer", ["coder"], "product"),
        ("coder", ["deployer"], "product"),
        ("idle-op", [], "ops"),
    )

    svg = graph_svg(reader_client, "?category=ops")

    nodes = nodes_of(svg)
    assert sorted(nodes) == ["coder", "deployer", "monitor", "reviewer"]
    assert classes(nodes["reviewer"]) == ["node", "other"]
    assert classes(nodes["coder"]) == ["node", "other"]
    assert classes(nodes["deployer"]) == ["node"]
    assert (
        nodes["reviewer"]
        .find(f"{SVG}title")
        .text.startswith("reviewer (agents/reviewer.md, quality, outside the chosen category): ")
    )
    assert set(edges_of(svg)) == {
        ("deployer", "monitor"),
        ("deployer", "reviewer"),
        ("coder", "deployer"),
    }


def test_the_filter_form_lists_the_categories_with_labels(reader_client):
    add_agents(("deployer", ["monitor"], "ops"), ("monitor", [], "ops"), ("coder", [], "product"))

    page = reader_client.get("/graph/?category=ops").content.decode()

    assert '<form class="toolbar" method="get" action="/graph/"' in page
    assert '<label for="graph-category">Category</label>' in page
    assert '<option value="ops" selected>ops</option>' in page
    assert '<option value="product">product</option>' in page
    assert '<label for="graph-all">' in page


def test_agents_without_delegations_are_shown_on_request(reader_client):
    add_agents(("lead", ["helper"]), ("helper", []), ("loner", []), ("hermit", []))

    hidden = reader_client.get("/graph/").content.decode()
    shown = nodes_of(graph_svg(reader_client, "?all=on"))

    assert "2 agents without delegations are not shown." in hidden
    assert sorted(shown) == ["helper", "hermit", "lead", "loner"]


def test_no_delegations_shows_an_empty_state(reader_client):
    add_agents(("loner", []), ("hermit", []))

    page = reader_client.get("/graph/").content.decode()

    assert "No agent delegates to another yet." in page
    assert "<svg" not in page


def test_an_empty_registry_shows_an_empty_state(reader_client):
    page = reader_client.get("/graph/").content.decode()

    assert "No agents yet." in page


def test_an_unknown_category_shows_an_empty_state(reader_client):
    add_agents(("lead", ["helper"]), ("helper", []))

    page = reader_client.get("/graph/?category=nothing-here").content.decode()

    assert "No agents in nothing-here yet." in page


# --- Safety and cost ----------------------------------------------------------------------------


def test_names_are_escaped(reader_client):
    text = agent_text("x", delegate_to="- **helper** — its part\n").replace(
        "name: x", 'name: "<b>&lt;\\"x\\"&</b>"'
    )
    import_files(
        [
            IncomingFile("agents/odd.md", text.encode()),
            IncomingFile(
                "agents/helper.md", agent_text("helper", delegate_to="Nobody.\n").encode()
            ),
        ]
    )

    response = reader_client.get("/graph/")

    html = response.content.decode()
    assert "<b>" not in html
    nodes = nodes_of(svg_of(response))  # well-formed: it parses
    odd = nodes[Agent.objects.get(path="agents/odd.md").key]
    assert odd.find(f"{SVG}text").text == '<b>&lt;"x"&</b>'
    assert odd.find(f"{SVG}title").text.startswith('<b>&lt;"x"&</b>')


def test_the_query_count_does_not_grow_with_the_agents(reader_client):
    add_agents(("lead", ["helper"]), ("helper", []))
    reader_client.get("/graph/")  # the session, once
    with CaptureQueriesContext(connection) as few:
        reader_client.get("/graph/?all=on")
    add_agents(*[(f"agent-{n}", [f"agent-{n + 1}", "ghost"], "ops") for n in range(40)])
    with CaptureQueriesContext(connection) as many:
        response = reader_client.get("/graph/?all=on")

    assert len(nodes_of(svg_of(response))) == 44
    assert len(many.captured_queries) == len(few.captured_queries)
    assert not any('"text"' in query["sql"] for query in many.captured_queries)


def test_the_header_links_the_graph(reader_client):
    assert 'href="/graph/"' in reader_client.get("/agents/").content.decode()


# --- The layout's parts -------------------------------------------------------------------------


def test_strongly_connected_components():
    successors = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": []}

    component = graph.strongly_connected(list(successors), successors)

    assert component["a"] == component["b"] == component["c"]
    assert component["d"] == component["e"] != component["a"]
    assert component["f"] not in {component["a"], component["d"]}


def test_a_long_chain_needs_no_recursion():
    names = [f"n{index}" for index in range(5000)]
    successors = {name: [after] for name, after in zip(names, names[1:], strict=False)}
    successors[names[-1]] = [names[0]]

    assert graph.cycle_edges(names, successors) == {
        (name, after) for name, targets in successors.items() for after in targets
    }


def test_layers_follow_the_longest_path_once_cycles_are_broken():
    nodes = ["a", "b", "c", "d"]
    successors = {"a": ["b", "d"], "b": ["c"], "c": ["a", "d"], "d": []}

    back = graph.back_edges(nodes, successors)
    layers = graph.longest_path_layers(nodes, successors, back)

    assert back == {("c", "a")}
    assert layers == {"a": 0, "b": 1, "c": 2, "d": 3}


def test_the_layout_is_the_same_every_time(reader_client):
    add_agents(("lead", ["helper", "checker"]), ("helper", ["lead"]), ("checker", ["ghost"]))

    first = ET.tostring(graph_svg(reader_client))

    assert ET.tostring(graph_svg(reader_client)) == first


def test_a_name_several_agents_have_leads_to_the_one_nearest_the_delegator(reader_client):
    add_agents(("lead", ["helper"]), ("helper", []))
    import_files(
        [
            IncomingFile(path, agent_text(name, delegate_to=delegate_to).encode())
            for path, name, delegate_to in [
                ("other/helper.md", "helper", "x\n"),
                ("other/team/boss.md", "boss", "- **helper** — its part\n"),
                ("elsewhere/chief.md", "chief", "- **helper** — its part\n"),
                ("far/away/deep/chief.md", "deep-chief", "- **helper** — its part\n"),
                ("far/away/helper.md", "helper", "x\n"),
            ]
        ]
    )
    key = dict(Agent.objects.values_list("path", "key"))

    svg = graph_svg(reader_client)

    assert set(edges_of(svg)) == {
        ("lead", key["agents/helper.md"]),
        ("boss", key["other/helper.md"]),
        ("chief", key["agents/helper.md"]),  # as near as other/helper.md: the first by path
        ("deep-chief", key["far/away/helper.md"]),  # one folder up
    }
    title = nodes_of(svg)[key["other/helper.md"]].find(f"{SVG}title").text
    assert "one of 3 agents with this name" in title
