"""The site's error handlers: JSON for anything under /api/, the usual pages elsewhere.

The API's views answer their own refusals; these catch what is raised outside them (an unknown
URL, a Host not allowed, a request too large or malformed for Django to parse) and anything
unexpected, so that no HTML page ever reaches an API client."""

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token

from . import unavailable, views
from .api import error_response, not_found
from .logging import current_request_id

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _refusal(exception: Exception | None, fallback: str) -> str:
    message = exception.args[0] if exception is not None and exception.args else None
    return message if isinstance(message, str) and message else fallback


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception):
    if not is_api(request):
        return views.bad_request(request, exception)
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
        return defaults.permission_denied(request, exception)
    return error_response(403, "forbidden", _refusal(exception, "You may not do this."))


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception):
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return not_found(request)


@requires_csrf_token
def server_error(request: HttpRequest):
    """A 500 with the request id to report, or the 503 of a database that stopped answering
    (registry.unavailable). Django calls it inside its except block: the exception is at hand."""
    if not is_api(request) or unavailable.database_gone(sys.exc_info()[1]):
        return unavailable.server_error(request)
    request_id = getattr(request, "request_id", None) or current_request_id()
    return error_response(
        500,
        "server-error",
        "Something went wrong on the server; nothing more is known here. If it happens again, "
        f"report it with the request id {request_id}.",
        request_id=request_id,
    )
