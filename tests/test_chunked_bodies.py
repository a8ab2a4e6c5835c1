"""Bodies sent with Transfer-Encoding: chunked (no Content-Length) are read whole, within the
same size limits as any other body: at the WSGI level, and through a real gunicorn."""

import http.client
import io
import json

import pytest
from django.conf import settings as django_settings
from django.test import Client

from registry.models import ApiToken, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests import servers
from tests.helpers import agent_text

ONE = agent_text()
OTHER = agent_text("other-agent", "Handles the rest.", delegate_to="- **agent-one** — one\n")
NEW = agent_text("brand-new", "A new one.", delegate_to="- **agent-one** — one\n")


@pytest.fixture
def token(make_user):
    assert import_files(
        [
            IncomingFile("agents/agent-one.md", ONE.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
        ]
    ).stored
    return ApiToken.create_for(make_user("edith", "Editors"), "tests")[1]


class Endless(io.RawIOBase):
    """A body that never ends, counting what is read of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        buffer[:] = b"x" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


def call(app, path: str, body, token, content_type: str, *, terminated=True, cookie=""):
    """A POST as gunicorn passes a chunked one on: de-chunked, without CONTENT_LENGTH."""
    stream = io.BytesIO(body) if isinstance(body, bytes) else body
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_COOKIE": cookie,
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": content_type,
        "wsgi.input": stream,
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if terminated:
        environ["wsgi.input_terminated"] = True
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), dict(headers)

    result = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return started["status"], started["headers"], data


@pytest.mark.django_db
def test_a_chunked_file_is_linted_like_one_with_a_length(wsgi_application, token):
    status, headers, data = call(
        wsgi_application, "/api/lint?agent=agent-one", ONE.encode(), token, "text/markdown"
    )

    assert status == 200, data
    with_length = Client(headers={"Authorization": f"Bearer {token}"}).post(
        "/api/lint?agent=agent-one", ONE.encode(), content_type="text/markdown"
    )
    assert json.loads(data) == with_length.json()
    assert json.loads(data)["valid"] is True


@pytest.mark.django_db
def test_a_chunked_change_is_read_and_proposed(wsgi_application, token):
    body = json.dumps({"agent": None, "text": NEW, "message": "Chunked"}).encode()

    status, _, data = call(wsgi_application, "/api/changes", body, token, "application/json")

    assert status == 201, data
    assert ChangeRequest.objects.get().text == NEW


@pytest.mark.django_db
def test_a_chunked_body_over_the_limit_is_a_413_and_read_no_further(
    wsgi_application, token, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    endless = Endless()

    status, headers, data = call(
        wsgi_application, "/api/changes", endless, token, "application/json"
    )

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert json.loads(data)["error"]["code"] == "too-large"
    assert endless.read_bytes <= 100_001 + 64 * 1024  # one read past the limit at most


@pytest.mark.django_db
def test_a_chunked_upload_is_read_up_to_the_upload_limit_and_refused_past_it(
    wsgi_application, maintainer, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.REGISTRY_MAX_UPLOAD_BYTES = 100_000
    browser = Client()
    browser.force_login(maintainer)
    endless = Endless()

    status, _, data = call(
        wsgi_application,
        "/import/",
        endless,
        None,
        "multipart/form-data; boundary=x",
        cookie=f"sessionid={browser.cookies['sessionid'].value}",
    )

    assert status == 413, data
    assert "can be uploaded at once" in data.decode()
    # Past the form limit, as far as the upload limit and no further.
    assert 100_000 < endless.read_bytes <= 100_001 + 64 * 1024


def test_a_chunked_body_the_server_cannot_end_gets_411_in_json_under_api(wsgi_application):
    status, headers, data = call(
        wsgi_application, "/api/lint", ONE.encode(), "ar_x", "text/markdown", terminated=False
    )

    assert status == 411
    assert headers["Content-Type"] == "application/json"
    assert "Content-Length" in json.loads(data)["error"]["message"]


# --- Through gunicorn ---------------------------------------------------------------------


@pytest.fixture
def gunicorn(transactional_db):
    """gunicorn with sync workers, as make serve runs it, on the test database."""
    with servers.gunicorn() as port:
        yield port


def send(port: int, method: str, path: str, chunks=None, headers=None):
    """A request on a new connection; chunks (a list of bytes) go as a chunked body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        if chunks is None:
            conn.request(method, path, headers=headers or {})
        else:
            conn.request(method, path, body=iter(chunks), headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def pieces(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def test_gunicorn_reads_chunked_bodies_whole_and_refuses_them_over_the_limit(gunicorn, token):
    headers = {"Authorization": f"Bearer {token}", "Transfer-Encoding": "chunked"}

    lint = send(
        gunicorn,
        "POST",
        "/api/lint?agent=agent-one",
        pieces(ONE.encode()),
        {**headers, "Content-Type": "text/markdown"},
    )
    change = send(
        gunicorn,
        "POST",
        "/api/changes",
        pieces(json.dumps({"text": NEW, "message": "Chunked"}).encode()),
        {**headers, "Content-Type": "application/json"},
    )
    too_large = send(
        gunicorn,
        "POST",
        "/api/changes",
        # Just over the limit: the server stops reading there, and all of it is sent by then.
        pieces(b"x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 65536), 65536),
        {**headers, "Content-Type": "application/json"},
    )

    assert lint[0] == 200, lint
    assert json.loads(lint[2])["valid"] is True
    assert change[0] == 201, change
    assert ChangeRequest.objects.get().text == NEW
    assert too_large[:2] == (413, "application/json"), too_large
    assert json.loads(too_large[2])["error"]["code"] == "too-large"
