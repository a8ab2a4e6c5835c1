"""Settings for the benchmark: the site's own, plus the bench-only URLs (a constant view)."""

from agentsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
