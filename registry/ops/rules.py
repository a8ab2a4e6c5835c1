"""No page or API answer shows problems found under rules other than today's.

Start-up rechecks them (`manage.py recheck_agents`, which `make run` and `make serve` run before
serving; a worker started under new rules queues a recheck task); this is the guard for a server
started some other way: before the first request a
process serves under a fingerprint, it rechecks whatever was found under another."""

import logging
import threading
import time

from registry.models import Agent, rules_fingerprint
from registry.models.deriving import recheck

logger = logging.getLogger(__name__)

# Answered without looking at agents: never kept waiting for a recheck.
UNGUARDED = ("/healthz", "/metrics", "/static/")

_lock = threading.Lock()
_current = ""  # the fingerprint this process has made sure of


def ensure_current_rules() -> None:
    """Recheck what was found under other rules, once per process and fingerprint."""
    global _current
    fingerprint = rules_fingerprint()
    if fingerprint == _current:
        return
    with _lock:
        if fingerprint == _current:
            return
        if Agent.objects.stale_versions().exists():
            started = time.monotonic()
            count = recheck()
            logger.warning(
                "Rechecked %d versions found under other rules in %.1f s; run "
                "`manage.py recheck_agents` at start-up to do it before serving.",
                count,
                time.monotonic() - started,
            )
        _current = fingerprint


class CurrentRulesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(UNGUARDED):
            ensure_current_rules()
        return self.get_response(request)
