"""The local login that `make run` creates on a fresh database."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command


def run_command() -> str:
    out = StringIO()
    call_command("ensure_local_login", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_creates_superuser_and_prints_how_to_sign_in():
    output = run_command()

    user = get_user_model().objects.get()
    assert user.username == "admin"
    assert user.is_superuser
    assert user.is_staff
    assert "http://127.0.0.1:8000/" in output
    assert "admin" in output
    assert "only once" in output
    password = output.split("Password:", 1)[1].split()[0]
    assert user.check_password(password)
    assert password not in user.password


@pytest.mark.django_db
def test_second_run_creates_nothing():
    run_command()

    output = run_command()

    assert get_user_model().objects.count() == 1
    assert "already exist" in output
    assert "changepassword admin" in output
    assert "Password:" not in output


@pytest.mark.django_db
def test_existing_user_means_no_login_is_created():
    get_user_model().objects.create_user(username="someone", password="x-long-password")

    run_command()

    assert not get_user_model().objects.filter(username="admin").exists()


@pytest.mark.django_db
def test_joins_the_role_groups():
    for name in ("Editors", "Reviewers", "Maintainers"):
        Group.objects.get_or_create(name=name)

    run_command()

    user = get_user_model().objects.get(username="admin")
    assert set(user.groups.values_list("name", flat=True)) == {
        "Editors",
        "Reviewers",
        "Maintainers",
    }


@pytest.mark.django_db
def test_creates_no_group_that_does_not_exist():
    Group.objects.exclude(name="Reviewers").delete()
    Group.objects.get_or_create(name="Reviewers")

    run_command()

    user = get_user_model().objects.get(username="admin")
    assert list(user.groups.values_list("name", flat=True)) == ["Reviewers"]
    assert list(Group.objects.values_list("name", flat=True)) == ["Reviewers"]


@pytest.mark.django_db
def test_each_fresh_database_gets_its_own_password():
    first = run_command().split("Password:", 1)[1].split()[0]
    get_user_model().objects.all().delete()

    second = run_command().split("Password:", 1)[1].split()[0]

    assert first != second
