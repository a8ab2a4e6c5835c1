"""The `reveal` filter: text escaped for a page, with characters a reader cannot see shown."""

from django import template

from registry.rendering import reveal_html

register = template.Library()


@register.filter
def reveal(text: str):
    return reveal_html(str(text))
