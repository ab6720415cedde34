"""The API's exception handler: DRF's, with the codes of a refused input, plus the refusals
Django raises while reading a body.

DRF words a refused input as messages by field; each message's code (the `code` of the
model's or serializer's ValidationError, the one the pages' forms and the back office use)
stays in its ErrorDetail, which JSON drops. The body therefore also carries `codes`: the same
fields, each with its messages' codes in the same order (`{"involved":
["counts_exceed_involved"]}`). A refused workflow move gives its own flat list of codes
under that name (api/views.py), kept as it is.

Django refuses a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig) or with more
fields than DATA_UPLOAD_MAX_NUMBER_FIELDS while DRF parses it; those are not DRF exceptions,
so they left the view and got Django's HTML error page. An API client gets JSON with a code,
as for every other refusal.
"""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

REFUSED_BODIES = {
    RequestDataTooBig: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
                        _("The request body is larger than the server accepts.")),
    TooManyFieldsSent: (status.HTTP_400_BAD_REQUEST, "too_many_fields",
                        _("The request has more fields than the server accepts.")),
    TooManyFilesSent: (status.HTTP_400_BAD_REQUEST, "too_many_files",
                       _("The request has more files than the server accepts.")),
}


def exception_handler(exc, context):
    for kind, (status_code, code, message) in REFUSED_BODIES.items():
        if isinstance(exc, kind):
            return Response({"detail": str(message), "code": code}, status=status_code)
    response = drf_exception_handler(exc, context)
    if (isinstance(exc, ValidationError) and response is not None
            and isinstance(response.data, dict) and "codes" not in response.data):
        response.data["codes"] = exc.get_codes()
    return response
