"""Schemathesis against the OpenAPI schema, over real HTTP, every request signed by a registered system.

For each operation the schema declares, Schemathesis generates requests from the schema (valid ones and,
in the negative phase, ones that break it); each is signed per RFC 9421 over exactly what is sent (the
raw target is verified, so whatever Schemathesis percent-encodes verifies) and sent to a live server on
the test database holding a dataset, records, a grant and an open dataset. Every answer must be no 5xx,
have a status and headers the schema declares, and a body of the declared shape: the schema declares
every refusal the platform can give. Bounded (``MAX_EXAMPLES`` per operation, derandomized) so the
suite stays fast; ``FUZZ_EXAMPLES`` raises it for a longer run.
"""

import os
from typing import Any

import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Dataset, Field, FieldType, Record, Sensitivity, Tier
from exchange import client as consumer
from exchange.models import Grant
from registry.models import SystemKey
from tests.conftest import POLICE_KEY_ID

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def _schema() -> Any:
    import django

    django.setup()
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(_schema())


@pytest.fixture
def fuzz_world(raw_live_server: str, police_key: SystemKey, police_private_key: Ed25519PrivateKey,
               police_grant: Grant, health: Any) -> dict[str, Any]:
    """The server and data that make the happy paths reachable: a grant, records, an open dataset."""
    open_data = Dataset.objects.create(owner=health, identifier="clinics", title="Clinics", tier=Tier.OPEN,
                                       description="Clinics.", status="published",
                                       licence="https://creativecommons.org/licenses/by/4.0/")
    Field.objects.create(dataset=open_data, name="code", type=FieldType.STRING, sensitivity=Sensitivity.PUBLIC,
                         is_lookup_key=True)
    Record.objects.create(dataset=open_data, key="C1", data={"code": "C1"})
    return {"base": raw_live_server, "key": police_private_key}


def _send(case: Any, world: dict[str, Any], *, signed: bool) -> tuple[requests.Response, dict[str, Any]]:
    kwargs = case.as_transport_kwargs(base_url=world["base"])
    headers = {name: value for name, value in (kwargs.get("headers") or {}).items()
               if name.lower() not in ("signature", "signature-input", "content-digest")}
    kwargs["headers"] = headers
    prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in (
        "method", "url", "headers", "params", "json", "data", "cookies", "files")}).prepare()
    if signed:
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        message = consumer.sign_request(consumer.Message(prepared.method or "GET", prepared.url or "",
                                                         dict(prepared.headers)),
                                        private_key=world["key"], key_id=POLICE_KEY_ID, body=body or None)
        prepared.headers.update(message.headers)
    with requests.Session() as session:
        response = session.send(prepared, timeout=30, allow_redirects=False)
    return response, kwargs


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_signed_answer_is_one_the_schema_declares(case: Any, fuzz_world: dict[str, Any]) -> None:
    response, kwargs = _send(case, fuzz_world, signed=True)
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(max_examples=max(5, MAX_EXAMPLES // 3), deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_unsigned_answer_is_one_the_schema_declares(case: Any, fuzz_world: dict[str, Any]) -> None:
    response, kwargs = _send(case, fuzz_world, signed=False)
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
