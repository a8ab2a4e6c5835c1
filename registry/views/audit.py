"""The audit log."""

import json

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.models import (
    AuditEvent,
)
from registry.views.common import HtmxHttpRequest, _require_permission, _wants_fragment, _with_vary

AUDIT_EVENTS_PER_PAGE = 50


@require_GET
def audit_log(request: HtmxHttpRequest):
    _require_permission(
        request,
        "registry.maintain_registry",
        "audit_log.view",
        "only maintainers can read the audit log",
    )
    filters = {name: request.GET.get(name, "").strip() for name in ("agent", "user", "action")}
    events = AuditEvent.objects.select_related("agent")
    if filters["agent"]:
        events = events.filter(
            Q(agent__key=filters["agent"]) | Q(agent__name__icontains=filters["agent"])
        )
    if filters["user"]:
        events = events.filter(actor_name__iexact=filters["user"])
    if filters["action"]:
        events = events.filter(action=filters["action"])
    page = Paginator(events, AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": [
            (event, json.dumps(event.details, ensure_ascii=False, separators=(",", ":")))
            for event in page
        ],
        "filters": filters,
        # Evaluated only by the whole page, not by the results fragment.
        "actions": AuditEvent.objects.order_by("action")
        .values_list("action", flat=True)
        .distinct(),
    }
    template = "registry/audit_log.html"
    if _wants_fragment(request):
        template += "#results"
    return _with_vary(render(request, template, context))
