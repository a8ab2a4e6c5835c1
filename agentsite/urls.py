"""URL configuration of the agent registry."""

from django.contrib import admin
from django.urls import include, path

from registry.health import healthz
from registry.metrics import metrics_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("account/", include("registry.account_urls")),
    path("api/", include("registry.api_urls")),
    path("", include("registry.urls")),
]

handler400 = "registry.views.bad_request"
# A database that stops answering gets a 503 page; anything else the usual 500.
handler500 = "registry.unavailable.server_error"
