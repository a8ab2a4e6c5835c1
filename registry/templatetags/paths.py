"""The `path` tag: {% url %} for a URL without arguments, reversed once per process.

For the links of every page's header and of the busiest pages: Django's {% url %} takes about
25 microseconds a link, mostly to look up the active language and the URL namespaces again."""

import functools

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@register.simple_tag
def path(name: str) -> str:
    return _reversed(name, get_script_prefix(), get_urlconf(settings.ROOT_URLCONF))


@functools.cache
def _reversed(name: str, script_prefix: str, urlconf: str) -> str:
    return reverse(name, urlconf=urlconf)
