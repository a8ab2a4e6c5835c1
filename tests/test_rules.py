"""Problems are found again when the rules change: a new rule, or a setting that changes one.
No page, filter or API answer shows problems found under other rules."""

import pytest
from django.core.management import call_command

from registry.agentfiles import validation
from registry.models import Agent, ChangeRequest, Version
from registry.models.deriving import recheck
from tests.helpers import DEMO_NAMES, agent_text, run

pytestmark = pytest.mark.django_db

WITH_EXAMPLES = ["Focus Areas", "Boundaries", "Delegate To", "Examples"]


@pytest.fixture
def demo(demo_folder):
    call_command("import_agents", str(demo_folder))
    assert Agent.objects.filter(error_count=0).count() == 3


def section_missing(agent: Agent) -> list[str]:
    return [p["message"] for p in agent.problems if p["code"] == "section-missing"]


def test_a_required_section_added_in_the_settings_reaches_every_page(demo, reader, settings):
    settings.REGISTRY_REQUIRED_SECTIONS = WITH_EXAMPLES

    page = reader.get("/agents/backend-architect/").content.decode()
    listed = reader.get("/agents/?problem=section-missing").content.decode()
    answer = reader.get("/api/agents/backend-architect").json()

    assert "No problems found" not in page
    assert "Examples" in page
    for name in DEMO_NAMES:
        assert f'href="/agents/{name}/"' in listed
    assert "section-missing" in [problem["code"] for problem in answer["problems"]]
    for agent in Agent.objects.all():
        assert section_missing(agent) == ["required section '## Examples' is missing"]
        assert agent.error_count == 1


def test_recheck_agents_finds_them_again_once(demo, settings):
    settings.REGISTRY_REQUIRED_SECTIONS = WITH_EXAMPLES

    first = run("recheck_agents")[1]
    second = run("recheck_agents")[1]

    assert first == "Rechecked 3 versions in " + first.split(" in ")[1]
    assert first.endswith("3 active agents have errors now.\n")
    assert second == "Every agent's problems were found under today's rules.\n"
    assert not Agent.objects.stale_versions().exists()
    assert Agent.objects.filter(error_count=1).count() == 3


def test_a_new_rules_version_makes_every_cached_result_stale(demo, monkeypatch):
    assert not Agent.objects.stale_versions().exists()

    monkeypatch.setattr(validation, "RULES_VERSION", validation.RULES_VERSION + 1)

    assert Agent.objects.stale_versions().count() == Version.objects.count() == 3
    assert recheck() == 3
    assert not Agent.objects.stale_versions().exists()


def test_a_recheck_keeps_every_text_and_counts_open_changes_again(demo, make_user, settings):
    agent = Agent.objects.get(key="backend-architect")
    texts = dict(Version.objects.values_list("pk", "text"))
    editor = make_user("edith", "Editors")
    change = ChangeRequest.start_draft(
        author=editor, text=agent.live_version.text.replace("REST", "HTTP"), agent=agent
    )
    assert change.error_count == 0

    settings.REGISTRY_REQUIRED_SECTIONS = WITH_EXAMPLES
    recheck(batch_size=2)

    change.refresh_from_db()
    assert change.error_count == 1
    assert dict(Version.objects.values_list("pk", "text")) == texts
    assert change.revision == 1


def test_a_version_made_today_is_not_rechecked(demo, make_user):
    agent = Agent.objects.get(key="backend-architect")
    agent.add_version(agent_text("backend-architect"), make_user("edith", "Editors"))

    assert not Agent.objects.stale_versions().exists()
    assert agent.live_version.rules == validation.rules_fingerprint(
        validation.DEFAULT_REQUIRED_SECTIONS
    )
