"""Raw records stay with their owner: only its clerks see their contents, and every look is evidence."""

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.services import subject_hash
from catalog.models import Dataset, Record
from tests.conftest import RECORD_KEY, events_but_sign_ins

pytestmark = pytest.mark.django_db


def as_user(user: Any) -> Client:
    http = Client()
    http.force_login(user)
    return http


@pytest.fixture
def record(vaccinations: Dataset) -> Record:
    return Record.objects.get(dataset=vaccinations, key=RECORD_KEY)


def test_the_owning_clerks_view_of_a_record_is_logged_with_its_subjects_hashed(health_clerk: Any,
                                                                              record: Record) -> None:
    response = as_user(health_clerk).get(f"/admin/catalog/record/{record.pk}/change/")
    assert response.status_code == 200 and "Li Wei" in response.content.decode()
    event = AuditEvent.objects.get(action="record.viewed")
    assert (event.actor_id, event.object_type, event.object_id) == ("health-clerk", "record", str(record.pk))
    assert event.subjects == [subject_hash(RECORD_KEY)]
    assert event.detail == {"dataset": "vaccinations", "record_version": 1}
    assert RECORD_KEY not in event.canonical_leaf().decode()  # the identifier itself is never in the log


@pytest.mark.parametrize("actor", ["health_approver", "auditor", "police_clerk", "root"])
def test_everyone_else_is_refused_the_contents_and_nothing_leaks(actor: str, record: Record,
                                                                 request: pytest.FixtureRequest) -> None:
    http = as_user(request.getfixturevalue(actor))
    page = http.get(f"/admin/catalog/record/{record.pk}/change/")
    listing = http.get("/admin/catalog/record/")
    assert page.status_code in (302, 403)  # "no such record" or refused: the same to a prober
    for response in (page, listing):  # a clerk of another department lists their own (here: no) records
        assert "Li Wei" not in response.content.decode() and RECORD_KEY not in response.content.decode()
    assert not events_but_sign_ins().exists()


def test_the_approver_sees_the_schema_but_no_link_to_the_records(health_approver: Any, vaccinations: Dataset) -> None:
    response = as_user(health_approver).get(f"/admin/catalog/dataset/{vaccinations.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200 and "citizen_id" in html
    assert "/admin/catalog/record/" not in html and "/import/" not in html


def test_the_owning_clerk_lists_the_records_of_their_dataset(health_clerk: Any, record: Record) -> None:
    response = as_user(health_clerk).get("/admin/catalog/record/")
    assert response.status_code == 200 and RECORD_KEY in response.content.decode()
