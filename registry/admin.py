"""The registry's models in Django's admin, read-only: agents change through change requests."""

from django.contrib import admin

from registry.models import Agent, Version


class VersionInline(admin.TabularInline):
    model = Version
    fk_name = "agent"
    fields = ("number", "author", "created_at", "message", "sha256", "error_count")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "path", "category", "error_count", "warning_count", "archived")
    list_filter = ("archived", "category")
    search_fields = ("name", "path", "description")
    readonly_fields = (
        "live_version",
        "problems",
        "error_count",
        "warning_count",
        "synced_hash",
        "created_at",
        "updated_at",
    )
    list_per_page = 50
    inlines = [VersionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Version)
class VersionAdmin(admin.ModelAdmin):
    list_display = ("agent", "number", "author", "created_at", "message", "error_count")
    list_select_related = ("agent", "author")
    search_fields = ("agent__name", "agent__path", "message")
    readonly_fields = [f.name for f in Version._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
