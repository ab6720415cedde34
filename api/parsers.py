"""The API's one way in for a request body: strict JSON (cases.safejson).

A body is refused whole, with a 400 naming the path of the value at fault, when it holds text
no later step can store or show back (U+0000, which PostgreSQL refuses in any text value; a
lone surrogate, which UTF-8 cannot encode), NaN or Infinity, a duplicate key, or nesting
deeper than an API body ever needs. Refused here, such values never reach a field, a lookup
or the database, whichever field they are in. (The body's size is bounded before: DRF reads
a JSON parser's body through `request.body`, which Django caps at
DATA_UPLOAD_MAX_MEMORY_SIZE.)
"""

from rest_framework import parsers
from rest_framework.exceptions import ErrorDetail, ParseError

from cases import safejson

# API bodies are flat records; a few levels leave room for what a client may wrap them in.
MAX_DEPTH = 8


class JSONParser(parsers.JSONParser):
    """JSON is UTF-8 (RFC 8259 §8.1): any other charset named in Content-Type is ignored."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return safejson.loads(stream.read(), max_depth=MAX_DEPTH)
        except safejson.UnsafeJSON as refusal:
            raise ParseError(refused(refusal)) from None


def refused(refusal: safejson.UnsafeJSON) -> dict:
    """The 400's body: the message under the value's path, as a field's validation error;
    `detail` and `code` for the body as a whole (not JSON at all, too deep at the top)."""
    message = ErrorDetail(refusal.message, refusal.code)
    if refusal.path:
        return {refusal.path: [message]}
    return {"detail": message, "code": refusal.code}
