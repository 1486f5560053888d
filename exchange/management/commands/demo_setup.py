"""Demo data for the embedded default, made through the same services the admin uses (so it is audited).

Idempotent: a second run keeps the data and only issues fresh passwords. Prints the admin logins and
one ready-to-run signed API call.
"""

import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.sequencer import log_sequence
from catalog.models import Dataset, DatasetStatus, Field, FieldType, Sensitivity, Tier
from catalog.services import dataset_publish, records_import_csv
from core.crypto import key_fingerprint
from core.keys import public_path
from exchange import client
from exchange.models import AccessRequest, RequestState
from exchange.services import access_request_decide, access_request_file
from registry.models import Department, Membership, Role, System, SystemKey
from registry.services import system_key_register, system_key_revoke

DEMO_DIR_NAME = "demo"
CSV_PATH = Path(settings.BASE_DIR) / "demo" / "vaccinations.csv"
DATASET_ID = "vaccination-records"
DEMO_RECORD_KEY = "110101199003070011"

USERS = [  # username, department code, roles
    ("health-clerk", "health", [Role.CLERK]),
    ("health-approver", "health", [Role.APPROVER]),
    ("police-clerk", "police", [Role.CLERK, Role.ADMIN]),
    ("auditor", "audit-office", [Role.AUDITOR]),
]
FIELDS = [  # name, type, sensitivity, lookup key, subject identifier, description
    ("citizen_id", FieldType.STRING, Sensitivity.PERSONAL, True, True, "Resident identity card number"),
    ("full_name", FieldType.STRING, Sensitivity.PERSONAL, False, False, "Name as registered"),
    ("vaccine", FieldType.STRING, Sensitivity.INTERNAL, False, False, "Vaccine given"),
    ("dose_date", FieldType.DATE, Sensitivity.INTERNAL, False, False, "Date of the dose"),
    ("clinic", FieldType.STRING, Sensitivity.INTERNAL, False, False, "Where it was given"),
    ("adverse_reaction", FieldType.BOOLEAN, Sensitivity.SENSITIVE, False, False, "Reported adverse reaction"),
]


class Command(BaseCommand):
    help = "Load the demo departments, people, dataset, consumer system, requests and audit history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        demo_dir = Path(settings.DATA_DIR) / DEMO_DIR_NAME
        departments = {
            code: Department.objects.get_or_create(code=code, defaults={"name": name})[0]
            for code, name in [("health", "Health Commission (卫生健康委员会)"),
                               ("police", "Public Security Bureau (公安局)"),
                               ("audit-office", "Audit Office (审计局)")]
        }
        users = self._users(departments)
        dataset = self._dataset(departments["health"], users["health-clerk"])
        system = self._system(departments["police"], users["police-clerk"], demo_dir)
        self._requests(dataset, system, users)
        log_sequence()
        self._print(users, options["base_url"], demo_dir)

    def _users(self, departments: dict[str, Department]) -> dict[str, Any]:
        User = get_user_model()
        self.passwords: dict[str, str] = {}
        users = {}
        for username, dept, roles in [("admin", "", []), *USERS]:
            user, _ = User.objects.get_or_create(username=username, defaults={
                "is_staff": True, "is_superuser": username == "admin"})
            self.passwords[username] = secrets.token_urlsafe(12)
            user.set_password(self.passwords[username])
            user.save()
            for role in roles:
                Membership.objects.get_or_create(user=user, department=departments[dept], role=role)
            users[username] = user
        return users

    def _dataset(self, health: Department, clerk: Any) -> Dataset:
        dataset, created = Dataset.objects.get_or_create(
            identifier=DATASET_ID,
            defaults={"owner": health, "title": "Vaccination records", "tier": Tier.CONDITIONAL,
                      "description": "Doses given in the city's clinics, one row per resident's latest dose.",
                      "legal_basis": "Vaccine Administration Law, art. 49 (demo)"},
        )
        if created:
            Field.objects.bulk_create(
                Field(dataset=dataset, name=name, type=type_, sensitivity=sens, is_lookup_key=key,
                      is_subject_identifier=subject, description=desc, position=i)
                for i, (name, type_, sens, key, subject, desc) in enumerate(FIELDS)
            )
            report = records_import_csv(dataset=dataset, content=CSV_PATH.read_bytes(), actor=clerk)
            if not report.ok:
                raise CommandError(f"demo CSV rejected: {report.errors}")
        if dataset.status == DatasetStatus.DRAFT:
            dataset = dataset_publish(dataset=dataset, actor=clerk)
        return dataset

    def _system(self, police: Department, clerk: Any, demo_dir: Path) -> System:
        system, _ = System.objects.get_or_create(code="police-rms", defaults={
            "department": police, "name": "Police records management system"})
        key_file = demo_dir / "police-rms.pem"
        if not key_file.exists():
            client.keygen(key_file)  # as the consumer would, on its own machine
        public_pem = client.public_pem(client.load_private_key(key_file).public_key())
        # The key id names the key pair, so a regenerated pair is a new key, not an edited one.
        self.key_id = f"police-rms-{key_fingerprint(public_pem)[:8]}"
        if not SystemKey.objects.filter(key_id=self.key_id).exists():
            for stale in SystemKey.objects.filter(system=system, revoked_at__isnull=True):
                system_key_revoke(key=stale, actor=clerk, reason="demo key pair regenerated")
            system_key_register(system=system, key_id=self.key_id, public_key=public_pem, actor=clerk)
        self.key_file = key_file
        return system

    def _requests(self, dataset: Dataset, system: System, users: dict[str, Any]) -> None:
        if AccessRequest.objects.filter(consumer=system, dataset=dataset).exists():
            return
        approved = access_request_file(
            consumer=system, dataset=dataset, fields=["vaccine", "dose_date"],
            purpose_code="public-health.outbreak-tracing", purpose="Trace contacts in the measles outbreak case.",
            legal_basis="Law on the Prevention and Control of Infectious Diseases, art. 12 (demo)",
            case_reference="PSB-2026-0413", duration_days=90, actor=users["police-clerk"],
        )
        access_request_decide(access_request=approved, approver=users["health-approver"], approve=True,
                              reason="Necessary and proportionate; two fields only.")
        access_request_file(
            consumer=system, dataset=dataset, fields=["full_name", "clinic"],
            purpose_code="law-enforcement.investigation", purpose="Identify witnesses at the clinic.",
            legal_basis="Criminal Procedure Law, art. 54 (demo)", case_reference="PSB-2026-0588",
            duration_days=30, actor=users["police-clerk"],
        )
        assert AccessRequest.objects.filter(state=RequestState.SUBMITTED).exists()

    def _print(self, users: dict[str, Any], base_url: str, demo_dir: Path) -> None:
        root = Path(settings.BASE_DIR)

        def rel(path: Path) -> str:
            return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

        platform_pub = public_path(Path(settings.PLATFORM_SIGNING_KEY_FILE))
        url = f"{base_url}/api/v1/datasets/{DATASET_ID}/records/{DEMO_RECORD_KEY}?fields=vaccine,dose_date"
        call = [".venv/bin/python" if Path(sys.executable).parent.parent.name == ".venv" else sys.executable,
                "-m", "exchange.client", "get", url, "--key-file", rel(self.key_file), "--key-id", self.key_id,
                "--platform-key", rel(platform_pub)]
        out = self.stdout.write
        out("")
        out(f"Admin: {base_url}/admin/   API docs: {base_url}/api/docs/   Health: {base_url}/healthz")
        out("Logins (fresh passwords on every `make demo`):")
        for username, dept, roles in [("admin", "platform superuser", []), *USERS]:
            label = dept if not roles else f"{', '.join(roles)} of {dept}"
            out(f"  {username:<16} {self.passwords[username]:<18} {label}")
        out("")
        out(f"Consumer system police-rms: private key {rel(self.key_file)}, keyid {self.key_id}")
        out(f"Platform public key (pin it to verify responses): {rel(platform_pub)}")
        out("A signed API call (RFC 9421, Ed25519; covers @method @target-uri created expires keyid nonce):")
        out("  " + shlex.join(call))
