"""The rule pages: every problem code the registry checks, what it checks and why, with a file
that breaks it beside one that keeps it. Every problem a page shows links here."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.agentfiles import rules as catalog
from registry.agentfiles.targets import TARGETS
from registry.models import Agent


@require_GET
def rule_list(request):
    return render(
        request,
        "registry/rules.html",
        {
            "groups": catalog.groups(),
            "required": settings.REGISTRY_REQUIRED_SECTIONS,
            "default_target": TARGETS[settings.REGISTRY_DEFAULT_TARGET],
        },
    )


@require_GET
def rule_detail(request, code: str):
    rule = catalog.rule(code)
    if rule is None:
        raise Http404(f"No rule has the code {code}.")
    context = {
        "rule": rule,
        "required": settings.REGISTRY_REQUIRED_SECTIONS,
        "agents": Agent.objects.compliance_scope().with_problem(code).count(),
    }
    return render(request, "registry/rule_detail.html", context)
