"""POST /hooks/git: the repository says it changed, and a sync is queued to fetch it.

A delivery is verified with REGISTRY_GIT_WEBHOOK_SECRET: GitHub's X-Hub-Signature-256 (an
HMAC-SHA256 of the body, "sha256=<hex>"), Gitea's X-Gitea-Signature (the same HMAC, bare hex)
or GitLab's X-Gitlab-Token (the secret itself), each compared in constant time. A missing
signature gets 401, a wrong one 403; neither queues anything. A delivery sent again only
queues a sync when none is waiting: the sync fetches what is there, whatever asked."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from registry.models import AuditEvent
from registry.models.repository import repository_configured
from registry.tasks import enqueue_sync

MAX_BODY_BYTES = 1024 * 1024  # GitHub caps a delivery at 25 MB; the registry needs none of it


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message}, status=status)


def _verified(request: HttpRequest, body: bytes, secret: str) -> bool | None:
    """True or False for a delivery that carries a signature; None when it carries none."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    github = request.headers.get("X-Hub-Signature-256")
    if github is not None:
        return hmac.compare_digest(github.encode(), f"sha256={digest}".encode())
    gitea = request.headers.get("X-Gitea-Signature")
    if gitea is not None:
        return hmac.compare_digest(gitea.encode(), digest.encode())
    gitlab = request.headers.get("X-Gitlab-Token")
    if gitlab is not None:
        return hmac.compare_digest(gitlab.encode(), secret.encode())
    return None


@csrf_exempt  # signed by the repository's server, not sent by a browser
@login_not_required
@require_POST
def git_hook(request: HttpRequest):
    secret = settings.REGISTRY_GIT_WEBHOOK_SECRET
    if not secret or not repository_configured():
        return _answer(404, "No webhook is set up here: REGISTRY_GIT_WEBHOOK_SECRET is not set.")
    length = request.headers.get("Content-Length", "")
    if not length.isdigit():
        return _answer(411, "A delivery must say its length (Content-Length).")
    if int(length) > MAX_BODY_BYTES:
        return _answer(413, f"A delivery may be at most {MAX_BODY_BYTES:,} bytes.")
    body = request.body
    verified = _verified(request, body, secret)
    if verified is None:
        return _answer(401, "The delivery is not signed: set the webhook's secret.")
    if not verified:
        AuditEvent.record("repository.webhook_refused", request=request)
        return _answer(403, "The delivery's signature does not match the webhook secret.")
    event = request.headers.get("X-GitHub-Event") or request.headers.get("X-Gitlab-Event") or ""
    if event == "ping":
        return _answer(200, "Webhook set up: pushes to the repository are fetched at once.")
    try:
        ref = json.loads(body or b"{}").get("ref", "")
    except (ValueError, AttributeError):
        ref = ""
    if ref and ref != f"refs/heads/{settings.REGISTRY_GIT_BRANCH}":
        return _answer(202, f"{ref} is not the branch the registry follows; nothing to fetch.")
    queued = enqueue_sync()
    return _answer(202, "A sync is queued." if queued else "A sync is queued already.")
