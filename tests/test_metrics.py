"""GET /metrics: requests by view and status, latency and validation histograms, change requests
by status; who may read it."""

import re
import threading

import pytest
from prometheus_client.utils import floatToGoString

from registry.models import Agent, ChangeRequest
from registry.ops import metrics
from registry.sync.importing import IncomingFile, import_files
from tests.helpers import agent_text
from tests.test_editor import NEW_URL, form_values, post

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.9"  # a documentation address: not loopback
SAMPLE_RE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Each sample of an exposition: (name, its labels) -> value."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE_RE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        found[(match["name"], labels)] = float(match["value"])
    return found


def scrape(client, **extra) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    return samples(response.content.decode())


def sample(found, name, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0)


# --- What is counted -----------------------------------------------------------------------------


def test_requests_are_counted_by_view_method_and_status(client):
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.post("/healthz")  # 405: the view takes GET only

    after = scrape(client)

    key = {"view": "healthz", "method": "GET", "status": "200"}
    assert sample(after, "registry_http_requests_total", **key) == (
        sample(before, "registry_http_requests_total", **key) + 2
    )
    refused = {"view": "healthz", "method": "POST", "status": "405"}
    assert sample(after, "registry_http_requests_total", **refused) == (
        sample(before, "registry_http_requests_total", **refused) + 1
    )


def test_a_page_with_no_view_is_counted_as_unresolved_never_by_its_path(client, make_user):
    client.force_login(make_user("reader"))
    client.get("/no-such-page/at-all")

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'view="unresolved"' in text
    assert "no-such-page" not in text


def test_latency_histogram_has_cumulative_buckets_sum_and_count(client):
    client.get("/healthz")

    found = scrape(client)

    labels = {"view": "healthz", "method": "GET"}
    buckets = [
        sample(found, "registry_http_request_duration_seconds_bucket", **labels, le=bound)
        for bound in [floatToGoString(b) for b in metrics.LATENCY_BUCKETS] + ["+Inf"]
    ]
    assert buckets == sorted(buckets)
    assert buckets[-1] >= 1
    assert sample(found, "registry_http_request_duration_seconds_count", **labels) == buckets[-1]
    assert sample(found, "registry_http_request_duration_seconds_sum", **labels) > 0


def test_the_editors_live_check_is_timed_as_validation(client, make_user):
    client.force_login(make_user("writer", "Editors"))
    values = form_values(client.get(NEW_URL))
    before = scrape(client)

    response = post(client, NEW_URL, values, "check", htmx=True)

    assert response.status_code == 200
    after = scrape(client)
    name = "registry_validation_duration_seconds_count"
    assert sample(after, name, caller="editor") == sample(before, name, caller="editor") + 1
    check = {"view": "registry:agent_new", "method": "POST", "status": "200"}
    assert sample(after, "registry_http_requests_total", **check) == (
        sample(before, "registry_http_requests_total", **check) + 1
    )


def test_change_requests_by_status_come_from_one_query(
    client, make_user, django_assert_num_queries
):
    author = make_user("author", "Editors")
    import_files([IncomingFile("agents/agent-one.md", agent_text().encode())])
    agent = Agent.objects.get()
    for _ in range(2):
        ChangeRequest.start_draft(author=author, text=agent_text(description="New."), agent=agent)
    ChangeRequest.objects.filter(pk=ChangeRequest.objects.first().pk).update(
        status=ChangeRequest.Status.OPEN
    )

    with django_assert_num_queries(1):
        response = client.get("/metrics")

    found = samples(response.content.decode())
    assert sample(found, "registry_change_requests", status="draft") == 1
    assert sample(found, "registry_change_requests", status="open") == 1
    # Every status is there, with 0 when there is none.
    assert ("registry_change_requests", frozenset({("status", "published")})) in found
    assert sample(found, "registry_change_requests", status="published") == 0


def test_exposition_is_prometheus_text_format(client):
    response = client.get("/metrics")

    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.content.decode()
    assert "# TYPE registry_http_requests_total counter\n" in text
    assert "# TYPE registry_http_request_duration_seconds histogram\n" in text
    assert "# TYPE registry_validation_duration_seconds histogram\n" in text
    assert "# TYPE registry_change_requests gauge\n" in text
    assert text.endswith("\n")
    assert "no-cache" in response["Cache-Control"]


def test_label_values_are_escaped():
    metrics.http_requests.labels(view='a "quoted"\\ \nvalue', method="GET", status="200").inc()

    text = metrics.exposition().decode()

    assert 'view="a \\"quoted\\"\\\\ \\nvalue"' in text


def test_counters_and_histograms_count_every_increment_from_many_threads():
    labels = {"view": "threads", "method": "GET"}
    counted = [
        ("registry_http_requests_total", {**labels, "status": "200"}),
        ("registry_http_request_duration_seconds_count", labels),
        ("registry_http_request_duration_seconds_bucket", {**labels, "le": "0.25"}),
    ]
    before = samples(metrics.exposition().decode())

    def work():
        for _ in range(2000):
            metrics.http_requests.labels(**labels, status="200").inc()
            metrics.http_request_duration.labels(**labels).observe(0.25)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    after = samples(metrics.exposition().decode())
    for name, names in counted:
        assert sample(after, name, **names) - sample(before, name, **names) == 16_000, name


# --- Who may read them ----------------------------------------------------------------------------


def test_loopback_may_read_metrics_without_signing_in(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_another_address_may_not(client):
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE)

    assert response.status_code == 403
    assert b"registry_" not in response.content


def test_loopback_through_a_proxy_may_not(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)

    assert response.status_code == 403


def test_loopback_is_not_trusted_when_turned_off(client, settings):
    settings.METRICS_ALLOW_LOOPBACK = False

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_maintainer_may_read_metrics_from_anywhere(client, make_user):
    client.force_login(make_user("maintainer", "Maintainers"))

    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200


def test_an_editor_may_not_from_another_address(client, make_user):
    client.force_login(make_user("writer", "Editors", "Reviewers"))

    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 403


def test_with_a_token_set_only_the_token_opens_metrics_to_anonymous_requests(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    no_token = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    wrong = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer not-the-token"
    )
    right = client.get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token"
    )

    assert no_token.status_code == 401
    assert no_token["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert b"registry_http_requests_total" in right.content


def test_metrics_take_get_only(client):
    assert client.post("/metrics").status_code == 405
