"""A small threaded HTTP load generator: keep-alive clients, each for a fixed time."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    requests: int
    failures: int
    seconds: float
    latencies: list[float]  # seconds, of the successful requests
    first_failure: str = ""

    @property
    def per_second(self) -> float:
        """Successful requests a second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """The latency (in ms) below which `fraction` of the requests finished."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def send(connection: http.client.HTTPConnection, request: Request) -> tuple[int, bytes]:
    connection.request(request.method, request.path, body=request.body, headers=request.headers)
    response = connection.getresponse()
    return response.status, response.read()


def run_load(host: str, port: int, request: Request, *, clients: int, seconds: float):
    """`clients` threads send `request` back to back for `seconds`, each on one connection that
    is reused while the server keeps it open (and opened again when it closes it)."""
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"requests": 0, "failures": 0}
    failures: list[str] = []
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client():
        connection = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        done = failed = 0
        start.wait()
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                status, body = send(connection, request)
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                status, body = 0, str(error).encode()
            elapsed = time.perf_counter() - began
            done += 1
            if 200 <= status < 300:
                mine.append(elapsed)
            else:
                failed += 1
                if not failures:
                    failures.append(f"{status}: {body[:200]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)
            counts["requests"] += done
            counts["failures"] += failed

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    return LoadResult(
        requests=counts["requests"],
        failures=counts["failures"],
        seconds=time.perf_counter() - began,
        latencies=latencies,
        first_failure=failures[0] if failures else "",
    )
