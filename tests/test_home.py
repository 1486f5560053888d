"""The admin's "View site" leads to a real page, in the platform's language."""

from typing import Any

import pytest
from django.test import Client


@pytest.mark.django_db
def test_the_home_page_links_the_admin_the_api_docs_and_the_platform_key() -> None:
    response = Client().get("/")
    html = response.content.decode()
    assert response.status_code == 200
    for target in ("/admin/", "/api/docs/", "/api/v1/platform-key", "/healthz"):
        assert f'href="{target}"' in html
    assert 'id="language-chooser"' in html


@pytest.mark.django_db
def test_view_site_in_the_admin_points_at_the_home_page(health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    assert 'href="/"' in http.get("/admin/").content.decode()
    assert http.get("/").status_code == 200


@pytest.mark.django_db
def test_the_home_page_speaks_chinese_by_default(platform_language: str) -> None:
    html = Client().get("/").content.decode()
    assert 'lang="zh-hans"' in html
