"""When the database stops answering: a clear 503, nothing half-saved, and back by itself.

On every database the failure is simulated inside the process. On PostgreSQL the app also runs
under gunicorn behind a TCP proxy to the test database that the test cuts and restores."""

import contextlib
import hashlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.db import OperationalError, connection
from django.test import Client

from registry.models import Agent, AuditEvent, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from registry.views.errors import DATABASE_GONE as MESSAGE
from tests.helpers import agent_text

BASE_DIR = Path(__file__).resolve().parents[1]
AGENT = agent_text("agent-one", delegate_to="- **agent-one** — itself\n")


def add_agent() -> Agent:
    report = import_files([IncomingFile("agents/agent-one.md", AGENT.encode())])
    assert report.stored
    return Agent.objects.get(path="agents/agent-one.md")


def make_editor() -> User:
    user = User.objects.create_user(username="edith", password="a-long-password")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


def database_fails():
    return mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_consistent(change: ChangeRequest, sent: set[str]) -> None:
    """Its text is one that was sent, whole; its hash is that text's; its revision counts
    exactly the saves recorded."""
    change.refresh_from_db()
    assert change.text in sent
    assert change.text_hash == sha256(change.text)
    saves = AuditEvent.objects.filter(action="change.save", object_id=str(change.pk)).count()
    assert change.revision == 1 + saves


# --- Simulated, on every database ---------------------------------------------------------


@pytest.fixture
def signed_in(db):
    agent = add_agent()
    user = make_editor()
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client, agent, user


@pytest.mark.parametrize("path", ["/agents/", "/agents/agent-one/", "/agents/agent-one/edit/"])
def test_a_page_is_a_clear_503_while_the_database_does_not_answer(signed_in, path):
    client, _, _ = signed_in

    with database_fails():
        response = client.get(path)

    assert response.status_code == 503
    assert MESSAGE in response.content.decode()
    assert response["Retry-After"]
    assert client.get(path).status_code == 200


def test_the_api_answers_503_in_json_while_the_database_does_not_answer(signed_in):
    client, _, _ = signed_in

    with database_fails():
        response = client.get("/api/agents")

    assert response.status_code == 503
    assert response.json()["error"] == {"code": "database-unavailable", "message": MESSAGE}


def test_health_check_says_503_while_the_database_does_not_answer(signed_in):
    client, _, _ = signed_in

    with database_fails():
        response = client.get("/healthz")

    assert response.status_code == 503
    assert client.get("/healthz").status_code == 200


def test_a_save_cut_off_halfway_stores_nothing(signed_in):
    client, agent, user = signed_in
    change = ChangeRequest.start_draft(author=user, text=AGENT, agent=agent)
    edited = AGENT.replace("Does one thing well.", "Does one thing very well.")
    form = {"mode": "raw", "text": edited, "change": change.pk, "revision": 1, "action": "save"}

    # The text is updated, then the audit event's insert finds the database gone.
    with mock.patch(
        "registry.models.changes.AuditEvent.record",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        response = client.post(f"/agents/{agent.key}/edit/", form)

    assert response.status_code == 503
    assert MESSAGE in response.content.decode()
    assert_consistent(change, {AGENT})
    assert change.text == AGENT and change.revision == 1

    assert client.post(f"/agents/{agent.key}/edit/", form).status_code == 302
    assert_consistent(change, {AGENT, edited})
    assert change.text == edited and change.revision == 2


def test_other_failures_are_still_a_500(signed_in):
    client, _, _ = signed_in

    with mock.patch("registry.views.agents.render", side_effect=RuntimeError("a bug")):
        response = client.get("/agents/")

    assert response.status_code == 500
    assert MESSAGE not in response.content.decode()


# --- A real outage: PostgreSQL behind a proxy that is cut ---------------------------------


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 to the database server. cut() closes every connection and
    refuses new ones; restore() accepts again on the same port."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.port = 0
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            doomed, self.sockets = self.sockets, set()
        if listener is not None:
            listener.close()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            with self.lock:
                if self.listener is not listener:
                    client.close()
                    server.close()
                    return
                self.sockets.update({client, server})
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """Requests to the app as a signed-in user, each on a new connection."""

    def __init__(self, port: int, session_id: str):
        self.port = port
        self.csrf = secrets.token_hex(16)  # 32 characters: Django takes an unmasked secret
        self.cookie = f"sessionid={session_id}; csrftoken={self.csrf}"

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": self.cookie, "X-CSRFToken": self.csrf}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace"), dict(response.headers)
        finally:
            conn.close()


@pytest.fixture
def app_behind_proxy(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("a real outage needs PostgreSQL (SQLite is a file, not a server)")
    settings = connection.settings_dict
    proxy = CuttableProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    user, password = settings["USER"] or "postgres", settings["PASSWORD"] or ""
    credentials = f"{user}:{password}" if password else user
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@127.0.0.1:{proxy.port}/{settings['NAME']}",
        # Persistent connections: the app must notice a dead one and connect again by itself.
        "CONN_MAX_AGE": "60",
        "DEBUG": "false",
        # The test's own key: the session it signs in with is checked against it.
        "SECRET_KEY": django_settings.SECRET_KEY,
        "LOG_LEVEL": "CRITICAL",
    }
    env.pop("DATABASE_POOL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "agentsite.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "--timeout",
            "30",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proxy, port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        proxy.cut()


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_cut_database_gives_503_saves_nothing_half_and_comes_back(app_behind_proxy):
    proxy, port = app_behind_proxy
    agent = add_agent()
    user = make_editor()
    session = Client()
    session.force_login(user)
    browser = Browser(port, session.cookies["sessionid"].value)
    change = ChangeRequest.start_draft(author=user, text=AGENT, agent=agent)
    edit_url = f"/agents/{agent.key}/edit/"

    wait_until(lambda: browser.request("GET", "/healthz")[0] == 200, 30, "the app answers")

    sent, acknowledged, statuses, errors = {AGENT}, [], [], []
    stop = threading.Event()

    def keep_saving():
        # Each save starts from the revision the last acknowledged one made.
        revision = 1
        for number in range(10_000):
            if stop.is_set():
                return
            text = AGENT.replace("Does one thing well.", f"Does one thing well, try {number}.")
            sent.add(text)
            form = {"mode": "raw", "text": text, "change": change.pk, "action": "save"}
            try:
                status, _, headers = browser.request(
                    "POST", edit_url, {**form, "revision": revision}
                )
            except OSError as error:
                errors.append(error)
                continue
            statuses.append(status)
            if status == 302 and f"change={change.pk}" in headers.get("Location", ""):
                revision += 1
                acknowledged.append((revision, text))
            elif status == 200:
                # A conflict: a save the server stored but whose answer was lost. Go on from it.
                revision = ChangeRequest.objects.get(pk=change.pk).revision

    saver = threading.Thread(target=keep_saving)
    saver.start()
    try:
        wait_until(lambda: len(acknowledged) >= 3, 30, "saves go through before the cut")
        proxy.cut()
        time.sleep(0.5)

        status, page, headers = browser.request("GET", f"/agents/{agent.key}/")
        assert status == 503
        assert MESSAGE in page
        assert headers.get("Retry-After")
        assert browser.request("GET", "/healthz")[0] == 503
        status, body, _ = browser.request("GET", "/api/agents")
        assert status == 503 and "database-unavailable" in body
        cut_at = len(statuses)
        time.sleep(1)
        assert set(statuses[cut_at:]) <= {503}, "saves during the outage must be 503s"

        proxy.restore()
        wait_until(
            lambda: browser.request("GET", "/healthz")[0] == 200, 30, "health back after restore"
        )
        wait_until(
            lambda: browser.request("GET", f"/agents/{agent.key}/")[0] == 200,
            30,
            "pages back after restore",
        )
        saved_before = len(acknowledged)
        wait_until(lambda: len(acknowledged) > saved_before, 30, "saves work again")
    finally:
        stop.set()
        saver.join(timeout=60)

    assert 503 in statuses, errors[-3:]
    assert not [status for status in statuses if status >= 500 and status != 503]
    # The last acknowledged save is what is stored, whole, with a revision for every save.
    assert_consistent(change, sent)
    last_revision, last_text = acknowledged[-1]
    change.refresh_from_db()
    assert (change.revision, change.text) == (last_revision, last_text)
