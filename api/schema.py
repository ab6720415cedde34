"""The OpenAPI schema's additions to drf-spectacular's: every error an operation can answer,
with its body, so that clients (and the schemathesis test) know every status code."""

from drf_spectacular.openapi import AutoSchema

DETAIL_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# DRF's validation errors: {"field": ["message", …], "non_field_errors": […]}, or a detail.
VALIDATION_ERROR = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    },
}


def _error(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


class CasedeskAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {
            "400": _error("Invalid input, a refused workflow move, or an invalid filter; "
                          "nothing was changed.", VALIDATION_ERROR),
            "401": _error("No valid token or session.", DETAIL_ERROR),
            "403": _error("Your role in the case does not allow this.", DETAIL_ERROR),
            "404": _error("No such record among your cases (or no such page of a list).",
                          DETAIL_ERROR),
        }
        if self.method in ("PUT", "PATCH"):
            errors["412"] = _error("The record changed since the version named in If-Match; "
                                   "nothing was saved.", DETAIL_ERROR)
        for code, response in errors.items():
            responses.setdefault(code, response)
        return responses
