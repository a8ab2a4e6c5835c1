"""URL configuration of the agent registry."""

from django.contrib import admin
from django.urls import include, path

from registry.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("registry.urls")),
]

handler400 = "registry.views.bad_request"
