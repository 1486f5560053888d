"""Bulk export: a Celery job makes the masked file, the status gives a signed link, the link downloads it once."""

import base64
import datetime as dt
import hashlib
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, RefusalTally
from catalog.models import Dataset, Record
from exchange import client as consumer
from exchange.exports import exports_dir, exports_expire
from exchange.models import ExportJob, ExportState, Grant
from registry.models import Department, System, SystemKey
from tests.conftest import signed_post
from tests.exchange.test_record_read import assert_refused, assert_signed_by_platform

pytestmark = pytest.mark.django_db

PATH = "/api/v1/datasets/vaccinations/exports"


@pytest.fixture
def records(vaccinations: Dataset) -> None:
    for n in range(5):
        Record.objects.create(dataset=vaccinations, key=f"11010119900101{n:04d}", data={
            "citizen_id": f"11010119900101{n:04d}", "full_name": f"P{n}",
            "vaccine": "=HYPERLINK(\"http://evil\")" if n == 0 else "measles", "dose_date": f"2026-0{n + 1}-01"})


@pytest.fixture
def export(police_private_key: Ed25519PrivateKey, signed_get: Any, eager_celery: None,
           django_capture_on_commit_callbacks: Any) -> Any:
    """Ask for an export (its job runs in-process after the commit, as in the embedded default); its status."""

    def make(**body: Any) -> dict[str, Any]:
        with django_capture_on_commit_callbacks(execute=True):
            created = signed_post(PATH, {"format": "csv", **body}, police_private_key)
        return _checked(created, signed_get)

    return make


def _checked(created: Any, signed_get: Any) -> dict[str, Any]:
    assert created.status_code == 202, created.content
    assert_signed_by_platform(created)
    status = signed_get(created.json()["status_url"])
    assert status.status_code == 200, status.content
    return status.json()


def test_an_export_is_made_masked_and_downloaded_once_with_its_digest_in_the_log(
        export: Any, police_key: SystemKey, police_grant: Grant, records: None) -> None:
    Grant.objects.filter(pk=police_grant.pk).update(masking={"dose_date": "generalise"})
    status = export()
    assert (status["state"], status["rows_total"], status["rows_done"]) == ("done", 6, 6)
    download = Client().get(status["download_url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    digest = hashlib.sha256(content).hexdigest()
    assert digest == status["file_digest"]
    assert download["Content-Digest"] == "sha-256=:" + base64.b64encode(bytes.fromhex(digest)).decode() + ":"
    assert download["Cache-Control"] == "no-store"
    lines = content.decode().splitlines()
    assert lines[0] == "vaccine,dose_date"  # the key field is not granted: no key column
    assert "'=HYPERLINK(\"\"http://evil\"\")" in content.decode()  # a formula is defused
    assert all(line.split(",")[-1] in ("2026",) for line in lines[1:])  # generalised to the year
    completed = AuditEvent.objects.get(action="export.completed")
    assert completed.detail["file_digest"] == digest and completed.detail["masking"] == {"dose_date": "generalise"}
    downloaded = AuditEvent.objects.get(uid=download["Audit-Event"])
    assert downloaded.detail["file_digest"] == digest
    again = Client().get(status["download_url"])
    assert again.status_code == 410 and again.json()["error"]["code"] == "export_gone"
    assert not list(exports_dir().glob(f"{status['id']}*"))  # the file is gone once downloaded


def test_jsonl_has_one_object_a_line_and_the_key_when_the_grant_serves_it(
        export: Any, police_key: SystemKey, police_grant: Grant, records: None) -> None:
    Grant.objects.filter(pk=police_grant.pk).update(allowed_fields=["citizen_id", "vaccine"],
                                                    row_filter={"vaccine": ["measles"]})
    status = export(format="jsonl")
    content = b"".join(Client().get(status["download_url"]).streaming_content)
    rows = [orjson.loads(line) for line in content.splitlines()]
    assert len(rows) == 4 and all(row["fields"]["vaccine"] == "measles" and row["key"] for row in rows)
    completed = AuditEvent.objects.get(action="export.completed")
    assert completed.detail["subjects_listed"] is True and len(completed.subjects) == 4


def test_a_tampered_or_expired_link_is_refused(export: Any, police_key: SystemKey, police_grant: Grant,
                                               records: None) -> None:
    status = export()
    url = status["download_url"]
    tampered = Client().get(url[:-3] + "abc")
    assert tampered.status_code == 403 and tampered.json()["error"]["code"] == "export_link_invalid"
    assert_signed_by_platform(tampered)
    assert RefusalTally.objects.get(uid=tampered["Audit-Event"]).reasons == {"export_link_invalid": 1}
    later = url.replace("expires=", "expires=1")  # another expiry: the signature no longer matches
    assert Client().get(later).status_code == 403
    ExportJob.objects.update(link_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert exports_expire() == 1
    assert Client().get(url).status_code in (403, 410)
    assert ExportJob.objects.get().state == ExportState.EXPIRED


def test_another_system_cannot_see_an_export(export: Any, police_key: SystemKey, police_grant: Grant, records: None,
                                             signed_get: Any, health: Department) -> None:
    status = export()
    other_key = Ed25519PrivateKey.generate()
    system = System.objects.create(department=health, code="health-his", name="HIS")
    SystemKey.objects.create(system=system, key_id="his-1", public_key=consumer.public_pem(other_key.public_key()))
    response = signed_get(status["status_url"], private_key=other_key, key_id="his-1")
    assert_refused(response, 404, "export_not_found", "export.status")


def test_an_export_takes_its_records_from_the_daily_quota(police_private_key: Ed25519PrivateKey,
                                                          police_key: SystemKey, police_grant: Grant,
                                                          records: None) -> None:
    Grant.objects.filter(pk=police_grant.pk).update(daily_quota=5)
    response = signed_post(PATH, {"format": "csv"}, police_private_key)
    assert_refused(response, 429, "quota_exceeded", "export.requested")
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("body", [{"format": "xlsx"}, {}, {"format": "csv", "fields": []}, {"format": "csv", "x": 1}])
def test_a_bad_export_request_is_refused(body: Any, police_private_key: Ed25519PrivateKey, police_key: SystemKey,
                                         police_grant: Grant) -> None:
    assert_refused(signed_post(PATH, body, police_private_key), 400, "invalid_json", "export.requested")


def test_a_grant_revoked_before_the_job_runs_fails_the_export_and_leaves_no_file(
        police_private_key: Ed25519PrivateKey, police_key: SystemKey, police_grant: Grant, records: None) -> None:
    from exchange.exports import export_run

    response = signed_post(PATH, {"format": "csv"}, police_private_key)  # the job waits for the commit: queued
    assert response.status_code == 202
    job = ExportJob.objects.get()
    assert job.state == ExportState.QUEUED
    Grant.objects.filter(pk=police_grant.pk).update(revoked_at=timezone.now())
    export_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == ExportState.FAILED and job.error
    assert not list(exports_dir().glob(f"{job.uid}*"))
