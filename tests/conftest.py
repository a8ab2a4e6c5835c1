"""Fixtures shared by the test modules."""

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core import signals
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import close_old_connections
from redis.exceptions import RedisError

from registry.models import rules_fingerprint
from tests.helpers import DEMO, DEMO_NAMES


def clear_own_cache() -> None:
    """Empty this run's cache. With Redis, only the keys under this run's prefix: cache.clear()
    would empty the whole Redis database, other runs' keys with it."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    own = list(client.scan_iter(match=f"{backend.key_prefix}:*", count=1000))
    if own:
        client.delete(*own)


def pytest_sessionstart(session):
    """A Redis that REDIS_URL names and that does not answer fails the run at once."""
    if django_settings.REDIS_URL:
        backend = caches["default"]
        try:
            backend._cache.get_client(write=True).ping()
        except RedisError as error:
            pytest.exit(f"REDIS_URL names a Redis that does not answer: {error}", returncode=1)


def pytest_sessionfinish(session, exitstatus):
    if django_settings.REDIS_URL:
        clear_own_cache()


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with nothing cached (the agent list caches its results)."""
    clear_own_cache()


@pytest.fixture(autouse=True)
def rules_as_set(monkeypatch):
    """Each test starts with its process sure of the rules as the test settings set them (what
    a test stores is found under them); a test that changes them has its next request recheck."""
    monkeypatch.setattr("registry.ops.rules._current", rules_fingerprint())


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Users are made in many tests; the real hasher takes a quarter second each time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo_folder(tmp_path):
    """A copy of the three demo agents, which are valid together."""
    folder = tmp_path / "demo"
    folder.mkdir()
    for name in DEMO_NAMES:
        (folder / f"{name}.md").write_bytes((DEMO / f"{name}.md").read_bytes())
    return folder


@pytest.fixture
def make_user(django_user_model):
    """make_user(username, *groups, **fields): a user in the named role groups."""

    def make(username, *groups, **fields):
        user = django_user_model.objects.create_user(username, password="a-password", **fields)
        user.groups.add(*Group.objects.filter(name__in=groups))
        return user

    return make


@pytest.fixture
def maintainer(make_user):
    return make_user("maintainer", "Maintainers")


@pytest.fixture
def maintainer_client(client, maintainer):
    client.force_login(maintainer)
    return client


@pytest.fixture
def user(django_user_model):
    """A signed-in reader's account: no role."""
    return django_user_model.objects.create_user(username="reader", password="a-long-password")


@pytest.fixture
def reader(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def wsgi_application():
    """The WSGI application gunicorn serves (agentsite.wsgi), to call in the test's transaction:
    as Django's test client does, the request signals do not close the test's connection."""
    from agentsite.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def isolated_git(monkeypatch, tmp_path):
    """No global or system git configuration, and no identity in the environment: git as on a
    server where nobody set it up."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in ("NAME", "EMAIL"):
        for role in ("AUTHOR", "COMMITTER"):
            monkeypatch.delenv(f"GIT_{role}_{variable}", raising=False)
