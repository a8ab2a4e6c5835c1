"""With DEBUG off, as in production, the site does not start without a secret key of its own."""

import os
import subprocess
import sys

import pytest

from tests.helpers import MANAGE

ROOT = MANAGE.parent
MISSING_KEY = "SECRET_KEY is not set"


def site_env(**changes) -> dict[str, str]:
    """The environment of a process started with the site's own settings, without SECRET_KEY
    unless changes set it."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "agentsite.settings",
        "LOG_LEVEL": "WARNING",
        **changes,
    }


def manage(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=site_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("debug", [None, "false"])
def test_with_debug_off_and_no_secret_key_manage_py_refuses_to_start(debug):
    env = {"DEBUG": debug} if debug else {}

    result = manage("check", **env)

    assert result.returncode != 0
    assert MISSING_KEY in result.stderr
    assert "Traceback" not in result.stderr


def test_with_debug_off_and_no_secret_key_gunicorn_refuses_to_start():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "agentsite.wsgi",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=site_env(DEBUG="false"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert MISSING_KEY in result.stdout + result.stderr


def test_an_empty_secret_key_counts_as_none():
    result = manage("check", DEBUG="false", SECRET_KEY="")

    assert result.returncode != 0
    assert MISSING_KEY in result.stderr


def test_with_a_secret_key_and_debug_off_the_site_starts():
    result = manage("check", DEBUG="false", SECRET_KEY="k" * 20 + "another-long-random-value-0123")

    assert result.returncode == 0, result.stderr


def test_the_deploy_check_flags_the_development_key_used_with_debug_on():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true")

    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout
