"""Errors under /api/ are JSON whatever raises them, with the request id on a 500; bad input
gets a clear 4xx, never a 500. Also the compare page's version numbers."""

import json
import re

import pytest
from django.test import Client

from registry.api import schema as openapi
from registry.models import Agent, ApiToken
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

ONE = agent_text()


@pytest.fixture
def agent():
    assert import_files([IncomingFile("agents/agent-one.md", ONE.encode())]).stored
    found = Agent.objects.get()
    found.add_version(ONE.replace("Does one thing well.", "Does one thing better."), None, "Two")
    return found


@pytest.fixture
def editor(make_user):
    return make_user("edith", "Editors")


@pytest.fixture
def api(editor):
    """The editor's token; exceptions become the responses a user would get."""
    token = ApiToken.create_for(editor, "tests")[1]
    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {token}"})


def json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    return response.json()["error"]


# --- The compare page's version numbers -------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("a=1&b=99999999999999999999", "There is no version 99999999999999999999"),
        ("a=1&b=2147483648", "There is no version 2147483648"),
        ("a=%C2%B2&b=2", "a=²"),  # a superscript two: a digit to str.isdigit, not to int()
        ("a=1&b=" + "9" * 5000, "There is no version 9999"),  # past int()'s digit limit
    ],
)
def test_compare_with_a_version_number_that_cannot_exist_is_a_404_that_says_so(
    agent, editor, query, said
):
    client = Client(raise_request_exception=False)
    client.force_login(editor)

    response = client.get(f"/agents/{agent.key}/compare/?{query}")

    assert response.status_code == 404
    page = response.content.decode()
    assert said in page
    assert "its versions are 1 to 2" in page or "is not a version number" in page
    # The history is shown, so another pair can be chosen at once.
    assert 'name="a" value="2"' in page


# --- Bad bodies -------------------------------------------------------------------------------


def test_json_nested_too_deeply_is_a_json_400_saying_so(api):
    response = api.post("/api/changes", "[" * 100_000, content_type="application/json")

    error = json_error(response, 400)
    assert error["code"] == "bad-json"
    assert "nested too deeply" in error["message"]


def test_json_nested_deeply_inside_an_object_is_a_json_400_too(api):
    body = '{"text": ' + "[" * 50_000 + "]" * 50_000 + "}"

    error = json_error(api.post("/api/changes", body, content_type="application/json"), 400)
    assert error["code"] == "bad-json"


# --- Every error under /api/ is JSON ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/agents/a%0Ab",  # a key with a newline: no URL pattern matches it
        "/api/agents/a%0Ab/versions",
        "/api/%0A",
        "/api/agents/nobody",
        "/api/agents/nobody.md",
        "/api/nothing-here",
    ],
)
def test_an_unknown_url_or_key_under_api_is_a_json_404(api, path):
    error = json_error(api.get(path), 404)
    assert error["code"] in {"not-found", "agent-not-found"}
    assert error["message"]


def test_an_unknown_url_outside_api_is_still_a_page(api):
    response = api.get("/agents/a%0Ab/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_unexpected_exception_under_api_is_a_json_500_with_the_request_id(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(Agent.objects, "listed", broken)

    response = api.get("/api/agents", headers={"X-Request-ID": "trace-123"})

    error = json_error(response, 500)
    assert error["code"] == "server-error"
    assert error["request_id"] == "trace-123" == response["X-Request-ID"]
    assert "trace-123" in error["message"]
    assert "a bug" not in response.content.decode()  # no internals reach the client


def test_a_500_under_api_gets_a_new_request_id_when_none_came(api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("registry.api.views._agent_of", broken)

    response = api.get("/api/agents/agent-one")

    error = json_error(response, 500)
    assert re.fullmatch(r"[0-9a-f]{32}", error["request_id"])
    assert error["request_id"] == response["X-Request-ID"]


def test_an_unexpected_exception_outside_api_is_still_the_500_page(editor, monkeypatch):
    monkeypatch.setattr("registry.views.agents.render", lambda *args, **kwargs: 1 / 0)
    client = Client(raise_request_exception=False)
    client.force_login(editor)

    response = client.get("/agents/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_a_refusal_raised_outside_the_api_views_is_json_403(api, monkeypatch):
    from django.core.exceptions import PermissionDenied

    def refuse(request):
        raise PermissionDenied("not today")

    monkeypatch.setattr("registry.api.views.authenticate", refuse)

    error = json_error(api.get("/api/agents"), 403)
    assert error["code"] == "forbidden"
    assert "not today" in error["message"]


def test_a_host_not_allowed_is_a_json_400_under_api(api):
    error = json_error(api.get("/api/agents", headers={"Host": "evil.example"}), 400)
    assert error["code"] == "bad-request"


def test_too_many_query_fields_is_a_json_400_under_api(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"x{number}=1" for number in range(20))

    error = json_error(api.get(f"/api/agents?{query}"), 400)
    assert error["code"] == "bad-request"
    assert "fields" in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/agents"),
        ("put", "/api/lint"),
        ("get", "/api/changes"),
        ("post", "/api/openapi.json"),
        ("patch", "/api/agents/agent-one"),
    ],
)
def test_a_method_not_allowed_under_api_is_a_json_405_with_allow(api, agent, method, path):
    response = getattr(api, method)(path)

    error = json_error(response, 405)
    assert error["code"] == "method-not-allowed"
    assert response["Allow"]


@pytest.mark.parametrize("page", ["²", "-1", "0", "000", "x", ""])
def test_a_page_that_is_not_a_number_from_1_is_a_json_400(api, page):
    error = json_error(api.get("/api/agents", {"page": page}), 400)
    assert error["code"] == "invalid-parameter"


@pytest.mark.parametrize("page", ["2", "99999999999999999999", "9" * 5000])
def test_a_page_far_past_the_end_is_a_json_404(api, page):
    error = json_error(api.get("/api/agents", {"page": page}), 404)
    assert error["code"] == "page-not-found"
    assert error["message"].startswith("There are only 1 page")


@pytest.mark.parametrize("where", ["agent", "path"])
def test_a_nul_in_lint_parameters_is_a_json_400(api, where):
    response = api.post(f"/api/lint?{where}=a%00b", ONE.encode(), content_type="text/markdown")

    error = json_error(response, 400)
    assert error["code"] == "invalid-parameter"
    assert "NUL" in error["message"]


def test_a_nul_in_the_agent_of_a_change_is_a_json_400(api):
    body = json.dumps({"agent": "a\x00b", "text": ONE})

    error = json_error(api.post("/api/changes", body, content_type="application/json"), 400)
    assert error["code"] == "invalid-field"
    assert error["field"] == "agent"


# --- As the OpenAPI description declares ------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "archived=null",
        "archived=",
        "archived=true&archived=true",
        "status=",
        "sort=",
        "q=a&q=b",
        "q=a%00b",
        "category=%00",
    ],
)
def test_a_query_parameter_not_as_declared_is_a_json_400(api, query):
    error = json_error(api.get(f"/api/agents?{query}"), 400)
    assert error["code"] == "invalid-parameter"
    assert query.split("=")[0] in error["message"]


@pytest.mark.parametrize(
    "query", ["archived=true", "archived=false", "status=valid", "sort=changed"]
)
def test_declared_query_values_are_taken(api, agent, query):
    assert api.get(f"/api/agents?{query}").status_code == 200


@pytest.mark.parametrize("content_type", ["text/markdown", ""])
def test_lint_without_a_body_lints_the_empty_file_as_declared(api, content_type):
    response = api.generic("POST", "/api/lint", b"", content_type=content_type)

    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert openapi.PATHS["/api/lint"]["post"]["requestBody"]["required"] is False


def test_a_change_for_an_empty_agent_key_is_a_json_400(api, agent):
    body = json.dumps({"agent": "", "text": ONE})

    error = json_error(api.post("/api/changes", body, content_type="application/json"), 400)
    assert (error["code"], error["field"]) == ("invalid-field", "agent")


@pytest.mark.parametrize(
    "message",
    [
        "one\x1ctwo",  # a control character that str.split() takes for a space
        "x" + " " * 600,  # over the limit as sent, however short once spaces are made one
    ],
)
def test_a_message_is_checked_as_sent(api, agent, message):
    body = json.dumps({"agent": agent.key, "text": ONE, "message": message})

    error = json_error(api.post("/api/changes", body, content_type="application/json"), 400)
    assert (error["code"], error["field"]) == ("invalid-field", "message")
