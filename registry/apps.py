"""App configuration of the registry."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate

# The roles and the permissions each needs (also created by migration 0003_roles).
ROLES = {
    "Editors": ["propose_change"],
    "Reviewers": ["review_change"],
    "Maintainers": ["propose_change", "review_change", "maintain_registry"],
}


def ensure_roles(sender=None, using="default", **kwargs):
    """Create the role groups if they are missing (after migrate, and after a test flush)."""
    from django.contrib.auth.models import Group, Permission

    for role, codenames in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.using(using).filter(
                content_type__app_label="registry", codename__in=codenames
            )
        )


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Agent registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Runs after auth's own post_migrate handler has created the permissions.
        post_migrate.connect(ensure_roles, sender=self)
