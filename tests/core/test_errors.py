"""Every API error is JSON of one shape; unmatched API addresses too."""

from typing import Any

import pytest
from django.test import Client


@pytest.mark.django_db
def test_an_unknown_api_address_is_a_json_404() -> None:
    response = Client().get("/api/v1/datasets/x/records/a/b")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_an_unknown_page_outside_the_api_is_not_json() -> None:
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_server_error_on_the_api_is_json_without_details(rf: Any) -> None:
    from govplatform.views import server_error

    response = server_error(rf.get("/api/v1/anything"))
    assert response.status_code == 500
    assert response.content == (b'{"error": {"code": "internal_error", "message": "The platform failed to answer; '
                                b'the error is logged.", "detail": null}}')
