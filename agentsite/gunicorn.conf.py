"""gunicorn's settings for make serve: the hook that keeps /metrics exact across workers."""

import os

from prometheus_client import multiprocess


def child_exit(server, worker):
    """A worker gone (restarted or killed): its counts stay in the folder's totals; its live
    gauges (when it started) go with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
