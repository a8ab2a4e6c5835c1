"""The JSON API: agents, their files and versions, linting, and proposing changes.

A request is made as a signed-in user (the session cookie, with the CSRF token on anything but
GET) or with a personal token (`Authorization: Bearer ar_...`, no CSRF token needed: a browser
never adds that header by itself). Errors are always {"error": {"code", "message"}}."""

from __future__ import annotations

import json
import sys
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.core.paginator import EmptyPage
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from registry.agentfiles import validation
from registry.agentfiles.document import AgentDocument, DocumentError
from registry.api import schema as openapi
from registry.forms import AgentListFilters
from registry.models import (
    LISTED_FIELDS,
    Agent,
    ApiToken,
    AuditEvent,
    ChangeRequest,
    RowPaginator,
    WorkflowError,
    parse_text,
)
from registry.models.change_sets import start_set

PAGE_SIZE = 50
PAGE_DIGITS = 18  # a page number longer than this is past the last page of any registry
# Bodies /api/lint takes as the file itself; form encodings are refused (curl -d would send one,
# after dropping the file's newlines).
FILE_CONTENT_TYPES = {"text/markdown", "text/x-markdown", "text/plain", "application/octet-stream"}
CHANGE_FIELDS = {"agent", "text", "message", "submit"}
# A change set: several agents' texts in one change request.
SET_FIELDS = {"changes", "message", "submit"}
SET_ENTRY_FIELDS = {"agent", "text"}
# How the model's refusals of a proposal answer: (status, error code, field at fault).
PROPOSAL_REFUSALS = {
    "message-too-long": (400, "invalid-field", "message"),
    "message-characters": (400, "invalid-field", "message"),
    "name-invalid": (400, "name-invalid", None),
    "name-taken": (409, "name-taken", None),
    "path-taken": (409, "path-taken", None),
    "set-empty": (400, "invalid-field", "changes"),
    "set-duplicate": (400, "invalid-field", "changes"),
    "agent-archived": (409, "agent-archived", None),
}


class ApiError(Exception):
    """Stops a request with an error response: status, stable code, message, extra members."""

    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JsonResponse:
        return error_response(self.status, self.code, self.message, **self.extra)


def json_response(data, status: int = 200, **kwargs) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False}, **kwargs)


def error_response(status: int, code: str, message: str, **extra) -> JsonResponse:
    response = json_response({"error": {"code": code, "message": message, **extra}}, status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, run by hand for session requests, answering in JSON."""

    def _reject(self, request, reason):
        return error_response(403, "csrf-failed", f"CSRF verification failed: {reason}")


def authenticate(request: HttpRequest) -> JsonResponse | None:
    """Set request.user from the bearer token, or keep the session's user and check CSRF.
    Returns the error response when the request may not go on."""
    header = request.headers.get("Authorization")
    if header is not None:
        # Any Authorization header must be a valid bearer token: never fall back to the
        # session, so that a header a browser adds by itself (Basic) cannot skip the CSRF check.
        scheme, _, credential = header.strip().partition(" ")
        token = None
        if scheme.lower() == "bearer" and credential.strip():
            token = ApiToken.objects.authenticate(credential.strip())
        if token is None:
            return error_response(
                401, "invalid-token", "The bearer token is malformed, unknown or revoked."
            )
        request.user = token.user
        request.api_token = token
        return None
    if not request.user.is_authenticated:
        return error_response(
            401,
            "not-authenticated",
            "Sign in, or send a personal token: Authorization: Bearer <token>.",
        )
    request.api_token = None
    # The middleware wants a get_response; process_view alone never calls it.
    return _CsrfCheck(lambda request: None).process_view(request, None, (), {})


def api_view(*methods: str):
    """A JSON API view: answers methods (GET also answers HEAD), authenticates, and turns every
    refusal into a JSON error. Exempt from Django's CSRF middleware and sign-in redirect: the
    session case checks CSRF itself, and a request without credentials gets a JSON 401."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in allowed:
                response = error_response(
                    405, "method-not-allowed", f"{request.method} is not allowed here."
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            response = authenticate(request)
            if response is None:
                try:
                    response = view(request, *args, **kwargs)
                except ApiError as error:
                    response = error.response()
                except Http404 as error:
                    response = error_response(404, "not-found", str(error) or "Not found.")
                except PermissionDenied as error:
                    response = error_response(
                        403, "forbidden", str(error) or "You may not do this."
                    )
                except RequestDataTooBig:
                    response = error_response(
                        413,
                        "too-large",
                        f"The body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
                    )
            # Answers depend on who asks: shared caches keep none, browsers check again.
            patch_vary_headers(response, ["Authorization", "Cookie"])
            patch_cache_control(response, private=True, no_cache=True)
            return response

        return login_not_required(csrf_exempt(wrapper))

    return decorator


@login_not_required
@csrf_exempt  # it changes nothing, whatever the method
def not_found(request: HttpRequest, *args, **kwargs):
    return error_response(404, "not-found", f"There is no API endpoint at {request.path}.")


@login_not_required
@csrf_exempt  # it changes nothing, whatever the method
def openapi_description(request: HttpRequest):
    """The OpenAPI description of this API; public, since it holds no data."""
    if request.method not in ("GET", "HEAD"):
        response = error_response(405, "method-not-allowed", f"{request.method} is not allowed.")
        response["Allow"] = "GET, HEAD"
        return response
    return json_response(openapi.DOCUMENT)


# --- Reading ----------------------------------------------------------------------------------


def _absolute(request: HttpRequest, name: str, *args) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def _agent_of(key: str, *, text: bool = True) -> Agent:
    """The agent with its live version (with that version's text only if asked), or a 404."""
    agents = Agent.objects.select_related("live_version__author")
    if not text:
        agents = agents.defer("live_version__text")
    agent = agents.filter(key=key).first()
    if agent is None or agent.live_version is None:
        raise ApiError(404, "agent-not-found", f"There is no agent with the key {key!r}.")
    return agent


def _query(request: HttpRequest, *names: str) -> dict[str, str | None]:
    """The query parameters of these names (None when absent): each given once at most, and
    without a NUL (which no database can compare)."""
    values = {}
    for name in names:
        given = request.GET.getlist(name)
        if len(given) > 1:
            raise ApiError(
                400, "invalid-parameter", f"{name} is given {len(given)} times; give it once."
            )
        value = given[0] if given else None
        if value is not None and "\x00" in value:
            raise ApiError(400, "invalid-parameter", f"{name} holds a NUL character.")
        values[name] = value
    return values


def _choice(query: dict, name: str, choices) -> None:
    if query[name] is not None and query[name] not in choices:
        raise ApiError(400, "invalid-parameter", f"{name} must be one of: {', '.join(choices)}.")


def _page_number(request: HttpRequest) -> int:
    value = request.GET.get("page", "1")
    digits = value.lstrip("0")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or not digits:
        raise ApiError(400, "invalid-parameter", "page must be a whole number from 1 up.")
    # A number too long for int() (or any database) is still a page, only past the last one.
    return int(digits) if len(digits) <= PAGE_DIGITS else sys.maxsize


def _page_url(request: HttpRequest, number: int) -> str:
    query = request.GET.copy()
    query["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


@api_view("GET")
def agents(request: HttpRequest):
    """The agent list, with the list page's search, filters and sort, 50 a page."""
    query = _query(request, "q", "category", "status", "sort", "archived", "page")
    # Stricter than the list page's form, which reads a value it does not know as the default.
    _choice(query, "status", [value for value, _ in AgentListFilters.STATUSES if value])
    _choice(query, "sort", [value for value, _ in AgentListFilters.SORTS])
    _choice(query, "archived", ["true", "false"])
    form = AgentListFilters(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise ApiError(400, "invalid-parameter", f"{field}: {' '.join(errors)}")
    filters = form.chosen()
    found = Agent.objects.listed(
        q=filters["q"],
        category=filters["category"],
        status=filters["status"],
        archived=filters["archived"],
    ).in_order(filters["sort"], filters["q"])
    rows = Agent.objects.select_related("live_version").only(
        *LISTED_FIELDS, "updated_at", "live_version__number", "live_version__created_at"
    )
    paginator = RowPaginator(found, PAGE_SIZE, rows)
    try:
        page = paginator.page(_page_number(request))
    except EmptyPage:
        raise ApiError(
            404, "page-not-found", f"There are only {paginator.num_pages} pages."
        ) from None
    return json_response(
        {
            "count": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "next": _page_url(request, page.next_page_number()) if page.has_next() else None,
            "previous": (
                _page_url(request, page.previous_page_number()) if page.has_previous() else None
            ),
            "results": [
                {
                    "key": agent.key,
                    "name": agent.name,
                    "path": agent.path,
                    "description": agent.description,
                    "category": agent.category,
                    "archived": agent.archived,
                    "errors": agent.error_count,
                    "warnings": agent.warning_count,
                    "version": agent.live_version.number if agent.live_version else None,
                    "updated_at": _time(agent.updated_at),
                    "url": _absolute(request, "api:agent", agent.key),
                    "html_url": _absolute(request, "registry:agent_detail", agent.key),
                }
                for agent in page
            ],
        }
    )


@api_view("GET")
def agent(request: HttpRequest, key: str):
    """The live version of one agent: frontmatter, sections, problems."""
    found = _agent_of(key)
    version = found.live_version
    document = version.document
    problems = sorted(
        found.problems or [],
        key=lambda problem: (problem["severity"] != "error", problem["line"], problem["column"]),
    )
    return json_response(
        {
            "key": found.key,
            "name": found.name,
            "path": found.path,
            "description": found.description,
            "category": found.category,
            "archived": found.archived,
            "version": version.number,
            "sha256": version.sha256,
            "updated_at": _time(found.updated_at),
            "author": version.author.get_username() if version.author else None,
            "frontmatter": version.frontmatter,
            "sections": [
                {
                    "title": section.title,
                    "line": section.start + 1,
                    "body": document.section_body(section),
                }
                for section in document.sections
            ],
            "problems": problems,
            "errors": found.error_count,
            "warnings": found.warning_count,
            "file_url": _absolute(request, "api:agent_file", found.key),
            "versions_url": _absolute(request, "api:agent_versions", found.key),
            "html_url": _absolute(request, "registry:agent_detail", found.key),
        }
    )


@api_view("GET")
def agent_file(request: HttpRequest, key: str):
    """The live version's exact bytes; its ETag is their SHA-256, so If-None-Match gets a 304."""
    version = _agent_of(key).live_version
    response = HttpResponse(version.data, content_type="text/markdown; charset=utf-8")
    response["ETag"] = f'"{version.sha256}"'
    return get_conditional_response(request, etag=response["ETag"], response=response)


@api_view("GET")
def agent_versions(request: HttpRequest, key: str):
    """Every version of one agent, newest first, without their text."""
    found = _agent_of(key, text=False)
    versions = (
        found.versions.select_related("author")
        .only("agent_id", "number", "created_at", "message", "sha256", "author__username")
        .order_by("-number")
    )
    results = [
        {
            "number": version.number,
            "author": version.author.get_username() if version.author else None,
            "created_at": _time(version.created_at),
            "message": version.message,
            "sha256": version.sha256,
            "live": version.pk == found.live_version_id,
        }
        for version in versions
    ]
    return json_response({"key": found.key, "count": len(results), "results": results})


# --- Linting and proposing ---------------------------------------------------------------------


def _content_type(request: HttpRequest) -> str:
    return request.content_type.lower() if request.content_type else ""


def _body(request: HttpRequest, limit: int, what: str) -> bytes:
    data = request.body
    if len(data) > limit:
        raise ApiError(
            413,
            "too-large",
            f"The {what} is {len(data):,} bytes; the limit is {limit:,} bytes.",
            limit=limit,
        )
    return data


def _problem_list(problems) -> dict:
    problems = validation.sort_problems(problems)
    errors, warnings = validation.counts(problems)
    return {
        "problems": [problem.as_dict() for problem in problems],
        "errors": errors,
        "warnings": warnings,
        "valid": errors == 0,
    }


@api_view("POST")
def lint(request: HttpRequest):
    """A file's problems, as the editor finds them against the registry's agents.

    The body is the file. Bytes that are not a text file (not UTF-8, a NUL) are a problem in
    the answer (200), as the linter reports them; a body over the file size limit is a 413.
    ?agent=<key> or ?path=<repository path>: the agent the file is, so its own name is no clash."""
    if _content_type(request) and _content_type(request) not in FILE_CONTENT_TYPES:
        raise ApiError(
            415,
            "unsupported-media-type",
            "Send the file itself as the body, with Content-Type: text/markdown "
            "(curl: --data-binary @file.md).",
        )
    query = _query(request, "agent", "path")
    limit = settings.REGISTRY_MAX_FILE_BYTES
    data = _body(request, limit, "file")  # none is the empty file, which has its problems
    subject = None
    if key := query["agent"]:
        subject = Agent.objects.filter(key=key).first()
        if subject is None:
            raise ApiError(404, "agent-not-found", f"There is no agent with the key {key!r}.")
    elif path := query["path"]:
        subject = Agent.objects.filter(path=path).first()
    try:
        document = AgentDocument.parse(data, max_bytes=limit)
    except DocumentError as error:
        return json_response(_problem_list([validation.problem_from_error(error)]))
    return json_response(_problem_list(Agent.objects.problems_of(document, exclude=subject)))


def _change_fields(request: HttpRequest) -> dict:
    if _content_type(request) != "application/json":
        raise ApiError(
            415, "unsupported-media-type", "Send a JSON object with Content-Type: application/json."
        )
    body = _body(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "body")
    try:
        fields = json.loads(body)
    except ValueError as error:
        raise ApiError(400, "bad-json", f"The body is not valid JSON: {error}.") from None
    except RecursionError:
        raise ApiError(
            400,
            "bad-json",
            "The body's JSON arrays or objects are nested too deeply to read; a change is "
            "one flat object.",
        ) from None
    if not isinstance(fields, dict):
        raise ApiError(400, "bad-json", "The body must be a JSON object.")
    if "changes" in fields:
        return _set_fields(fields)
    unknown = sorted(set(fields) - CHANGE_FIELDS)
    if unknown:
        raise ApiError(400, "unknown-field", f"Unknown field: {', '.join(unknown)}.")
    expected = {"agent": (str, type(None)), "text": str, "message": str, "submit": bool}
    for name, types in expected.items():
        if name in fields and not isinstance(fields[name], types):
            raise ApiError(400, "invalid-field", f"{name} has the wrong type.", field=name)
    if "text" not in fields:
        raise ApiError(400, "invalid-field", "text is required: the whole file.", field="text")
    if fields.get("agent") == "":
        raise ApiError(
            400,
            "invalid-field",
            "agent is empty: give the key of the agent to change, or null for a new agent.",
            field="agent",
        )
    if "\x00" in (fields.get("agent") or ""):
        raise ApiError(400, "invalid-field", "agent holds a NUL character.", field="agent")
    return fields


def _set_fields(fields: dict) -> dict:
    """The fields of a change set: `changes`, a list of {agent, text}, and the set's message
    and submit."""
    unknown = sorted(set(fields) - SET_FIELDS)
    if unknown:
        raise ApiError(
            400,
            "unknown-field",
            f"Unknown field beside changes: {', '.join(unknown)} (each agent's agent and text "
            "go in its entry of changes).",
        )
    for name, types in {"message": str, "submit": bool, "changes": list}.items():
        if name in fields and not isinstance(fields[name], types):
            raise ApiError(400, "invalid-field", f"{name} has the wrong type.", field=name)
    if not fields["changes"]:
        raise ApiError(400, "invalid-field", "changes is empty.", field="changes")
    for index, entry in enumerate(fields["changes"]):
        where = f"changes[{index}]"
        if not isinstance(entry, dict):
            raise ApiError(400, "invalid-field", f"{where} must be an object.", field=where)
        unknown = sorted(set(entry) - SET_ENTRY_FIELDS)
        if unknown:
            raise ApiError(400, "unknown-field", f"Unknown field in {where}: {', '.join(unknown)}.")
        if not isinstance(entry.get("text"), str):
            raise ApiError(
                400, "invalid-field", f"{where}.text is required: the whole file.", field=where
            )
        key = entry.get("agent")
        if key is not None and (not isinstance(key, str) or not key or "\x00" in key):
            raise ApiError(
                400,
                "invalid-field",
                f"{where}.agent must be an agent's key, or null for a new agent.",
                field=where,
            )
    return fields


def _propose_set(request: HttpRequest, fields: dict):
    """Propose several agents' texts as one change set: reviewed once, published together."""
    user = request.user
    limit = settings.REGISTRY_MAX_FILE_BYTES
    entries = fields["changes"]
    for index, entry in enumerate(entries):
        size = len(entry["text"].encode("utf-8", "surrogatepass"))
        if size > limit:
            raise ApiError(
                413,
                "too-large",
                f"changes[{index}].text is {size:,} bytes; the limit is {limit:,}.",
                limit=limit,
            )
    keys = [entry["agent"] for entry in entries if entry.get("agent")]
    agents = {agent.key: agent for agent in Agent.objects.filter(key__in=keys)}
    missing = [key for key in keys if key not in agents]
    if missing:
        raise ApiError(404, "agent-not-found", f"There is no agent with the key {missing[0]!r}.")
    change = None
    try:
        proposed = []
        for entry in entries:
            agent = agents.get(entry.get("agent") or "")
            if agent is None:
                name = validation.agent_name(parse_text(entry["text"])) or ""
                proposed.append((None, Agent.path_for_name(name), entry["text"]))
            else:
                proposed.append((agent, agent.path, entry["text"]))
        # A set that cannot be submitted as asked is not left behind as a draft.
        with transaction.atomic():
            change = start_set(
                author=user, entries=proposed, message=fields.get("message", ""), request=request
            )
            if fields.get("submit"):
                change.submit(user, request=request)
    except ValidationError as refusal:
        raise _refused(refusal) from None
    except WorkflowError as error:
        raise ApiError(400, "cannot-submit", f"Nothing was saved: {error}.") from None
    items = list(change.items.select_related("agent"))
    url = _absolute(request, "registry:change_detail", change.pk)
    response = json_response(
        {
            "id": change.pk,
            "status": change.status,
            "kind": change.kind,
            "agent": None,
            "revision": change.revision,
            "url": url,
            "agents": [
                {
                    "agent": item.agent.key if item.agent_id else None,
                    "path": item.path,
                    "errors": item.error_count,
                    "warnings": item.warning_count,
                }
                for item in items
            ],
            "problems": [],  # each agent's are on the change set's page
            "errors": change.error_count,
            "warnings": change.warning_count,
            "valid": change.error_count == 0,
            **_risk_fields(change),
        },
        status=201,
    )
    response["Location"] = url
    return response


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _refused(refusal: ValidationError) -> ApiError:
    """The API's answer to the model refusing a proposal: its rule's code as `reason`."""
    message = _sentence(" ".join(refusal.messages))
    if refusal.code not in PROPOSAL_REFUSALS:  # the text is not a file the registry can store
        return ApiError(400, "invalid-text", message, field="text", reason=refusal.code)
    status, code, field = PROPOSAL_REFUSALS[refusal.code]
    if field is None:
        return ApiError(status, code, message)
    return ApiError(status, code, message, field=field, reason=refusal.code)


@api_view("POST")
def changes(request: HttpRequest):
    """Propose a change as the requesting user: a draft, submitted for review if asked. Never
    published here: that takes a reviewer's approval, as in the browser."""
    user = request.user
    if not user.has_perm("registry.propose_change"):
        reason = "only editors can propose changes"
        AuditEvent.record("change.create.denied", actor=user, request=request, reason=reason)
        raise ApiError(403, "forbidden", f"You may not propose changes: {reason}.")
    fields = _change_fields(request)
    if "changes" in fields:
        return _propose_set(request, fields)
    text = fields["text"]
    limit = settings.REGISTRY_MAX_FILE_BYTES
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ApiError(
            413, "too-large", f"text is {size:,} bytes; the limit is {limit:,}.", limit=limit
        )
    subject = None
    if key := fields.get("agent"):
        subject = Agent.objects.select_related("live_version").filter(key=key).first()
        if subject is None:
            raise ApiError(404, "agent-not-found", f"There is no agent with the key {key!r}.")
        if subject.archived:
            raise ApiError(409, "agent-archived", f"{subject.display_name} is archived.")
    change = None
    try:
        # A change that cannot be submitted as asked is not left behind as a draft.
        with transaction.atomic():
            change = ChangeRequest.start_draft(
                author=user,
                text=text,
                message=fields.get("message", ""),
                agent=subject,
                request=request,
            )
            if fields.get("submit"):
                change.submit(user, request=request)
    except ValidationError as refusal:
        raise _refused(refusal) from None
    except WorkflowError as error:
        raise ApiError(
            400,
            "cannot-submit",
            f"Nothing was saved: {error}.",
            **_problem_list(change.current_problems()),
        ) from None
    problems = change.current_problems()
    url = _absolute(request, "registry:change_detail", change.pk)
    response = json_response(
        {
            "id": change.pk,
            "status": change.status,
            "kind": change.kind,
            "agent": subject.key if subject else None,
            "revision": change.revision,
            "url": url,
            **_problem_list(problems),
            **_risk_fields(change),
        },
        status=201,
    )
    response["Location"] = url
    return response


def _risk_fields(change: ChangeRequest) -> dict:
    """A change's risk level, and what it grants (registry.agentfiles.risk)."""
    summary = change.risk_summary()
    return {"risk": change.risk, "grants": summary.as_json()["grants"]}


@api_view("GET")
def change_detail(request: HttpRequest, pk: int):
    """One change request: where it stands, what it grants, its approvals and comments."""
    found = (
        ChangeRequest.objects.select_related("agent", "author", "base_version")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise ApiError(404, "change-not-found", f"There is no change #{pk}.")
    comments = found.comments.select_related("author", "resolved_by")
    return json_response(
        {
            "id": found.pk,
            "status": found.status,
            "kind": found.kind,
            "agent": found.agent.key if found.agent_id else None,
            "author": found.author.get_username(),
            "message": found.message,
            "revision": found.revision,
            "base_version": found.base_version.number if found.base_version_id else None,
            "created_at": _time(found.created_at),
            "updated_at": _time(found.updated_at),
            "errors": found.error_count,
            "warnings": found.warning_count,
            **_risk_fields(found),
            "approvals": found.valid_approvals().count(),
            "approvals_missing": found.approvals_missing(),
            "high_risk_approval_missing": found.high_risk_approval_missing(),
            "comments": [
                {
                    "id": comment.pk,
                    "author": comment.author.get_username() if comment.author_id else None,
                    "body": comment.body,
                    "anchor": comment.anchor,
                    "created_at": _time(comment.created_at),
                    "resolved": comment.is_resolved,
                    "resolved_by": (
                        comment.resolved_by.get_username() if comment.resolved_by_id else None
                    ),
                }
                for comment in comments
            ],
            "agents": [
                {
                    "agent": item.agent.key if item.agent_id else None,
                    "path": item.path,
                    "old_path": item.old_path,
                    "base_version": item.base_version.number if item.base_version_id else None,
                    "errors": item.error_count,
                    "warnings": item.warning_count,
                    "conflicts": list(item.conflicts or []),
                }
                for item in (
                    found.items.select_related("agent", "base_version").order_by("path")
                    if found.kind == ChangeRequest.Kind.SET
                    else []
                )
            ],
            "url": _absolute(request, "registry:change_detail", found.pk),
        }
    )
