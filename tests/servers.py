"""gunicorn started by a test, as make serve runs it, on the test's own database."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = BASE_DIR / "agentsite" / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database, for a server in another process."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user, password = settings["USER"] or "postgres", settings["PASSWORD"] or ""
    credentials = f"{user}:{password}" if password else user
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{settings['NAME']}"


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    """One request on a new connection: its status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextmanager
def gunicorn(workers: int = 1, **environment: str):
    """gunicorn with the site's gunicorn.conf.py, as make serve runs it (gthread workers), on the
    test database; yields its port once /healthz answered (those requests count in /metrics)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "false",
        "LOG_LEVEL": "CRITICAL",
        **environment,
    }
    env.pop("DATABASE_POOL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "agentsite.wsgi", "--config", str(GUNICORN_CONFIG)]
        + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, f"gunicorn exited with status {server.returncode}"
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz in 30 s"
            time.sleep(0.1)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
