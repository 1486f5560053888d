"""Platform endpoints that are not part of an app: health and the platform's public key."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ErrorCode, PlatformError, error_responses
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


_HEALTH = inline_serializer("Health", {"status": serializers.CharField(),
                                      "checks": serializers.DictField(child=serializers.CharField())})


class HealthApi(APIView):
    permission_classes = [AllowAny]
    # A failing check is a 503 with the Health body, not an error; /healthz is outside /api/, so an
    # unexpected failure gets Django's own 500 page. Only content negotiation answers with an error body.
    error_codes = (ErrorCode.NOT_ACCEPTABLE,)

    @extend_schema(
        summary=_("Health of the database, the broker and the signing key"),
        description=_("200 when every check is ok, 503 (same body) when any is not. The check values are "
                      "machine-readable and not translated."),
        responses={200: _HEALTH, 503: _HEALTH, **error_responses(error_codes)},
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
    error_codes = (ErrorCode.NOT_ACCEPTABLE, ErrorCode.INTERNAL_ERROR, ErrorCode.SIGNING_KEY_UNAVAILABLE)

    @extend_schema(
        summary=_("The platform's public key (pin it out of band; this copy is for convenience)"),
        responses={200: inline_serializer("PlatformKey", {"key_id": serializers.CharField(),
                                                          "algorithm": serializers.CharField(),
                                                          "public_key_pem": serializers.CharField()}),
                   **error_responses(error_codes)},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        key = platform_key()
        return Response({"key_id": key.key_id, "algorithm": "ed25519", "public_key_pem": key.public_pem()})


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _json_error(code: ErrorCode) -> JsonResponse:
    """The API's error shape, its message in the request's language (LocaleMiddleware has activated it)."""
    error = PlatformError(code)
    return JsonResponse(error.as_dict(), status=error.status, json_dumps_params={"ensure_ascii": False})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the JSON error shape; people get Django's page."""
    if _is_api(request):
        return _json_error(ErrorCode.NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json_error(ErrorCode.INTERNAL_ERROR)
    return defaults.server_error(request)


def login_locked(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' answer to a locked-out sign-in: the admin's own page (its header, its language chooser),
    429, saying why and what to do."""
    context = {**admin.site.each_context(request), "failure_limit": settings.AXES_FAILURE_LIMIT,
               "title": _("Sign-in locked"), "is_nav_sidebar_enabled": False}
    return render(request, "registration/locked_out.html", context, status=429)
