"""URL configuration of the agent registry."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from registry.ops.health import healthz
from registry.ops.metrics import metrics_view
from registry.views.hooks import git_hook

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("hooks/git", git_hook, name="git_hook"),
    path("admin/", admin.site.urls),
    # Sign-in, sign-out and changing one's password; no reset by email: a maintainer resets a
    # password with `manage.py changepassword`.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("account/", include("registry.account_urls")),
    path("api/", include("registry.api.urls")),
    path("", include("registry.urls")),
]

# JSON under /api/, pages elsewhere. A database that stops answering gets a 503 (JSON under
# /api/); anything else a 500, which under /api/ carries the request id to report.
handler400 = "registry.views.errors.bad_request"
handler403 = "registry.views.errors.permission_denied"
handler404 = "registry.views.errors.page_not_found"
handler500 = "registry.views.errors.server_error"
