"""Sign-in throttling (django-axes): the client's address, and what a locked-out pair is shown."""

from __future__ import annotations

import ipaddress
import math

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The address a sign-in comes from. Behind the proxy (BEHIND_PROXY), REMOTE_ADDR is the
    proxy's own for every client: the client's is the last X-Forwarded-For entry, the one the
    proxy appended (those before it are whatever the client sent, so never trusted)."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        address = _ip(forwarded[-1])
        if address is not None:
            return address
    return _ip(request.META.get("REMOTE_ADDR", ""))


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """429, saying how long to wait; Retry-After in seconds for programs."""
    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    last_failure = AccessAttempt.objects.filter(
        username=username, ip_address=getattr(request, "axes_ip_address", None)
    ).aggregate(last=Max("attempt_time"))["last"]
    remaining = cool_off
    if last_failure is not None:
        remaining = max(last_failure + cool_off - timezone.now(), cool_off * 0)
    seconds = max(1, math.ceil(remaining.total_seconds()))
    response: HttpResponse = render(
        request,
        "registration/locked_out.html",
        {
            "username": username,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": math.ceil(seconds / 60),
            "cool_off_minutes": math.ceil(cool_off.total_seconds() / 60),
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
