"""Request ids on responses and in log lines; JSON log lines with LOG_FORMAT=json."""

import io
import json
import logging
import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group

from registry.ops.logging import JsonFormatter, RequestIdFilter, current_request_id
from tests.helpers import MANAGE

pytestmark = pytest.mark.django_db

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log():
    """Log lines as LOG_FORMAT=json writes them, caught in a buffer, from every logger."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_a_response_gets_a_new_request_id(client):
    first = client.get("/healthz")
    second = client.get("/healthz")

    assert HEX_ID.fullmatch(first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("given", ["a1b2c3", "3f2a9c1e-8d4b-4c0a-9f1e-2b3c4d5e6f70", "lb.1:2/x=="])
def test_a_sane_request_id_from_the_client_is_echoed(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert response["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given", ["", "two words", 'quote"d', "x" * 129, "new\\nline", "caf\u00e9", "<script>"]
)
def test_a_request_id_that_is_not_a_sane_token_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})

    assert HEX_ID.fullmatch(response["X-Request-ID"])


def test_even_a_refused_request_carries_its_id(client):
    response = client.post("/healthz", headers={"X-Request-ID": "refused-1"})

    assert response.status_code == 405
    assert response["X-Request-ID"] == "refused-1"


def test_no_request_id_is_left_behind_after_the_request(client):
    client.get("/healthz", headers={"X-Request-ID": "gone-after"})

    assert current_request_id() == "-"


def test_a_log_line_written_during_a_request_carries_its_id_in_json(
    client, django_user_model, json_log
):
    user = django_user_model.objects.create_user("reader", password="a-password")
    user.groups.add(*Group.objects.filter(name="Editors"))
    client.force_login(user)

    # The view raises Http404: Django logs it inside the middleware.
    client.get("/agents/no-such-agent/", headers={"X-Request-ID": "trace-404"})

    lines = [line for line in json_log() if line["logger"] == "django.request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "trace-404"
    assert line["level"] == "WARNING"
    assert line["message"] == "Not Found: /agents/no-such-agent/"
    assert set(line) == {"time", "level", "logger", "message", "request_id"}
    assert line["time"].endswith("+00:00")


def test_a_refusal_logged_after_the_middleware_still_carries_the_id(client, json_log):
    # A 403 the view returns is logged by Django once the middleware is done with it.
    client.get("/metrics", REMOTE_ADDR="203.0.113.9", headers={"X-Request-ID": "trace-403"})

    lines = [line for line in json_log() if line["logger"] == "django.request"]
    assert [line["request_id"] for line in lines] == ["trace-403"]


def test_json_lines_carry_the_traceback(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("registry.test").exception("it failed")

    (line,) = [line for line in json_log() if line["logger"] == "registry.test"]
    assert line["message"] == "it failed"
    assert line["level"] == "ERROR"
    assert line["request_id"] == "-"
    assert "ValueError: boom" in line["exc_info"]


def run_logging(log_format: str) -> str:
    code = "import logging; logging.getLogger('registry.test').warning('hello %s', 'there')"
    result = subprocess.run(
        [sys.executable, str(MANAGE), "shell", "--no-imports", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_FORMAT": log_format},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_log_format_json_writes_one_json_object_a_line_on_stdout():
    lines = [json.loads(line) for line in run_logging("json").splitlines()]

    assert [(line["logger"], line["message"], line["request_id"]) for line in lines] == [
        ("registry.test", "hello there", "-")
    ]


def test_the_plain_format_is_one_readable_line_with_the_request_id():
    out = run_logging("plain")

    assert re.fullmatch(r"\S+ \S+ WARNING registry\.test \[-\] hello there\n", out)
