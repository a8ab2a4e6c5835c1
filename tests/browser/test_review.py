"""An editor proposes a one-line change and submits it; only another person, a reviewer, can
approve it; once published, the export differs from the imported file by that one line."""

import difflib

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from registry.models import ChangeRequest
from tests.helpers import DEMO, DEMO_NAMES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def repository(tmp_path):
    """The demo agents as a repository folder, imported."""
    folder = tmp_path / "repository"
    (folder / "agents").mkdir(parents=True)
    for name in DEMO_NAMES:
        (folder / "agents" / f"{name}.md").write_bytes((DEMO / f"{name}.md").read_bytes())
    call_command("import_agents", folder, verbosity=0)
    return folder


def test_a_reviewed_change_is_published_and_exported_as_one_changed_line(
    browser, page, live_server, sign_in, repository, tmp_path
):
    editor = sign_in(page, "edith", groups=("Editors",))
    page.goto(f"{live_server.url}/agents/backend-architect/edit/")
    page.get_by_label("Category").fill("platform")
    page.get_by_label("What you changed, and why").fill("Move to the platform category")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved: 1 line added, 1 removed")).to_be_visible()

    page.get_by_role("link", name="Submit for review…").click()
    change = ChangeRequest.objects.get(author=editor)
    expect(page).to_have_url(f"{live_server.url}/changes/{change.pk}/")
    expect(page.locator("table.side-by-side ins")).to_have_text("platform")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#change-status")).to_have_text("Open for review")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # The page offers no Approve button; a request made by hand is refused all the same.
    change.refresh_from_db()
    csrf_token = next(
        cookie["value"] for cookie in page.context.cookies() if cookie["name"] == "csrftoken"
    )
    forced = page.request.post(
        f"{live_server.url}/changes/{change.pk}/approve/",
        form={"seen_hash": change.text_hash},
        headers={"X-CSRFToken": csrf_token},
    )
    assert forced.status == 403
    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.OPEN
    assert not change.reviews.exists()

    reviewer_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        review_page = reviewer_context.new_page()
        review_page.set_default_timeout(10_000)
        sign_in(review_page, "rex", groups=("Reviewers",))
        expect(review_page.locator("#waiting-count")).to_contain_text("1")
        review_page.locator("#queue-link").click()
        review_page.locator("#waiting").get_by_role("link", name=f"#{change.pk} edit").click()
        review_page.get_by_label("Note to the author").fill("Right category.")
        review_page.get_by_role("button", name="Approve").click()
        expect(review_page.get_by_text("The change is published as version 2.")).to_be_visible()
        expect(review_page.locator("#change-status")).to_have_text("Published")
    finally:
        reviewer_context.close()

    export = tmp_path / "export"
    call_command("export_agents", export, verbosity=0)
    original = (repository / "agents" / "backend-architect.md").read_text()
    exported = (export / "agents" / "backend-architect.md").read_text()
    changed = [
        line
        for line in difflib.unified_diff(
            original.splitlines(), exported.splitlines(), n=0, lineterm=""
        )
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ]
    assert changed == ["-category: engineering", "+category: platform"]
    for name in ("security-engineer", "performance-engineer"):
        path = f"agents/{name}.md"
        assert (export / path).read_bytes() == (repository / path).read_bytes()
