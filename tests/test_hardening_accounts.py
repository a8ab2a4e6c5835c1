"""Signing in, out and changing one's password; there is no password reset by email (a maintainer
resets a password with manage.py changepassword)."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import NoReverseMatch, reverse

pytestmark = pytest.mark.django_db

RESET_PATHS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
]


@pytest.mark.parametrize("path", RESET_PATHS)
def test_there_is_no_password_reset_page(client, path):
    assert client.get(path).status_code == 404


def test_a_password_reset_request_sends_nothing(client, make_user):
    make_user("ada", email="ada@example.com")

    response = client.post("/accounts/password_reset/", {"email": "ada@example.com"})

    assert response.status_code == 404
    assert mail.outbox == []


@pytest.mark.parametrize(
    "name", ["password_reset", "password_reset_done", "password_reset_complete"]
)
def test_no_link_can_be_made_to_a_password_reset_view(name):
    with pytest.raises(NoReverseMatch):
        reverse(name)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_sign_in_pages_offer_no_password_reset(client, path):
    response = client.get(path)

    assert response.status_code == 200
    page = response.content.decode().lower()
    assert "password_reset" not in page
    assert "forgotten your password" not in page


def test_signing_in_and_out_still_works(client, make_user):
    make_user("ada")

    signed_in = client.post("/accounts/login/", {"username": "ada", "password": "a-password"})
    signed_out = client.post("/accounts/logout/")

    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/agents/"
    assert signed_out.status_code == 302
    assert client.get("/agents/").status_code == 302


def test_a_signed_in_user_still_changes_their_own_password(client, make_user):
    client.force_login(make_user("ada"))

    form = client.get("/accounts/password_change/")
    changed = client.post(
        "/accounts/password_change/",
        {
            "old_password": "a-password",
            "new_password1": "a-much-longer-password-9",
            "new_password2": "a-much-longer-password-9",
        },
    )

    assert form.status_code == 200
    assert changed.status_code == 302
    assert get_user_model().objects.get(username="ada").check_password("a-much-longer-password-9")
