"""A reviewer sees what a high-risk change grants at the top of its page, comments on the key
that grants it, the comment shows beside that key, and it is resolved from the keyboard."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from registry.models import Agent, ChangeRequest
from tests.browser.test_review import repository  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOOK = (
    "permissionMode: bypassPermissions\n"
    "hooks:\n  PreToolUse:\n    - matcher: Bash\n      hooks:\n"
    "        - type: command\n          command: ./scripts/check-command.sh\n"
)
# Where the page's picture goes, to look at it (none when unset).
SCREENSHOT = os.environ.get("RISK_SCREENSHOT", "")


def test_high_risk_panel_and_a_comment_in_place(
    page,
    live_server,
    sign_in,
    repository,  # noqa: F811
    django_user_model,
):
    author = django_user_model.objects.create_user("ada")
    agent = Agent.objects.get(name="backend-architect")
    text = agent.live_version.text.replace("description:", HOOK + "description:", 1)
    change = ChangeRequest.start_draft(author=author, text=text, agent=agent, message="Hooks")
    change.status = ChangeRequest.Status.OPEN
    change.save(update_fields=["status"])

    sign_in(page, "rex", groups=("Reviewers",))
    page.goto(f"{live_server.url}/changes/{change.pk}/")
    panel = page.locator("#risk")
    expect(panel.locator(".badge.risk.high")).to_have_text("High risk")
    expect(panel).to_contain_text("./scripts/check-command.sh")
    expect(panel).to_contain_text("Needs an approval from a member of Maintainers")

    page.get_by_role("link", name="Comment on permissionMode").click()
    expect(page.get_by_label("Attached to")).to_have_value("frontmatter.permissionMode")
    page.get_by_label("Add a comment").fill("Why bypass every permission?")
    page.get_by_role("button", name="Comment", exact=True).click()

    part = page.locator('section[aria-label="field permissionMode"]')
    expect(part.locator(".anchored-comments")).to_contain_text("Why bypass every permission?")
    expect(page.locator("#unresolved-notice")).to_contain_text("1 comment is unresolved")
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)

    resolve = part.get_by_role("button", name="Resolve")
    resolve.focus()
    page.keyboard.press("Enter")
    expect(part.locator(".anchored-comments .badge.ok")).to_have_text("resolved")
    expect(page.locator("#unresolved-notice")).to_have_count(0)
