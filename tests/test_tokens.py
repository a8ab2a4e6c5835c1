"""Personal API tokens: made on /account/tokens/, shown once, stored as a hash, revocable."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from registry.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db

TOKENS_URL = "/account/tokens/"
TOKEN_RE = re.compile(r'value="(ar_[A-Za-z0-9_-]+)"')


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("tina", password="a-long-password")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def create(client, name="CI lint"):
    response = client.post(TOKENS_URL, {"name": name})
    match = TOKEN_RE.search(response.content.decode())
    return response, match.group(1) if match else None


def revoke_url(token):
    return f"{TOKENS_URL}{token.pk}/revoke/"


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(TOKENS_URL)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_page_lists_no_tokens_at_first(signed_in):
    page = signed_in.get(TOKENS_URL).content.decode()
    assert "You have no tokens." in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_new_token_is_shown_once_with_a_copy_hint(signed_in, user):
    response, text = create(signed_in)
    assert response.status_code == 200
    page = response.content.decode()
    assert text is not None and text.startswith("ar_")
    assert len(text) == len("ar_") + 43  # secrets.token_urlsafe(32)
    assert "shown only this once" in page
    assert "copy it" in page
    assert "no-store" in response["Cache-Control"]
    # Afterwards the list shows its name and first characters, never the whole token.
    later = signed_in.get(TOKENS_URL).content.decode()
    assert text not in later
    assert "CI lint" in later and f"{text[:8]}…" in later
    assert "never" in later  # not used yet


def test_only_the_hash_is_stored(signed_in, user):
    _, text = create(signed_in)
    token = ApiToken.objects.get()
    assert token.user == user
    assert token.prefix == text[:8]
    assert token.token_hash == hashlib.sha256(text.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    assert not any(text in value for value in stored)


def test_creating_a_token_is_audited_without_the_token(signed_in, user):
    _, text = create(signed_in)
    event = AuditEvent.objects.get(action="token.create")
    assert event.actor == user
    assert event.details == {"prefix": text[:8]}
    assert text not in event.object_repr
    assert event.client_address == "127.0.0.1"


def test_tokens_are_different_each_time(signed_in):
    _, first = create(signed_in, "one")
    _, second = create(signed_in, "two")
    assert first != second
    assert ApiToken.objects.count() == 2


def test_a_token_needs_a_name(signed_in):
    response, text = create(signed_in, "   ")
    assert text is None
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_name_with_control_characters_is_refused(signed_in):
    response, text = create(signed_in, "bad\x07name")
    assert text is None
    assert "control character" in response.content.decode()


def test_revoking_asks_for_confirmation_first(signed_in, user):
    token, _ = ApiToken.create_for(user, "laptop")
    page = signed_in.get(revoke_url(token)).content.decode()
    assert "Revoke the token “laptop”?" in page
    assert "cannot be undone" in page
    assert ApiToken.objects.get().is_active


def test_revoking_stops_the_token_and_is_audited(signed_in, user):
    token, text = ApiToken.create_for(user, "laptop")
    response = signed_in.post(revoke_url(token))
    assert response.status_code == 302
    assert response.url == TOKENS_URL
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ApiToken.objects.authenticate(text) is None
    assert AuditEvent.objects.filter(action="token.revoke", actor=user).count() == 1
    page = signed_in.get(TOKENS_URL).content.decode()
    assert "Revoked the token “laptop”" in page
    assert "revoked " in page


def test_revoking_twice_records_one_event(signed_in, user):
    token, _ = ApiToken.create_for(user, "laptop")
    signed_in.post(revoke_url(token))
    signed_in.post(revoke_url(token))
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_nobody_revokes_another_users_token(signed_in, django_user_model):
    other = django_user_model.objects.create_user("oscar")
    token, _ = ApiToken.create_for(other, "theirs")
    assert signed_in.get(revoke_url(token)).status_code == 404
    assert signed_in.post(revoke_url(token)).status_code == 404
    assert ApiToken.objects.get().is_active


def test_other_users_tokens_are_not_listed(signed_in, django_user_model):
    other = django_user_model.objects.create_user("oscar")
    ApiToken.create_for(other, "their secret job")
    assert "their secret job" not in signed_in.get(TOKENS_URL).content.decode()


def test_creating_and_revoking_need_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(TOKENS_URL, {"name": "x"}).status_code == 403
    token, _ = ApiToken.create_for(user, "laptop")
    assert client.post(revoke_url(token)).status_code == 403
    assert ApiToken.objects.get().is_active


def test_authenticate_finds_an_active_token_and_notes_its_use(user):
    token, text = ApiToken.create_for(user, "ci")
    found = ApiToken.objects.authenticate(text)
    assert found == token
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(user):
    token, text = ApiToken.create_for(user, "ci")
    ApiToken.objects.authenticate(text)
    token.refresh_from_db()
    first = token.last_used_at
    ApiToken.objects.authenticate(text)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    ApiToken.objects.authenticate(text)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)


@pytest.mark.parametrize(
    "text", ["", "ar_", "ar_unknown", "not-a-token", "Bearer ar_x", "ar_" + "a" * 10_000]
)
def test_authenticate_refuses_unknown_tokens(user, text):
    ApiToken.create_for(user, "ci")
    assert ApiToken.objects.authenticate(text) is None


def test_authenticate_refuses_a_revoked_token(user):
    token, text = ApiToken.create_for(user, "ci")
    assert token.revoke(user)
    assert ApiToken.objects.authenticate(text) is None


def test_authenticate_refuses_the_token_of_an_inactive_user(user):
    _, text = ApiToken.create_for(user, "ci")
    user.is_active = False
    user.save()
    assert ApiToken.objects.authenticate(text) is None


def test_str_never_holds_the_token(user):
    token, text = ApiToken.create_for(user, "ci")
    assert str(token) == f"ci ({text[:8]}…)"
    assert timezone.now() - token.created_at < timedelta(minutes=1)
