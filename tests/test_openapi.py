"""The committed OpenAPI schema is the code's, and its docs page needs no network."""

import io
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import Client

SCHEMA = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"


def test_the_committed_schema_matches_the_code() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", stdout=out)
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
