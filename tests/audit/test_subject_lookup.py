"""An auditor finds every access to one citizen's or company's data by typing the identifier: the log is
searched by its keyed hash, the identifier is never stored, and the lookup is itself an audit event."""

from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from audit.events import EventType
from audit.models import AuditEvent
from audit.services import Actor, event_record, subject_hash

pytestmark = pytest.mark.django_db

CITIZEN, OTHER = "110101199003070011", "110101198001010022"


def reads(identifier: str, count: int) -> None:
    with transaction.atomic():
        for _ in range(count):
            event_record(actor=Actor("system", "police-rms", "police"), action=EventType.RECORD_READ,
                         object_id="vaccinations", grant_id=7, purpose="public-health.outbreak-tracing",
                         subjects=[subject_hash(identifier)], detail={"fields": ["vaccine"]})


def test_the_auditor_finds_every_read_of_one_citizen_and_the_lookup_is_recorded(auditor: Any) -> None:
    reads(CITIZEN, 3)
    reads(OTHER, 2)
    http = Client()
    http.force_login(auditor)
    page = http.post("/admin/audit/auditevent/subject/", {"identifier": f"  {CITIZEN} "})
    html = page.content.decode()
    assert page.status_code == 200
    assert "3 events touched this identifier" in html
    assert html.count("record.read") == 3 and "police-rms" in html and "public-health.outbreak-tracing" in html
    lookup = AuditEvent.objects.get(action="audit.subject_lookup")
    assert (lookup.actor_id, lookup.subjects, lookup.detail) == ("auditor", [subject_hash(CITIZEN)], {"found": 3})
    assert not AuditEvent.objects.filter(detail__icontains=CITIZEN).exists()
    assert CITIZEN not in str(list(AuditEvent.objects.values_list("subjects", "detail", "object_id")))
    again = http.post("/admin/audit/auditevent/subject/", {"identifier": CITIZEN}).content.decode()
    assert "3 events touched this identifier" in again, "earlier lookups are not counted as accesses"


def test_an_identifier_nobody_read_finds_nothing_and_says_so(auditor: Any) -> None:
    http = Client()
    http.force_login(auditor)
    html = http.post("/admin/audit/auditevent/subject/", {"identifier": OTHER}).content.decode()
    assert "0 events touched this identifier" in html


def test_an_empty_identifier_is_asked_for_again(auditor: Any) -> None:
    http = Client()
    http.force_login(auditor)
    page = http.post("/admin/audit/auditevent/subject/", {"identifier": "  "})
    assert page.status_code == 200 and "errornote" in page.content.decode()
    assert not AuditEvent.objects.filter(action="audit.subject_lookup").exists()


def test_only_auditors_may_look(health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    assert http.post("/admin/audit/auditevent/subject/", {"identifier": CITIZEN}).status_code == 403
    assert not AuditEvent.objects.filter(action="audit.subject_lookup").exists()


def test_the_event_list_links_the_lookup(auditor: Any) -> None:
    http = Client()
    http.force_login(auditor)
    assert 'href="/admin/audit/auditevent/subject/"' in http.get("/admin/audit/auditevent/").content.decode()


def test_the_auditor_filters_by_department_system_dataset_and_dates_and_downloads_them(auditor: Any) -> None:
    reads(CITIZEN, 2)
    with transaction.atomic():
        event_record(actor=Actor("system", "tax-core", "tax"), action=EventType.RECORD_READ, object_id="incomes",
                     subjects=[subject_hash(OTHER)], detail={"fields": ["=cmd|' /C calc'!A0"]})
    http = Client()
    http.force_login(auditor)
    listing = http.get("/admin/audit/auditevent/", {"system": "tax-core"})
    assert listing.status_code == 200 and "1 audit event" in listing.content.decode()
    for query, expected in (({"system": "tax-core"}, 1), ({"department": "police"}, 2), ({"dataset": "incomes"}, 1),
                            ({"created_at__gte": "2000-01-01", "action": "record.read"}, 3),
                            ({"created_at__lt": "2000-01-01"}, 0)):
        download = http.get("/admin/audit/auditevent/csv/", query)
        assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
        lines = b"".join(download.streaming_content).decode().splitlines()
        assert lines[0].startswith("uid,created_at,leaf_index,action")
        assert len(lines) - 1 == expected, (query, lines)
    export = AuditEvent.objects.filter(action="audit.exported").order_by("id").last()
    assert export is not None and export.detail == {"filters": {"created_at__lt": "2000-01-01"}, "rows": 0}
    assert 'id="audit-csv"' in http.get("/admin/audit/auditevent/").content.decode()


def test_a_csv_cell_never_starts_a_spreadsheet_formula(auditor: Any) -> None:
    with transaction.atomic():
        event_record(actor=Actor("anonymous", '=HYPERLINK("http://evil")'), action=EventType.USER_LOGIN_FAILED,
                     object_id="-2+3", outcome="refused", reason="login_failed", detail={"ip": "198.51.100.9"})
    http = Client()
    http.force_login(auditor)
    text = b"".join(http.get("/admin/audit/auditevent/csv/").streaming_content).decode()
    assert "'=HYPERLINK" in text and ",'-2+3," in text


def test_only_auditors_download(health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    assert http.get("/admin/audit/auditevent/csv/").status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
