"""One application error type and one renderer for every API error.

Every error leaves the API as ``{"error": {"code": ..., "message": ..., "detail": ...}}`` with a
stable machine ``code`` and a ``message`` that says what to fix.
"""

from typing import Any

from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response


class PlatformError(Exception):
    """A refusal or bad input, with a stable code, an HTTP status and a human message."""

    def __init__(self, code: str, message: str, *, status: int = 400, detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.detail}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, PlatformError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = PlatformError("not_found", "Nothing exists at this address.", status=404)
        return Response(exc.as_dict(), status=404)
    if isinstance(exc, drf_exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "invalid"
        detail = exc.detail if not isinstance(exc.detail, str) else None
        error = PlatformError(str(code), str(exc.detail) if detail is None else "The input is invalid.",
                              status=exc.status_code, detail=detail)
        return Response(error.as_dict(), status=exc.status_code)
    return None  # unexpected: Django's 500 handling, logged
