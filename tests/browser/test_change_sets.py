"""An editor renames an agent that three others delegate to; a reviewer approves the change
set, which publishes all four files, each changed only in its own lines."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from registry.models import Agent, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text
from tests.test_change_sets import EXPECTED, FILES, changed_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Where the screenshots of the pages go, when asked for (SCREENSHOT_DIR).
SHOTS = Path(os.environ["SCREENSHOT_DIR"]) if os.environ.get("SCREENSHOT_DIR") else None


def shot(page, name):
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"sets-{name}.png", full_page=True)


@pytest.fixture
def four():
    report = import_files([IncomingFile(path, text.encode()) for path, text in FILES.items()])
    assert report.stored
    return {agent.path: agent.live_version.text for agent in Agent.objects.all()}


def test_a_rename_is_proposed_approved_and_published_line_by_line(
    browser, page, live_server, sign_in, four
):
    sign_in(page)
    page.goto(f"{live_server.url}/agents/old-name/")
    page.get_by_role("link", name="Rename").click()
    files = page.locator("#rename-files li")
    expect(files).to_have_count(4)
    for name in ("caller-one", "caller-two", "caller-three"):
        expect(files.get_by_role("link", name=name)).to_be_visible()
    page.get_by_label("New name").fill("new-name")
    shot(page, "rename-form")
    page.get_by_label("New name").fill("caller-one")
    page.get_by_role("button", name="Propose the rename").click()
    expect(page.get_by_role("alert")).to_contain_text("already used by the agent")
    page.get_by_label("New name").fill("new-name")
    page.get_by_role("button", name="Propose the rename").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("change set of 4 agents")
    expect(page.locator(".change-item")).to_have_count(4)
    expect(
        page.locator(".change-item", has_text="agents/old-name.md → agents/new-name.md")
    ).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#change-status")).to_have_text("Open for review")
    shot(page, "change-set")
    change = ChangeRequest.objects.get()

    reviewing = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(reviewing, "reviewer", ("Reviewers",))
    reviewing.goto(f"{live_server.url}/changes/{change.pk}/")
    expect(reviewing.locator(".change-item .diff .add", has_text="Agent(new-name)")).to_be_visible()
    reviewing.get_by_role("button", name="Approve").click()
    expect(reviewing.locator("#change-status")).to_have_text("Published")
    expect(reviewing.get_by_text(re.compile("published: 4 agents, together"))).to_be_visible()
    shot(reviewing, "published")
    reviewing.context.close()

    after = {agent.path: agent.live_version.text for agent in Agent.objects.all()}
    for path, lines in EXPECTED.items():
        new_path = path.replace("old-name.md", "new-name.md")
        assert changed_lines(four[path], after[new_path]) == lines, path


def test_add_missing_sections_from_the_list_confirms_the_count(page, live_server, sign_in):
    lacking = agent_text("lacking-one").split("## Boundaries")[0]
    import_files(
        [
            IncomingFile(
                f"agents/lacking-{n}.md", lacking.replace("lacking-one", f"lacking-{n}").encode()
            )
            for n in range(3)
        ]
    )
    sign_in(page)
    page.get_by_label("Search").fill("lacking-2")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Add missing sections…").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("1 agent lacks a required section")
    page.get_by_role("button", name="Propose adding them to 1 agent").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("change set of 1 agent")
    assert [item.path for item in ChangeRequest.objects.get().items.all()] == [
        "agents/lacking-2.md"
    ]
