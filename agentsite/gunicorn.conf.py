"""gunicorn's settings for make serve (and the benchmark): the workers, and the hook that keeps
/metrics exact across them."""

import os

from prometheus_client import multiprocess

# One process per CPU, each answering on 4 threads (gthread): measured against sync workers
# (2 and 3), 2 threads and uvicorn's ASGI workers on 2 CPUs, it served the agent list and search
# fastest next to the admin's, and it keeps connections open between requests. ASGI ran
# Django's synchronous views at half the throughput.
workers = int(os.environ.get("WORKERS") or os.cpu_count() or 2)
worker_class = "gthread"
threads = int(os.environ.get("THREADS") or 4)


def child_exit(server, worker):
    """A worker gone (restarted or killed): its counts stay in the folder's totals; its live
    gauges (when it started) go with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
