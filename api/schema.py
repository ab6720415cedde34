"""The OpenAPI schema's additions to drf-spectacular's: every error an operation can answer,
with its body, so that clients (and the schemathesis test) know every status code; and the
If-Match header that every write to an existing record requires (the view's
`versioned_actions`, which the view enforces: api.preconditions)."""

from drf_spectacular.openapi import AutoSchema

from .preconditions import IF_MATCH

DETAIL_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail"],
}
CODED_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
    "required": ["detail", "code"],
}
# DRF's validation errors: {"field": ["message", …], "non_field_errors": […]}, or a detail;
# `codes` names each message's code (api/exceptions.py), by field in the same shape, or as a
# flat list for a refused workflow move.
VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "codes": {"anyOf": [{"type": "object"},
                            {"type": "array", "items": {"type": "string"}}]},
    },
    "additionalProperties": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
}


def _error(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class CasedeskAutoSchema(AutoSchema):
    def _is_versioned(self) -> bool:
        return getattr(self.view, "action", None) in getattr(self.view, "versioned_actions", ())

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        return [*parameters, IF_MATCH] if self._is_versioned() else parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {
            "400": _error("Invalid input, a refused workflow move, an invalid filter, or a "
                          "query parameter or body field the operation does not take (named, "
                          "code `unknown_parameter` / `unknown_field`); a body that is not "
                          "strict JSON (NUL, lone surrogates, NaN, deep nesting) is refused "
                          "naming the path of the value. `codes` gives each message's "
                          "machine-readable code, by field. Nothing was changed.",
                          VALIDATION_ERROR),
            "401": _error("No valid token or session.", DETAIL_ERROR),
            "403": _error("Your role in the case does not allow this.", DETAIL_ERROR),
            "404": _error("No such record among your cases (or no such page of a list).",
                          DETAIL_ERROR),
        }
        if self.method in ("POST", "PUT", "PATCH"):
            errors["413"] = _error("The body is larger than the server accepts (code "
                                   "`body_too_large`); nothing was changed.", CODED_ERROR)
        # Answered by the HTTP server before the request reaches the API (gunicorn's limit on
        # the request line), in its own HTML.
        errors["414"] = {"description": "The address (with its query) is longer than the "
                                        "server reads.",
                         "content": {"text/html": {"schema": {"type": "string"}}}}
        if self._is_versioned():
            errors["412"] = _error("The record changed since the version named in If-Match "
                                   "(code `version_changed`, naming who changed what), or "
                                   "If-Match names no version we made (`version_unknown`); "
                                   "nothing was saved.", CODED_ERROR)
            errors["428"] = _error("If-Match is missing (or `*`): send the ETag of the version "
                                   "you read (code `if_match_required`); nothing was saved.",
                                   CODED_ERROR)
        for code, response in errors.items():
            responses.setdefault(code, response)
        return responses
