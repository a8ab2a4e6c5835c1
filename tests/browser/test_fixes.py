"""A person reads why a problem matters on its rule page, then fixes it with the editor's Fix
button: the saved draft differs from the live version only by the lines the fix added."""

import difflib
import re

import pytest
from playwright.sync_api import expect

from registry.models import ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import DEMO, DEMO_NAMES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def without_boundaries():
    """The demo agents, backend-architect without its Boundaries section."""
    files = []
    for name in DEMO_NAMES:
        text = (DEMO / f"{name}.md").read_text()
        if name == "backend-architect":
            text = re.sub(r"## Boundaries\n.*?(?=## )", "", text, flags=re.DOTALL)
        files.append(IncomingFile(f"agents/{name}.md", text.encode()))
    assert import_files(files).stored


def test_rule_page_then_fix_button_adds_only_the_missing_section(
    page, live_server, sign_in, without_boundaries
):
    user = sign_in(page)
    page.goto(f"{live_server.url}/agents/backend-architect/")
    page.get_by_role("link", name="section-missing").click()
    expect(page).to_have_url(f"{live_server.url}/rules/section-missing/")
    expect(page.get_by_text("The editor can fix this")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/agents/backend-architect/")

    page.get_by_role("link", name="Edit", exact=True).click()
    missing = page.locator("#problems-general li", has_text="'## Boundaries' is missing")
    fix = missing.get_by_role("button", name=re.compile(r"^Fix"))
    expect(fix).to_be_visible()
    fix.focus()
    page.keyboard.press("Enter")
    expect(missing).to_have_count(0)
    added = page.locator('input[name$="-title"][value="Boundaries"]')
    expect(added).to_have_count(1)
    # Focus moves to the added section's text, for the keyboard user to fill it in.
    body = added.get_attribute("id").replace("-title", "-body")
    expect(page.locator(f"#{body}")).to_be_focused()
    feedback = page.locator("#feedback")
    expect(feedback.locator(".diff .del")).to_have_count(0)
    expect(feedback.locator(".diff .add").first).to_have_text(re.compile(r"## Boundaries"))

    page.get_by_label("What you changed, and why").fill("Add the Boundaries section")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text(re.compile(r"Draft saved: \d+ lines added, 0 removed"))).to_be_visible()

    change = ChangeRequest.objects.get(author=user)
    base = change.base_version.text.splitlines(keepends=True)
    draft = change.text.splitlines(keepends=True)
    operations = difflib.SequenceMatcher(None, base, draft, autojunk=False).get_opcodes()
    changed = [operation for operation in operations if operation[0] != "equal"]
    assert [operation[0] for operation in changed] == ["insert"]
    _, _, _, start, end = changed[0]
    assert [line.strip() for line in draft[start:end] if line.strip()] == [
        "## Boundaries",
        "**Will:**",
        "- What this agent does",
        "**Will Not:**",
        "- What it leaves to other agents",
    ]
