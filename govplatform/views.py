"""Platform endpoints that are not part of an app: health and the platform's public key."""

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ErrorCode, PlatformError
from core.keys import platform_key
from registry.nonces import redis_client


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        return f"error: {type(exc).__name__}"


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok (embedded: tasks run in-process)"
    try:
        redis_client().ping()
        return "ok"
    except Exception as exc:  # any failure to reach the broker is reported, not raised
        return f"error: {type(exc).__name__}"


def _check_signing_key() -> str:
    try:
        return f"ok ({platform_key().key_id})"
    except PlatformError:
        return "error: unreadable"


class HealthApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of the database, the broker and the signing key",
        responses={(code, "application/json"): inline_serializer("Health", {
            "status": serializers.CharField(), "checks": serializers.DictField(child=serializers.CharField())})
            for code in (200, 503)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        checks: dict[str, Any] = {
            "database": _check_database(),
            "broker": _check_broker(),
            "signing_key": _check_signing_key(),
        }
        healthy = all(value.startswith("ok") for value in checks.values())
        return Response({"status": "ok" if healthy else "degraded", "checks": checks},
                        status=200 if healthy else 503)


class PlatformKeyApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="The platform's public key (pin it out of band; this copy is for convenience)",
        responses={200: inline_serializer("PlatformKey", {"key_id": serializers.CharField(),
                                                          "algorithm": serializers.CharField(),
                                                          "public_key_pem": serializers.CharField()}),
                   503: OpenApiResponse(description="The signing key cannot be read (error JSON).")},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        key = platform_key()
        return Response({"key_id": key.key_id, "algorithm": "ed25519", "public_key_pem": key.public_pem()})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the JSON error shape; people get Django's page."""
    if _is_api(request):
        error = PlatformError(ErrorCode.NOT_FOUND)
        return JsonResponse(error.as_dict(), status=error.status)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        error = PlatformError(ErrorCode.INTERNAL_ERROR)
        return JsonResponse(error.as_dict(), status=error.status)
    return defaults.server_error(request)
