"""Prometheus metrics: a small in-process registry, the middleware that feeds it, /metrics."""

from __future__ import annotations

import hmac
import ipaddress
import math
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Prometheus' default buckets: from a fast page to one that should not happen.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VALIDATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Any other method is counted as "other", so that a client cannot add label values at will.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    pairs = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Metric:
    """One metric family: its samples per label values, guarded by a lock."""

    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()):
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {tuple(labels)}")
        return tuple(str(labels[name]) for name in self.labelnames)

    def header(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.documentation.replace(chr(92), chr(92) * 2)}",
            f"# TYPE {self.name} {self.kind}",
        ]

    def samples(self) -> list[str]:
        raise NotImplementedError

    def expose(self) -> list[str]:
        return self.header() + self.samples()


class Counter(Metric):
    kind = "counter"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0)

    def samples(self) -> list[str]:
        with self._lock:
            values = sorted(self._values.items())
        return [
            f"{self.name}{_labels(self.labelnames, key)} {_number(value)}" for key, value in values
        ]


class Histogram(Metric):
    kind = "histogram"

    def __init__(self, *args, buckets: Iterable[float] = LATENCY_BUCKETS, **kwargs):
        super().__init__(*args, **kwargs)
        self.buckets = tuple(sorted(buckets)) + (math.inf,)
        # Per label values: [count in each bucket (not cumulative)], sum.
        self._values: dict[tuple[str, ...], tuple[list[int], float]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        index = next(i for i, bound in enumerate(self.buckets) if value <= bound)
        with self._lock:
            counts, total = self._values.get(key) or ([0] * len(self.buckets), 0.0)
            counts[index] += 1
            self._values[key] = (counts, total + value)

    def count(self, **labels: str) -> int:
        with self._lock:
            counts, _ = self._values.get(self._key(labels)) or ([0], 0.0)
            return sum(counts)

    def samples(self) -> list[str]:
        with self._lock:
            values = sorted(
                (key, (list(counts), total)) for key, (counts, total) in self._values.items()
            )
        lines = []
        for key, (counts, total) in values:
            cumulative = 0
            for bound, count in zip(self.buckets, counts, strict=True):
                cumulative += count
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {cumulative}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, key)} {cumulative}")
        return lines


class Gauge(Metric):
    """A value read when scraped, by a function returning {label values: value}."""

    kind = "gauge"

    def __init__(self, *args, collect, **kwargs):
        super().__init__(*args, **kwargs)
        self.collect = collect

    def samples(self) -> list[str]:
        return [
            f"{self.name}{_labels(self.labelnames, key)} {_number(value)}"
            for key, value in sorted(self.collect().items())
        ]


# --- The registry's metrics ---------------------------------------------------------------------


PROCESS_START = time.time()

http_requests = Counter(
    "registry_http_requests_total",
    "HTTP requests answered, by view name, method and status code.",
    ("view", "method", "status"),
)
http_request_duration = Histogram(
    "registry_http_request_duration_seconds",
    "Time to answer an HTTP request, by view name and method.",
    ("view", "method"),
    buckets=LATENCY_BUCKETS,
)
validation_duration = Histogram(
    "registry_validation_duration_seconds",
    "Time to validate an agent text against the registry, by caller.",
    ("caller",),
    buckets=VALIDATION_BUCKETS,
)
process_start = Gauge(
    "registry_process_start_time_seconds",
    "When this process started, in seconds since the epoch: each worker counts on its own.",
    collect=lambda: {(): PROCESS_START},
)

METRICS: list[Metric] = [
    http_requests,
    http_request_duration,
    validation_duration,
    process_start,
]


def register(metric: Metric) -> Metric:
    """Add a metric that another part of the registry defines (the models count their rows)."""
    METRICS.append(metric)
    return metric


def exposition(metrics: Iterable[Metric] = METRICS) -> str:
    """All metrics in Prometheus' text format 0.0.4."""
    return "".join(line + "\n" for metric in metrics for line in metric.expose())


@contextmanager
def timed_validation(caller: str):
    """Time the validation inside the with block as registry_validation_duration_seconds.

    validation.py stays free of Django and of metrics: its callers time it with this."""
    started = time.perf_counter()
    try:
        yield
    finally:
        validation_duration.observe(time.perf_counter() - started, caller=caller)


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
            http_requests.inc(view=view, method=method, status=str(status))
            http_request_duration.observe(elapsed, view=view, method=method)


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
