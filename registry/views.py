"""The registry's pages: thin views over the models, HTMX fragments as template partials."""

from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def agent_list(request):
    return render(request, "registry/agent_list.html", {})
