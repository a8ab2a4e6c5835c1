"""A person signs in, finds an agent, edits it, and saves a draft; previews never run content."""

import re

import pytest
from playwright.sync_api import expect

from registry.models import ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import DEMO, DEMO_NAMES, agent_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def agents():
    files = [
        IncomingFile(f"agents/{name}.md", (DEMO / f"{name}.md").read_bytes()) for name in DEMO_NAMES
    ]
    files += [
        IncomingFile(
            f"agents/helper-{number}.md",
            agent_text(f"helper-{number}", f"Knows {word} well.").encode(),
        )
        for number, word in enumerate(
            ["kafka", "redis", "postgres", "terraform", "kubernetes", "zebrafish", "react", "rust"]
        )
    ]
    report = import_files(files)
    assert report.stored


def test_search_narrows_the_list_and_opens_an_agent(page, live_server, sign_in, agents):
    sign_in(page)
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(11)
    page.get_by_label("Search").fill("zebrafish")
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=zebrafish"))
    page.get_by_role("link", name="helper-5").click()
    expect(page.get_by_role("heading", name="helper-5", exact=True).first).to_be_visible()
    page.go_back()
    expect(page.get_by_label("Search")).to_have_value("zebrafish")


def test_editing_a_description_saves_a_draft_with_a_one_line_diff(
    page, live_server, sign_in, agents
):
    user = sign_in(page)
    page.goto(f"{live_server.url}/agents/backend-architect/edit/")
    page.get_by_label("Description").fill("Designs reliable backend systems.")
    feedback = page.locator("#feedback")
    expect(feedback.locator(".diff .add")).to_have_text(
        re.compile(r'description: "Designs reliable backend systems\."')
    )

    page.get_by_role("button", name="Raw file").click()
    expect(page.locator("#mode-raw")).to_have_attribute("aria-pressed", "true")
    page.wait_for_load_state("networkidle")
    raw = page.get_by_label(re.compile("The whole file"))
    original = raw.input_value()
    assert "Designs reliable backend systems." in original
    start = original.index("## Boundaries")
    end = original.index("## Delegate To")
    missing = "required section '## Boundaries' is missing"
    raw.fill(original[:start] + original[end:])
    expect(page.get_by_text(missing)).to_be_visible()
    raw.fill(original)
    expect(page.get_by_text(missing)).to_have_count(0)

    page.get_by_label("What you changed, and why").fill("Shorter description")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved: 1 line added, 1 removed")).to_be_visible()
    expect(feedback.locator(".diff .add")).to_have_count(1)
    expect(feedback.locator(".diff .del")).to_have_count(1)

    change = ChangeRequest.objects.get(author=user)
    assert change.status == ChangeRequest.Status.DRAFT
    live = change.agent.live_version.text
    removed = [line for line in live.splitlines() if line not in change.text.splitlines()]
    assert removed == [line for line in live.splitlines() if line.startswith("description:")]


PAYLOADS = """---
name: payload-agent
description: Tries every way to run script in a preview.
---

# Payloads <script>window.alert('title')</script>

<script>window.alert('script tag')</script>
<img src="x" onerror="window.alert('onerror')">
<svg onload="window.alert('svg')"></svg>
<iframe src="javascript:window.alert('iframe')"></iframe>
<div hx-get="/agents/" hx-trigger="load">htmx</div>
<form action="https://evil.example/steal"><button>go</button></form>
<p style="background:url(https://evil.example/bg.png)">styled</p>

[link](javascript:window.alert('link'))
![remote](https://evil.example/pixel.png)
![data](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)
<a href="data:text/html,<script>alert(1)</script>">data link</a>

## Focus Areas
- Payloads

## Boundaries
**Will:**
- Try

**Will Not:**
- Succeed

## Delegate To
- **backend-architect** — for real work
"""


def test_preview_of_script_payloads_runs_nothing_and_calls_no_other_origin(
    page, live_server, sign_in, agents
):
    sign_in(page)
    dialogs, outside = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(live_server.url) else outside.append(request.url)
        ),
    )
    page.goto(f"{live_server.url}/agents/new/")
    page.get_by_role("button", name="Raw file").click()
    expect(page.locator("#mode-raw")).to_have_attribute("aria-pressed", "true")
    page.wait_for_load_state("networkidle")
    page.get_by_label(re.compile("The whole file")).fill(PAYLOADS)
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Payloads")
    expect(preview).to_contain_text("htmx")
    page.wait_for_timeout(500)
    assert preview.locator("script, iframe, svg, form, [style], [onerror], [hx-get]").count() == 0
    assert (
        preview.locator("a[href^='javascript:'], a[href^='data:'], img[src^='data:']").count() == 0
    )
    assert dialogs == []
    assert outside == []
