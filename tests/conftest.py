"""Fixtures shared by the test modules."""

import pytest

from tests.helpers import DEMO, DEMO_NAMES


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
