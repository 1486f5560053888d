"""The README's walkthrough, steps 2-7: people in the admin, a system over real HTTP with real signatures.

Runs on whichever database the suite runs on (SQLite by default, PostgreSQL with DATABASE_URL).
"""

import datetime as dt
import io
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, LogLeaf
from audit.sequencer import log_sequence
from audit.services import refusal_tallies_flush
from catalog.models import Dataset, DatasetStatus, Record
from core.keys import platform_key
from exchange import client as consumer
from exchange.models import AccessRequest, Grant
from registry.models import System, SystemKey
from tests.conftest import DATASET_FORM_DEFAULTS

PASSWORD = "correct horse battery staple"
CSV = (b"citizen_id,full_name,vaccine,dose_date\n"
       b"110101199003070011,Li Wei,hepatitis-b,2026-03-01\n"
       b"110101198512120023,Wang Fang,influenza-2026,2026-10-12\n")


def login(username: str) -> Client:
    """Sign in through the admin's login form, as a person does (and as the audit log records)."""
    http = Client()
    response = http.post("/admin/login/?next=/admin/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return http


def split_datetime(prefix: str, when: dt.datetime) -> dict[str, str]:
    local = timezone.localtime(when)
    return {f"{prefix}_0": local.strftime("%Y-%m-%d"), f"{prefix}_1": local.strftime("%H:%M:%S")}


def raw_get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_from_dataset_to_verified_audit_log(
    live_server: Any, tmp_path: Path, health: Any, police: Any, health_clerk: Any, health_approver: Any,
    police_clerk: Any, auditor: Any,
) -> None:
    # 2. A Health clerk registers a dataset with typed fields and one lookup key, loads a CSV, publishes.
    clerk = login("health-clerk")
    fields = [("citizen_id", "string", "personal", True), ("full_name", "string", "personal", False),
              ("vaccine", "string", "internal", False), ("dose_date", "date", "internal", False)]
    form = {**DATASET_FORM_DEFAULTS, "owner": health.pk, "identifier": "vaccinations", "title": "Vaccinations",
            "description": "Vaccinations given in the city.",
            "tier": "conditional", "legal_basis": "Vaccine Administration Law",
            "fields-TOTAL_FORMS": len(fields), "fields-INITIAL_FORMS": 0, "fields-MIN_NUM_FORMS": 0,
            "fields-MAX_NUM_FORMS": 1000}
    for i, (name, type_, sensitivity, key) in enumerate(fields):
        form |= {f"fields-{i}-position": i, f"fields-{i}-name": name, f"fields-{i}-type": type_,
                 f"fields-{i}-sensitivity": sensitivity, f"fields-{i}-description": ""}
        if key:
            form |= {f"fields-{i}-is_lookup_key": "on", f"fields-{i}-is_subject_identifier": "on"}
    response = clerk.post("/admin/catalog/dataset/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    dataset = Dataset.objects.get(identifier="vaccinations")
    response = clerk.post(f"/admin/catalog/dataset/{dataset.pk}/import/",
                          {"file": SimpleUploadedFile("vaccinations.csv", CSV, "text/csv")})
    assert response.status_code == 302  # to the job's page: the dry run's report first
    assert not Record.objects.filter(dataset=dataset).exists()
    response = clerk.post(response["Location"], {"action": "apply", "mode": "upsert"})
    assert response.status_code == 302
    assert Record.objects.filter(dataset=dataset).count() == 2
    response = clerk.post("/admin/catalog/dataset/", {"action": "publish", "_selected_action": [dataset.pk]})
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.PUBLISHED

    # 3. A Police clerk registers a system and its locally generated public key, then files a request.
    police_http = login("police-clerk")
    response = police_http.post("/admin/registry/system/add/", {
        "department": police.pk, "code": "police-rms", "name": "Police records", "active": "on",
        "keys-TOTAL_FORMS": 0, "keys-INITIAL_FORMS": 0, "keys-MIN_NUM_FORMS": 0, "keys-MAX_NUM_FORMS": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    system = System.objects.get(code="police-rms")
    key_file = tmp_path / "police-rms.pem"
    assert consumer.main(["keygen", "--out", str(key_file)]) == 0
    public_pem = consumer.public_pem(consumer.load_private_key(key_file).public_key())
    now = timezone.now()
    response = police_http.post("/admin/registry/systemkey/add/", {
        "system": system.pk, "key_id": "police-rms-1", "public_key": public_pem,
        **split_datetime("not_before", now - dt.timedelta(minutes=5)),
        **split_datetime("expires_at", now + dt.timedelta(days=365))})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SystemKey.objects.get(key_id="police-rms-1").created_by == police_clerk
    field_pks = {f.name: f.pk for f in dataset.fields.all()}
    response = police_http.post("/admin/exchange/accessrequest/add/", {
        "consumer": system.pk, "dataset": dataset.pk,
        "requested_fields": [field_pks["vaccine"], field_pks["dose_date"]],
        "purpose_code": "public-health.outbreak-tracing", "purpose": "Trace contacts in an outbreak",
        "legal_basis": "Infectious Diseases Law, art. 12", "case_reference": "PSB-1", "duration_days": 30,
        "expected_daily_volume": 200})
    assert response.status_code == 302, response.content.decode()[:2000]
    request = AccessRequest.objects.get()
    assert request.fields == ["vaccine", "dose_date"]

    # 4. A Health approver approves it; a grant exists.
    response = login("health-approver").post(f"/admin/exchange/accessrequest/{request.pk}/decide/",
                                             {"decision": "approve", "reason": "Proportionate"})
    assert response.status_code == 302
    grant = Grant.objects.get()
    assert grant.allowed_fields == ["vaccine", "dose_date"] and grant.consumer == system

    # 5. The Police system calls the API over HTTP, signed; receives only the granted fields, signed.
    platform_pub = tmp_path / "platform.pub.pem"
    platform_pub.write_text(platform_key().public_pem())
    url = f"{live_server.url}/api/v1/datasets/vaccinations/records/110101199003070011"
    private_key = consumer.load_private_key(key_file)
    result = consumer.get(url, private_key=private_key, key_id="police-rms-1",
                          platform_public_key=consumer.load_public_key(platform_pub))
    assert result.status_code == 200 and result.verified, result.verification_error
    assert result.json()["fields"] == {"vaccine": "hepatitis-b", "dose_date": "2026-03-01"}

    # ... and each refusal is a clear JSON error: replayed, unsigned, unknown key, revoked key, field not granted.
    signed = consumer.sign_request(consumer.Message("GET", url), private_key=private_key, key_id="police-rms-1")
    assert raw_get(url, signed.headers)[0] == 200
    status, body = raw_get(url, signed.headers)
    assert (status, consumer.json.loads(body)["error"]["code"]) == (401, "replayed")
    status, body = raw_get(url, {})
    assert (status, consumer.json.loads(body)["error"]["code"]) == (401, "signature_missing")
    stranger = consumer.get(url, private_key=consumer.Ed25519PrivateKey.generate(), key_id="stranger-1")
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (401, "unknown_key")
    narrow = consumer.get(url + "?fields=full_name", private_key=private_key, key_id="police-rms-1",
                          platform_public_key=consumer.load_public_key(platform_pub))
    assert (narrow.status_code, narrow.json()["error"]["code"], narrow.verified) == (403, "field_not_granted", True)
    response = police_http.post("/admin/registry/systemkey/", {
        "action": "revoke", "_selected_action": [SystemKey.objects.get().pk]})
    assert response.status_code == 302
    revoked = consumer.get(url, private_key=private_key, key_id="police-rms-1")
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (401, "key_revoked")

    # 6. Every step is an audit event, sequenced into the tree under signed checkpoints. The refusals of callers
    # the platform could not verify are counted per source and window, each window one event once it closes.
    refusal_tallies_flush(now=timezone.now() + dt.timedelta(hours=1))
    log_sequence()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "outcome", "reason"))
    counted: Counter[str] = Counter()
    for detail in AuditEvent.objects.filter(action="exchange.refusals").values_list("detail", flat=True):
        counted.update(detail["reasons"])
    assert counted == {"replayed": 1, "signature_missing": 1, "unknown_key": 1, "key_revoked": 1}
    assert [action for action in actions if action[0] != "exchange.refusals"] == [
        ("user.logged_in", "ok", ""),
        ("dataset.registered", "ok", ""), ("records.checked", "ok", ""), ("records.imported", "ok", ""),
        ("dataset.published", "ok", ""),
        ("user.logged_in", "ok", ""), ("system.registered", "ok", ""), ("system_key.registered", "ok", ""),
        ("access_request.filed", "ok", ""), ("access_request.submitted", "ok", ""),
        ("user.logged_in", "ok", ""), ("access_request.approved", "ok", ""), ("record.read", "ok", ""),
        ("record.read", "ok", ""), ("record.read", "refused", "field_not_granted"), ("system_key.revoked", "ok", ""),
    ]
    assert LogLeaf.objects.count() == len(actions)

    # 7. The auditor sees the events, read-only; audit_verify passes, then fails at an altered row.
    auditor_http = login("auditor")
    page = auditor_http.get("/admin/audit/auditevent/")
    assert page.status_code == 200 and b"access_request.approved" in page.content
    assert auditor_http.get("/admin/catalog/dataset/add/").status_code == 403
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "OK" in out.getvalue()
    victim = LogLeaf.objects.get(index=5).event
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE audit_auditevent SET outcome = 'refused' WHERE id = %s", [victim.pk])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    with pytest.raises(CommandError, match="first bad index: 5"):
        call_command("audit_verify", stdout=io.StringIO(), stderr=io.StringIO())
