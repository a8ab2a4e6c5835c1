"""The site's error handlers: JSON for anything under /api/, the usual pages elsewhere.

The API's views answer their own refusals; these catch what is raised outside them (an unknown
URL, a Host not allowed, a request too large or malformed for Django to parse) and anything
unexpected, so that no HTML page ever reaches an API client."""

import re
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token

from registry.api.views import error_response, not_found
from registry.ops.logging import current_request_id

API_PREFIX = "/api/"
DATABASE_GONE = "The database is not answering; try again in a moment."
RETRY_AFTER_SECONDS = 5


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _refusal(exception: Exception | None, fallback: str) -> str:
    message = exception.args[0] if exception is not None and exception.args else None
    return message if isinstance(message, str) and message else fallback


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception):
    if not is_api(request):
        return _page_bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(413, "too-large", f"The body is over {limit:,} bytes.", limit=limit)
    if isinstance(exception, TooManyFieldsSent):
        # Django's own message names the setting, which means nothing to a client.
        message = (
            f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields "
            "in its query string or form."
        )
    else:
        # SuspiciousOperation's messages (a Host not allowed, for one) can say too much.
        message = "The request is malformed or not allowed here (a Host header not allowed?)."
    return error_response(400, "bad-request", message)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception):
    if not is_api(request):
        return _page_permission_denied(request, exception)
    return error_response(403, "forbidden", _refusal(exception, "You may not do this."))


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception):
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return not_found(request)


@requires_csrf_token
def server_error(request: HttpRequest):
    """A 500 with the request id to report, or the 503 of a database that stopped answering.
    Django calls it inside its except block, so the exception is at hand."""
    if database_gone(sys.exc_info()[1]):
        return _database_gone(request)
    if not is_api(request):
        return defaults.server_error(request)
    request_id = getattr(request, "request_id", None) or current_request_id()
    return error_response(
        500,
        "server-error",
        "Something went wrong on the server; nothing more is known here. If it happens again, "
        f"report it with the request id {request_id}.",
        request_id=request_id,
    )


def database_gone(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


def _database_gone(request: HttpRequest) -> HttpResponse:
    """A 503, not a 500, when the database stops answering in the middle of a request. The page
    is rendered without the request: context processors would ask the database."""
    if is_api(request):
        response = JsonResponse(
            {"error": {"code": "database-unavailable", "message": DATABASE_GONE}}, status=503
        )
    else:
        response = HttpResponse(
            loader.get_template("503.html").render({"message": DATABASE_GONE}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


_BACK = [
    (re.compile(r"\A/changes/(?P<pk>\d+)/"), "registry:change_detail", "pk", "Back to change #{}"),
    (re.compile(r"\A/agents/(?P<key>[-\w]+)/"), "registry:agent_detail", "key", "Back to {}"),
]
_ROLES = ("editors", "reviewers", "maintainers")


def _page_permission_denied(request: HttpRequest, exception: Exception):
    """The refusal in words; a word on roles only where a role would help (not for "nobody
    reviews their own change"); and a link back to the change or agent it was about."""
    reason = _refusal(exception, "")
    back_url, back_label = reverse("registry:agent_list"), "Back to the agents"
    for pattern, name, argument, label in _BACK:
        match = pattern.match(request.path)
        if match and match[argument] != "new":
            back_url = reverse(name, kwargs={argument: match[argument]})
            back_label = label.format(match[argument])
            break
    context = {
        "reason": reason,
        "role_would_help": any(role in reason.lower() for role in _ROLES),
        "back_url": back_url,
        "back_label": back_label,
    }
    return render(request, "403.html", context, status=403)


def _page_bad_request(request: HttpRequest, exception: Exception):
    """400s as Django makes them, except a body over DATA_UPLOAD_MAX_MEMORY_SIZE: that gets a
    413 saying what the limits are (in the editor, as a message above the fields)."""
    if not isinstance(exception, RequestDataTooBig):
        return defaults.bad_request(request, exception)
    context = {
        "body_limit": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}",
        "file_limit": f"{settings.REGISTRY_MAX_FILE_BYTES:,}",
    }
    if getattr(request, "htmx", False):
        # htmx swaps only 2xx answers: keep the page, show the message where problems go.
        response = render(request, "registry/request_too_large.html#alert", context)
        response["HX-Reswap"] = "none"
        return response
    return render(request, "registry/request_too_large.html", context, status=413)
