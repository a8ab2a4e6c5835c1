"""Settings for the test suite: the site's own, with DEBUG off as in production."""

import os
import secrets

# With DEBUG off the site does not start without SECRET_KEY. Set in the environment, so that the
# manage.py and gunicorn processes the tests start have it too.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
# With REDIS_URL, this run's cache keys are its own (never another run's, nor a server's), shared
# with the servers it starts (they read these settings too); tests empty only these.
os.environ.setdefault("REGISTRY_TEST_RUN", secrets.token_hex(8))
os.environ["CACHE_KEY_PREFIX"] = f"registry-test-{os.environ['REGISTRY_TEST_RUN']}"

from agentsite.settings import *  # noqa: E402, F403

# One test database per run on PostgreSQL too (SQLite's is named by process in the settings), so
# that two runs against the same server never drop each other's.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405
