"""The `reveal` filter: text escaped for a page, with characters a reader cannot see shown."""

from django import template
from django.utils.safestring import mark_safe

from registry.agentfiles.rendering import reveal_html

register = template.Library()


@register.filter
def reveal(text: str):
    return mark_safe(reveal_html(str(text)))
