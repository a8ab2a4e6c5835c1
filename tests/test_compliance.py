"""The Compliance page: how many agents keep every rule, the errors that remain, the trend."""

import datetime

import pytest
from django.urls import reverse

from registry.models import Agent, ComplianceSnapshot
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db
URL = reverse("registry:compliance")
ONE = "- **agent-one** — for the one thing\n"


@pytest.fixture
def agents(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        import_files(
            [
                IncomingFile("agents/agent-one.md", agent_text().encode()),
                IncomingFile(
                    "agents/other-agent.md", agent_text("other-agent", delegate_to=ONE).encode()
                ),
                IncomingFile("team/no-focus.md", agent_text("no-focus", focus="").encode()),
                IncomingFile("team/Bad Name.md", agent_text("Bad Name", focus="").encode()),
            ]
        )


def test_the_page_counts_agents_keeping_every_rule_and_errors_by_code(client, make_user, agents):
    client.force_login(make_user("rita"))

    html = client.get(URL).content.decode()

    assert '<span class="figure">2</span> of 4 agents keep every rule' in html
    assert (
        '<a class="rule-link" href="/rules/section-empty/"><code>section-empty</code></a></td>\n'
        "        <td>2</td>"
    ) in html
    assert (
        '<a class="rule-link" href="/rules/name-invalid/"><code>name-invalid</code></a></td>\n'
        "        <td>1</td>"
    ) in html
    no_focus = Agent.objects.get(path="team/no-focus.md")
    assert reverse("registry:agent_edit", args=[no_focus.key]) in html


def test_an_import_records_todays_figures_and_the_trend_is_drawn(client, make_user, agents):
    today = ComplianceSnapshot.objects.get()
    assert (today.agents, today.compliant, today.errors) == (4, 2, 3)
    assert today.errors_by_code == {"name-invalid": 1, "section-empty": 2}
    ComplianceSnapshot.objects.create(
        day=today.day - datetime.timedelta(days=1), agents=4, compliant=1, errors=5
    )
    client.force_login(make_user("rita"))

    html = client.get(URL).content.decode()

    assert "<polyline" in html and "1 of 4 agents, 5 errors" in html


def test_the_list_filters_by_a_problem_code(client, make_user, agents):
    client.force_login(make_user("rita"))

    html = client.get(reverse("registry:agent_list") + "?problem=section-empty").content.decode()

    assert "2 agents found" in html
    assert "no-focus" in html and "agent-one" not in html.split('id="results"')[1]


def test_an_empty_registry_points_to_the_import(client, make_user):
    client.force_login(make_user("rita"))

    html = client.get(URL).content.decode()

    assert "Import your repository" in html
