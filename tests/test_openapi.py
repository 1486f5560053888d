"""The committed OpenAPI schema is the code's, its error codes are the error table's, and its docs page needs
no network."""

import ast
import inspect
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from core import keys
from core.errors import ErrorCode
from exchange import gateway, reads
from exchange.views import RECORD_READ_ERRORS, RecordReadApi
from registry import httpsig, nonces, ratelimit

SCHEMA = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"
TESTS = Path(__file__).resolve().parent


def test_the_committed_schema_matches_the_code() -> None:
    out = io.StringIO()
    # The committed schema is in English, the source language; /api/schema/ serves the caller's language.
    call_command("spectacular", "--validate", "--lang", "en", stdout=out)
    assert out.getvalue() == SCHEMA.read_text(), "run `make schema` and commit docs/openapi.yaml"


def test_the_docs_page_loads_its_assets_from_this_server() -> None:
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html and "unpkg" not in html


def test_the_schema_endpoint_serves_the_record_read_operation() -> None:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert b"record_read" in schema.content


# --- The error table and the schema -----------------------------------------------------------------------


@pytest.fixture
def schema() -> dict[str, Any]:
    """The schema as the code makes it now, in the tests' English."""
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def view_for(path: str) -> Any:
    """The API view class serving a schema path (its {parameters} filled in)."""
    return resolve(re.sub(r"\{[^}]+\}", "x", path)).func.view_class  # type: ignore[attr-defined]


def error_codes_by_status(operation: dict[str, Any]) -> dict[int, list[str]]:
    """The codes each error response of an operation lists in its body's ``code`` enum."""
    listed = {}
    for status, response in operation["responses"].items():
        body = response.get("content", {}).get("application/json", {}).get("schema", {})
        code = body.get("properties", {}).get("error", {}).get("properties", {}).get("code")
        if code is not None:
            listed[int(status)] = code["enum"]
    return listed


def test_the_error_code_component_is_the_error_table(schema: dict[str, Any]) -> None:
    component = schema["components"]["schemas"]["ErrorCode"]
    assert component["enum"] == [code.value for code in ErrorCode]
    assert component["x-status"] == {code.value: code.status for code in ErrorCode}
    for code in ErrorCode:  # the human-readable table says the same
        assert f"| `{code.value}` | {code.status} | {code.default_message} |" in component["description"]


def test_every_operation_lists_exactly_the_codes_its_view_declares(schema: dict[str, Any]) -> None:
    seen: set[type] = set()
    for path, method, operation in operations(schema):
        view = view_for(path)
        assert hasattr(view, "error_codes"), f"{view.__name__} must declare its error_codes"
        declared: dict[int, list[str]] = {}
        for code in view.error_codes:
            declared.setdefault(code.status, []).append(code.value)
        listed = error_codes_by_status(operation)
        assert listed == declared, f"{method.upper()} {path}"
        for status, codes in listed.items():
            description = operation["responses"][str(status)]["description"]
            for code in codes:
                assert f"- `{code}`: {ErrorCode(code).default_message}" in description
        seen.add(view)
    assert {RecordReadApi, view_for("/healthz"), view_for("/api/v1/platform-key")} <= seen


def test_an_error_response_is_never_a_success_status(schema: dict[str, Any]) -> None:
    for _path, _method, operation in operations(schema):
        assert all(status >= 400 for status in error_codes_by_status(operation))


def _error_codes_named_in(source: str) -> set[ErrorCode]:
    return {ErrorCode[node.attr] for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ErrorCode"}


def test_the_record_read_declares_every_code_its_code_path_names() -> None:
    """Every ErrorCode named on the read's path: the front door (exchange.gateway), the request policy, the
    nonce store, the rate limits, the platform key and the read itself."""
    path_sources = [inspect.getsource(module) for module in (httpsig, nonces, ratelimit, keys)]
    path_sources += [inspect.getsource(function) for function in (
        gateway.caller_verify, gateway._shape_check, gateway.refusal_counted, gateway.audit_or_fail_closed,
        reads.record_read, reads.terms_for, reads._grant_choose, reads._grant_param, reads._single, reads._dataset,
        reads.quota_take)]
    named = set().union(*(_error_codes_named_in(source) for source in path_sources))
    assert named, "the scan found nothing: has the code moved?"
    assert named <= set(RECORD_READ_ERRORS), sorted(named - set(RECORD_READ_ERRORS))
    # Not named on the path but given by the plumbing: DRF's content negotiation, Django's 500 handler.
    assert {ErrorCode.NOT_ACCEPTABLE, ErrorCode.INTERNAL_ERROR} <= set(RECORD_READ_ERRORS)


def test_the_record_read_declares_every_code_its_tests_see() -> None:
    """Every error code the read's tests expect (any string literal that is a code) is declared."""
    codes = {code.value for code in ErrorCode}
    seen: set[str] = set()
    for name in ("exchange/test_record_read.py", "registry/test_httpsig.py", "registry/test_nonces.py"):
        tree = ast.parse((TESTS / name).read_text())
        seen |= {node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in codes}
    assert "replayed" in seen and "signature_missing" in seen  # the scan works
    assert seen <= {code.value for code in RECORD_READ_ERRORS}, sorted(seen - set(RECORD_READ_ERRORS))
