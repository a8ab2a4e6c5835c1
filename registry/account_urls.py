"""The signed-in user's own pages, under /account/."""

from django.urls import path

from registry.views import account

app_name = "account"

urlpatterns = [
    path("tokens/", account.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", account.token_revoke, name="token_revoke"),
]
