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
from django.utils import translation

from audit.sequencer import log_sequence
from catalog.models import Dataset, DatasetStatus, FieldType, Sensitivity, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_register, records_import_csv
from core.crypto import key_fingerprint
from core.keys import public_path
from exchange import client
from exchange.models import AccessRequest, RequestState
from exchange.services import access_request_decide, access_request_file
from registry.models import Department, Membership, PlatformRole, PlatformRoleName, Role, System, SystemKey
from registry.services import (
    department_register,
    membership_grant,
    platform_role_grant,
    system_key_register,
    system_key_revoke,
    system_register,
)

DEMO_DIR_NAME = "demo"
CSV_PATH = Path(settings.BASE_DIR) / "demo" / "vaccinations.csv"
DATASET_ID = "vaccination-records"
DEMO_RECORD_KEY = "110101199003070011"

DEPARTMENTS = [  # code, name (the names a Chinese city's departments go by)
    ("health", "市卫生健康委员会"),
    ("police", "市公安局"),
    ("audit-office", "市审计局"),
    ("data-bureau", "市政务服务和数据管理局"),
]
USERS: list[tuple[str, str, list[str], list[str]]] = [  # username, department code, roles, platform roles
    ("health-clerk", "health", [Role.CLERK], []),
    ("health-approver", "health", [Role.APPROVER], []),
    ("police-clerk", "police", [Role.CLERK, Role.ADMIN], []),
    ("auditor", "audit-office", [Role.AUDITOR], []),
    ("data-authority", "data-bureau", [], [PlatformRoleName.DATA_AUTHORITY]),
]
FIELDS = [
    FieldSpec("citizen_id", FieldType.STRING, Sensitivity.PERSONAL, True, True, "公民身份号码"),
    FieldSpec("full_name", FieldType.STRING, Sensitivity.PERSONAL, False, False, "姓名"),
    FieldSpec("vaccine", FieldType.STRING, Sensitivity.INTERNAL, False, False, "疫苗名称"),
    FieldSpec("dose_date", FieldType.DATE, Sensitivity.INTERNAL, False, False, "接种日期"),
    FieldSpec("clinic", FieldType.STRING, Sensitivity.INTERNAL, False, False, "接种单位"),
    FieldSpec("adverse_reaction", FieldType.BOOLEAN, Sensitivity.SENSITIVE, False, False,
              "是否报告疑似预防接种异常反应"),
]


class Command(BaseCommand):
    help = "Load the demo departments, people, dataset, consumer system, requests and audit history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        """Everything through the same services the admin uses, so a fresh demo's audit log is complete."""
        demo_dir = Path(settings.DATA_DIR) / DEMO_DIR_NAME
        with translation.override(settings.LANGUAGE_CODE):
            users = self._users()
            departments = self._departments(users["admin"])
            self._roles(users, departments)
            dataset = self._dataset(departments["health"], users["health-clerk"])
            system = self._system(departments["police"], users["police-clerk"], demo_dir)
            self._requests(dataset, system, users)
            log_sequence()
            self._print(options["base_url"], demo_dir)

    def _users(self) -> dict[str, Any]:
        """Accounts (Django's own; roles are given below, through the registry's services)."""
        User = get_user_model()
        self.passwords: dict[str, str] = {}
        users = {}
        for username in ["admin", *(u[0] for u in USERS)]:
            user, _ = User.objects.get_or_create(username=username, defaults={
                "is_staff": True, "is_superuser": username == "admin"})
            self.passwords[username] = secrets.token_urlsafe(12)
            user.set_password(self.passwords[username])
            user.save()
            users[username] = user
        return users

    def _departments(self, admin: Any) -> dict[str, Department]:
        existing = {d.code: d for d in Department.objects.all()}
        return {code: existing.get(code) or department_register(actor=admin, code=code, name=name)
                for code, name in DEPARTMENTS}

    def _roles(self, users: dict[str, Any], departments: dict[str, Department]) -> None:
        admin = users["admin"]
        for username, dept, roles, platform_roles in USERS:
            user = users[username]
            for role in roles:
                if not Membership.objects.filter(user=user, department=departments[dept], role=role).exists():
                    membership_grant(actor=admin, user=user, department=departments[dept], role=role)
            for platform_role in platform_roles:
                if not PlatformRole.objects.filter(user=user, role=platform_role).exists():
                    platform_role_grant(actor=admin, user=user, role=platform_role)

    def _dataset(self, health: Department, clerk: Any) -> Dataset:
        dataset = Dataset.objects.filter(identifier=DATASET_ID).first()
        if dataset is None:
            dataset = dataset_register(
                actor=clerk, owner=health, identifier=DATASET_ID, title="疫苗接种记录", tier=Tier.CONDITIONAL,
                description="全市接种单位登记的预防接种记录，每位居民一行（最近一剂）。",
                legal_basis="《中华人民共和国疫苗管理法》第四十九条（演示）", personal_data=True, fields=FIELDS)
            report = records_import_csv(dataset=dataset, content=CSV_PATH.read_bytes(), actor=clerk)
            if not report.ok:
                raise CommandError(f"demo CSV rejected: {report.errors}")
        if dataset.status == DatasetStatus.DRAFT:
            dataset = dataset_publish(dataset=dataset, actor=clerk)
        return dataset

    def _system(self, police: Department, clerk: Any, demo_dir: Path) -> System:
        system = System.objects.filter(code="police-rms").first() or system_register(
            actor=clerk, department=police, code="police-rms", name="公安综合业务系统")
        key_file = demo_dir / "police-rms.pem"
        if not key_file.exists():
            client.keygen(key_file)  # as the consumer would, on its own machine
        public_pem = client.public_pem(client.load_private_key(key_file).public_key())
        # The key id names the key pair, so a regenerated pair is a new key, not an edited one.
        self.key_id = f"police-rms-{key_fingerprint(public_pem)[:8]}"
        if not SystemKey.objects.filter(key_id=self.key_id).exists():
            for stale in SystemKey.objects.filter(system=system, revoked_at__isnull=True):
                system_key_revoke(key=stale, actor=clerk, reason="演示密钥对已重新生成")
            system_key_register(system=system, key_id=self.key_id, public_key=public_pem, actor=clerk)
        self.key_file = key_file
        return system

    def _requests(self, dataset: Dataset, system: System, users: dict[str, Any]) -> None:
        if AccessRequest.objects.filter(consumer=system, dataset=dataset).exists():
            return
        approved = access_request_file(
            consumer=system, dataset=dataset, fields=["vaccine", "dose_date"],
            purpose_code="public-health.outbreak-tracing", purpose="排查麻疹疫情密切接触者的疫苗接种情况。",
            legal_basis="《中华人民共和国传染病防治法》第十二条（演示）",
            case_reference="公卫〔2026〕0413号", duration_days=90, actor=users["police-clerk"],
        )
        access_request_decide(access_request=approved, approver=users["health-approver"], approve=True,
                              reason="符合必要、最小原则，仅提供两个数据项。")
        access_request_file(
            consumer=system, dataset=dataset, fields=["full_name", "clinic"],
            purpose_code="law-enforcement.investigation", purpose="核实案件相关证人在接种单位的身份。",
            legal_basis="《中华人民共和国刑事诉讼法》第五十四条（演示）", case_reference="公刑〔2026〕0588号",
            duration_days=30, actor=users["police-clerk"],
        )
        assert AccessRequest.objects.filter(state=RequestState.SUBMITTED).exists()

    def _print(self, base_url: str, demo_dir: Path) -> None:
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
        for username, dept, roles, platform_roles in [("admin", "", [], ["platform superuser"]), *USERS]:
            label = ", ".join([*(f"{role} of {dept}" for role in roles), *platform_roles])
            out(f"  {username:<16} {self.passwords[username]:<18} {label}")
        out("")
        out(f"Consumer system police-rms: private key {rel(self.key_file)}, keyid {self.key_id}")
        out(f"Platform public key (pin it to verify responses): {rel(platform_pub)}")
        out("A signed API call (RFC 9421, Ed25519; covers @method @target-uri created expires keyid nonce):")
        out("  " + shlex.join(call))
