"""The OpenAPI description holds true: every operation and every response it declares is called,
and each answer has a declared status, content type and JSON shape."""

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import Resolver404, resolve

from registry.api.schema import DOCUMENT, MESSAGE_MAX_LENGTH
from registry.models import Agent, ApiToken, ChangeRequest
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

ONE = agent_text()
OTHER = agent_text("other-agent", "Handles the rest.", delegate_to="- **agent-one** — one\n")
EDITED = ONE.replace("Does one thing well.", "Does one thing very well.")


# A checker for the part of JSON Schema the description uses ------------------------------------

TYPES = {
    "null": lambda value: value is None,
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "string": lambda value: isinstance(value, str),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
}
KEYWORDS = {
    "$ref",
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "additionalProperties",
    "description",
    "format",
    "minimum",
    "pattern",
    "minLength",
    "maxLength",
}


def resolve_ref(schema: dict) -> dict:
    while "$ref" in schema:
        *_, name = schema["$ref"].split("/")
        schema = DOCUMENT["components"]["schemas"][name]
    return schema


def schema_errors(value, schema: dict, where: str = "$") -> list[str]:
    """Where value does not match schema: type, enum, required, properties, items,
    additionalProperties false, minimum, and a string's pattern and length."""
    schema = resolve_ref(schema)
    unknown = set(schema) - KEYWORDS
    assert not unknown, f"the checker does not know {unknown}"
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(TYPES[kind](value) for kind in kinds):
            return [f"{where}: {value!r} is not {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    if "minimum" in schema and TYPES["number"](value) and value < schema["minimum"]:
        return [f"{where}: {value!r} is under {schema['minimum']}"]
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return [f"{where}: {value!r} does not match {schema['pattern']}"]
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            return [f"{where}: {value!r} is not of the declared length"]
    errors = []
    if isinstance(value, dict):
        errors += [
            f"{where}: {key!r} is missing" for key in schema.get("required", ()) if key not in value
        ]
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: {key!r} is not allowed")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{where}[{index}]")
    return errors


def test_the_checker_finds_what_is_wrong():
    problem = {"$ref": "#/components/schemas/Problem"}
    good = {"code": "x", "severity": "error", "message": "m", "line": 1, "column": 1, "where": ""}
    assert schema_errors(good, problem) == []
    assert schema_errors({**good, "line": "1"}, problem) == ["$.line: '1' is not integer"]
    assert schema_errors({**good, "line": True}, problem) == ["$.line: True is not integer"]
    assert schema_errors({**good, "severity": "fatal"}, problem)
    assert schema_errors({"code": "x"}, problem)
    assert schema_errors([good], {"type": "array", "items": problem}) == []
    assert schema_errors([1], {"type": "array", "items": problem}) == ["$[0]: 1 is not object"]
    proposal = {"$ref": "#/components/schemas/ChangeProposal"}
    assert schema_errors({"text": "x", "publish": True}, proposal) == [
        "$: 'publish' is not allowed"
    ]
    assert schema_errors({"agent": None, "text": "x"}, proposal) == []
    assert schema_errors({"agent": "", "text": "x"}, proposal)
    assert schema_errors({"text": "a\x00b"}, proposal)
    assert schema_errors({"text": "x", "message": "m" * (MESSAGE_MAX_LENGTH + 1)}, proposal)


# The description itself -----------------------------------------------------------------------


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_description_is_openapi_3_1():
    assert DOCUMENT["openapi"] == "3.1.0"
    assert {"title", "version"} <= set(DOCUMENT["info"])
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert len(ids) == len(set(ids))
    # It is served as it is written.
    assert json.loads(json.dumps(DOCUMENT)) == DOCUMENT


def test_every_reference_resolves():
    text = json.dumps(DOCUMENT)
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in DOCUMENT["components"]["schemas"], name


def test_every_path_is_routed_to_its_own_view():
    for path in DOCUMENT["paths"]:
        url = path.replace("{key}", "agent-one").replace("{id}", "1")
        try:
            match = resolve(url)
        except Resolver404:
            pytest.fail(f"{path} is not routed")
        assert match.url_name, f"{path} falls through to the API's 404"


# Calling every operation ----------------------------------------------------------------------


@pytest.fixture
def clients(django_user_model):
    """Clients by name: the editor's token, a reader's token, a revoked token, none, and the
    editor's session without a CSRF token."""
    assert import_files(
        [
            IncomingFile("agents/agent-one.md", ONE.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
            # Its name is free, but a new agent of that name would need its path.
            IncomingFile("agents/squatted.md", agent_text("squatter").encode()),
        ]
    ).stored
    editor = django_user_model.objects.create_user("edith")
    editor.groups.add(Group.objects.get(name="Editors"))
    reader = django_user_model.objects.create_user("rita")
    revoked, revoked_text = ApiToken.create_for(editor, "old")
    revoked.revoke(editor)

    def bearer(text):
        return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {text}"})

    session = Client(enforce_csrf_checks=True)
    session.force_login(editor)
    return {
        "editor": bearer(ApiToken.create_for(editor, "ci")[1]),
        "reader": bearer(ApiToken.create_for(reader, "ci")[1]),
        "revoked": bearer(revoked_text),
        "anonymous": Client(),
        "session": session,
    }


def json_body(**fields):
    return {"data": json.dumps(fields), "content_type": "application/json"}


def markdown(text, **extra):
    return {"data": text.encode() if isinstance(text, str) else text, **extra}


# (client, operation path, method, URL, request options, status expected)
CALLS = [
    ("editor", "/api/agents", "get", "/api/agents?q=agent&sort=changed", {}, 200),
    ("editor", "/api/agents", "get", "/api/agents?status=bad", {}, 400),
    ("anonymous", "/api/agents", "get", "/api/agents", {}, 401),
    ("revoked", "/api/agents", "get", "/api/agents", {}, 401),
    ("editor", "/api/agents", "get", "/api/agents?page=9", {}, 404),
    ("editor", "/api/agents/{key}", "get", "/api/agents/agent-one", {}, 200),
    ("anonymous", "/api/agents/{key}", "get", "/api/agents/agent-one", {}, 401),
    ("editor", "/api/agents/{key}", "get", "/api/agents/nobody", {}, 404),
    ("editor", "/api/agents/{key}.md", "get", "/api/agents/agent-one.md", {}, 200),
    ("editor", "/api/agents/{key}.md", "get", "/api/agents/agent-one.md", "etag", 304),
    ("revoked", "/api/agents/{key}.md", "get", "/api/agents/agent-one.md", {}, 401),
    ("editor", "/api/agents/{key}.md", "get", "/api/agents/nobody.md", {}, 404),
    ("editor", "/api/agents/{key}/versions", "get", "/api/agents/agent-one/versions", {}, 200),
    ("anonymous", "/api/agents/{key}/versions", "get", "/api/agents/agent-one/versions", {}, 401),
    ("editor", "/api/agents/{key}/versions", "get", "/api/agents/nobody/versions", {}, 404),
    ("editor", "/api/lint", "post", "/api/lint", markdown(ONE, content_type="text/markdown"), 200),
    (
        "editor",
        "/api/lint",
        "post",
        "/api/lint",
        markdown(b"\xff", content_type="text/markdown"),
        200,
    ),
    (
        "anonymous",
        "/api/lint",
        "post",
        "/api/lint",
        markdown(ONE, content_type="text/markdown"),
        401,
    ),
    ("session", "/api/lint", "post", "/api/lint", markdown(ONE, content_type="text/markdown"), 403),
    (
        "editor",
        "/api/lint",
        "post",
        "/api/lint?agent=nobody",
        markdown(ONE, content_type="text/markdown"),
        404,
    ),
    (
        "editor",
        "/api/lint",
        "post",
        "/api/lint",
        markdown("x" * 300_000, content_type="text/markdown"),
        413,
    ),
    ("editor", "/api/lint", "post", "/api/lint", json_body(text=ONE), 415),
    (
        "editor",
        "/api/lint",
        "post",
        "/api/lint?path=a%00b",
        markdown(ONE, content_type="text/markdown"),
        400,
    ),
    (
        "editor",
        "/api/changes",
        "post",
        "/api/changes",
        json_body(agent="agent-one", text=EDITED),
        201,
    ),
    ("editor", "/api/changes", "post", "/api/changes", json_body(text=EDITED, submit="yes"), 400),
    ("anonymous", "/api/changes", "post", "/api/changes", json_body(text=EDITED), 401),
    ("reader", "/api/changes", "post", "/api/changes", json_body(text=EDITED), 403),
    ("session", "/api/changes", "post", "/api/changes", json_body(text=EDITED), 403),
    ("editor", "/api/changes", "post", "/api/changes", json_body(agent="nobody", text=EDITED), 404),
    ("editor", "/api/changes", "post", "/api/changes", json_body(agent=None, text=ONE), 409),
    (
        "editor",
        "/api/changes",
        "post",
        "/api/changes",
        json_body(text=agent_text("squatted")),
        409,
    ),
    (
        "editor",
        "/api/changes",
        "post",
        "/api/changes",
        json_body(agent="agent-one", text=EDITED + "x" * 300_000),
        413,
    ),
    ("editor", "/api/changes", "post", "/api/changes", {"data": {"text": EDITED}}, 415),
    ("reader", "/api/changes/{id}", "get", "/api/changes/{first}", {}, 200),
    ("anonymous", "/api/changes/{id}", "get", "/api/changes/{first}", {}, 401),
    ("editor", "/api/changes/{id}", "get", "/api/changes/999999", {}, 404),
    ("anonymous", "/api/openapi.json", "get", "/api/openapi.json", {}, 200),
]


def call(clients, name, method, url, options):
    client = clients[name]
    if "{first}" in url:
        url = url.format(first=ChangeRequest.objects.order_by("pk").first().pk)
    if options == "etag":
        etag = client.get(url)["ETag"]
        return client.get(url, headers={"If-None-Match": etag})
    return getattr(client, method)(url, **options)


def check_against_description(response, path, method) -> list[str]:
    operation = DOCUMENT["paths"][path][method]
    declared = operation["responses"].get(str(response.status_code))
    if declared is None:
        return [f"status {response.status_code} is not declared"]
    content = declared.get("content")
    if content is None:
        return [] if response.content == b"" else ["a body where none is declared"]
    content_type = response["Content-Type"].split(";")[0].strip()
    if content_type not in content:
        return [f"content type {content_type} is not one of {sorted(content)}"]
    problems = [
        f"header {header} is missing"
        for header in declared.get("headers", {})
        if header not in response.headers
    ]
    if content_type == "application/json":
        problems += schema_errors(response.json(), content[content_type]["schema"])
    else:
        problems += schema_errors(response.content.decode(), content[content_type]["schema"])
    return problems


def test_every_declared_response_happens_as_declared(clients):
    seen = set()
    for name, path, method, url, options, status in CALLS:
        response = call(clients, name, method, url, options)
        assert response.status_code == status, (name, url, response.content[:300])
        problems = check_against_description(response, path, method)
        assert not problems, (name, url, problems)
        seen.add((path, method, str(status)))
    declared = {
        (path, method, status)
        for path, method, operation in operations()
        for status in operation["responses"]
    }
    assert declared - seen == set(), "declared but never seen"
    assert seen - declared == set()


def test_a_change_made_through_the_api_is_not_published(clients):
    response = call(
        clients, "editor", "post", "/api/changes", json_body(agent="agent-one", text=EDITED)
    )
    assert response.status_code == 201
    assert Agent.objects.get(key="agent-one").live_version.text == ONE
