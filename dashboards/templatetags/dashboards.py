"""``{% optional_url "app:name" arg … as var %}``: the URL of a page that may not exist yet ("" then), for links to
pages another app is still building (the campaign page: ``campaigns:detail``)."""

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def optional_url(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""
