from django import template
from django.conf import settings
from django.utils import translation

register = template.Library()


@register.simple_tag
def interface_languages():
    """[(code, name)] of settings.LANGUAGES, each name in its own language ("Русский"), as a
    reader looks for their language in a switcher."""
    languages = []
    for code, name in settings.LANGUAGES:
        with translation.override(code):
            languages.append((code, str(name)))
    return languages
