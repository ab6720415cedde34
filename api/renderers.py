"""The API's JSON output, which cannot fail on the text it echoes.

DRF's renderer writes text as it is and encodes the result as UTF-8, which fails
(UnicodeEncodeError, so a 500) on a lone surrogate: a 400 that quotes the offending input
would break while being written. The parser refuses such text (api.parsers); should any
still reach a response, it is written with every non-ASCII character escaped (`\\ud800`),
which is valid JSON."""

from rest_framework import renderers


class _EscapedJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapedJSONRenderer().render(data, accepted_media_type, renderer_context)


class FileRenderer(renderers.BaseRenderer):
    """Lets a client that asks for a file (`Accept: application/octet-stream`) reach the
    downloads: the file itself is a FileResponse, not rendered. A refusal it is given
    instead is JSON, as everywhere in the API."""

    media_type = "application/octet-stream"
    format = "file"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        response = (renderer_context or {}).get("response")
        if response is not None:  # a refusal: JSON, and said so
            response["Content-Type"] = JSONRenderer.media_type
        return JSONRenderer().render(data, None, renderer_context)
