"""What every page's header needs: how many changes wait for the signed-in user."""

from functools import cache

from registry.models import ChangeRequest


def review_queue(request):
    """`waiting_count`, counted (one query) only when a template shows it; nothing for
    anonymous visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def waiting_count() -> int:
        return ChangeRequest.count_waiting_for(user)

    # Templates call a callable they are given: the count is made on first use, then kept.
    return {"waiting_count": waiting_count}
