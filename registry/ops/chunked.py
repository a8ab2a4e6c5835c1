"""Request bodies sent without a Content-Length (Transfer-Encoding: chunked), read for Django
within the same size limits as any other body."""

from __future__ import annotations

import json
import tempfile

from django.conf import settings

READ_SIZE = 64 * 1024


def _is_chunked(environ: dict) -> bool:
    return not environ.get("CONTENT_LENGTH") and "chunked" in (
        environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def body_limit(environ: dict) -> int:
    """The most a chunked body may hold: what Django takes in memory, or for a multipart upload
    (the import page) the largest upload, which that page checks against the length itself."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if environ.get("CONTENT_TYPE", "").lower().startswith("multipart/form-data"):
        limit = max(limit, settings.REGISTRY_MAX_UPLOAD_BYTES)
    return limit


class ChunkedBodies:
    """WSGI middleware giving Django the body of a chunked request.

    gunicorn de-chunks such a body into wsgi.input and says the stream ends with it
    (wsgi.input_terminated), but sets no CONTENT_LENGTH; Django reads a body only up to
    CONTENT_LENGTH, so it would read nothing. Here the body is read first, at most one byte
    past body_limit(), into a temporary file (in memory up to DATA_UPLOAD_MAX_MEMORY_SIZE), and
    CONTENT_LENGTH becomes what was read: a body over the limit is refused as too large (413)
    exactly as if its length had been sent. A server that cannot end the stream (no
    wsgi.input_terminated) gets the client a 411 asking for a Content-Length."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ: dict, start_response):
        if not _is_chunked(environ):
            return self.application(environ, start_response)
        if not environ.get("wsgi.input_terminated"):
            return _length_required(environ, start_response)
        # Closed with the response (_ClosingBody), or here if reading fails.
        body = tempfile.SpooledTemporaryFile(max_size=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        try:
            size = _copy(environ["wsgi.input"], body, body_limit(environ) + 1)
            body.seek(0)
        except BaseException:
            body.close()
            raise
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        return _ClosingBody(self.application(environ, start_response), body)


def _copy(source, target, most: int) -> int:
    size = 0
    while size < most:
        data = source.read(min(READ_SIZE, most - size))
        if not data:
            break
        target.write(data)
        size += len(data)
    return size


def _length_required(environ: dict, start_response):
    message = (
        "This server cannot read a body sent with Transfer-Encoding: chunked; "
        "send it with a Content-Length header."
    )
    if environ.get("PATH_INFO", "").startswith("/api/"):
        content_type = "application/json"
        data = json.dumps({"error": {"code": "length-required", "message": message}}).encode()
    else:
        content_type, data = "text/plain; charset=utf-8", message.encode()
    start_response(
        "411 Length Required",
        [("Content-Type", content_type), ("Content-Length", str(len(data)))],
    )
    return [data]


class _ClosingBody:
    """The application's response, closing the read body when the server closes it."""

    def __init__(self, response, body):
        self.response, self.body = response, body

    def __iter__(self):
        return iter(self.response)

    def close(self):
        try:
            if hasattr(self.response, "close"):
                self.response.close()
        finally:
            self.body.close()
