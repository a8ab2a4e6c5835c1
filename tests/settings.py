"""Settings for the test suite: the site's own, with DEBUG off as in production."""

import os
import secrets

# With DEBUG off the site does not start without SECRET_KEY. Set in the environment, so that the
# manage.py and gunicorn processes the tests start have it too.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))

from agentsite.settings import *  # noqa: E402, F403
