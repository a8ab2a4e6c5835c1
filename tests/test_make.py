"""The Makefile's own logic, with a stand-in for uv that records what it is asked to run."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FAKE_UV = """#!{python}
import json
import os
import sys

args = sys.argv[1:]
if args[:2] != ["run", "--frozen"]:
    sys.exit(f"fake uv: unexpected arguments {{args}}")
command = args[2:]
if command[:2] == ["python", "-c"] and os.environ.get("FAKE_POSTGRES") == "up":
    sys.exit(0)
if command[0] == "python" and command[1:2] != ["manage.py"]:
    os.execv(sys.executable, [sys.executable, *command[1:]])
with open(os.environ["FAKE_UV_LOG"], "a") as log:
    env = {{name: os.environ.get(name) for name in ("DATABASE_URL", "DEBUG")}}
    log.write(json.dumps({{"command": command, "env": env}}) + "\\n")
if command[0] == "pytest":
    sys.exit(int(os.environ.get("FAKE_PYTEST_STATUS", "0")))
if command[2:3] == ["runserver"]:
    # The server runs until the worker beside it has started, as a real one would.
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(os.environ["FAKE_UV_LOG"]) as log:
            if '"worker"' in log.read():
                break
        time.sleep(0.02)
"""

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


@pytest.fixture
def make(tmp_path):
    fake_uv = tmp_path / "uv"
    fake_uv.write_text(FAKE_UV.format(python=sys.executable))
    fake_uv.chmod(0o755)
    log = tmp_path / "calls.jsonl"

    def run(target, **env):
        environ = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DEBUG"}
        }
        environ.update(env, FAKE_UV_LOG=str(log))
        # -o: take installing uv, the dependencies and the browser as done.
        skip_installs = ["-o", "uv", "-o", "install", "-o", "browser"]
        result = subprocess.run(
            ["make", "--no-print-directory", *skip_installs, target, f"UV={fake_uv}"],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return result, calls

    return run


def pytest_runs(calls):
    return [call["env"]["DATABASE_URL"] for call in calls if call["command"][0] == "pytest"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_database_url_the_suite_runs_once_on_sqlite(make):
    result, calls = make("test")

    assert result.returncode == 0, result.stderr
    assert pytest_runs(calls) == [None]


def test_postgres_url_runs_the_suite_on_sqlite_then_on_postgres(make):
    url = "postgresql://postgres@db.invalid:5432/registry"

    result, calls = make("test", DATABASE_URL=url, FAKE_POSTGRES="up")

    assert result.returncode == 0, result.stderr
    assert pytest_runs(calls) == [None, url]


def test_non_postgres_url_runs_the_suite_on_sqlite_only(make):
    result, calls = make("test", DATABASE_URL="sqlite:////nonexistent/db.sqlite3")

    assert result.returncode == 0, result.stderr
    assert pytest_runs(calls) == [None]


def test_unreachable_postgres_fails_before_any_test_runs(make):
    url = f"postgres://postgres@127.0.0.1:{closed_port()}/registry"

    result, calls = make("test", DATABASE_URL=url)

    assert result.returncode != 0
    assert "cannot reach the PostgreSQL server" in result.stderr
    assert pytest_runs(calls) == []


def test_no_tests_collected_is_a_failure(make):
    result, calls = make("test", FAKE_PYTEST_STATUS="5")

    assert result.returncode != 0
    assert "collected no tests" in result.stderr


def test_failing_sqlite_run_stops_before_postgres(make):
    url = "postgres://postgres@db.invalid:5432/registry"

    result, calls = make("test", DATABASE_URL=url, FAKE_POSTGRES="up", FAKE_PYTEST_STATUS="1")

    assert result.returncode != 0
    assert pytest_runs(calls) == [None]


def test_run_migrates_rechecks_loads_demo_agents_creates_login_then_serves_in_debug(make):
    result, calls = make("run")

    assert result.returncode == 0, result.stderr
    commands = [call["command"][2:] for call in calls]
    assert commands[:4] == [
        ["migrate", "--noinput"],
        ["recheck_agents"],
        ["import_agents", "registry/demo"],
        ["ensure_local_login"],
    ]
    # The server, and beside it a worker for the background tasks.
    assert sorted(commands[4:]) == [
        ["runserver", "127.0.0.1:8000"],
        ["worker", "--no-reload", "--interval", "1"],
    ]
    assert {call["env"]["DEBUG"] for call in calls} == {"true"}
