"""The API's exception handler: DRF's, plus the refusals Django raises while reading a body.

Django refuses a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig) or with more
fields than DATA_UPLOAD_MAX_NUMBER_FIELDS while DRF parses it; those are not DRF exceptions,
so they left the view and got Django's HTML error page. An API client gets JSON with a code,
as for every other refusal.
"""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext_lazy as _
from rest_framework import status
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
    return drf_exception_handler(exc, context)
