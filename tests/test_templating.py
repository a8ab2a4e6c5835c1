"""The Jinja2 environment (registry/jinja2/): Django's url and querystring, autoescape, and
names missing from the context; the `path` tag of Django's templates."""

import pytest
from django.template import engines
from django.test import RequestFactory
from django.urls import get_script_prefix, set_script_prefix
from jinja2 import UndefinedError


def render(source: str, context: dict | None = None, request=None) -> str:
    return engines["jinja2"].from_string(source).render(context or {}, request)


def test_url_reverses_a_named_url():
    assert render("{{ url('registry:agent_detail', 'database-tuner') }}") == (
        "/agents/database-tuner/"
    )


def test_querystring_changes_the_requests_parameters():
    request = RequestFactory().get("/agents/", {"q": "data base", "page": "1"})

    assert render("{{ querystring(request, page=2) }}", request=request) == (
        "?q=data+base&amp;page=2"
    )


def test_values_are_escaped():
    assert render("{{ text }}", {"text": "<b>&</b>"}) == "&lt;b&gt;&amp;&lt;/b&gt;"


def test_a_name_missing_from_the_context_fails_the_render():
    with pytest.raises(UndefinedError):
        render("{{ missing }}")


def test_the_path_tag_reverses_a_url_under_the_sites_prefix():
    template = engines["django"].from_string("{% load paths %}{% path 'registry:agent_list' %}")
    prefix = get_script_prefix()
    try:
        assert template.render() == "/agents/"
        set_script_prefix("/registry/")
        assert template.render() == "/registry/agents/"
    finally:
        set_script_prefix(prefix)
