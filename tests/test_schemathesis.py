"""The API does what its OpenAPI description says, checked by schemathesis: requests made from
/api/openapi.json, valid and not, sent to the WSGI application gunicorn serves, signed in with
a token, every answer run through all of schemathesis' checks."""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agentsite.wsgi import application
from registry import editor
from registry.api import schema as openapi
from registry.models import ApiToken
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text

# Deterministic, and small enough to stay well under a minute for all operations.
CONFIG = schemathesis.Config.from_dict({"generation": {"max-examples": 50, "deterministic": True}})
# The description as /api/openapi.json serves it.
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(openapi.DOCUMENT)), config=CONFIG)
schema.app = application  # as schemathesis.openapi.from_wsgi() sets it
# /api/lint's body is the file's bytes, whatever they are (text that is no agent file, or not
# UTF-8, is a 200 listing the problems). Without this, schemathesis sends a JSON value as the
# "invalid" body, which on the wire is just another file.
schemathesis.openapi.media_type(
    "text/markdown",
    st.one_of(st.binary(min_size=1), st.text(min_size=1).map(str.encode)),
)
# What no schema can say of a proposal: a new agent's name, in its text, must be valid and free
# (name-invalid); submit needs a text without errors (cannot-submit); and a message may hold no
# character a reader cannot see, a rule that depends on the characters around it. The
# description says all three in words; any other refusal of a valid request is a failure.
REFUSED_FOR_THE_TEXT = {"name-invalid", "cannot-submit"}


def refused_for_what_it_says(case, response) -> bool:
    if response.status_code != 400:
        return False
    error = response.json()["error"]
    if error["code"] in REFUSED_FOR_THE_TEXT:
        return True
    message = case.body.get("message", "") if isinstance(case.body, dict) else ""
    hidden = isinstance(message, str) and editor.character_error(message) is not None
    return error["code"] == "invalid-field" and error.get("field") == "message" and hidden


def proposal_accepted_unless_refused_for_what_it_says(ctx, response, case):
    """positive_data_acceptance for POST /api/changes, with the refusals above allowed."""
    if refused_for_what_it_says(case, response):
        return None
    return positive_data_acceptance(ctx, response, case)


@pytest.fixture
def token(db, make_user):
    """A registry of two agents and an editor's token: the editor may propose changes."""
    assert import_files(
        [
            IncomingFile("agents/agent-one.md", agent_text().encode()),
            IncomingFile(
                "agents/other-agent.md",
                agent_text("other-agent", delegate_to="- **agent-one** — one\n").encode(),
            ),
        ]
    ).stored
    return ApiToken.create_for(make_user("edith", "Editors"), "schemathesis")[1]


@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_api_does_what_its_description_says(case, token, wsgi_application):
    checks = {}
    if case.operation.label == "POST /api/changes":
        checks = {
            "excluded_checks": [positive_data_acceptance],
            "additional_checks": [proposal_accepted_unless_refused_for_what_it_says],
        }
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, **checks)
