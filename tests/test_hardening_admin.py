"""Django's admin shows the registry's records but changes none of them: agents change only
through change requests, which are reviewed and audited."""

import pytest
from django.contrib import admin

from registry.models import Agent, AuditEvent, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import DEMO, DEMO_NAMES

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent() -> Agent:
    report = import_files(
        [
            IncomingFile(f"agents/{name}.md", (DEMO / f"{name}.md").read_bytes())
            for name in DEMO_NAMES
        ]
    )
    assert report.stored
    return Agent.objects.get(path="agents/backend-architect.md")


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def agent_form(agent: Agent, **changes) -> dict:
    """Every field the admin's change form had before it was read-only, with changes."""
    fields = {
        "key": agent.key,
        "path": agent.path,
        "name": agent.name,
        "description": agent.description,
        "category": agent.category,
        "archived": "on" if agent.archived else "",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    fields.update(changes)
    return {name: value for name, value in fields.items() if value != ""}


def test_a_superuser_cannot_archive_rename_or_move_an_agent_in_the_admin(superuser_client, agent):
    before = Agent.objects.filter(pk=agent.pk).values().get()

    response = superuser_client.post(
        f"/admin/registry/agent/{agent.pk}/change/",
        agent_form(
            agent,
            name="renamed-in-admin",
            path="agents/elsewhere.md",
            key="elsewhere",
            archived="on",
        ),
    )

    assert response.status_code == 403
    assert Agent.objects.filter(pk=agent.pk).values().get() == before
    assert not ChangeRequest.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="change.").exists()


def test_a_superuser_cannot_add_or_delete_agents_in_the_admin(superuser_client, agent):
    count = Agent.objects.count()

    added = superuser_client.post(
        "/admin/registry/agent/add/",
        agent_form(agent, key="new-one", path="agents/new-one.md", name="new-one"),
    )
    deleted = superuser_client.post(f"/admin/registry/agent/{agent.pk}/delete/", {"post": "yes"})
    superuser_client.post(
        "/admin/registry/agent/",
        {"action": "delete_selected", "_selected_action": [agent.pk], "post": "yes"},
    )

    assert added.status_code == 403
    assert deleted.status_code == 403
    assert Agent.objects.count() == count


def test_the_admin_still_shows_agents_and_their_versions(superuser_client, agent):
    listing = superuser_client.get("/admin/registry/agent/")
    page = superuser_client.get(f"/admin/registry/agent/{agent.pk}/change/")

    assert listing.status_code == 200
    assert "backend-architect" in listing.content.decode()
    assert page.status_code == 200
    content = page.content.decode()
    assert agent.path in content
    assert 'name="_save"' not in content


def test_no_registered_registry_model_can_be_changed_in_the_admin(rf, django_user_model):
    request = rf.get("/admin/")
    request.user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")

    editable = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label == "registry"
        and (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
        )
    ]

    assert editable == []
