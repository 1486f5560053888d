"""Evidence bundles: an auditor downloads the events the list shows with their proofs, a signed checkpoint and
the public key; ``python -m audit.verify_bundle`` checks them offline, without Django, says what it proved,
and catches altered content, altered proofs and a checkpoint the pinned key did not sign."""

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import transaction
from django.test import Client

from audit import bundles
from audit.events import EventType
from audit.models import AuditEvent
from audit.services import Actor, event_record
from core.crypto import public_key_pem
from core.keys import platform_key

pytestmark = pytest.mark.django_db

#: Run the verifier as a third party would: Python, cryptography and the three audit files; Django unavailable.
WITHOUT_DJANGO = ("import runpy, sys; sys.modules['django'] = None; sys.argv = ['verify_bundle', *sys.argv[1:]]; "
                  "runpy.run_module('audit.verify_bundle', run_name='__main__')")


def reads(system: str, count: int) -> None:
    with transaction.atomic():
        for n in range(count):
            event_record(actor=Actor("system", system, "police"), action=EventType.RECORD_READ,
                         object_id="vaccinations",
                         grant_id=3, detail={"fields": ["vaccine"], "record_version": n})


def bundle_of(auditor: Any, query: dict[str, str]) -> dict[str, Any]:
    http = Client()
    http.force_login(auditor)
    response = http.get("/admin/audit/auditevent/bundle/", query)
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content)


def verify(tmp_path: Path, bundle: dict[str, Any], *, key_pem: str | None) -> tuple[int, str]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    args = [str(path)]
    if key_pem is not None:
        (tmp_path / "key.pem").write_text(key_pem)
        args += ["--public-key", str(tmp_path / "key.pem")]
    done = subprocess.run([sys.executable, "-c", WITHOUT_DJANGO, *args], cwd=settings.BASE_DIR, capture_output=True,
                          text=True, timeout=60, check=False)
    return done.returncode, done.stdout + done.stderr


def test_a_bundle_of_one_systems_reads_verifies_offline_without_django(auditor: Any, tmp_path: Path) -> None:
    reads("police-rms", 5)
    reads("tax-core", 3)
    bundle = bundle_of(auditor, {"system": "police-rms"})
    assert len(bundle["events"]) == 5 and bundle["selection"] == {"system": "police-rms"}
    code, out = verify(tmp_path, bundle, key_pem=platform_key().public_pem())
    assert code == 0, out
    assert "PROVED: 5 events (leaves" in out and "VERIFIED" in out and "the bundle's own copy" not in out
    export = AuditEvent.objects.get(action="audit.bundle_exported")
    assert export.detail == {"filters": {"system": "police-rms"}, "rows": 5}


def test_without_a_pinned_key_it_says_it_proved_only_self_consistency(auditor: Any, tmp_path: Path) -> None:
    reads("police-rms", 2)
    code, out = verify(tmp_path, bundle_of(auditor, {}), key_pem=None)
    assert code == 0 and "the bundle's own copy" in out


def test_altered_content_an_altered_proof_and_a_foreign_key_are_each_caught(auditor: Any, tmp_path: Path) -> None:
    reads("police-rms", 6)
    bundle = bundle_of(auditor, {"system": "police-rms"})
    key = platform_key().public_pem()

    altered = json.loads(json.dumps(bundle))
    content = json.loads(base64.b64decode(altered["events"][2]["leaf"]))
    content["actor_id"] = "innocent-system"
    altered["events"][2]["leaf"] = base64.b64encode(json.dumps(content).encode()).decode()
    code, out = verify(tmp_path, altered, key_pem=key)
    assert code == 1 and "altered content" in out and "NOT VERIFIED" in out

    rehashed = json.loads(json.dumps(altered))  # the insider recomputes the leaf hash too: the proof catches it
    from audit.merkle import leaf_hash

    rehashed["events"][2]["leaf_hash"] = leaf_hash(base64.b64decode(rehashed["events"][2]["leaf"])).hex()
    code, out = verify(tmp_path, rehashed, key_pem=key)
    assert code == 1 and "does not lead to the signed root" in out

    bad_proof = json.loads(json.dumps(bundle))
    bad_proof["events"][0]["proof"][0] = "00" * 32
    assert verify(tmp_path, bad_proof, key_pem=key)[0] == 1

    code, out = verify(tmp_path, bundle, key_pem=public_key_pem(Ed25519PrivateKey.generate().public_key()))
    assert code == 1 and "FAILED: the checkpoint" in out


def test_too_many_events_for_one_bundle_are_refused_with_a_clear_message(auditor: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(bundles, "MAX_EVENTS", 2)
    reads("police-rms", 3)
    http = Client()
    http.force_login(auditor)
    page = http.get("/admin/audit/auditevent/bundle/", {"system": "police-rms"}, follow=True)
    assert "a bundle holds at most 2" in page.content.decode()
    assert not AuditEvent.objects.filter(action="audit.bundle_exported").exists()


def test_only_auditors_download_bundles(health_clerk: Any) -> None:
    http = Client()
    http.force_login(health_clerk)
    assert http.get("/admin/audit/auditevent/bundle/").status_code == 403
