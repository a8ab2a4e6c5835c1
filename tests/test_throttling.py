"""Sign-in throttling: failed sign-ins lock one user name from one address, for a while only."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.test import RequestFactory

from registry.ops.throttling import client_address

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
PASSWORD = "a-long-password"
HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password=PASSWORD)


def sign_in(client, username, password, address=HOME):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(response) -> bool:
    return response.status_code == 302 and response.url == django_settings.LOGIN_REDIRECT_URL


def fail(client, username, times, address=HOME):
    responses = [sign_in(client, username, "wrong-password", address) for _ in range(times)]
    return responses[-1]


def test_limit_is_five_with_a_fifteen_minute_cool_off():
    cool_off = django_settings.AXES_COOLOFF_TIME
    assert cool_off == timedelta(minutes=15)
    assert django_settings.AXES_FAILURE_LIMIT == 5
    assert django_settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert django_settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def test_four_failures_still_show_the_sign_in_form(client, alice):
    response = fail(client, "alice", 4)
    assert response.status_code == 200
    assert "Sign in" in response.content.decode()


def test_fifth_failure_locks_the_user_at_that_address(client, alice):
    response = fail(client, "alice", 5)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in paused" in page
    assert "Wait 15 minutes, then sign in again" in page
    assert int(response["Retry-After"]) == 15 * 60
    # The right password does not get in while the pair is locked.
    locked = sign_in(client, "alice", PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_trying_while_locked_does_not_extend_the_lock(client, alice):
    fail(client, "alice", 5)
    before = AccessAttempt.objects.get().attempt_time
    fail(client, "alice", 3)
    attempt = AccessAttempt.objects.get()
    assert attempt.attempt_time == before
    assert attempt.failures_since_start == 5


def test_same_user_from_another_address_is_not_locked(client, alice):
    fail(client, "alice", 5)
    assert signed_in(sign_in(client, "alice", PASSWORD, address=ELSEWHERE))


def test_another_user_from_the_same_address_is_not_locked(client, alice, bob):
    fail(client, "alice", 5)
    assert signed_in(sign_in(client, "bob", PASSWORD))


def test_sign_in_works_again_after_the_cool_off(client, alice):
    fail(client, "alice", 5)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    # The cool-off counts from the last failure: move it 15 minutes and a second back.
    AccessAttempt.objects.filter(username="alice").update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1)
    )
    assert signed_in(sign_in(client, "alice", PASSWORD))


def test_lock_is_still_on_just_before_the_cool_off_ends(client, alice):
    fail(client, "alice", 5)
    AccessAttempt.objects.filter(username="alice").update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=14)
    )
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "Wait 1 minute, then" in response.content.decode()


def test_correct_password_before_the_limit_resets_the_count(client, alice):
    fail(client, "alice", 4)
    assert signed_in(sign_in(client, "alice", PASSWORD))
    assert not AccessAttempt.objects.filter(username="alice").exists()
    client.logout()
    # Four more failures are again below the limit.
    assert fail(client, "alice", 4).status_code == 200
    assert signed_in(sign_in(client, "alice", PASSWORD))


def test_failure_limit_comes_from_settings(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert fail(client, "alice", 2).status_code == 429


def test_force_login_still_works_in_tests(client, alice):
    client.force_login(alice)
    assert client.get("/agents/").status_code == 200


def test_client_address_is_remote_addr_without_a_proxy(settings):
    settings.BEHIND_PROXY = False
    request = RequestFactory().get(
        "/", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert client_address(request) == "192.0.2.7"


def test_behind_the_proxy_the_address_it_appended_counts(settings):
    settings.BEHIND_PROXY = True
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1"
    )
    assert client_address(request) == "198.51.100.1"
    garbage = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="nonsense")
    assert client_address(garbage) == "127.0.0.1"


def test_clients_behind_the_proxy_are_locked_apart(client, alice, settings):
    settings.BEHIND_PROXY = True
    for _ in range(5):
        client.post(
            LOGIN_URL,
            {"username": "alice", "password": "wrong-password"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    response = client.post(
        LOGIN_URL,
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )
    assert signed_in(response)
