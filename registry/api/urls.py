"""The JSON API's URLs, under /api/."""

from django.urls import path, re_path

from registry.api import views as api

app_name = "api"

urlpatterns = [
    path("agents", api.agents, name="agents"),
    # Before agents/<key>: a key never holds a dot, so "<key>.md" is always the file.
    path("agents/<slug:key>.md", api.agent_file, name="agent_file"),
    path("agents/<slug:key>", api.agent, name="agent"),
    path("agents/<slug:key>/versions", api.agent_versions, name="agent_versions"),
    path("lint", api.lint, name="lint"),
    path("changes", api.changes, name="changes"),
    path("changes/<int:pk>", api.change_detail, name="change"),
    path("openapi.json", api.openapi_description, name="openapi"),
    # Anything else under /api/ is a JSON 404, not the site's HTML page.
    re_path(r"^.*$", api.not_found),
]
