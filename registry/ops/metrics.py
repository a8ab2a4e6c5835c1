"""Prometheus metrics (prometheus_client), the middleware that feeds them, and /metrics.

With PROMETHEUS_MULTIPROC_DIR set (make serve: gunicorn's workers) every process writes its samples
to files in that folder and a scrape adds up all of them, so whichever worker answers, it counts
every worker's requests (prometheus_client's multiprocess mode). Without it (runserver, the tests)
the samples live in this process's memory."""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4 as CONTENT_TYPE

# Prometheus' default buckets: from a fast page to one that should not happen.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VALIDATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Any other method is counted as "other", so that a client cannot add label values at will.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

# Read when prometheus_client is imported, as it reads it: the two always agree.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# No *_created series: they would double the counters' series, and multiprocess mode has none.
disable_created_metrics()

# This process's metrics. In multiprocess mode a scrape reads the folder's files instead.
REGISTRY = CollectorRegistry()
# Gauges counted when scraped (from the database): the same whichever process reads them.
SCRAPED: list[ScrapedGauge] = []


class ScrapedGauge:
    """A gauge read when scraped, by a function returning {label values: value}."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        collect: Callable[[], dict[tuple[str, ...], float]],
    ):
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.read = collect

    def describe(self):
        # Registering asks what a collector exposes: answered without a query.
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self):
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, value in sorted(self.read().items()):
            family.add_metric(list(key), value)
        yield family


# --- The registry's metrics ---------------------------------------------------------------------


http_requests = Counter(
    "registry_http_requests_total",
    "HTTP requests answered, by view name, method and status code.",
    ("view", "method", "status"),
    registry=REGISTRY,
)
http_request_duration = Histogram(
    "registry_http_request_duration_seconds",
    "Time to answer an HTTP request, by view name and method.",
    ("view", "method"),
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
validation_duration = Histogram(
    "registry_validation_duration_seconds",
    "Time to validate an agent text against the registry, by caller.",
    ("caller",),
    buckets=VALIDATION_BUCKETS,
    registry=REGISTRY,
)
process_start = Gauge(
    "registry_process_start_time_seconds",
    "When this process started, in seconds since the epoch; under gunicorn one per live worker, "
    "labelled with its pid.",
    registry=REGISTRY,
    multiprocess_mode="liveall",
)
process_start.set(time.time())


def register(gauge: ScrapedGauge) -> ScrapedGauge:
    """Add a gauge that another part of the registry counts when scraped (the models' rows)."""
    SCRAPED.append(gauge)
    REGISTRY.register(gauge)
    return gauge


def exposition() -> bytes:
    """All metrics in Prometheus' text format 0.0.4: in multiprocess mode, every process's."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for gauge in SCRAPED:
        registry.register(gauge)
    return generate_latest(registry)


@contextmanager
def timed_validation(caller: str):
    """Time the validation inside the with block as registry_validation_duration_seconds.

    validation.py stays free of Django and of metrics: its callers time it with this."""
    started = time.perf_counter()
    try:
        yield
    finally:
        validation_duration.labels(caller=caller).observe(time.perf_counter() - started)


# --- Recording requests ---------------------------------------------------------------------------


def view_label(request) -> str:
    """The URL pattern's view name: never the path, so the number of series stays bounded."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"  # a 404 before any view, or a static file
    return match.view_name or "unnamed"


class MetricsMiddleware:
    """Count each request by view and status, and time it by view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        status = 500  # what the client gets when an exception passes through
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            elapsed = time.perf_counter() - started
            view = view_label(request)
            method = request.method if request.method in METHODS else "other"
            http_requests.labels(view=view, method=method, status=str(status)).inc()
            http_request_duration.labels(view=view, method=method).observe(elapsed)


# --- Who may read them ----------------------------------------------------------------------------


def _bearer_token(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _from_loopback(request) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def may_read_metrics(request) -> bool:
    """A signed-in maintainer; or, when METRICS_TOKEN is set, a request bearing it; or, when it
    is not set and no proxy stands in front (BEHIND_PROXY off), a request from loopback.

    Behind a proxy on the same host every request comes from loopback, so loopback is trusted
    only without one; a token makes the check independent of where the scraper runs."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.has_perm("registry.maintain_registry"):
        return True
    token = settings.METRICS_TOKEN
    if token:
        offered = _bearer_token(request)
        return bool(offered) and hmac.compare_digest(offered.encode(), token.encode())
    if settings.METRICS_ALLOW_LOOPBACK:
        return _from_loopback(request) and "HTTP_X_FORWARDED_FOR" not in request.META
    return False


@login_not_required
@never_cache
@require_GET
def metrics_view(request):
    if not may_read_metrics(request):
        if settings.METRICS_TOKEN:
            response = HttpResponse(
                "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.\n",
                status=401,
                content_type="text/plain; charset=utf-8",
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(
            "Metrics are for maintainers and for requests from this host.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE)
