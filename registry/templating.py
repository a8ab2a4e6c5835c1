"""The Jinja2 environment of the templates in registry/jinja2/: the agent list's results, which
every uncached list request renders (Jinja2 renders them about ten times as fast as Django's
template language)."""

from django.template.defaulttags import querystring as querystring_tag
from django.urls import reverse
from jinja2 import Environment, StrictUndefined


def url(name: str, *args, **kwargs) -> str:
    """Django's {% url %}: the path of the named URL."""
    return reverse(name, args=args, kwargs=kwargs)


def querystring(request, **changes) -> str:
    """Django's {% querystring %}: "?" and the request's query string with these changes."""
    return querystring_tag(None, request.GET, **changes)


def environment(**options) -> Environment:
    # A name the context does not have fails the render, as a test would show, instead of
    # leaving out a part of the page.
    env = Environment(**{**options, "undefined": StrictUndefined})
    env.globals.update(url=url, querystring=querystring)
    return env
