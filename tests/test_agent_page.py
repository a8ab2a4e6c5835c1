"""The agent page: rendered body, frontmatter, problems, delegations, history; and download."""

import importlib
import itertools

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.models import Agent, AgentDelegation, ChangeRequest
from registry.models.deriving import recheck
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

FILE_NUMBERS = itertools.count()


def add_agents(*texts: str, folder: str = "agents") -> dict[str, Agent]:
    """Import new files as import_agents would; all the agents by name."""
    report = import_files(
        [IncomingFile(f"{folder}/file-{next(FILE_NUMBERS)}.md", text.encode()) for text in texts]
    )
    assert not report.rejected
    return {agent.name: agent for agent in Agent.objects.all()}


def page_url(agent: Agent) -> str:
    return reverse("registry:agent_detail", args=[agent.key])


@pytest.fixture
def agents():
    return add_agents(
        agent_text(
            "api-designer",
            "Designs APIs.",
            extra="category: backend\ntools: [Read, Grep, Glob]\nskills:\n  - rest\n  - graphql\n",
            focus="- **REST**: resources and *verbs*\n",
            delegate_to=(
                "- **db-expert** — for schemas\n"
                "- **ghost-writer** — for prose\n"
                "- **api-designer** — never mind\n"
            ),
        ),
        agent_text("db-expert", "Knows databases.", delegate_to="- **api-designer** — APIs\n"),
        agent_text("bystander", "Delegates elsewhere.", delegate_to="- **db-expert** — data\n"),
    )


def test_anonymous_visitor_is_sent_to_sign_in(client, agents):
    agent = agents["db-expert"]
    for url in (page_url(agent), reverse("registry:agent_download", args=[agent.key])):
        response = client.get(url)

        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_unknown_key_is_not_found(reader):
    assert reader.get("/agents/no-such-agent/").status_code == 404
    assert reader.get("/agents/no-such-agent/download/").status_code == 404


def test_body_is_rendered_as_html(reader, agents):
    html = reader.get(page_url(agents["api-designer"])).content.decode()

    assert "<h1>api-designer</h1>" in html
    assert "<h2>Focus Areas</h2>" in html
    assert "<li><strong>REST</strong>: resources and <em>verbs</em></li>" in html
    assert "description: Designs APIs." not in html  # the frontmatter is not part of the body


def test_body_is_sanitized(reader):
    agent = add_agents(
        agent_text(
            "risky",
            "Tries things.",
            focus=(
                "<script>alert('x')</script>\n\n"
                '<img src="x" onerror="alert(1)">\n\n'
                "[click](javascript:alert(1))\n"
            ),
        )
    )["risky"]

    html = reader.get(page_url(agent)).content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html  # shown as text
    assert "<img" not in html
    assert 'href="javascript:' not in html


def test_frontmatter_is_shown_as_a_table(reader, agents):
    html = reader.get(page_url(agents["api-designer"])).content.decode()

    assert "<dt>name</dt>\n        <dd>api-designer</dd>" in html
    assert "<dt>category</dt>\n        <dd>backend</dd>" in html
    assert "<dt>tools</dt>\n        <dd>Read, Grep, Glob</dd>" in html
    assert "<dt>skills</dt>\n        <dd>rest, graphql</dd>" in html


def test_problems_show_their_location_errors_first(reader, agents):
    agent = agents["api-designer"]
    agent.add_version(
        agent_text(
            "api-designer",
            "Designs APIs.",
            extra="model: gpt-9\n",  # a warning on line 4
            delegate_to="- **ghost-writer** — for prose\n",  # an error on line 20
        )
    )
    Agent.objects.refresh_problems()

    html = reader.get(page_url(agent)).content.decode()

    error = html.index("line 20:5</span>")
    warning = html.index("line 4:1</span>")
    assert error < warning
    assert "<code>delegate-unknown</code>" in html
    assert "&#x27;ghost-writer&#x27;, which is not a known agent" in html
    assert '<span class="badge error">1 error</span>' in html


def test_a_valid_agent_says_so(reader, agents):
    html = reader.get(page_url(agents["bystander"])).content.decode()

    assert "No problems found." in html


def test_delegations_link_to_known_agents_and_mark_unknown_ones(reader, agents):
    html = reader.get(page_url(agents["api-designer"])).content.decode()

    assert '<a href="/agents/db-expert/">db-expert</a>' in html
    assert '<span class="unknown">ghost-writer</span>' in html
    assert "unknown agent" in html


def test_archived_delegates_count_as_unknown(reader, agents):
    Agent.objects.filter(name="db-expert").update(archived=True)

    html = reader.get(page_url(agents["api-designer"])).content.decode()

    assert '<span class="unknown">db-expert</span>' in html


def test_delegated_by_lists_the_agents_that_delegate_here(reader, agents):
    html = reader.get(page_url(agents["db-expert"])).content.decode()
    section = html[html.index("Delegated to by") :]

    assert '<a href="/agents/api-designer/">api-designer</a>' in section
    assert '<a href="/agents/bystander/">bystander</a>' in section


def test_delegated_by_needs_the_exact_name(reader, agents):
    add_agents(agent_text("db", "A prefix of db-expert.", delegate_to="- **api-designer** — x\n"))
    html = reader.get(page_url(Agent.objects.get(name="db"))).content.decode()

    assert "No agent delegates to this one." in html


def test_history_lists_versions_newest_first(reader, user, agents):
    agent = agents["db-expert"]
    agent.add_version(agent_text("db-expert", "Knows more."), user, "Broadened the scope")

    html = reader.get(page_url(agent)).content.decode()
    history = html[html.index('id="history-heading"') :]

    assert history.index("<td>2 <span") < history.index("<td>1</td>")
    assert "<td>reader</td>" in history
    assert "<td>import</td>" in history
    assert "Broadened the scope" in history
    assert "Imported" in history


def test_archived_agent_is_still_shown_with_a_notice(reader, agents):
    Agent.objects.filter(name="bystander").update(archived=True)

    response = reader.get(page_url(agents["bystander"]))

    assert response.status_code == 200
    assert "This agent is archived." in response.content.decode()


def test_edit_link_only_for_those_who_may_propose_changes(client, user, agents):
    agent = agents["db-expert"]
    edit = f'href="/agents/{agent.key}/edit/"'
    client.force_login(user)
    assert edit not in client.get(page_url(agent)).content.decode()

    user.groups.add(Group.objects.get(name="Editors"))
    client.force_login(user)
    assert edit in client.get(page_url(agent)).content.decode()


def test_open_changes_are_listed(reader, user, agents):
    agent = agents["db-expert"]
    change = ChangeRequest.start_draft(
        author=user, text=agent.live_version.text, agent=agent, message="Tighten the scope"
    )

    html = reader.get(page_url(agent)).content.decode()

    assert "Open changes" in html
    assert f"#{change.pk} Edit" in html
    assert "Tighten the scope" in html
    assert "Open changes" not in reader.get(page_url(agents["bystander"])).content.decode()


def test_download_returns_the_exact_bytes(reader):
    data = b"\xef\xbb\xbf" + agent_text("windows-agent", "Saved on Windows.").replace(
        "\n", "\r\n"
    ).encode("utf-8")
    report = import_files([IncomingFile("team/windows-agent.md", data)])
    assert not report.rejected
    agent = Agent.objects.get(name="windows-agent")

    response = reader.get(reverse("registry:agent_download", args=[agent.key]))

    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="windows-agent.md"'


def test_download_link_is_on_the_page(reader, agents):
    agent = agents["db-expert"]
    html = reader.get(page_url(agent)).content.decode()

    assert f'href="/agents/{agent.key}/download/"' in html


def test_page_queries_do_not_grow_with_the_agents_delegating_to_it(reader, agents):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert reader.get(page_url(agents["db-expert"])).status_code == 200
        return len(queries)

    few = count_queries()
    add_agents(
        *[
            agent_text(f"helper-{n}", "Helps.", delegate_to="- **db-expert** — data\n")
            for n in range(20)
        ]
    )
    html = reader.get(page_url(agents["db-expert"])).content.decode()

    assert count_queries() == few
    assert html.count('<a href="/agents/helper-') == 20


def test_delegated_by_reads_the_delegation_index_not_the_versions(reader, agents):
    with CaptureQueriesContext(connection) as queries:
        reader.get(page_url(agents["db-expert"]))

    delegated_by = [
        q["sql"] for q in queries.captured_queries if "registry_agentdelegation" in q["sql"]
    ]
    assert len(delegated_by) == 1
    assert "registry_version" not in delegated_by[0]


def test_delegated_by_follows_the_live_version(reader, agents):
    agents["api-designer"].add_version(
        agent_text("api-designer", "Designs APIs.", delegate_to="- **bystander** — for care\n")
    )

    assert [name for _, name in agents["db-expert"].delegated_by()] == ["bystander"]
    assert [name for _, name in agents["bystander"].delegated_by()] == ["api-designer"]


def test_delegated_by_leaves_out_archived_agents(reader, agents):
    Agent.objects.filter(name="bystander").update(archived=True)

    assert [name for _, name in agents["db-expert"].delegated_by()] == ["api-designer"]


def test_a_recheck_writes_the_delegation_index_again(agents):
    agents["bystander"].add_version(
        agent_text("bystander", "Delegates elsewhere.", delegate_to="- **api-designer** — x\n")
    )
    AgentDelegation.objects.all().delete()
    assert agents["db-expert"].delegated_by() == []

    recheck(everything=True)

    # The live versions' delegations, each name once; not those of bystander's first version.
    assert sorted(AgentDelegation.objects.values_list("agent__name", "name")) == [
        ("api-designer", "api-designer"),
        ("api-designer", "db-expert"),
        ("api-designer", "ghost-writer"),
        ("bystander", "api-designer"),
        ("db-expert", "api-designer"),
    ]
    assert [name for _, name in agents["db-expert"].delegated_by()] == ["api-designer"]


def test_the_migration_indexes_every_live_version(agents):
    indexed = sorted(AgentDelegation.objects.values_list("agent__name", "name"))
    AgentDelegation.objects.all().delete()

    migration = importlib.import_module("registry.migrations.0018_delegation_index")
    migration.index_live_delegations(apps, None)

    assert sorted(AgentDelegation.objects.values_list("agent__name", "name")) == indexed
    assert len(indexed) == 5


def test_agents_its_tools_may_start_are_shown_with_where_they_come_from(client, make_user):
    import_files(
        [
            IncomingFile(
                "agents/agent-one.md",
                agent_text(
                    extra="tools: Read, Agent(other-agent)\n", delegate_to="- ghost\n"
                ).encode(),
            ),
            IncomingFile("agents/other-agent.md", agent_text("other-agent").encode()),
        ]
    )
    client.force_login(make_user("rita"))

    html = client.get("/agents/agent-one/").content.decode()

    assert '<a href="/agents/other-agent/">other-agent</a>' in html
    assert "may start it: <code>Agent(other-agent)</code> in tools" in html
    assert "ghost" in html and "unknown agent" in html


def test_a_copilot_agents_agents_and_handoffs_are_delegations(client, make_user):
    copilot = agent_text(
        "planner",
        extra="agents: [other-agent]\nhandoffs:\n  - label: Review\n    agent: reviewer\n",
        delegate_to="- other-agent\n",
    )
    import_files(
        [
            IncomingFile(".github/agents/planner.agent.md", copilot.encode()),
            IncomingFile(".github/agents/other-agent.md", agent_text("other-agent").encode()),
        ]
    )
    client.force_login(make_user("rita"))

    html = client.get("/agents/planner/").content.decode()

    assert "GitHub Copilot" in html
    assert '<a href="/agents/other-agent/">other-agent</a>' in html
    assert "in Delegate To; may start it: in <code>agents</code>" in html
    assert "hands off to it: in <code>handoffs</code>" in html
    # reviewer is no agent: the same check as for Delegate To, located on the handoff's line.
    planner = Agent.objects.get(name="planner")
    (unknown,) = [p for p in planner.problems if p["code"] == "delegate-unknown"]
    assert unknown["message"] == "may start 'reviewer' (in handoffs), which is not a known agent"
    assert (unknown["line"], unknown["where"]) == (7, "frontmatter.handoffs")
