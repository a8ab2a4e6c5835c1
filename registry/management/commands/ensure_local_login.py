"""Create a first superuser for local use, so `make run` ends with a way to sign in."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

USERNAME = "admin"
SIGN_IN_URL = "http://127.0.0.1:8000/"
ROLE_GROUPS = ("Editors", "Reviewers", "Maintainers")


class Command(BaseCommand):
    help = (
        "If no user exists, create a local superuser 'admin' with a random password and "
        "print how to sign in. Does nothing when any user exists."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        with transaction.atomic():
            if User.objects.exists():
                self.stdout.write(
                    "Users already exist; no login created. To reset the admin password: "
                    f"uv run python manage.py changepassword {USERNAME}"
                )
                return
            # Only the hash is stored; the password itself lives nowhere but this output.
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=USERNAME, email="", password=password)
            user.groups.add(*Group.objects.filter(name__in=ROLE_GROUPS))

        self.stdout.write(self.style.SUCCESS("Created a local login:"))
        self.stdout.write(f"  Sign in at: {SIGN_IN_URL}")
        self.stdout.write(f"  Username:   {USERNAME}")
        self.stdout.write(f"  Password:   {password}")
        self.stdout.write(
            "The password is shown only once and is not stored in plain text: note it now. "
            f"To change it: uv run python manage.py changepassword {USERNAME}"
        )
