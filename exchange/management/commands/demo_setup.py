"""Demo data for the embedded default, made through the same services the admin uses (so it is audited).

The catalogue (demo/catalogue.json and its CSV files) tells a story on first launch: several departments
of a fictional city (演示市) publish in every tier, one dataset is at its second version, and a district
has registered a near-copy of the city's vaccination records as a draft (the duplicate warning shows it).

Idempotent: a second run keeps the data, adds no audit event and only issues fresh passwords. Each step
checks what is already there, so a run that stopped half-way is completed, and nothing a person changed
since is overwritten. Prints the admin logins, the public catalogue and one ready-to-run signed API call.
"""

import json
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from audit.sequencer import log_sequence
from catalog.imports.services import records_import
from catalog.models import Dataset, DatasetStatus, Record, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_register, dataset_update
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
DATA_FILES = Path(settings.BASE_DIR) / "demo"  # the catalogue and its records, shipped with the code
CATALOGUE_PATH = DATA_FILES / "catalogue.json"
DATASET_ID = "vaccination-records"
DEMO_RECORD_KEY = "110101199003070011"
SEARCH_EXAMPLE = "疫苗"

DEPARTMENTS = [  # code, name (the names a Chinese city's departments go by)
    ("health", "市卫生健康委员会"),
    ("police", "市公安局"),
    ("audit-office", "市审计局"),
    ("data-bureau", "市政务服务和数据管理局"),
    ("market", "市市场监督管理局"),
    ("hrss", "市人力资源和社会保障局"),
    ("transport", "市交通运输局"),
    ("statistics", "市统计局"),
    ("dongcheng-health", "东城区卫生健康委员会"),
]
USERS: list[tuple[str, str, list[str], list[str]]] = [  # username, department code, roles, platform roles
    ("health-clerk", "health", [Role.CLERK], []),
    ("health-approver", "health", [Role.APPROVER], []),
    ("police-clerk", "police", [Role.CLERK, Role.ADMIN], []),
    ("auditor", "audit-office", [Role.AUDITOR], []),
    ("data-authority", "data-bureau", [], [PlatformRoleName.DATA_AUTHORITY]),
    ("market-clerk", "market", [Role.CLERK], []),
    ("hrss-clerk", "hrss", [Role.CLERK], []),
    ("transport-clerk", "transport", [Role.CLERK], []),
    ("stats-clerk", "statistics", [Role.CLERK], []),
    ("dongcheng-clerk", "dongcheng-health", [Role.CLERK], []),
]
#: Who registers, loads and publishes a department's datasets: its first clerk above.
CLERK_OF = {dept: username for username, dept, roles, _ in reversed(USERS) if Role.CLERK in roles}


class Command(BaseCommand):
    help = "Load the demo departments, people, catalogue, consumer system, requests and audit history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        """Everything through the same services the admin uses, so a fresh demo's audit log is complete."""
        demo_dir = Path(settings.DATA_DIR) / DEMO_DIR_NAME
        with translation.override(settings.LANGUAGE_CODE):
            users = self._users()
            departments = self._departments(users["admin"])
            self._roles(users, departments)
            catalogue = self._catalogue(departments, users)
            dataset = catalogue[DATASET_ID]
            system = self._system(departments["police"], users["police-clerk"], demo_dir)
            self._requests(dataset, system, users)
            log_sequence()
            self._print(options["base_url"], demo_dir, catalogue)

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

    def _catalogue(self, departments: dict[str, Department], users: dict[str, Any]) -> dict[str, Dataset]:
        """The datasets of demo/catalogue.json by identifier, each brought as far as its entry says."""
        catalogue = json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))
        return {entry["identifier"]: self._dataset(entry, departments[entry["owner"]],
                                                   users[CLERK_OF[entry["owner"]]], catalogue["contacts"])
                for entry in catalogue["datasets"]}

    def _dataset(self, entry: dict[str, Any], owner: Department, clerk: Any,
                 contacts: dict[str, dict[str, str]]) -> Dataset:
        """Register, (publish and revise), load and publish, as a clerk would; each step only if not yet done.

        A dataset with a ``revision`` is published first and then given its second version, so its CSV file
        holds the second version's fields.
        """
        dataset = Dataset.objects.filter(identifier=entry["identifier"]).first()
        if dataset is None:
            dataset = dataset_register(
                actor=clerk, owner=owner, identifier=entry["identifier"], title=entry["title"], tier=entry["tier"],
                fields=[FieldSpec(**spec) for spec in entry["fields"]],
                **{**contacts.get(entry["owner"], {}), **entry["metadata"]})
        if revision := entry.get("revision"):
            if dataset.status == DatasetStatus.DRAFT:
                dataset = dataset_publish(dataset=dataset, actor=clerk)
            if dataset.version == 1:
                dataset = dataset_update(
                    actor=clerk, dataset=dataset, note=revision["note"],
                    fields=[FieldSpec(**spec) for spec in [*entry["fields"], *revision["add_fields"]]])
        if entry.get("records") and not Record.objects.filter(dataset=dataset).exists():
            report = records_import(dataset=dataset, source=DATA_FILES / entry["records"], actor=clerk)
            if not report.ok:
                raise CommandError(f"demo CSV {entry['records']} rejected: "
                                   f"{[(p.line, p.column, p.message) for p in report.problems]}")
        if entry.get("publish", True) and dataset.status == DatasetStatus.DRAFT:
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

    def _print(self, base_url: str, demo_dir: Path, catalogue: dict[str, Dataset]) -> None:
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
        self._print_catalogue(base_url, catalogue)
        out("Logins (fresh passwords on every `make demo`):")
        for username, dept, roles, platform_roles in [("admin", "", [], ["platform superuser"]), *USERS]:
            label = ", ".join([*(f"{role} of {dept}" for role in roles), *platform_roles])
            out(f"  {username:<16} {self.passwords[username]:<18} {label}")
        out("")
        out(f"Consumer system police-rms: private key {rel(self.key_file)}, keyid {self.key_id}")
        out(f"Platform public key (pin it to verify responses): {rel(platform_pub)}")
        out("A signed API call (RFC 9421, Ed25519; covers @method @target-uri created expires keyid nonce):")
        out("  " + shlex.join(call))

    def _print_catalogue(self, base_url: str, catalogue: dict[str, Dataset]) -> None:
        """Where to start looking: the public catalogue, a search to try, and what the demo's catalogue holds."""
        published = [d for d in catalogue.values() if d.status == DatasetStatus.PUBLISHED]
        tiers = ", ".join(f"{tier} {sum(d.tier == tier for d in published)}" for tier in Tier.values)
        out = self.stdout.write
        out(f"Public catalogue (no sign-in): {base_url}/catalog/   DCAT-AP 3: {base_url}/catalog/dcat.ttl")
        out(f"  Try a search for {SEARCH_EXAMPLE}: {base_url}/catalog/?q={quote(SEARCH_EXAMPLE)}")
        out(f"  {len(published)} published datasets of {len({d.owner_id for d in published})} departments "
            f"({tiers})")
        for dataset in published:
            if dataset.version > 1:
                out(f"  {dataset.title} ({dataset.identifier}) is at version {dataset.version}: see its versions")
        for dataset in catalogue.values():
            if dataset.status == DatasetStatus.DRAFT:
                out(f"  Draft {dataset.title} ({dataset.identifier}) of {dataset.owner.code} repeats the fields of "
                    f"a published dataset: sign in as {CLERK_OF[dataset.owner.code]} to see the duplicate warning")
