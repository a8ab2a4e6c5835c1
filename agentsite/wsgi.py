"""WSGI entry point for the agent registry."""

import os

from django.core.wsgi import get_wsgi_application

from registry.ops.chunked import ChunkedBodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentsite.settings")

# gunicorn passes a chunked body on without a CONTENT_LENGTH, which Django would read as empty.
application = ChunkedBodies(get_wsgi_application())
