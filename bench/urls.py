"""The site's URLs plus /bench/constant, a baseline view; used only by bench/settings.py."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_http_methods

from agentsite.urls import handler400  # noqa: F401  (a URLconf's handlers are read from it)


@require_http_methods(["GET", "POST"])
def constant(request):
    """The same few bytes every time: what the middleware and sign-in cost on their own."""
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [
    path("bench/constant", constant, name="bench_constant"),
    path("", include("agentsite.urls")),
]
