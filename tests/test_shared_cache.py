"""With REDIS_URL, the agent list's cache is one for every process: what one server cached another
serves, and a change made through one server is on the next page every other one serves."""

import secrets
import uuid

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client

from registry.models import Agent
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text
from tests.servers import gunicorn, request

pytestmark = pytest.mark.django_db(transaction=True)

ONE = agent_text()
OTHER = agent_text("other-agent", "Handles the rest.", delegate_to="- **agent-one** — one\n")
MARK = b"<p>Stored in Redis, as the first server made it.</p>"


@pytest.fixture
def shared_cache():
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: each process has its own cache (CI sets it)")
    return caches["default"]


@pytest.fixture
def signed_in(make_user) -> dict[str, str]:
    """Headers of a maintainer's requests, for a server in another process."""
    browser = Client()
    browser.force_login(make_user("maintainer", "Maintainers"))
    csrf = secrets.token_hex(16)  # 32 characters: Django takes an unmasked secret
    return {
        "Cookie": f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }


def list_results(port: int, headers: dict) -> bytes:
    status, body = request(port, "GET", "/agents/", headers={**headers, "HX-Request": "true"})
    assert status == 200, body
    return body


def cached_results_keys(backend) -> list[str]:
    """The keys of the list's cached results in Redis, as the cache API names them."""
    prefix = f"{backend.key_prefix}:{backend.version}:"
    client = backend._cache.get_client()
    keys = [key.decode().removeprefix(prefix) for key in client.scan_iter(match=f"{prefix}*")]
    return [
        key
        for key in keys
        if key.startswith("registry:agent-list:") and isinstance(backend.get(key), tuple)
    ]


def upload(files: dict[str, str], folder: str) -> tuple[bytes, str]:
    """A multipart body for the import page, and its content type."""
    boundary = uuid.uuid4().hex
    parts = [
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="folder"\r\n\r\n{folder}\r\n'.encode()
    ]
    for name, text in files.items():
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/markdown\r\n\r\n".encode()
            + text.encode()
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_what_one_server_cached_another_serves(shared_cache, signed_in):
    import_files([IncomingFile("agents/agent-one.md", ONE.encode())])

    with gunicorn() as first, gunicorn() as second:
        # On PostgreSQL the key holds the snapshot, which any commit on the server moves (another
        # test run's too): the two requests must see the same one.
        for _ in range(5):
            generation = Agent.objects.generation()
            assert b"Does one thing well." in list_results(first, signed_in)
            keys = cached_results_keys(shared_cache)
            assert keys, "the first server stored nothing in Redis"
            for key in keys:
                shared_cache.set(key, (MARK.decode(), True), 60)
            served = list_results(second, signed_in)
            if Agent.objects.generation() == generation:
                break
            shared_cache.delete_many(keys)

    assert served == MARK


def test_a_change_through_one_server_is_on_the_next_page_any_server_serves(shared_cache, signed_in):
    import_files(
        [
            IncomingFile("agents/agent-one.md", ONE.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    )
    changed = agent_text(description="Changed through the second server.")

    with gunicorn() as first, gunicorn() as second:
        for port in (first, second):
            page = list_results(port, signed_in)
            assert b"Does one thing well." in page
            assert b"Changed through the second server." not in page

        body, content_type = upload({"agent-one.md": changed}, folder="agents")
        status, report = request(
            second, "POST", "/import/", body, {**signed_in, "Content-Type": content_type}
        )
        assert status == 200, report

        for port in (first, second, first):
            page = list_results(port, signed_in)
            assert b"Changed through the second server." in page
            assert b"Does one thing well." not in page
