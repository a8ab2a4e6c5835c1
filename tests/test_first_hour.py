"""What a new team meets in its first hour: signing out says so, the site has an icon, the agent
page shows the description and recent history near the top, and a refusal says why."""

import pytest
from django.contrib.staticfiles import finders

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
