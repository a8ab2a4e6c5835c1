"""The JSON API: every endpoint, by session and by token, and its errors."""

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from registry.models import Agent, ApiToken, AuditEvent, ChangeRequest, Version
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

pytestmark = pytest.mark.django_db

ONE = agent_text()
OTHER = agent_text(
    "other-agent",
    "Handles the remaining work.",
    extra="category: helpers\n",
    delegate_to="- **agent-one** — for the one thing\n",
)
BROKEN = "---\nname: broken-agent\ndescription: Has no sections.\n---\n\n# Broken\n"


@pytest.fixture
def registry():
    """agent-one and other-agent, valid together, and broken-agent, which has errors."""
    report = import_files(
        [
            IncomingFile("agents/agent-one.md", ONE.encode()),
            IncomingFile("agents/other-agent.md", OTHER.encode()),
            IncomingFile("agents/broken-agent.md", BROKEN.encode()),
        ]
    )
    assert report.stored
    return {agent.key: agent for agent in Agent.objects.all()}


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("edith", password="a-long-password")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def reader(django_user_model):
    return django_user_model.objects.create_user("rita", password="a-long-password")


@pytest.fixture
def token(editor):
    return ApiToken.create_for(editor, "tests")[1]


@pytest.fixture
def api(token):
    """A client that sends the editor's token and enforces CSRF (which tokens need not pass)."""
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def session(editor):
    """A browser signed in as the editor, with CSRF enforced as in a real browser."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    return client


def error_of(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}
    return error["code"]


def propose(client, **fields):
    return client.post("/api/changes", json.dumps(fields), content_type="application/json")


def lint(client, data, query="", content_type="text/markdown"):
    body = data.encode() if isinstance(data, str) else data
    return client.post(f"/api/lint{query}", body, content_type=content_type)


# Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/api/agents"),
        ("get", "/api/agents/agent-one"),
        ("get", "/api/agents/agent-one.md"),
        ("get", "/api/agents/agent-one/versions"),
        ("post", "/api/lint"),
        ("post", "/api/changes"),
    ],
)
def test_every_endpoint_needs_credentials(client, registry, method, url):
    response = getattr(client, method)(url)
    assert error_of(response, 401) == "not-authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_token_authenticates(api, registry):
    assert api.get("/api/agents").status_code == 200


def test_a_session_authenticates(session, registry):
    assert session.get("/api/agents").status_code == 200


def test_a_revoked_token_is_refused(api, editor, registry):
    ApiToken.objects.get().revoke(editor)
    assert error_of(api.get("/api/agents"), 401) == "invalid-token"


def test_an_unknown_token_is_refused(client, registry):
    response = client.get("/api/agents", headers={"Authorization": "Bearer ar_nothing"})
    assert error_of(response, 401) == "invalid-token"


@pytest.mark.parametrize("header", ["Basic ZWRpdGg6cHc=", "Bearer", "Bearer ", "Token ar_x", ""])
def test_a_bad_authorization_header_never_falls_back_to_the_session(session, registry, header):
    response = session.get("/api/agents", headers={"Authorization": header})
    assert error_of(response, 401) == "invalid-token"


def test_the_token_of_an_inactive_user_is_refused(api, editor, registry):
    editor.is_active = False
    editor.save()
    assert error_of(api.get("/api/agents"), 401) == "invalid-token"


def test_using_a_token_notes_when(api, registry):
    assert ApiToken.objects.get().last_used_at is None
    api.get("/api/agents")
    assert ApiToken.objects.get().last_used_at is not None


def test_a_token_acts_with_its_users_permissions(client, reader, registry):
    text = ApiToken.create_for(reader, "reader")[1]
    response = propose(
        Client(headers={"Authorization": f"Bearer {text}"}), agent="agent-one", text=ONE
    )
    assert error_of(response, 403) == "forbidden"


def test_answers_vary_by_credentials_and_are_private(api, registry):
    response = api.get("/api/agents")
    assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]
    assert "private" in response["Cache-Control"]


# CSRF -----------------------------------------------------------------------------------------


def test_a_session_post_needs_the_csrf_token(session, registry):
    response = lint(session, ONE)
    assert error_of(response, 403) == "csrf-failed"
    response = propose(session, agent="agent-one", text=ONE.replace("one thing", "1 thing"))
    assert error_of(response, 403) == "csrf-failed"
    assert not ChangeRequest.objects.exists()


def test_a_session_post_with_the_csrf_token_works(session, registry):
    session.get("/account/tokens/")  # sets the CSRF cookie, as any page does
    csrf = session.cookies["csrftoken"].value
    response = session.post(
        "/api/lint", ONE.encode(), content_type="text/markdown", headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 200
    response = session.post(
        "/api/changes",
        json.dumps({"agent": "agent-one", "text": ONE.replace("one thing", "1 thing")}),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 201


def test_a_token_post_needs_no_csrf_token(api, registry):
    # The api client enforces CSRF checks and sends no CSRF cookie or header.
    assert lint(api, ONE).status_code == 200
    assert propose(
        api, agent="agent-one", text=ONE.replace("one thing", "1 thing")
    ).status_code == (201)


# Methods and unknown paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, url, allow",
    [
        ("post", "/api/agents", "GET, HEAD"),
        ("delete", "/api/agents/agent-one", "GET, HEAD"),
        ("put", "/api/agents/agent-one.md", "GET, HEAD"),
        ("get", "/api/lint", "POST"),
        ("get", "/api/changes", "POST"),
        ("post", "/api/openapi.json", "GET, HEAD"),
    ],
)
def test_a_method_an_endpoint_does_not_take_is_a_405(api, registry, method, url, allow):
    response = getattr(api, method)(url)
    assert error_of(response, 405) == "method-not-allowed"
    assert response["Allow"] == allow


@pytest.mark.parametrize("url", ["/api/", "/api/nothing", "/api/agents/", "/api/agents/a/b/c"])
def test_an_unknown_path_is_a_json_404(api, url):
    assert error_of(api.get(url), 404) == "not-found"


def test_head_answers_like_get(api, registry):
    assert api.head("/api/agents/agent-one").status_code == 200


# The agent list ------------------------------------------------------------------------------


def test_agent_list_items(api, registry):
    body = api.get("/api/agents").json()
    assert body["count"] == 3
    assert (body["page"], body["pages"], body["next"], body["previous"]) == (1, 1, None, None)
    assert [item["key"] for item in body["results"]] == ["agent-one", "broken-agent", "other-agent"]
    first = body["results"][0]
    assert first == {
        "key": "agent-one",
        "name": "agent-one",
        "path": "agents/agent-one.md",
        "description": "Does one thing well.",
        "category": "",
        "archived": False,
        "errors": 0,
        "warnings": 0,
        "version": 1,
        "updated_at": registry["agent-one"].updated_at.isoformat(),
        "url": "http://testserver/api/agents/agent-one",
        "html_url": "http://testserver/agents/agent-one/",
    }
    assert body["results"][1]["errors"] > 0


@pytest.mark.parametrize(
    "query, keys",
    [
        ("q=remaining", ["other-agent"]),
        ("category=helpers", ["other-agent"]),
        ("status=errors", ["broken-agent"]),
        ("status=valid", ["agent-one", "other-agent"]),
        ("q=work&status=valid&category=helpers", ["other-agent"]),
    ],
)
def test_agent_list_filters_as_the_list_page_does(api, registry, query, keys):
    body = api.get(f"/api/agents?{query}").json()
    assert [item["key"] for item in body["results"]] == keys
    page = api.get(f"/agents/?{query}")  # the token does not sign in to pages
    assert page.status_code == 302


def test_agent_list_leaves_archived_agents_out_unless_asked(api, registry):
    Agent.objects.filter(key="broken-agent").update(archived=True)
    assert api.get("/api/agents").json()["count"] == 2
    body = api.get("/api/agents?archived=true").json()
    assert body["count"] == 3
    assert [item["archived"] for item in body["results"]] == [False, True, False]


def test_agent_list_sorts_by_last_change(api, registry, editor):
    agent = Agent.objects.get(key="agent-one")
    agent.add_version(ONE.replace("one thing", "1 thing"), editor, "newer")
    keys = [item["key"] for item in api.get("/api/agents?sort=changed").json()["results"]]
    assert keys[0] == "agent-one"


def test_agent_list_search_comes_best_match_first_unless_sorted(api, registry):
    def keys(query):
        return [item["key"] for item in api.get(f"/api/agents?{query}").json()["results"]]

    best = keys("q=other+agent")
    by_name = keys("q=other+agent&sort=name")

    assert best[0] == "other-agent"
    assert by_name == sorted(best)
    assert by_name[0] != "other-agent"


@pytest.mark.parametrize("query", ["status=nonsense", "sort=size", "page=0", "page=two", "page=-1"])
def test_agent_list_refuses_bad_parameters(api, registry, query):
    assert error_of(api.get(f"/api/agents?{query}"), 400) == "invalid-parameter"


def test_agent_list_pages_by_fifty(api):
    files = [
        IncomingFile(f"agents/helper-{number:02}.md", agent_text(f"helper-{number:02}").encode())
        for number in range(55)
    ]
    assert import_files(files).stored
    first = api.get("/api/agents?q=helper").json()
    assert (first["count"], first["pages"], len(first["results"])) == (55, 2, 50)
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/agents?q=helper&page=2"
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert second["previous"] == "http://testserver/api/agents?q=helper&page=1"
    assert error_of(api.get("/api/agents?page=3"), 404) == "page-not-found"


def test_an_empty_registry_has_one_empty_page(api):
    body = api.get("/api/agents").json()
    assert (body["count"], body["page"], body["results"]) == (0, 1, [])


# One agent ------------------------------------------------------------------------------------


def test_agent_detail(api, registry):
    body = api.get("/api/agents/agent-one").json()
    assert body["key"] == "agent-one"
    assert body["path"] == "agents/agent-one.md"
    assert body["version"] == 1
    assert body["sha256"] == registry["agent-one"].live_version.sha256
    assert body["frontmatter"] == {"name": "agent-one", "description": "Does one thing well."}
    assert [(s["title"], s["line"]) for s in body["sections"]] == [
        ("Focus Areas", 8),
        ("Boundaries", 11),
        ("Delegate To", 18),
    ]
    assert body["sections"][0]["body"] == "- **One thing**: done well\n\n"
    assert body["problems"] == []
    assert body["file_url"] == "http://testserver/api/agents/agent-one.md"


def test_agent_detail_problems(api, registry):
    body = api.get("/api/agents/broken-agent").json()
    assert body["errors"] > 0
    assert body["problems"]
    assert set(body["problems"][0]) == {"code", "severity", "message", "line", "column", "where"}
    assert body["problems"][0]["severity"] == "error"


def test_unknown_agent_is_a_404(api, registry):
    for url in ["/api/agents/nobody", "/api/agents/nobody.md", "/api/agents/nobody/versions"]:
        assert error_of(api.get(url), 404) == "agent-not-found"


# The file -------------------------------------------------------------------------------------


def test_agent_file_is_the_bytes_with_an_etag(api):
    data = b"\xef\xbb\xbf" + agent_text("crlf-agent").replace("\n", "\r\n").encode()
    assert import_files([IncomingFile("crlf-agent.md", data)]).stored
    response = api.get("/api/agents/crlf-agent.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content == data
    version = Agent.objects.get(key="crlf-agent").live_version
    assert response["ETag"] == f'"{version.sha256}"'


def test_agent_file_unchanged_is_a_304(api, registry, editor):
    etag = api.get("/api/agents/agent-one.md")["ETag"]
    response = api.get("/api/agents/agent-one.md", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    Agent.objects.get(key="agent-one").add_version(ONE.replace("one thing", "1 thing"), editor)
    changed = api.get("/api/agents/agent-one.md", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


# Versions -------------------------------------------------------------------------------------


def test_agent_versions(api, registry, editor):
    Agent.objects.get(key="agent-one").add_version(
        ONE.replace("one thing", "1 thing"), editor, "Shorter"
    )
    body = api.get("/api/agents/agent-one/versions").json()
    assert body["key"] == "agent-one"
    assert body["count"] == 2
    newest, oldest = body["results"]
    assert (newest["number"], newest["author"], newest["message"], newest["live"]) == (
        2,
        "edith",
        "Shorter",
        True,
    )
    assert (oldest["number"], oldest["author"], oldest["live"]) == (1, None, False)
    assert oldest["sha256"] == Version.objects.get(agent__key="agent-one", number=1).sha256
    assert "text" not in newest


# Lint -----------------------------------------------------------------------------------------


def test_lint_valid_file(api, registry):
    body = lint(api, agent_text("new-agent", delegate_to="- **agent-one** — one thing\n")).json()
    assert body == {"problems": [], "errors": 0, "warnings": 0, "valid": True}


def test_lint_checks_delegations_against_the_registry(api, registry):
    body = lint(api, agent_text("new-agent", delegate_to="- **nobody** — nothing\n")).json()
    assert not body["valid"]
    assert "nobody" in body["problems"][0]["message"]


def test_lint_reports_a_name_other_agents_have(api, registry):
    body = lint(api, ONE).json()
    assert [p["code"] for p in body["problems"]] == ["name-duplicate"]


@pytest.mark.parametrize("query", ["?agent=agent-one", "?path=agents/agent-one.md"])
def test_lint_of_an_agents_own_file_is_no_clash(api, registry, query):
    assert lint(api, ONE, query).json()["valid"]


def test_lint_of_an_unknown_agent_is_a_404(api, registry):
    assert error_of(lint(api, ONE, "?agent=nobody"), 404) == "agent-not-found"


def test_lint_reports_bytes_that_are_not_utf8_as_a_problem(api, registry):
    response = lint(api, b"---\nname: caf\xe9\n---\n")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert [(p["code"], p["line"]) for p in body["problems"]] == [("not-utf8", 2)]


def test_lint_of_a_file_over_the_limit_is_a_413(api, registry, settings):
    settings.REGISTRY_MAX_FILE_BYTES = 1000
    response = lint(api, ONE + "x" * 1000)
    assert error_of(response, 413) == "too-large"
    assert response.json()["error"]["limit"] == 1000
    assert lint(api, ONE).status_code == 200


def test_lint_of_a_body_over_the_upload_limit_is_a_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert error_of(lint(api, "x" * 200), 413) == "too-large"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/json"])
def test_lint_refuses_a_form_or_json_body(api, registry, content_type):
    response = lint(api, ONE, content_type=content_type)
    assert error_of(response, 415) == "unsupported-media-type"


def test_lint_takes_plain_text_too(api, registry):
    assert lint(api, ONE, "?agent=agent-one", content_type="text/plain").json()["valid"]


# Proposing changes ----------------------------------------------------------------------------

EDITED = ONE.replace("Does one thing well.", "Does one thing very well.")


def test_proposing_an_edit_makes_a_draft_and_publishes_nothing(api, registry, editor):
    agent = registry["agent-one"]
    response = propose(api, agent="agent-one", text=EDITED, message="  Clearer   wording ")
    assert response.status_code == 201
    body = response.json()
    change = ChangeRequest.objects.get()
    assert body["id"] == change.pk
    assert (body["status"], body["kind"], body["agent"]) == ("draft", "edit", "agent-one")
    assert body["url"] == f"http://testserver/changes/{change.pk}/"
    assert response["Location"] == body["url"]
    assert body["valid"] is True
    assert (change.author, change.text, change.message) == (editor, EDITED, "Clearer wording")
    assert change.base_version_id == agent.live_version_id
    agent.refresh_from_db()
    assert agent.live_version.text == ONE
    assert Version.objects.filter(agent=agent).count() == 1
    event = AuditEvent.objects.get(action="change.create")
    assert event.actor == editor


def test_proposing_with_submit_opens_it_for_review_and_publishes_nothing(api, registry):
    response = propose(api, agent="agent-one", text=EDITED, submit=True)
    assert response.status_code == 201
    assert response.json()["status"] == "open"
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.OPEN
    agent = Agent.objects.get(key="agent-one")
    assert agent.live_version.text == ONE
    assert not ChangeRequest.objects.filter(status=ChangeRequest.Status.PUBLISHED).exists()
    assert AuditEvent.objects.filter(action="change.submit").count() == 1


def test_proposing_a_new_agent(api, registry):
    text = agent_text("agent-three", delegate_to="- **agent-one** — one thing\n")
    response = propose(api, agent=None, text=text, message="A third one")
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["agent"], body["status"]) == ("create", None, "draft")
    assert not Agent.objects.filter(name="agent-three").exists()


def test_proposing_a_new_agent_with_a_taken_name_is_a_409(api, registry):
    assert error_of(propose(api, text=agent_text("agent-one")), 409) == "name-taken"
    assert not ChangeRequest.objects.exists()


def test_proposing_a_new_agent_whose_path_holds_another_file_is_a_409(api, registry):
    assert import_files([IncomingFile("agents/agent-four.md", agent_text("squatter").encode())])
    assert error_of(propose(api, text=agent_text("agent-four")), 409) == "path-taken"


def test_proposing_a_new_agent_with_an_invalid_name_is_a_400(api, registry):
    assert error_of(propose(api, text=agent_text("Not A Name")), 400) == "name-invalid"


def test_renaming_to_another_agents_name_is_a_409(api, registry):
    text = ONE.replace("name: agent-one", "name: Other-Agent")
    assert error_of(propose(api, agent="agent-one", text=text), 409) == "name-taken"


def test_proposing_for_an_archived_agent_is_a_409(api, registry):
    Agent.objects.filter(key="agent-one").update(archived=True)
    assert error_of(propose(api, agent="agent-one", text=EDITED), 409) == "agent-archived"


def test_proposing_for_an_unknown_agent_is_a_404(api, registry):
    assert error_of(propose(api, agent="nobody", text=EDITED), 404) == "agent-not-found"


def test_submitting_a_text_with_errors_saves_nothing(api, registry):
    text = ONE.replace("## Delegate To", "## Something Else")
    response = propose(api, agent="agent-one", text=text, submit=True)
    assert error_of(response, 400) == "cannot-submit"
    error = response.json()["error"]
    assert error["errors"] > 0 and error["problems"]
    assert not ChangeRequest.objects.exists()
    # Without submit, the same text is saved as a draft: drafts may have errors.
    response = propose(api, agent="agent-one", text=text)
    assert response.status_code == 201
    assert response.json()["valid"] is False


def test_proposing_needs_the_permission(reader, registry):
    client = Client(headers={"Authorization": f"Bearer {ApiToken.create_for(reader, 'r')[1]}"})
    assert error_of(propose(client, agent="agent-one", text=EDITED), 403) == "forbidden"
    assert not ChangeRequest.objects.exists()
    denied = AuditEvent.objects.get(action="change.create.denied")
    assert denied.actor == reader


@pytest.mark.parametrize(
    "body, code",
    [
        ("{not json", "bad-json"),
        ("[1, 2]", "bad-json"),
        ('"text"', "bad-json"),
        ("{}", "invalid-field"),
        ('{"text": 5}', "invalid-field"),
        ('{"text": "x", "agent": 5}', "invalid-field"),
        ('{"text": "x", "submit": "yes"}', "invalid-field"),
        ('{"text": "x", "message": ["a"]}', "invalid-field"),
        ('{"text": "x", "message": "' + "m" * 501 + '"}', "invalid-field"),
        ('{"text": "x", "message": "bell\\u0007"}', "invalid-field"),
        ('{"text": "x", "publish": true}', "unknown-field"),
        ('{"text": "---\\nname: x\\u0000\\n---\\n"}', "invalid-text"),
        ('{"text": "\\ud800"}', "invalid-text"),
    ],
)
def test_bad_change_bodies_are_400s(api, registry, body, code):
    response = api.post("/api/changes", body, content_type="application/json")
    assert error_of(response, 400) == code
    assert not ChangeRequest.objects.exists()


def test_a_change_body_that_is_not_json_is_a_415(api, registry):
    response = api.post("/api/changes", {"text": "x"})  # a form
    assert error_of(response, 415) == "unsupported-media-type"


def test_a_change_text_over_the_limit_is_a_413(api, registry, settings):
    settings.REGISTRY_MAX_FILE_BYTES = 1000
    assert error_of(propose(api, agent="agent-one", text=EDITED + "x" * 1000), 413) == "too-large"
    assert not ChangeRequest.objects.exists()


def test_the_openapi_description_is_public(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"] == "3.1.0"


# Change sets -------------------------------------------------------------------------------


def post_set(api, **fields):
    return api.post("/api/changes", json.dumps(fields), content_type="application/json")


def test_several_agents_are_proposed_as_one_change_set(api, registry, editor):
    one = ONE.replace("Does one thing well.", "Does one thing very well.")
    other = OTHER.replace("Handles the remaining work.", "Handles all the rest.")
    response = post_set(
        api,
        changes=[{"agent": "agent-one", "text": one}, {"agent": "other-agent", "text": other}],
        message="Sharper descriptions",
        submit=True,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    change = ChangeRequest.objects.get(pk=body["id"])
    assert body["kind"] == "set" and body["status"] == "open"
    assert [entry["path"] for entry in body["agents"]] == [
        "agents/agent-one.md",
        "agents/other-agent.md",
    ]
    assert change.author == editor and change.message == "Sharper descriptions"
    assert {item.text for item in change.items.all()} == {one, other}
    assert response["Location"] == body["url"]
    # Nothing is published through the API.
    assert Agent.objects.get(key="agent-one").live_version.text == ONE
    # The change's JSON lists the set's agents.
    read = api.get(f"/api/changes/{change.pk}").json()
    assert read["kind"] == "set"
    assert [(entry["agent"], entry["path"], entry["conflicts"]) for entry in read["agents"]] == [
        ("agent-one", "agents/agent-one.md", []),
        ("other-agent", "agents/other-agent.md", []),
    ]


def test_a_change_set_may_add_a_new_agent(api, registry):
    new = agent_text("third-agent", delegate_to="- **agent-one** — x\n")
    response = post_set(api, changes=[{"agent": None, "text": new}])
    assert response.status_code == 201, response.json()
    assert response.json()["agents"] == [
        {"agent": None, "path": "agents/third-agent.md", "errors": 0, "warnings": 0}
    ]


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"changes": []}, 400, "invalid-field"),
        ({"changes": "x"}, 400, "invalid-field"),
        ({"changes": [{"agent": "agent-one"}]}, 400, "invalid-field"),
        ({"changes": [{"agent": "agent-one", "text": ONE, "x": 1}]}, 400, "unknown-field"),
        ({"changes": [{"agent": "agent-one", "text": ONE}], "agent": "x"}, 400, "unknown-field"),
        ({"changes": [{"agent": "nobody", "text": ONE}]}, 404, "agent-not-found"),
        (
            {"changes": [{"agent": "agent-one", "text": ONE}, {"agent": "agent-one", "text": ONE}]},
            400,
            "invalid-field",
        ),
        ({"changes": [{"agent": "agent-one", "text": OTHER}]}, 409, "name-taken"),
        (
            {
                "changes": [
                    {"agent": "agent-one", "text": BROKEN.replace("broken-agent", "agent-one")}
                ],
                "submit": True,
            },
            400,
            "cannot-submit",
        ),
    ],
)
def test_a_bad_change_set_is_refused_and_nothing_is_kept(api, registry, fields, status, code):
    response = post_set(api, **fields)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert not ChangeRequest.objects.exists()


def test_the_single_agent_form_still_works(api, registry):
    response = post_set(api, agent="agent-one", text=ONE.replace("well.", "well!"))
    assert response.status_code == 201
    assert response.json()["kind"] == "edit"
