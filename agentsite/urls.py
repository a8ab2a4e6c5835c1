"""URL configuration of the agent registry."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("registry.urls")),
]

handler400 = "registry.views.bad_request"
