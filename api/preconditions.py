"""No lost updates through the API: every write to an existing record names, in `If-Match`,
the version it was made on (the `ETag` a read answered), and is refused when that is not the
version saved now.

Without the header a write is refused with 428 (Precondition Required): a client that
never read the record, or forgot to say which version it read, would otherwise overwrite
whatever anyone saved meanwhile, which the pages never allow (cases/concurrency.py). With a
version that is no longer current, or one that cannot be read, the write is refused with
412 and the people and fields changed since. Both bodies carry a machine-readable `code`.
The comparison runs on the locked row (the view's transaction), so two writers sending the
same version cannot both succeed."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ErrorDetail

from cases.concurrency import Conflict, history_since, this_record, version_of
from cases.timebounds import parse_datetime_param

IF_MATCH_REQUIRED = "if_match_required"


class _CodedError(APIException):
    """An error whose body is {"detail": …, "code": …} (the schema's DETAIL_ERROR)."""

    def __init__(self, detail: str, code: str):
        super().__init__({"detail": ErrorDetail(str(detail), code), "code": code})


class PreconditionRequired(_CodedError):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED


class PreconditionFailed(_CodedError):
    status_code = status.HTTP_412_PRECONDITION_FAILED


IF_MATCH_MISSING_MESSAGE = _(
    "Send If-Match with the ETag of the version you read (a GET of this record answers it): "
    "without it a save could undo someone else's change. Nothing was saved."
)
IF_MATCH_ANY_MESSAGE = _(
    "If-Match: * names no version. Send the ETag of the version you read (a GET of this "
    "record answers it). Nothing was saved."
)

IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=True,
    description="The ETag of the version you read (GET answers it). Required: without it the "
                "request is refused with 428; when the record changed since that version, "
                "with 412 naming who changed what. Nothing is saved either way.")


def etag_of(obj) -> str | None:
    version = version_of(obj)
    return f'"{version.isoformat()}"' if version is not None else None


def check_if_match(request, obj) -> None:
    """Raise PreconditionRequired or PreconditionFailed unless the request's If-Match names
    the version of `obj` saved now. Call it with the row locked."""
    header = (request.headers.get("If-Match") or "").strip()
    if not header:
        raise PreconditionRequired(IF_MATCH_MISSING_MESSAGE, IF_MATCH_REQUIRED)
    if header == "*":
        raise PreconditionRequired(IF_MATCH_ANY_MESSAGE, IF_MATCH_REQUIRED)
    current = version_of(obj)
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if etag_of(obj) in tags:
        return
    read = _version_in(tags[0])
    if read is not None and read == current:
        return  # the same instant written another way
    subject = this_record(obj)
    if read is None:
        changes = history_since(obj, None)[-1:]
        conflict = Conflict(subject, "unverifiable", type(obj), changes)
        raise PreconditionFailed(conflict.text, conflict.code)
    conflict = Conflict(subject, "changed", type(obj), history_since(obj, read))
    raise PreconditionFailed(conflict.text, conflict.code)


def _version_in(tag: str):
    """The version an entity tag names, or None when it names none we could have made."""
    if len(tag) < 2 or not (tag.startswith('"') and tag.endswith('"')):
        return None
    return parse_datetime_param(tag[1:-1])
