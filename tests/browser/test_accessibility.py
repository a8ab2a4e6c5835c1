"""axe-core (WCAG 2.1 A and AA, and best practice) finds nothing on any page."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command

from registry.models import Agent, ChangeRequest
from tests.helpers import CORPUS, DEMO

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    }
}


@pytest.fixture
def registry(tmp_path):
    """The demo agents and a handful of real ones (with problems), and a change to review."""
    call_command("import_agents", DEMO, verbosity=0)
    call_command("import_agents", CORPUS / "0xfurai__claude-code-subagents", verbosity=0)


def violations(page) -> list[str]:
    results = Axe().run(page, options=RULES)
    return [
        f"{item['id']} ({item['impact']}): {item['help']} — "
        + "; ".join(node["target"][0] for node in item["nodes"][:3])
        for item in results.response["violations"]
    ]


def test_no_page_has_an_accessibility_violation(page, live_server, sign_in, registry):
    user = sign_in(page, "mona", groups=("Maintainers",))
    agent = Agent.objects.get(key="backend-architect")
    page.goto(f"{live_server.url}/agents/backend-architect/edit/")
    page.get_by_label("Category").fill("platform")
    page.get_by_label("What you changed, and why").fill("Move to the platform category")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/edit/?change=*")
    change = ChangeRequest.objects.get(author=user)
    broken = Agent.objects.filter(error_count__gt=0).first()
    pages = [
        "/agents/",
        "/agents/?q=python&status=errors",
        f"/agents/{agent.key}/",
        f"/agents/{broken.key}/",
        f"/agents/{agent.key}/edit/",
        f"/agents/{agent.key}/edit/?mode=raw",
        f"/agents/{broken.key}/edit/",
        "/agents/new/",
        f"/changes/{change.pk}/",
        f"/changes/{change.pk}/?view=unified",
        "/changes/",
        f"/agents/{agent.key}/history/",
        "/audit/",
        "/drift/",
        "/graph/?all=on",
        "/import/",
        "/account/tokens/",
    ]
    found = {}
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        if problems := violations(page):
            found[path] = problems
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    if problems := violations(page):
        found["/accounts/login/"] = problems

    assert found == {}, "\n".join(
        f"{path}: {problem}" for path, problems in found.items() for problem in problems
    )
