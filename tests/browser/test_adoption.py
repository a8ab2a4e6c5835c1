"""A team starts with the files it has: real agent files, imported as they are with the default
settings, break rules here and there; a one-line fix to one of them goes through review all the
same, its errors shown as already there."""

import io
import zipfile

import pytest
from playwright.sync_api import expect

from registry.models import Agent, ChangeRequest
from tests.helpers import CORPUS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECTION = CORPUS / "davepoon__claude-code-subagents-collection" / "subagents"


@pytest.fixture
def zipped(tmp_path):
    """The collection's files as one .zip of a folder, as a team would upload it."""
    path = tmp_path / "subagents.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(COLLECTION.glob("*.md")):
            archive.writestr(f"agents/{file.name}", file.read_bytes())
    path.write_bytes(buffer.getvalue())
    return path


def test_a_real_file_with_errors_takes_a_one_line_fix_through_review(
    browser, page, live_server, sign_in, zipped
):
    sign_in(page, "mia", groups=("Maintainers",))
    page.goto(f"{live_server.url}/import/")
    page.get_by_label("Agent files (.md files, or one .zip)").set_input_files(zipped)
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".import-summary")).to_contain_text("created")
    agent = Agent.objects.get(key="api-documenter")
    assert agent.error_count > 0  # no Focus Areas, Boundaries or Delegate To
    original = agent.live_version.text
    page.context.clear_cookies()

    editor = sign_in(page, "edith", groups=("Editors",))
    page.goto(f"{live_server.url}/agents/api-documenter/edit/")
    description = page.get_by_label("Description")
    description.fill(description.input_value() + " Also reviews existing API docs.")
    page.get_by_label("What you changed, and why").fill("Say it reviews docs too")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved: 1 line added, 1 removed")).to_be_visible()
    expect(page.locator("#summary")).to_contain_text("already in version 1")
    page.get_by_role("link", name="Submit for review…").click()
    expect(page.get_by_role("heading", name="Already in version 1")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#change-status")).to_have_text("Open for review")
    change = ChangeRequest.objects.get(author=editor)

    reviewer_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        review_page = reviewer_context.new_page()
        review_page.set_default_timeout(10_000)
        sign_in(review_page, "rex", groups=("Reviewers",))
        review_page.goto(f"{live_server.url}/changes/{change.pk}/")
        expect(review_page.get_by_text("approving publishes the change at once")).to_be_visible()
        review_page.get_by_role("button", name="Approve").click()
        expect(review_page.get_by_text("The change is published as version 2.")).to_be_visible()
        expect(review_page.locator("#next-actor")).to_have_text("Closed: published as version 2.")
    finally:
        reviewer_context.close()

    agent.refresh_from_db()
    published = agent.live_version.text
    changed = [
        (before, after)
        for before, after in zip(original.splitlines(), published.splitlines(), strict=True)
        if before != after
    ]
    assert len(changed) == 1
    assert changed[0][1].endswith("Also reviews existing API docs.")
