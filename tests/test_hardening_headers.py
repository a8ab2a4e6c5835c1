"""The security headers on every response, a bad Host's 400 and whitenoise's static files
included."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def assert_security_headers(response):
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/agents/", "/api/agents", "/healthz"])
@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_a_host_not_allowed_gets_a_400_with_the_security_headers(settings, path, https):
    settings.SECURE_SSL_REDIRECT = https

    response = Client().get(path, HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert_security_headers(response)


def test_static_files_carry_the_security_headers(settings):
    # Whitenoise serves the files from the folders themselves, as if collected.
    settings.WHITENOISE_USE_FINDERS = True

    response = Client().get("/static/css/app.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content)
    assert_security_headers(response)


def test_pages_still_carry_the_security_headers(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert_security_headers(response)
