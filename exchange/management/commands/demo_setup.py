"""Demo data for the embedded default, made through the same services the admin uses (so it is audited).

The catalogue (demo/catalogue.json and its CSV files) tells a story on first launch: several departments
of a fictional city (演示市) publish in every tier, one dataset is at its second version, and a district
has registered a near-copy of the city's vaccination records as a draft (the duplicate warning shows it).

The access requests (demo/requests.json) are in every state, some near and past their deadline: each is
filed and moved through its states by the request services. A request that must look older has its
filing, submission and deadline moved back (a true working-day deadline relative to today, so the demo
works on any date) before the request clock runs, which then reminds and escalates as it would have; the
audit log keeps the truth: those events happened when the demo was set up.

Idempotent: a second run keeps the data, adds no audit event and only issues fresh passwords. Each step
checks what is already there (a request by its case reference), so a run that stopped half-way is
completed, and nothing a person changed since is overwritten. Prints the admin logins, what each is for,
the public catalogue and one ready-to-run signed API call.
"""

import datetime as dt
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
from django.db import transaction
from django.utils import timezone, translation

from audit.sequencer import log_sequence
from catalog.imports.services import records_import
from catalog.models import Dataset, DatasetStatus, Record, Tier
from catalog.services import FieldSpec, dataset_publish, dataset_register, dataset_update
from core.crypto import key_fingerprint
from core.keys import public_path
from core.workdays import is_working_day, working_day_add
from core.workdays import today as workdays_today
from exchange import client
from exchange.models import WAITING_STATES, AccessRequest, AccessRequestStep
from exchange.services import (
    access_request_approve,
    access_request_file,
    access_request_hand_over,
    access_request_reject,
    access_request_resubmit,
    access_request_return,
    access_request_update,
    access_request_withdraw,
    grant_revoke,
    requests_clock_run,
)
from notifications.models import NotificationKind
from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read
from registry.models import Department, Membership, PlatformRole, PlatformRoleName, Role, System, SystemKey
from registry.selectors import people_holding
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
REQUESTS_PATH = DATA_FILES / "requests.json"
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
    ("health-approver-2", "health", [Role.APPROVER], []),
    ("police-clerk", "police", [Role.CLERK, Role.ADMIN], []),
    ("auditor", "audit-office", [Role.AUDITOR], []),
    ("data-authority", "data-bureau", [], [PlatformRoleName.DATA_AUTHORITY]),
    ("market-clerk", "market", [Role.CLERK], []),
    ("market-approver", "market", [Role.APPROVER], []),
    ("hrss-clerk", "hrss", [Role.CLERK], []),
    ("hrss-approver", "hrss", [Role.APPROVER], []),
    ("transport-clerk", "transport", [Role.CLERK], []),
    ("stats-clerk", "statistics", [Role.CLERK], []),
    ("dongcheng-clerk", "dongcheng-health", [Role.CLERK], []),
]
#: Who registers, loads and publishes a department's datasets: its first clerk above.
CLERK_OF = {dept: username for username, dept, roles, _ in reversed(USERS) if Role.CLERK in roles}
#: The approver of each providing department who sees its inbox in the summary: its first one above.
APPROVER_OF = {dept: next(name for name, d, r, _ in USERS if d == dept and Role.APPROVER in r)
               for _username, dept, roles, _ in USERS if Role.APPROVER in roles}
#: The clerks the README's walkthrough signs in as, and the request each finds: one to change and resubmit,
#: and the request whose grant the printed signed call reads under.
WALKTHROUGH_CLERKS = [("dongcheng-clerk", "东卫〔2026〕0098号", "the approver's comment is in the inbox"),
                      ("police-clerk", "公卫〔2026〕0413号", "the signed call below reads under its grant")]
#: Every demo person's address, so that notifications are emailed (printed by the console backend).
EMAIL_DOMAIN = "demo.gov.example"
PLATFORM_ROLE_LABELS: dict[str, str] = {PlatformRoleName.DATA_AUTHORITY: "data authority (数据主管部门)",
                                        PlatformRoleName.OPERATOR: "platform operator (平台运维方)"}


def working_days_from(day: dt.date, days: int) -> dt.date:
    """The working day ``days`` working days after ``day`` (before it when negative); for 0, ``day`` itself when
    it is a working day, else the next working day."""
    if days > 0:
        return working_day_add(day, days)
    if days == 0:
        return day if is_working_day(day) else working_day_add(day, 1)
    while days:
        day -= dt.timedelta(days=1)
        days += is_working_day(day)
    return day


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
            self._system(departments["police"], users["police-clerk"], demo_dir)
            self._requests(catalogue, departments, users)
            self._emails(users)
            log_sequence()
            self._print(options["base_url"], demo_dir, catalogue, departments)

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

    def _requests(self, catalogue: dict[str, Dataset], departments: dict[str, Department],
                  users: dict[str, Any]) -> None:
        """The requests of demo/requests.json, each filed and moved through its states by the services (only if
        not there yet); then the request clock runs, so the reminders, escalations and expiry notices exist."""
        story = json.loads(REQUESTS_PATH.read_text(encoding="utf-8"))
        systems = {system.code: system for system in System.objects.all()}
        for spec in story["systems"]:
            if spec["code"] not in systems:
                systems[spec["code"]] = system_register(
                    actor=users[CLERK_OF[spec["department"]]], department=departments[spec["department"]],
                    code=spec["code"], name=spec["name"])
        for entry in story["requests"]:
            if not AccessRequest.objects.filter(case_reference=entry["case_reference"]).exists():
                with transaction.atomic():  # all of its story or none: a run that stops is completed by the next
                    self._request(entry, systems[entry["consumer"]], catalogue[entry["dataset"]], users)
        requests_clock_run()  # escalates the overdue requests: only an escalated request can be handed over
        for entry in story["requests"]:
            if hand_over := entry.get("hand_over"):
                request = AccessRequest.objects.get(case_reference=entry["case_reference"])
                if request.escalated_at is not None and request.assignee_id is None and request.is_waiting:
                    access_request_hand_over(access_request=request, actor=users[hand_over["by"]],
                                             approver=users[hand_over["to"]])
        requests_clock_run()

    def _request(self, entry: dict[str, Any], consumer: System, dataset: Dataset, users: dict[str, Any]) -> None:
        """One request of the story: filed (and submitted, unless a draft), placed in the past if it must be,
        then taken through the steps its entry lists, each by the person named."""
        request = access_request_file(
            consumer=consumer, dataset=dataset, fields=entry["fields"], purpose_code=entry["purpose_code"],
            purpose=entry["purpose"], legal_basis=entry["legal_basis"], case_reference=entry["case_reference"],
            duration_days=entry["duration_days"], expected_daily_volume=entry["expected_daily_volume"],
            actor=users[entry["clerk"]], submit=entry.get("submit", True))
        if "due_in_working_days" in entry:
            self._place_in_the_past(request, entry["due_in_working_days"])
        grant = None
        for step in entry.get("then", []):
            request.refresh_from_db()
            actor = users[step["by"]]
            match step["do"]:
                case "approve":
                    grant = access_request_approve(access_request=request, approver=actor, reason=step["reason"],
                                                   fields=step.get("fields"), daily_quota=step.get("daily_quota"),
                                                   masking=step.get("masking"), row_filter=step.get("row_filter"))
                case "revoke" if grant is not None:
                    grant_revoke(grant=grant, actor=actor, reason=step["reason"])
                case "return":
                    access_request_return(access_request=request, approver=actor, comment=step["comment"])
                case "update":
                    terms = {name: getattr(request, name) for name in (
                        "fields", "purpose_code", "purpose", "legal_basis", "case_reference", "duration_days",
                        "expected_daily_volume")}
                    changes = {name: value for name, value in step.items() if name not in ("do", "by")}
                    access_request_update(access_request=request, actor=actor, **{**terms, **changes})
                case "resubmit":
                    access_request_resubmit(access_request=request, actor=actor)
                case "reject":
                    access_request_reject(access_request=request, approver=actor, reason_code=step["reason_code"],
                                          legal_basis=step["legal_basis"], explanation=step["explanation"])
                case "withdraw":
                    access_request_withdraw(access_request=request, actor=actor, comment=step["comment"])
                case other:
                    raise CommandError(f"demo/requests.json: unknown step {other!r}")
        request.refresh_from_db()
        if request.state != entry["state"]:
            raise CommandError(f"demo request {entry['case_reference']} ended {request.state}, not {entry['state']}")

    def _place_in_the_past(self, request: AccessRequest, due_in: int) -> None:
        """Move a request just submitted back in time, so that its deadline (REQUEST_DEADLINE_WORKING_DAYS
        working days after the day it was submitted, on China's calendar) falls ``due_in`` working days from
        today: 0 is today (the next working day on a day off), a negative number is overdue. Its dates are
        moved, nothing else: the request clock then reminds and escalates it as it would have. The approvers
        read the notice of a request that old long ago, so it is marked read."""
        today = workdays_today()
        due = working_days_from(today, due_in)
        submitted_on = working_days_from(due, -settings.REQUEST_DEADLINE_WORKING_DAYS)
        due = working_day_add(submitted_on, settings.REQUEST_DEADLINE_WORKING_DAYS)  # the deadline it really has
        submitted_at = dt.datetime.combine(submitted_on, dt.time(9, 30), tzinfo=timezone.get_current_timezone())
        AccessRequest.objects.filter(pk=request.pk).update(
            filed_at=submitted_at - dt.timedelta(minutes=20), submitted_at=submitted_at, due_date=due)
        AccessRequestStep.objects.filter(access_request=request).update(at=submitted_at)
        for approver in people_holding(department=request.dataset.owner, roles=[Role.APPROVER]):
            seen = notifications_for(user=approver).filter(kind=NotificationKind.REQUEST_NEW,
                                                          params__request=request.pk)
            notifications_mark_read(user=approver, ids=list(seen.values_list("pk", flat=True)))

    def _emails(self, users: dict[str, Any]) -> None:
        """Every demo person gets an address, after the story is told: the notifications above are in their
        inboxes, and what happens from now on is emailed too (printed on the console by default)."""
        for username, user in users.items():
            if not user.email:
                user.email = f"{username}@{EMAIL_DOMAIN}"
                user.save(update_fields=["email"])

    def _print(self, base_url: str, demo_dir: Path, catalogue: dict[str, Dataset],
               departments: dict[str, Department]) -> None:
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
            label = ", ".join([*(f"{role} of {dept}" for role in roles),
                               *(PLATFORM_ROLE_LABELS.get(role, role) for role in platform_roles)])
            out(f"  {username:<18} {self.passwords[username]:<18} {label}")
        if settings.TWO_FACTOR_REQUIRED:
            out("  Second factor: on. Approvers, auditors, department admins, the platform roles and admin set up an "
                "authenticator app (TOTP) at their first sign-in.")
        else:
            out("  Second factor: OFF for this demo (TWO_FACTOR_REQUIRED=off), so a password alone signs in; in "
                "production approvers, auditors, department admins and the platform roles need an authenticator app.")
        backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
        out(f"  Everyone's notifications are in their inbox (Messages, in the header); from now on they are also "
            f"emailed to <username>@{EMAIL_DOMAIN} ({backend} email backend"
            + (": printed by the server on its console)" if backend == "console" else ")"))
        out("")
        self._print_requests(departments)
        out(f"Consumer system police-rms: private key {rel(self.key_file)}, keyid {self.key_id}")
        out(f"Platform public key (pin it to verify responses): {rel(platform_pub)}")
        out("A signed API call (RFC 9421, Ed25519; covers @method @target-uri created expires keyid nonce):")
        out("  " + shlex.join(call))

    def _print_requests(self, departments: dict[str, Department]) -> None:
        """Which login to use for what in the request workflow, with what each will find."""
        today = workdays_today()
        soon = working_day_add(today, settings.REQUEST_REMIND_WORKING_DAYS)
        out = self.stdout.write
        out(f"Access requests (deadline {settings.REQUEST_DEADLINE_WORKING_DAYS} working days on China's calendar; "
            f"today is {today.isoformat()}):")
        for dept, username in APPROVER_OF.items():
            waiting = AccessRequest.objects.filter(dataset__owner=departments[dept], state__in=WAITING_STATES)
            if not waiting.exists():
                continue
            out(f"  approver        {username:<18} {departments[dept].name}: {waiting.count()} waiting, "
                f"{waiting.filter(due_date__gte=today, due_date__lte=soon).count()} due within "
                f"{settings.REQUEST_REMIND_WORKING_DAYS} working days, {waiting.filter(due_date__lt=today).count()} "
                f"overdue")
        for username, case, what in WALKTHROUGH_CLERKS:
            request = AccessRequest.objects.filter(case_reference=case).first()
            if request is not None:
                out(f"  clerk           {username:<18} request #{request.pk} ({case}): {request.state}; {what}")
        waiting = AccessRequest.objects.filter(state__in=WAITING_STATES)
        escalated = [f"#{pk}" for pk in waiting.filter(escalated_at__isnull=False).values_list("pk", flat=True)]
        handed = [f"#{r.pk} to {r.assignee.get_username()}"
                  for r in waiting.filter(assignee__isnull=False).select_related("assignee") if r.assignee]
        authority, dept = next((username, dept) for username, dept, _roles, platform in USERS
                               if PlatformRoleName.DATA_AUTHORITY in platform)
        out(f"  data authority  {authority:<18} {departments[dept].name} (数据主管部门): escalated and waiting "
            f"{', '.join(escalated) or 'none'}; handed over {', '.join(handed) or 'none'}")
        out("")

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
