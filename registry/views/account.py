"""The signed-in user's own pages: personal API tokens."""

from django.contrib import messages
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from registry.forms import TokenForm
from registry.models import ApiToken


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest):
    """The user's tokens; POST makes a new one, whose text this one response shows."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    created, created_text = None, ""
    if form.is_valid():
        created, created_text = ApiToken.create_for(
            request.user, form.cleaned_data["name"], request
        )
        form = TokenForm()
    context = {
        "form": form,
        "tokens": request.user.api_tokens.order_by("revoked_at", "-created_at", "-pk"),
        "created": created,
        "created_text": created_text,
    }
    response = render(request, "registry/account_tokens.html", context)
    # The page may hold a token's text: never kept by a cache or the browser's history.
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: int):
    """GET asks to confirm; POST revokes. Only the user's own tokens."""
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    if request.method == "GET":
        return render(request, "registry/account_token_revoke.html", {"token": token})
    if token.revoke(request.user, request):
        messages.success(request, f"Revoked the token “{token.name}” ({token.prefix}…).")
    else:
        messages.info(request, f"The token “{token.name}” was revoked already.")
    return redirect("account:tokens")
