"""The request form opened from a dataset's page: that dataset, its own fields to tick."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import Dataset
from exchange.services import access_request_file
from registry.models import System

pytestmark = pytest.mark.django_db


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


def test_request_access_preselects_the_dataset_and_offers_only_its_fields(
        police_clerk: Any, police_system: System, vaccinations: Dataset, health: Any) -> None:
    from tests.conftest import build_dataset

    build_dataset(health, identifier="births")
    page = as_user(police_clerk).get(reverse("admin:exchange_accessrequest_add") + f"?dataset={vaccinations.pk}")
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.initial["dataset"] == str(vaccinations.pk)
    offered = list(form.fields["requested_fields"].queryset)
    assert {f.dataset_id for f in offered} == {vaccinations.pk}
    assert "vaccine (Internal)" in page.content.decode()  # each with its sensitivity, no dataset prefix


def test_the_requester_opens_the_dataset_named_on_their_own_request(police_clerk: Any, police_system: System,
                                                                    vaccinations: Dataset) -> None:
    request = access_request_file(consumer=police_system, dataset=vaccinations, fields=["vaccine"],
                                  actor=police_clerk, purpose_code="public-health.tracing", purpose="追溯",
                                  legal_basis="（演示）")
    http = as_user(police_clerk)
    page = http.get(reverse("admin:exchange_accessrequest_change", args=[request.pk])).content.decode()
    link = reverse("admin:catalog_dataset_change", args=[vaccinations.pk])
    assert link in page
    dataset_page = http.get(link)
    assert dataset_page.status_code == 200 and "may have been deleted" not in dataset_page.content.decode()
