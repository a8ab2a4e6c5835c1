"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json; tests hold it true)."""

from registry.agentfiles.validation import NAME_MAX_LENGTH
from registry.models import ChangeRequest

MESSAGE_MAX_LENGTH = ChangeRequest._meta.get_field("message").max_length


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, **extra) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict, required=None, **extra) -> dict:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        **extra,
    }


STRING = {"type": "string"}
# No NUL: no database can compare one, so the API refuses it (400).
TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
# An agent's URL key, as its URLs take it.
AGENT_KEY = {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}
# What an agent's name may be: lowercase letters, digits and single hyphens (validation.NAME_RE).
NAME_PATTERN = "^[a-z0-9]+(-[a-z0-9]+)*$"
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}
RISK = {
    "type": "string",
    "enum": ["none", "widens", "high"],
    "description": "What the change grants against its base: high (bypassPermissions or "
    "dontAsk, every tool, a hook or an inline MCP command) needs an approval from a maintainer.",
}

UNAUTHORIZED = _error(
    "No credentials, or a bearer token that is malformed, unknown or revoked "
    "(`not-authenticated`, `invalid-token`)."
)
AGENT_NOT_FOUND = _error("No agent has this key (`agent-not-found`).")
CSRF_FAILED = _error(
    "Signed in by session without the CSRF token (`csrf-failed`); token requests need none."
)
KEY = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "The agent's URL key.",
    "schema": AGENT_KEY,
}

SCHEMAS = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": {
                        "type": "string",
                        "description": "Stable, for programs: e.g. `invalid-token`, "
                        "`name-taken`, `too-large`.",
                    },
                    "message": {"type": "string", "description": "For people."},
                    "field": {"type": "string", "description": "The request field at fault."},
                    "reason": {
                        "type": "string",
                        "description": "The rule a field broke, as the registry names it "
                        "everywhere: e.g. `message-too-long`, `message-characters`.",
                    },
                    "limit": {"type": "integer", "description": "The size limit, in bytes."},
                    "request_id": {
                        "type": "string",
                        "description": "On a 500: the request's X-Request-ID, to report.",
                    },
                    "problems": {"type": "array", "items": _ref("Problem")},
                    "errors": INTEGER,
                    "warnings": INTEGER,
                    "valid": BOOLEAN,
                },
                required=["code", "message"],
            )
        }
    ),
    "Problem": _object(
        {
            "code": STRING,
            "severity": {"type": "string", "enum": ["error", "warning"]},
            "message": STRING,
            "line": INTEGER,
            "column": INTEGER,
            "where": {
                "type": "string",
                "description": "`frontmatter`, `frontmatter.<key>`, `section:<title>`, `file` "
                "or empty.",
            },
        }
    ),
    "AgentItem": _object(
        {
            "key": STRING,
            "name": STRING,
            "path": {"type": "string", "description": "The file's path in the repository."},
            "description": STRING,
            "category": STRING,
            "archived": BOOLEAN,
            "errors": INTEGER,
            "warnings": INTEGER,
            "version": _nullable("integer", description="The live version's number."),
            "updated_at": TIME,
            "url": {**URL, "description": "This agent in the API."},
            "html_url": {**URL, "description": "This agent's page."},
        }
    ),
    "AgentPage": _object(
        {
            "count": {"type": "integer", "description": "Agents found, on all pages."},
            "page": INTEGER,
            "pages": INTEGER,
            "next": _nullable("string", format="uri"),
            "previous": _nullable("string", format="uri"),
            "results": {"type": "array", "items": _ref("AgentItem")},
        }
    ),
    "Section": _object(
        {
            "title": STRING,
            "line": {"type": "integer", "description": "The heading's line, from 1."},
            "body": {"type": "string", "description": "The text under the heading, exactly."},
        }
    ),
    "AgentDetail": _object(
        {
            "key": STRING,
            "name": STRING,
            "path": STRING,
            "description": STRING,
            "category": STRING,
            "archived": BOOLEAN,
            "version": {"type": "integer", "description": "The live version's number."},
            "sha256": {"type": "string", "description": "Of the file's bytes; its ETag."},
            "updated_at": TIME,
            "author": _nullable("string"),
            "frontmatter": _nullable("object", description="Null when it does not parse."),
            "sections": {"type": "array", "items": _ref("Section")},
            "problems": {"type": "array", "items": _ref("Problem")},
            "errors": INTEGER,
            "warnings": INTEGER,
            "file_url": URL,
            "versions_url": URL,
            "html_url": URL,
        }
    ),
    "Version": _object(
        {
            "number": INTEGER,
            "author": _nullable("string"),
            "created_at": TIME,
            "message": STRING,
            "sha256": STRING,
            "live": BOOLEAN,
        }
    ),
    "VersionList": _object(
        {
            "key": STRING,
            "count": INTEGER,
            "results": {"type": "array", "items": _ref("Version")},
        }
    ),
    "LintResult": _object(
        {
            "problems": {"type": "array", "items": _ref("Problem")},
            "errors": INTEGER,
            "warnings": INTEGER,
            "valid": {"type": "boolean", "description": "True when there are no errors."},
        }
    ),
    "ChangeProposal": _object(
        {
            "agent": {
                **AGENT_KEY,
                "type": ["string", "null"],
                "description": "The key of the agent to change; null (or left out) for a new "
                "agent.",
            },
            "text": {
                **TEXT,
                "description": "The whole file, as it should become. For a new agent, its "
                f"frontmatter `name` must match `{NAME_PATTERN}` (at most {NAME_MAX_LENGTH} "
                "characters) and be free: the file's path is made from it (`name-invalid` "
                "otherwise). Any other problem is reported in `problems`, and refuses only "
                "`submit`.",
            },
            "message": {
                "type": "string",
                "maxLength": MESSAGE_MAX_LENGTH,
                "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$",
                "description": "What changed and why; runs of spaces and line breaks become "
                "one space. No control character but tab and line breaks, nor any other "
                "character a reader cannot see (as the linter's `hidden-character` rule finds "
                "them in files).",
            },
            "submit": {
                "type": "boolean",
                "description": "Submit it for review at once (refused if the text has errors).",
            },
        },
        required=["text"],
        additionalProperties=False,
    ),
    "ChangeSetProposal": _object(
        {
            "changes": {
                "type": "array",
                "minItems": 1,
                "description": "The agents of one change request, reviewed once and published "
                "together (every agent or none). Each agent at most once.",
                "items": _object(
                    {
                        "agent": {
                            **AGENT_KEY,
                            "type": ["string", "null"],
                            "description": "The key of the agent to change; null for a new "
                            "agent, whose path is made from its name.",
                        },
                        "text": {**TEXT, "description": "The whole file, as it should become."},
                    },
                    required=["text"],
                    additionalProperties=False,
                ),
            },
            "message": {"type": "string", "maxLength": MESSAGE_MAX_LENGTH},
            "submit": {
                "type": "boolean",
                "description": "Submit it for review at once (refused if an agent's text "
                "brings in errors).",
            },
        },
        required=["changes"],
        additionalProperties=False,
    ),
    "Grant": _object(
        {
            "key": {"type": "string", "description": "The frontmatter key it concerns."},
            "what": {"type": "string", "description": "What it grants, in words."},
            "level": RISK,
            "detail": {
                "type": "string",
                "description": "A hook's or a server's command, or a server's URL, verbatim; "
                "empty otherwise.",
            },
            "powerful": {
                "type": "boolean",
                "description": "A tool that runs commands, writes files, reaches the network "
                "or other agents.",
            },
        }
    ),
    "ChangeDetail": _object(
        {
            "id": INTEGER,
            "status": {"type": "string", "enum": list(ChangeRequest.Status.values)},
            "kind": {"type": "string", "enum": list(ChangeRequest.Kind.values)},
            "agent": _nullable("string"),
            "author": STRING,
            "message": STRING,
            "revision": INTEGER,
            "base_version": _nullable("integer"),
            "created_at": TIME,
            "updated_at": TIME,
            "errors": INTEGER,
            "warnings": INTEGER,
            "risk": RISK,
            "grants": {"type": "array", "items": _ref("Grant")},
            "approvals": {**INTEGER, "description": "Valid approvals of the current text."},
            "approvals_missing": INTEGER,
            "high_risk_approval_missing": {
                **BOOLEAN,
                "description": "A high-risk change still needs an approval from the "
                "configured group (REGISTRY_HIGH_RISK_GROUP) by someone other than its author.",
            },
            "comments": {
                "type": "array",
                "items": _object(
                    {
                        "id": INTEGER,
                        "author": _nullable("string", description="null: a registry note."),
                        "body": STRING,
                        "anchor": {
                            "type": "string",
                            "description": "`frontmatter.<key>`, `section:<title>`, or empty "
                            "for the change as a whole.",
                        },
                        "created_at": TIME,
                        "resolved": BOOLEAN,
                        "resolved_by": _nullable("string"),
                    }
                ),
            },
            "agents": {
                "type": "array",
                "description": "A change set's agents (kind `set`); empty for any other change.",
                "items": _object(
                    {
                        "agent": _nullable("string", description="null: a new agent."),
                        "path": STRING,
                        "old_path": {
                            "type": "string",
                            "description": "Where the file was, when the set moves it; else empty.",
                        },
                        "base_version": _nullable("integer"),
                        "errors": INTEGER,
                        "warnings": INTEGER,
                        "conflicts": {"type": "array", "items": STRING},
                    }
                ),
            },
            "url": {**URL, "description": "The change request's page."},
        }
    ),
    "ChangeCreated": _object(
        {
            "id": INTEGER,
            "status": {"type": "string", "enum": ["draft", "open"]},
            "kind": {"type": "string", "enum": ["edit", "create", "set"]},
            "agent": _nullable("string"),
            "revision": INTEGER,
            "url": {**URL, "description": "The change request's page."},
            "agents": {
                "type": "array",
                "description": "A change set's agents, with their counts.",
                "items": _object(
                    {
                        "agent": _nullable("string"),
                        "path": {"type": "string"},
                        "errors": INTEGER,
                        "warnings": INTEGER,
                    }
                ),
            },
            "problems": {"type": "array", "items": _ref("Problem")},
            "errors": INTEGER,
            "warnings": INTEGER,
            "valid": BOOLEAN,
            "risk": RISK,
            "grants": {"type": "array", "items": _ref("Grant")},
        },
        required=[
            "id",
            "status",
            "kind",
            "agent",
            "revision",
            "url",
            "problems",
            "errors",
            "warnings",
            "valid",
            "risk",
            "grants",
        ],
    ),
}

PATHS = {
    "/api/agents": {
        "get": {
            "operationId": "listAgents",
            "summary": "Agents, 50 a page, with the agent list's search, filters and sort.",
            "parameters": [
                {"name": "q", "in": "query", "schema": TEXT, "description": "Search words."},
                {"name": "category", "in": "query", "schema": TEXT},
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["valid", "errors", "warnings", "open"]},
                },
                {
                    "name": "sort",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["relevance", "name", "changed"]},
                    "description": "relevance (with q: the best matches first; the default "
                    "with q), name (the default without q), changed (newest first).",
                },
                {
                    "name": "archived",
                    "in": "query",
                    "schema": BOOLEAN,
                    "description": "Include archived agents.",
                },
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            ],
            "responses": {
                "200": _json(_ref("AgentPage"), "A page of agents."),
                "400": _error(
                    "A parameter is not as declared, given twice, or holds a NUL "
                    "(`invalid-parameter`)."
                ),
                "401": UNAUTHORIZED,
                "404": _error("The page is past the last one (`page-not-found`)."),
            },
        }
    },
    "/api/agents/{key}": {
        "get": {
            "operationId": "getAgent",
            "summary": "The live version of an agent: frontmatter, sections and problems.",
            "parameters": [KEY],
            "responses": {
                "200": _json(_ref("AgentDetail"), "The agent."),
                "401": UNAUTHORIZED,
                "404": AGENT_NOT_FOUND,
            },
        }
    },
    "/api/agents/{key}.md": {
        "get": {
            "operationId": "getAgentFile",
            "summary": "The live version's file, byte for byte.",
            "parameters": [
                KEY,
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "schema": STRING,
                    "description": "An ETag from before: 304 when the file is unchanged.",
                },
            ],
            "responses": {
                "200": {
                    "description": "The file.",
                    "headers": {
                        "ETag": {
                            "description": "The SHA-256 of the bytes, quoted.",
                            "schema": STRING,
                        }
                    },
                    "content": {"text/markdown": {"schema": STRING}},
                },
                "304": {"description": "Unchanged since the ETag sent in If-None-Match."},
                "401": UNAUTHORIZED,
                "404": AGENT_NOT_FOUND,
            },
        }
    },
    "/api/agents/{key}/versions": {
        "get": {
            "operationId": "listAgentVersions",
            "summary": "Every version of an agent, newest first.",
            "parameters": [KEY],
            "responses": {
                "200": _json(_ref("VersionList"), "The versions."),
                "401": UNAUTHORIZED,
                "404": AGENT_NOT_FOUND,
            },
        }
    },
    "/api/lint": {
        "post": {
            "operationId": "lint",
            "summary": "A file's problems, checked against the registry's agents.",
            "description": "The body is the file itself. Bytes that are not a text file (not "
            "UTF-8, a NUL byte) come back as a problem with status 200, as the command-line "
            "linter reports them. A body over the file size limit is a 413.",
            "parameters": [
                {
                    "name": "agent",
                    "in": "query",
                    "schema": {**AGENT_KEY, "pattern": "^[-a-zA-Z0-9_]*$"},
                    "description": "The key of the agent this file is, so that its own name "
                    "is no clash (empty: none).",
                },
                {
                    "name": "path",
                    "in": "query",
                    "schema": TEXT,
                    "description": "Or the file's repository path, for the same purpose.",
                },
            ],
            "requestBody": {
                "required": False,
                "description": "The file, byte for byte; also taken as text/plain or "
                "application/octet-stream. No body is the empty file, and gets its problems.",
                "content": {"text/markdown": {"schema": STRING}},
            },
            "responses": {
                "200": _json(_ref("LintResult"), "The problems, errors first."),
                "400": _error("A parameter given twice or holding a NUL (`invalid-parameter`)."),
                "401": UNAUTHORIZED,
                "403": CSRF_FAILED,
                "404": AGENT_NOT_FOUND,
                "413": _error("The file is over the size limit (`too-large`)."),
                "415": _error("The body is not sent as a file (`unsupported-media-type`)."),
            },
        }
    },
    "/api/changes": {
        "post": {
            "operationId": "proposeChange",
            "summary": "Propose a change as a draft, and submit it for review if asked.",
            "description": "Needs the permission to propose changes. Nothing is published: a "
            "reviewer must approve the change first.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [_ref("ChangeProposal"), _ref("ChangeSetProposal")]}
                    }
                },
            },
            "responses": {
                "201": _json(
                    _ref("ChangeCreated"),
                    "The change request, a draft or open for review.",
                    headers={"Location": {"description": "Its page.", "schema": URL}},
                ),
                "400": _error(
                    "Bad JSON or fields (`bad-json`, `unknown-field`, `invalid-field`), a text "
                    "that is not a file (`invalid-text`), an invalid new name (`name-invalid`), "
                    "or submit asked for a text with errors (`cannot-submit`, nothing saved)."
                ),
                "401": UNAUTHORIZED,
                "403": _error(
                    "Not allowed to propose changes (`forbidden`), or the CSRF token is "
                    "missing (`csrf-failed`)."
                ),
                "404": AGENT_NOT_FOUND,
                "409": _error(
                    "The name is another agent's (`name-taken`), a file is at the new path "
                    "(`path-taken`), or the agent is archived (`agent-archived`)."
                ),
                "413": _error("The text is over the size limit (`too-large`)."),
                "415": _error("The body is not JSON (`unsupported-media-type`)."),
            },
        }
    },
    "/api/changes/{id}": {
        "get": {
            "operationId": "getChange",
            "summary": "A change request: its state, what it grants, approvals and comments.",
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "description": "The change request's number.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            ],
            "responses": {
                "200": _json(_ref("ChangeDetail"), "The change request."),
                "401": UNAUTHORIZED,
                "404": _error("No change has this number (`change-not-found`)."),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This description.",
            "security": [],
            "responses": {
                "200": _json({"type": "object", "required": ["openapi", "paths"]}, "It."),
            },
        }
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Agent Registry API",
        "version": "1",
        "description": "Read agents, lint files and propose changes. Authenticate with a "
        "personal token from /account/tokens/ (`Authorization: Bearer ar_...`) or, from the "
        "browser, the session cookie plus the CSRF token on POST. Every error is "
        '`{"error": {"code": "...", "message": "..."}}`; a method an endpoint does not take '
        "gets 405 (`method-not-allowed`) and an unknown path 404 (`not-found`).",
    },
    "security": [{"bearerToken": []}, {"session": []}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal token, made at /account/tokens/.",
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "sessionid",
                "description": "Signed in through the browser; POST also needs X-CSRFToken.",
            },
        },
    },
}
