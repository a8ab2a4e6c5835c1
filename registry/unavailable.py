"""The answer when the database stops answering in the middle of a request: a 503, not a 500."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token

MESSAGE = "The database is not answering; try again in a moment."
RETRY_AFTER_SECONDS = 5


def database_gone(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


@requires_csrf_token
def server_error(request: HttpRequest):
    """handler500: Django calls it inside its except block, so the exception is at hand.

    The page is rendered without the request: context processors would ask the database."""
    if not database_gone(sys.exc_info()[1]):
        return defaults.server_error(request)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": {"code": "database-unavailable", "message": MESSAGE}}, status=503
        )
    else:
        response = HttpResponse(
            loader.get_template("503.html").render({"message": MESSAGE}), status=503
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
