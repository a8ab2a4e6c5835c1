"""What a new team meets in its first hour: signing out says so, the site has an icon, the agent
page shows the description and recent history near the top, and a refusal says why."""

import pytest
from django.contrib.staticfiles import finders

from registry.models import Agent, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db


def test_signing_out_says_so_on_the_sign_in_page(client, make_user):
    client.force_login(make_user("rita"))

    response = client.post("/accounts/logout/", follow=True)

    assert response.request["PATH_INFO"] == "/accounts/login/"
    assert "You are signed out." in response.content.decode()


def test_every_page_names_an_icon_that_exists(client, make_user):
    client.force_login(make_user("rita"))

    html = client.get("/agents/").content.decode()

    assert '<link rel="icon" href="/static/favicon.svg"' in html
    assert finders.find("favicon.svg")


def test_the_agent_page_shows_the_description_first_and_the_history_beside_the_body(
    client, make_user
):
    body = "".join(f"- Point {number} of a long list\n" for number in range(400))
    import_files(
        [IncomingFile("agents/agent-one.md", agent_text(focus=body).encode())], message="First"
    )
    client.force_login(make_user("rita"))

    html = client.get("/agents/agent-one/").content.decode()

    assert html.index('class="lead">Does one thing well.') < html.index('id="body-heading"')
    sidebar = html[html.index("<aside") :]
    assert 'id="history-heading"' in sidebar and "Point 399" not in sidebar


def test_the_agent_page_lists_recent_versions_and_links_to_all(client, make_user):
    for number in range(12):
        text = agent_text(description=f"Version {number}.")
        import_files([IncomingFile("agents/agent-one.md", text.encode())], message=f"V{number}")
    client.force_login(make_user("rita"))

    html = client.get("/agents/agent-one/").content.decode()
    history = html[html.index('id="history-heading"') :]

    assert "<td>12 <span" in history and "<td>3</td>" in history and "<td>2</td>" not in history
    assert "All versions, compare or restore" in history


def test_a_refusal_no_role_would_lift_says_why_and_links_back_to_the_change(client, make_user):
    import_files([IncomingFile("agents/agent-one.md", agent_text().encode())])
    client.force_login(make_user("mona", "Maintainers"))
    client.post("/agents/agent-one/archive/")
    change = ChangeRequest.objects.get()
    client.post(f"/changes/{change.pk}/submit/")

    response = client.post(f"/changes/{change.pk}/approve/", {"seen_hash": change.text_hash})

    html = response.content.decode()
    assert response.status_code == 403
    assert "nobody reviews their own change" in html
    assert "given by a maintainer" not in html
    assert f'<a href="/changes/{change.pk}/">Back to change #{change.pk}</a>' in html


def test_a_refusal_for_want_of_a_role_says_who_gives_roles(client, make_user):
    import_files([IncomingFile("agents/agent-one.md", agent_text().encode())])
    client.force_login(make_user("rita"))

    response = client.post("/agents/agent-one/archive/")

    html = response.content.decode()
    assert response.status_code == 403
    assert "Roles (editor, reviewer, maintainer) are given by a maintainer." in html
    assert '<a href="/agents/agent-one/">Back to agent-one</a>' in html


def test_the_editor_offers_a_category_from_the_agents_folder(client, make_user):
    import_files(
        [
            IncomingFile("plugins/data-engineering/agents/agent-one.md", agent_text().encode()),
            IncomingFile(
                "other/other-agent.md",
                agent_text("other-agent", extra="category: platform\n").encode(),
            ),
        ]
    )
    client.force_login(make_user("edith", "Editors"))

    html = client.get("/agents/agent-one/edit/").content.decode()

    choices = html.split('<datalist id="field-category-choices">')[1].split("</datalist>")[0]
    assert choices == '<option value="data-engineering"></option><option value="platform"></option>'
    assert "Suggested: “data-engineering” (pick it from the list)." in html


def test_a_closed_change_says_how_it_closed(client, make_user):
    import_files([IncomingFile("agents/agent-one.md", agent_text().encode())])
    author = make_user("edith", "Editors")
    agent = Agent.objects.get()
    change = ChangeRequest.start_draft(
        author=author, text=agent_text(description="New."), agent=agent
    )
    client.force_login(author)
    change.withdraw(author)

    html = client.get(f"/changes/{change.pk}/").content.decode()

    assert '<span id="next-actor">Closed: withdrawn by its author.</span>' in html
    assert "nobody" not in html


def test_approve_says_when_it_publishes_at_once(client, make_user, settings):
    settings.REGISTRY_APPROVALS_REQUIRED = 2
    import_files([IncomingFile("agents/agent-one.md", agent_text().encode())])
    author = make_user("edith", "Editors")
    change = ChangeRequest.start_draft(
        author=author, text=agent_text(description="New."), agent=Agent.objects.get()
    )
    change.submit(author)
    client.force_login(make_user("rita", "Reviewers"))
    note = "approving publishes the change at once"

    first = client.get(f"/changes/{change.pk}/").content.decode()
    change.approve(make_user("rex", "Reviewers"))
    last = client.get(f"/changes/{change.pk}/").content.decode()

    assert note not in first
    assert note in last
