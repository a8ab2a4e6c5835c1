"""What the pages share: the request type, permission checks, fragments, diffs."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails

from registry.agentfiles.rendering import (
    structured_diff,
    unified_diff,
)
from registry.models import (
    AuditEvent,
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


DIFF_VIEWS = ("split", "unified")


def _require_permission(request: HttpRequest, permission: str, action: str, reason: str, **details):
    """Refuse (403) a user without permission, recording the attempt in the audit log."""
    if not request.user.has_perm(permission):
        AuditEvent.record(
            f"{action}.denied", actor=request.user, request=request, reason=reason, **details
        )
        raise PermissionDenied(reason)


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _diff_context(request: HttpRequest, old: str, new: str) -> dict:
    """The diff of two texts as the page shows it: by part side by side, or unified."""
    view = request.GET.get("view", "")
    view = view if view in DIFF_VIEWS else "split"
    return {
        "diff_view": view,
        "parts": structured_diff(old, new) if view == "split" else [],
        "unified": unified_diff(old, new) if view == "unified" else [],
        "texts_differ": old != new,
    }


def _with_vary(response: HttpResponse) -> HttpResponse:
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
