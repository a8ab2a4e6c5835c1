"""Under gunicorn with several workers, as make serve runs it, /metrics counts every worker's
requests exactly, and keeps a killed worker's counts (prometheus_client's multiprocess mode)."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.servers import gunicorn, request
from tests.test_metrics import sample, samples

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 3
REQUESTS = 90  # a batch
BATCHES = 20  # at most
HEALTHZ = {"view": "healthz", "method": "GET", "status": "200"}
METRICS = {"view": "metrics", "method": "GET", "status": "200"}


def scrape(port: int) -> dict:
    status, body = request(port, "GET", "/metrics")
    assert status == 200, body
    return samples(body.decode())


def total_requests(found: dict) -> float:
    return sum(
        value for (name, _), value in found.items() if name == "registry_http_requests_total"
    )


def counting_pids(folder: Path) -> set[int]:
    """The processes that wrote a counter: prometheus_client names the file after the pid."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in folder.glob("counter_*.db")}


def live_pids(found: dict) -> set[int]:
    return {
        int(dict(labels)["pid"])
        for name, labels in found
        if name == "registry_process_start_time_seconds"
    }


def test_metrics_count_every_workers_requests_exactly_and_keep_a_killed_workers(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()

    with gunicorn(workers=WORKERS, PROMETHEUS_MULTIPROC_DIR=str(folder)) as port:
        before = scrape(port)
        # Several at a time, so that more than one worker has some to answer; a gthread worker
        # may take a whole batch on its threads, so batches go on until another has answered.
        statuses = []
        with ThreadPoolExecutor(max_workers=4 * WORKERS) as pool:
            for _ in range(BATCHES):
                statuses += pool.map(lambda _: request(port, "GET", "/healthz")[0], range(REQUESTS))
                if len(counting_pids(folder)) > 1:
                    break
        after = scrape(port)
        answered_by = counting_pids(folder)

        victim = sorted(answered_by)[0]
        os.kill(victim, signal.SIGKILL)
        # gunicorn starts a worker in its place; the dead one's live gauge goes (child_exit).
        scrapes = 0
        deadline = time.monotonic() + 30
        while True:
            now = scrape(port)
            scrapes += 1
            if victim not in live_pids(now) and len(live_pids(now)) == WORKERS:
                break
            assert time.monotonic() < deadline, f"worker {victim} is still listed: {now}"
            time.sleep(0.2)
        restarted = scrape(port)

    assert statuses == [200] * len(statuses)
    assert len(answered_by) > 1, "one worker answered every request: nothing was added up"
    assert sample(after, "registry_http_requests_total", **HEALTHZ) - sample(
        before, "registry_http_requests_total", **HEALTHZ
    ) == len(statuses)
    # A scrape is counted once it is answered: the first one shows in the second, and that is all.
    assert (
        sample(after, "registry_http_requests_total", **METRICS)
        - sample(before, "registry_http_requests_total", **METRICS)
        == 1
    )
    assert total_requests(after) - total_requests(before) == len(statuses) + 1
    # Killed, a worker's counts stay: only the scrapes since were added.
    assert total_requests(restarted) - total_requests(after) == 1 + scrapes
    assert sample(restarted, "registry_http_requests_total", **HEALTHZ) == sample(
        after, "registry_http_requests_total", **HEALTHZ
    )
