"""App configuration of the registry."""

from django.apps import AppConfig
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
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


def audit_sign_in(sender, request=None, user=None, **kwargs):
    from registry.models import AuditEvent

    AuditEvent.record("auth.sign_in", actor=user, request=request)


def audit_failed_sign_in(sender, credentials=None, request=None, **kwargs):
    from registry.models import AuditEvent

    # The user name tried, never the password.
    name = str((credentials or {}).get("username", ""))[:150]
    AuditEvent.record("auth.sign_in_failed", request=request, name=name, username=name)


def audit_sign_out(sender, request=None, user=None, **kwargs):
    from registry.models import AuditEvent

    if user is not None:
        AuditEvent.record("auth.sign_out", actor=user, request=request)
    if request is not None:
        # Kept in the messages cookie, which outlives the session that signing out ends. A
        # request that never went through the middleware (a test client's) has nowhere to say it.
        messages.info(request, "You are signed out.", fail_silently=True)


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Agent registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Runs after auth's own post_migrate handler has created the permissions.
        post_migrate.connect(ensure_roles, sender=self)
        user_logged_in.connect(audit_sign_in, dispatch_uid="registry-audit-sign-in")
        user_login_failed.connect(audit_failed_sign_in, dispatch_uid="registry-audit-failed")
        user_logged_out.connect(audit_sign_out, dispatch_uid="registry-audit-sign-out")
        from registry import tasks

        tasks.connect()
