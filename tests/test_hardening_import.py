"""The import page checks the CSRF token before it writes anything, the audit log's record of a
refused import included; an upload over the size limit is still refused before it is read."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from registry.models import Agent, AuditEvent
from tests.helpers import DEMO, DEMO_NAMES

pytestmark = pytest.mark.django_db


def demo_uploads() -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(f"{name}.md", (DEMO / f"{name}.md").read_bytes()) for name in DEMO_NAMES
    ]


def too_large() -> list[SimpleUploadedFile]:
    """An upload over a limit of 100,000 bytes (a file read by one post is empty for the next)."""
    return [SimpleUploadedFile("big.md", b"x" * 150_000)]


def import_events():
    """Audit events of imports, allowed or denied (signing in writes one of its own)."""
    return AuditEvent.objects.filter(action__startswith="import")


def browser_of(user) -> Client:
    """A signed-in browser that checks CSRF as a real one does, holding its CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/agents/")
    assert client.cookies["csrftoken"].value
    return client


def same_site_post(client: Client, files, **fields):
    token = client.cookies["csrftoken"].value
    return client.post("/import/", {"files": files, "csrfmiddlewaretoken": token, **fields})


def cross_site_post(client: Client, files, **fields):
    """What a page on another site can make a signed-in browser send: no token."""
    return client.post(
        "/import/", {"files": files, **fields}, headers={"Origin": "https://evil.example"}
    )


@pytest.mark.parametrize("groups", [(), ("Editors",), ("Reviewers",)])
def test_a_cross_site_post_writes_no_audit_event_in_the_users_name(make_user, groups):
    client = browser_of(make_user("someone", *groups))

    response = cross_site_post(client, demo_uploads())

    assert response.status_code == 403
    assert not import_events()
    assert not Agent.objects.exists()


def test_a_cross_site_post_without_an_origin_is_refused_too(make_user):
    client = browser_of(make_user("someone", "Editors"))

    response = client.post("/import/", {"files": demo_uploads()})

    assert response.status_code == 403
    assert not import_events()


def test_a_cross_site_post_by_a_maintainer_imports_nothing(maintainer):
    client = browser_of(maintainer)

    response = cross_site_post(client, demo_uploads())

    assert response.status_code == 403
    assert not Agent.objects.exists()
    assert not import_events()


def test_a_non_maintainers_own_post_is_refused_and_audited(make_user):
    editor = make_user("someone", "Editors")
    client = browser_of(editor)

    response = same_site_post(client, demo_uploads())

    assert response.status_code == 403
    assert not Agent.objects.exists()
    denied = import_events().get()
    assert (denied.action, denied.actor) == ("import.denied", editor)


def test_a_maintainers_own_post_imports(maintainer):
    client = browser_of(maintainer)

    response = same_site_post(client, demo_uploads())

    assert response.status_code == 200
    assert Agent.objects.count() == len(DEMO_NAMES)
    assert AuditEvent.objects.filter(action="import", actor=maintainer).count() == 1


def test_an_upload_over_the_limit_is_still_refused_before_it_is_read(maintainer, settings):
    settings.REGISTRY_MAX_UPLOAD_BYTES = 100_000
    client = browser_of(maintainer)

    own = same_site_post(client, too_large())
    cross_site = cross_site_post(client, too_large())

    for response in (own, cross_site):
        assert response.status_code == 413
        assert "at most 98 KiB can be uploaded at once" in response.content.decode()
    assert not Agent.objects.exists()
    assert not import_events()


def test_an_upload_over_the_limit_from_a_non_maintainer_is_refused_unrecorded(make_user, settings):
    settings.REGISTRY_MAX_UPLOAD_BYTES = 100_000
    client = browser_of(make_user("someone", "Editors"))

    response = cross_site_post(client, too_large())

    assert response.status_code == 403
    assert "uploaded at once" not in response.content.decode()
    assert not import_events()
